/**
 * Benchmark, not a test of speed: how long a run's view takes to draw a 500-task
 * schematic, and to show the end of a run with 100,000 log lines, beside JupyterLab
 * opening a 500-cell notebook, in the same run. The numbers are printed and written to
 * test-results/runview-benchmark.json; nothing asserts on them (goal: under 1 s each).
 */
import { expect, test } from '../helpers/fixtures';
import * as fs from 'fs';
import * as path from 'path';

import { RunViewHelper } from '../helpers/RunViewHelper';

const TASKS = 500;
const LINES = 100000;
const CELLS = 500;

test.setTimeout(900000);
test.use({ viewport: { width: 1600, height: 900 } });
test.skip(
  !process.env.FLOWS_BENCHMARK,
  'set FLOWS_BENCHMARK=1 to run the benchmark'
);

test('benchmark: a 500-task schematic and 100,000 log lines beside a 500-cell notebook', async ({
  page,
  tmpPath
}) => {
  const runs = new RunViewHelper(page);
  const api = runs.flows.api.bind(runs.flows);
  const name = `bench-run-${Date.now().toString(36)}`;

  // A flow of 500 tasks in ten parallel chains, each task carrying one name on.
  const tasks = Array.from({ length: TASKS }, (_, i) => ({
    key: `t${i}`,
    code_hash: `${name}-${i}`
  }));
  const edges = tasks
    .filter((_, i) => i >= 10)
    .map((t, j) => ({ source: `t${j}`, target: t.key, names: [`x${j}`] }));
  const version = await api('POST', 'flows', {
    name,
    content: {
      tasks,
      edges,
      parameter_schema: {},
      task_runner: null,
      run_config: {},
      resource_spec_hash: null
    }
  });
  const run = await api('POST', 'flow-runs', {
    flow_version_id: version.id,
    state: { type: 'PENDING' }
  });
  const start = Date.parse('2026-01-01T00:00:00Z');
  for (let batch = 0; batch < LINES / 5000; batch++) {
    await api(
      'POST',
      'logs',
      Array.from({ length: 5000 }, (_, i) => {
        const n = batch * 5000 + i;
        return {
          flow_run_id: run.id,
          level: n % 50 === 0 ? 40 : 20,
          timestamp: new Date(start + n).toISOString(),
          message: `line ${n}`,
          name: 'jupyter_flows.flow_runs'
        };
      })
    );
  }

  // The reference: JupyterLab opening a notebook of 500 cells.
  const notebook = {
    cells: Array.from({ length: CELLS }, (_, i) => ({
      cell_type: 'code',
      id: `c${i}`,
      metadata: {},
      execution_count: null,
      outputs: [],
      source: `x${i} = ${i}  # cell ${i}`
    })),
    metadata: {},
    nbformat: 4,
    nbformat_minor: 5
  };
  await page.contents.uploadContent(
    JSON.stringify(notebook),
    'text',
    `${tmpPath}/bench.ipynb`
  );
  let t0 = Date.now();
  await page.evaluate(async p => {
    await window.jupyterapp.commands.execute('docmanager:open', {
      path: p,
      factory: 'Notebook'
    });
  }, `${tmpPath}/bench.ipynb`);
  await expect(
    page.locator('.jp-NotebookPanel .jp-Cell').first()
  ).toBeVisible();
  const notebookMs = Date.now() - t0;
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('application:close-all')
  );

  // The schematic and the log's end (follow mode shows it at once) are timed apart:
  // the log does not wait for the graph.
  t0 = Date.now();
  const since = async (done: Promise<void>) => {
    await done;
    return Date.now() - t0;
  };
  await runs.execute('jupyter-flows:open-run', { runId: run.id });
  const view = runs.view(run.id);
  const [schematicMs, logEndMs] = await Promise.all([
    since(expect(runs.nodes(view)).toHaveCount(TASKS, { timeout: 120000 })),
    since(
      expect(
        view.locator('.jp-RunLogs-line', { hasText: `line ${LINES - 1}` })
      ).toBeVisible({ timeout: 120000 })
    )
  ]);

  const figures = {
    notebook_500_cells_ms: notebookMs,
    schematic_500_tasks_ms: schematicMs,
    log_end_100000_lines_ms: logEndMs
  };
  console.log('run view benchmark', JSON.stringify(figures));
  fs.mkdirSync('test-results', { recursive: true });
  fs.writeFileSync(
    path.join('test-results', 'runview-benchmark.json'),
    JSON.stringify(figures, null, 2)
  );
});
