/**
 * The one transport between the UI and the jupyter-flows REST API.
 *
 * Every call goes through `requestAPI`, which resolves with the decoded JSON body or
 * throws a `FlowsAPIError` carrying the server's `{ error, message }`. `FlowsClient` has
 * one typed method per endpoint the UI uses; its types come from `openapi.ts`, which is
 * generated from schema/openapi.yaml (`jlpm generate:api`; a jest test fails when it is
 * stale). No UI code here: views decide how to show an error.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type { components, operations } from './openapi';
import { errorCodeValues } from './openapi';

/** Path of the REST API below the server's base URL. */
export const API_NAMESPACE = 'api/flows';

type Schemas = components['schemas'];
export type ErrorCode = Schemas['ErrorCode'];
export type Flow = Schemas['Flow'];
export type FlowVersion = Schemas['FlowVersion'];
export type Deployment = Schemas['Deployment'];
export type Schedule = Schemas['Schedule'];
export type FlowRun = Schemas['FlowRun'];
export type State = Schemas['State'];
export type StateType = Schemas['StateType'];
export type TaskRun = Schemas['TaskRun'];
export type WorkQueue = Schemas['WorkQueue'];
export type QueuedRun = Schemas['QueuedRun'];
export type Agent = Schemas['Agent'];
export type PendingReason = Schemas['PendingReason'];
export type FlowEvent = Schemas['Event'];
export type InspectNotebook = Schemas['InspectNotebook'];
export type RegisterNotebook = Schemas['RegisterNotebook'];
export type NotebookRegistration = Schemas['NotebookRegistration'];
export type CaptureEnvironment = Schemas['CaptureEnvironment'];
export type Artifact = Schemas['Artifact'];
export type EnvironmentPreview = Schemas['EnvironmentPreview'];
export type OpenedSource =
  operations['openVersionSource']['responses']['200']['content']['application/json'];
export type UpdateDeployment = Schemas['UpdateDeployment'];
export type RunDeployment = Schemas['RunDeployment'];
export type FlowRunGraph = Schemas['FlowRunGraph'];
export type FlowRunGraphNode = Schemas['FlowRunGraphNode'];
export type FlowRunGraphEdge = Schemas['FlowRunGraphEdge'];
export type LogLine = Schemas['LogLine'];
export type LogPage = IPage<LogLine> & { next_cursor?: string | null };
export type LogQuery = QueryOf<'listFlowRunLogs'>;
export type HistoryState = Schemas['HistoryState'];
export type StateHistoryPage = IPage<HistoryState>;

/** Every code the server may answer, as openapi.yaml lists them (no copy kept here). */
export const ERROR_CODES: ReadonlyArray<ErrorCode> = errorCodeValues;

/** Codes the client makes itself, when no server error body is available. */
export const ClientErrorCode = {
  network: 'network_error',
  invalidResponse: 'invalid_response'
} as const;
export type AnyErrorCode =
  ErrorCode | (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

/** A page of a list endpoint. */
export interface IPage<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}

/** The JSON body of every error the server extension returns. */
export interface IFlowsErrorBody {
  error: string;
  message: string;
}

/** A failed API call: the HTTP status (0 when no response arrived) and the error body. */
export class FlowsAPIError extends Error {
  constructor(
    readonly status: number,
    readonly error: AnyErrorCode,
    message: string
  ) {
    super(message);
    this.name = 'FlowsAPIError';
  }
}

function isErrorBody(value: unknown): value is IFlowsErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as IFlowsErrorBody).error === 'string' &&
    typeof (value as IFlowsErrorBody).message === 'string'
  );
}

function knownCode(code: string): ErrorCode {
  return (ERROR_CODES as ReadonlyArray<string>).includes(code)
    ? (code as ErrorCode)
    : 'http_error';
}

/** Where the API lives and how to authenticate to it. */
export interface IConnection {
  /** Server connection settings: the page's own, or a team server's base URL. */
  settings: ServerConnection.ISettings;
  /** An API key of a team server, sent as `Authorization: Bearer …`. */
  apiKey?: string;
}

/** The page's own Jupyter server. */
export function localConnection(): IConnection {
  return { settings: ServerConnection.makeSettings() };
}

/**
 * A team server (`jupyter flows server`) at `url`, with its API key. The page's token is
 * never sent there.
 */
