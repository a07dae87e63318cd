/**
 * The timeline's shared time axis: task runs' start and end times mapped to pixels, tick
 * marks at round steps, which tasks were slowest, and the previous run's task runs laid
 * on this run's axis (ghosts) to compare with.
 */
import type { FlowRunGraphNode, TaskRun } from '../../api';

export interface ITimeScale {
  /** The axis's first and last instants (ms since the epoch). */
  start: number;
  end: number;
  width: number;
  x(time: number): number;
  ticks: { at: number; x: number; label: string }[];
}

const STEPS_S = [
  0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
  14400, 43200, 86400
];

function stepLabel(offsetS: number, stepS: number): string {
  if (stepS < 1) {
    return `${offsetS.toFixed(1)} s`;
  }
  if (stepS < 60) {
    return `${Math.round(offsetS)} s`;
  }
  if (stepS < 3600) {
    return `${Math.round(offsetS / 60)} min`;
  }
  return `${Math.round(offsetS / 3600)} h`;
}

export interface ISpan {
  start: number;
  end: number;
}

/** When a task run began and ended (ended: now, while it runs); null if it never started. */
export function span(
  run: TaskRun,
  now: number
): { start: number; end: number } | null {
  if (!run.start_time) {
    return null;
  }
  const start = Date.parse(run.start_time);
  const end = run.end_time ? Date.parse(run.end_time) : now;
  return { start, end: Math.max(start, end) };
}

/**
 * A scale over [start, end] (ms) drawn in `width` pixels, with at most `maxTicks` ticks at
 * a round step, labelled as time since `start`.
 */
export function timeScale(
  start: number,
  end: number,
  width: number,
  maxTicks = 8
): ITimeScale {
  const length = Math.max(end - start, 1);
  const x = (time: number) => ((time - start) / length) * width;
  const seconds = length / 1000;
  const step =
    STEPS_S.find(s => seconds / s <= maxTicks) ?? STEPS_S[STEPS_S.length - 1];
  const ticks = [];
  for (let t = 0; t <= seconds + 1e-9; t += step) {
    const at = start + t * 1000;
    ticks.push({ at, x: x(at), label: stepLabel(t, step) });
  }
  return { start, end: start + length, width, x, ticks };
}

/** The scale that holds every started task run (and the flow run's own span). */
export function scaleFor(
  runs: TaskRun[],
  width: number,
  now: number,
  flowStart?: string | null,
  flowEnd?: string | null,
  also: ISpan[] = []
): ITimeScale | null {
  const spans = runs.map(r => span(r, now)).filter(Boolean) as ISpan[];
  spans.push(...also);
  if (flowStart) {
    spans.push({
      start: Date.parse(flowStart),
      end: flowEnd ? Date.parse(flowEnd) : now
    });
  }
  if (!spans.length) {
    return null;
  }
  const start = Math.min(...spans.map(s => s.start));
  const end = Math.max(...spans.map(s => s.end));
  return timeScale(start, end, width);
}

/** The `count` task runs that took longest (finished or not), longest first. */
export function slowest(runs: TaskRun[], now: number, count = 3): TaskRun[] {
  const length = (r: TaskRun) => {
    const s = span(r, now);
    return s ? s.end - s.start : -1;
  };
  return runs
    .filter(r => r.start_time)
    .sort((a, b) => length(b) - length(a))
    .slice(0, count);
}

/** The previous run of the same flow version (or deployment), to compare with. */
export interface IPreviousRun {
  /** Its name, shown in the legend. */
  name: string;
  start_time: string | null;
  nodes: FlowRunGraphNode[];
}

/**
 * A task run's place, the same in every run of the flow: its task and which call of it
 * it is, in start order (a mapped task is called many times; task run ids and dynamic
 * keys differ from run to run).
 */
export function rowKeys(nodes: FlowRunGraphNode[]): Map<string, string> {
  const keys = new Map<string, string>();
  const started = (t: TaskRun) =>
    t.start_time ? Date.parse(t.start_time) : Infinity;
  for (const node of nodes) {
    [...node.task_runs]
      .sort((a, b) => started(a) - started(b) || a.id.localeCompare(b.id))
      .forEach((t, i) => keys.set(t.id, `${node.key}#${i}`));
  }
  return keys;
}

/**
 * The previous run's task runs moved onto this run's axis: each keeps its offset from
 * its own run's start, counted from `runStart` (this run's start). Keyed by `rowKeys`;
 * empty when either run has not started.
 */
export function ghostSpans(
  previous: IPreviousRun | null | undefined,
  runStart: string | null | undefined
): Map<string, ISpan> {
  const ghosts = new Map<string, ISpan>();
  if (!previous?.start_time || !runStart) {
    return ghosts;
  }
  const shift = Date.parse(runStart) - Date.parse(previous.start_time);
  const keys = rowKeys(previous.nodes);
  for (const node of previous.nodes) {
    for (const taskRun of node.task_runs) {
      const s = span(taskRun, Date.parse(previous.start_time));
      if (s && taskRun.end_time) {
        ghosts.set(keys.get(taskRun.id)!, {
          start: s.start + shift,
          end: s.end + shift
        });
      }
    }
  }
  return ghosts;
}

/** Slower than before by at least this share of the previous time … */
export const SLOWER_RATIO = 1.25;
/** … and by at least this much (ms): a 40 ms task taking 60 ms is noise. */
export const SLOWER_MIN_MS = 200;

/** How much longer (ms) a task took than in the previous run, if that stands out. */
export function slowerBy(
  current: ISpan,
  previous: ISpan | undefined
): number | null {
  if (!previous) {
    return null;
  }
  const now = current.end - current.start;
  const before = previous.end - previous.start;
  const more = now - before;
  return more >= SLOWER_MIN_MS && now >= before * SLOWER_RATIO ? more : null;
}
