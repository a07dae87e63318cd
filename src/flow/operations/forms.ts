/**
 * The operations panel's forms as plain data: each draft (what the inputs hold, as text)
 * becomes a request body or errors on its fields, and a server refusal is mapped back to
 * the field it names. No React here, so jest checks it directly.
 */
import { FlowsAPIError } from '../../api';
import { describeError } from '../../errors';
import type {
  CreateAutomation,
  CreateBackfill,
  CreateNotificationDestination,
  CreateNotificationPolicy,
  NotifyEvent,
  Retention
} from './api';

/** A body to send, or messages by field name (`''`: the form as a whole). */
export type Checked<T> =
  | { body: T; errors?: undefined }
  | { body?: undefined; errors: Record<string, string> };

function checked<T>(body: T, errors: Record<string, string>): Checked<T> {
  return Object.keys(errors).length ? { errors } : { body };
}

const DESTINATION_NAME = /^[a-z0-9]([a-z0-9-]{0,91}[a-z0-9])?$/;
const RULE_NAME = /^[A-Za-z0-9._-]{1,200}$/;
const APPRISE_URL = /^[A-Za-z][A-Za-z0-9+.-]{0,31}:\/\//;

/** A number of minutes from text: null for blank, NaN for anything else not ≥ 0. */
function minutes(text: string): number | null {
  if (!text.trim()) {
    return null;
  }
  const value = Number(text);
  return Number.isFinite(value) && value >= 0 ? value : NaN;
}

// ------------------------------------------------------------------ destinations

export interface IDestinationDraft {
  name: string;
  url: string;
}

export function destinationBody(
  draft: IDestinationDraft
): Checked<CreateNotificationDestination> {
  const errors: Record<string, string> = {};
  const name = draft.name.trim();
  if (!DESTINATION_NAME.test(name)) {
    errors.name =
      'Lower-case letters, digits and dashes, starting and ending with a letter or digit.';
  }
  const url = draft.url.trim();
  if (!APPRISE_URL.test(url)) {
    errors.url =
      'An apprise URL such as mailto://…, slack://…, json://host/path.';
  }
  return checked({ name, url }, errors);
}

// ------------------------------------------------------------------ policies

export interface IPolicyDraft {
  name: string;
  events: NotifyEvent[];
  destinations: string[];
  /** Minutes between two messages of this policy (blank: none). */
  cooldownMinutes: string;
  /** Minutes after which a running run is reported, for the Running event. */
  runningAfterMinutes: string;
}

export function emptyPolicy(deploymentName: string): IPolicyDraft {
  return {
    name: `${deploymentName}-failures`,
    events: ['Failed', 'Crashed', 'TimedOut'],
    destinations: [],
    cooldownMinutes: '',
    runningAfterMinutes: ''
  };
}

export function policyBody(
  draft: IPolicyDraft,
  deploymentId: string
): Checked<CreateNotificationPolicy> {
  const errors: Record<string, string> = {};
  const name = draft.name.trim();
  if (!RULE_NAME.test(name)) {
    errors.name = 'Letters, digits, dots, dashes and underscores.';
  }
  if (draft.events.length === 0) {
    errors.events = 'Choose at least one event.';
  }
  if (draft.destinations.length === 0) {
    errors.destinations = 'Choose at least one destination.';
  }
  const cooldown = minutes(draft.cooldownMinutes);
  if (Number.isNaN(cooldown)) {
    errors.cooldown = 'A number of minutes, 0 or more.';
  }
  const runningAfter = minutes(draft.runningAfterMinutes);
  const running = draft.events.includes('Running');
  if (running && (runningAfter === null || !(runningAfter > 0))) {
    errors.runningAfter =
      '"Still running" needs a duration in minutes, more than 0.';
  } else if (Number.isNaN(runningAfter)) {
    errors.runningAfter = 'A number of minutes, more than 0.';
  }
  return checked(
    {
      name,
      deployment_id: deploymentId,
      events: [...draft.events],
      destinations: [...draft.destinations],
      cooldown_seconds: (cooldown || 0) * 60,
      running_after_seconds: running && runningAfter ? runningAfter * 60 : null
    },
    errors
  );
}

