/** A deployment's retention of its finished runs, and what pruning now would delete. */
import { HTMLSelect } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import type { Deployment, FlowRun, FlowsClient } from '../../api';
import { StateBadge } from '../../components/StateBadge';
import { describeError } from '../../errors';
import { localTime } from '../../states';
import * as ops from './api';
import {
  IRetentionDraft,
  describeRetention,
  refusalErrors,
  retentionBody,
  retentionDraft
} from './forms';
import {
  Field,
  FormError,
  LoadState,
  Section,
  SubTitle,
  useLoad,
  NumberField,
  OpsForm
} from './shared';

/** How many of the runs a prune would delete are shown by name. */
const SHOWN = 10;

interface IPrunePreview {
  result: ops.PruneResult;
  runs: FlowRun[];
}

export function RetentionSection(props: {
  client: FlowsClient;
  deployment: Deployment;
  onSaved: (deployment: Deployment) => void;
}): JSX.Element {
  const { client, deployment } = props;
  const fallback = useLoad(() => ops.retentionDefault(client), [client]);
  const [draft, setDraft] = useState<IRetentionDraft>(() =>
    retentionDraft(deployment.retention)
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [saved, setSaved] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [preview, setPreview] = useState<IPrunePreview | null>(null);
  const [previewError, setPreviewError] = useState<string | null>(null);
  const [previewing, setPreviewing] = useState(false);
  const idp = 'jp-flows-retention';

  useEffect(() => {
    setDraft(retentionDraft(deployment.retention));
    setPreview(null);
    setSaved(null);
  }, [deployment.id]);

  const server = fallback.value;
  const own = deployment.retention;
  const follows = retentionDraft(own).useDefault;

  const save = async () => {
    const checked = retentionBody(draft);
    if (checked.errors) {
      setErrors(checked.errors);
      return;
    }
    setBusy(true);
    setSaved(null);
    try {
      const updated = await client.updateDeployment(deployment.id, {
        retention: checked.body
      });
      setErrors({});
      setDraft(retentionDraft(updated.retention));
      setSaved('Saved.');
      setPreview(null);
      props.onSaved(updated);
    } catch (reason) {
      setErrors(
        refusalErrors(reason, {
          keepRuns: ['retention.keep_runs'],
          keepDays: ['retention.keep_days'],
          keepLastFailure: ['retention.keep_last_failure']
        })
      );
    } finally {
      setBusy(false);
    }
  };

  const previewPrune = async () => {
    setPreviewing(true);
    setPreviewError(null);
    try {
      const result = await ops.previewPrune(client, deployment.id);
      const ids = (result.run_ids ?? []).slice(0, SHOWN);
      const runs = await Promise.all(
        ids.map(runId => client.getFlowRun(runId).catch(() => null))
      );
      setPreview({ result, runs: runs.filter((r): r is FlowRun => !!r) });
    } catch (reason) {
      setPreviewError(describeError(reason));
    } finally {
      setPreviewing(false);
    }
  };

  const placeholder = (value: unknown, unit: string) =>
    value === null || value === undefined
      ? 'default: no limit'
      : `default: ${value} ${unit}`;

  return (
    <Section
      id="jp-flows-ops-retention"
      title="Retention"
      summary="How many finished runs of this deployment the server keeps; older ones go with their task runs, logs and artifacts. A run is kept if any rule keeps it."
    >
      <LoadState loaded={fallback} what="The server's default" />
      <p className="jp-FlowsOps-current" data-testid="retention-current">
        {follows ? (
          <>
            Follows the server's default
            {server ? `: ${describeRetention(server)}.` : '.'}
          </>
        ) : (
          <>
            Its own: {describeRetention(own)}
            {server
              ? ` (the server's default ${describeRetention(server)}).`
              : '.'}
          </>
        )}
      </p>
      <OpsForm
        label="Retention of this deployment"
        onSubmit={() => void save()}
      >
        <label className="jp-FlowsOps-check">
          <input
            type="checkbox"
            className="jp-FlowsCheckbox"
            checked={draft.useDefault}
            onChange={event =>
              setDraft({ ...draft, useDefault: event.target.checked })
            }
          />
          Follow the server's default
        </label>
        <div className="jp-FlowsOps-row">
          <NumberField
            id={`${idp}-runs`}
            label="Keep the last (runs)"
            hint="Blank: the default."
            error={errors.keepRuns}
            min={0}
            step={1}
            disabled={draft.useDefault}
            placeholder={placeholder(server?.keep_runs, 'runs')}
            value={draft.keepRuns}
            onChange={value => setDraft({ ...draft, keepRuns: value })}
          />
          <NumberField
            id={`${idp}-days`}
            label="Keep runs younger than (days)"
            hint="Blank: the default."
            error={errors.keepDays}
            min={0}
            step="any"
            disabled={draft.useDefault}
            placeholder={placeholder(server?.keep_days, 'days')}
            value={draft.keepDays}
            onChange={value => setDraft({ ...draft, keepDays: value })}
          />
          <Field
            id={`${idp}-failure`}
            label="Always keep the last failure"
            error={errors.keepLastFailure}
          >
            {aria => (
              <HTMLSelect
                {...aria}
                disabled={draft.useDefault}
                value={draft.keepLastFailure}
                onChange={event =>
                  setDraft({
                    ...draft,
                    keepLastFailure: event.target
                      .value as IRetentionDraft['keepLastFailure']
                  })
                }
                options={[
                  {
                    value: 'default',
                    label: `default (${
                      server ? (server.keep_last_failure ? 'yes' : 'no') : '…'
                    })`
                  },
                  { value: 'yes', label: 'yes' },
                  { value: 'no', label: 'no' }
                ]}
              />
            )}
          </Field>
        </div>
        <FormError error={errors['']} />
        <div className="jp-FlowsRunForm-actions">
          {saved && (
            <span className="jp-FlowsOps-ok" role="status">
              {saved}
            </span>
          )}
          <button
            type="button"
            className="jp-mod-styled jp-mod-reject"
            disabled={previewing}
            onClick={() => void previewPrune()}
          >
            {previewing ? 'Looking…' : 'Preview prune'}
          </button>
          <button
            type="submit"
            className="jp-mod-styled jp-mod-accept"
            disabled={busy}
          >
            {busy ? 'Saving…' : 'Save retention'}
          </button>
        </div>
      </OpsForm>
      {previewError && (
        <p className="jp-FlowsField-error" role="alert">
          The preview failed: {previewError}
        </p>
      )}
      {preview && (
        <div
          className="jp-FlowsOps-preview"
          aria-label="What a prune would delete now"
          role="region"
          data-testid="prune-preview"
        >
          <SubTitle>
            What pruning now would delete (nothing is deleted)
          </SubTitle>
          <p aria-live="polite">
            {preview.result.runs === 0
              ? 'Nothing: every finished run is kept.'
              : `${preview.result.runs} ${
                  preview.result.runs === 1 ? 'run' : 'runs'
                }, with ${preview.result.task_runs ?? 0} task runs, ${
                  preview.result.log_lines ?? 0
                } log lines, ${preview.result.artifacts ?? 0} artifacts and ${
                  preview.result.blobs
                } stored blobs.`}
          </p>
          {preview.runs.length > 0 && (
            <table
              className="jp-FlowsTable jp-FlowsOps-table"
              aria-label="Runs a prune would delete"
            >
              <thead>
                <tr>
                  <th scope="col">State</th>
                  <th scope="col">Run</th>
                  <th scope="col">Ended</th>
                </tr>
              </thead>
              <tbody>
                {preview.runs.map(run => (
                  <tr key={run.id} data-run-name={run.name}>
                    <td>
                      <StateBadge state={run.state} />
                    </td>
                    <td>{run.name}</td>
                    <td>{localTime(run.end_time)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {preview.result.runs > preview.runs.length && (
            <p className="jp-FlowsOps-muted">
              and {preview.result.runs - preview.runs.length} more.
            </p>
          )}
        </div>
      )}
    </Section>
  );
}
