/**
 * The run view's pure parts: the schematic's layout adapter (elkjs), the paged log
 * cursor, and the timeline's time scale.
 */
import type {
  FlowRunGraphNode,
  LogLine,
  LogPage,
  StateType,
  TaskRun
} from '../api';
import { LogCursor, ILogPageRequest, sourceOf } from '../run/logs/cursor';
import {
  edgeLabel,
  layoutGraph,
  neighbour,
  summaryState
} from '../run/schematic/layout';
import {
  ghostSpans,
  rowKeys,
  scaleFor,
  slowerBy,
  slowest,
  timeScale
} from '../run/timeline/scale';
import { formatDuration } from '../states';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

function taskRun(
  id: string,
  type: string | null,
  start?: number,
  end?: number,
  runCount = 1
): FlowRunGraphNode['task_runs'][number] {
  return {
    id,
    flow_run_id: 'run',
    name: id,
    task_key: id,
    task_inputs: {},
    tags: [],
    cache_key: null,
    state: type
      ? { type: type as StateType, name: type, message: null, timestamp: at(0) }
      : null,
    run_count: runCount,
    start_time: start === undefined ? null : at(start),
    end_time: end === undefined ? null : at(end),
    total_run_time: start !== undefined && end !== undefined ? end - start : 0,
    dynamic_key: '0'
  };
}

function node(
  key: string,
  runs: FlowRunGraphNode['task_runs'] = []
): FlowRunGraphNode {
  return {
    key,
    name: key,
    kind: 'code',
    cell_ids: [`cell-${key}`],
    task_runs: runs
  };
}

describe('layout adapter', () => {
  it('lays a DAG out left to right with labelled edges', async () => {
    const nodes = [node('load'), node('clean'), node('report'), node('plot')];
    const edges = [
      { source: 'load', target: 'clean', names: ['df'] },
      { source: 'clean', target: 'report', names: ['rows', 'cols', 'sums'] },
      { source: 'clean', target: 'plot', names: [] }
    ];
    const layout = await layoutGraph(nodes, edges);
    const x = Object.fromEntries(layout.nodes.map(n => [n.key, n.x]));
    expect(x.load).toBeLessThan(x.clean);
    expect(x.clean).toBeLessThan(x.report);
    expect(layout.edges).toHaveLength(3);
    expect(layout.edges[0].points.length).toBeGreaterThanOrEqual(2);
    expect(layout.edges[1].label).toBe('rows, cols +1');
    expect(layout.edges[2].label).toBe('');
    expect(layout.width).toBeGreaterThan(0);
    // No two boxes overlap.
    for (const a of layout.nodes) {
      for (const b of layout.nodes) {
        if (a !== b) {
          const apart =
            a.x + a.width <= b.x ||
            b.x + b.width <= a.x ||
            a.y + a.height <= b.y ||
            b.y + b.height <= a.y;
          expect(apart).toBe(true);
        }
      }
    }
  });

  it('drops edges to unknown tasks and collapses a mapped task to one box', async () => {
    const mapped = node('square', [
      taskRun('a', 'COMPLETED'),
      taskRun('b', 'RUNNING'),
      taskRun('c', 'FAILED')
    ]);
    const layout = await layoutGraph(
      [node('gen'), mapped],
      [
        { source: 'gen', target: 'square', names: ['x'] },
        { source: 'gen', target: 'gone', names: [] }
      ]
    );
    expect(layout.edges).toHaveLength(1);
    const box = layout.nodes.find(n => n.key === 'square')!;
    expect(box.count).toBe(3);
    expect(box.state?.type).toBe('FAILED');
  });

  it('lays a large graph out by longest path, in columns, quickly', async () => {
    const nodes = Array.from({ length: 500 }, (_, i) => node(`t${i}`));
    const edges = nodes
      .slice(10)
      .map((n, j) => ({ source: `t${j}`, target: n.key, names: ['x'] }));
    const started = Date.now();
    const layout = await layoutGraph(nodes, edges);
    expect(Date.now() - started).toBeLessThan(1000);
    const x = Object.fromEntries(layout.nodes.map(n => [n.key, n.x]));
    expect(x.t0).toBe(0);
    expect(x.t10).toBeGreaterThan(x.t0);
    expect(x.t499).toBe(49 * x.t10);
    expect(new Set(layout.nodes.map(n => `${n.x},${n.y}`)).size).toBe(500);
    expect(layout.edges).toHaveLength(490);
  });

  it('moves along edges with the arrow keys', async () => {
    const layout = await layoutGraph(
      [node('a'), node('b'), node('c')],
      [
        { source: 'a', target: 'b', names: [] },
        { source: 'b', target: 'c', names: [] }
      ]
    );
    expect(neighbour(layout, 'a', 'right')).toBe('b');
    expect(neighbour(layout, 'b', 'right')).toBe('c');
    expect(neighbour(layout, 'c', 'left')).toBe('b');
    expect(neighbour(layout, 'a', 'left')).toBeNull();
  });

  it('names a box by its worst state and labels edges', () => {
    expect(summaryState(node('n'))).toBeNull();
    expect(
      summaryState(
        node('n', [taskRun('a', 'COMPLETED'), taskRun('b', 'RUNNING')])
      )?.type
    ).toBe('RUNNING');
    expect(edgeLabel({ source: 'a', target: 'b', names: ['x', 'y'] })).toBe(
      'x, y'
    );
  });
});

