import React from 'react';

import type { IFlowSpecEdge, IFlowSpecTask } from '../api';

/** Each task's column: the length of the longest path of edges that leads to it. */
export function layers(
  tasks: IFlowSpecTask[],
  edges: IFlowSpecEdge[]
): Map<string, number> {
  const depth = new Map<string, number>(tasks.map(task => [task.key, 0]));
  // Edges point forward in file order, so one pass in task order settles every depth.
  const incoming = new Map<string, string[]>();
  edges.forEach(edge =>
    incoming.set(edge.target, [
      ...(incoming.get(edge.target) ?? []),
      edge.source
    ])
  );
  for (const task of tasks) {
    const sources = incoming.get(task.key) ?? [];
    const d = sources.reduce(
      (max, source) => Math.max(max, (depth.get(source) ?? 0) + 1),
      0
    );
    depth.set(task.key, d);
  }
  return depth;
}

const NODE_W = 112;
const NODE_H = 22;
const GAP_X = 28;
const GAP_Y = 8;

/** The inferred DAG in miniature: tasks in columns by depth, edges as curves. */
export function DagPreview(props: {
  tasks: IFlowSpecTask[];
  edges: IFlowSpecEdge[];
}): JSX.Element {
  const { tasks, edges } = props;
  const depth = layers(tasks, edges);
  const rows = new Map<number, number>();
  const place = new Map<string, { x: number; y: number }>();
  for (const task of tasks) {
    const column = depth.get(task.key) ?? 0;
    const row = rows.get(column) ?? 0;
    rows.set(column, row + 1);
    place.set(task.key, {
      x: column * (NODE_W + GAP_X),
      y: row * (NODE_H + GAP_Y)
    });
  }
  const width = Math.max(...[...place.values()].map(p => p.x), 0) + NODE_W + 2;
  const height = Math.max(...[...place.values()].map(p => p.y), 0) + NODE_H + 2;
  const summary = `${tasks.length} tasks, ${edges.length} edges`;
  return (
    <div
      className="jp-FlowsDag"
      role="img"
      aria-label={`Task graph: ${summary}`}
    >
      <svg width={width} height={height} viewBox={`-1 -1 ${width} ${height}`}>
        {edges.map(edge => {
          const a = place.get(edge.source);
          const b = place.get(edge.target);
          if (!a || !b) {
            return null;
          }
          const x1 = a.x + NODE_W;
          const y1 = a.y + NODE_H / 2;
          const x2 = b.x;
          const y2 = b.y + NODE_H / 2;
          const mid = (x1 + x2) / 2;
          return (
            <path
              key={`${edge.source}->${edge.target}`}
              className="jp-FlowsDag-edge"
              d={`M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`}
            >
              <title>
                {edge.source} → {edge.target}
                {edge.names.length ? `: ${edge.names.join(', ')}` : ''}
              </title>
            </path>
          );
        })}
        {tasks.map(task => {
          const p = place.get(task.key)!;
          return (
            <g key={task.key} transform={`translate(${p.x},${p.y})`}>
              <rect
                className={`jp-FlowsDag-node${task.kind === 'parameters' ? ' jp-mod-parameters' : ''}`}
                width={NODE_W}
                height={NODE_H}
                rx={4}
              />
              <text x={6} y={NODE_H / 2 + 4} className="jp-FlowsDag-label">
                {task.name.length > 16
                  ? `${task.name.slice(0, 15)}…`
                  : task.name}
              </text>
              <title>
                {task.name} (cells {task.cell_indices.join(', ')})
              </title>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
