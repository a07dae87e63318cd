/** The run history's server-side sort (which order a header click asks for) and its
 * trigger column. */
import type { FlowRun } from '../api';
import { nextSort, sortParts } from '../flow/sort';
import { triggerOf } from '../flow/trigger';

describe('nextSort', () => {
  it('starts each column in its natural order', () => {
    expect(nextSort('-start', 'duration')).toBe('-duration');
    expect(nextSort('-start', 'state')).toBe('state');
    expect(nextSort('state', 'start')).toBe('-start');
  });

  it('flips the direction of the column already sorted', () => {
    expect(nextSort('-start', 'start')).toBe('start');
    expect(nextSort('start', 'start')).toBe('-start');
    expect(nextSort('state', 'state')).toBe('-state');
    expect(nextSort('-duration', 'duration')).toBe('duration');
  });

  it('reads a sort as its column and direction', () => {
    expect(sortParts('-duration')).toEqual({
      column: 'duration',
      descending: true
    });
    expect(sortParts('state')).toEqual({ column: 'state', descending: false });
  });
});

function run(
  fields: Partial<Omit<FlowRun, 'trigger'>> & { trigger?: string }
): FlowRun {
  return {
    tags: [],
    parent_flow_run_id: null,
    deployment_id: null,
    ...fields
  } as unknown as FlowRun;
}

describe('triggerOf', () => {
  it.each([
    ['schedule', 'schedule'],
    ['backfill', 'backfill'],
    ['rerun', 'rerun'],
    ['ui', 'UI'],
    ['cli', 'CLI'],
    ['magic', 'magic'],
    ['automation', 'automation'],
    ['api', 'API'],
    ['ad hoc', 'ad hoc']
  ])('shows the server trigger %s as %s', (trigger, label) => {
    expect(triggerOf(run({ trigger }))).toBe(label);
  });

  it('falls back on the run fields for a server that does not say', () => {
    expect(triggerOf(run({ tags: ['rerun-of:abc'] }))).toBe('rerun');
    expect(triggerOf(run({ parent_flow_run_id: 'p' }))).toBe('subflow');
    expect(triggerOf(run({ deployment_id: 'd' }))).toBe('deployment');
    expect(triggerOf(run({}))).toBe('ad hoc');
  });
});
