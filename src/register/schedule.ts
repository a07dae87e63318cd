/**
 * Schedules as a person edits them (none, every N units, or cron in a time zone), what the
 * server stores (openapi.yaml `Schedule`), and the preview of the next runs in the
 * user's local time.
 */
import { CronExpressionParser } from 'cron-parser';
import cronstrue from 'cronstrue';

import type { Schedule } from '../api';

export type IntervalUnit = 'minutes' | 'hours' | 'days';

export interface IScheduleDraft {
  kind: 'none' | 'interval' | 'cron';
  every: string;
  unit: IntervalUnit;
  cron: string;
  timezone: string;
}

const UNIT_SECONDS: Record<IntervalUnit, number> = {
  minutes: 60,
  hours: 3600,
  days: 86400
};

/** The browser's own time zone: the cron default a person expects. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

export function emptyDraft(): IScheduleDraft {
  return {
    kind: 'none',
    every: '1',
    unit: 'hours',
    cron: '0 6 * * *',
    timezone: localTimeZone()
  };
}

/** The draft of a stored schedule. */
export function draftOf(schedule: Schedule | null | undefined): IScheduleDraft {
  const draft = emptyDraft();
  if (!schedule) {
    return draft;
  }
  if ('cron' in schedule) {
    return {
      ...draft,
      kind: 'cron',
      cron: schedule.cron,
      timezone: schedule.timezone ?? 'UTC'
    };
  }
  const seconds = schedule.interval_seconds;
  const unit: IntervalUnit =
    seconds % 86400 === 0 ? 'days' : seconds % 3600 === 0 ? 'hours' : 'minutes';
  return {
    ...draft,
    kind: 'interval',
    every: String(seconds / UNIT_SECONDS[unit]),
    unit
  };
}

export interface ISchedulePreview {
  /** The schedule to send, or null for none. */
  schedule: Schedule | null;
  /** Why the draft cannot be saved (shown inline), else null. */
  error: string | null;
  /** "At 06:00 AM" (cron) or "Every 2 hours". */
  description: string;
  /** The next runs, as Dates (shown in the user's local time). */
  next: Date[];
}

/** Check a draft and compute its next `count` runs after `now`. */
export function previewSchedule(
  draft: IScheduleDraft,
  now = new Date(),
  count = 5
): ISchedulePreview {
  if (draft.kind === 'none') {
    return {
      schedule: null,
      error: null,
      description: 'Runs only when started',
      next: []
    };
  }
  if (draft.kind === 'interval') {
    const every = Number(draft.every);
    if (!draft.every.trim() || !isFinite(every) || every <= 0) {
      return {
        schedule: null,
        error: 'The interval must be a number greater than 0.',
        description: '',
        next: []
      };
    }
    const seconds = every * UNIT_SECONDS[draft.unit];
    const next = Array.from(
      { length: count },
      (_, i) => new Date(now.getTime() + (i + 1) * seconds * 1000)
    );
    return {
      schedule: { interval_seconds: seconds },
      error: null,
      description: `Every ${every} ${every === 1 ? draft.unit.slice(0, -1) : draft.unit}`,
      next
    };
  }
  const cron = draft.cron.trim().replace(/\s+/g, ' ');
  const fields = cron.split(' ').length;
  if (fields !== 5) {
    return {
      schedule: null,
      error: `A cron expression has 5 fields (minute hour day-of-month month day-of-week); this one has ${cron ? fields : 0}.`,
      description: '',
      next: []
    };
  }
  if (!isTimeZone(draft.timezone)) {
    return {
      schedule: null,
      error: `"${draft.timezone}" is not a time zone (e.g. UTC, Europe/Paris).`,
      description: '',
      next: []
    };
  }
  try {
    const expression = CronExpressionParser.parse(cron, {
      currentDate: now,
      tz: draft.timezone,
      strict: false
    });
    const next = expression.take(count).map(date => date.toDate());
    return {
      schedule: { cron, timezone: draft.timezone },
      error: null,
      description: `${cronstrue.toString(cron, { verbose: false })} (${draft.timezone})`,
      next
    };
  } catch (reason) {
    const message = reason instanceof Error ? reason.message : String(reason);
    return {
      schedule: null,
      error: `Not a valid cron expression: ${message}`,
      description: '',
      next: []
    };
  }
}

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat(undefined, { timeZone: zone });
    return !!zone.trim();
  } catch {
    return false;
  }
}

/** Every IANA zone the browser knows, for the time zone list. */
export function timeZones(): string[] {
  const intl = Intl as unknown as {
    supportedValuesOf?: (key: string) => string[];
  };
  const zones = intl.supportedValuesOf?.('timeZone') ?? [];
  return zones.includes('UTC') ? zones : ['UTC', ...zones];
}
