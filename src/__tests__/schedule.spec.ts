/** The schedule preview: the next runs of a cron line in its time zone, or of an interval. */
import { draftOf, emptyDraft, previewSchedule } from '../register/schedule';

const NOW = new Date('2026-03-07T10:30:00Z');

describe('previewSchedule', () => {
  it('needs nothing for no schedule', () => {
    const preview = previewSchedule({ ...emptyDraft(), kind: 'none' }, NOW);
    expect(preview).toEqual({
      schedule: null,
      error: null,
      description: 'Runs only when started',
      next: []
    });
  });

  it('gives the next five runs of a cron line, read in its time zone', () => {
    const preview = previewSchedule(
      {
        ...emptyDraft(),
        kind: 'cron',
        cron: '0 6 * * *',
        timezone: 'Europe/Paris'
      },
      NOW
    );
    expect(preview.error).toBeNull();
    expect(preview.schedule).toEqual({
      cron: '0 6 * * *',
      timezone: 'Europe/Paris'
    });
    expect(preview.description).toBe('At 06:00 AM (Europe/Paris)');
    // 06:00 in Paris is 05:00 UTC in winter, 04:00 after the switch on 29 March.
    expect(preview.next.map(d => d.toISOString())).toEqual([
      '2026-03-08T05:00:00.000Z',
      '2026-03-09T05:00:00.000Z',
      '2026-03-10T05:00:00.000Z',
      '2026-03-11T05:00:00.000Z',
      '2026-03-12T05:00:00.000Z'
    ]);
  });

  it('crosses a daylight-saving change on the local wall clock', () => {
    const preview = previewSchedule(
      {
        ...emptyDraft(),
        kind: 'cron',
        cron: '0 6 * * *',
        timezone: 'Europe/Paris'
      },
      new Date('2026-03-28T12:00:00Z'),
      2
    );
    expect(preview.next.map(d => d.toISOString())).toEqual([
      '2026-03-29T04:00:00.000Z',
      '2026-03-30T04:00:00.000Z'
    ]);
  });

  it.each([
    ['0 6 * *', /has 5 fields .* this one has 4/],
    ['61 * * * *', /^Not a valid cron expression/],
    ['', /this one has 0/]
  ])('explains the invalid expression %p', (cron, message) => {
    const preview = previewSchedule(
      { ...emptyDraft(), kind: 'cron', cron, timezone: 'UTC' },
      NOW
    );
    expect(preview.schedule).toBeNull();
    expect(preview.error).toMatch(message);
    expect(preview.next).toEqual([]);
  });

  it('refuses an unknown time zone', () => {
    const preview = previewSchedule(
      {
        ...emptyDraft(),
        kind: 'cron',
        cron: '* * * * *',
        timezone: 'Mars/Olympus'
      },
      NOW
    );
    expect(preview.error).toBe(
      '"Mars/Olympus" is not a time zone (e.g. UTC, Europe/Paris).'
    );
  });

  it('turns an interval into seconds and its next runs', () => {
    const preview = previewSchedule(
      { ...emptyDraft(), kind: 'interval', every: '2', unit: 'hours' },
      NOW,
      2
    );
    expect(preview.schedule).toEqual({ interval_seconds: 7200 });
    expect(preview.description).toBe('Every 2 hours');
    expect(preview.next.map(d => d.toISOString())).toEqual([
      '2026-03-07T12:30:00.000Z',
      '2026-03-07T14:30:00.000Z'
    ]);
  });

  it.each(['0', '-1', 'x', ''])('refuses the interval %p', every => {
    const preview = previewSchedule(
      { ...emptyDraft(), kind: 'interval', every },
      NOW
    );
    expect(preview.error).toBe('The interval must be a number greater than 0.');
  });
});

describe('draftOf', () => {
  it('reads stored schedules back into the editor', () => {
    expect(draftOf({ interval_seconds: 86400 })).toMatchObject({
      kind: 'interval',
      every: '1',
      unit: 'days'
    });
    expect(draftOf({ interval_seconds: 300 })).toMatchObject({
      kind: 'interval',
      every: '5',
      unit: 'minutes'
    });
    expect(
      draftOf({ cron: '5 4 * * 1', timezone: 'Asia/Tokyo' })
    ).toMatchObject({
      kind: 'cron',
      cron: '5 4 * * 1',
      timezone: 'Asia/Tokyo'
    });
    expect(draftOf(null).kind).toBe('none');
  });
});
