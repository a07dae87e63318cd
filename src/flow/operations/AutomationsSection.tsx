/** Automations of a deployment: "when this happens to a run, do that", and their firings. */
import { Button, HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import React, { useState } from 'react';

import type { Deployment, FlowsClient } from '../../api';
import { describeError } from '../../errors';
import { localTime } from '../../states';
import * as ops from './api';
import {
  ActionKind,
  IAutomationDraft,
  TRIGGER_STATES,
  TriggerKind,
  automationBody,
  describeAutomation,
  emptyAutomation,
  refusalErrors
} from './forms';
import {
  AddActions,
  CheckboxGroup,
  Field,
  FormError,
  LoadState,
  Section,
  useLoad,
  NumberField,
  OpsForm
} from './shared';

export function AutomationsSection(props: {
  client: FlowsClient;
  deployment: Deployment;
}): JSX.Element {
  const { client, deployment } = props;
  const automations = useLoad(
    () => ops.listAutomations(client, deployment.id),
    [client, deployment.id]
  );
  const destinations = useLoad(() => ops.listDestinations(client), [client]);
  const deployments = useLoad(
    () => client.listDeployments({ limit: 500 }),
    [client]
  );
  const [draft, setDraft] = useState<IAutomationDraft | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const idp = 'jp-flows-automation';
  const names = (destinations.value?.items ?? []).map(d => d.name);
  const others = deployments.value?.items ?? [];
  const deploymentName = (id: string) =>
    others.find(d => d.id === id)?.name ?? id;

  const submit = async () => {
    if (!draft) {
      return;
    }
    const checked = automationBody(draft, deployment.id);
    if (checked.errors) {
      setErrors(checked.errors);
      return;
    }
    setBusy(true);
    try {
      await ops.createAutomation(client, checked.body);
      setDraft(null);
      setErrors({});
      automations.reload();
    } catch (reason) {
      setErrors(
        refusalErrors(reason, {
          name: ['name'],
          states: ['trigger.states'],
          count: ['trigger.count'],
          destinations: ['destinations'],
          target: ['deployment_id'],
          parameters: ['action.parameters']
        })
      );
    } finally {
      setBusy(false);
    }
  };

  const remove = async (name: string) => {
    try {
      await ops.deleteAutomation(client, name);
    } catch (reason) {
      setErrors({ '': describeError(reason) });
    }
    automations.reload();
  };

  const items = automations.value ?? [];
  return (
    <Section
      id="jp-flows-ops-automations"
      title="Automations"
      summary="Rules the server applies to this deployment's runs: when an event happens, notify, pause the deployment, cancel the run or start another deployment."
    >
      <LoadState loaded={automations} what="Automations" />
      {automations.value && items.length === 0 && (
        <p className="jp-FlowsOps-empty">
          No automation for {deployment.name}.
        </p>
      )}
      {items.length > 0 && (
        <ul className="jp-FlowsOps-list" aria-label="Automations">
          {items.map(automation => (
            <li key={automation.name} data-automation={automation.name}>
              <div className="jp-FlowsOps-bar">
                <strong>{automation.name}</strong>
                <span className="jp-FlowsOps-rule">
                  {describeAutomation(
                    automation.trigger,
                    automation.action,
                    deploymentName
                  )}
                </span>
                {!automation.enabled && (
                  <span className="jp-FlowsBadge jp-mod-muted">Disabled</span>
                )}
                <span className="jp-FlowPage-spacer" />
                <span className="jp-FlowPage-meta">
                  last fired {localTime(automation.last_fired_at)}
                </span>
                <Button
                  minimal
                  small
                  aria-expanded={open === automation.name}
                  aria-label={`Firings of ${automation.name}`}
                  onClick={() =>
                    setOpen(open === automation.name ? null : automation.name)
                  }
                >
                  Firings
                </Button>
                <Button
                  minimal
                  small
                  aria-label={`Remove automation ${automation.name}`}
                  onClick={() => void remove(automation.name)}
                >
                  Remove
                </Button>
              </div>
              {open === automation.name && (
                <Firings client={client} automation={automation.name} />
              )}
            </li>
          ))}
        </ul>
      )}
      {!draft && <FormError error={errors['']} />}
      {draft ? (
        <OpsForm
          label="Add an automation"
          onSubmit={() => void submit()}
          onEscape={() => setDraft(null)}
        >
          <Field id={`${idp}-name`} label="Name" error={errors.name}>
            {aria => (
              <InputGroup
                {...aria}
                value={draft.name}
                onChange={event =>
                  setDraft({ ...draft, name: event.target.value })
                }
              />
            )}
          </Field>
          <div className="jp-FlowsOps-row">
            <Field id={`${idp}-trigger`} label="When">
              {aria => (
                <HTMLSelect
                  {...aria}
                  value={draft.trigger}
                  onChange={event =>
                    setDraft({
                      ...draft,
                      trigger: event.target.value as TriggerKind
                    })
                  }
                  options={[
                    { value: 'state', label: 'a run ends in a state' },
                    {
                      value: 'consecutive_failures',
                      label: 'runs fail several times in a row'
                    },
                    { value: 'late', label: 'a run is late' }
                  ]}
                />
              )}
            </Field>
            {draft.trigger === 'consecutive_failures' && (
              <NumberField
                id={`${idp}-count`}
                label="Failures in a row"
                error={errors.count}
                min={1}
                step={1}
                value={draft.count}
                onChange={value => setDraft({ ...draft, count: value })}
              />
            )}
          </div>
          {draft.trigger === 'state' && (
            <CheckboxGroup
              id={`${idp}-states`}
              legend="States"
              options={TRIGGER_STATES.map(s => ({ value: s, label: s }))}
              selected={draft.states}
              error={errors.states}
              onChange={states => setDraft({ ...draft, states })}
            />
          )}
          <div className="jp-FlowsOps-row">
            <Field id={`${idp}-action`} label="Then">
              {aria => (
                <HTMLSelect
                  {...aria}
                  value={draft.action}
                  onChange={event =>
                    setDraft({
                      ...draft,
                      action: event.target.value as ActionKind
                    })
                  }
                  options={[
                    { value: 'notify', label: 'notify destinations' },
                    { value: 'pause', label: 'pause the deployment' },
                    { value: 'cancel', label: 'cancel the run' },
                    {
                      value: 'run_deployment',
                      label: 'start another deployment'
                    }
                  ]}
                />
              )}
            </Field>
            {draft.action === 'run_deployment' && (
              <Field
                id={`${idp}-target`}
                label="Deployment to start"
                error={errors.target}
              >
                {aria => (
                  <HTMLSelect
                    {...aria}
                    value={draft.targetDeploymentId}
                    onChange={event =>
                      setDraft({
                        ...draft,
                        targetDeploymentId: event.target.value
                      })
                    }
                    options={[
                      { value: '', label: '—' },
                      ...others.map(d => ({ value: d.id, label: d.name }))
                    ]}
                  />
                )}
              </Field>
            )}
          </div>
          {draft.action === 'notify' &&
            (names.length === 0 ? (
              <p className="jp-FlowsField-error" role="alert">
                Add a destination under Notifications first.
              </p>
            ) : (
              <CheckboxGroup
                id={`${idp}-destinations`}
                legend="Destinations"
                options={names.map(n => ({ value: n, label: n }))}
                selected={draft.destinations}
                error={errors.destinations}
                onChange={chosen =>
                  setDraft({ ...draft, destinations: chosen })
                }
              />
            ))}
          {draft.action === 'run_deployment' && (
            <Field
              id={`${idp}-parameters`}
              label="Parameters (JSON, over the run's own)"
              error={errors.parameters}
            >
              {aria => (
                <textarea
                  {...aria}
                  className="jp-FlowsInput jp-FlowsRunForm-json"
                  rows={2}
                  spellCheck={false}
                  value={draft.parameters}
                  onChange={event =>
                    setDraft({ ...draft, parameters: event.target.value })
                  }
                />
              )}
            </Field>
          )}
          <AddActions
            error={errors['']}
            busy={busy}
            label="Add automation"
            onCancel={() => setDraft(null)}
          />
        </OpsForm>
      ) : (
        <Button
          small
          minimal={false}
          className="jp-FlowsOps-add"
          onClick={() => {
            setErrors({});
            setDraft(emptyAutomation(deployment.name));
          }}
        >
          Add an automation…
        </Button>
      )}
    </Section>
  );
}

function Firings(props: {
  client: FlowsClient;
  automation: string;
}): JSX.Element {
  const { client, automation } = props;
  const firings = useLoad(
    () => ops.listFirings(client, automation),
    [client, automation]
  );
  const items = firings.value?.items ?? [];
  return (
    <div className="jp-FlowsOps-firings">
      <LoadState loaded={firings} what="Firings" />
      {firings.value && items.length === 0 && (
        <p className="jp-FlowsOps-empty">It has not fired yet.</p>
      )}
      {items.length > 0 && (
        <table
          className="jp-FlowsTable jp-FlowsOps-table"
          aria-label={`Firings of ${automation}`}
        >
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Run</th>
              <th scope="col">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {items.map((firing, i) => (
              <tr key={`${firing.fired_at}-${i}`}>
                <td>{localTime(firing.fired_at)}</td>
                <td>
                  <code>{firing.flow_run_id?.slice(0, 8) ?? '—'}</code>
                </td>
                <td className={firing.ok ? undefined : 'jp-FlowsOps-error'}>
                  {firing.ok ? 'done' : 'failed'}:{' '}
                  {JSON.stringify(firing.result)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
