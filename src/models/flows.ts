/**
 * The sidebar's model: every flow with its last run and next scheduled run, the runs in
 * progress with their task counts, and the search / state / tag filter.
 */
import type { Flow, FlowEvent, FlowRun, FlowsClient, StateType } from '../api';
import { ACTIVE_STATES, isActive } from '../states';
import { IPolledModelOptions, PolledModel } from './base';

/** A flow as the sidebar lists it. */
export interface IFlowRow {
  flow: Flow;
  /** The newest run that has left Scheduled (null: never ran). */
  lastRun: FlowRun | null;
  /** When its next scheduled run is due (null: nothing scheduled). */
  nextRunAt: string | null;
  /** Tags of its deployments and recent runs. */
  tags: string[];
}

/** Tasks of a run in progress: how many ended, of how many. */
export interface IProgress {
  done: number;
  total: number;
}

/** The state filter's values: a state type, or flows that never ran. */
export type StateFilter = StateType | 'NONE';

export interface IFlowsFilter {
  text: string;
  states: StateFilter[];
  tag: string | null;
}

const TASK_DONE: ReadonlyArray<StateType> = [
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'CRASHED',
  'TIMED_OUT'
];

export interface IFlowsModelOptions extends IPolledModelOptions {
  client: FlowsClient;
}

export class FlowsModel extends PolledModel {
  constructor(options: IFlowsModelOptions) {
    super(options);
    this.client = options.client;
    this.stream.received.connect(this._onEvent, this);
  }

  client: FlowsClient;

  /** Every flow, in name order. */
  get rows(): ReadonlyArray<IFlowRow> {
    return this._rows;
  }

  /** The rows the filter lets through. */
  get visibleRows(): ReadonlyArray<IFlowRow> {
    if (!this._visible) {
      this._visible = filterRows(this._rows, this._filter);
    }
    return this._visible;
  }

  /** Runs in progress across all flows, newest first. */
  get running(): ReadonlyArray<FlowRun> {
    return this._running;
  }

  progress(runId: string): IProgress | null {
    return this._progress.get(runId) ?? null;
  }

  get filter(): IFlowsFilter {
    return this._filter;
  }

  set filter(filter: IFlowsFilter) {
    this._filter = filter;
    this._visible = null;
    this.emitChanged();
  }

  /** Every tag seen, for the tag filter. */
  get tags(): string[] {
    const all = new Set<string>();
    this._rows.forEach(row => row.tags.forEach(tag => all.add(tag)));
    return [...all].sort();
  }

  dispose(): void {
    clearTimeout(this._reloadTimer);
    this._progressTimers.forEach(timer => clearTimeout(timer));
    this._progressTimers.clear();
    super.dispose();
  }

  protected async load(): Promise<void> {
    // Recent runs stand in for the server's flow summary when it has none; whether it
    // has one is known after the first answer, so the guess costs no extra round trip.
    const [flows, running, recent] = await Promise.all([
      this.client.allFlows(),
      this.client.listFlowRuns({ state: ACTIVE_STATES.join(','), limit: 200 }),
      this._needsRecentRuns
        ? this.client.listFlowRuns({ limit: 500 })
        : Promise.resolve(null)
    ]);
    this._needsRecentRuns = flows.length === 0 || !hasSummary(flows[0]);
    let runs = recent?.items ?? [];
    if (this._needsRecentRuns && recent === null) {
      runs = (await this.client.listFlowRuns({ limit: 500 })).items;
    }
    this._rows = buildRows(flows, runs);
    this._visible = null;
    this._running = running.items;
    await Promise.all(this._running.map(run => this._loadProgress(run.id)));
    this._pruneProgress();
  }

  private async _loadProgress(runId: string): Promise<void> {
    const page = await this.client.listTaskRuns(runId);
    const done = page.items.filter(
      task => task.state && TASK_DONE.includes(task.state.type)
    ).length;
    this._progress.set(runId, { done, total: page.total });
  }

  private _pruneProgress(): void {
    const live = new Set(this._running.map(run => run.id));
    for (const id of this._progress.keys()) {
      if (!live.has(id)) {
        this._progress.delete(id);
      }
    }
  }

  private _onEvent(_: unknown, event: FlowEvent): void {
    if (event.type === 'flow_run') {
      this._applyRun(event.flow_run);
    } else if (event.type === 'state' && event.kind === 'flow_run') {
      const known =
        this._running.find(run => run.id === event.run_id) ??
        this._rows.find(row => row.lastRun?.id === event.run_id)?.lastRun;
      if (known) {
        this._applyRun({ ...known, state: event.state });
      } else {
        // A run we have not seen: fetch it (it brings its flow and times).
        this.client
          .getFlowRun(event.run_id)
          .then(run => this._applyRun(run))
          .catch(() => undefined);
      }
    } else if (event.type === 'task_run' || event.type === 'state') {
      const runId =
        event.type === 'task_run'
          ? event.task_run.flow_run_id
          : event.flow_run_id;
      if (this._progress.has(runId)) {
        this._scheduleProgress(runId);
      }
    }
  }

