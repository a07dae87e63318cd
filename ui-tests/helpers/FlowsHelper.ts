import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as path from 'path';

/** A flow run on the tests' server and its executed-notebook artifact. */
export interface INotebookRun {
  flow_run_id: string;
  artifact_id: string;
}

/** Page object of the Flows sidebar: tests say what they do, not which selector. */
export class FlowsHelper {
  static readonly panelId = 'jupyter-flows-panel';

  constructor(readonly page: IJupyterLabPageFixture) {}

  /** The Flows tab in the left sidebar's tab bar. */
  get tab(): Locator {
    return this.page.locator(
      `.lm-TabBar-tab[data-id="${FlowsHelper.panelId}"]`
    );
  }

  get panel(): Locator {
    return this.page.locator(`#${FlowsHelper.panelId}`);
  }

  get emptyState(): Locator {
    return this.panel.getByTestId('flows-empty');
  }

  get serverFooter(): Locator {
    return this.panel.getByTestId('flows-server');
  }

  /** Open the Flows panel from its sidebar tab (it replaces the file browser there). */
  async open(): Promise<void> {
    await expect(this.tab).toBeVisible();
    await this.tab.click();
    await expect(this.panel).toBeVisible();
  }

  /** Wait until the footer shows the server's version, and return it. */
  async serverVersion(): Promise<string> {
    const version = this.serverFooter.locator('.jp-FlowsPanel-version');
    await expect(version).toBeVisible();
    const text = (await version.textContent()) ?? '';
    return text.replace('jupyter-flows server', '').trim();
  }

  /**
   * Run a small notebook as a flow on the kernel engine (a real kernel, in a Python
   * process), reported to the server under test; its executed notebook is the artifact.
   */
  runNotebookFlow(baseURL: string): INotebookRun {
    const script = path.resolve(__dirname, 'run_notebook_flow.py');
    const python = process.env.PYTHON || 'python';
    const apiUrl = new URL('api/flows/', baseURL.replace(/\/?$/, '/')).href;
    const out = execFileSync(python, [script, apiUrl], { encoding: 'utf-8' });
    return JSON.parse(out.trim().split('\n').pop() ?? '');
  }

  /** Run the extension's command that opens an executed notebook artifact. */
  async openArtifact(artifactId: string): Promise<void> {
    await this.page.evaluate(async id => {
      await window.jupyterapp.commands.execute('jupyter-flows:open-artifact', {
        artifactId: id
      });
    }, artifactId);
  }
}