function line(i: number, extra: Partial<LogLine> = {}): LogLine {
  return {
    id: `l${i}`,
    flow_run_id: 'run',
    task_run_id: null,
    level: 20,
    timestamp: at(i),
    message: `line ${i}`,
    name: 'jupyter_flows.flow_runs',
    ...extra
  };
}

/**
 * A fake server: `lines` paged by offset, after a cursor (the index of a line), or the
 * last ones (`tail`).
 */
function server(lines: LogLine[]) {
  const requests: ILogPageRequest[] = [];
  const fetch = async (request: ILogPageRequest): Promise<LogPage> => {
    requests.push(request);
    const start = request.tail
      ? Math.max(0, lines.length - request.limit)
      : request.cursor !== undefined
        ? Number(request.cursor) + 1
        : (request.offset ?? 0);
    const items = lines.slice(start, start + request.limit);
    return {
      items,
      total: lines.length,
      limit: request.limit,
      offset: request.tail ? start : (request.offset ?? 0),
      next_cursor: items.length ? String(start + items.length - 1) : null
    };
  };
  return { fetch, requests };
}

describe('log cursor', () => {
  it('starts at the end, read directly, and loads other pages as they are needed', async () => {
    const lines = Array.from({ length: 1000 }, (_, i) => line(i));
    const { fetch, requests } = server(lines);
    const cursor = new LogCursor(fetch, 100);
    await cursor.start();
    expect(requests).toEqual([{ limit: 100, tail: true }]);
    expect(cursor.total).toBe(1000);
    expect(cursor.line(999)?.message).toBe('line 999');
    expect(cursor.line(900)?.message).toBe('line 900');
    expect(cursor.line(899)).toBeUndefined();

    await cursor.ensure(950, 1000); // the end is loaded: nothing fetched
    expect(requests).toHaveLength(1);

    await cursor.ensure(450, 520);
    expect(cursor.line(450)?.message).toBe('line 450');
    expect(cursor.line(519)?.message).toBe('line 519');
    expect(requests.slice(1).map(r => r.offset)).toEqual([400, 500]);

    await cursor.ensure(410, 420); // loaded already: nothing fetched
    expect(requests).toHaveLength(3);
  });

  it('counts the last page as loaded, and a page the end only half covers as not', async () => {
    const lines = Array.from({ length: 1050 }, (_, i) => line(i));
    const { fetch, requests } = server(lines);
    const cursor = new LogCursor(fetch, 100);
    await cursor.start(); // lines 950..1049: page 10 whole, page 9 half there
    await cursor.ensure(1000, 1050);
    expect(requests).toHaveLength(1);
    await cursor.ensure(960, 1050);
    expect(requests.slice(1)).toEqual([{ limit: 100, offset: 900 }]);
    expect(cursor.line(900)?.message).toBe('line 900');
  });

  it('follows a live run from the cursor after the last line, never reloading', async () => {
    const lines = Array.from({ length: 150 }, (_, i) => line(i));
    const { fetch, requests } = server(lines);
    const cursor = new LogCursor(fetch, 100);
    await cursor.start();
    lines.push(line(150), line(151));
    await cursor.tail();
    expect(cursor.total).toBe(152);
    expect(cursor.line(151)?.message).toBe('line 151');
    expect(requests[requests.length - 1]).toEqual({
      limit: 100,
      cursor: '149'
    });
    await cursor.tail(); // nothing new
    expect(cursor.total).toBe(152);
    expect(requests).toHaveLength(3);
  });

  it('fetches the lines that arrive while the end is loading', async () => {
    const lines = [line(0)];
    const { fetch } = server(lines);
    const cursor = new LogCursor(fetch, 100);
    const starting = cursor.start(); // the end is read now: one line
    lines.push(line(1), line(2)); // a fast run's last lines, and their event
    await cursor.tail();
    await starting;
    expect(cursor.total).toBe(3);
    expect(cursor.line(2)?.message).toBe('line 2');
  });

  it('reads the end again when the log was empty', async () => {
    const lines: LogLine[] = [];
    const { fetch, requests } = server(lines);
    const cursor = new LogCursor(fetch, 100);
    await cursor.start();
    expect(cursor.total).toBe(0);
    lines.push(line(0), line(1));
    await cursor.tail();
    expect(requests[1]).toEqual({ limit: 100, tail: true });
    expect(cursor.total).toBe(2);
    expect(cursor.line(1)?.message).toBe('line 1');
  });

  it('reports a failed page and fetches it again on the next ask', async () => {
    let fail = true;
    const { fetch } = server([line(0)]);
    const cursor = new LogCursor(async request => {
      if (fail) {
        throw new Error('offline');
      }
      return fetch(request);
    }, 100);
    await expect(cursor.start()).rejects.toThrow('offline');
    expect(cursor.error).toBe('offline');
    fail = false;
    await cursor.start();
    expect(cursor.error).toBeNull();
    expect(cursor.total).toBe(1);
  });

  it('tells sources apart as the server does', () => {
    expect(sourceOf(line(0))).toBe('flow');
    expect(sourceOf(line(0, { task_run_id: 't' }))).toBe('task');
    expect(sourceOf(line(0, { name: 'jupyter_flows.job' }))).toBe('job');
    expect(sourceOf(line(0, { name: 'jupyter_flows.agent.infra' }))).toBe(
      'agent'
    );
  });
});

