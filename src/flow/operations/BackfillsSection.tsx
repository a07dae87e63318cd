/** Backfills of a deployment: preview the runs a past window (or a list of values) makes,
 * create them with a concurrency cap, follow their progress, cancel them. */
import { Button, HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import type { Deployment, FlowsClient } from '../../api';
import { describeError } from '../../errors';
import { localTime } from '../../states';
import * as ops from './api';
import {
  IBackfillDraft,
  backfillBody,
  emptyBackfill,
  refusalErrors
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

/** How many slots of a preview are listed. */
const SHOWN = 8;
/** How often running backfills are read again. */
const POLL_MS = 3000;

const FINAL = ['COMPLETED', 'FAILED', 'CRASHED', 'CANCELLED', 'TIMED_OUT'];

export function BackfillsSection(props: {
  client: FlowsClient;
  deployment: Deployment;
  parameters: string[];
  onCreated: () => void;
}): JSX.Element {
  const { client, deployment, parameters } = props;
  const backfills = useLoad(
    () => ops.listBackfills(client, deployment.id),
    [client, deployment.id]
  );
  const [draft, setDraft] = useState<IBackfillDraft>(() => emptyBackfill());
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [preview, setPreview] = useState<ops.BackfillPreview | null>(null);
  const [busy, setBusy] = useState<'preview' | 'create' | null>(null);
  const idp = 'jp-flows-backfill';
  const items = backfills.value?.items ?? [];
  const running = items.some(b => b.status === 'running');

  useEffect(() => {
    if (!running) {
      return;
    }
    const timer = setInterval(backfills.reload, POLL_MS);
    return () => clearInterval(timer);
  }, [running, backfills.reload]);

  const change = (patch: Partial<IBackfillDraft>) => {
    setDraft({ ...draft, ...patch });
    setPreview(null);
  };

  const send = async (kind: 'preview' | 'create') => {
    const checked = backfillBody(draft);
    if (checked.errors) {
      setErrors(checked.errors);
      return;
    }
    setBusy(kind);
    try {
      if (kind === 'preview') {
        setPreview(
          await ops.previewBackfill(client, deployment.id, checked.body)
        );
      } else {
        await ops.createBackfill(client, deployment.id, checked.body);
        setPreview(null);
        backfills.reload();
        props.onCreated();
      }
      setErrors({});
    } catch (reason) {
      setErrors(
        refusalErrors(reason, {
          start: ['start', "window's end", 'in the past'],
          end: ['end'],
          parameter: ['parameter', 'slot_parameter'],
          values: ['values'],
          maxConcurrent: ['max_concurrent']
        })
      );
    } finally {
      setBusy(null);
    }
  };

  const cancel = async (backfill: ops.Backfill) => {
    try {
      await ops.cancelBackfill(client, backfill.id);
    } catch (reason) {
      setErrors({ '': describeError(reason) });
    }
    backfills.reload();
    props.onCreated();
  };

  return (
    <Section
      id="jp-flows-ops-backfills"
      title="Backfills"
      summary="The runs the schedule would have made in a past window, or one run per value of a parameter; each slot is made once, however often it is asked for."
    >
      <OpsForm
        label="Backfill this deployment"
        onSubmit={() => void send('preview')}
      >
        <fieldset className="jp-FlowsField jp-FlowsOps-checks">
          <legend>Runs for</legend>
          <div className="jp-FlowsOps-checkList" role="radiogroup">
            <label className="jp-FlowsOps-check">
              <input
                type="radio"
                name={`${idp}-mode`}
                checked={draft.mode === 'window'}
                onChange={() => change({ mode: 'window' })}
              />
              the schedule's slots in a window
            </label>
            <label className="jp-FlowsOps-check">
              <input
                type="radio"
                name={`${idp}-mode`}
                checked={draft.mode === 'values'}
                onChange={() => change({ mode: 'values' })}
              />
              each value of a parameter
            </label>
          </div>
        </fieldset>
        {draft.mode === 'window' ? (
          <div className="jp-FlowsOps-row">
            <Field
              id={`${idp}-start`}
              label="From (your local time)"
              error={errors.start}
            >
              {aria => (
                <InputGroup
                  {...aria}
                  type="datetime-local"
                  value={draft.start}
                  onChange={event => change({ start: event.target.value })}
                />
              )}
            </Field>
            <Field id={`${idp}-end`} label="To (included)" error={errors.end}>
              {aria => (
                <InputGroup
                  {...aria}
                  type="datetime-local"
                  value={draft.end}
                  onChange={event => change({ end: event.target.value })}
                />
              )}
            </Field>
          </div>
        ) : (
          <div className="jp-FlowsOps-row">
            <Field
              id={`${idp}-parameter`}
              label="Parameter"
              error={errors.parameter}
            >
              {aria => (
                <HTMLSelect
                  {...aria}
                  value={draft.parameter}
                  onChange={event => change({ parameter: event.target.value })}
                  options={[
                    { value: '', label: '—' },
                    ...parameters.map(name => ({ value: name, label: name }))
                  ]}
                />
              )}
            </Field>
            <Field
              id={`${idp}-values`}
              label="Values"
              hint="Comma-separated, or a JSON array."
              error={errors.values}
            >
              {aria => (
                <InputGroup
                  {...aria}
                  value={draft.values}
                  placeholder="1, 2, 3"
                  onChange={event => change({ values: event.target.value })}
                />
              )}
            </Field>
          </div>
        )}
        <NumberField
          id={`${idp}-cap`}
          label="At most running at once"
          hint="Blank: all at once."
          error={errors.maxConcurrent}
          min={1}
          step={1}
          value={draft.maxConcurrent}
          onChange={value => change({ maxConcurrent: value })}
        />
        <FormError error={errors['']} />
        <div className="jp-FlowsRunForm-actions">
          <button
            type="submit"
            className="jp-mod-styled jp-mod-reject"
            disabled={busy !== null}
          >
            {busy === 'preview' ? 'Planning…' : 'Preview'}
          </button>
          <button
            type="button"
            className="jp-mod-styled jp-mod-accept"
            disabled={busy !== null}
            onClick={() => void send('create')}
          >
            {busy === 'create' ? 'Creating…' : 'Create backfill'}
          </button>
        </div>
      </OpsForm>
      {preview && <Preview preview={preview} />}
      <SubTitle>Backfills of {deployment.name}</SubTitle>
      <LoadState loaded={backfills} what="Backfills" />
      {backfills.value && items.length === 0 && (
        <p className="jp-FlowsOps-empty">None yet.</p>
      )}
      {items.length > 0 && (
        <ul className="jp-FlowsOps-list" aria-label="Backfills">
          {items.map(backfill => (
            <BackfillRow
              key={backfill.id}
              backfill={backfill}
              onCancel={() => void cancel(backfill)}
            />
          ))}
        </ul>
      )}
    </Section>
  );
}

function Preview(props: { preview: ops.BackfillPreview }): JSX.Element {
  const { preview } = props;
  const shown = preview.items.slice(0, SHOWN);
  return (
    <div
      className="jp-FlowsOps-preview"
      role="region"
      aria-label="Backfill preview"
      data-testid="backfill-preview"
    >
      <p aria-live="polite">
        <strong>
          {preview.total} {preview.total === 1 ? 'slot' : 'slots'}
        </strong>
        , {preview.new} new
        {preview.total > preview.new
          ? ` (${preview.total - preview.new} exist already)`
          : ''}
        .
      </p>
      {shown.length > 0 && (
        <ol className="jp-FlowsOps-slots">
          {shown.map((item, i) => (
            <li key={i} className={item.exists ? 'jp-mod-exists' : undefined}>
              {item.slot
                ? localTime(item.slot)
                : JSON.stringify(item.parameters)}
              {item.exists && (
                <span className="jp-FlowsOps-muted"> — exists</span>
              )}
            </li>
          ))}
        </ol>
      )}
      {preview.total > shown.length && (
        <p className="jp-FlowsOps-muted">
          and {preview.total - shown.length} more.
        </p>
      )}
    </div>
  );
}

function BackfillRow(props: {
  backfill: ops.Backfill;
  onCancel: () => void;
}): JSX.Element {
  const { backfill } = props;
  const states = backfill.states as Record<string, number>;
  const finished = FINAL.reduce((n, s) => n + (states[s] ?? 0), 0);
  const summary = Object.entries(states)
    .map(([state, n]) => `${n} ${state.toLowerCase().replace('_', ' ')}`)
    .join(', ');
  return (
    <li data-backfill={backfill.id} data-status={backfill.status}>
      <div className="jp-FlowsOps-bar">
        <span
          className={`jp-FlowsBadge jp-mod-compact ${
            backfill.status === 'running'
              ? 'jp-mod-running'
              : backfill.status === 'completed'
                ? 'jp-mod-success'
                : 'jp-mod-muted'
          }`}
        >
          {backfill.status}
        </span>
        <span>
          {backfill.start
            ? `${localTime(backfill.start)} → ${localTime(backfill.end)}`
            : 'parameter values'}
        </span>
        <span className="jp-FlowPage-meta">
          cap {backfill.max_concurrent ?? 'none'} · made{' '}
          {localTime(backfill.created)}
        </span>
        <span className="jp-FlowPage-spacer" />
        {backfill.status === 'running' && (
          <Button
            minimal
            small
            aria-label="Cancel this backfill"
            onClick={props.onCancel}
          >
            Cancel
          </Button>
        )}
      </div>
      <div className="jp-FlowsOps-progress">
        <progress
          max={Math.max(1, backfill.total)}
          value={finished}
          aria-label={`${finished} of ${backfill.total} runs finished`}
        />
        <span aria-live="polite">
          {finished} of {backfill.total} finished · {backfill.runs} made
          {summary ? ` (${summary})` : ''}
        </span>
      </div>
    </li>
  );
}
