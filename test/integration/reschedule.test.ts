import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../support/cluster';
import { activityCalls } from '../../src/client/history';

describe('create-volume: success and reschedule', { timeout: 180_000 }, () => {
  let c: Cluster;
  before(async () => {
    // A is larger, so the CapacityWeigher picks it first.
    c = await startCluster({
      backends: [{ name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 200 }] }, { name: 'B' }],
    });
  });
  after(() => c?.stopAfterLeakCheck());

  it('creates on the first backend when it succeeds', async () => {
    const h = await c.create({ name: 'first-try', size: 2 });
    const result = await h.result();
    assert.equal(result.backend_id, c.pool('A').backend_id);
    assert.deepEqual(result.retry, {
      num_attempts: 1,
      backends: [c.pool('A').backend_id],
      hosts: [c.pool('A').backend_id],
    });
    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'available');
    assert.equal(vol?.host, c.pool('A').backend_id);
    assert.ok(vol?.launched_at);
    assert.ok(c.files('A').includes(`volume-${h.volumeId}`));
    const events = (await c.store.listEvents({ volume_id: h.volumeId })).map((e) => e.event_type);
    assert.deepEqual(
      events.filter((e) => e.startsWith('volume.create.')),
      ['volume.create.start', 'volume.create.end'],
    );
  });

  it('reschedules from a backend that fails to one that works, and cleans the failed one', async () => {
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: 'resched',
    });
    const poolABefore = (await c.store.listPools()).find((p) => p.backend_id === c.pool('A').backend_id)!;
    const h = await c.create({ name: 'resched', size: 3 });
    const result = await h.result();
    const A = c.pool('A').backend_id;
    const B = c.pool('B').backend_id;
    assert.equal(result.backend_id, B);
    assert.deepEqual(result.retry, { num_attempts: 2, backends: [A, B], hosts: [A, B] });
    assert.equal(result.attempts[0].outcome, 'failed');
    assert.equal(result.attempts[0].error_type, 'VolumeBackendAPIException');
    assert.equal(result.attempts[0].cleanup, 'nothing to delete');
    // A's file gone (never made), A's capacity given back, B holds the volume.
    assert.ok(!c.files('A').includes(`volume-${h.volumeId}`));
    assert.ok(c.files('B').includes(`volume-${h.volumeId}`));
    const claims = await c.store.listClaims(h.volumeId);
    assert.deepEqual(
      claims.map((x) => [x.attempt, x.backend_id, x.status]),
      [
        [1, A, 'released'],
        [2, B, 'active'],
      ],
    );
    const poolA = (await c.store.listPools()).find((p) => p.backend_id === A)!;
    assert.equal(poolA.allocated_capacity_gb, poolABefore.allocated_capacity_gb);
    // The retry state is in the history: the second scheduling activity's result carries it.
    const history = await c.history(h.workflowId);
    const scheduled = activityCalls(history.events ?? []).filter((a) => a.activity === 'scheduleCreateVolume');
    assert.equal(scheduled.length, 2);
    const events = (await c.store.listEvents({ volume_id: h.volumeId })).map((e) => e.event_type);
    assert.ok(events.includes('volume.create.reschedule'));
    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'available');
    assert.equal(vol?.host, B);
    const log = c
      .worker('scheduler')
      .logs()
      .find(
        (l) =>
          typeof l.msg === 'string' &&
          (l.msg as string).startsWith(
            `Volume ${h.volumeId}: re-scheduling create_volume attempt 1 due to VolumeBackendAPIException`,
          ),
      );
    assert.ok(log, 'the reschedule is logged in Cinder words');
    assert.equal(log!.workflow_id, h.workflowId);
    assert.deepEqual(await c.leakedFiles(), []);
  });
});
