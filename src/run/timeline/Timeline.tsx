/**
 * The run's timeline: one bar per task run on a shared time axis (per cell for a
 * notebook), coloured by state, its retries marked, the slowest tasks named above. The
 * previous run of the same deployment (or flow version) lies under it as ghost bars,
 * each at its offset from that run's start, so a task that got slower stands out (and
 * is marked).
 */
import React from 'react';

import type { FlowRun, FlowRunGraphNode, TaskRun } from '../../api';
import { formatDuration, stateLabel, stateTone } from '../../states';
import {
  IPreviousRun,
  ghostSpans,
  rowKeys,
  scaleFor,
  slowerBy,
  slowest,
  span
} from './scale';

const ROW = 22;
/** The name column's width: a third of a narrow view, at most 170 px. */
const labelWidth = (width: number) => Math.min(170, Math.max(90, width / 3));

export interface ITimelineProps {
  run: FlowRun;
  nodes: FlowRunGraphNode[];
  /** The previous run of the same deployment or flow version, drawn under this one (null: none). */
  previous?: IPreviousRun | null;
  onSelect: (key: string) => void;
}

export function Timeline(props: ITimelineProps): JSX.Element {
  const { run, nodes } = props;
  const box = React.useRef<HTMLDivElement>(null);
  const [boxWidth, setBoxWidth] = React.useState(800);
  const [now, setNow] = React.useState(Date.now());
  React.useEffect(() => {
    const el = box.current;
    if (!el) {
      return;
    }
    const observer = new ResizeObserver(() => setBoxWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const LABEL = labelWidth(boxWidth);
  const width = Math.max(120, boxWidth - LABEL - 40);
  const maxChars = Math.floor(LABEL / 7);
  const live = !run.end_time && !!run.start_time;
  React.useEffect(() => {
    if (!live) {
      return;
    }
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [live]);

  const rows: {
    node: FlowRunGraphNode;
    taskRun: FlowRunGraphNode['task_runs'][number];
  }[] = nodes
    .flatMap(node => node.task_runs.map(taskRun => ({ node, taskRun })))
    // In the order they started; those not started yet last.
    .sort(
      (a, b) =>
        (a.taskRun.start_time ? Date.parse(a.taskRun.start_time) : Infinity) -
        (b.taskRun.start_time ? Date.parse(b.taskRun.start_time) : Infinity)
    );
  // Two cells under one heading share a name: tell them apart by their keys.
  const named = new Map<string, number>();
  nodes.forEach(n => named.set(n.name, (named.get(n.name) ?? 0) + 1));
  const shownName = (n: FlowRunGraphNode) =>
    (named.get(n.name) ?? 0) > 1 ? n.key : n.name;
  const ghosts = ghostSpans(props.previous, run.start_time);
  const scale = scaleFor(
    rows.map(r => r.taskRun),
    width,
    now,
    run.start_time,
    run.end_time,
    [...ghosts.values()]
  );
  if (!scale) {
    return (
      <div className="jp-RunTimeline jp-mod-empty" ref={box}>
        No task has started yet.
      </div>
    );
  }
  const nameOf = new Map(rows.map(r => [r.taskRun.id, shownName(r.node)]));
  const slow = slowest(
    rows.map(r => r.taskRun),
    now
  );
  const keys = rowKeys(nodes);
  const ghostOf = new Map(
    rows.map(r => [r.taskRun.id, ghosts.get(keys.get(r.taskRun.id)!)])
  );
  const more = (t: TaskRun) => {
    const s = span(t, now);
    return s && t.end_time ? slowerBy(s, ghostOf.get(t.id)) : null;
  };
  return (
    <div className="jp-RunTimeline" ref={box}>
      <p className="jp-RunTimeline-slowest">
        Slowest:{' '}
        {slow.map((t, i) => {
          const s = span(t, now)!;
          return (
            <span key={t.id}>
              {i ? ', ' : ''}
              <strong>{nameOf.get(t.id)}</strong> (
              {formatDuration((s.end - s.start) / 1000)}
              {more(t) !== null
                ? `, ${formatDuration(more(t)! / 1000)} slower than before`
                : ''}
              )
            </span>
          );
        })}
      </p>
      {props.previous ? (
        <p className="jp-RunTimeline-legend">
          <svg width="22" height="10" aria-hidden="true">
            <rect
              className="jp-RunTimeline-ghost"
              width="22"
              height="10"
              rx={2}
            />
          </svg>{' '}
          the previous run, <strong>{props.previous.name}</strong>
          {ghosts.size ? '' : ' (no task of it finished)'}
        </p>
      ) : null}
      <svg
        width={LABEL + scale.width + 72}
        height={(rows.length + 1) * ROW + 8}
        role="img"
        aria-label="Task runs on a time axis"
      >
        <g transform={`translate(${LABEL},0)`} className="jp-RunTimeline-axis">
          {scale.ticks.map(tick => (
            <g key={tick.at} transform={`translate(${tick.x},0)`}>
              <line y1={ROW - 4} y2={(rows.length + 1) * ROW} />
              <text y={ROW - 8} textAnchor="middle">
                {tick.label}
              </text>
            </g>
          ))}
        </g>
        {rows.map(({ node, taskRun }, i) => {
          const s = span(taskRun, now);
          const y = (i + 1) * ROW;
          const tone = stateTone(taskRun.state?.type);
          const ghost = ghostOf.get(taskRun.id);
          const slower = more(taskRun);
          return (
            <g
              key={taskRun.id}
              className={
                `jp-RunTimeline-row jp-mod-${tone}` +
                (slower !== null ? ' jp-mod-slower' : '')
              }
              data-key={node.key}
              onClick={() => props.onSelect(node.key)}
            >
              {ghost ? (
                <rect
                  className="jp-RunTimeline-ghost"
                  x={LABEL + scale.x(ghost.start)}
                  y={y + 1}
                  width={Math.max(2, scale.x(ghost.end) - scale.x(ghost.start))}
                  height={ROW - 2}
                  rx={3}
                >
                  <title>
                    {`${node.name} in the previous run: ${formatDuration((ghost.end - ghost.start) / 1000)}`}
                  </title>
                </rect>
              ) : null}
              <text x={LABEL - 8} y={y + 15} textAnchor="end">
                {shownName(node).length > maxChars
                  ? `${shownName(node).slice(0, maxChars - 1)}…`
                  : shownName(node)}
                {node.task_runs.length > 1 ? ` [${taskRun.dynamic_key}]` : ''}
              </text>
              {s ? (
                <rect
                  x={LABEL + scale.x(s.start)}
                  y={y + 4}
                  width={Math.max(2, scale.x(s.end) - scale.x(s.start))}
                  height={ROW - 8}
                  rx={3}
                >
                  <title>
                    {`${node.name}: ${stateLabel(taskRun.state)}, ${formatDuration((s.end - s.start) / 1000)}` +
                      (taskRun.run_count > 1
                        ? `, ${taskRun.run_count} attempts`
                        : '') +
                      (slower !== null
                        ? `, ${formatDuration(slower / 1000)} slower than in the previous run`
                        : '')}
                  </title>
                </rect>
              ) : null}
              {s && taskRun.run_count > 1 ? (
                <text
                  className="jp-RunTimeline-retries"
                  x={LABEL + scale.x(s.end) + 4}
                  y={y + 15}
                >
                  ↻{taskRun.run_count - 1}
                </text>
              ) : null}
              {s && slower !== null ? (
                <text
                  className="jp-RunTimeline-slower"
                  x={
                    LABEL +
                    Math.max(scale.x(s.end), ghost ? scale.x(ghost.end) : 0) +
                    (taskRun.run_count > 1 ? 28 : 4)
                  }
                  y={y + 15}
                >
                  +{formatDuration(slower / 1000)}
                </text>
              ) : null}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
