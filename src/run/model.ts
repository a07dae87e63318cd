/**
 * A run's model: its graph (fetched once, then kept live from the event stream), the
 * schematic's layout (redone only when tasks or edges appear), the selected task with its
 * state history and error, and the paged log cursor with the view's filters. The views
 * read it; none of them talks to the network.
 */
import { ISignal, Signal } from '@lumino/signaling';

import type {
  Artifact,
  FlowEvent,
  FlowRun,
  FlowRunGraph,
  FlowRunGraphNode,
  FlowsClient,
  LogLine,
  LogQuery,
  HistoryState,
  TaskRun
} from '../api';
import { describeError } from '../errors';
import { EventStream } from '../events';
import { PolledModel } from '../models/base';
import { isFinal } from '../states';
import { LogCursor } from './logs/cursor';
import { ILayout, layoutGraph, summaryState } from './schematic/layout';
import type { IPreviousRun } from './timeline/scale';

export type LogSource = 'flow' | 'task' | 'agent' | 'job';
export const LOG_SOURCES: LogSource[] = ['flow', 'task', 'agent', 'job'];

export interface ILogFilter {
  sources: LogSource[];
  /** The lowest level shown (10 DEBUG … 50 CRITICAL). */
  level: number;
  /** Text the lines contain (the server searches). */
  q: string;
}

export interface ITaskDetail {
  key: string;
  histories: { taskRun: TaskRun; states: HistoryState[] }[];
  /** ERROR lines of the task's runs: the traceback. */
  errors: LogLine[];
  /** What the task's runs made (tables, links, notebooks): its result, where kept. */
  artifacts: Artifact[];
  loading: boolean;
  error: string | null;
}

export interface IRunModelOptions {
  client: FlowsClient;
  stream: EventStream;
  runId: string;
}

const FAILED_TYPES = ['FAILED', 'CRASHED', 'TIMED_OUT'];

type TaskRunWithKey = FlowRunGraphNode['task_runs'][number];

export class RunModel extends PolledModel {
  constructor(options: IRunModelOptions) {
    super({ stream: options.stream, slowInterval: 30000, fastInterval: 3000 });
    this.client = options.client;
    this.runId = options.runId;
    this.stream.received.connect(this._onEvent, this);
    this._resetLogs();
  }

  client: FlowsClient;
  readonly runId: string;

  get graph(): FlowRunGraph | null {
    return this._graph;
  }

  get run(): FlowRun | null {
    return this._graph?.flow_run ?? null;
  }

  /**
   * The previous run of the same deployment (or, without one, of the same flow version)
   * that finished, for the timeline to compare with; null if there is none, undefined
   * until asked.
   */
  get previous(): IPreviousRun | null | undefined {
    return this._previous;
  }

  get layout(): ILayout | null {
    return this._layout;
  }

  get logs(): LogCursor {
    return this._logs;
  }

  /** A new cursor replaced the old one (the filter changed). */
  get logsReset(): ISignal<this, LogCursor> {
    return this._logsReset;
  }

  get logFilter(): ILogFilter {
    return this._filter;
  }

  get selected(): string | null {
    return this._selected;
  }

  get detail(): ITaskDetail | null {
    return this._detail;
  }

  /** Every task run of the run, in graph order. */
  get taskRuns(): TaskRunWithKey[] {
    return (this._graph?.nodes ?? []).flatMap(n => n.task_runs);
  }

  node(key: string): FlowRunGraphNode | undefined {
    return this._graph?.nodes.find(n => n.key === key);
  }

  setLogFilter(filter: Partial<ILogFilter>): void {
    this._filter = { ...this._filter, ...filter };
    this._resetLogs();
  }

