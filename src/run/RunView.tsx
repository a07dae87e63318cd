/**
 * A flow run's view (a main-area tab, opened beside the notebook it came from): the
 * header, the schematic with the selected task's panel, and the logs and timeline below.
 * Repair (rerun from the failed cell, rerun all) opens the parameter form pre-filled from
 * this run; the new run opens in its own view.
 */
import { Notification } from '@jupyterlab/apputils';
import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import { ISignal, Signal } from '@lumino/signaling';
import React from 'react';

import type { FlowRunGraph, FlowsClient, IJSONSchema } from '../api';
import { Placeholder } from '../components/Placeholder';
import { describeError, parameterErrors } from '../errors';
import { EventStream } from '../events';
import { IField, fieldsOf, initialValues, readForm } from '../flow/paramform';
import { RunForm } from '../flow/RunForm';
import { LogView } from './logs/LogView';
import { RunModel } from './model';
import { RunHeader } from './RunHeader';
import { NodePanel } from './schematic/NodePanel';
import { Schematic } from './schematic/Schematic';
import { Timeline } from './timeline/Timeline';

export interface IRunViewActions {
  openRun: (runId: string) => void;
  openFlow: (flowId: string, runId: string) => void;
  /** Open the notebook, scroll to and select the first of these cells. */
  goToCell: (path: string, cellIds: string[]) => void;
  openNotebook: (path: string) => void;
  /** Open what a run made (the executed notebook) in JupyterLab. */
  openArtifact: (artifactId: string) => void;
}

export interface IRunViewOptions {
  client: FlowsClient;
  stream: EventStream;
  runId: string;
  actions: IRunViewActions;
}

type Tab = 'logs' | 'timeline';

interface IRepair {
  fromFailed: boolean;
  fields: IField[];
  values: Record<string, string>;
  errors: Record<string, string>;
  formError: string | null;
  busy: boolean;
}

export class RunView extends ReactWidget {
  constructor(private readonly options: IRunViewOptions) {
    super();
    this.addClass('jp-RunView');
    this.runId = options.runId;
    this.model = new RunModel({
      client: options.client,
      stream: options.stream,
      runId: options.runId
    });
    this.model.changed.connect(this._onChanged, this);
    void this.model.start();
  }

  readonly runId: string;
  readonly model: RunModel;

  get titleChanged(): ISignal<this, string> {
    return this._titleChanged;
  }

  setClient(client: FlowsClient): void {
    this.model.client = client;
    void this.model.refresh();
  }

