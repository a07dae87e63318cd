/**
 * The typed calls of the flow page's operations panel (notifications, automations,
 * retention, backfills), over the one transport `FlowsClient.request`.
 */
import { FlowsClient, IPage, query } from '../../api';
import type { components } from '../../openapi';

type Schemas = components['schemas'];
export type NotificationDestination = Schemas['NotificationDestination'];
export type CreateNotificationDestination =
  Schemas['CreateNotificationDestination'];
export type NotificationTestResult = Schemas['NotificationTestResult'];
export type NotificationPolicy = Schemas['NotificationPolicy'];
export type CreateNotificationPolicy = Schemas['CreateNotificationPolicy'];
export type NotificationAttempt = Schemas['NotificationAttempt'];
export type NotifyEvent = Schemas['NotifyEvent'];
export type Automation = Schemas['Automation'];
export type CreateAutomation = Schemas['CreateAutomation'];
export type AutomationFiring = Schemas['AutomationFiring'];
export type Retention = Schemas['Retention'];
export type PruneResult = Schemas['PruneResult'];
export type CreateBackfill = Schemas['CreateBackfill'];
export type BackfillPreview = Schemas['BackfillPreview'];
export type Backfill = Schemas['Backfill'];

/** Every event a policy may name, in the order the form shows them. */
export const NOTIFY_EVENTS: ReadonlyArray<NotifyEvent> = [
  'Failed',
  'Crashed',
  'TimedOut',
  'Completed',
  'Late',
  'Running'
];

/** The longest list the panel asks for at once (the server's own maximum is higher). */
const ALL = 500;
const id = encodeURIComponent;
const json = (method: string, body?: unknown): RequestInit => ({
  method,
  body: body === undefined ? undefined : JSON.stringify(body)
});

export function listDestinations(
  client: FlowsClient
): Promise<IPage<NotificationDestination>> {
  return client.request(`notifications/destinations${query({ limit: ALL })}`);
}

export function createDestination(
  client: FlowsClient,
  body: CreateNotificationDestination
): Promise<NotificationDestination> {
  return client.request('notifications/destinations', json('POST', body));
}

export function deleteDestination(
  client: FlowsClient,
  name: string
): Promise<void> {
  return client.request(
    `notifications/destinations/${id(name)}`,
    json('DELETE')
  );
}

export function testDestination(
  client: FlowsClient,
  name: string
): Promise<NotificationTestResult> {
  return client.request(
    `notifications/destinations/${id(name)}/test`,
    json('POST', {})
  );
}

/**
 * The policies that apply to one deployment's runs: its own, and its flow's (the default
 * for every deployment of the flow). The server lists them all; few exist.
 */
export async function listPolicies(
  client: FlowsClient,
  deployment: { id: string; flow_id: string }
): Promise<NotificationPolicy[]> {
  const page: IPage<NotificationPolicy> = await client.request(
    `notifications/policies${query({ limit: ALL })}`
  );
  return page.items.filter(
    p =>
      p.deployment_id === deployment.id ||
      (!p.deployment_id && p.flow_id === deployment.flow_id)
  );
}

export function createPolicy(
  client: FlowsClient,
  body: CreateNotificationPolicy
): Promise<NotificationPolicy> {
  return client.request('notifications/policies', json('POST', body));
}

export function deletePolicy(client: FlowsClient, name: string): Promise<void> {
  return client.request(`notifications/policies/${id(name)}`, json('DELETE'));
}

/** A page of the deliveries about the deployment's runs, newest first. */
export function listAttempts(
  client: FlowsClient,
  deploymentId: string,
  limit: number,
  offset: number
): Promise<IPage<NotificationAttempt>> {
  return client.request(
    `notifications/attempts${query({ deployment_id: deploymentId, limit, offset })}`
  );
}

export async function listAutomations(
  client: FlowsClient,
  deploymentId: string
): Promise<Automation[]> {
  const page: IPage<Automation> = await client.request(
    `automations${query({ limit: ALL })}`
  );
  return page.items.filter(a => a.deployment_id === deploymentId);
}

export function createAutomation(
  client: FlowsClient,
  body: CreateAutomation
): Promise<Automation> {
  return client.request('automations', json('POST', body));
}

export function deleteAutomation(
  client: FlowsClient,
  name: string
): Promise<void> {
  return client.request(`automations/${id(name)}`, json('DELETE'));
}

export function listFirings(
  client: FlowsClient,
  automation: string,
  limit = 20
): Promise<IPage<AutomationFiring>> {
  return client.request(`automation-firings${query({ automation, limit })}`);
}

export function retentionDefault(client: FlowsClient): Promise<Retention> {
  return client.request('retention/default');
}

/** What pruning the deployment now would delete (deletes nothing). */
export function previewPrune(
  client: FlowsClient,
  deploymentId: string,
  limit = 200
): Promise<PruneResult> {
  return client.request(
    'retention/prune',
    json('POST', { dry_run: true, deployment_id: deploymentId, limit })
  );
}

export function previewBackfill(
  client: FlowsClient,
  deploymentId: string,
  body: CreateBackfill
): Promise<BackfillPreview> {
  return client.request(
    `deployments/${id(deploymentId)}/backfills`,
    json('POST', { ...body, dry_run: true })
  );
}

export function createBackfill(
  client: FlowsClient,
  deploymentId: string,
  body: CreateBackfill
): Promise<Backfill> {
  return client.request(
    `deployments/${id(deploymentId)}/backfills`,
    json('POST', { ...body, dry_run: false })
  );
}

export function listBackfills(
  client: FlowsClient,
  deploymentId: string,
  limit = 10
): Promise<IPage<Backfill>> {
  return client.request(
    `deployments/${id(deploymentId)}/backfills${query({ limit })}`
  );
}

export function cancelBackfill(
  client: FlowsClient,
  backfillId: string
): Promise<Backfill> {
  return client.request(`backfills/${id(backfillId)}/cancel`, json('POST'));
}
