/**
 * How a run came to be, in words: the server's `trigger` (from what it records of the
 * run: a schedule's slot, a backfill, a rerun tag, the client that asked for it).
 */
import type { FlowRun } from '../api';

const LABELS: Record<string, string> = {
  schedule: 'schedule',
  backfill: 'backfill',
  rerun: 'rerun',
  ui: 'UI',
  cli: 'CLI',
  magic: 'magic',
  automation: 'automation',
  subflow: 'subflow',
  api: 'API',
  'ad hoc': 'ad hoc'
};

/** The trigger's label; from the run's other fields when the server does not say. */
export function triggerOf(run: FlowRun): string {
  const trigger: string | undefined = run.trigger; // absent from older servers
  if (trigger) {
    return LABELS[trigger] ?? trigger;
  }
  if (run.tags.some(tag => tag.startsWith('rerun-of:'))) {
    return 'rerun';
  }
  if (run.parent_flow_run_id) {
    return 'subflow';
  }
  return run.deployment_id ? 'deployment' : 'ad hoc';
}
