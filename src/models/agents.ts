/**
 * Agents and work queues: each agent's status and last heartbeat, each queue's pause
 * switch, and the upcoming runs of a queue with the server's pending reasons. Agents send
 * no events, so this model polls (every 10 s while shown).
 */
import type {
  Agent,
  FlowEvent,
  FlowsClient,
  QueuedRun,
  WorkQueue
} from '../api';
import { IPolledModelOptions, PolledModel } from './base';

export interface IAgentsModelOptions extends IPolledModelOptions {
  client: FlowsClient;
}

export class AgentsModel extends PolledModel {
  constructor(options: IAgentsModelOptions) {
    super({ fastInterval: 10000, slowInterval: 10000, ...options });
    this.client = options.client;
    this.stream.received.connect(this._onEvent, this);
  }

  client: FlowsClient;

  get agents(): ReadonlyArray<Agent> {
    return this._agents;
  }

  get queues(): ReadonlyArray<WorkQueue> {
    return this._queues;
  }

  /** The queue's upcoming runs (loaded when the queue is expanded). */
  preview(queue: string): ReadonlyArray<QueuedRun> | null {
    return this._previews.get(queue) ?? null;
  }

  isExpanded(queue: string): boolean {
    return this._expanded.has(queue);
  }

  async setExpanded(queue: string, expanded: boolean): Promise<void> {
    if (expanded) {
      this._expanded.add(queue);
      this.emitChanged();
      await this._loadPreview(queue);
    } else {
      this._expanded.delete(queue);
    }
    this.emitChanged();
  }

  async setPaused(queue: string, paused: boolean): Promise<void> {
    const updated = paused
      ? await this.client.pauseWorkQueue(queue)
      : await this.client.resumeWorkQueue(queue);
    this._queues = this._queues.map(q => (q.name === queue ? updated : q));
    this.emitChanged();
    if (this._expanded.has(queue)) {
      await this._loadPreview(queue);
      this.emitChanged();
    }
  }

  protected async load(): Promise<void> {
    const [agents, queues] = await Promise.all([
      this.client.listAgents(),
      this.client.listWorkQueues()
    ]);
    this._agents = agents.items;
    this._queues = queues.items;
    await Promise.all([...this._expanded].map(q => this._loadPreview(q)));
  }

  private async _loadPreview(queue: string): Promise<void> {
    const page = await this.client.previewWorkQueue(queue);
    this._previews.set(queue, page.items);
  }

  /** A run changed state: an expanded queue's preview may have changed. */
  private _onEvent(_: unknown, event: FlowEvent): void {
    if (
      this._expanded.size &&
      (event.type === 'flow_run' ||
        (event.type === 'state' && event.kind === 'flow_run'))
    ) {
      clearTimeout(this._timer);
      this._timer = setTimeout(() => {
        Promise.all([...this._expanded].map(q => this._loadPreview(q)))
          .then(() => this.emitChanged())
          .catch(() => undefined);
      }, 300);
    }
  }

  private _agents: Agent[] = [];
  private _queues: WorkQueue[] = [];
  private _previews = new Map<string, QueuedRun[]>();
  private _expanded = new Set<string>();
  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
}
