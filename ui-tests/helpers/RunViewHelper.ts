import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';
import { Locator } from '@playwright/test';

import { FlowsHelper } from './FlowsHelper';

/** Page object of a flow run's view. */
export class RunViewHelper {
  constructor(
    readonly page: IJupyterLabPageFixture,
    readonly flows = new FlowsHelper(page)
  ) {}

  /** The view of run `runId` (any open run view without it). */
  view(runId?: string): Locator {
    return runId
      ? this.page.locator(`.jp-RunView-body[data-run-id="${runId}"]`)
      : this.page.locator('.jp-RunView-body:visible');
  }

  nodes(view: Locator): Locator {
    return view.locator('.jp-RunSchematic-node');
  }

  node(view: Locator, name: string): Locator {
    return view.locator('.jp-RunSchematic-node', {
      has: this.page.locator('.jp-RunSchematic-name', { hasText: name })
    });
  }

  /** Register a notebook of the test's folder on the tasks engine; its deployment. */
  async register(
    path: string,
    name: string
  ): Promise<{ deploymentId: string; flowId: string }> {
    const answer = await this.flows.api('POST', 'notebooks/register', {
      path,
      name,
      engine: 'tasks'
    });
    return {
      deploymentId: answer.deployment.id,
      flowId: answer.version.flow_id
    };
  }

  async run(
    deploymentId: string,
    parameters: Record<string, unknown>
  ): Promise<string> {
    const run = await this.flows.api(
      'POST',
      `deployments/${deploymentId}/runs`,
      { parameters }
    );
    return run.id;
  }

  async execute(command: string, args: Record<string, string>): Promise<void> {
    await this.page.evaluate(
      async ({ command, args }) => {
        await window.jupyterapp.commands.execute(command, args);
      },
      { command, args }
    );
  }

  /** Wait until every box of the schematic shows `state`. */
  async allNodes(view: Locator, state: string, timeout = 150000) {
    await expect(async () => {
      const states = await this.nodes(view).evaluateAll(nodes =>
        nodes.map(n => n.getAttribute('data-state'))
      );
      expect(states.length).toBeGreaterThan(0);
      expect(new Set(states)).toEqual(new Set([state]));
    }).toPass({ timeout });
  }
}
