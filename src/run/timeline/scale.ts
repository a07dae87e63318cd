/**
 * The timeline's shared time axis: task runs' start and end times mapped to pixels, tick
 * marks at round steps, and which tasks were slowest.
 */
import type { TaskRun } from '../../api';

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
  flowEnd?: string | null
): ITimeScale | null {
  const spans = runs.map(r => span(r, now)).filter(Boolean) as {
    start: number;
    end: number;
  }[];
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
