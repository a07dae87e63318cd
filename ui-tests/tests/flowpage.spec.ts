import { expect, test } from '../helpers/fixtures';

import { FlowsHelper } from '../helpers/FlowsHelper';

test.setTimeout(180000);

/** A two-cell notebook; `answer` is the second cell's code. */
function notebook(answer: string): string {
  const cell = (id: string, source: string) => ({
    cell_type: 'code',
    id,
    metadata: {},
    execution_count: null,
    outputs: [],
    source
  });
  return JSON.stringify({
    cells: [cell('n', 'n = 6'), cell('answer', answer)],
    metadata: {
      kernelspec: {
        name: 'python3',
        display_name: 'Python 3',
        language: 'python'
      }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

/**
 * Register `tiny.ipynb` in the test's folder, its deployment on a queue no agent serves
 * (its runs stay Scheduled: nothing starts a kernel), and open its flow page.
 */
async function registerTiny(
  flows: FlowsHelper,
  tmpPath: string,
  name: string
): Promise<{ flowId: string; deploymentId: string }> {
  await flows.page.contents.uploadContent(
    notebook("print('the answer is', n * 7)"),
    'text',
    `${tmpPath}/tiny.ipynb`
  );
  const registered = await flows.api('POST', 'notebooks/register', {
    path: `${tmpPath}/tiny.ipynb`,
    name,
    queue: 'nobody-serves-this',
    capture_environment: false
  });
  const flowId = registered.version.flow_id;
  await showFlow(flows, flowId);
  await expect(flows.flowPage.locator('.jp-FlowPage-title')).toHaveText(name);
  return { flowId, deploymentId: registered.deployment.id };
}

async function showFlow(flows: FlowsHelper, flowId: string): Promise<void> {
  await flows.page.evaluate(async id => {
    await window.jupyterapp.commands.execute('jupyter-flows:open-flow', {
      flowId: id
    });
  }, flowId);
}

/** A finished ad-hoc run of the flow that ran `seconds`, `hoursAgo`. */
async function finishedRun(
  flows: FlowsHelper,
  flowName: string,
  hoursAgo: number,
  seconds: number,
  final: 'COMPLETED' | 'FAILED'
): Promise<string> {
  const start = Date.now() - hoursAgo * 3600000;
  const at = (ms: number) => new Date(ms).toISOString();
  const run = await flows.api('POST', 'flow-runs', {
    flow_name: flowName,
    state: { type: 'PENDING', timestamp: at(start - 1000) }
  });
  await flows.api('POST', `flow-runs/${run.id}/state`, {
    type: 'RUNNING',
    timestamp: at(start)
  });
  await flows.api('POST', `flow-runs/${run.id}/state`, {
    type: final,
    timestamp: at(start + seconds * 1000)
  });
  return run.name;
}

test.describe('The flow page', () => {
  test('sorts the run history on the server and names what started each run', async ({
    page,
    tmpPath
  }) => {
    const flows = new FlowsHelper(page);
    const name = `history-${Date.now().toString(36)}`;
    const { deploymentId } = await registerTiny(flows, tmpPath, name);
    const fromCli = await flows.api(
      'POST',
      `deployments/${deploymentId}/runs`,
      {
        trigger: 'cli'
      }
    );
    const fromMagic = await flows.api(
      'POST',
      `deployments/${deploymentId}/runs`,
      { trigger: 'magic' }
    );
    const long = await finishedRun(flows, name, 2, 50, 'FAILED');
    const short = await finishedRun(flows, name, 1, 5, 'COMPLETED');

    const history = flows.flowPage.locator('.jp-FlowPage-history');
    const rows = history.locator('tbody tr');
    await expect(rows).toHaveCount(4);
    const trigger = (runName: string) =>
      history.locator(`tr[data-run-name="${runName}"] td`).last();
    await expect(trigger(fromCli.name)).toHaveText('CLI');
    await expect(trigger(fromMagic.name)).toHaveText('magic');
    await expect(trigger(long)).toHaveText('ad hoc');

    const header = (label: string) =>
      history.locator('th', { has: page.getByRole('button', { name: label }) });
    await expect(header('Start')).toHaveAttribute('aria-sort', 'descending');
    await expect(header('Duration')).toHaveAttribute('aria-sort', 'none');

    // Longest first, then shortest first: the server's order, on every page.
    await header('Duration').getByRole('button').click();
    await expect(header('Duration')).toHaveAttribute('aria-sort', 'descending');
    await expect(header('Start')).toHaveAttribute('aria-sort', 'none');
    await expect(rows.first()).toHaveAttribute('data-run-name', long);
    await expect(rows.nth(1)).toHaveAttribute('data-run-name', short);
    await header('Duration').getByRole('button').click();
    await expect(header('Duration')).toHaveAttribute('aria-sort', 'ascending');
    await expect(rows.last()).toHaveAttribute('data-run-name', long);

    // By state: in the order of a run's life, Scheduled first.
    await header('State').getByRole('button').press('Enter');
    await expect(header('State')).toHaveAttribute('aria-sort', 'ascending');
    await expect(rows.first().locator('.jp-FlowsBadge')).toHaveText(
      'Scheduled'
    );
    await expect(rows.last()).toHaveAttribute('data-run-name', long);
    await flows.open();
    await flows.search(name);
    await flows.screenshot('flow-page-sorted');
  });

  test('opens the source at its version: the file while unchanged, else a read-only copy', async ({
    page,
    tmpPath
  }) => {
    const flows = new FlowsHelper(page);
    const name = `source-${Date.now().toString(36)}`;
    const { flowId } = await registerTiny(flows, tmpPath, name);
    const openSource = flows.flowPage.getByRole('button', {
      name: 'Open source'
    });

    await openSource.click();
    const tab = (label: string) =>
      page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', { hasText: label });
    await expect(tab('tiny.ipynb')).toBeVisible();
    await expect(tab('(read-only)')).toHaveCount(0);

    // The file changes after registering: its version is no longer what it holds.
    await page.contents.uploadContent(
      notebook("print('changed since')"),
      'text',
      `${tmpPath}/tiny.ipynb`
    );
    await showFlow(flows, flowId);
    await openSource.click();
    await expect(tab('tiny @ v1 (read-only).ipynb')).toBeVisible();
    const copy = page.locator('.jp-NotebookPanel:visible');
    await expect(copy.locator('.jp-Cell')).toHaveCount(2);
    await expect(copy.locator('.jp-Cell').nth(1)).toContainText(
      'the answer is'
    );
    // Its cells are not editable: typing into one changes nothing.
    const editor = copy.locator('.jp-Cell').nth(1).locator('.cm-content');
    await expect(editor).toHaveAttribute('aria-readonly', 'true');
    await editor.click();
    await page.keyboard.type('typed ');
    await expect(editor).toHaveText("print('the answer is', n * 7)");
    await flows.screenshot('flow-source-read-only', copy);
  });
});
