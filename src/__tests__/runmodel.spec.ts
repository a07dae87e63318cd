/** The run model against a fake client: which earlier run the timeline compares with. */
import type {
  FlowRun,
  FlowRunGraph,
  FlowRunQuery,
  FlowsClient,
  IPage,
  StateType
} from '../api';
import { EventStream } from '../events';
import { RunModel } from '../run/model';

const T0 = '2026-03-07T10:00:00Z';

function run(
  id: string,
  type: StateType,
  extra: Partial<FlowRun> = {}
): FlowRun {
  return {
    id,
    name: `run-${id}`,
    flow_id: 'f',
    flow_name: 'etl',
    flow_version_id: 'v1',
    deployment_id: null,
    parameters: {},
    tags: [],
    state: { type, name: type, message: null, timestamp: T0 },
    run_count: 1,
    expected_start_time: T0,
    start_time: T0,
    end_time: type === 'RUNNING' ? null : T0,
    total_run_time: 0,
    parent_flow_run_id: null,
    parent_task_run_id: null,
    work_queue: null,
    agent_id: null,
    infrastructure: null,
    backfill_id: null,
    trigger: 'api',
    created: T0,
    updated: T0,
    ...extra
  };
}

function page<T>(items: T[]): IPage<T> {
  return { items, total: items.length, limit: 20, offset: 0 };
}

function graph(flowRun: FlowRun): FlowRunGraph {
  return {
    flow_run: flowRun,
    flow_version: null,
    agent: null,
    nodes: [{ key: 'a', name: 'a', kind: 'code', cell_ids: [], task_runs: [] }],
    edges: [],
    task_runs_total: 0,
    rerun_of: null,
    reruns: []
  };
}

/** A model of run `runId` whose client knows `runs` (newest first, as the server lists). */
function setup(runId: string, runs: FlowRun[]) {
  const stream = new EventStream(
    () => 'ws://test/api/flows/events',
    () => ({ close: () => undefined }) as unknown as WebSocket
  );
  const byId = new Map(runs.map(r => [r.id, r]));
  const client = {
    listRunLogs: jest.fn(async () => ({
      items: [],
      total: 0,
      limit: 500,
      offset: 0,
      next_cursor: null
    })),
    getRunGraph: jest.fn(async (id: string) => graph(byId.get(id)!)),
    listFlowRuns: jest.fn(async (_: FlowRunQuery) =>
      page(runs.filter(r => r.id !== runId))
    )
  };
  const model = new RunModel({
    client: client as unknown as FlowsClient,
    stream,
    runId
  });
  return { model, client };
}

async function previousOf(model: RunModel) {
  await model.start();
  for (let i = 0; i < 50 && model.previous === null; i++) {
    await new Promise(resolve => setTimeout(resolve, 0));
  }
  return model.previous;
}

describe('RunModel: the previous run', () => {
  it('is the latest finished run of the same flow version, read once with its graph', async () => {
    const later = '2026-03-07T11:00:00Z';
    const { model, client } = setup('now', [
      run('now', 'RUNNING', { expected_start_time: later }),
      run('live', 'RUNNING'),
      run('other-version', 'COMPLETED', { flow_version_id: 'v2' }),
      run('before', 'FAILED'),
      run('long-ago', 'COMPLETED')
    ]);
    const previous = await previousOf(model);

    expect(client.listFlowRuns).toHaveBeenCalledWith({
      flow_version_id: 'v1',
      until: later,
      limit: 20
    });
    expect(previous?.name).toBe('run-before');
    expect(previous?.nodes.map(n => n.key)).toEqual(['a']);
    expect(client.getRunGraph.mock.calls.map(c => c[0])).toEqual([
      'now',
      'before'
    ]);
    await model.refresh();
    expect(client.listFlowRuns).toHaveBeenCalledTimes(1);
    model.dispose();
  });

  it("is a deployment's run before this one, whatever its version", async () => {
    const { model, client } = setup('now', [
      run('now', 'COMPLETED', { deployment_id: 'd' }),
      run('before', 'COMPLETED', { deployment_id: 'd', flow_version_id: 'v0' })
    ]);
    const previous = await previousOf(model);

    expect(client.listFlowRuns).toHaveBeenCalledWith(
      expect.objectContaining({ deployment_id: 'd' })
    );
    expect(previous?.name).toBe('run-before');
    model.dispose();
  });

  it('is none when no earlier run finished', async () => {
    const { model } = setup('now', [
      run('now', 'RUNNING'),
      run('x', 'RUNNING')
    ]);
    expect(await previousOf(model)).toBeNull();
    model.dispose();
  });
});
