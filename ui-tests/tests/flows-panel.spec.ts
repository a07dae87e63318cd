import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';

import { FlowsHelper } from '../helpers/FlowsHelper';

/** The version the Python package was built with (hatch reads it from package.json). */
const packageVersion: string = JSON.parse(
  fs.readFileSync(path.resolve(__dirname, '..', '..', 'package.json'), 'utf-8')
).version;

test.describe('Flows sidebar', () => {
  test('shows the empty state and the server extension version', async ({
    page
  }) => {
    const flows = new FlowsHelper(page);

    await flows.open();

    await expect(flows.emptyState).toContainText('No flows yet');
    await expect(flows.emptyState).toContainText('will be listed here');
    // The footer's only source is GET api/flows/version: the server extension is enabled
    // and the UI reached it through the REST API.
    expect(await flows.serverVersion()).toBe(packageVersion);
    const response = await page.request.get('api/flows/version');
    expect(response.status()).toBe(200);
    expect(await response.json()).toEqual({ version: packageVersion });

    await page.screenshot({ path: 'test-results/flows-panel.png' });
  });

  test('opens from the View menu', async ({ page }) => {
    const flows = new FlowsHelper(page);
    await page.sidebar.openTab('filebrowser');
    await expect(flows.panel).toBeHidden();

    await page.menu.clickMenuItem('View>Show Flows');

    await expect(flows.panel).toBeVisible();
    await expect(flows.emptyState).toContainText('No flows yet');
  });
});
