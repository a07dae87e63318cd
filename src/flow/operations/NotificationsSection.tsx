/** Notifications of a deployment: its policies, the named destinations, the delivery log. */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Button, InputGroup } from '@jupyterlab/ui-components';
import React, { useState } from 'react';

import type { Deployment, FlowsClient, IPage } from '../../api';
import { describeError } from '../../errors';
import { localTime } from '../../states';
import * as ops from './api';
import {
  IDestinationDraft,
  IPolicyDraft,
  destinationBody,
  emptyPolicy,
  formatSeconds,
  policyBody,
  refusalErrors
} from './forms';
import {
  AddActions,
  CheckboxGroup,
  Field,
  FormError,
  ILoaded,
  LoadState,
  Section,
  SubTitle,
  useLoad,
  NumberField,
  OpsForm
} from './shared';

const PAGE = 10;

/** What became of the message a failed try was for. */
const DELIVERY_STATUS: Record<string, string> = {
  pending: 'will retry',
  sending: 'sending again',
  failed: 'given up',
  suppressed: 'held back by the cool-down'
};

export function NotificationsSection(props: {
  client: FlowsClient;
  deployment: Deployment;
}): JSX.Element {
  const { client, deployment } = props;
  const destinations = useLoad(() => ops.listDestinations(client), [client]);
  const names = (destinations.value?.items ?? []).map(d => d.name);
  return (
    <Section
      id="jp-flows-ops-notifications"
      title="Notifications"
      summary="Who hears about this deployment's runs, and through which destination. A destination's URL is stored as a credential and never shown again."
    >
      <Policies client={client} deployment={deployment} destinations={names} />
      <Destinations
        client={client}
        loaded={destinations}
        onChanged={destinations.reload}
      />
      <Deliveries client={client} deployment={deployment} />
    </Section>
  );
}

function Policies(props: {
  client: FlowsClient;
  deployment: Deployment;
  destinations: string[];
}): JSX.Element {
  const { client, deployment, destinations } = props;
  const policies = useLoad(
    () => ops.listPolicies(client, deployment),
    [client, deployment.id]
  );
  const [draft, setDraft] = useState<IPolicyDraft | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const idp = 'jp-flows-policy';

  const submit = async () => {
    if (!draft) {
      return;
    }
    const checked = policyBody(draft, deployment.id);
    if (checked.errors) {
      setErrors(checked.errors);
      return;
    }
    setBusy(true);
    try {
      await ops.createPolicy(client, checked.body);
      setDraft(null);
      setErrors({});
      policies.reload();
    } catch (reason) {
      setErrors(
        refusalErrors(reason, {
          name: ['name'],
          events: ['events'],
          destinations: ['destinations', 'destination'],
          cooldown: ['cooldown_seconds'],
          runningAfter: ['running_after_seconds']
        })
      );
    } finally {
      setBusy(false);
    }
  };

  const remove = async (name: string) => {
    try {
      await ops.deletePolicy(client, name);
    } catch (reason) {
      setErrors({ '': describeError(reason) });
    }
    policies.reload();
  };

  const items = policies.value ?? [];
  return (
    <div className="jp-FlowsOps-part">
      <SubTitle>Policies</SubTitle>
      <LoadState loaded={policies} what="Policies" />
      {policies.value && items.length === 0 && (
        <p className="jp-FlowsOps-empty">
          No policy: nobody is told when a run of {deployment.name} fails.
        </p>
      )}
      {items.length > 0 && (
        <table
          className="jp-FlowsTable jp-FlowsOps-table"
          aria-label="Notification policies"
        >
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col">Events</th>
              <th scope="col">Destinations</th>
              <th scope="col">Cool-down</th>
              <th scope="col">Still running after</th>
              <th scope="col">
                <span className="jp-FlowsOps-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map(policy => (
              <tr key={policy.name} data-policy={policy.name}>
                <td>
                  {policy.name}
                  {!policy.deployment_id && (
                    <span
                      className="jp-FlowsBadge jp-mod-compact jp-mod-muted jp-FlowsOps-scope"
                      title="A policy of the whole flow: it applies to every deployment of it"
                    >
                      whole flow
                    </span>
                  )}
                </td>
                <td>{policy.events.join(', ')}</td>
                <td>{policy.destinations.join(', ')}</td>
                <td>{formatSeconds(policy.cooldown_seconds)}</td>
                <td>{formatSeconds(policy.running_after_seconds)}</td>
                <td className="jp-FlowsOps-actions">
                  <Button
                    minimal
                    small
                    aria-label={`Remove policy ${policy.name}`}
                    onClick={() => void remove(policy.name)}
                  >
                    Remove
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {!draft && <FormError error={errors['']} />}
      {draft ? (
        <OpsForm
          label="Add a notification policy"
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
          <CheckboxGroup
            id={`${idp}-events`}
            legend="Events"
            options={ops.NOTIFY_EVENTS.map(e => ({
              value: e,
              label: e === 'Running' ? 'Still running' : e
            }))}
            selected={draft.events}
            error={errors.events}
            onChange={events => setDraft({ ...draft, events })}
          />
          {destinations.length === 0 ? (
            <p
              className="jp-FlowsField-error"
              role="alert"
              id={`${idp}-destinations`}
            >
              Add a destination below first: a policy sends to named
              destinations.
            </p>
          ) : (
            <CheckboxGroup
              id={`${idp}-destinations`}
              legend="Destinations"
              options={destinations.map(name => ({ value: name, label: name }))}
              selected={draft.destinations}
              error={errors.destinations}
              onChange={chosen => setDraft({ ...draft, destinations: chosen })}
            />
          )}
          <div className="jp-FlowsOps-row">
            <NumberField
              id={`${idp}-cooldown`}
              label="Cool-down (minutes)"
              hint="At most one message per this many minutes."
              error={errors.cooldown}
              min={0}
              step="any"
              placeholder="none"
              value={draft.cooldownMinutes}
              onChange={value => setDraft({ ...draft, cooldownMinutes: value })}
            />
            <NumberField
              id={`${idp}-running`}
              label="Still running after (minutes)"
              hint="Used by the Still running event."
              error={errors.runningAfter}
              min={0}
              step="any"
              disabled={!draft.events.includes('Running')}
              value={draft.runningAfterMinutes}
              onChange={value =>
                setDraft({ ...draft, runningAfterMinutes: value })
              }
            />
          </div>
          <AddActions
            error={errors['']}
            busy={busy}
            disabled={destinations.length === 0}
            label="Add policy"
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
            setDraft(emptyPolicy(deployment.name));
          }}
        >
          Add a policy…
        </Button>
      )}
    </div>
  );
}