/** "5 min", "2 h", "1 d" for a number of seconds. */
export function formatSeconds(seconds: number | null | undefined): string {
  if (!seconds) {
    return '—';
  }
  if (seconds % 86400 === 0) {
    return `${seconds / 86400} d`;
  }
  if (seconds % 3600 === 0) {
    return `${seconds / 3600} h`;
  }
  if (seconds % 60 === 0) {
    return `${seconds / 60} min`;
  }
  return `${seconds} s`;
}

// ------------------------------------------------------------------ automations

export type TriggerKind = 'state' | 'consecutive_failures' | 'late';
export type ActionKind = 'notify' | 'pause' | 'cancel' | 'run_deployment';

export const TRIGGER_STATES: ReadonlyArray<NotifyEvent> = [
  'Failed',
  'Crashed',
  'TimedOut',
  'Completed',
  'Late'
];

export interface IAutomationDraft {
  name: string;
  trigger: TriggerKind;
  states: NotifyEvent[];
  count: string;
  action: ActionKind;
  destinations: string[];
  /** For run_deployment: the deployment to start, and parameters over this run's. */
  targetDeploymentId: string;
  parameters: string;
}

export function emptyAutomation(deploymentName: string): IAutomationDraft {
  return {
    name: `${deploymentName}-pause-on-failures`,
    trigger: 'consecutive_failures',
    states: ['Failed'],
    count: '3',
    action: 'pause',
    destinations: [],
    targetDeploymentId: '',
    parameters: '{}'
  };
}

export function automationBody(
  draft: IAutomationDraft,
  deploymentId: string
): Checked<CreateAutomation> {
  const errors: Record<string, string> = {};
  const name = draft.name.trim();
  if (!RULE_NAME.test(name)) {
    errors.name = 'Letters, digits, dots, dashes and underscores.';
  }
  let trigger: Record<string, unknown> = { event: draft.trigger };
  if (draft.trigger === 'state') {
    if (draft.states.length === 0) {
      errors.states = 'Choose at least one state.';
    }
    trigger = { event: 'state', states: [...draft.states] };
  } else if (draft.trigger === 'consecutive_failures') {
    const count = Number(draft.count);
    if (!Number.isInteger(count) || count < 1 || count > 1000) {
      errors.count = 'A whole number of failures in a row, 1 to 1000.';
    }
    trigger = { event: 'consecutive_failures', count };
  }
  let action: Record<string, unknown> = { type: draft.action };
  if (draft.action === 'notify') {
    if (draft.destinations.length === 0) {
      errors.destinations = 'Choose at least one destination.';
    }
    action = { type: 'notify', destinations: [...draft.destinations] };
  } else if (draft.action === 'run_deployment') {
    if (!draft.targetDeploymentId) {
      errors.target = 'Choose the deployment to start.';
    }
    let parameters: unknown = {};
    try {
      parameters = JSON.parse(draft.parameters.trim() || '{}');
    } catch {
      parameters = null;
    }
    if (
      typeof parameters !== 'object' ||
      parameters === null ||
      Array.isArray(parameters)
    ) {
      errors.parameters = 'A JSON object, e.g. {"mode": "full"}.';
    }
    action = {
      type: 'run_deployment',
      deployment_id: draft.targetDeploymentId,
      parameters
    };
  }
  return checked(
    { name, deployment_id: deploymentId, trigger, action },
    errors
  );
}

