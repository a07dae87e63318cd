/**
 * A flow's page (a main-area tab): Run with a typed parameter form, the run history
 * (paged and filtered on the server), deployments with their schedules, and versions
 * with what changed between them.
 */
import { Notification } from '@jupyterlab/apputils';
import {
  Button,
  HTMLSelect,
  ReactWidget,
  UseSignal,
  pauseIcon,
  runIcon
} from '@jupyterlab/ui-components';
import { CommandRegistry } from '@lumino/commands';
import { ISignal, Signal } from '@lumino/signaling';
import React from 'react';

import type {
  Deployment,
  FlowRun,
  FlowsClient,
  FlowVersion,
  IJSONSchema
} from '../api';
import { CommandIDs } from '../commands';
import { Placeholder } from '../components/Placeholder';
import { StateBadge } from '../components/StateBadge';
import { describeError, parameterErrors } from '../errors';
import { EventStream } from '../events';
import { FlowModel } from '../models/flow';
import { ScheduleEditor } from '../register/ScheduleEditor';
import { IScheduleDraft, draftOf, previewSchedule } from '../register/schedule';
import {
  STATE_TYPES,
  formatDuration,
  localTime,
  runDuration,
  typeLabel
} from '../states';
import { OperationsPanel } from './operations/OperationsPanel';
import { IField, fieldsOf, initialValues, readForm } from './paramform';
import { RunForm } from './RunForm';
import { SortColumn, SortHeader, nextSort } from './SortHeader';
import { openVersionSource } from './source';
import { triggerOf } from './trigger';

export { triggerOf };

export interface IFlowPageOptions {
  flowId: string;
  client: FlowsClient;
  stream: EventStream;
  defaultWorkQueue: () => string;
  commands: CommandRegistry;
}

type Tab = 'runs' | 'deployments' | 'versions' | 'operations';
const TABS: Tab[] = ['runs', 'deployments', 'versions', 'operations'];

export class FlowPage extends ReactWidget {
  constructor(private readonly options: IFlowPageOptions) {
    super();
    this.addClass('jp-FlowPage');
    this.flowId = options.flowId;
    this.model = new FlowModel({
      client: options.client,
      stream: options.stream,
      flowId: options.flowId
    });
    this.model.changed.connect(this._onModelChanged, this);
    void this.model.start();
  }

  readonly flowId: string;
  readonly model: FlowModel;

  /** The tab's label: the flow's name once known. */
  get titleChanged(): ISignal<this, string> {
    return this._titleChanged;
  }

  setClient(client: FlowsClient): void {
    this.model.client = client;
    void this.model.refresh();
  }