function Destinations(props: {
  client: FlowsClient;
  loaded: ILoaded<IPage<ops.NotificationDestination>>;
  onChanged: () => void;
}): JSX.Element {
  const { client, loaded } = props;
  const [draft, setDraft] = useState<IDestinationDraft | null>(null);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [tests, setTests] = useState<
    Record<string, { ok: boolean; text: string } | 'sending'>
  >({});
  const idp = 'jp-flows-destination';

  const submit = async () => {
    if (!draft) {
      return;
    }
    const checked = destinationBody(draft);
    if (checked.errors) {
      setErrors(checked.errors);
      return;
    }
    setBusy(true);
    try {
      await ops.createDestination(client, checked.body);
      setDraft(null);
      setErrors({});
      props.onChanged();
    } catch (reason) {
      setErrors(refusalErrors(reason, { name: ['name'], url: ['url'] }));
    } finally {
      setBusy(false);
    }
  };

  const test = async (name: string) => {
    setTests(t => ({ ...t, [name]: 'sending' }));
    try {
      const result = await ops.testDestination(client, name);
      setTests(t => ({
        ...t,
        [name]: result.ok
          ? { ok: true, text: 'Test sent.' }
          : {
              ok: false,
              text: `Test failed: ${result.error ?? 'no reason given'}`
            }
      }));
    } catch (reason) {
      setTests(t => ({
        ...t,
        [name]: { ok: false, text: `Test failed: ${describeError(reason)}` }
      }));
    }
    props.onChanged();
  };

  const remove = async (name: string) => {
    // Its URL is a credential nobody can read back: removing it cannot be undone.
    const answer = await showDialog({
      title: `Remove the destination ${name}?`,
      body: 'Its URL, stored as a credential, and its delivery history go with it; policies naming it send nothing there any more.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Remove' })]
    });
    if (!answer.button.accept) {
      return;
    }
    try {
      await ops.deleteDestination(client, name);
    } catch (reason) {
      setErrors({ '': describeError(reason) });
    }
    props.onChanged();
  };

  const items = loaded.value?.items ?? [];
  return (
    <div className="jp-FlowsOps-part">
      <SubTitle>Destinations</SubTitle>
      <LoadState loaded={loaded} what="Destinations" />
      {loaded.value && items.length === 0 && (
        <p className="jp-FlowsOps-empty">
          No destination yet. Add one: email, Slack, Teams, a webhook… any URL
          apprise knows.
        </p>
      )}
      {items.length > 0 && (
        <table
          className="jp-FlowsTable jp-FlowsOps-table"
          aria-label="Notification destinations"
        >
          <thead>
            <tr>
              <th scope="col">Destination</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">Last test or error</th>
              <th scope="col">
                <span className="jp-FlowsOps-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map(dest => {
              const result = tests[dest.name];
              return (
                <tr key={dest.name} data-destination={dest.name}>
                  <td>{dest.name}</td>
                  <td>
                    <code>{dest.scheme}://</code>
                  </td>
                  <td>
                    <span
                      className={`jp-FlowsBadge jp-mod-compact ${
                        dest.status === 'dead'
                          ? 'jp-mod-error'
                          : 'jp-mod-success'
                      }`}
                      title={
                        dest.status === 'dead'
                          ? `Marked dead ${localTime(dest.dead_since)} after ${dest.consecutive_failures} failures; a test that goes through revives it`
                          : 'In use: deliveries are sent to it (it is marked dead after repeated failures)'
                      }
                    >
                      {dest.status === 'dead' ? 'Dead' : 'In use'}
                    </span>
                  </td>
                  <td
                    className="jp-FlowsOps-result"
                    aria-live="polite"
                    data-testid={`test-result-${dest.name}`}
                  >
                    {result === 'sending' ? (
                      <span role="status">Sending a test…</span>
                    ) : result ? (
                      <span
                        className={result.ok ? 'jp-mod-ok' : 'jp-mod-failed'}
                        role={result.ok ? 'status' : 'alert'}
                      >
                        {result.text}
                      </span>
                    ) : (
                      <span className="jp-FlowsOps-muted">
                        {dest.last_error ?? '—'}
                      </span>
                    )}
                  </td>
                  <td className="jp-FlowsOps-actions">
                    <Button
                      minimal
                      small
                      aria-label={`Send a test to ${dest.name}`}
                      disabled={result === 'sending'}
                      onClick={() => void test(dest.name)}
                    >
                      Send a test
                    </Button>
                    <Button
                      minimal
                      small
                      aria-label={`Remove destination ${dest.name}`}
                      onClick={() => void remove(dest.name)}
                    >
                      Remove
                    </Button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {!draft && <FormError error={errors['']} />}
      {draft ? (
        <OpsForm
          label="Add a notification destination"
          onSubmit={() => void submit()}
          onEscape={() => setDraft(null)}
          autoComplete="off"
        >
          <div className="jp-FlowsOps-row">
            <Field
              id={`${idp}-name`}
              label="Name"
              hint="e.g. ops-mail"
              error={errors.name}
            >
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
            <Field
              id={`${idp}-url`}
              label="Apprise URL"
              hint="mailto://…, slack://…, json://host/path; stored encrypted, never shown again."
              error={errors.url}
            >
              {aria => (
                <InputGroup
                  {...aria}
                  type="password"
                  autoComplete="new-password"
                  value={draft.url}
                  onChange={event =>
                    setDraft({ ...draft, url: event.target.value })
                  }
                />
              )}
            </Field>
          </div>
          <AddActions
            error={errors['']}
            busy={busy}
            label="Add destination"
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
            setDraft({ name: '', url: '' });
          }}
        >
          Add a destination…
        </Button>
      )}
    </div>
  );
}

