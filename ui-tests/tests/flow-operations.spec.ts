import { Locator } from '@playwright/test';

import { expect, test } from '../helpers/fixtures';
import { FlowsHelper } from '../helpers/FlowsHelper';

test.setTimeout(180000);
// Tall enough for the whole Operations tab in one picture.
test.use({ viewport: { width: 1400, height: 2100 } });

/** A webhook on a port nothing listens on: "send a test" fails, and must say so. */
const CLOSED_HOOK = 'json://127.0.0.1:9/flows-hook';

test.describe('The flow page: operations', () => {
  test('a destination with a failing test, a policy, retention with a prune preview, a backfill cancelled', async ({
    page
  }) => {
    const flows = new FlowsHelper(page);
    const version = await flows.seedFlow('ui-ops');
    // A queue no agent serves: the backfill's runs wait, so they can be cancelled.
    const deployment = await flows.api('POST', 'deployments', {
      flow_id: version.flow_id,
      name: 'hourly',
      work_queue: 'ui-ops-q',
      schedule: { cron: '0 * * * *', timezone: 'UTC' }
    });
    await flows
      .api('DELETE', 'notifications/destinations/ui-hook')
      .catch(() => undefined);
    // Three finished runs: a retention of one run lets two go.
    for (let i = 0; i < 3; i++) {
      const run = await flows.api(
        'POST',
        `deployments/${deployment.id}/runs`,
        {}
      );
      // Finished a day ago: the server never prunes runs that just finished.
      const when = new Date(Date.now() - 86400000 + i * 60000).toISOString();
      for (const type of ['PENDING', 'RUNNING', 'COMPLETED']) {
        await flows.api('POST', `flow-runs/${run.id}/state`, {
          type,
          timestamp: when
        });
      }
    }

    await page.evaluate(async flowId => {
      await window.jupyterapp.commands.execute('jupyter-flows:open-flow', {
        flowId
      });
    }, version.flow_id);
    const flowPage = flows.flowPage;
    await expect(flowPage.locator('.jp-FlowPage-title')).toHaveText('ui-ops');
    await flowPage.getByRole('tab', { name: 'Operations' }).click();
    const ops = flowPage.locator('.jp-FlowsOps');
    await expect(ops).toHaveAttribute('data-deployment', 'hourly');
    const section = (name: string): Locator =>
      ops.locator(`[data-section="jp-flows-ops-${name}"]`);

    // Notifications: a destination (its URL in a password field), a test that fails.
    const notifications = section('notifications');
    await expect(notifications).toContainText('No policy');
    await notifications
      .getByRole('button', { name: 'Add a destination…' })
      .click();
    await notifications.getByLabel('Name', { exact: true }).fill('ui-hook');
    const url = notifications.getByLabel('Apprise URL');
    await expect(url).toHaveAttribute('type', 'password');
    await url.fill('not a url');
    await notifications
      .getByRole('button', { name: 'Add destination' })
      .click();
    await expect(
      notifications.locator('[data-field="jp-flows-destination-url"]')
    ).toContainText('apprise URL');
    await url.fill(CLOSED_HOOK);
    await notifications
      .getByRole('button', { name: 'Add destination' })
      .click();
    const hook = notifications.locator('tr[data-destination="ui-hook"]');
    await expect(hook).toContainText('json://');
    await expect(notifications).not.toContainText('flows-hook'); // never shown again
    await hook.getByRole('button', { name: 'Send a test to ui-hook' }).click();
    await expect(
      notifications.getByTestId('test-result-ui-hook')
    ).toContainText('Test failed', { timeout: 60000 });

    // A policy: events as checkboxes, the destination chosen from the named ones.
    await notifications.getByRole('button', { name: 'Add a policy…' }).click();
    const form = notifications.getByRole('form', {
      name: 'Add a notification policy'
    });
    await form.getByRole('checkbox', { name: 'Late' }).check();
    await form.getByRole('checkbox', { name: 'ui-hook' }).check();
    await form.getByLabel('Cool-down (minutes)').fill('30');
    await form.getByRole('button', { name: 'Add policy' }).click();
    const policy = notifications.locator('tr[data-policy="hourly-failures"]');
    await expect(policy).toContainText('Failed, Crashed, TimedOut, Late');
    await expect(policy).toContainText('30 min');
    await expect(notifications).toContainText(
      "Nothing sent about this deployment's runs yet"
    );

    // A run fails: the policy sends to the closed hook, the delivery log says it failed.
    const failed = await flows.api(
      'POST',
      `deployments/${deployment.id}/runs`,
      {}
    );
    for (const type of ['PENDING', 'RUNNING', 'FAILED']) {
      await flows.api('POST', `flow-runs/${failed.id}/state`, { type });
    }
    const history = notifications.getByRole('table', {
      name: 'Delivery history'
    });
    await expect(async () => {
      await notifications
        .getByRole('button', { name: 'Refresh the delivery history' })
        .click();
      await expect(history).toBeVisible({ timeout: 1000 });
    }).toPass({ timeout: 60000 });
    const delivery = history.locator('tbody tr').first();
    await expect(delivery).toContainText('ui-hook');
    await expect(delivery).toContainText('Failed');
    await expect(delivery).toContainText('Connection error');

    // An automation: "3 failures in a row → pause", which has not fired yet.
    const automations = section('automations');
    await automations
      .getByRole('button', { name: 'Add an automation…' })
      .click();
    await automations.getByLabel('Failures in a row').fill('3');
    await automations.getByRole('button', { name: 'Add automation' }).click();
    const rule = automations.locator(
      'li[data-automation="hourly-pause-on-failures"]'
    );
    await expect(rule).toContainText(
      'When 3 failures in a row → pause the deployment'
    );
    await rule
      .getByRole('button', { name: 'Firings of hourly-pause-on-failures' })
      .click();
    await expect(rule).toContainText('It has not fired yet.');

    // Retention: from the server's default to its own, then what a prune would delete.
    const retention = section('retention');
    await expect(retention.getByTestId('retention-current')).toContainText(
      "Follows the server's default"
    );
    await retention
      .getByRole('checkbox', { name: "Follow the server's default" })
      .uncheck();
    await retention.getByLabel('Keep the last (runs)').fill('1');
    await retention.getByRole('button', { name: 'Save retention' }).click();
    await expect(retention.getByText('Saved.')).toBeVisible();
    await expect(retention.getByTestId('retention-current')).toContainText(
      'Its own: keeps the last run'
    );
    await retention.getByRole('button', { name: 'Preview prune' }).click();
    const prune = retention.getByTestId('prune-preview');
    // The failed run is the last one (kept); the three completed a day ago go.
    await expect(prune).toContainText('3 runs');
    await expect(prune.locator('tbody tr')).toHaveCount(3);

    // Backfill: a past window of the hourly schedule, previewed, made two at a time.
    const backfills = section('backfills');
    await backfills
      .getByLabel('From (your local time)')
      .fill('2026-05-01T00:00');
    await backfills.getByLabel('To (included)').fill('2026-05-01T05:00');
    await backfills.getByRole('button', { name: 'Preview' }).click();
    const preview = backfills.getByTestId('backfill-preview');
    await expect(preview).toContainText('6 slots');
    await expect(preview.locator('li')).toHaveCount(6);
    await backfills.getByRole('button', { name: 'Create backfill' }).click();
    const made = backfills.locator('li[data-backfill]').first();
    await expect(made).toHaveAttribute('data-status', 'running');
    await expect(made).toContainText('0 of 6 finished · 2 made (2 scheduled)');

    // Asked again, the same window: two of its slots exist now.
    await backfills.getByRole('button', { name: 'Preview' }).click();
    await expect(preview).toContainText('4 new (2 exist already)');

    await flows.screenshot('flow-operations', ops);
    await page.theme.setDarkTheme();
    await expect(ops).toBeVisible();
    const background = await ops
      .locator('.jp-FlowsOps-section')
      .first()
      .evaluate(node => getComputedStyle(node).backgroundColor);
    expect(background).not.toBe('rgb(255, 255, 255)');
    await flows.screenshot('flow-operations-dark', ops);
    await page.theme.setLightTheme();

    // Its runs are in the history; cancelling the backfill cancels them.
    await flowPage.getByRole('tab', { name: /^Runs/ }).click();
    await expect(
      flowPage.locator('.jp-FlowPage-history tbody tr')
    ).not.toHaveCount(0);
    const backfillRuns = await flows.api(
      'GET',
      `flow-runs?deployment_id=${deployment.id}&state=SCHEDULED&since=2026-05-01T00:00:00Z&until=2026-05-02T00:00:00Z`
    );
    expect(backfillRuns.total).toBe(2);
    await flowPage.getByRole('tab', { name: 'Operations' }).click();
    await section('backfills')
      .getByRole('button', { name: 'Cancel this backfill' })
      .click();
    const cancelled = section('backfills').locator('li[data-backfill]').first();
    await expect(cancelled).toHaveAttribute('data-status', 'cancelled');
    await expect(cancelled).toContainText('2 cancelled');

    // Removing a destination asks first: its URL cannot be read back.
    await section('notifications')
      .getByRole('button', { name: 'Remove destination ui-hook' })
      .click();
    await page
      .locator('.jp-Dialog')
      .getByRole('button', { name: 'Remove' })
      .click();
    await expect(
      section('notifications').locator('tr[data-destination="ui-hook"]')
    ).toBeHidden();
  });
});