  /** Show a run in the history (switch to the Runs tab and highlight it). */
  showRun(runId: string): void {
    this._tab = 'runs';
    this._highlight = runId;
    const run = this.model.runs.find(r => r.id === runId);
    if (!run) {
      void this.options.client
        .getFlowRun(runId)
        .then(found => this.model.pinRun(found))
        .catch(() => undefined);
    }
    this.update();
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => this._renderPage()}
      </UseSignal>
    );
  }

  private _onModelChanged(): void {
    const name = this.model.flow?.name;
    if (name && name !== this._title) {
      this._title = name;
      this._titleChanged.emit(name);
    }
  }

  private _renderPage(): JSX.Element {
    const { model } = this;
    const flow = model.flow;
    if (!flow) {
      return model.status === 'error' ? (
        <Placeholder
          kind="error"
          title="This flow could not be loaded"
          onRetry={() => void model.refresh()}
        >
          {model.error}
        </Placeholder>
      ) : (
        <Placeholder kind="loading" title="Loading the flow…" />
      );
    }
    const latest = model.versions[0];
    return (
      <div className="jp-FlowPage-body">
        <header className="jp-FlowPage-header">
          <div className="jp-FlowPage-titles">
            <h1 className="jp-FlowPage-title">{flow.name}</h1>
            <p className="jp-FlowPage-subtitle">
              version {flow.latest_version_number ?? '—'} · project{' '}
              {flow.project}
              {latest?.entrypoint ? ` · ${sourcePath(latest.entrypoint)}` : ''}
            </p>
          </div>
          <div className="jp-FlowPage-actions">
            {latest?.entrypoint && (
              <button
                className="jp-mod-styled jp-mod-reject"
                onClick={() => void this._openSource(latest)}
                title="Open the notebook or script at this version (a read-only copy when the file has changed since)"
              >
                Open source
              </button>
            )}
            <button
              className="jp-mod-styled jp-mod-accept jp-FlowPage-run"
              onClick={() => this._openForm()}
              disabled={model.deployments.length === 0}
              title={
                model.deployments.length
                  ? 'Start a run with parameters of your choice'
                  : 'This flow has no deployment to run'
              }
            >
              <runIcon.react tag="span" elementSize="small" /> Run
            </button>
          </div>
        </header>
        {model.error && (
          <p className="jp-FlowsField-error" role="alert">
            Updating failed: {model.error}
          </p>
        )}
        {this._formOpen && this._renderForm()}
        <div
          className="jp-FlowPage-tabs"
          role="tablist"
          aria-label="Flow details"
        >
          {TABS.map(tab => (
            <button
              key={tab}
              role="tab"
              id={`jp-flowpage-tab-${tab}`}
              aria-selected={this._tab === tab}
              aria-controls={`jp-flowpage-panel-${tab}`}
              tabIndex={this._tab === tab ? 0 : -1}
              className={`jp-FlowPage-tab${this._tab === tab ? ' jp-mod-active' : ''}`}
              onClick={() => this._setTab(tab)}
              onKeyDown={event => this._tabKey(event, tab)}
            >
              {tab === 'runs'
                ? `Runs (${model.totalRuns})`
                : tab === 'deployments'
                  ? `Deployments (${model.deployments.length})`
                  : tab === 'versions'
                    ? `Versions (${model.versions.length})`
                    : 'Operations'}
            </button>
          ))}
        </div>
        <div
          role="tabpanel"
          id={`jp-flowpage-panel-${this._tab}`}
          aria-labelledby={`jp-flowpage-tab-${this._tab}`}
          className="jp-FlowPage-panel"
        >
          {this._tab === 'runs' && this._renderRuns()}
          {this._tab === 'deployments' && this._renderDeployments()}
          {this._tab === 'versions' && <Versions versions={model.versions} />}
          {this._tab === 'operations' && (
            <OperationsPanel
              client={this.options.client}
              deployments={model.deployments}
              parametersOf={deployment =>
                Object.keys(this._schemaFor(deployment).properties ?? {})
              }
              onDeployment={deployment => model.putDeployment(deployment)}
              onRunsChanged={() => void model.refresh()}
            />
          )}
        </div>
      </div>
    );
  }

  private _setTab(tab: Tab): void {
    this._tab = tab;
    this.update();
  }

  private _tabKey(event: React.KeyboardEvent, tab: Tab): void {
    const tabs = TABS;
    const i = tabs.indexOf(tab);
    const next =
      event.key === 'ArrowRight'
        ? tabs[(i + 1) % tabs.length]
        : event.key === 'ArrowLeft'
          ? tabs[(i + tabs.length - 1) % tabs.length]
          : null;
    if (next) {
      event.preventDefault();
      this._setTab(next);
      requestAnimationFrame(() =>
        this.node
          .querySelector<HTMLElement>(`#jp-flowpage-tab-${next}`)
          ?.focus()
      );
    }
  }

  // ------------------------------------------------------------------ run form

  private _schemaFor(deployment: Deployment | undefined): IJSONSchema {
    const versionId =
      deployment?.version_id ?? this.model.flow?.latest_version_id;
    const version =
      this.model.versions.find(v => v.id === versionId) ??
      this.model.versions[0];
    return (version?.content.parameter_schema ?? {}) as IJSONSchema;
  }

  private _openForm(deploymentId?: string): void {
    const deployments = this.model.deployments;
    const deployment =
      deployments.find(d => d.id === deploymentId) ??
      deployments.find(d => d.name === 'default') ??
      deployments[0];
    this._deploymentId = deployment?.id ?? null;
    this._fields = fieldsOf(this._schemaFor(deployment));
    this._values = initialValues(
      this._fields,
      (deployment?.parameters ?? {}) as Record<string, unknown>
    );
    this._errors = {};
    this._formError = null;
    this._formOpen = true;
    this.update();
    requestAnimationFrame(() =>
      this.node
        .querySelector<HTMLElement>(
          '.jp-FlowsRunForm input, .jp-FlowsRunForm select, .jp-FlowsRunForm textarea, .jp-FlowsRunForm button'
        )
        ?.focus()
    );
  }

  private _renderForm(): JSX.Element {
    return (
      <section className="jp-FlowPage-form" aria-label="Run parameters">
        <h2>Run {this.model.flow?.name}</h2>
        <RunForm
          fields={this._fields}
          values={this._values}
          errors={this._errors}
          formError={this._formError}
          deployments={[...this.model.deployments]}
          deploymentId={this._deploymentId}
          busy={this._busy}
          onDeployment={id => this._openForm(id)}
          onChange={(name, text) => {
            this._values = { ...this._values, [name]: text };
            const { errors } = readForm(
              this._fields.filter(f => f.name === name),
              this._values
            );
            const rest = { ...this._errors };
            delete rest[name];
            this._errors = { ...rest, ...errors };
            this.update();
          }}
          onSubmit={() => void this._submit()}
          onCancel={() => {
            this._formOpen = false;
            this.update();
          }}
        />
      </section>
    );
  }

  private async _submit(): Promise<void> {
    const { parameters, errors } = readForm(this._fields, this._values);
    this._errors = errors;
    this._formError = null;
    if (Object.keys(errors).length || !this._deploymentId) {
      this.update();
      this._focusFirstError();
      return;
    }
    this._busy = true;
    this.update();
    try {
      const run = await this.options.client.runDeployment(this._deploymentId, {
        parameters,
        trigger: 'ui'
      });
      this._formOpen = false;
      this.model.pinRun(run);
      this.showRun(run.id);
      this._openRun(run.id, true);
      Notification.success(`Started ${run.name}`, { autoClose: 4000 });
      void this.model.refresh();
    } catch (reason) {
      const fields = parameterErrors(reason);
      if (fields) {
        const { '': general, ...named } = fields;
        this._errors = named;
        this._formError = general ?? null;
        this._focusFirstError();
      } else {
        this._formError = describeError(reason);
      }
    } finally {
      this._busy = false;
      this.update();
    }
  }

  private _focusFirstError(): void {
    requestAnimationFrame(() =>
      this.node
        .querySelector<HTMLElement>('.jp-FlowsRunForm [aria-invalid="true"]')
        ?.focus()
    );
  }

  // ------------------------------------------------------------------ runs

  private _renderRuns(): JSX.Element {
    const { model } = this;
    const query = model.runQuery;
    const pinned = model.pinned;
    const runs =
      pinned && !model.runs.some(r => r.id === pinned.id)
        ? [pinned, ...model.runs]
        : model.runs;
    const pages = Math.max(1, Math.ceil(model.totalRuns / query.limit));
    const page = Math.floor(query.offset / query.limit) + 1;
    return (
      <div className="jp-FlowPage-runs">
        <div className="jp-FlowPage-runsBar">
          <HTMLSelect
            aria-label="Filter runs by state"
            value={query.states[0] ?? ''}
            onChange={event =>
              void model.setRunQuery({
                states: event.target.value ? [event.target.value as never] : [],
                offset: 0
              })
            }
            options={[
              { value: '', label: 'Any state' },
              ...STATE_TYPES.map(type => ({
                value: type,
                label: typeLabel(type)
              }))
            ]}
          />
          <span className="jp-FlowPage-count" aria-live="polite">
            {model.totalRuns} {model.totalRuns === 1 ? 'run' : 'runs'} · page{' '}
            {page} of {pages}
          </span>
          <Button
            minimal
            small
            disabled={page <= 1}
            onClick={() =>
              void model.setRunQuery({
                offset: Math.max(0, query.offset - query.limit)
              })
            }
            aria-label="Newer runs"
          >
            ‹ Newer
          </Button>
          <Button
            minimal
            small
            disabled={page >= pages}
            onClick={() =>
              void model.setRunQuery({ offset: query.offset + query.limit })
            }
            aria-label="Older runs"
          >
            Older ›
          </Button>
        </div>
        {runs.length === 0 ? (
          <Placeholder kind="empty" title="No runs yet">
            Press <strong>Run</strong> to start one.
          </Placeholder>
        ) : (
          <table
            className="jp-FlowsTable jp-FlowPage-history"
            aria-label="Run history"
          >
            <thead>
              <tr>
                <SortHeader
                  column="state"
                  label="State"
                  sort={query.sort}
                  onSort={column => this._sortRuns(column)}
                />
                <th scope="col">Run</th>
                <SortHeader
                  column="start"
                  label="Start"
                  sort={query.sort}
                  onSort={column => this._sortRuns(column)}
                />
                <SortHeader
                  column="duration"
                  label="Duration"
                  sort={query.sort}
                  onSort={column => this._sortRuns(column)}
                />
                <th scope="col">Parameters</th>
                <th scope="col">Trigger</th>
              </tr>
            </thead>
            <tbody>
              {runs.map(run => (
                <RunRow
                  key={run.id}
                  run={run}
                  highlight={run.id === this._highlight}
                  onOpen={() => this._openRun(run.id)}
                />
              ))}
            </tbody>
          </table>
        )}
      </div>
    );
  }

  /** Sort the history on the server (every page), from its first page. */
  private _sortRuns(column: SortColumn): void {
    void this.model.setRunQuery({
      sort: nextSort(this.model.runQuery.sort, column),
      offset: 0
    });
  }

  // ------------------------------------------------------------------ deployments

  private _renderDeployments(): JSX.Element {
    const deployments = this.model.deployments;
    if (deployments.length === 0) {
      return (
        <Placeholder kind="empty" title="No deployments">
          Register the notebook again to make its default deployment.
        </Placeholder>
      );
    }
    return (
      <ul className="jp-FlowPage-deployments">
        {deployments.map(deployment => (
          <li
            key={deployment.id}
            className="jp-FlowPage-deployment"
            data-deployment={deployment.name}
          >
            <div className="jp-FlowPage-deploymentLine">
              <strong>{deployment.name}</strong>
              {deployment.paused && (
                <span className="jp-FlowsBadge jp-mod-muted">Paused</span>
              )}
              <span className="jp-FlowPage-meta">
                queue {deployment.work_queue ?? '—'}
              </span>
              <span className="jp-FlowPage-meta">
                {previewSchedule(draftOf(deployment.schedule)).description}
              </span>
              <span className="jp-FlowPage-spacer" />
              <Button
                minimal
                small
                onClick={() => this._openForm(deployment.id)}
              >
                Run…
              </Button>
              <Button
                minimal
                small
                onClick={() => this._editSchedule(deployment)}
                aria-expanded={this._editing === deployment.id}
              >
                Edit schedule
              </Button>
              <Button
                minimal
                small
                onClick={() => void this._togglePaused(deployment)}
                aria-label={
                  deployment.paused
                    ? `Resume ${deployment.name}`
                    : `Pause ${deployment.name}`
                }
              >
                {deployment.paused ? (
                  <runIcon.react tag="span" elementSize="small" />
                ) : (
                  <pauseIcon.react tag="span" elementSize="small" />
                )}
                {deployment.paused ? ' Resume' : ' Pause'}
              </Button>
            </div>
            {this._editing === deployment.id && this._scheduleDraft && (
              <div className="jp-FlowPage-scheduleEdit">
                <ScheduleEditor
                  idPrefix={`jp-flows-deployment-${deployment.id}`}
                  draft={this._scheduleDraft}
                  onChange={draft => {
                    this._scheduleDraft = draft;
                    this.update();
                  }}
                />
                {this._scheduleError && (
                  <p className="jp-FlowsField-error" role="alert">
                    {this._scheduleError}
                  </p>
                )}
                <div className="jp-FlowsRunForm-actions">
                  <button
                    className="jp-mod-styled jp-mod-reject"
                    onClick={() => this._editSchedule(null)}
                  >
                    Cancel
                  </button>
                  <button
                    className="jp-mod-styled jp-mod-accept"
                    disabled={!!previewSchedule(this._scheduleDraft).error}
                    onClick={() => void this._saveSchedule(deployment)}
                  >
                    Save schedule
                  </button>
                </div>
              </div>
            )}
          </li>
        ))}
      </ul>
    );
  }

  private _editSchedule(deployment: Deployment | null): void {
    this._editing = deployment?.id ?? null;
    this._scheduleDraft = deployment ? draftOf(deployment.schedule) : null;
    this._scheduleError = null;
    this.update();
  }

  private async _saveSchedule(deployment: Deployment): Promise<void> {
    if (!this._scheduleDraft) {
      return;
    }
    try {
      const updated = await this.options.client.updateDeployment(
        deployment.id,
        {
          schedule: previewSchedule(this._scheduleDraft).schedule
        }
      );
      this.model.putDeployment(updated);
      this._editSchedule(null);
    } catch (reason) {
      this._scheduleError = describeError(reason);
      this.update();
    }
  }

  private async _togglePaused(deployment: Deployment): Promise<void> {
    try {
      const updated = deployment.paused
        ? await this.options.client.resumeDeployment(deployment.id)
        : await this.options.client.pauseDeployment(deployment.id);
      this.model.putDeployment(updated);
    } catch (reason) {
      Notification.error(describeError(reason), { autoClose: 6000 });
    }
  }

  // ------------------------------------------------------------------ source

  private async _openSource(version: FlowVersion): Promise<void> {
    const path = sourcePath(version.entrypoint ?? '');
    try {
      await openVersionSource(
        this.options.client,
        this.options.commands,
        version
      );
    } catch (reason) {
      Notification.error(`Cannot open ${path}: ${describeError(reason)}`, {
        autoClose: 6000
      });
    }
  }

  /** Open a run's view (beside the notebook it came from, when that is open). */
  private _openRun(runId: string, beside = false): void {
    const besideId = beside ? this.parent?.id : undefined;
    void this.options.commands
      .execute(CommandIDs.openRun, { runId, ...(besideId ? { besideId } : {}) })
      .catch(() => undefined);
  }

  private _tab: Tab = 'runs';
  private _title = '';
  private _highlight: string | null = null;
  private _formOpen = false;
  private _busy = false;
  private _fields: IField[] = [];
  private _values: Record<string, string> = {};
  private _errors: Record<string, string> = {};
  private _formError: string | null = null;
  private _deploymentId: string | null = null;
  private _editing: string | null = null;
  private _scheduleDraft: IScheduleDraft | null = null;
  private _scheduleError: string | null = null;
  private _titleChanged = new Signal<this, string>(this);
}