function Deliveries(props: {
  client: FlowsClient;
  deployment: Deployment;
}): JSX.Element {
  const { client, deployment } = props;
  const [offset, setOffset] = useState(0);
  const attempts = useLoad(
    () => ops.listAttempts(client, deployment.id, PAGE, offset),
    [client, deployment.id, offset]
  );
  const page = attempts.value;
  const total = page?.total ?? 0;
  return (
    <div className="jp-FlowsOps-part">
      <div className="jp-FlowsOps-bar">
        <SubTitle>Delivery history</SubTitle>
        <span className="jp-FlowPage-spacer" />
        <span className="jp-FlowPage-count" aria-live="polite">
          {total
            ? `${offset + 1}–${Math.min(offset + PAGE, total)} of ${total}`
            : ''}
        </span>
        <Button
          minimal
          small
          disabled={offset === 0}
          aria-label="Newer deliveries"
          onClick={() => setOffset(Math.max(0, offset - PAGE))}
        >
          ‹ Newer
        </Button>
        <Button
          minimal
          small
          disabled={offset + PAGE >= total}
          aria-label="Older deliveries"
          onClick={() => setOffset(offset + PAGE)}
        >
          Older ›
        </Button>
        <Button
          minimal
          small
          aria-label="Refresh the delivery history"
          onClick={attempts.reload}
        >
          Refresh
        </Button>
      </div>
      <LoadState loaded={attempts} what="Delivery history" />
      {page && page.items.length === 0 && (
        <p className="jp-FlowsOps-empty">
          Nothing sent about this deployment's runs yet.
        </p>
      )}
      {page && page.items.length > 0 && (
        <table
          className="jp-FlowsTable jp-FlowsOps-table"
          aria-label="Delivery history"
        >
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Destination</th>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((attempt, i) => (
              <tr key={`${attempt.started_at}-${i}`}>
                <td>{localTime(attempt.started_at)}</td>
                <td>{attempt.destination}</td>
                <td>{attempt.delivery?.event ?? 'test'}</td>
                <td>
                  <span
                    className={`jp-FlowsBadge jp-mod-compact ${
                      attempt.ok ? 'jp-mod-success' : 'jp-mod-error'
                    }`}
                  >
                    {attempt.ok ? 'Sent' : 'Failed'}
                  </span>{' '}
                  {attempt.delivery && attempt.delivery.status !== 'sent' && (
                    <span className="jp-FlowsOps-muted">
                      {DELIVERY_STATUS[attempt.delivery.status]} (try{' '}
                      {attempt.attempt})
                    </span>
                  )}
                </td>
                <td className="jp-FlowsOps-error">{attempt.error ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
