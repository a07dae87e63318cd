/** The flow page's operations panel: its forms → request bodies, refusals → fields, and
 * the paths and bodies its calls send. */
import { FlowsAPIError, FlowsClient } from '../api';
import * as ops from '../flow/operations/api';
import {
  automationBody,
  backfillBody,
  describeAutomation,
  describeRetention,
  destinationBody,
  emptyAutomation,
  emptyPolicy,
  formatSeconds,
  parseValues,
  policyBody,
  refusalErrors,
  retentionBody,
  retentionDraft
} from '../flow/operations/forms';

describe('destinationBody', () => {
  it('trims a valid name and URL into the body', () => {
    expect(
      destinationBody({ name: ' ops-hook ', url: ' json://127.0.0.1:9/x ' })
    ).toEqual({ body: { name: 'ops-hook', url: 'json://127.0.0.1:9/x' } });
  });

  it('refuses a name the server would refuse and a URL with no scheme', () => {
    const { errors } = destinationBody({
      name: 'Ops Hook',
      url: 'example.com'
    });
    expect(Object.keys(errors ?? {}).sort()).toEqual(['name', 'url']);
  });
});

describe('policyBody', () => {
  const draft = {
    ...emptyPolicy('daily'),
    destinations: ['ops-hook'],
    cooldownMinutes: '15'
  };

  it('turns minutes into seconds and names the deployment', () => {
    expect(policyBody(draft, 'd1')).toEqual({
      body: {
        name: 'daily-failures',
        deployment_id: 'd1',
        events: ['Failed', 'Crashed', 'TimedOut'],
        destinations: ['ops-hook'],
        cooldown_seconds: 900,
        running_after_seconds: null
      }
    });
  });

  it('asks for a duration when "still running" is chosen', () => {
    const running = { ...draft, events: ['Running' as const] };
    expect(policyBody(running, 'd1').errors).toEqual({
      runningAfter: expect.stringContaining('duration')
    });
    const body = policyBody(
      { ...running, runningAfterMinutes: '90' },
      'd1'
    ).body;
    expect(body?.running_after_seconds).toBe(5400);
  });

  it('needs an event, a destination and a cool-down that is a number', () => {
    const { errors } = policyBody(
      { ...draft, events: [], destinations: [], cooldownMinutes: '-1' },
      'd1'
    );
    expect(Object.keys(errors ?? {}).sort()).toEqual([
      'cooldown',
      'destinations',
      'events'
    ]);
  });
});

describe('automationBody', () => {
  it('makes "3 failures in a row → pause" by default', () => {
    expect(automationBody(emptyAutomation('daily'), 'd1')).toEqual({
      body: {
        name: 'daily-pause-on-failures',
        deployment_id: 'd1',
        trigger: { event: 'consecutive_failures', count: 3 },
        action: { type: 'pause' }
      }
    });
  });

  it('starts another deployment with parameters over the run', () => {
    const draft = {
      ...emptyAutomation('daily'),
      trigger: 'state' as const,
      states: ['Completed' as const],
      action: 'run_deployment' as const,
      targetDeploymentId: 'd2',
      parameters: '{"mode": "full"}'
    };
    expect(automationBody(draft, 'd1').body).toMatchObject({
      trigger: { event: 'state', states: ['Completed'] },
      action: {
        type: 'run_deployment',
        deployment_id: 'd2',
        parameters: { mode: 'full' }
      }
    });
  });

  it('explains a bad count, no target and parameters that are not an object', () => {
    const draft = {
      ...emptyAutomation('daily'),
      count: '0',
      action: 'run_deployment' as const,
      parameters: '[1]'
    };
    expect(
      Object.keys(automationBody(draft, 'd1').errors ?? {}).sort()
    ).toEqual(['count', 'parameters', 'target']);
  });

  it('says a rule in words', () => {
    expect(
      describeAutomation(
        { event: 'consecutive_failures', count: 3 },
        { type: 'pause' },
        id => id
      )
    ).toBe('When 3 failures in a row → pause the deployment');
    expect(
      describeAutomation(
        { event: 'state', states: ['Completed'] },
        { type: 'run_deployment', deployment_id: 'd2', parameters: { a: 1 } },
        () => 'report'
      )
    ).toBe('When a run ends Completed → start report with {"a":1}');
  });
});

describe('retention', () => {
  it('reads "all null" as following the server', () => {
    expect(
      retentionDraft({
        keep_runs: null,
        keep_days: null,
        keep_last_failure: null
      }).useDefault
    ).toBe(true);
    expect(retentionBody(retentionDraft(null))).toEqual({ body: null });
  });

  it('sends blank fields as null (the default) and the others as numbers', () => {
    const draft = {
      useDefault: false,
      keepRuns: '20',
      keepDays: '',
      keepLastFailure: 'no' as const
    };
    expect(retentionBody(draft)).toEqual({
      body: { keep_runs: 20, keep_days: null, keep_last_failure: false }
    });
    expect(retentionDraft(retentionBody(draft).body)).toEqual(draft);
  });

  it('refuses a negative or fractional count and a negative age', () => {
    const draft = {
      useDefault: false,
      keepRuns: '2.5',
      keepDays: '-1',
      keepLastFailure: 'default' as const
    };
    expect(Object.keys(retentionBody(draft).errors ?? {}).sort()).toEqual([
      'keepDays',
      'keepRuns'
    ]);
  });

  it('describes a retention', () => {
    expect(
      describeRetention({
        keep_runs: 20,
        keep_days: 7,
        keep_last_failure: true
      })
    ).toBe(
      'keeps the last 20 runs, runs younger than 7 days, the last failure'
    );
    expect(
      describeRetention({
        keep_runs: null,
        keep_days: null,
        keep_last_failure: true
      })
    ).toBe('keeps every run');
    expect(
      describeRetention({
        keep_runs: 1,
        keep_days: 1,
        keep_last_failure: false
      })
    ).toBe('keeps the last run, runs younger than 1 day');
  });
});