export function teamConnection(url: string, apiKey: string): IConnection {
  const baseUrl = url.replace(/\/?$/, '/');
  return {
    settings: ServerConnection.makeSettings({ baseUrl, token: '', wsUrl: '' }),
    apiKey: apiKey || undefined
  };
}

/**
 * Call the jupyter-flows REST API.
 *
 * @param endpoint - path below `api/flows/`, with its query, e.g. `flow-runs?limit=5`
 * @param init - fetch options (method, body...)
 * @param connection - where to send it; the page's own server by default
 * @returns the decoded JSON body, or `undefined` for an empty body (204)
 * @throws FlowsAPIError for a network failure, an error status or an unreadable body
 */
export async function requestAPI<T>(
  endpoint = '',
  init: RequestInit = {},
  connection: IConnection | ServerConnection.ISettings = localConnection()
): Promise<T> {
  const { settings, apiKey }: IConnection =
    'settings' in connection ? connection : { settings: connection };
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endpoint);
  if (apiKey) {
    const headers = new Headers(init.headers);
    headers.set('Authorization', `Bearer ${apiKey}`);
    init = { ...init, headers };
  }

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (reason) {
    const message = reason instanceof Error ? reason.message : String(reason);
    throw new FlowsAPIError(0, ClientErrorCode.network, message);
  }

  const text = await response.text();
  let body: unknown = undefined;
  let parsed = text.length === 0;
  if (!parsed) {
    try {
      body = JSON.parse(text);
      parsed = true;
    } catch {
      // Not JSON: handled below, differently for success and error statuses.
    }
  }

  if (!response.ok) {
    if (isErrorBody(body)) {
      throw new FlowsAPIError(
        response.status,
        knownCode(body.error),
        body.message
      );
    }
    // A body that is not ours (a proxy's page): the status says what happened.
    const message = response.statusText || `HTTP ${response.status}`;
    throw new FlowsAPIError(
      response.status,
      response.status >= 500 ? 'server_error' : 'http_error',
      message
    );
  }
  if (!parsed) {
    throw new FlowsAPIError(
      response.status,
      ClientErrorCode.invalidResponse,
      `Expected JSON from ${endpoint || API_NAMESPACE}, got: ${text.slice(0, 80)}`
    );
  }
  return body as T;
}

/** A query string from defined values (arrays repeat the key). */
export function query(
  params: Record<
    string,
    string | number | boolean | string[] | undefined | null
  >
): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === '') {
      continue;
    }
    if (Array.isArray(value)) {
      value.forEach(v => search.append(key, v));
    } else {
      search.append(key, String(value));
    }
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

type QueryOf<K extends keyof operations> = operations[K] extends {
  parameters: { query?: infer Q };
}
  ? NonNullable<Q>
  : never;

export type FlowRunQuery = QueryOf<'listFlowRuns'>;

/** The server's version (proves it is installed and reachable). */
export function fetchVersion(
  connection?: IConnection | ServerConnection.ISettings
): Promise<{ version: string }> {
  return requestAPI('version', {}, connection);
}

/** POST api/flows/artifacts/{id}/open */
export interface IOpenedArtifact {
  /** Where the server wrote the executed notebook, relative to its root. */
  path: string;
}

/**
 * Have the server write a `notebook` artifact (a run's executed notebook) below its root,
 * where JupyterLab can open it; the same artifact always gives the same path.
 */
export function openArtifact(
  artifactId: string,
  connection?: IConnection | ServerConnection.ISettings
): Promise<IOpenedArtifact> {
  return requestAPI<IOpenedArtifact>(
    `artifacts/${encodeURIComponent(artifactId)}/open`,
    { method: 'POST' },
    connection
  );
}

const id = encodeURIComponent;
const post = (body?: unknown): RequestInit => ({
  method: 'POST',
  body: body === undefined ? undefined : JSON.stringify(body)
});

/** One typed method per endpoint the UI uses, on one connection. */
export class FlowsClient {
  constructor(readonly connection: IConnection = localConnection()) {}

  /** Whether this client talks to a team server rather than the page's own. */
  get isTeamServer(): boolean {
    return (
      this.connection.settings.baseUrl !== localConnection().settings.baseUrl
    );
  }

  request<T>(endpoint: string, init: RequestInit = {}): Promise<T> {
    return requestAPI<T>(endpoint, init, this.connection);
  }

  version(): Promise<{ version: string }> {
    return this.request('version');
  }

  listFlows(params: QueryOf<'listFlows'> = {}): Promise<IPage<Flow>> {
    return this.request(`flows${query(params)}`);
  }

