import { expect, test } from '../helpers/fixtures';

import { RunViewHelper } from '../helpers/RunViewHelper';

// A notebook run starts a kernel through the server's local agent: give it time.
test.setTimeout(300000);
// Wide enough for the run view beside the notebook (and for readable screenshots).
test.use({ viewport: { width: 1600, height: 900 } });

const NOTEBOOK = 'sales-report.ipynb';

test.describe('The run view', () => {
  test('watches a notebook run go green beside the notebook, goes to a cell, searches the logs', async ({
    page,
    tmpPath
  }) => {
    const runs = new RunViewHelper(page);
    await runs.flows.uploadExample(NOTEBOOK, tmpPath);
    await page.notebook.open(NOTEBOOK);
    const { deploymentId, flowId } = await runs.register(
      `${tmpPath}/${NOTEBOOK}`,
      'sales-runview'
    );
    const runId = await runs.run(deploymentId, { days: 30 });

    // Opened from the flow page's run history.
    await runs.execute('jupyter-flows:open-flow', { flowId });
    await page
      .locator(
        `.jp-FlowPage-history tr[data-run-id="${runId}"] .jp-FlowPage-runLink`
      )
      .click();
    const view = runs.view(runId);
    await expect(view).toBeVisible();
    await expect(view.locator('.jp-RunHeader')).toContainText('sales-runview');
    await expect(runs.nodes(view).first()).toBeVisible();
    // Beside the notebook: both are visible at once.
    await expect(page.locator('.jp-NotebookPanel:visible')).toHaveCount(1);

    await runs.allNodes(view, 'COMPLETED');
    await expect(view.locator('.jp-RunHeader .jp-FlowsBadge')).toHaveText(
      'Completed'
    );
    // Where it ran: the embedded agent's infrastructure, recorded at claim.
    await expect(view.locator('.jp-RunHeader')).toContainText(
      'local process on'
    );
    // The notebook's cells show their tasks' states while the view is open.
    await expect(
      page
        .locator('.jp-NotebookPanel .jp-FlowsCellBadge[data-state="COMPLETED"]')
        .first()
    ).toBeVisible();
    await runs.flows.screenshot(
      'run-view',
      page.locator('#jp-main-dock-panel')
    );

    // Keyboard: focus the schematic, move right, open the task's panel.
    await view.locator('.jp-RunSchematic').focus();
    await page.keyboard.press('ArrowRight');
    await expect(
      view.locator('.jp-RunSchematic-node.jp-mod-selected')
    ).toHaveCount(1);

    // Click a task, go to its cell: the notebook selects it.
    const node = view.locator(
      '.jp-RunSchematic-node[data-key="best-selling-products"]'
    );
    await node.click();
    const panel = view.locator('.jp-RunNodePanel');
    await expect(panel).toContainText('Best-selling products');
    await expect(
      panel.locator('.jp-RunNodePanel-states li').first()
    ).toBeVisible();
    await panel.getByRole('button', { name: 'Go to cell' }).click();
    await expect(
      page.locator('.jp-NotebookPanel .jp-Cell.jp-mod-active')
    ).toContainText('sold = Counter');

    // The parameters cell, as papermill injected it into the run. The schematic keeps
    // the selected task in view, so with the task panel open the first cells lie left
    // of its edge (over the notebook beside it, which would take the click): show the
    // whole graph first, as a person would, then click.
    await view.getByRole('button', { name: 'Fit' }).click();
    const parameters = view.locator(
      '.jp-RunSchematic-node[data-key="parameters"]'
    );
    await expect(parameters).toBeInViewport({ ratio: 1 });
    await parameters.click();
    await expect(view.getByTestId('injected-parameters')).toContainText(
      '# Parameters\ndays = 30'
    );
    await runs.flows.screenshot(
      'run-view-parameters',
      view.locator('.jp-RunNodePanel')
    );

    // Logs: search on the server, matches highlighted, next/previous.
    const logs = view.locator('.jp-RunLogs');
    await expect(logs.locator('.jp-RunLogs-line').first()).toBeVisible();
    await logs.getByLabel('Search logs').fill('orders');
    await expect(logs.locator('mark').first()).toBeVisible();
    await logs.getByRole('button', { name: 'Next match' }).click();
    await expect(logs.locator('.jp-RunLogs-line.jp-mod-current')).toHaveCount(
      1
    );
    await expect(logs.locator('.jp-RunLogs-matches')).toContainText('1 /');
    const href = await logs
      .getByRole('link', { name: 'Download .log' })
      .getAttribute('href');
    const download = await page.request.get(href!);
    expect(download.ok()).toBe(true);
    expect(await download.text()).toContain('orders');
    await runs.flows.screenshot('run-view-logs', view);

    // The timeline names the slowest tasks.
    await view.getByRole('tab', { name: 'Timeline' }).click();
    await expect(view.locator('.jp-RunTimeline-slowest')).toContainText(
      'Slowest'
    );
    await expect(view.locator('.jp-RunTimeline-row').first()).toBeVisible();
    // The first run of its deployment: nothing to compare with.
    await expect(view.locator('.jp-RunTimeline-ghost')).toHaveCount(0);

    // Closing the view clears the badges.
    await page.evaluate(async id => {
      window.jupyterapp.shell.widgets('main');
      const widget = Array.from(window.jupyterapp.shell.widgets('main')).find(
        w => w.id === `jupyter-flows-run-${id}`
      );
      widget?.close();
    }, runId);
    await expect(page.locator('.jp-FlowsCellBadge')).toHaveCount(0);
  });

  test('a failing run shows its red task and traceback; rerun from the failed cell', async ({
    page,
    tmpPath
  }) => {
    const runs = new RunViewHelper(page);
    await runs.flows.uploadExample(NOTEBOOK, tmpPath);
    const { deploymentId } = await runs.register(
      `${tmpPath}/${NOTEBOOK}`,
      'sales-runview-fail'
    );
    // One day of orders: statistics.stdev needs two, so the revenue_stats cell fails.
    const runId = await runs.run(deploymentId, { days: 1 });
    await runs.execute('jupyter-flows:open-run', { runId });
    const view = runs.view(runId);
    await expect(view.locator('.jp-RunHeader .jp-FlowsBadge')).toHaveText(
      'Failed',
      { timeout: 150000 }
    );
    // The failed cell's task is red; the report after it did not run (upstream failed).
    const failed = view.locator(
      '.jp-RunSchematic-node[data-key="daily-revenue-2"]'
    );
    await expect(failed).toHaveAttribute('data-state', 'FAILED');
    await expect(failed).toHaveClass(/jp-mod-error/);
    // The view opens on the task that failed, its traceback shown.
    const panel = view.locator('.jp-RunNodePanel[data-key="daily-revenue-2"]');
    await expect(panel.getByTestId('traceback')).toContainText('stdev');
    await runs.flows.screenshot('run-view-failed', view);

    // Repair: rerun from the failed cell with a fixed parameter.
    await view
      .getByRole('button', { name: 'Rerun from the failed cell…' })
      .click();
    const form = view.locator('.jp-FlowsRunForm');
    await expect(form).toBeVisible();
    const days = form.locator('.jp-FlowsField[data-field="days"] input');
    await expect(days).toHaveValue('1');
    await days.fill('5');
    await form.getByRole('button', { name: 'Start run' }).click();

    // The new run opens, linked to this one; it completes.
    const rerun = page.locator('.jp-RunView-body:visible', {
      has: page.locator('.jp-RunHeader-links', { hasText: 'Reruns' })
    });
    await expect(rerun).toBeVisible();
    await expect(rerun.locator('.jp-RunHeader .jp-FlowsBadge')).toHaveText(
      'Completed',
      { timeout: 150000 }
    );
    await runs.allNodes(rerun, 'COMPLETED', 30000);
    await runs.flows.screenshot('run-view-rerun', rerun);

    // The fix changed `days`: the cells that read it, directly or through the orders,
    // ran again; the imports cell reads no parameter, so its earlier result was reused
    // (its task run ends Cached, and the schematic says so).
    const stateOf = (key: string) =>
      rerun.locator(
        `.jp-RunSchematic-node[data-key="${key}"] .jp-RunSchematic-state`
      );
    await expect(stateOf('imports')).toHaveText('Cached');
    for (const key of [
      'load-the-orders',
      'daily-revenue',
      'daily-revenue-2',
      'report'
    ]) {
      await expect(stateOf(key)).toHaveText('Completed');
    }

    // The timeline lays the failed run under this one: ghost bars for the cells that
    // ran there, and the legend names it.
    await rerun.getByRole('tab', { name: 'Timeline' }).click();
    const timeline = rerun.locator('.jp-RunTimeline');
    await expect(timeline.locator('.jp-RunTimeline-legend')).toContainText(
      'the previous run'
    );
    await expect(
      timeline.locator(
        '.jp-RunTimeline-row[data-key="daily-revenue-2"] .jp-RunTimeline-ghost'
      )
    ).toHaveCount(1);
    // The report did not run in the failed run: nothing to compare it with.
    await expect(
      timeline.locator(
        '.jp-RunTimeline-row[data-key="report"] .jp-RunTimeline-ghost'
      )
    ).toHaveCount(0);
    // (The "Started" notice fades after a few seconds: not in the picture.)
    await expect(page.locator('.Toastify__toast')).toHaveCount(0, {
      timeout: 15000
    });
    await runs.flows.screenshot('run-view-timeline', rerun);

    // A rerun from the failed cell with the same parameters runs only the failed cell
    // and those after it: every task before it is reused (Cached) from the failed run.
    const failedRun = await runs.flows.api('GET', `flow-runs/${runId}`);
    const again = await runs.flows.api(
      'POST',
      `deployments/${deploymentId}/runs`,
      { parameters: failedRun.parameters, tags: [`rerun-of:${runId}`] }
    );
    await expect(async () => {
      const run = await runs.flows.api('GET', `flow-runs/${again.id}`);
      expect(run.state.type).toBe('FAILED');
    }).toPass({ timeout: 150000 });
    const graph = await runs.flows.api('GET', `flow-runs/${again.id}/graph`);
    const ran: Record<string, string> = {};
    for (const node of graph.nodes) {
      for (const taskRun of node.task_runs) {
        ran[node.key] = taskRun.state.name;
      }
    }
    expect(ran).toEqual({
      parameters: 'Cached',
      imports: 'Cached',
      'load-the-orders': 'Cached',
      'load-the-orders-2': 'Cached',
      'totals-by-region': 'Cached',
      'best-selling-products': 'Cached',
      'daily-revenue': 'Cached',
      'daily-revenue-2': 'Failed',
      report: 'NotReady'
    });
  });

  test('the run view in the dark theme', async ({ page }) => {
    const runs = new RunViewHelper(page);
    const runId = await runs.flows.seedRun('ui-dark-run', [
      'PENDING',
      'RUNNING'
    ]);
    await runs.flows.seedTask(runId, 'task-0', [
      'PENDING',
      'RUNNING',
      'COMPLETED'
    ]);
    await runs.flows.seedTask(runId, 'task-1', ['PENDING', 'RUNNING']);
    await page.theme.setDarkTheme();
    await runs.execute('jupyter-flows:open-run', { runId });
    const view = runs.view(runId);
    await expect(runs.nodes(view)).toHaveCount(2);
    await expect(
      view.locator('.jp-RunSchematic-node[data-state="RUNNING"]')
    ).toHaveCount(1);
    await runs.flows.screenshot('run-view-dark', view);
    await page.theme.setLightTheme();
  });
});
