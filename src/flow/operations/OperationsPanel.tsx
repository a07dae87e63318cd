/**
 * The flow page's Operations tab: for one of the flow's deployments, who is notified of
 * its runs, the automations that react to them, how many finished runs are kept, and
 * backfills of past slots.
 */
import { HTMLSelect } from '@jupyterlab/ui-components';
import React, { useState } from 'react';

import type { Deployment, FlowsClient } from '../../api';
import { Placeholder } from '../../components/Placeholder';
import { AutomationsSection } from './AutomationsSection';
import { BackfillsSection } from './BackfillsSection';
import { NotificationsSection } from './NotificationsSection';
import { RetentionSection } from './RetentionSection';

export interface IOperationsPanelProps {
  client: FlowsClient;
  deployments: ReadonlyArray<Deployment>;
  /** The parameters of the deployment's flow version, by name. */
  parametersOf: (deployment: Deployment) => string[];
  /** A deployment the panel changed (its retention). */
  onDeployment: (deployment: Deployment) => void;
  /** Runs were made or cancelled (a backfill): the page reads its history again. */
  onRunsChanged: () => void;
}

export function OperationsPanel(props: IOperationsPanelProps): JSX.Element {
  const { client, deployments } = props;
  const [chosen, setChosen] = useState<string | null>(null);
  const deployment =
    deployments.find(d => d.id === chosen) ??
    deployments.find(d => d.name === 'default') ??
    deployments[0];
  if (!deployment) {
    return (
      <Placeholder kind="empty" title="No deployment">
        Notifications, automations, retention and backfills belong to a
        deployment: register the notebook again to make its default one.
      </Placeholder>
    );
  }
  return (
    <div className="jp-FlowsOps" data-deployment={deployment.name}>
      {deployments.length > 1 && (
        <div className="jp-FlowsOps-picker">
          <label htmlFor="jp-flows-ops-deployment">Deployment</label>
          <HTMLSelect
            id="jp-flows-ops-deployment"
            value={deployment.id}
            onChange={event => setChosen(event.target.value)}
            options={deployments.map(d => ({ value: d.id, label: d.name }))}
          />
        </div>
      )}
      <NotificationsSection client={client} deployment={deployment} />
      <AutomationsSection client={client} deployment={deployment} />
      <RetentionSection
        client={client}
        deployment={deployment}
        onSaved={props.onDeployment}
      />
      <BackfillsSection
        client={client}
        deployment={deployment}
        parameters={props.parametersOf(deployment)}
        onCreated={props.onRunsChanged}
      />
    </div>
  );
}