  /** Every flow, pages fetched in parallel once the first says how many there are. */
  async allFlows(pageSize = 500): Promise<Flow[]> {
    const first = await this.listFlows({ limit: pageSize });
    const rest: Promise<IPage<Flow>>[] = [];
    for (let offset = pageSize; offset < first.total; offset += pageSize) {
      rest.push(this.listFlows({ limit: pageSize, offset }));
    }
    const pages = await Promise.all(rest);
    return first.items.concat(...pages.map(page => page.items));
  }

  getFlow(flowId: string): Promise<Flow> {
    return this.request(`flows/${id(flowId)}`);
  }

  listVersions(
    flowId: string,
    params: QueryOf<'listFlowVersions'> = {}
  ): Promise<IPage<FlowVersion>> {
    return this.request(`flows/${id(flowId)}/versions${query(params)}`);
  }

  getVersion(versionId: string): Promise<FlowVersion> {
    return this.request(`flow-versions/${id(versionId)}`);
  }

  listDeployments(
    params: QueryOf<'listDeployments'> = {}
  ): Promise<IPage<Deployment>> {
    return this.request(`deployments${query(params)}`);
  }

  updateDeployment(
    deploymentId: string,
    body: UpdateDeployment
  ): Promise<Deployment> {
    return this.request(`deployments/${id(deploymentId)}`, {
      method: 'PATCH',
      body: JSON.stringify(body)
    });
  }

  pauseDeployment(deploymentId: string): Promise<Deployment> {
    return this.request(`deployments/${id(deploymentId)}/pause`, post());
  }

  resumeDeployment(deploymentId: string): Promise<Deployment> {
    return this.request(`deployments/${id(deploymentId)}/resume`, post());
  }

  runDeployment(deploymentId: string, body: RunDeployment): Promise<FlowRun> {
    return this.request(`deployments/${id(deploymentId)}/runs`, post(body));
  }

  listFlowRuns(params: FlowRunQuery = {}): Promise<IPage<FlowRun>> {
    return this.request(`flow-runs${query(params)}`);
  }

  getFlowRun(runId: string): Promise<FlowRun> {
    return this.request(`flow-runs/${id(runId)}`);
  }

  cancelFlowRun(runId: string): Promise<FlowRun> {
    return this.request(`flow-runs/${id(runId)}/cancel`, post());
  }

  pendingReason(runId: string): Promise<PendingReason> {
    return this.request(`flow-runs/${id(runId)}/pending-reason`);
  }

  listTaskRuns(runId: string, limit = 500): Promise<IPage<TaskRun>> {
    return this.request(`flow-runs/${id(runId)}/task-runs${query({ limit })}`);
  }

  /** The run, its tasks with their task runs, and the edges between them. */
  getRunGraph(runId: string): Promise<FlowRunGraph> {
    return this.request(`flow-runs/${id(runId)}/graph`);
  }

  /** A page of a run's logs, filtered on the server (source, level, text). */
  listRunLogs(runId: string, params: LogQuery = {}): Promise<LogPage> {
    return this.request(`flow-runs/${id(runId)}/logs${query(params)}`);
  }

  /** The URL of a run's whole log as text or JSON lines (credentials in the query). */
  logDownloadUrl(runId: string, format: 'text' | 'jsonl'): string {
    const { settings, apiKey } = this.connection;
    const token = apiKey || settings.token;
    return (
      URLExt.join(
        settings.baseUrl,
        API_NAMESPACE,
        `flow-runs/${id(runId)}/logs/download`
      ) + query({ format, token: token || undefined })
    );
  }

  /** A task run's state history, oldest first. */
  taskRunStates(taskRunId: string): Promise<StateHistoryPage> {
    return this.request(
      `task-runs/${id(taskRunId)}/states${query({ limit: 200 })}`
    );
  }

  /**
   * A new run of the deployment of notebook run `run` that reruns it: from its first
   * failed cell, reusing the results before it, or from the start. Parameters update
   * the earlier run's (what `jupyter flows rerun` does).
   */
  async rerun(
    run: FlowRun,
    parameters: Record<string, unknown>,
    fromFailed: boolean
  ): Promise<FlowRun> {
    if (!run.deployment_id) {
      throw new FlowsAPIError(
        0,
        ClientErrorCode.invalidResponse,
        `${run.name} has no deployment: rerun it where it ran`
      );
    }
    const tags = [`rerun-of:${run.id}`].concat(
      fromFailed ? [] : ['rerun-from-start']
    );
    return this.runDeployment(run.deployment_id, {
      parameters: { ...run.parameters, ...parameters },
      tags,
      trigger: 'ui'
    });
  }