/** An automation's rule in words: "3 failures in a row → pause the deployment". */
export function describeAutomation(
  trigger: Record<string, unknown>,
  action: Record<string, unknown>,
  deploymentName: (id: string) => string
): string {
  let when: string;
  switch (trigger.event) {
    case 'state':
      when = `a run ends ${((trigger.states as string[]) ?? []).join(' or ')}`;
      break;
    case 'consecutive_failures':
      when = `${trigger.count} failures in a row`;
      break;
    case 'late':
      when = 'a run is late';
      break;
    default:
      when = String(trigger.event);
  }
  let then: string;
  switch (action.type) {
    case 'notify':
      then = `notify ${((action.destinations as string[]) ?? []).join(', ')}`;
      break;
    case 'pause':
      then = 'pause the deployment';
      break;
    case 'cancel':
      then = 'cancel the run';
      break;
    case 'run_deployment': {
      const params = JSON.stringify(action.parameters ?? {});
      then = `start ${deploymentName(String(action.deployment_id))}${
        params === '{}' ? '' : ` with ${params}`
      }`;
      break;
    }
    default:
      then = String(action.type);
  }
  return `When ${when} → ${then}`;
}

// ------------------------------------------------------------------ retention

export interface IRetentionDraft {
  /** Follow the server's default for every field. */
  useDefault: boolean;
  keepRuns: string;
  keepDays: string;
  /** 'default' follows the server; 'yes'/'no' set it. */
  keepLastFailure: 'default' | 'yes' | 'no';
}

export function retentionDraft(
  retention: Retention | null | undefined
): IRetentionDraft {
  const r = retention ?? {};
  const useDefault =
    (r.keep_runs ?? null) === null &&
    (r.keep_days ?? null) === null &&
    (r.keep_last_failure ?? null) === null;
  return {
    useDefault,
    keepRuns:
      r.keep_runs === null || r.keep_runs === undefined
        ? ''
        : String(r.keep_runs),
    keepDays:
      r.keep_days === null || r.keep_days === undefined
        ? ''
        : String(r.keep_days),
    keepLastFailure:
      r.keep_last_failure === null || r.keep_last_failure === undefined
        ? 'default'
        : r.keep_last_failure
          ? 'yes'
          : 'no'
  };
}

/** The deployment's `retention` to PATCH: null follows the server in every field. */
export function retentionBody(
  draft: IRetentionDraft
): Checked<Retention | null> {
  if (draft.useDefault) {
    return { body: null };
  }
  const errors: Record<string, string> = {};
  let keepRuns: number | null = null;
  if (draft.keepRuns.trim()) {
    keepRuns = Number(draft.keepRuns);
    if (!Number.isInteger(keepRuns) || keepRuns < 0 || keepRuns > 1e7) {
      errors.keepRuns =
        'A whole number of runs, 0 or more (blank: the default).';
    }
  }
  let keepDays: number | null = null;
  if (draft.keepDays.trim()) {
    keepDays = Number(draft.keepDays);
    if (!Number.isFinite(keepDays) || keepDays < 0 || keepDays > 36500) {
      errors.keepDays = 'A number of days, 0 or more (blank: the default).';
    }
  }
  return checked(
    {
      keep_runs: keepRuns,
      keep_days: keepDays,
      keep_last_failure:
        draft.keepLastFailure === 'default'
          ? null
          : draft.keepLastFailure === 'yes'
    },
    errors
  );
}

/** One rule of a retention in words ("keep the last 20 runs"; null: none). */
export function describeRetention(r: Retention | null | undefined): string {
  if (!r) {
    return 'nothing set';
  }
  const parts: string[] = [];
  if (r.keep_runs !== null && r.keep_runs !== undefined) {
    parts.push(
      r.keep_runs === 1 ? 'the last run' : `the last ${r.keep_runs} runs`
    );
  }
  if (r.keep_days !== null && r.keep_days !== undefined) {
    parts.push(
      `runs younger than ${r.keep_days} ${r.keep_days === 1 ? 'day' : 'days'}`
    );
  }
  if (r.keep_last_failure) {
    parts.push('the last failure');
  }
  if (
    (r.keep_runs === null || r.keep_runs === undefined) &&
    (r.keep_days === null || r.keep_days === undefined)
  ) {
    return 'keeps every run';
  }
  return `keeps ${parts.join(', ')}`;
}

// ------------------------------------------------------------------ backfills

export interface IBackfillDraft {
  mode: 'window' | 'values';
  /** `datetime-local` values, in the browser's time zone. */
  start: string;
  end: string;
  parameter: string;
  /** Comma-separated, or a JSON array. */
  values: string;
  maxConcurrent: string;
}