describe('timeline scale', () => {
  it('maps times to pixels with round ticks', () => {
    const scale = timeScale(T0, T0 + 60_000, 600);
    expect(scale.x(T0)).toBe(0);
    expect(scale.x(T0 + 30_000)).toBe(300);
    expect(scale.ticks.map(t => t.label)).toEqual([
      '0 s',
      '10 s',
      '20 s',
      '30 s',
      '40 s',
      '50 s',
      '60 s'
    ]);
    const long = timeScale(T0, T0 + 3 * 3600_000, 600);
    expect(long.ticks.length).toBeLessThanOrEqual(9);
    expect(long.ticks[1].label).toMatch(/min|h/);
  });

  it('spans every started task run; a running one ends now', () => {
    const runs: TaskRun[] = [
      taskRun('a', 'COMPLETED', 0, 5),
      taskRun('b', 'RUNNING', 3),
      taskRun('c', null)
    ];
    const now = T0 + 20_000;
    const scale = scaleFor(runs, 400, now)!;
    expect(scale.start).toBe(T0);
    expect(scale.end).toBe(now);
    expect(scaleFor([taskRun('c', null)], 400, now)).toBeNull();
    expect(slowest(runs, now, 2).map(r => r.id)).toEqual(['b', 'a']);
  });
});

