/**
 * High contrast: JupyterLab has no high-contrast theme of its own, so the check is the
 * operating system's, forced colours (Windows' contrast themes), where the browser replaces
 * author colours with a few system ones. What a state is must survive it: the badges keep
 * their label and a visible dot, and the progress of a live run stays visible.
 */
import { expect, test } from '../helpers/fixtures';

import { FlowsHelper } from '../helpers/FlowsHelper';

test('the sidebar keeps its states legible under forced colours', async ({
  page
}) => {
  const flows = new FlowsHelper(page);
  const prefix = `fc-${Date.now().toString(36)}`;
  const states = {
    done: ['PENDING', 'RUNNING', 'COMPLETED'],
    failed: ['PENDING', 'RUNNING', 'FAILED'],
    live: ['PENDING', 'RUNNING'],
    waiting: ['SCHEDULED']
  } as const;
  let live = '';
  for (const [name, path] of Object.entries(states)) {
    await flows.seedFlow(`${prefix}-${name}`);
    const run = await flows.seedRun(`${prefix}-${name}`, [...path]);
    if (name === 'live') {
      live = run;
      await flows.seedTask(run, 'task-0', ['PENDING', 'RUNNING', 'COMPLETED']);
      await flows.seedTask(run, 'task-1', ['PENDING']);
    }
  }
  await flows.seedFlow(`${prefix}-idle`);

  await page.emulateMedia({ forcedColors: 'active' });
  expect(
    await page.evaluate(() => matchMedia('(forced-colors: active)').matches)
  ).toBe(true);
  await flows.open();
  await flows.search(prefix);
  await expect(flows.badge(`${prefix}-failed`)).toHaveText('Failed');
  await expect(flows.running.locator(`[data-run-id="${live}"]`)).toBeVisible();

  await flows.screenshot('sidebar-forced-colors', flows.panel);

  // Each state's dot is drawn (a dot of only a background colour would be erased).
  for (const name of ['done', 'failed', 'live', 'idle']) {
    const dot = await flows.badge(`${prefix}-${name}`).evaluate(node => {
      const style = getComputedStyle(node, '::before');
      return {
        background: style.backgroundColor,
        border: style.borderTopWidth,
        adjust: style.getPropertyValue('forced-color-adjust')
      };
    });
    expect(dot.adjust, name).toBe('none');
    expect(dot.background !== 'rgba(0, 0, 0, 0)' || dot.border !== '0px').toBe(
      true
    );
  }
  await page.emulateMedia({ forcedColors: 'none' });
});
