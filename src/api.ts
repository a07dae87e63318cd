/**
 * The one transport between the UI and the jupyter-flows REST API.
 *
 * Every call goes through `requestAPI`, which resolves with the decoded JSON body or
 * throws a `FlowsAPIError` carrying the server's `{ error, message }`. No UI code here:
 * views decide how to show an error.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** Path of the REST API below the server's base URL. */
export const API_NAMESPACE = 'api/flows';

/** The JSON body of every error the server extension returns. */
export interface IFlowsErrorBody {
  /** A stable machine-readable code, e.g. `not_found` or `conflict`. */
  error: string;
  /** A human-readable explanation. */
  message: string;
}

/** Error codes produced on the client side, when no server error body is available. */
export const ClientErrorCode = {
  network: 'network_error',
  invalidResponse: 'invalid_response'
} as const;

/** A failed API call: the HTTP status (0 when no response arrived) and the error body. */
export class FlowsAPIError extends Error implements IFlowsErrorBody {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string
  ) {
    super(message);
    this.name = 'FlowsAPIError';
  }
}

/** GET api/flows/version */
export interface IVersionInfo {
  version: string;
}

function isErrorBody(value: unknown): value is IFlowsErrorBody {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as IFlowsErrorBody).error === 'string' &&
    typeof (value as IFlowsErrorBody).message === 'string'
  );
}

/** A code for an error response whose body is not ours (a proxy page, an HTML 502...). */
function codeForStatus(status: number): string {
  switch (status) {
    case 400:
      return 'bad_request';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not_found';
    case 409:
      return 'conflict';
    default:
      return status >= 500 ? 'server_error' : 'http_error';
  }
}

/**
 * Call the jupyter-flows REST API.
 *
 * @param endpoint - path below `api/flows/`, e.g. `version` or `runs/42`
 * @param init - fetch options (method, body...)
 * @param settings - server connection settings; the page's own by default
 * @returns the decoded JSON body, or `undefined` for an empty body (204)
 * @throws FlowsAPIError for a network failure, an error status or an unreadable body
 */
export async function requestAPI<T>(
  endpoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endpoint);

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
      throw new FlowsAPIError(response.status, body.error, body.message);
    }
    const message = response.statusText || `HTTP ${response.status}`;
    throw new FlowsAPIError(
      response.status,
      codeForStatus(response.status),
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

/** The server extension's version (proves it is installed and reachable). */
export function fetchVersion(
  settings?: ServerConnection.ISettings
): Promise<IVersionInfo> {
  return requestAPI<IVersionInfo>('version', {}, settings);
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
  settings?: ServerConnection.ISettings
): Promise<IOpenedArtifact> {
  return requestAPI<IOpenedArtifact>(
    `artifacts/${encodeURIComponent(artifactId)}/open`,
    { method: 'POST' },
    settings
  );
}