  inspectNotebook(body: InspectNotebook): Promise<IFlowSpec> {
    return this.request('notebooks/inspect', post(body));
  }

  registerNotebook(body: RegisterNotebook): Promise<NotebookRegistration> {
    return this.request('notebooks/register', post(body));
  }

  /** The environment registering would record, and its diff from the latest version. */
  captureEnvironment(body: CaptureEnvironment): Promise<EnvironmentPreview> {
    return this.request('notebooks/environment', post(body));
  }

  listWorkQueues(): Promise<IPage<WorkQueue>> {
    return this.request(`work-queues${query({ limit: 500 })}`);
  }

  pauseWorkQueue(name: string): Promise<WorkQueue> {
    return this.request(`work-queues/${id(name)}/pause`, post());
  }

  resumeWorkQueue(name: string): Promise<WorkQueue> {
    return this.request(`work-queues/${id(name)}/resume`, post());
  }

  previewWorkQueue(name: string, limit = 20): Promise<IPage<QueuedRun>> {
    return this.request(`work-queues/${id(name)}/preview${query({ limit })}`);
  }

  listAgents(): Promise<IPage<Agent>> {
    return this.request(`agents${query({ limit: 500 })}`);
  }

  /** What the run made for people to look at (executed notebooks, tables, links). */
  listRunArtifacts(runId: string, limit = 500): Promise<IPage<Artifact>> {
    return this.request(`flow-runs/${id(runId)}/artifacts${query({ limit })}`);
  }

  openArtifact(artifactId: string): Promise<IOpenedArtifact> {
    return openArtifact(artifactId, this.connection);
  }

  /** The file to open for a version's source: the registered file while it holds the
   * version's code, else a read-only copy of the code stored at registration. */
  openVersionSource(versionId: string): Promise<OpenedSource> {
    return this.request(`flow-versions/${id(versionId)}/source/open`, post());
  }

  /** The WebSocket URL of the event stream, credentials in the query. */
  eventsUrl(filter: { flow_id?: string; flow_run_id?: string } = {}): string {
    const { settings, apiKey } = this.connection;
    const token = apiKey || settings.token;
    const base = settings.wsUrl || 'ws' + settings.baseUrl.slice(4);
    return (
      URLExt.join(base, API_NAMESPACE, 'events') +
      query({ ...filter, token: token || undefined })
    );
  }
}

/** The FlowSpec document (docs/notebooks.md; schema/flow-spec.schema.json). */
export interface IFlowSpec {
  format: 'jupyter-flows/flow-spec';
  format_version: number;
  name: string;
  source: { path: string | null; kind: string; cells: number };
  engine: 'kernel' | 'tasks' | 'flow';
  tasks: IFlowSpecTask[];
  edges: IFlowSpecEdge[];
  parameters: IFlowSpecParameter[];
  parameter_schema: IJSONSchema;
  selection: {
    cells: (number | string)[];
    tasks: string[];
    added: {
      task: string;
      cell_ids: string[];
      cell_indices: number[];
      needed_by: string[];
      names: string[];
    }[];
  } | null;
  warnings: {
    code: string;
    message: string;
    tasks: string[];
    cells: (number | string)[];
    names: string[];
  }[];
  entrypoint: string | null;
}

export interface IFlowSpecTask {
  key: string;
  name: string;
  kind: 'code' | 'parameters' | 'flow-task';
  cell_ids: string[];
  cell_indices: number[];
  reads: string[];
  defines: string[];
}

export interface IFlowSpecEdge {
  source: string;
  target: string;
  names: string[];
  after?: boolean;
}

export interface IFlowSpecParameter {
  name: string;
  type: string;
  required: boolean;
  default: unknown;
  default_expression: string | null;
  description: string | null;
}

/** The JSON Schema subset parameter schemas use. */
export interface IJSONSchema {
  type?: string | string[];
  properties?: Record<string, IJSONSchema>;
  required?: string[];
  items?: IJSONSchema;
  enum?: unknown[];
  anyOf?: IJSONSchema[];
  format?: string;
  default?: unknown;
  description?: string;
  title?: string;
  uniqueItems?: boolean;
  additionalProperties?: boolean | IJSONSchema;
  [key: string]: unknown;
}
