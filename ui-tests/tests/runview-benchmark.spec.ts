/**
 * Benchmark, not a test of speed: how long a run's view takes to draw a 500-task
 * schematic, and to show the end of a run with 100,000 log lines, beside JupyterLab
 * opening a 500-cell notebook, in the same run. The numbers are printed and written to
 * test-results/runview-benchmark.json; nothing asserts on them (goal: under 1 s each).
 * Then the frames dropped while scrolling the log, beside the notebook scrolled alike.
 */
import type { Page } from '@playwright/test';

import { expect, test } from '../helpers/fixtures';
import * as fs from 'fs';
import * as path from 'path';

import { RunViewHelper } from '../helpers/RunViewHelper';

/** Resolves once no request has been in flight for `idleMs` (from the next request on). */
function networkQuiet(page: Page, idleMs = 500): Promise<void> {
  let inFlight = 0;
  return new Promise(resolve => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const settle = () => {
      clearTimeout(timer);
      if (inFlight === 0) {
        timer = setTimeout(() => {
          page.off('request', started);
          page.off('requestfinished', ended);
          page.off('requestfailed', ended);
          resolve();
        }, idleMs);
      }
    };
    const started = () => {
      inFlight++;
      clearTimeout(timer);
    };
    const ended = () => {
      inFlight = Math.max(0, inFlight - 1);
      settle();
    };
    page.on('request', started);
    page.on('requestfinished', ended);
    page.on('requestfailed', ended);
  });
}

interface IScrollFrames {
  frames: number;
  dropped: number;
  median_ms: number;
  longest_ms: number;
}

/**
 * Scroll `selector` by a fixed step at each of 120 frames (down, or up from the end) and
 * say how the frames came: their median interval, the longest, and how many were dropped
 * (an interval over 1.5 times the median: a frame the page could not draw in time).
 */

function scrollFrames(
  page: Page,
  selector: string,
  upFromEnd: boolean
): Promise<IScrollFrames> {
  return page.evaluate(
    ({ selector, upFromEnd }) =>
      new Promise<IScrollFrames>(resolve => {
        const scroller = document.querySelector(selector) as HTMLElement;
        const STEP = 100;
        const FRAMES = 120;
        if (upFromEnd) {
          scroller.scrollTop = scroller.scrollHeight;
        }
        const stamps: number[] = [];
        const frame = (time: number) => {
          stamps.push(time);
          if (stamps.length <= FRAMES) {
            scroller.scrollTop += upFromEnd ? -STEP : STEP;
            requestAnimationFrame(frame);
            return;
          }
          const gaps = stamps.slice(1).map((t, i) => t - stamps[i]);
          const sorted = [...gaps].sort((a, b) => a - b);
          const median = sorted[Math.floor(sorted.length / 2)];
          resolve({
            frames: gaps.length,
            dropped: gaps.filter(g => g > 1.5 * median).length,
            median_ms: Math.round(median * 10) / 10,
            longest_ms: Math.round(sorted[sorted.length - 1])
          });
        };
        requestAnimationFrame(frame);
      }),
    { selector, upFromEnd }
  );
}

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
  const quiet = networkQuiet(page);
  const t0 = Date.now();
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
  // JupyterLab goes on working for the notebook after its cells show (the export formats,
  // whose first request imports nbconvert on the server's IOLoop for about a second here,
  // the trust check, a checkpoint): the run view is timed after that, not against it.
  await quiet;
  // The reference for scrolling: JupyterLab's own notebook, scrolled the same way.
  const notebookScroll = await scrollFrames(
    page,
    '.jp-NotebookPanel .jp-WindowedPanel-outer',
    false
  );
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('application:close-all')
  );

  // The schematic and the log's end (follow mode shows it at once) are timed apart
  // (the log does not wait for the graph), in the page, at each frame it draws: Playwright's
  // own checks poll at growing intervals (up to a second), too coarse for these figures.
  const drawn = page.evaluate(
    ({ runId, tasks, last }) =>
      new Promise<{ opened: number; schematic: number; logEnd: number }>(
        resolve => {
          const opened = performance.now();
          let schematic = -1;
          let logEnd = -1;
          const frame = () => {
            const view = document.querySelector(
              `.jp-RunView-body[data-run-id="${runId}"]`
            );
            const now = performance.now() - opened;
            if (view && schematic < 0) {
              const boxes = view.querySelectorAll('.jp-RunSchematic-node');
              if (boxes.length === tasks) {
                schematic = now;
              }
            }
            if (view && logEnd < 0) {
              const scroller = view.querySelector('.jp-RunLogs-lines');
              const line = Array.from(
                view.querySelectorAll('.jp-RunLogs-line')
              ).find(l => l.textContent?.includes(last));
              if (line && scroller) {
                const r = line.getBoundingClientRect();
                const box = scroller.getBoundingClientRect();
                if (
                  r.height > 0 &&
                  r.top >= box.top &&
                  r.bottom <= box.bottom
                ) {
                  logEnd = now;
                }
              }
            }
            if (schematic >= 0 && logEnd >= 0) {
              resolve({ opened, schematic, logEnd });
            } else {
              requestAnimationFrame(frame);
            }
          };
          requestAnimationFrame(frame);
        }
      ),
    { runId: run.id, tasks: TASKS, last: `line ${LINES - 1}` }
  );
  await runs.execute('jupyter-flows:open-run', { runId: run.id });
  const view = runs.view(run.id);
  await expect(runs.nodes(view)).toHaveCount(TASKS, { timeout: 120000 });
  await expect(
    view.locator('.jp-RunLogs-line', { hasText: `line ${LINES - 1}` })
  ).toBeVisible({ timeout: 120000 });
  const { opened, schematic, logEnd } = await drawn;
  const logScroll = await scrollFrames(
    page,
    `.jp-RunView-body[data-run-id="${run.id}"] .jp-RunLogs-lines`,
    true
  );
  const schematicMs = Math.round(schematic);
  const logEndMs = Math.round(logEnd);

  // Where the time goes: the browser's timing of the log's end (tail) and graph
  // requests, from the view's opening: sent, the server's share (sent → first byte),
  // answered (last byte).
  const requests = await page.evaluate(
    ({ id, opened }) => {
      const timing = (part: string) => {
        const entry = performance
          .getEntriesByType('resource')
          .find(e => e.name.includes(`flow-runs/${id}/${part}`)) as
          PerformanceResourceTiming | undefined;
        return entry
          ? {
              sent: Math.round(entry.startTime - opened),
              server: Math.round(entry.responseStart - entry.requestStart),
              answered: Math.round(entry.responseEnd - opened)
            }
          : null;
      };
      return { tail: timing('logs?'), graph: timing('graph') };
    },
    { id: run.id, opened }
  );

  const figures = {
    notebook_500_cells_ms: notebookMs,
    schematic_500_tasks_ms: schematicMs,
    log_end_100000_lines_ms: logEndMs,
    log_tail_request_ms: requests.tail,
    graph_request_ms: requests.graph,
    notebook_scroll: notebookScroll,
    log_scroll_100000_lines: logScroll
  };
  console.log('run view benchmark', JSON.stringify(figures));
  fs.mkdirSync('test-results', { recursive: true });
  fs.writeFileSync(
    path.join('test-results', 'runview-benchmark.json'),
    JSON.stringify(figures, null, 2)
  );
});
