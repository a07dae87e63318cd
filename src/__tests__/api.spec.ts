/**
 * requestAPI against the real ServerConnection, with only `fetch` replaced: what the
 * server (or the network) answers, and what callers get back.
 */
import { ServerConnection } from '@jupyterlab/services';

import {
  API_NAMESPACE,
  ClientErrorCode,
  ERROR_CODES,
  FlowsAPIError,
  fetchVersion,
  openArtifact,
  requestAPI
} from '../api';

const BASE_URL = 'http://127.0.0.1:8888/lab-base/';

function settingsWith(fetch: jest.Mock): ServerConnection.ISettings {
  return ServerConnection.makeSettings({
    baseUrl: BASE_URL,
    token: 'secret-token',
    fetch
  });
}

function answer(body: string | null, init: ResponseInit): jest.Mock {
  return jest.fn(async () => new Response(body, init));
}

/** The requested URL without the cache-busting query ServerConnection adds to GETs. */
function requestedPath(fetch: jest.Mock, call = 0): string {
  const url = new URL((fetch.mock.calls[call][0] as Request).url);
  return `${url.origin}${url.pathname}`;
}

function json(value: unknown, status = 200): jest.Mock {
  return answer(JSON.stringify(value), {
    status,
    headers: { 'Content-Type': 'application/json' }
  });
}

/** The rejection of `promise`, which must be a FlowsAPIError. */
async function apiError(promise: Promise<unknown>): Promise<FlowsAPIError> {
  const reason = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: unknown) => e
  );
  expect(reason).toBeInstanceOf(FlowsAPIError);
  return reason as FlowsAPIError;
}

describe('requestAPI', () => {
  it('calls api/flows/<endpoint> below the base URL and decodes JSON', async () => {
    const fetch = json({ version: '1.2.3' });

    const result = await requestAPI<{ version: string }>(
      'version',
      {},
      settingsWith(fetch)
    );

    expect(result).toEqual({ version: '1.2.3' });
    expect(fetch).toHaveBeenCalledTimes(1);
    const request = fetch.mock.calls[0][0] as Request;
    expect(requestedPath(fetch)).toBe(`${BASE_URL}${API_NAMESPACE}/version`);
    expect(request.method).toBe('GET');
    expect(request.headers.get('Authorization')).toBe('token secret-token');
  });

  it('passes method and body through', async () => {
    const fetch = json({ id: 'run-1' }, 201);

    await requestAPI(
      'runs',
      {
        method: 'POST',
        body: JSON.stringify({ flow: 'etl' })
      },
      settingsWith(fetch)
    );

    const request = fetch.mock.calls[0][0] as Request;
    expect(request.method).toBe('POST');
    expect(await request.text()).toBe('{"flow":"etl"}');
  });

  it('resolves with undefined for an empty success body (204)', async () => {
    const fetch = answer(null, { status: 204 });

    await expect(
      requestAPI('runs/1', { method: 'DELETE' }, settingsWith(fetch))
    ).resolves.toBeUndefined();
  });

  it('maps the server error body to FlowsAPIError', async () => {
    const fetch = json(
      { error: 'illegal_transition', message: 'Completed -> Running' },
      409
    );
    expect(ERROR_CODES).toContain('illegal_transition');

    const error = await apiError(
      requestAPI('runs/1/state', { method: 'POST' }, settingsWith(fetch))
    );

    expect(error.status).toBe(409);
    expect(error.error).toBe('illegal_transition');
    expect(error.message).toBe('Completed -> Running');
    expect(error.name).toBe('FlowsAPIError');
  });

  it.each([
    [404, 'Not Found', 'http_error'],
    [403, 'Forbidden', 'http_error'],
    [502, 'Bad Gateway', 'server_error'],
    [418, "I'm a teapot", 'http_error']
  ])(
    'keeps status %d and a generic code when the body is not ours',
    async (status, statusText, code) => {
      const fetch = answer('<html>proxy page</html>', { status, statusText });

      const error = await apiError(requestAPI('x', {}, settingsWith(fetch)));

      expect(error.status).toBe(status);
      expect(error.error).toBe(code);
      expect(error.message).toBe(statusText);
    }
  );

  it('ignores JSON error bodies that lack the error/message keys', async () => {
    const fetch = json({ message: 'jupyter_server style', reason: null }, 400);

    const error = await apiError(requestAPI('x', {}, settingsWith(fetch)));

    expect(error.error).toBe('http_error');
    expect(error.status).toBe(400);
  });

  it('maps a code the contract does not list to http_error', async () => {
    const fetch = json(
      { error: 'brand_new_code', message: 'from the future' },
      409
    );

    const error = await apiError(requestAPI('x', {}, settingsWith(fetch)));

    expect(error.error).toBe('http_error');
    expect(error.message).toBe('from the future');
  });

  it('sends a team server API key as a Bearer token, never the page token', async () => {
    const fetch = json({ version: '1' });
    const connection = {
      settings: ServerConnection.makeSettings({
        baseUrl: 'http://team.example:8765/',
        token: '',
        fetch
      }),
      apiKey: 'jf_secret'
    };

    await requestAPI('version', {}, connection);

    const request = fetch.mock.calls[0][0] as Request;
    expect(requestedPath(fetch)).toBe(
      'http://team.example:8765/api/flows/version'
    );
    expect(request.headers.get('Authorization')).toBe('Bearer jf_secret');
  });

  it('reports a network failure with status 0', async () => {
    const fetch = jest.fn(async () => {
      throw new TypeError('Failed to fetch');
    });

    const error = await apiError(
      requestAPI('version', {}, settingsWith(fetch))
    );

    expect(error.status).toBe(0);
    expect(error.error).toBe(ClientErrorCode.network);
    expect(error.message).toContain('Failed to fetch');
  });

  it('rejects a success response that is not JSON', async () => {
    const fetch = answer('<html>login</html>', { status: 200 });

    const error = await apiError(
      requestAPI('version', {}, settingsWith(fetch))
    );

    expect(error.status).toBe(200);
    expect(error.error).toBe(ClientErrorCode.invalidResponse);
    expect(error.message).toContain('<html>login</html>');
  });
});

describe('fetchVersion', () => {
  it('asks the version endpoint', async () => {
    const fetch = json({ version: '0.1.0' });

    await expect(fetchVersion(settingsWith(fetch))).resolves.toEqual({
      version: '0.1.0'
    });
    expect(requestedPath(fetch)).toBe(`${BASE_URL}api/flows/version`);
  });
});

describe('openArtifact', () => {
  it('POSTs artifacts/<id>/open and resolves with the path', async () => {
    const path = 'jupyter-flows-runs/report/brave-otter-0123abcd.ipynb';
    const fetch = json({ path });

    await expect(openArtifact('a/1', settingsWith(fetch))).resolves.toEqual({
      path
    });
    expect(requestedPath(fetch)).toBe(
      `${BASE_URL}api/flows/artifacts/a%2F1/open`
    );
    expect((fetch.mock.calls[0][0] as Request).method).toBe('POST');
  });

  it('rejects with the server error of a missing blob', async () => {
    const fetch = json(
      { error: 'blob_not_found', message: 'blob 12ab is not in the storage' },
      404
    );

    const error = await apiError(openArtifact('a1', settingsWith(fetch)));
    expect(error.status).toBe(404);
    expect(error.error).toBe('blob_not_found');
    expect(error.message).toContain('12ab');
  });
});
