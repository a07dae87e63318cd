import { HTMLSelect, InputGroup } from '@jupyterlab/ui-components';
import React, { useMemo } from 'react';

import {
  IScheduleDraft,
  IntervalUnit,
  previewSchedule,
  timeZones
} from './schedule';

const LOCAL = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  year: 'numeric',
  month: 'short',
  day: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  timeZoneName: 'short'
});

/** None / interval / cron with a time zone, and the next five runs in local time. */
export function ScheduleEditor(props: {
  draft: IScheduleDraft;
  onChange: (draft: IScheduleDraft) => void;
  idPrefix: string;
}): JSX.Element {
  const { draft, onChange, idPrefix } = props;
  const preview = useMemo(() => previewSchedule(draft), [draft]);
  const zones = useMemo(timeZones, []);
  const errorId = `${idPrefix}-schedule-error`;
  return (
    <fieldset className="jp-FlowsSchedule">
      <legend>Schedule</legend>
      <div
        className="jp-FlowsSchedule-kinds"
        role="radiogroup"
        aria-label="Schedule"
      >
        {(['none', 'interval', 'cron'] as const).map(kind => (
          <label key={kind}>
            <input
              type="radio"
              name={`${idPrefix}-schedule-kind`}
              value={kind}
              checked={draft.kind === kind}
              onChange={() => onChange({ ...draft, kind })}
            />
            {kind === 'none'
              ? 'None'
              : kind === 'interval'
                ? 'Interval'
                : 'Cron'}
          </label>
        ))}
      </div>
      {draft.kind === 'interval' && (
        <div className="jp-FlowsSchedule-row">
          <label htmlFor={`${idPrefix}-every`}>Every</label>
          <InputGroup
            id={`${idPrefix}-every`}
            type="number"
            min={0}
            value={draft.every}
            aria-invalid={!!preview.error}
            aria-describedby={errorId}
            onChange={e =>
              onChange({
                ...draft,
                every: (e.target as HTMLInputElement).value
              })
            }
          />
          <HTMLSelect
            aria-label="Interval unit"
            value={draft.unit}
            onChange={e =>
              onChange({ ...draft, unit: e.target.value as IntervalUnit })
            }
            options={['minutes', 'hours', 'days']}
          />
        </div>
      )}
      {draft.kind === 'cron' && (
        <div className="jp-FlowsSchedule-row">
          <label htmlFor={`${idPrefix}-cron`}>Cron</label>
          <InputGroup
            id={`${idPrefix}-cron`}
            className="jp-FlowsSchedule-cron"
            value={draft.cron}
            placeholder="0 6 * * *"
            spellCheck={false}
            aria-invalid={!!preview.error}
            aria-describedby={errorId}
            onChange={e =>
              onChange({ ...draft, cron: (e.target as HTMLInputElement).value })
            }
          />
          <label
            htmlFor={`${idPrefix}-tz`}
            className="jp-FlowsSchedule-tzLabel"
          >
            Time zone
          </label>
          <input
            id={`${idPrefix}-tz`}
            className="jp-FlowsInput jp-FlowsSchedule-tz"
            list={`${idPrefix}-zones`}
            value={draft.timezone}
            onChange={e => onChange({ ...draft, timezone: e.target.value })}
          />
          <datalist id={`${idPrefix}-zones`}>
            {zones.map(zone => (
              <option key={zone} value={zone} />
            ))}
          </datalist>
        </div>
      )}
      <div id={errorId} aria-live="polite">
        {preview.error ? (
          <p className="jp-FlowsField-error" data-testid="schedule-error">
            {preview.error}
          </p>
        ) : draft.kind !== 'none' ? (
          <div
            className="jp-FlowsSchedule-preview"
            data-testid="schedule-preview"
          >
            <p className="jp-FlowsSchedule-description">
              {preview.description}
            </p>
            <p className="jp-FlowsSchedule-nextLabel">
              Next runs, in your time zone:
            </p>
            <ol>
              {preview.next.map(date => (
                <li key={date.getTime()}>{LOCAL.format(date)}</li>
              ))}
            </ol>
          </div>
        ) : null}
      </div>
    </fieldset>
  );
}
