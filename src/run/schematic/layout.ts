/**
 * The schematic's layout adapter: a run graph (tasks, their task runs, edges) in, boxes
 * and edge routes out, laid out left to right by elkjs's layered algorithm. A task called
 * many times (mapped) is one box with a count; its state is the "worst" of its runs.
 */
import ELK from 'elkjs/lib/elk.bundled.js';
import type { ElkNode } from 'elkjs/lib/elk-api';

import type { FlowRunGraphEdge, FlowRunGraphNode, State } from '../../api';

export const NODE_WIDTH = 168;
export const NODE_HEIGHT = 44;

export interface ILaidOutNode {
  key: string;
  name: string;
  kind: string;
  cellIds: string[];
  /** How many task runs the box stands for (more than one: a mapped task). */
  count: number;
  state: State | null;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface ILaidOutEdge {
  id: string;
  source: string;
  target: string;
  label: string;
  /** The route's points, start to end. */
  points: { x: number; y: number }[];
  labelAt: { x: number; y: number } | null;
}

export interface ILayout {
  nodes: ILaidOutNode[];
  edges: ILaidOutEdge[];
  width: number;
  height: number;
}

/** Which state a box shows for many task runs: a failure first, then what is moving. */
const PRECEDENCE = [
  'CRASHED',
  'FAILED',
  'TIMED_OUT',
  'RUNNING',
  'RETRYING',
  'CANCELLING',
  'PENDING',
  'SCHEDULED',
  'CANCELLED',
  'COMPLETED'
];

export function summaryState(node: FlowRunGraphNode): State | null {
  let best: State | null = null;
  for (const run of node.task_runs) {
    const state = run.state;
    if (!state) {
      continue;
    }
    if (
      !best ||
      PRECEDENCE.indexOf(state.type) < PRECEDENCE.indexOf(best.type)
    ) {
      best = state;
    }
  }
  return best;
}

/** An edge's label: the names that flow along it (the first few). */
export function edgeLabel(edge: FlowRunGraphEdge): string {
  const names = edge.names;
  if (names.length <= 2) {
    return names.join(', ');
  }
  return `${names.slice(0, 2).join(', ')} +${names.length - 2}`;
}

const LABEL_CHAR_WIDTH = 6.5;

let engine: InstanceType<typeof ELK> | null = null;

/** Above this many tasks elkjs takes seconds: a plain longest-path layering is used. */
export const LARGE_GRAPH = 150;

export async function layoutGraph(
  nodes: FlowRunGraphNode[],
  edges: FlowRunGraphEdge[]
): Promise<ILayout> {
  const known = new Set(nodes.map(n => n.key));
  const kept = edges.filter(e => known.has(e.source) && known.has(e.target));
  if (nodes.length > LARGE_GRAPH) {
    return quickLayout(nodes, kept);
  }
  engine = engine ?? new ELK();
  const graph: ElkNode = {
    id: 'root',
    layoutOptions: {
      'elk.algorithm': 'layered',
      'elk.direction': 'RIGHT',
      'elk.edgeRouting': 'POLYLINE',
      'elk.layered.spacing.nodeNodeBetweenLayers': '56',
      'elk.spacing.nodeNode': '20',
      'elk.spacing.edgeLabel': '4',
      'elk.edgeLabels.inline': 'true'
    },
    children: nodes.map(n => ({
      id: n.key,
      width: NODE_WIDTH,
      height: NODE_HEIGHT
    })),
    edges: kept.map((e, i) => {
      const label = edgeLabel(e);
      return {
        id: `e${i}`,
        sources: [e.source],
        targets: [e.target],
        labels: label
          ? [
              {
                id: `l${i}`,
                text: label,
                width: label.length * LABEL_CHAR_WIDTH,
                height: 12
              }
            ]
          : []
      };
    })
  };
  const laid = await engine.layout(graph);
  const byKey = new Map(nodes.map(n => [n.key, n]));
  // Two cells under one heading share a name: tell them apart by their keys.
  const named = new Map<string, number>();
  nodes.forEach(n => named.set(n.name, (named.get(n.name) ?? 0) + 1));
  const shownName = (n: FlowRunGraphNode) =>
    (named.get(n.name) ?? 0) > 1 ? n.key : n.name;
  const outNodes: ILaidOutNode[] = (laid.children ?? []).map(child => {
    const node = byKey.get(child.id)!;
    return {
      key: node.key,
      name: shownName(node),
      kind: node.kind,
      cellIds: node.cell_ids,
      count: node.task_runs.length,
      state: summaryState(node),
      x: child.x ?? 0,
      y: child.y ?? 0,
      width: child.width ?? NODE_WIDTH,
      height: child.height ?? NODE_HEIGHT
    };
  });
  const outEdges: ILaidOutEdge[] = (laid.edges ?? []).map((edge, i) => {
    const section = edge.sections?.[0];
    const points = section
      ? [section.startPoint, ...(section.bendPoints ?? []), section.endPoint]
      : [];
    const label = edge.labels?.[0];
    return {
      id: edge.id,
      source: kept[i].source,
      target: kept[i].target,
      label: label?.text ?? '',
      points,
      labelAt: label ? { x: label.x ?? 0, y: label.y ?? 0 } : null
    };
  });
  return {
    nodes: outNodes,
    edges: outEdges,
    width: laid.width ?? 0,
    height: laid.height ?? 0
  };
}

/**
 * A layout in linear time for large graphs: each task in the column of its longest path
 * from a root, stacked in the order given, edges drawn straight, labels at their middle.
 */
export function quickLayout(
  nodes: FlowRunGraphNode[],
  edges: FlowRunGraphEdge[]
): ILayout {
  const GAP_X = 80;
  const GAP_Y = 16;
  const upstream = new Map<string, string[]>();
  edges.forEach(e =>
    upstream.set(e.target, [...(upstream.get(e.target) ?? []), e.source])
  );
  const column = new Map<string, number>();
  const visiting = new Set<string>();
  const columnOf = (key: string): number => {
    const known = column.get(key);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(key)) {
      return 0; // a cycle (not in a DAG): break it
    }
    visiting.add(key);
    const sources = upstream.get(key) ?? [];
    const value = sources.length ? 1 + Math.max(...sources.map(columnOf)) : 0;
    visiting.delete(key);
    column.set(key, value);
    return value;
  };
  const rows: number[] = [];
  const laid = nodes.map(node => {
    const col = columnOf(node.key);
    const row = rows[col] ?? 0;
    rows[col] = row + 1;
    return {
      key: node.key,
      name: node.name,
      kind: node.kind,
      cellIds: node.cell_ids,
      count: node.task_runs.length,
      state: summaryState(node),
      x: col * (NODE_WIDTH + GAP_X),
      y: row * (NODE_HEIGHT + GAP_Y),
      width: NODE_WIDTH,
      height: NODE_HEIGHT
    };
  });
  const byKey = new Map(laid.map(n => [n.key, n]));
  const outEdges: ILaidOutEdge[] = edges.map((e, i) => {
    const a = byKey.get(e.source)!;
    const b = byKey.get(e.target)!;
    const start = { x: a.x + a.width, y: a.y + a.height / 2 };
    const end = { x: b.x, y: b.y + b.height / 2 };
    const label = edgeLabel(e);
    return {
      id: `e${i}`,
      source: e.source,
      target: e.target,
      label,
      points: [start, end],
      labelAt: label
        ? {
            x: (start.x + end.x) / 2 - (label.length * LABEL_CHAR_WIDTH) / 2,
            y: (start.y + end.y) / 2 - 12
          }
        : null
    };
  });
  return {
    nodes: laid,
    edges: outEdges,
    width: Math.max(0, ...laid.map(n => n.x + n.width)),
    height: Math.max(0, ...laid.map(n => n.y + n.height))
  };
}

