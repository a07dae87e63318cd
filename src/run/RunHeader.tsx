/**
 * The run view's header: flow, version, run, state with its message, trigger, start,
 * duration, agent, queue, infrastructure and parameters; Cancel while it runs, Repair once it ended, and
 * the links to the run it reruns and the runs that rerun it.
 */
import React from 'react';

import type { FlowRunGraph } from '../api';
import { StateBadge } from '../components/StateBadge';
import { triggerOf } from '../flow/FlowPage';
import {
  formatDuration,
  isActive,
  isFinal,
  localTime,
  runDuration
} from '../states';

export interface IRunHeaderProps {
  graph: FlowRunGraph;
  onCancel: () => void;
  onRerun: (fromFailed: boolean) => void;
  onOpenRun: (runId: string) => void;
  onOpenFlow: () => void;
  onOpenNotebook: (() => void) | null;
}

export function RunHeader(props: IRunHeaderProps): JSX.Element {
  const { graph } = props;
  const run = graph.flow_run;
  const failed = ['FAILED', 'CRASHED', 'TIMED_OUT'].includes(
    run.state?.type ?? ''
  );
  const params = Object.entries(run.parameters ?? {});
  const isNotebook = !!graph.flow_version?.source_path?.endsWith('.ipynb');
  return (
    <header className="jp-RunHeader">
      <div className="jp-RunHeader-title">
        <button
          type="button"
          className="jp-RunHeader-flow"
          title="Open the flow's page"
          onClick={props.onOpenFlow}
        >
          {run.flow_name ?? 'flow'}
        </button>
        {graph.flow_version ? (
          <span className="jp-RunHeader-version">
            v{graph.flow_version.version_number}
          </span>
        ) : null}
        <span className="jp-RunHeader-sep">/</span>
        <h2>{run.name}</h2>
        <StateBadge state={run.state} />
        <span className="jp-RunHeader-spacer" />
        {props.onOpenNotebook ? (
          <button
            type="button"
            className="jp-RunView-button"
            onClick={props.onOpenNotebook}
          >
            Open notebook
          </button>
        ) : null}
        {isActive(run.state) ? (
          <button
            type="button"
            className="jp-RunView-button jp-mod-warn"
            disabled={run.state?.type === 'CANCELLING'}
            onClick={props.onCancel}
          >
            Cancel run
          </button>
        ) : null}
        {isFinal(run.state) && run.deployment_id ? (
          <>
            {failed && isNotebook ? (
              <button
                type="button"
                className="jp-RunView-button jp-mod-accept"
                onClick={() => props.onRerun(true)}
              >
                Rerun from the failed cell…
              </button>
            ) : null}
            <button
              type="button"
              className="jp-RunView-button"
              onClick={() => props.onRerun(false)}
            >
              Rerun all…
            </button>
          </>
        ) : null}
      </div>
      {run.state?.message ? (
        <p
          className={`jp-RunHeader-message${failed ? ' jp-mod-error' : ''}`}
          role={failed ? 'alert' : undefined}
        >
          {run.state.message}
        </p>
      ) : null}
      <dl className="jp-RunHeader-facts">
        <Fact label="Trigger" value={triggerOf(run)} />
        <Fact
          label="Started"
          value={localTime(run.start_time ?? run.expected_start_time)}
        />
        <Fact label="Duration" value={formatDuration(runDuration(run))} />
        <Fact label="Agent" value={graph.agent?.name ?? '—'} />
        <Fact label="Queue" value={run.work_queue ?? '—'} />
        <Fact label="Infrastructure" value={run.infrastructure ?? '—'} />
        <Fact
          label="Engine"
          value={graph.flow_version?.engine ?? 'flow (Python)'}
        />
        <Fact
          label="Tasks"
          value={`${graph.task_runs_total} task run${graph.task_runs_total === 1 ? '' : 's'}`}
        />
        <Fact
          label="Parameters"
          value={
            params.length
              ? params.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')
              : '—'
          }
        />
      </dl>
      {graph.rerun_of || graph.reruns.length ? (
        <p className="jp-RunHeader-links">
          {graph.rerun_of ? (
            <>
              Reruns{' '}
              <button
                type="button"
                className="jp-RunHeader-link"
                onClick={() => props.onOpenRun(graph.rerun_of!)}
              >
                an earlier run
              </button>
              .{' '}
            </>
          ) : null}
          {graph.reruns.length ? (
            <>
              Rerun by{' '}
              {graph.reruns.map((id, i) => (
                <React.Fragment key={id}>
                  {i ? ', ' : ''}
                  <button
                    type="button"
                    className="jp-RunHeader-link"
                    data-run-id={id}
                    onClick={() => props.onOpenRun(id)}
                  >
                    {`rerun ${i + 1}`}
                  </button>
                </React.Fragment>
              ))}
              .
            </>
          ) : null}
        </p>
      ) : null}
    </header>
  );
}

function Fact(props: { label: string; value: string }): JSX.Element {
  return (
    <div className="jp-RunHeader-fact">
      <dt>{props.label}</dt>
      <dd title={props.value}>{props.value}</dd>
    </div>
  );
}
