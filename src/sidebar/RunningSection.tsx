import { ReactWidget, UseSignal, stopIcon } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import type { FlowRun } from '../api';
import { StateBadge } from '../components/StateBadge';
import { FlowsModel } from '../models/flows';
import { formatDuration, localTime, runDuration } from '../states';

export interface IRunActions {
  /** Open the page of the run's flow, with the run shown. */
  openRun: (run: FlowRun) => void;
  cancelRun: (run: FlowRun) => void;
}

/** Runs in progress across every flow, each with its tasks done / total. */
export class RunningSection extends ReactWidget {
  constructor(
    private readonly model: FlowsModel,
    private readonly actions: IRunActions
  ) {
    super();
    this.addClass('jp-FlowsRunning');
    this.title.label = 'Running';
    this.title.caption = 'Flow runs in progress';
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <RunningList model={this.model} actions={this.actions} />}
      </UseSignal>
    );
  }
}

function RunningList(props: {
  model: FlowsModel;
  actions: IRunActions;
}): JSX.Element {
  const { model, actions } = props;
  // Elapsed times tick while runs are in progress.
  const [, setNow] = useState(Date.now());
  const ticking = model.running.length > 0;
  useEffect(() => {
    if (!ticking) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [ticking]);
  if (model.status !== 'ready' && model.running.length === 0) {
    return <p className="jp-FlowsRunning-none">—</p>;
  }
  if (model.running.length === 0) {
    return (
      <p className="jp-FlowsRunning-none" data-testid="flows-running-none">
        No runs in progress.
      </p>
    );
  }
  return (
    <ul className="jp-FlowsRunning-list" aria-label="Runs in progress">
      {model.running.map(run => (
        <RunningItem
          key={run.id}
          run={run}
          progress={model.progress(run.id)}
          actions={actions}
        />
      ))}
    </ul>
  );
}

function RunningItem(props: {
  run: FlowRun;
  progress: { done: number; total: number } | null;
  actions: IRunActions;
}): JSX.Element {
  const { run, progress, actions } = props;
  const fraction =
    progress && progress.total > 0 ? progress.done / progress.total : 0;
  const label = `${run.flow_name ?? 'flow'} / ${run.name}`;
  return (
    <li className="jp-FlowsRunning-item" data-run-id={run.id}>
      <button
        className="jp-FlowsRunning-open"
        onClick={() => actions.openRun(run)}
        title={`Open ${label} (started ${localTime(run.start_time)})`}
      >
        <StateBadge state={run.state} />
        <span className="jp-FlowsRunning-name">
          <span className="jp-FlowsRunning-flow">{run.flow_name}</span>
          <span className="jp-FlowsRunning-run">{run.name}</span>
        </span>
        <span className="jp-FlowsRunning-elapsed">
          {formatDuration(runDuration(run))}
        </span>
      </button>
      <div className="jp-FlowsRunning-progressRow">
        <div
          className="jp-FlowsProgress"
          role="progressbar"
          aria-label={`Tasks of ${label}`}
          aria-valuemin={0}
          aria-valuemax={progress?.total ?? 0}
          aria-valuenow={progress?.done ?? 0}
        >
          <div
            className="jp-FlowsProgress-bar"
            style={{ width: `${Math.round(fraction * 100)}%` }}
          />
        </div>
        <span className="jp-FlowsRunning-count" data-testid="run-progress">
          {progress && progress.total > 0
            ? `${progress.done}/${progress.total} tasks`
            : 'starting…'}
        </span>
        <button
          className="jp-FlowsIconButton"
          onClick={() => actions.cancelRun(run)}
          title={`Cancel ${label}`}
          aria-label={`Cancel ${label}`}
          disabled={run.state?.type === 'CANCELLING'}
        >
          <stopIcon.react tag="span" elementSize="small" />
        </button>
      </div>
    </li>
  );
}
