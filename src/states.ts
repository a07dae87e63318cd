/** How run states read and look; the types themselves come from openapi.yaml. */
import type { FlowRun, State, StateType } from './api';
import { stateTypeValues } from './openapi';

export const STATE_TYPES: ReadonlyArray<StateType> = stateTypeValues;

/** States of a run that has been claimed and has not ended. */
export const ACTIVE_STATES: ReadonlyArray<StateType> = [
  'PENDING',
  'RUNNING',
  'RETRYING',
  'CANCELLING'
];

export const FINAL_STATES: ReadonlyArray<StateType> = [
  'COMPLETED',
  'FAILED',
  'CANCELLED',
  'CRASHED',
  'TIMED_OUT'
];

export function isActive(state: State | null | undefined): boolean {
  return !!state && ACTIVE_STATES.includes(state.type);
}

export function isFinal(state: State | null | undefined): boolean {
  return !!state && FINAL_STATES.includes(state.type);
}

/** The colour family of a state: a CSS modifier the theme variables colour. */
export function stateTone(type: StateType | null | undefined): string {
  switch (type) {
    case 'COMPLETED':
      return 'success';
    case 'FAILED':
    case 'CRASHED':
    case 'TIMED_OUT':
      return 'error';
    case 'RUNNING':
    case 'RETRYING':
    case 'PENDING':
      return 'running';
    case 'CANCELLING':
    case 'CANCELLED':
      return 'muted';
    case 'SCHEDULED':
      return 'scheduled';
    default:
      return 'none';
  }
}

/** `TIMED_OUT` → `Timed out`. */
export function typeLabel(type: StateType): string {
  const words = type.toLowerCase().replace('_', ' ');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** The state's own name (Late, Cached, AwaitingRetry…) or "Not run". */
export function stateLabel(state: State | null | undefined): string {
  return state ? state.name : 'Not run';
}

/** When a run started, else when it is expected to. */
export function runTime(run: FlowRun): string | null {
  return run.start_time ?? run.expected_start_time ?? run.created;
}

/** Seconds as `40 ms`, `1.2 s`, `3 min 4 s`, `2 h 5 min`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) {
    return '—';
  }
  if (seconds < 1) {
    // A cell or task of a few milliseconds read as "0.0 s", as if it had not run.
    return `${Math.round(seconds * 1000)} ms`;
  }
  if (seconds < 10) {
    return `${seconds.toFixed(1)} s`;
  }
  if (seconds < 60) {
    return `${Math.round(seconds)} s`;
  }
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) {
    return `${minutes} min ${Math.round(seconds % 60)} s`;
  }
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** A run's duration: total run time when ended, else time since it started. */
export function runDuration(run: FlowRun, now = Date.now()): number | null {
  if (run.end_time || !run.start_time) {
    return run.start_time ? run.total_run_time : null;
  }
  return (now - Date.parse(run.start_time)) / 1000;
}

const RELATIVE = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/** `3 minutes ago`, `in 2 hours`, in the user's locale. */
export function relativeTime(
  iso: string | null | undefined,
  now = Date.now()
): string {
  if (!iso) {
    return '—';
  }
  const seconds = (Date.parse(iso) - now) / 1000;
  const abs = Math.abs(seconds);
  if (abs < 45) {
    return seconds < 0 ? 'just now' : 'in a few seconds';
  }
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['minute', 60],
    ['hour', 3600],
    ['day', 86400],
    ['month', 2592000],
    ['year', 31536000]
  ];
  let chosen = units[0];
  for (const unit of units) {
    if (abs >= unit[1] * 0.9) {
      chosen = unit;
    }
  }
  return RELATIVE.format(Math.round(seconds / chosen[1]), chosen[0]);
}

const ABSOLUTE = new Intl.DateTimeFormat(undefined, {
  dateStyle: 'medium',
  timeStyle: 'short'
});

/** A local date and time for tooltips and tables. */
export function localTime(iso: string | null | undefined): string {
  return iso ? ABSOLUTE.format(new Date(iso)) : '—';
}
