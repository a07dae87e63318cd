import { expect, test } from '../helpers/fixtures';

import { FlowsHelper } from '../helpers/FlowsHelper';

test.describe('Flows sidebar', () => {
  test('is empty at first, and says how to add a flow', async ({ page }) => {
    const flows = new FlowsHelper(page);
    // Other tests share the server's store: answer "no flows" for this one.
    await page.route(/\/api\/flows\/(flows|flow-runs)(\?|$)/, route =>
      route.fulfill({ json: { items: [], total: 0, limit: 500, offset: 0 } })
    );
    await page.evaluate(() =>
      window.jupyterapp.commands.execute('jupyter-flows:refresh')
    );

    await flows.open();

    await expect(flows.emptyState).toContainText('No flows yet');
    await expect(flows.emptyState).toContainText('Register as Flow');
    await expect(flows.panel.getByTestId('flows-connection')).toContainText(
      'live'
    );
    await flows.screenshot('sidebar-empty', flows.panel);
  });

  test('lists flows with their last state, live runs with progress, and filters', async ({
    page
  }) => {
    const flows = new FlowsHelper(page);
    for (const name of ['ui-etl', 'ui-reports', 'ui-train', 'ui-idle']) {
      await flows.seedFlow(name);
    }
    await flows.seedRun('ui-etl', ['PENDING', 'RUNNING', 'COMPLETED']);
    await flows.seedRun('ui-reports', ['PENDING', 'RUNNING', 'FAILED']);
    const live = await flows.seedRun('ui-train', ['PENDING', 'RUNNING']);
    await flows.seedTask(live, 'task-0', ['PENDING', 'RUNNING', 'COMPLETED']);
    await flows.seedTask(live, 'task-1', ['PENDING', 'RUNNING']);
    await flows.seedTask(live, 'task-2', ['PENDING']);

    await flows.open();
    await flows.search('ui-');

    await expect(flows.badge('ui-etl')).toHaveText('Completed');
    await expect(flows.badge('ui-reports')).toHaveText('Failed');
    await expect(flows.badge('ui-idle')).toHaveText('Not run');
    const running = flows.running.locator(`[data-run-id="${live}"]`);
    await expect(running).toContainText('ui-train');
    await expect(running.getByTestId('run-progress')).toHaveText('1/3 tasks');

    // Live: the run completes through the API, the sidebar follows without a reload.
    await flows.seedTask(live, 'task-3', ['PENDING']);
    await expect(running.getByTestId('run-progress')).toHaveText('1/4 tasks');
    await flows.screenshot('sidebar', flows.panel);
    await flows.api('POST', `flow-runs/${live}/state`, { type: 'COMPLETED' });
    await expect(running).toBeHidden();
    await expect(flows.badge('ui-train')).toHaveText('Completed');

    // Search and state filter.
    await flows.panel
      .getByLabel('Search flows by name or project')
      .fill('ui-rep');
    await expect(flows.row('ui-reports')).toBeVisible();
    await expect(flows.row('ui-etl')).toBeHidden();
    await flows.search('ui-');
    await flows.panel
      .getByLabel('Filter by last run state')
      .selectOption('FAILED');
    await expect(flows.row('ui-reports')).toBeVisible();
    await expect(flows.row('ui-etl')).toBeHidden();
    await flows.panel.getByLabel('Filter by last run state').selectOption('');

    // Keyboard: focus the list, move down, Enter opens the flow's page.
    await flows.list.focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('Enter');
    await expect(flows.flowPage.locator('.jp-FlowPage-title')).toBeVisible();
  });

  test('reads well in the dark theme', async ({ page }) => {
    const flows = new FlowsHelper(page);
    await flows.seedFlow('ui-dark');
    await flows.seedRun('ui-dark', ['PENDING', 'RUNNING', 'FAILED']);
    await page.theme.setDarkTheme();
    await flows.open();
    await flows.search('ui-');

    await expect(flows.badge('ui-dark')).toHaveText('Failed');
    const background = await flows.panel.evaluate(
      node => getComputedStyle(node).backgroundColor
    );
    // The dark theme's layout colour, not the light one.
    expect(background).not.toBe('rgb(255, 255, 255)');
    await flows.screenshot('sidebar-dark', flows.panel);
    await page.theme.setLightTheme();
  });
});