describe('timeline overlay of the previous run', () => {
  it('lays the previous run on the current axis, each task at its offset from its start', () => {
    // The previous run started at 0 s: a took 0–2 s, b 2–3 s, c never finished.
    const previous = {
      name: 'earlier',
      start_time: at(0),
      nodes: [
        node('a', [taskRun('a', 'COMPLETED', 0, 2)]),
        node('b', [taskRun('b', 'COMPLETED', 2, 3)]),
        node('c', [taskRun('c', 'RUNNING', 3)])
      ]
    };
    // This run started an hour later.
    const ghosts = ghostSpans(previous, at(3600));
    expect([...ghosts.keys()]).toEqual(['a#0', 'b#0']);
    expect(ghosts.get('b#0')).toEqual({
      start: T0 + 3602_000,
      end: T0 + 3603_000
    });
    expect(ghostSpans(previous, null).size).toBe(0);
    expect(ghostSpans(null, at(3600)).size).toBe(0);
    expect(ghostSpans({ ...previous, start_time: null }, at(0)).size).toBe(0);

    // The axis holds the ghosts too (a previous run that took longer than this one).
    const now = T0 + 3601_000;
    const scale = scaleFor(
      [taskRun('a', 'COMPLETED', 3600, 3601)],
      300,
      now,
      at(3600),
      at(3601),
      [...ghosts.values()]
    )!;
    expect(scale.start).toBe(T0 + 3600_000);
    expect(scale.end).toBe(T0 + 3603_000);
  });

  it('matches the calls of a task across runs by start order, not by id', () => {
    const mapped = (ids: string[], starts: number[]) =>
      node(
        'm',
        ids.map((id, i) => ({
          ...taskRun(id, 'COMPLETED', starts[i], starts[i] + 1),
          dynamic_key: id
        }))
      );
    expect([...rowKeys([mapped(['x', 'y'], [5, 1])])]).toEqual([
      ['y', 'm#0'],
      ['x', 'm#1']
    ]);
    const previous = {
      name: 'earlier',
      start_time: at(0),
      nodes: [mapped(['p', 'q'], [1, 2])]
    };
    const keys = rowKeys([mapped(['x', 'y'], [11, 12])]);
    const ghosts = ghostSpans(previous, at(10));
    expect(ghosts.get(keys.get('y')!)).toEqual({
      start: T0 + 12_000,
      end: T0 + 13_000
    });
  });

  it('marks a task slower only when it took clearly longer than before', () => {
    const was = { start: 0, end: 1000 };
    expect(slowerBy({ start: 5000, end: 7000 }, was)).toBe(1000);
    // Within a quarter of the time before, or by less than 200 ms: not marked.
    expect(slowerBy({ start: 0, end: 1200 }, was)).toBeNull();
    expect(slowerBy({ start: 0, end: 150 }, { start: 0, end: 40 })).toBeNull();
    expect(slowerBy({ start: 0, end: 500 }, was)).toBeNull();
    expect(slowerBy({ start: 0, end: 5000 }, undefined)).toBeNull();
  });
});

describe('formatDuration', () => {
  it('reads a short task in milliseconds, longer ones in seconds and minutes', () => {
    expect([0.04, 0.9, 1.2, 42, 185].map(formatDuration)).toEqual([
      '40 ms',
      '900 ms',
      '1.2 s',
      '42 s',
      '3 min 5 s'
    ]);
  });
});