  dispose(): void {
    this.model.dispose();
    super.dispose();
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>{() => this._render()}</UseSignal>
    );
  }

  private _onChanged(): void {
    const run = this.model.run;
    if (run) {
      const title = `${run.flow_name ?? 'flow'} / ${run.name}`;
      if (title !== this._title) {
        this._title = title;
        this._titleChanged.emit(title);
      }
    }
  }

  private _render(): JSX.Element {
    const { model } = this;
    const graph = model.graph;
    if (!graph && model.status === 'error') {
      return (
        <Placeholder
          kind="error"
          title="This run could not be loaded"
          onRetry={() => void model.refresh()}
        >
          {model.error}
        </Placeholder>
      );
    }
    if (!graph) {
      // The log does not need the graph: its end shows while the graph loads.
      return (
        <div className="jp-RunView-body" data-run-id={this.runId}>
          <div className="jp-RunView-main">
            <Placeholder kind="loading" title="Loading the run…" />
          </div>
          {this._renderLower(null)}
        </div>
      );
    }
    const { actions } = this.options;
    const path = graph.flow_version?.source_path ?? null;
    const isNotebook = !!path && path.endsWith('.ipynb');
    const selected = model.selected ? model.node(model.selected) : undefined;
    const goToCell = (key: string) => {
      const node = model.node(key);
      if (node && path && isNotebook && node.cell_ids.length) {
        actions.goToCell(path, node.cell_ids);
      }
    };
    return (
      <div className="jp-RunView-body" data-run-id={graph.flow_run.id}>
        <RunHeader
          graph={graph}
          onCancel={() => void this._cancel()}
          onRerun={fromFailed => void this._openRepair(fromFailed)}
          onOpenRun={id => actions.openRun(id)}
          onOpenFlow={() =>
            actions.openFlow(graph.flow_run.flow_id, graph.flow_run.id)
          }
          onOpenNotebook={isNotebook ? () => actions.openNotebook(path!) : null}
        />
        {this._repair ? this._renderRepair() : null}
        <div className="jp-RunView-main">
          <Schematic
            layout={model.layout}
            selected={model.selected}
            onSelect={key => void model.select(key)}
            onActivate={goToCell}
          />
          {selected ? (
            <NodePanel
              node={selected}
              detail={model.detail}
              canGoToCell={isNotebook}
              onGoToCell={() => goToCell(selected.key)}
              onClose={() => void model.select(null)}
              injectedParameters={
                isNotebook ? (graph.flow_run.parameters ?? {}) : null
              }
              onOpenArtifact={actions.openArtifact}
            />
          ) : null}
        </div>
        {this._renderLower(graph)}
      </div>
    );
  }

  /** The logs and the timeline; the timeline waits for the graph, the logs do not. */
  private _renderLower(graph: FlowRunGraph | null): JSX.Element {
    const { model } = this;
    return (
      <div className="jp-RunView-lower">
        <div className="jp-RunView-tabs" role="tablist">
          {(['logs', 'timeline'] as Tab[]).map(tab => (
            <button
              key={tab}
              type="button"
              role="tab"
              aria-selected={this._tab === tab}
              className={`jp-RunView-tab${this._tab === tab ? ' jp-mod-active' : ''}`}
              onClick={() => {
                this._tab = tab;
                this.update();
              }}
            >
              {tab === 'logs' ? 'Logs' : 'Timeline'}
            </button>
          ))}
        </div>
        {this._tab === 'logs' ? (
          <LogView
            model={model}
            downloadUrl={format =>
              model.client.logDownloadUrl(model.runId, format)
            }
          />
        ) : graph ? (
          <Timeline
            run={graph.flow_run}
            nodes={graph.nodes}
            previous={model.previous}
            onSelect={key => void model.select(key)}
          />
        ) : (
          <Placeholder kind="loading" title="Loading the run…" />
        )}
      </div>
    );
  }

  private _renderRepair(): JSX.Element {
    const repair = this._repair!;
    return (
      <section
        className="jp-RunView-repair"
        aria-label={
          repair.fromFailed ? 'Rerun from the failed cell' : 'Rerun all'
        }
      >
        <h3>
          {repair.fromFailed
            ? 'Rerun from the failed cell (the cells before it reuse their results)'
            : 'Rerun all cells'}
        </h3>
        <RunForm
          fields={repair.fields}
          values={repair.values}
          errors={repair.errors}
          formError={repair.formError}
          deployments={[]}
          deploymentId={this.model.run?.deployment_id ?? null}
          busy={repair.busy}
          onDeployment={() => undefined}
          onChange={(name, text) => {
            repair.values = { ...repair.values, [name]: text };
            this.update();
          }}
          onSubmit={() => void this._submitRepair()}
          onCancel={() => {
            this._repair = null;
            this.update();
          }}
        />
      </section>
    );
  }

  private async _openRepair(fromFailed: boolean): Promise<void> {
    const graph = this.model.graph;
    if (!graph) {
      return;
    }
    let fields: IField[] = [];
    if (graph.flow_version) {
      try {
        const version = await this.model.client.getVersion(
          graph.flow_version.id
        );
        fields = fieldsOf(version.content.parameter_schema as IJSONSchema);
      } catch {
        fields = [];
      }
    }
    this._repair = {
      fromFailed,
      fields,
      values: initialValues(fields, graph.flow_run.parameters),
      errors: {},
      formError: null,
      busy: false
    };
    this.update();
  }

  private async _submitRepair(): Promise<void> {
    const repair = this._repair;
    const run = this.model.run;
    if (!repair || !run) {
      return;
    }
    const { parameters, errors } = readForm(repair.fields, repair.values);
    repair.errors = errors;
    if (Object.keys(errors).length) {
      this.update();
      return;
    }
    repair.busy = true;
    this.update();
    try {
      const next = await this.model.client.rerun(
        run,
        parameters,
        repair.fromFailed
      );
      this._repair = null;
      Notification.success(`Started ${next.name}`, { autoClose: 4000 });
      void this.model.refresh();
      this.options.actions.openRun(next.id);
    } catch (reason) {
      const fields = parameterErrors(reason);
      repair.busy = false;
      if (fields) {
        const { '': general, ...named } = fields;
        repair.errors = named;
        repair.formError = general ?? null;
      } else {
        repair.formError = describeError(reason);
      }
    }
    this.update();
  }

  private async _cancel(): Promise<void> {
    try {
      await this.model.client.cancelFlowRun(this.runId);
      void this.model.refresh();
    } catch (reason) {
      Notification.error(`Cancel failed: ${describeError(reason)}`);
    }
  }

  private _tab: Tab = 'logs';
  private _title = '';
  private _repair: IRepair | null = null;
  private _titleChanged = new Signal<this, string>(this);
}
