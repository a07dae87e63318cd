import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

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
}