/**
 * The node keyboard navigation moves to from `from` in a direction: along the edges
 * (right: a downstream task, left: an upstream one), else the nearest box that way.
 */
export function neighbour(
  layout: ILayout,
  from: string,
  direction: 'left' | 'right' | 'up' | 'down'
): string | null {
  const here = layout.nodes.find(n => n.key === from);
  if (!here) {
    return layout.nodes[0]?.key ?? null;
  }
  const cx = (n: ILaidOutNode) => n.x + n.width / 2;
  const cy = (n: ILaidOutNode) => n.y + n.height / 2;
  const candidates = layout.nodes.filter(n => {
    if (n.key === from) {
      return false;
    }
    switch (direction) {
      case 'right':
        return cx(n) > cx(here) + 1;
      case 'left':
        return cx(n) < cx(here) - 1;
      case 'down':
        return cy(n) > cy(here) + 1;
      case 'up':
        return cy(n) < cy(here) - 1;
    }
  });
  const linked = new Set(
    layout.edges
      .filter(e =>
        direction === 'right'
          ? e.source === from
          : direction === 'left'
            ? e.target === from
            : false
      )
      .map(e => (direction === 'right' ? e.target : e.source))
  );
  const distance = (n: ILaidOutNode) =>
    (linked.has(n.key) ? 0 : 1e6) +
    Math.hypot(cx(n) - cx(here), (cy(n) - cy(here)) * 2);
  candidates.sort((a, b) => distance(a) - distance(b));
  return candidates[0]?.key ?? null;
}
