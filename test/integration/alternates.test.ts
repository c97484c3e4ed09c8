/**
 * Alternates mode (create option scheduler_alternates, off by default) against real worker
 * processes: a full scheduling pass returns runner-up pools, and after a reschedulable failure the
 * next pass tries those first, each alone through every filter, before scheduling again.
 *
 * Three backends, A > B > C in capacity so the CapacityWeigher ranks them in that order. Fault rules
 * always name their volume, so the tests never disturb each other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ScheduleDecision, ScheduleRequest } from '../../src/activities/scheduler-activities';
import { activityCalls } from '../../src/client/history';
import { startCluster, type Cluster } from '../support/cluster';

interface ScheduleCall {
  summary: string | undefined;
  /** What the pass was given, from the scheduler worker's log line (a local activity's input is
   *  not in the history): the alternates offered, in alternates mode only. */
  input: Pick<ScheduleRequest, 'preferred'> & { logged: string[] };
  result: ScheduleDecision | undefined;
}

describe('create-volume: alternates mode', { timeout: 240_000 }, () => {
  let c: Cluster;
  let A: string;
  let B: string;
  let C: string;

  before(async () => {
    c = await startCluster({
      backends: [
        { name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 300 }] },
        { name: 'B', pools: [{ name: 'pool1', total_capacity_gb: 200 }] },
        { name: 'C', pools: [{ name: 'pool1', total_capacity_gb: 100 }] },
      ],
    });
    A = c.pool('A').backend_id;
    B = c.pool('B').backend_id;
    C = c.pool('C').backend_id;
  });

  after(() => c?.stopAfterLeakCheck());

  /** Every scheduleCreateVolume call of a workflow: its summary, what it was offered and its decision. */
  async function scheduleCalls(workflowId: string, volumeId: string): Promise<ScheduleCall[]> {
    const events = (await c.history(workflowId)).events ?? [];
    const passes = activityCalls(events).filter((a) => a.activity === 'scheduleCreateVolume');
    // Every scheduler worker's lines (some tests use a worker configured otherwise).
    const lines = [...c.workers.entries()].filter(([key]) => key.startsWith('scheduler')).flatMap(([, w]) => w.logs());
    const logged = lines.filter(
      (l) =>
        l.volume_id === volumeId &&
        typeof l.msg === 'string' &&
        l.msg.startsWith(`scheduled volume ${volumeId}`) &&
        !l.repeated,
    );
    assert.equal(logged.length, passes.length, 'one log line per pass');
    return passes.map((p, i) => ({
      summary: p.summary ?? undefined,
      input: {
        ...(logged[i].preferred ? { preferred: logged[i].preferred as string[] } : {}),
        logged: Object.keys(logged[i]),
      },
      result: p.result as ScheduleDecision | undefined,
    }));
  }

  it("after the first choice fails, the second attempt goes to the first pass's top alternate", async () => {
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: 'alt-once',
    });
    const h = await c.create({ name: 'alt-once', size: 2 }, { scheduler_alternates: 2 });
    const result = await h.result();
    assert.equal(result.backend_id, B);
    assert.deepEqual(result.retry, { num_attempts: 2, backends: [A, B], hosts: [A, B] });
    assert.equal(result.attempts.length, 2);
    assert.equal(result.attempts[0].backend_id, A);
    assert.equal(result.attempts[0].outcome, 'failed');
    assert.equal(result.attempts[0].error_type, 'VolumeBackendAPIException');
    assert.equal(result.attempts[0].alternate, undefined, 'the first attempt is a full pass');
    assert.equal(result.attempts[1].backend_id, B);
    assert.equal(result.attempts[1].outcome, 'succeeded');
    assert.equal(result.attempts[1].alternate, true);

    const calls = await scheduleCalls(h.workflowId, h.volumeId);
    assert.equal(calls.length, 2);
    assert.equal(calls[0].summary, 'schedule attempt 1/3');
    assert.equal(calls[0].input.preferred, undefined, 'the first pass has no alternates to try');
    assert.deepEqual(calls[0].result?.alternates, [B, C], 'the first pass returns its runner-ups, best first');
    assert.equal(calls[0].result?.alternate, undefined);
    assert.equal(calls[1].summary, 'schedule attempt 2/3 (alternates first)');
    assert.deepEqual(calls[1].input.preferred, [B, C], 'the untried alternates, the failed pool left out');
    assert.equal(calls[1].result?.backend_id, B);
    assert.equal(calls[1].result?.alternate, true);
    assert.deepEqual(calls[1].result?.alternates, []);

    const claims = await c.store.listClaims(h.volumeId);
    assert.deepEqual(
      claims.map((x) => [x.attempt, x.backend_id, x.status]),
      [
        [1, A, 'released'],
        [2, B, 'active'],
      ],
    );
    assert.ok(!c.files('A').includes(`volume-${h.volumeId}`));
    assert.ok(c.files('B').includes(`volume-${h.volumeId}`));
    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'available');
    assert.equal(vol?.host, B);
  });

  it('takes the alternate even where a new pass would pick the failed pool again (IgnoreAttemptedHostsFilter off)', async () => {
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: 'alt-no-ignore',
    });
    // IgnoreAttemptedHostsFilter is the operator's to switch off: a scheduler worker configured so.
    const queue = await c.schedulerWith('no-ignore', { CINDER_IGNORE_ATTEMPTED_HOSTS: 'false' });
    const h = await c.create({ name: 'alt-no-ignore', size: 1 }, { scheduler_alternates: 1 }, queue);
    const result = await h.result();
    assert.equal(result.backend_id, B, 'A, the heaviest pool, would win a new pass');
    assert.deepEqual(result.retry, { num_attempts: 2, backends: [A, B], hosts: [A, B] });
    assert.equal(result.attempts[1].alternate, true);
    const calls = await scheduleCalls(h.workflowId, h.volumeId);
    assert.deepEqual(calls[0].result?.alternates, [B]);
    assert.deepEqual(calls[1].input.preferred, [B]);
  });

  it('goes down the alternates in order while they fail', async () => {
    for (const name of ['A', 'B']) {
      await c.store.addFaultRule({
        host: c.host(name),
        op: 'create',
        action: 'error',
        error_type: 'VolumeBackendAPIException',
        remaining: 1,
        volume_name: 'alt-twice',
      });
    }
    const h = await c.create({ name: 'alt-twice', size: 1 }, { scheduler_alternates: 2 });
    const result = await h.result();
    assert.equal(result.backend_id, C);
    assert.deepEqual(result.retry, { num_attempts: 3, backends: [A, B, C], hosts: [A, B, C] });
    assert.deepEqual(
      result.attempts.map((a) => [a.backend_id, a.outcome, a.alternate ?? false]),
      [
        [A, 'failed', false],
        [B, 'failed', true],
        [C, 'succeeded', true],
      ],
    );
    const calls = await scheduleCalls(h.workflowId, h.volumeId);
    assert.deepEqual(
      calls.map((x) => x.input.preferred),
      [undefined, [B, C], [C]],
    );
    assert.deepEqual(
      calls.map((x) => x.summary),
      ['schedule attempt 1/3', 'schedule attempt 2/3 (alternates first)', 'schedule attempt 3/3 (alternates first)'],
    );
  });

  it('off (the default), a reschedule passes no alternates and records none', async () => {
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: 'alt-off',
    });
    const h = await c.create({ name: 'alt-off', size: 1 });
    const result = await h.result();
    assert.equal(result.backend_id, B);
    assert.deepEqual(result.retry, { num_attempts: 2, backends: [A, B], hosts: [A, B] });
    for (const a of result.attempts) assert.ok(!('alternate' in a), `attempt ${a.attempt} has no alternate flag`);
    const calls = await scheduleCalls(h.workflowId, h.volumeId);
    assert.equal(calls.length, 2);
    assert.deepEqual(
      calls.map((x) => x.summary),
      ['schedule attempt 1/3', 'schedule attempt 2/3'],
    );
    for (const call of calls) {
      assert.equal(call.input.preferred, undefined, 'no alternates offered');
      assert.ok(
        !call.input.logged.includes('alternates') && !call.input.logged.includes('preferred'),
        `the pass logs no alternates: ${call.input.logged.join(', ')}`,
      );
      assert.deepEqual(
        Object.keys(call.result ?? {}).sort(),
        ['backend_id', 'filter_properties', 'host'],
        'the decision it always got',
      );
    }
  });
});
