import { expect, test } from '../helpers/fixtures';

import { FlowsHelper } from '../helpers/FlowsHelper';

test.describe('Agents and queues', () => {
  test('pausing a queue shows why its due run waits', async ({ page }) => {
    const flows = new FlowsHelper(page);
    const version = await flows.seedFlow('ui-held-flow');
    await flows
      .api('POST', 'work-queues', { name: 'ui-held' })
      .catch(() => undefined);
    const deployment = await flows.api('POST', 'deployments', {
      flow_id: version.flow_id,
      name: 'held',
      work_queue: 'ui-held'
    });
    await flows.api('POST', `deployments/${deployment.id}/runs`, {});

    await flows.open();
    const queue = flows.agents.locator('[data-queue-name="ui-held"]');
    await queue
      .getByRole('button', { name: /ui-held/, expanded: false })
      .click();
    // Nothing polls this queue: the server says so.
    await expect(queue.getByTestId('pending-reason')).toContainText('agent');

    await queue.getByRole('button', { name: 'Pause queue ui-held' }).click();
    await expect(
      queue.locator('.jp-FlowsBadge', { hasText: 'Paused' })
    ).toBeVisible();
    await expect(queue.getByTestId('pending-reason')).toContainText('paused');
    // Give the section the panel's height for the picture.
    for (const section of ['Running', 'Flows']) {
      await flows.panel
        .locator('.lm-AccordionPanel-title', { hasText: section })
        .first()
        .click();
    }
    await flows.screenshot('agents', flows.panel);
    for (const section of ['Running', 'Flows']) {
      await flows.panel
        .locator('.lm-AccordionPanel-title', { hasText: section })
        .first()
        .click();
    }

    await queue.getByRole('button', { name: 'Resume queue ui-held' }).click();
    await expect(
      queue.locator('.jp-FlowsBadge', { hasText: 'Paused' })
    ).toBeHidden();
  });
});