describe('backfillBody', () => {
  it('sends the window in UTC, with the cap', () => {
    const draft = {
      mode: 'window' as const,
      start: '2026-05-01T00:00',
      end: '2026-05-01T05:00',
      parameter: '',
      values: '',
      maxConcurrent: '2'
    };
    const body = backfillBody(draft).body;
    expect(body).toEqual({
      start: new Date('2026-05-01T00:00').toISOString(),
      end: new Date('2026-05-01T05:00').toISOString(),
      max_concurrent: 2
    });
    expect(body?.start).toMatch(/Z$/);
  });

  it('refuses an end before the start, and a cap below 1', () => {
    const { errors } = backfillBody({
      mode: 'window',
      start: '2026-05-02T00:00',
      end: '2026-05-01T00:00',
      parameter: '',
      values: '',
      maxConcurrent: '0'
    });
    expect(Object.keys(errors ?? {}).sort()).toEqual(['end', 'maxConcurrent']);
  });

  it('makes one run per value of a parameter, blank cap meaning none', () => {
    expect(
      backfillBody({
        mode: 'values',
        start: '',
        end: '',
        parameter: 'n',
        values: '1, 2, three',
        maxConcurrent: ''
      })
    ).toEqual({
      body: { parameter: 'n', values: [1, 2, 'three'], max_concurrent: null }
    });
  });

  it('reads values as JSON or comma-separated', () => {
    expect(parseValues('[{"a": 1}, "b"]')).toEqual([{ a: 1 }, 'b']);
    expect(parseValues(' ')).toBeNull();
    expect(parseValues('[')).toBeNull();
  });
});

describe('refusalErrors', () => {
  const fields = {
    name: ['name'],
    url: ['url'],
    runningAfter: ['running_after_seconds']
  };

  it("puts pydantic's located parts on their fields, the rest on the form", () => {
    const error = new FlowsAPIError(
      400,
      'invalid_input',
      'name: String should match pattern; replace: unknown field; the request is odd'
    );
    expect(refusalErrors(error, fields)).toEqual({
      name: 'name: String should match pattern',
      '': 'replace: unknown field; the request is odd'
    });
  });

  it('finds a field a message names in words', () => {
    const error = new FlowsAPIError(
      400,
      'invalid_input',
      'the "Running" event needs running_after_seconds'
    );
    expect(refusalErrors(error, fields)).toEqual({
      runningAfter: 'the "Running" event needs running_after_seconds'
    });
  });

  it('puts a name already taken on the name', () => {
    const error = new FlowsAPIError(409, 'conflict', "'ops' exists already");
    expect(refusalErrors(error, fields)).toEqual({
      name: "'ops' exists already"
    });
  });

  it('puts any other failure on the form', () => {
    const error = new FlowsAPIError(0, 'network_error', 'fetch failed');
    expect(Object.keys(refusalErrors(error, fields))).toEqual(['']);
  });
});

describe('formatSeconds', () => {
  it.each([
    [null, '—'],
    [0, '—'],
    [90, '90 s'],
    [900, '15 min'],
    [7200, '2 h'],
    [86400, '1 d']
  ])('%s → %s', (seconds, text) => {
    expect(formatSeconds(seconds)).toBe(text);
  });
});

describe('the operations calls', () => {
  function fakeClient(answer: unknown = { items: [], total: 0 }) {
    const request = jest.fn().mockResolvedValue(answer);
    return { client: { request } as unknown as FlowsClient, request };
  }

  it('lists the deliveries of one deployment, paged', async () => {
    const { client, request } = fakeClient();
    await ops.listAttempts(client, 'd 1', 10, 20);
    expect(request).toHaveBeenCalledWith(
      'notifications/attempts?deployment_id=d+1&limit=10&offset=20'
    );
  });

  it("keeps the deployment's own policies (and its flow's) and automations", async () => {
    const { client } = fakeClient({
      items: [
        { name: 'a', deployment_id: 'd1' },
        { name: 'b', deployment_id: 'd2' },
        { name: 'c', deployment_id: null, flow_id: 'f' }
      ],
      total: 3
    });
    const policies = await ops.listPolicies(client, { id: 'd1', flow_id: 'f' });
    expect(policies.map(p => p.name)).toEqual(['a', 'c']);
    expect((await ops.listAutomations(client, 'd2')).map(p => p.name)).toEqual([
      'b'
    ]);
  });

  it('previews a prune of one deployment as a dry run', async () => {
    const { client, request } = fakeClient();
    await ops.previewPrune(client, 'd1');
    const [path, init] = request.mock.calls[0];
    expect(path).toBe('retention/prune');
    expect(JSON.parse(init.body)).toEqual({
      dry_run: true,
      deployment_id: 'd1',
      limit: 200
    });
  });

  it('previews and creates a backfill with the same body but dry_run', async () => {
    const { client, request } = fakeClient();
    const body = { parameter: 'n', values: [1], max_concurrent: 1 };
    await ops.previewBackfill(client, 'd1', body);
    await ops.createBackfill(client, 'd1', body);
    const sent = request.mock.calls.map(([path, init]) => [
      path,
      JSON.parse(init.body).dry_run
    ]);
    expect(sent).toEqual([
      ['deployments/d1/backfills', true],
      ['deployments/d1/backfills', false]
    ]);
  });

  it('escapes names in paths', async () => {
    const { client, request } = fakeClient();
    await ops.testDestination(client, 'a/b');
    expect(request.mock.calls[0][0]).toBe(
      'notifications/destinations/a%2Fb/test'
    );
  });
});
