/**
 * Benchmark, not a test of speed: how long the Flows sidebar takes to show 1,000 flows
 * after a click on its tab, and a flow page the first page of a 10,000-run history, beside
 * JupyterLab's own file browser opening a folder of 1,000 files, in the same run. The
 * numbers are printed and written to test-results/benchmark.json; nothing asserts on them
 * (the goal, within 1.5x of the file browser, is judged by people, in benchmarks/README.md).
 */
import { expect, test } from '../helpers/fixtures';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import { FlowsHelper } from '../helpers/FlowsHelper';

const FLOWS = 1000;
const RUNS = 10000;
const FILES = 1000;
const REPEATS = 5;

test.setTimeout(900000);
// Minutes of seeding and timing, not a check: run on purpose (FLOWS_BENCHMARK=1).
test.skip(
  !process.env.FLOWS_BENCHMARK,
  'set FLOWS_BENCHMARK=1 to run the benchmark'
);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

test('benchmark: Flows list and run history beside the file browser', async ({
  page
}) => {
  const flows = new FlowsHelper(page);
  const prefix = `bench-${Date.now().toString(36)}`;

  // ------------------------------------------------------------ seeding
  // Straight into the server's store, through the service `POST ingest` uses, by a
  // Python script: no event per run reaches the open page, so the seeding neither waits
  // for nor leaves behind the page's refreshes (through HTTP it took minutes here).
  const existing = (await flows.api('GET', 'flows?limit=1')).total;
  const seeding = Date.now();
  const seeded = JSON.parse(
    execFileSync(
      process.env.PYTHON || 'python',
      [
        path.resolve(__dirname, '..', 'helpers', 'seed_benchmark.py'),
        prefix,
        String(FLOWS),
        String(RUNS)
      ],
      { encoding: 'utf-8' }
    )
  );
  const target: string = seeded.target;
  console.log(
    `Seeded ${FLOWS} flows and ${RUNS} runs in ${Date.now() - seeding} ms`
  );
  const root = process.env.JUPYTERLAB_GALATA_ROOT_DIR!;
  const folderName = `${prefix}-files`;
  const folder = path.join(root, folderName);
  fs.mkdirSync(folder, { recursive: true });
  for (let i = 0; i < FILES; i++) {
    fs.writeFileSync(path.join(folder, `file-${i}.txt`), 'x');
  }
  const totalFlows = existing + FLOWS;

  // ------------------------------------------------------------ file browser
  await page.sidebar.openTab('filebrowser');
  const fileTimes: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    await page.filebrowser.openHomeDirectory();
    await page.filebrowser.refresh();
    const item = page.locator('.jp-DirListing-item', { hasText: folderName });
    const start = Date.now();
    await item.dblclick();
    await expect(
      page.locator('.jp-DirListing-item', { hasText: 'file-0.txt' })
    ).toBeVisible({ timeout: 60000 });
    fileTimes.push(Date.now() - start);
  }

  console.log(`file browser: ${fileTimes.join(', ')} ms`);

  // ------------------------------------------------------------ Flows tab
  const flowTimes: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    await page.sidebar.openTab('filebrowser');
    const start = Date.now();
    const answered = page.waitForResponse(/\/api\/flows\/flows\?/, {
      timeout: 60000
    });
    await flows.tab.click();
    await answered;
    await expect(flows.list).toHaveAttribute(
      'aria-label',
      `Flows, ${totalFlows} shown`,
      {
        timeout: 60000
      }
    );
    await expect(flows.list.locator('.jp-FlowsList-row').first()).toBeVisible();
    flowTimes.push(Date.now() - start);
  }

  console.log(`Flows tab: ${flowTimes.join(', ')} ms`);

  // ------------------------------------------------------------ run history
  const { items } = await flows.api('GET', `flows?name=${target}`);
  const flowId = items[0].id;
  const historyTimes: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const start = Date.now();
    // The command answers the page widget: not something to send back from the page.
    await page.evaluate(async id => {
      await window.jupyterapp.commands.execute('jupyter-flows:open-flow', {
        flowId: id
      });
    }, flowId);
    const history = flows.flowPage.locator('.jp-FlowPage-history tbody tr');
    await expect(history).toHaveCount(50, { timeout: 60000 });
    await expect(flows.flowPage.locator('.jp-FlowPage-count')).toContainText(
      `${RUNS} runs`
    );
    historyTimes.push(Date.now() - start);
    await page.evaluate(async () => {
      await window.jupyterapp.commands.execute('application:close-all');
    });
  }

  const results = {
    machine_note: 'medians of 5, ms, Galata + Debian Chromium, one run',
    file_browser_open_1000_files_ms: median(fileTimes),
    flows_tab_1000_flows_ms: median(flowTimes),
    flow_page_first_page_of_10000_runs_ms: median(historyTimes),
    ratio_flows_to_file_browser: +(
      median(flowTimes) / median(fileTimes)
    ).toFixed(2),
    ratio_history_to_file_browser: +(
      median(historyTimes) / median(fileTimes)
    ).toFixed(2),
    samples: {
      file_browser: fileTimes,
      flows_tab: flowTimes,
      run_history: historyTimes
    }
  };
  fs.mkdirSync('test-results', { recursive: true });
  fs.writeFileSync(
    'test-results/benchmark.json',
    JSON.stringify(results, null, 2)
  );
  console.log(`\nBenchmark (median of ${REPEATS}, ms):`);
  console.log(
    `  file browser, folder of ${FILES} files: ${results.file_browser_open_1000_files_ms}`
  );
  console.log(
    `  Flows tab, ${totalFlows} flows:           ${results.flows_tab_1000_flows_ms} (${results.ratio_flows_to_file_browser}x)`
  );
  console.log(
    `  flow page, first page of ${RUNS} runs:   ${results.flow_page_first_page_of_10000_runs_ms} (${results.ratio_history_to_file_browser}x)`
  );
});
