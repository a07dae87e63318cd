import { expect, test } from '../helpers/fixtures';

import { FlowsHelper } from '../helpers/FlowsHelper';

// A notebook run starts a kernel through the server's local agent: give it time.
test.setTimeout(180000);

test.describe('Register as Flow, and run it', () => {
  test('registers an example by right-click, runs it with a changed parameter, sees it complete', async ({
    page,
    tmpPath
  }) => {
    const flows = new FlowsHelper(page);
    await flows.uploadExample('sales-report.ipynb', tmpPath);

    await flows.registerFromFileBrowser('sales-report.ipynb');
    const dialog = flows.dialog;
    await expect(dialog.getByTestId('register-counts')).toContainText(
      'tasks from'
    );
    await expect(dialog.locator('.jp-FlowsRegister-params')).toContainText(
      'days'
    );
    // The environment the version will record, captured from the server beside it.
    await expect(dialog.getByTestId('env-python')).toContainText(
      /Python 3\.\d+/
    );
    await expect(dialog.getByTestId('env-packages')).toContainText(
      /\d+ packages/
    );
    await dialog.getByTestId('env-packages').click();
    await dialog.getByLabel('Filter packages').fill('jupyterlab');
    await expect(
      dialog.getByRole('list', { name: 'Packages' }).locator('li').first()
    ).toContainText('jupyterlab');
    await flows.screenshot(
      'register-environment',
      dialog.getByTestId('resource-spec')
    );
    await dialog.getByTestId('env-packages').click();
    await expect(dialog.getByTestId('env-credentials')).toContainText(
      'none referenced'
    );
    // A fresh store has no version to compare with; a reused one says it is the same.
    await expect(dialog.getByTestId('env-diff')).toContainText(
      /A new flow|Same environment as version \d+|Changed since version \d+/
    );
    // A cron schedule: an invalid line is explained, a valid one previewed.
    await dialog.getByRole('radio', { name: 'Cron' }).check();
    await dialog.locator('#jp-flows-register-cron').fill('0 6 * *');
    await expect(dialog.getByTestId('schedule-error')).toContainText(
      '5 fields'
    );
    await dialog.locator('#jp-flows-register-cron').fill('0 6 * * 1-5');
    await expect(
      dialog.getByTestId('schedule-preview').locator('li')
    ).toHaveCount(5);
    await flows.screenshot(
      'register-dialog',
      dialog.locator('.jp-Dialog-content')
    );

    await flows.confirmRegistration('sales-report-ui');
    // "new version 1" on a fresh store; "unchanged" when the store has it already.
    await expect(page.locator('.jp-toast-message')).toContainText(
      /new version \d+|is unchanged: still version \d+/
    );

    const form = await flows.openRunForm();
    await expect(flows.field('days').locator('input')).toHaveValue('30');
    await flows.field('days').locator('input').fill('5');
    await flows.screenshot(
      'run-form',
      flows.flowPage.locator('.jp-FlowPage-form')
    );
    await form.getByRole('button', { name: 'Start run' }).click();
    await expect(form).toBeHidden();

    // The run just started is highlighted in the history.
    const row = flows.flowPage.locator(
      '.jp-FlowPage-history tr.jp-mod-highlight'
    );
    await expect(row).toContainText('"days":5');
    await expect(row.locator('td').last()).toHaveText('UI'); // started from here
    await expect(row.locator('.jp-FlowsBadge')).toHaveText('Completed', {
      timeout: 150000
    });

    await flows.open();
    await flows.search('sales-');
    await expect(flows.badge('sales-report-ui')).toHaveText('Completed');
    await flows.screenshot('flow-page');
  });

  test('refuses a bad parameter on its field, before and after sending', async ({
    page,
    tmpPath
  }) => {
    const flows = new FlowsHelper(page);
    await flows.uploadExample('sales-report.ipynb', tmpPath);
    await flows.registerFromFileBrowser('sales-report.ipynb');
    await flows.confirmRegistration('sales-report-checks');
    const form = await flows.openRunForm();

    // The form's own check: nothing is sent.
    await flows.field('days').locator('input').fill('5.5');
    await expect(flows.field('days')).toContainText('is not a whole number');
    await form.getByRole('button', { name: 'Start run' }).click();
    await expect(flows.field('days').locator('input')).toBeFocused();
    await flows.field('days').locator('input').fill('5');

    // The server's check (list items must be text): its 400 lands on the field it names.
    await flows.field('regions').locator('input').fill('[1, 2]');
    await form.getByRole('button', { name: 'Start run' }).click();
    await expect(
      flows.field('regions').locator('.jp-FlowsField-error')
    ).toContainText("is not of type 'string'");
    await expect(form).toBeVisible();
    await flows.screenshot(
      'run-form-errors',
      flows.flowPage.locator('.jp-FlowPage-form')
    );
  });

  test('registers selected cells and says which cells were added and why', async ({
    page,
    tmpPath
  }) => {
    const flows = new FlowsHelper(page);
    await flows.uploadExample('sales-report.ipynb', tmpPath);
    await page.notebook.open('sales-report.ipynb');
    await page.notebook.selectCells(9);

    const cell = await page.notebook.getCellLocator(9);
    await cell!.click({ button: 'right' });
    await page
      .locator('.lm-Menu-item', { hasText: 'Register Selected Cells as Flow…' })
      .click();

    await expect(flows.dialog.getByTestId('register-added')).toContainText(
      'needed by'
    );
    await expect(flows.dialog.locator('.jp-FlowsRegister-path')).toContainText(
      'selected cells 9'
    );
    await flows.screenshot(
      'register-cells',
      flows.dialog.locator('.jp-Dialog-content')
    );
    await flows.confirmRegistration('sales-top-products');
  });

  test("compares the environment with the flow's previous version, in the dark theme", async ({
    page,
    tmpPath
  }) => {
    const flows = new FlowsHelper(page);
    await flows.uploadExample('sales-report.ipynb', tmpPath);
    await flows.registerFromFileBrowser('sales-report.ipynb');
    await expect(flows.dialog.getByTestId('env-packages')).toBeVisible();
    await flows.confirmRegistration('sales-env-diff');

    await page.sidebar.openTab('filebrowser');
    await flows.registerFromFileBrowser('sales-report.ipynb');
    // The name picks the flow to compare with: typing it asks again.
    await flows.dialog
      .locator('#jp-flows-register-name input, #jp-flows-register-name')
      .first()
      .fill('sales-env-diff');
    await expect(flows.dialog.getByTestId('env-diff')).toContainText(
      /Same environment as version \d+|Changed since version \d+/
    );
    await page.theme.setDarkTheme();
    await flows.dialog.getByTestId('env-packages').click();
    await flows.screenshot(
      'register-environment-dark',
      flows.dialog.getByTestId('resource-spec')
    );
  });
});
