import { expect, test } from '../helpers/fixtures';

import { FlowsHelper } from '../helpers/FlowsHelper';

// The run starts a kernel of its own before the notebook opens: more than the default
// minute on a loaded 2-core machine.
test.setTimeout(150000);

test.describe('Executed notebooks', () => {
  test('a run of a notebook flow opens as a notebook tab with its outputs', async ({
    page,
    baseURL
  }) => {
    const flows = new FlowsHelper(page);
    const run = flows.runNotebookFlow(baseURL!);

    // The run and its artifact are on the server the page talks to.
    const listed = await page.request.get(
      `api/flows/flow-runs/${run.flow_run_id}/artifacts?type=notebook`
    );
    expect(listed.status()).toBe(200);
    expect(
      (await listed.json()).items.map((a: { id: string }) => a.id)
    ).toEqual([run.artifact_id]);

    await flows.openArtifact(run.artifact_id);

    // jupyter-flows-runs/ui-report/<run name>-<run id prefix>.ipynb
    const fileName = `-${run.flow_run_id.slice(-8)}.ipynb`;
    const tab = page.locator('.lm-DockPanel-tabBar .lm-TabBar-tab', {
      hasText: fileName
    });
    await expect(tab).toBeVisible();
    const notebook = page.locator('.jp-NotebookPanel:visible');
    await expect(notebook.locator('.jp-OutputArea-output')).toContainText(
      'the answer is 42'
    );

    await page.screenshot({ path: 'test-results/open-artifact.png' });
  });
});
