/**
 * The selected task: its task runs with their states and times, retries, inputs, and the
 * error with its traceback (the task's ERROR lines); "Go to cell" for a notebook flow;
 * the parameters cell as it was injected into a notebook run; a preview of what the task
 * made (its artifacts).
 */
import React from 'react';

import type { FlowRunGraphNode } from '../../api';
import { StateBadge } from '../../components/StateBadge';
import { formatDuration, stateLabel } from '../../states';
import { localClock, localStamp } from '../logs/cursor';
import type { ITaskDetail } from '../model';
import {
  ResultPreview,
  injectedParametersCell,
  previewArtifact
} from './taskResult';

export interface INodePanelProps {
  node: FlowRunGraphNode;
  detail: ITaskDetail | null;
  canGoToCell: boolean;
  onGoToCell: () => void;
  onClose: () => void;
  /** A notebook run's parameters: shown on its parameters cell as they were injected. */
  injectedParameters?: Record<string, unknown> | null;
  onOpenArtifact?: (artifactId: string) => void;
}

export function NodePanel(props: INodePanelProps): JSX.Element {
  const { node, detail } = props;
  const failed = node.task_runs.find(t =>
    ['FAILED', 'CRASHED', 'TIMED_OUT'].includes(t.state?.type ?? '')
  );
  return (
    <aside
      className="jp-RunNodePanel"
      aria-label={`Task ${node.name}`}
      data-key={node.key}
    >
      <header>
        <h3>
          {node.name}
          {node.key !== node.name ? (
            <span className="jp-RunNodePanel-key"> {node.key}</span>
          ) : null}
        </h3>
        <button
          type="button"
          className="jp-RunView-button"
          aria-label="Close the task panel"
          onClick={props.onClose}
        >
          ×
        </button>
      </header>
      {props.canGoToCell && node.cell_ids.length ? (
        <button
          type="button"
          className="jp-RunView-button jp-mod-accept jp-RunNodePanel-goto"
          onClick={props.onGoToCell}
        >
          Go to cell
        </button>
      ) : null}
      {node.task_runs.length === 0 ? (
        <p className="jp-RunNodePanel-note">Not run (yet) in this run.</p>
      ) : null}
      {failed?.state?.message ? (
        <p className="jp-RunNodePanel-error" role="alert">
          {failed.state.message}
        </p>
      ) : null}
      {detail?.errors.length ? (
        <pre className="jp-RunNodePanel-traceback" data-testid="traceback">
          {detail.errors.map(line => line.message).join('\n')}
        </pre>
      ) : null}
      {props.injectedParameters && node.kind === 'parameters' ? (
        <section
          className="jp-RunNodePanel-injected"
          aria-label="Injected parameters"
        >
          <h4>Injected parameters</h4>
          <pre data-testid="injected-parameters">
            {injectedParametersCell(props.injectedParameters)}
          </pre>
        </section>
      ) : null}
      {detail?.artifacts.length ? (
        <section className="jp-RunNodePanel-result" aria-label="Result">
          <h4>Result</h4>
          {detail.artifacts.slice(0, 5).map(artifact => (
            <ResultView
              key={artifact.id}
              preview={previewArtifact(artifact)}
              onOpen={props.onOpenArtifact}
            />
          ))}
        </section>
      ) : null}
      {node.task_runs.slice(0, 20).map(taskRun => {
        const history = detail?.histories.find(
          h => h.taskRun.id === taskRun.id
        );
        return (
          <section key={taskRun.id} className="jp-RunNodePanel-run">
            <div className="jp-RunNodePanel-runhead">
              <StateBadge state={taskRun.state} />
              <span>
                {node.task_runs.length > 1 ? `[${taskRun.dynamic_key}] ` : ''}
                {formatDuration(taskRun.total_run_time)}
              </span>
              {taskRun.run_count > 1 ? (
                <span className="jp-RunNodePanel-retries">
                  {taskRun.run_count} attempts
                </span>
              ) : null}
            </div>
            {Object.keys(taskRun.task_inputs ?? {}).length ? (
              <p className="jp-RunNodePanel-inputs">
                Inputs: {Object.keys(taskRun.task_inputs).join(', ')}
              </p>
            ) : null}
            {history ? (
              <ol className="jp-RunNodePanel-states">
                {history.states.map((state, i) => (
                  <li key={i}>
                    <span>{stateLabel(state)}</span>
                    <time
                      dateTime={state.timestamp}
                      title={localStamp(state.timestamp)}
                    >
                      {localClock(state.timestamp)}
                    </time>
                  </li>
                ))}
              </ol>
            ) : null}
          </section>
        );
      })}
      {node.task_runs.length > 20 ? (
        <p className="jp-RunNodePanel-note">
          and {node.task_runs.length - 20} more runs of this task
        </p>
      ) : null}
      {detail?.loading ? (
        <p className="jp-RunNodePanel-note">Loading…</p>
      ) : null}
      {detail?.error ? (
        <p className="jp-RunNodePanel-error">{detail.error}</p>
      ) : null}
    </aside>
  );
}

function ResultView(props: {
  preview: ResultPreview;
  onOpen?: (artifactId: string) => void;
}): JSX.Element {
  const { preview, onOpen } = props;
  if (preview.kind === 'link') {
    return (
      <p>
        <a href={preview.url} target="_blank" rel="noopener noreferrer">
          {preview.title}
        </a>
      </p>
    );
  }
  if (preview.kind === 'notebook') {
    return onOpen ? (
      <button
        type="button"
        className="jp-RunView-button"
        onClick={() => onOpen(preview.artifactId)}
      >
        Open {preview.title}
      </button>
    ) : (
      <p>{preview.title}</p>
    );
  }
  return (
    <div className="jp-RunNodePanel-table" data-testid="result-table">
      <table className="jp-FlowsTable">
        <caption>{preview.title}</caption>
        {preview.columns.length ? (
          <thead>
            <tr>
              {preview.columns.map(c => (
                <th key={c} scope="col">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
        ) : null}
        <tbody>
          {preview.rows.map((row, i) => (
            <tr key={i}>
              {row.map((cell, j) => (
                <td key={j}>{cell}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      {preview.more > 0 ? (
        <p className="jp-RunNodePanel-note">and {preview.more} more rows</p>
      ) : null}
    </div>
  );
}