export function emptyBackfill(now = new Date()): IBackfillDraft {
  const local = (d: Date) => {
    const shifted = new Date(d.getTime() - d.getTimezoneOffset() * 60000);
    return shifted.toISOString().slice(0, 16);
  };
  const end = new Date(now.getTime());
  end.setMinutes(0, 0, 0);
  const start = new Date(end.getTime() - 24 * 3600 * 1000);
  return {
    mode: 'window',
    start: local(start),
    end: local(end),
    parameter: '',
    values: '',
    maxConcurrent: '2'
  };
}

/** A list of values: a JSON array, or comma-separated (numbers read as numbers). */
export function parseValues(text: string): unknown[] | null {
  const trimmed = text.trim();
  if (!trimmed) {
    return null;
  }
  if (trimmed.startsWith('[')) {
    try {
      const parsed = JSON.parse(trimmed);
      return Array.isArray(parsed) && parsed.length ? parsed : null;
    } catch {
      return null;
    }
  }
  return trimmed
    .split(',')
    .map(part => part.trim())
    .filter(part => part.length)
    .map(part => (/^-?\d+(\.\d+)?$/.test(part) ? Number(part) : part));
}

export function backfillBody(draft: IBackfillDraft): Checked<CreateBackfill> {
  const errors: Record<string, string> = {};
  let maxConcurrent: number | null = null;
  if (draft.maxConcurrent.trim()) {
    maxConcurrent = Number(draft.maxConcurrent);
    if (
      !Number.isInteger(maxConcurrent) ||
      maxConcurrent < 1 ||
      maxConcurrent > 10000
    ) {
      errors.maxConcurrent = 'A whole number, 1 or more (blank: no cap).';
    }
  }
  if (draft.mode === 'window') {
    const start = new Date(draft.start);
    const end = new Date(draft.end);
    if (!draft.start || Number.isNaN(start.getTime())) {
      errors.start = 'When the window starts.';
    }
    if (!draft.end || Number.isNaN(end.getTime())) {
      errors.end = 'When the window ends.';
    } else if (!errors.start && end < start) {
      errors.end = 'The end is before the start.';
    }
    if (Object.keys(errors).length) {
      return { errors };
    }
    return {
      body: {
        start: start.toISOString(),
        end: end.toISOString(),
        max_concurrent: maxConcurrent
      }
    };
  }
  const parameter = draft.parameter.trim();
  if (!parameter) {
    errors.parameter = 'The parameter that takes each value.';
  }
  const values = parseValues(draft.values);
  if (!values) {
    errors.values = 'One value or more: 1, 2, 3 or a JSON array.';
  }
  return checked(
    { parameter, values: values ?? [], max_concurrent: maxConcurrent },
    errors
  );
}

// ------------------------------------------------------------------ server refusals

/**
 * A refusal mapped to the fields of a form: the server's `field: why` parts (pydantic's
 * locations) and messages naming a field's words go on that field; a name taken (409) on
 * `name`; the rest under `''`. `fields` maps each form field to the words that name it.
 */
export function refusalErrors(
  reason: unknown,
  fields: Record<string, string[]>
): Record<string, string> {
  if (!(reason instanceof FlowsAPIError)) {
    return { '': describeError(reason) };
  }
  if (reason.error === 'conflict' && 'name' in fields) {
    return { name: reason.message };
  }
  if (
    reason.error !== 'invalid_input' &&
    reason.error !== 'invalid_parameters'
  ) {
    return { '': describeError(reason) };
  }
  const errors: Record<string, string> = {};
  for (const part of reason.message.split('; ')) {
    const located = /^([\w.]+): (.*)$/.exec(part);
    const words = located ? located[1] : part;
    const field = Object.keys(fields).find(key =>
      fields[key].some(word =>
        located
          ? words === word || words.startsWith(`${word}.`)
          : part.includes(word)
      )
    );
    const key = field ?? '';
    errors[key] = errors[key] ? `${errors[key]}; ${part}` : part;
  }
  return errors;
}
