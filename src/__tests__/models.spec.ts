/** The sidebar's model against a fake client and a fake event stream. */
import type {
  Flow,
  FlowRun,
  FlowsClient,
  IPage,
  State,
  StateType,
  TaskRun
} from '../api';
import { EventStream } from '../events';
import { FlowsModel, buildRows, filterRows } from '../models/flows';

const T0 = '2026-03-07T10:00:00Z';

function flow(name: string, extra: Partial<Flow> = {}): Flow {
  return {
    id: `f-${name}`,
    project: 'default',
    name,
    description: null,
    latest_version_id: `v-${name}`,
    latest_version_number: 1,
    created: T0,
    updated: T0,
    ...extra
  };
}

function state(type: StateType, timestamp = T0): State {
  const name = type.charAt(0) + type.slice(1).toLowerCase();
  return { type, name, message: null, timestamp };
}

function run(
  id: string,
  flowName: string,
  type: StateType,
  extra: Partial<FlowRun> = {}
): FlowRun {
  return {
    id,
    name: `run-${id}`,
    flow_id: `f-${flowName}`,
    flow_name: flowName,
    flow_version_id: null,
    deployment_id: null,
    parameters: {},
    tags: [],
    state: state(type),
    run_count: 1,
    expected_start_time: T0,
    start_time: T0,
    end_time: null,
    total_run_time: 0,
    parent_flow_run_id: null,
    parent_task_run_id: null,
    work_queue: null,
    agent_id: null,
    infrastructure: null,
    backfill_id: null,
    trigger: 'ad hoc',
    created: T0,
    updated: T0,
    ...extra
  };
}

function page<T>(items: T[]): IPage<T> {
  return { items, total: items.length, limit: 500, offset: 0 };
}

function task(type: StateType): TaskRun {
  return { state: state(type) } as TaskRun;
}

/** A socket that lets the test push messages. */
class FakeSocket {
  onmessage: ((msg: { data: string }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  close(): void {
    /* nothing to close */
  }
  send(message: unknown): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }
}

function setup(runs: FlowRun[], running: FlowRun[]) {
  const socket = new FakeSocket();
  const stream = new EventStream(
    () => 'ws://test/api/flows/events',
    () => socket as unknown as WebSocket
  );
  const client = {
    allFlows: jest.fn(async () => [flow('zeta'), flow('alpha'), flow('beta')]),
    listFlowRuns: jest.fn(async (params: { state?: string }) =>
      page(params.state ? running : runs)
    ),
    listTaskRuns: jest.fn(async () =>
      page([task('COMPLETED'), task('COMPLETED'), task('RUNNING')])
    ),
    getFlowRun: jest.fn()
  } as unknown as FlowsClient;
  const model = new FlowsModel({ client, stream });
  stream.start();
  socket.send({ type: 'subscribed', flow_id: null, flow_run_id: null });
  return { model, socket, client, stream };
}

describe('FlowsModel', () => {
  it('lists flows by name with their last run, next run and runs in progress', async () => {
    const later = '2999-01-01T00:00:00Z';
    const { model, stream } = setup(
      [
        run('s1', 'alpha', 'SCHEDULED', {
          expected_start_time: later,
          start_time: null
        }),
        run('r2', 'alpha', 'COMPLETED', { tags: ['nightly'] }),
        run('r1', 'alpha', 'FAILED'),
        run('r3', 'beta', 'FAILED')
      ],
      [run('live', 'zeta', 'RUNNING')]
    );
    await model.start();

    expect(model.status).toBe('ready');
    expect(model.rows.map(r => r.flow.name)).toEqual(['alpha', 'beta', 'zeta']);
    const alpha = model.rows[0];
    expect(alpha.lastRun?.id).toBe('r2');
    expect(alpha.nextRunAt).toBe(later);
    expect(alpha.tags).toEqual(['nightly']);
    expect(model.rows[2].lastRun).toBeNull();
    expect(model.running.map(r => r.id)).toEqual(['live']);
    expect(model.progress('live')).toEqual({ done: 2, total: 3 });
    model.dispose();
    stream.dispose();
  });

  it('moves a run that ends from "in progress" to its flow’s last run, from the stream', async () => {
    const { model, socket, stream } = setup(
      [],
      [run('live', 'zeta', 'RUNNING')]
    );
    await model.start();
    const changed = jest.fn();
    model.changed.connect(changed);

    socket.send({
      type: 'state',
      kind: 'flow_run',
      run_id: 'live',
      flow_run_id: 'live',
      flow_id: 'f-zeta',
      state: state('COMPLETED', '2026-03-07T10:05:00Z')
    });

    expect(model.running).toEqual([]);
    const zeta = model.rows.find(r => r.flow.name === 'zeta')!;
    expect(zeta.lastRun?.state?.type).toBe('COMPLETED');
    expect(changed).toHaveBeenCalled();
    model.dispose();
    stream.dispose();
  });

  it('adds a run that starts to the runs in progress', async () => {
    const { model, socket, stream } = setup([], []);
    await model.start();

    socket.send({ type: 'flow_run', flow_run: run('new', 'beta', 'PENDING') });

    expect(model.running.map(r => r.id)).toEqual(['new']);
    expect(model.progress('new')).toEqual({ done: 0, total: 0 });
    model.dispose();
    stream.dispose();
  });

  it('says what failed and keeps polling when the server refuses', async () => {
    const { model, client, stream } = setup([], []);
    (client.allFlows as jest.Mock).mockRejectedValueOnce(new Error('down'));
    await model.start().catch(() => undefined);
    expect(model.status).toBe('error');
    expect(model.error).toBe('down');
    model.dispose();
    stream.dispose();
  });
});

describe('buildRows and filterRows', () => {
  const rows = buildRows(
    [flow('etl'), flow('report', { project: 'finance' }), flow('idle')],
    [
      run('a', 'etl', 'COMPLETED', { tags: ['prod'] }),
      run('b', 'report', 'FAILED')
    ]
  );

  it('prefers the summary the server gives', () => {
    const summarised = buildRows(
      [
        {
          ...flow('x'),
          last_run: run('z', 'x', 'CRASHED'),
          next_run_at: null,
          tags: ['t']
        } as Flow
      ],
      []
    );
    expect(summarised[0].lastRun?.id).toBe('z');
    expect(summarised[0].tags).toEqual(['t']);
  });

  it.each([
    [{ text: 'rep', states: [], tag: null }, ['report']],
    [{ text: 'FINANCE', states: [], tag: null }, ['report']],
    [{ text: '', states: ['FAILED'], tag: null }, ['report']],
    [{ text: '', states: ['NONE'], tag: null }, ['idle']],
    [{ text: '', states: [], tag: 'prod' }, ['etl']],
    [{ text: '', states: [], tag: null }, ['etl', 'idle', 'report']]
  ])('filter %p lets through %p', (filter, names) => {
    expect(filterRows(rows, filter as never).map(r => r.flow.name)).toEqual(
      names
    );
  });
});
