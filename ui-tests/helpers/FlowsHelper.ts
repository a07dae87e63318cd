import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';
import { execFileSync } from 'child_process';
import * as path from 'path';

/** A flow run on the tests' server and its executed-notebook artifact. */
export interface INotebookRun {
  flow_run_id: string;
  artifact_id: string;
}

type StateType =
  | 'SCHEDULED'
  | 'PENDING'
  | 'RUNNING'
  | 'COMPLETED'
  | 'FAILED'
  | 'CANCELLED'
  | 'CRASHED';

const SCREENSHOTS =
  process.env.SCREENSHOTS_DIR ||
  path.resolve(__dirname, '..', '..', '.tmp', 'screenshots');

/** The repository's examples/ folder. */
export const EXAMPLES = path.resolve(__dirname, '..', '..', 'examples');

/** Page object of the Flows UI: tests say what they do, not which selector. */
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

  get list(): Locator {
    return this.panel.getByTestId('flows-list');
  }

  /** A flow's row in the sidebar list. */
  row(name: string): Locator {
    return this.panel.locator(`.jp-FlowsList-row[data-flow-name="${name}"]`);
  }

  /** The state badge of a flow's last run. */
  badge(name: string): Locator {
    return this.row(name).locator('.jp-FlowsBadge');
  }

  get running(): Locator {
    return this.panel.locator('.jp-FlowsRunning');
  }

  get agents(): Locator {
    return this.panel.locator('.jp-FlowsAgents');
  }

  /** The open flow page (the main area's current tab). */
  get flowPage(): Locator {
    return this.page.locator('.jp-FlowPage:visible');
  }

  get dialog(): Locator {
    return this.page.locator('.jp-Dialog');
  }

  /** Open the Flows panel from its sidebar tab (it replaces the file browser there). */
  async open(): Promise<void> {
    await expect(this.tab).toBeVisible();
    if (!(await this.panel.isVisible())) {
      await this.tab.click();
    }
    await expect(this.panel).toBeVisible();
  }

  /** Type in the sidebar's search box (the list is virtualized: only rows in view exist). */
  async search(text: string): Promise<void> {
    await this.panel.getByLabel('Search flows by name or project').fill(text);
  }

  // ------------------------------------------------------------ the REST API

  // The tests read fields of the answers as they need them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  async api<T = any>(
    method: string,
    endpoint: string,
    body?: unknown
  ): Promise<T> {
    const response = await this.page.request.fetch(`api/flows/${endpoint}`, {
      method,
      data: body === undefined ? undefined : JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
      timeout: 180000
    });
    const text = await response.text();
    if (!response.ok()) {
      throw new Error(`${method} ${endpoint}: ${response.status()} ${text}`);
    }
    return text ? JSON.parse(text) : (undefined as T);
  }

  /** Register a flow of `tasks` trivial tasks (no code to run). */
  async seedFlow(
    name: string,
    tasks = 3
  ): Promise<{ flow_id: string; id: string }> {
    return this.api('POST', 'flows', {
      name,
      content: {
        tasks: Array.from({ length: tasks }, (_, i) => ({
          key: `task-${i}`,
          code_hash: `${name}-${i}`
        })),
        edges: [],
        parameter_schema: {},
        task_runner: null,
        run_config: {},
        resource_spec_hash: null
      }
    });
  }

  /** An ad-hoc run of a flow, walked through `states`; returns its id. */
  async seedRun(flowName: string, states: StateType[]): Promise<string> {
    const run = await this.api('POST', 'flow-runs', {
      flow_name: flowName,
      state: { type: states[0] }
    });
    for (const type of states.slice(1)) {
      await this.api('POST', `flow-runs/${run.id}/state`, { type });
    }
    return run.id;
  }

  /** A task run of `runId` walked through `states`. */
  async seedTask(
    runId: string,
    key: string,
    states: StateType[]
  ): Promise<void> {
    const task = await this.api('POST', 'task-runs', {
      flow_run_id: runId,
      task_key: key,
      state: { type: states[0] }
    });
    for (const type of states.slice(1)) {
      await this.api('POST', `task-runs/${task.id}/state`, { type });
    }
  }

  // ------------------------------------------------------------ registering

  /** Copy an example into the test's folder and show it in the file browser. */
  async uploadExample(file: string, tmpPath: string): Promise<void> {
    await this.page.contents.uploadFile(
      path.join(EXAMPLES, file),
      `${tmpPath}/${file}`
    );
    await this.page.sidebar.openTab('filebrowser');
    await this.page.filebrowser.openDirectory(tmpPath);
  }

  /** Right-click a file in the file browser and choose "Register as Flow…". */
  async registerFromFileBrowser(file: string): Promise<void> {
    const item = this.page.locator('.jp-DirListing-item', { hasText: file });
    await item.click({ button: 'right' });
    await this.page
      .locator('.lm-Menu-item', { hasText: 'Register as Flow…' })
      .click();
    await expect(this.dialog).toBeVisible();
    await expect(this.dialog.getByTestId('register-counts')).toBeVisible();
  }

  /** Name the flow in the open dialog and register it; the flow page opens. */
  async confirmRegistration(name: string): Promise<void> {
    const input = this.dialog.locator('#jp-flows-register-name');
    await input.fill(name);
    await this.dialog
      .getByRole('button', { name: 'Register the flow' })
      .click();
    await expect(this.dialog).toBeHidden();
    await expect(this.flowPage.locator('.jp-FlowPage-title')).toHaveText(name);
  }

  /** Press Run on the flow page: the parameter form opens. */
  async openRunForm(): Promise<Locator> {
    await this.flowPage
      .getByRole('button', { name: 'Run', exact: true })
      .click();
    const form = this.flowPage.locator('.jp-FlowsRunForm');
    await expect(form).toBeVisible();
    return form;
  }

  /** The form's field of a parameter. */
  field(name: string): Locator {
    return this.flowPage.locator(`.jp-FlowsField[data-field="${name}"]`);
  }

  // ------------------------------------------------------------ artifacts

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

  /**
   * A screenshot of a view, kept across runs in SCREENSHOTS_DIR (default .tmp/screenshots
   * of the repository; Playwright empties test-results/ at each run). The README's images
   * in docs/images are chosen from there.
   */
  async screenshot(name: string, target?: Locator): Promise<void> {
    const file = path.join(SCREENSHOTS, `${name}.png`);
    if (target) {
      await target.screenshot({ path: file });
    } else {
      await this.page.screenshot({ path: file });
    }
  }
}