  /** Put a run where it belongs: in progress, as its flow's last run, or neither. */
  private _applyRun(run: FlowRun): void {
    const others = this._running.filter(r => r.id !== run.id);
    this._running = isActive(run.state) ? [run, ...others] : others;
    if (isActive(run.state) && !this._progress.has(run.id)) {
      this._progress.set(run.id, { done: 0, total: 0 });
      this._scheduleProgress(run.id);
    }
    this._pruneProgress();
    const index = this._rows.findIndex(row => row.flow.id === run.flow_id);
    if (index < 0) {
      this._scheduleReload(); // a flow registered since the last refresh
    } else if (run.state && run.state.type !== 'SCHEDULED') {
      const row = this._rows[index];
      if (
        !row.lastRun ||
        row.lastRun.id === run.id ||
        newer(run, row.lastRun)
      ) {
        this._rows = [...this._rows];
        this._rows[index] = {
          ...row,
          lastRun: run,
          tags: mergeTags(row.tags, run.tags)
        };
        this._visible = null;
      }
    }
    this.emitChanged();
  }

  private _scheduleProgress(runId: string): void {
    if (this._progressTimers.has(runId)) {
      return;
    }
    const timer = setTimeout(() => {
      this._progressTimers.delete(runId);
      if (!this._running.some(run => run.id === runId)) {
        return;
      }
      this._loadProgress(runId)
        .then(() => this.emitChanged())
        .catch(() => undefined);
    }, 300);
    this._progressTimers.set(runId, timer);
  }

  private _scheduleReload(): void {
    clearTimeout(this._reloadTimer);
    this._reloadTimer = setTimeout(() => void this.refresh(), 300);
  }

  private _rows: IFlowRow[] = [];
  private _visible: IFlowRow[] | null = null;
  private _running: FlowRun[] = [];
  private _progress = new Map<string, IProgress>();
  private _progressTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private _filter: IFlowsFilter = { text: '', states: [], tag: null };
  private _needsRecentRuns = false;
  private _reloadTimer: ReturnType<typeof setTimeout> | undefined = undefined;
}

/** Whether the server summarised the flow (`last_run`, `next_run_at`, `tags` in lists). */
function hasSummary(flow: Flow): boolean {
  return 'last_run' in flow;
}

function newer(a: FlowRun, b: FlowRun): boolean {
  const at = a.start_time ?? a.expected_start_time ?? a.created;
  const bt = b.start_time ?? b.expected_start_time ?? b.created;
  return (at ?? '') >= (bt ?? '');
}

function mergeTags(a: string[], b: string[]): string[] {
  return b.every(tag => a.includes(tag))
    ? a
    : [...new Set([...a, ...b])].sort();
}

/**
 * Rows from the flows and, when the server does not summarise flows itself, the newest
 * runs (newest expected start first, as `GET flow-runs` answers).
 */
export function buildRows(flows: Flow[], recentRuns: FlowRun[]): IFlowRow[] {
  const last = new Map<string, FlowRun>();
  const next = new Map<string, string>();
  const tags = new Map<string, Set<string>>();
  const now = new Date().toISOString();
  for (const run of recentRuns) {
    const flowTags = tags.get(run.flow_id) ?? new Set<string>();
    run.tags.forEach(tag => flowTags.add(tag));
    tags.set(run.flow_id, flowTags);
    if (run.state?.type === 'SCHEDULED') {
      const due = run.expected_start_time;
      const seen = next.get(run.flow_id);
      if (due && due >= now && (!seen || due < seen)) {
        next.set(run.flow_id, due);
      }
    } else if (run.state && !last.has(run.flow_id)) {
      last.set(run.flow_id, run);
    }
  }
  const rows = flows.map(flow => {
    if (hasSummary(flow)) {
      return {
        flow,
        lastRun: flow.last_run ?? null,
        nextRunAt: flow.next_run_at ?? null,
        tags: flow.tags ?? []
      };
    }
    return {
      flow,
      lastRun: last.get(flow.id) ?? null,
      nextRunAt: next.get(flow.id) ?? null,
      tags: [...(tags.get(flow.id) ?? [])].sort()
    };
  });
  return rows.sort((a, b) =>
    a.flow.name.localeCompare(b.flow.name, undefined, { sensitivity: 'base' })
  );
}

/** The rows a filter lets through: name or project contains the text, state, tag. */
export function filterRows(
  rows: ReadonlyArray<IFlowRow>,
  filter: IFlowsFilter
): IFlowRow[] {
  const text = filter.text.trim().toLowerCase();
  return rows.filter(row => {
    if (
      text &&
      !row.flow.name.toLowerCase().includes(text) &&
      !row.flow.project.toLowerCase().includes(text)
    ) {
      return false;
    }
    if (filter.states.length) {
      const state: StateFilter = row.lastRun?.state?.type ?? 'NONE';
      if (!filter.states.includes(state)) {
        return false;
      }
    }
    return !filter.tag || row.tags.includes(filter.tag);
  });
}
