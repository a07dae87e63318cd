/**
 * What the UI says about a failed call. The codes are the server's (typed from
 * openapi.yaml's ErrorCode); only the advice a person needs is added here.
 */
import { AnyErrorCode, FlowsAPIError } from './api';

/** Advice for codes where the server's message alone does not say what to do. */
const ADVICE: Partial<Record<AnyErrorCode, string>> = {
  network_error:
    'The server cannot be reached. Check that it runs, or the team server URL in Settings › Flows.',
  unauthorized:
    'The server refused the credentials. Check the API key in Settings › Flows.',
  forbidden: 'These credentials may not do this (an agent key?).',
  invalid_response: 'The server answered something that is not the Flows API.'
};

/** One line for a person: the server's message, with advice when there is some. */
export function describeError(reason: unknown): string {
  if (reason instanceof FlowsAPIError) {
    const advice = ADVICE[reason.error];
    if (reason.error === 'network_error') {
      return advice ?? reason.message;
    }
    return advice ? `${reason.message} — ${advice}` : reason.message;
  }
  return reason instanceof Error ? reason.message : String(reason);
}

/**
 * The fields an `invalid_parameters` refusal names, each with its message. The server's
 * message is `parameter 'name': why` parts joined by `; ` (service/flows.py:
 * check_parameters); parts that name no parameter go under `''`.
 */
export function parameterErrors(
  reason: unknown
): Record<string, string> | null {
  if (
    !(reason instanceof FlowsAPIError) ||
    reason.error !== 'invalid_parameters'
  ) {
    return null;
  }
  const fields: Record<string, string> = {};
  for (const part of reason.message.split('; ')) {
    const match = /^parameter '([^']+)'(?::\s*)?\s*(.*)$/.exec(part);
    if (match) {
      const [, name, rest] = match;
      fields[name] = fields[name] ?? (rest || part);
    } else {
      fields[''] = fields[''] ? `${fields['']}; ${part}` : part;
    }
  }
  return fields;
}