/** `path#sha256=…` (a notebook version) or `path.py:function` → the path. */
export function sourcePath(entrypoint: string): string {
  return entrypoint.replace(/#sha256=.*$/, '').replace(/:[A-Za-z_][\w.]*$/, '');
}

function RunRow(props: {
  run: FlowRun;
  highlight: boolean;
  onOpen: () => void;
}): JSX.Element {
  const { run, highlight } = props;
  const params = JSON.stringify(run.parameters);
  return (
    <tr
      className={highlight ? 'jp-mod-highlight' : undefined}
      data-run-id={run.id}
      data-run-name={run.name}
    >
      <td>
        <StateBadge state={run.state} />
      </td>
      <td>
        <button
          type="button"
          className="jp-FlowPage-runLink"
          title={`Open the view of ${run.name}`}
          onClick={props.onOpen}
        >
          {run.name}
        </button>
      </td>
      <td title={localTime(run.start_time ?? run.expected_start_time)}>
        {localTime(run.start_time ?? run.expected_start_time)}
      </td>
      <td>{formatDuration(runDuration(run))}</td>
      <td className="jp-FlowPage-params" title={params}>
        <code>{params === '{}' ? '—' : params}</code>
      </td>
      <td>{triggerOf(run)}</td>
    </tr>
  );
}

function Versions(props: {
  versions: ReadonlyArray<FlowVersion>;
}): JSX.Element {
  return (
    <ol className="jp-FlowPage-versions" aria-label="Versions, newest first">
      {props.versions.map(version => (
        <li key={version.id} data-version={version.version_number}>
          <div className="jp-FlowPage-deploymentLine">
            <strong>Version {version.version_number}</strong>
            <span className="jp-FlowPage-meta">
              {localTime(version.created)}
            </span>
            <span className="jp-FlowPage-meta">
              {version.content.tasks.length} tasks
            </span>
          </div>
          <p className="jp-FlowPage-changes">
            {describeChanges(version.changes)}
          </p>
        </li>
      ))}
    </ol>
  );
}

interface IChanges {
  tasks?: {
    added: string[];
    removed: string[];
    changed: { key: string; fields: string[] }[];
  };
  edges?: { added: unknown[]; removed: unknown[] };
  parameters?: { added?: string[]; removed?: string[]; changed?: string[] };
  task_runner_changed?: boolean;
  run_config_changed?: boolean;
  resource_spec?: unknown;
}

/** What changed from the previous version, in words. */
export function describeChanges(changes: unknown): string {
  if (!changes) {
    return 'First version.';
  }
  const c = changes as IChanges;
  const parts: string[] = [];
  const list = (label: string, names: string[] | undefined) => {
    if (names?.length) {
      parts.push(`${label} ${names.join(', ')}`);
    }
  };
  list('tasks added:', c.tasks?.added);
  list('tasks removed:', c.tasks?.removed);
  const code = c.tasks?.changed
    .filter(t => t.fields.includes('code_hash'))
    .map(t => t.key);
  list('code changed in', code);
  const settings = c.tasks?.changed
    .filter(t => !t.fields.includes('code_hash'))
    .map(t => t.key);
  list('settings changed in', settings);
  if (c.edges && (c.edges.added.length || c.edges.removed.length)) {
    parts.push(
      `structure: ${c.edges.added.length} edges added, ${c.edges.removed.length} removed`
    );
  }
  list('parameters added:', c.parameters?.added);
  list('parameters removed:', c.parameters?.removed);
  list('parameters changed:', c.parameters?.changed);
  if (c.task_runner_changed) {
    parts.push('engine or task runner changed');
  }
  if (c.run_config_changed) {
    parts.push('run configuration changed');
  }
  if (c.resource_spec) {
    parts.push('resource spec changed');
  }
  return parts.length ? `${parts.join('; ')}.` : 'No change in content.';
}