  /** Select a task (a node): load its state histories and its error lines. */
  async select(key: string | null): Promise<void> {
    this._selected = key;
    this._detail = null;
    this.emitChanged();
    const node = key ? this.node(key) : undefined;
    if (!node) {
      return;
    }
    const detail: ITaskDetail = {
      key: node.key,
      histories: [],
      errors: [],
      artifacts: [],
      loading: true,
      error: null
    };
    this._detail = detail;
    this.emitChanged();
    try {
      const runs = node.task_runs.slice(0, 20);
      const ids = new Set(node.task_runs.map(t => t.id));
      const [histories, errors, artifacts] = await Promise.all([
        Promise.all(
          runs.map(async taskRun => ({
            taskRun,
            states: (await this.client.taskRunStates(taskRun.id)).items
          }))
        ),
        Promise.all(
          runs.map(taskRun =>
            this.client.listRunLogs(this.runId, {
              task_run_id: taskRun.id,
              level: 'ERROR',
              limit: 20
            })
          )
        ),
        this.client.listRunArtifacts(this.runId)
      ]);
      detail.histories = histories;
      detail.errors = errors.flatMap(page => page.items);
      detail.artifacts = artifacts.items.filter(
        a => a.task_run_id !== null && ids.has(a.task_run_id)
      );
    } catch (reason) {
      detail.error = describeError(reason);
    }
    detail.loading = false;
    if (this._detail === detail) {
      this.emitChanged();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.stream.received.disconnect(this._onEvent, this);
    clearTimeout(this._tailTimer);
    super.dispose();
  }

  protected async load(): Promise<void> {
    if (!this._graph) {
      // The log's end first, then the graph: asked together, the server builds a large
      // graph and reads the log at once in one interpreter, and the log's end (what a
      // person reads first, tens of milliseconds alone) waits as long as the graph.
      await this._logs.start().catch(() => undefined);
    }
    const graph = await this.client.getRunGraph(this.runId);
    this._graph = graph;
    await this._relayoutIfNeeded();
    if (this._previous === undefined) {
      this._previous = null;
      void this._loadPrevious(graph.flow_run);
    }
    const runFailed = FAILED_TYPES.includes(graph.flow_run.state?.type ?? '');
    if (runFailed && !this._showedFailure && this._selected === null) {
      // A failed run shows the task that failed first, with its traceback (once).
      this._showedFailure = true;
      const failed = graph.nodes.find(n =>
        n.task_runs.some(
          t =>
            FAILED_TYPES.includes(t.state?.type ?? '') &&
            t.state?.name !== 'NotReady'
        )
      );
      if (failed) {
        void this.select(failed.key);
      }
    }
  }

  /** Find the finished run before this one (the latest of the 20 of its deployment or flow
   * version expected before it) and read its graph. */
  private async _loadPrevious(run: FlowRun): Promise<void> {
    try {
      const page = await this.client.listFlowRuns({
        ...(run.deployment_id
          ? { deployment_id: run.deployment_id }
          : run.flow_version_id
            ? { flow_version_id: run.flow_version_id }
            : { flow_id: run.flow_id }),
        until: run.expected_start_time ?? undefined,
        limit: 20
      });
      const before = page.items.find(
        r =>
          r.id !== run.id &&
          r.start_time &&
          r.end_time &&
          (run.deployment_id || r.flow_version_id === run.flow_version_id)
      );
      if (!before || this.isDisposed) {
        return;
      }
      const graph = await this.client.getRunGraph(before.id);
      this._previous = {
        name: before.name,
        start_time: before.start_time,
        nodes: graph.nodes
      };
      this.emitChanged();
    } catch {
      // Only a comparison: the timeline shows this run alone.
    }
  }

  private async _relayoutIfNeeded(): Promise<void> {
    const graph = this._graph;
    if (!graph) {
      return;
    }
    const shape = JSON.stringify([
      graph.nodes.map(n => [n.key, n.task_runs.length > 1]),
      graph.edges.map(e => [e.source, e.target])
    ]);
    if (shape === this._shape && this._layout) {
      this._layout = { ...this._layout, nodes: this._withStates(this._layout) };
      return;
    }
    this._shape = shape;
    this._layout = await layoutGraph(graph.nodes, graph.edges);
  }

  /** The laid-out boxes with their current counts and states (no new layout). */
  private _withStates(layout: ILayout): ILayout['nodes'] {
    return layout.nodes.map(box => {
      const node = this.node(box.key);
      if (!node) {
        return box;
      }
      return {
        ...box,
        count: node.task_runs.length,
        state: summaryState(node)
      };
    });
  }

  private _onEvent(_: EventStream, event: FlowEvent): void {
    const graph = this._graph;
    switch (event.type) {
      case 'flow_run':
        if (graph && event.flow_run.id === this.runId) {
          graph.flow_run = event.flow_run;
          this.emitChanged();
        }
        break;
      case 'task_run':
        if (graph && event.task_run.flow_run_id === this.runId) {
          this._upsertTaskRun(event.task_run);
        }
        break;
      case 'state':
        if (!graph || event.flow_run_id !== this.runId) {
          break;
        }
        if (event.kind === 'flow_run') {
          graph.flow_run = { ...graph.flow_run, state: event.state };
          if (isFinal(event.state)) {
            void this.refresh(); // end time, total run time
          }
          this.emitChanged();
        } else {
          const known = this.taskRuns.find(t => t.id === event.run_id);
          if (known) {
            known.state = event.state;
            void this._relayoutIfNeeded().then(() => this.emitChanged());
          } else {
            void this.refresh();
          }
        }
        break;
      case 'log':
        if (event.log.flow_run_id === this.runId) {
          this._scheduleTail();
        }
        break;
    }
  }

  private _upsertTaskRun(taskRun: TaskRun): void {
    const graph = this._graph!;
    let node = graph.nodes.find(n => n.key === taskRun.task_key);
    if (!node) {
      node = {
        key: taskRun.task_key,
        name: taskRun.name,
        kind: 'flow-task',
        cell_ids: [],
        task_runs: []
      };
      graph.nodes.push(node);
    }
    const index = node.task_runs.findIndex(t => t.id === taskRun.id);
    const previous = index >= 0 ? node.task_runs[index] : null;
    const merged = {
      ...taskRun,
      dynamic_key: previous?.dynamic_key ?? String(node.task_runs.length)
    };
    if (index >= 0) {
      node.task_runs[index] = merged;
    } else {
      node.task_runs.push(merged);
      graph.task_runs_total += 1;
    }
    void this._relayoutIfNeeded().then(() => this.emitChanged());
  }

  /** Lines arrived: fetch them from the cursor, at most a few times a second. */
  private _scheduleTail(): void {
    if (this._tailTimer !== undefined) {
      return;
    }
    this._tailTimer = setTimeout(() => {
      this._tailTimer = undefined;
      void this._logs.tail().catch(() => undefined);
    }, 300);
  }

  private _resetLogs(): void {
    const filter = this._filter;
    const runId = this.runId;
    const params: LogQuery = {
      level: filter.level > 0 ? filter.level : undefined,
      q: filter.q || undefined,
      source:
        filter.sources.length && filter.sources.length < LOG_SOURCES.length
          ? filter.sources.join(',')
          : undefined
    };
    this._logs = new LogCursor(request =>
      this.client.listRunLogs(runId, { ...params, ...request })
    );
    void this._logs.start().catch(() => undefined);
    this._logsReset.emit(this._logs);
  }

  private _graph: FlowRunGraph | null = null;
  private _layout: ILayout | null = null;
  private _previous: IPreviousRun | null | undefined = undefined;
  private _shape = '';
  private _logs!: LogCursor;
  private _filter: ILogFilter = { sources: [...LOG_SOURCES], level: 0, q: '' };
  private _selected: string | null = null;
  private _showedFailure = false;
  private _detail: ITaskDetail | null = null;
  private _tailTimer: ReturnType<typeof setTimeout> | undefined = undefined;
  private _logsReset = new Signal<this, LogCursor>(this);
}
