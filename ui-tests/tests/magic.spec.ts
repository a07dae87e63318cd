import { expect, test } from '../helpers/fixtures';

import { FlowsHelper } from '../helpers/FlowsHelper';

// Registering, then a run on the server's local agent (a kernel of its own): give it time.
test.setTimeout(240000);

/** The README's notebook tour as a data scientist saves it: the magic in the notebook. */
function tourNotebook(): string {
  const code = (source: string, tags: string[] = []) => ({
    cell_type: 'code',
    metadata: tags.length ? { tags } : {},
    execution_count: null,
    outputs: [],
    source
  });
  const markdown = (source: string) => ({
    cell_type: 'markdown',
    metadata: {},
    source
  });
  return JSON.stringify({
    cells: [
      code('%load_ext jupyter_flows'),
      markdown('## Parameters'),
      code('days = 3', ['parameters']),
      markdown('## Compute'),
      code("total = days * 2\nprint('total', total)"),
      code('%flow register'),
      code('%flow run magic-tour -p days=4 --wait')
    ],
    metadata: {
      kernelspec: {
        name: 'python3',
        display_name: 'Python 3',
        language: 'python'
      },
      language_info: { name: 'python' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

test.describe('The %flow magic in a saved notebook', () => {
  test('registers the notebook without its magic cells and runs it to Completed', async ({
    page,
    tmpPath
  }) => {
    const flows = new FlowsHelper(page);
    const path = `${tmpPath}/magic-tour.ipynb`;
    await page.contents.uploadContent(tourNotebook(), 'text', path);
    await page.notebook.openByPath(path);
    await page.notebook.activate('magic-tour.ipynb');

    await page.notebook.run();

    // Registration names the cells that only drive jupyter-flows, and leaves them out.
    const registered = (await page.notebook.getCellTextOutput(5)) ?? [];
    const said = registered.join('\n');
    expect(said).toContain('left out of the flow');
    expect(said).toMatch(/cell 0\b/);
    expect(said).not.toContain('UsageError');
    expect(said).toMatch(/: 2 tasks, 1 edge$/m);

    // The run, by the server's local agent, ends Completed, with no error in the cell.
    const ran = ((await page.notebook.getCellTextOutput(6)) ?? []).join('\n');
    expect(ran).toContain('Completed');
    expect(ran).not.toMatch(/Failed|Crashed|Error/);
    // INFO lines of the flow are on stdout: JupyterLab paints stderr red, as errors.
    const panel = page.locator('.jp-NotebookPanel:visible');
    await expect(
      panel.locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
      )
    ).toHaveCount(0);

    const outputs = panel.locator('.jp-Notebook');
    await flows.screenshot('magic-light', outputs);
    await page.theme.setDarkTheme();
    await flows.screenshot('magic-dark', outputs);
    await page.theme.setLightTheme();
  });
});
