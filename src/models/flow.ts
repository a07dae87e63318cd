/**
 * A flow page's model: the flow, its versions, deployments and one page of its run
 * history (paged and filtered on the server), kept live by the event stream.
 */
import type {
  Deployment,
  Flow,
  FlowEvent,
  FlowRun,
  FlowRunQuery,
  FlowVersion,
  FlowsClient,
  StateType
} from '../api';
import { IPolledModelOptions, PolledModel } from './base';

/** The history's order, sorted on the server: a column, `-` first for descending. */
export type RunSort = NonNullable<FlowRunQuery['sort']>;

export interface IRunQuery {
  states: StateType[];
  sort: RunSort;
  offset: number;
  limit: number;
}

export interface IFlowModelOptions extends IPolledModelOptions {
  client: FlowsClient;
  flowId: string;
}

export class FlowModel extends PolledModel {
  constructor(options: IFlowModelOptions) {
    super(options);
    this.client = options.client;
    this.flowId = options.flowId;
    this.stream.received.connect(this._onEvent, this);
  }

  client: FlowsClient;
  readonly flowId: string;

  get flow(): Flow | null {
    return this._flow;
  }

  get versions(): ReadonlyArray<FlowVersion> {
    return this._versions;
  }

  get deployments(): ReadonlyArray<Deployment> {
    return this._deployments;
  }

  get runs(): ReadonlyArray<FlowRun> {
    return this._runs;
  }

  get totalRuns(): number {
    return this._total;
  }

  get runQuery(): IRunQuery {
    return this._query;
  }

  /** Change the history's filter or page, and fetch it. */
  async setRunQuery(query: Partial<IRunQuery>): Promise<void> {
    this._query = { ...this._query, ...query };
    this.emitChanged();
    await this._loadRuns();
    this.emitChanged();
  }

  /** Keep a run in view even off the current page (e.g. the one just started). */
  pinRun(run: FlowRun): void {
    this._pinned = run;
    this.emitChanged();
  }

  get pinned(): FlowRun | null {
    return this._pinned;
  }

  /** Replace a deployment (after pause, resume or a schedule edit). */
  putDeployment(deployment: Deployment): void {
    this._deployments = this._deployments.map(d =>
      d.id === deployment.id ? deployment : d
    );
    this.emitChanged();
  }

  dispose(): void {
    clearTimeout(this._timer);
    super.dispose();
  }

  protected async load(): Promise<void> {
    const [flow, versions, deployments] = await Promise.all([
      this.client.getFlow(this.flowId),
      this.client.listVersions(this.flowId, { limit: 100 }),
      this.client.listDeployments({ flow_id: this.flowId, limit: 100 }),
      this._loadRuns()
    ]);
    this._flow = flow;
    this._versions = versions.items;
    this._deployments = deployments.items;
  }

  private async _loadRuns(): Promise<void> {
    const { states, sort, offset, limit } = this._query;
    // The history is what has happened: runs a schedule made for later stay out of it
    // (a minute of slack keeps a run just started in, whatever the clocks say).
    const until = new Date(Date.now() + 60000).toISOString();
    const page = await this.client.listFlowRuns({
      flow_id: this.flowId,
      state: states.length ? states.join(',') : undefined,
      until,
      sort,
      offset,
      limit
    });
    this._runs = page.items;
    this._total = page.total;
    if (this._pinned) {
      this._pinned =
        page.items.find(run => run.id === this._pinned?.id) ?? this._pinned;
    }
  }

  private _onEvent(_: unknown, event: FlowEvent): void {
    let run: FlowRun | null = null;
    if (event.type === 'flow_run' && event.flow_run.flow_id === this.flowId) {
      run = event.flow_run;
    } else if (
      event.type === 'state' &&
      event.kind === 'flow_run' &&
      event.flow_id === this.flowId
    ) {
      const known =
        this._runs.find(r => r.id === event.run_id) ??
        (this._pinned?.id === event.run_id ? this._pinned : null);
      if (known) {
        run = { ...known, state: event.state };
      } else {
        this._scheduleRuns();
        return;
      }
    } else {
      return;
    }
    const index = this._runs.findIndex(r => r.id === run!.id);
    if (index >= 0) {
      this._runs = [...this._runs];
      this._runs[index] = { ...this._runs[index], ...run };
    } else {
      this._scheduleRuns(); // a new run: where it falls in the page is the server's call
    }
    if (this._pinned?.id === run.id) {
      this._pinned = { ...this._pinned, ...run };
    }
    this._scheduleRuns();
    this.emitChanged();
  }

  /** Fetch the page again soon (times and durations come with the run rows). */
  private _scheduleRuns(): void {
    clearTimeout(this._timer);
    this._timer = setTimeout(() => {
      this._loadRuns()
        .then(() => this.emitChanged())
        .catch(() => undefined);
    }, 400);
  }

  private _flow: Flow | null = null;
  private _versions: FlowVersion[] = [];
  private _deployments: Deployment[] = [];
  private _runs: FlowRun[] = [];
  private _total = 0;
  private _pinned: FlowRun | null = null;
  private _query: IRunQuery = {
    states: [],
    sort: '-start',
    offset: 0,
    limit: 50
  };
  private _timer: ReturnType<typeof setTimeout> | undefined = undefined;
}
