import {
  ReactWidget,
  UseSignal,
  caretDownIcon,
  caretRightIcon,
  pauseIcon,
  runIcon
} from '@jupyterlab/ui-components';
import React from 'react';

import type { Agent, QueuedRun, WorkQueue } from '../api';
import { Placeholder } from '../components/Placeholder';
import { StateBadge } from '../components/StateBadge';
import { AgentsModel } from '../models/agents';
import { localTime, relativeTime } from '../states';

export interface IAgentsActions {
  setPaused: (queue: string, paused: boolean) => void;
}

/** Agents (status, queue, last heartbeat) and work queues (pause, upcoming runs). */
export class AgentsSection extends ReactWidget {
  constructor(
    private readonly model: AgentsModel,
    private readonly actions: IAgentsActions
  ) {
    super();
    this.addClass('jp-FlowsAgents');
    this.title.label = 'Agents and queues';
    this.title.caption =
      'Agents that run flows, and the work queues they serve';
  }

  protected render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => <AgentsView model={this.model} actions={this.actions} />}
      </UseSignal>
    );
  }
}

function AgentsView(props: {
  model: AgentsModel;
  actions: IAgentsActions;
}): JSX.Element {
  const { model, actions } = props;
  if (model.status === 'loading') {
    return <Placeholder kind="loading" title="Loading agents…" />;
  }
  if (model.status === 'error') {
    return (
      <Placeholder
        kind="error"
        title="Agents could not be loaded"
        onRetry={() => void model.refresh()}
      >
        {model.error}
      </Placeholder>
    );
  }
  return (
    <div className="jp-FlowsAgents-body">
      <h3 className="jp-FlowsAgents-heading">Agents</h3>
      {model.agents.length === 0 ? (
        <p className="jp-FlowsAgents-none">
          No agent has connected. Runs wait in their queue until one does: start
          one with <code>jupyter flows agent start</code>, or turn on the local
          agent in Settings › Flows.
        </p>
      ) : (
        <ul className="jp-FlowsAgents-list" aria-label="Agents">
          {model.agents.map(agent => (
            <AgentItem key={agent.id} agent={agent} />
          ))}
        </ul>
      )}
      <h3 className="jp-FlowsAgents-heading">Work queues</h3>
      {model.queues.length === 0 ? (
        <p className="jp-FlowsAgents-none">No work queue yet.</p>
      ) : (
        <ul className="jp-FlowsAgents-list" aria-label="Work queues">
          {model.queues.map(queue => (
            <QueueItem
              key={queue.id}
              queue={queue}
              model={model}
              actions={actions}
            />
          ))}
        </ul>
      )}
    </div>
  );
}

function AgentItem(props: { agent: Agent }): JSX.Element {
  const { agent } = props;
  const infra = agent.infrastructure;
  return (
    <li className="jp-FlowsAgents-agent" data-agent-name={agent.name}>
      <span
        className={`jp-FlowsDot jp-mod-${agent.status === 'online' ? 'success' : 'muted'}`}
        aria-hidden="true"
      />
      <span className="jp-FlowsAgents-name" title={agent.name}>
        {agent.name}
      </span>
      <span className="jp-FlowsAgents-meta">
        <span>{agent.status}</span>
        <span>queue {agent.work_queue ?? '—'}</span>
        {infra && <span>{infra}</span>}
        <span>{agent.running} running</span>
        <span title={`Last heartbeat ${localTime(agent.last_heartbeat_at)}`}>
          seen {relativeTime(agent.last_heartbeat_at)}
        </span>
      </span>
    </li>
  );
}

function QueueItem(props: {
  queue: WorkQueue;
  model: AgentsModel;
  actions: IAgentsActions;
}): JSX.Element {
  const { queue, model, actions } = props;
  const expanded = model.isExpanded(queue.name);
  const preview = model.preview(queue.name);
  const Caret = expanded ? caretDownIcon : caretRightIcon;
  const previewId = `jp-flows-queue-${queue.id}`;
  return (
    <li className="jp-FlowsAgents-queue" data-queue-name={queue.name}>
      <div className="jp-FlowsAgents-queueLine">
        <button
          className="jp-FlowsAgents-expand"
          aria-expanded={expanded}
          aria-controls={previewId}
          onClick={() => void model.setExpanded(queue.name, !expanded)}
          title={expanded ? 'Hide upcoming runs' : 'Show upcoming runs'}
        >
          <Caret.react tag="span" elementSize="small" />
          <span className="jp-FlowsAgents-name">{queue.name}</span>
          {queue.paused && (
            <span className="jp-FlowsBadge jp-mod-muted">Paused</span>
          )}
          {queue.concurrency_limit !== null && (
            <span className="jp-FlowsAgents-meta">
              limit {queue.concurrency_limit}
            </span>
          )}
        </button>
        <button
          className="jp-FlowsIconButton"
          onClick={() => actions.setPaused(queue.name, !queue.paused)}
          title={
            queue.paused
              ? `Resume queue ${queue.name}`
              : `Pause queue ${queue.name}`
          }
          aria-label={
            queue.paused
              ? `Resume queue ${queue.name}`
              : `Pause queue ${queue.name}`
          }
        >
          {queue.paused ? (
            <runIcon.react tag="span" elementSize="small" />
          ) : (
            <pauseIcon.react tag="span" elementSize="small" />
          )}
        </button>
      </div>
      {expanded && (
        <div id={previewId} className="jp-FlowsAgents-preview">
          {preview === null ? (
            <p className="jp-FlowsAgents-none">Loading upcoming runs…</p>
          ) : preview.length === 0 ? (
            <p className="jp-FlowsAgents-none">No run waits in this queue.</p>
          ) : (
            <ul aria-label={`Upcoming runs of ${queue.name}`}>
              {preview.map(run => (
                <QueuedRunItem key={run.id} run={run} />
              ))}
            </ul>
          )}
        </div>
      )}
    </li>
  );
}

function QueuedRunItem(props: { run: QueuedRun }): JSX.Element {
  const { run } = props;
  return (
    <li className="jp-FlowsAgents-run" data-run-id={run.id}>
      <div className="jp-FlowsAgents-runLine">
        <StateBadge state={run.state} />
        <span className="jp-FlowsAgents-runName">
          {run.flow_name} / {run.name}
        </span>
        <span
          className="jp-FlowsAgents-meta"
          title={localTime(run.expected_start_time)}
        >
          {run.due ? 'due' : relativeTime(run.expected_start_time)}
        </span>
      </div>
      {run.pending_reason && (
        <p className="jp-FlowsAgents-reason" data-testid="pending-reason">
          {run.pending_reason}
        </p>
      )}
    </li>
  );
}
