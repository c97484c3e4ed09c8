/**
 * Creates whose processes misbehave: a volume worker that is down while its pool still looks live,
 * a volume worker killed in the middle of a create and restarted, and a create cancelled while the
 * backend is busy. Real worker processes and signals; A is larger than B, so A is tried first.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, expectCreateFailure, startCluster, type Cluster } from '../support/cluster';

describe('create-volume: worker down, worker killed, create cancelled', { timeout: 300_000 }, () => {
  let c: Cluster;
  let A: string;
  let B: string;

  before(async () => {
    c = await startCluster({
      backends: [{ name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 200 }] }, { name: 'B' }],
    });
    A = c.pool('A').backend_id;
    B = c.pool('B').backend_id;
  });

  after(() => c?.stopAfterLeakCheck());

  it('reschedules away from a backend whose worker is down, and a cleanup workflow deletes there once it is back', async () => {
    const exit = await c.worker('A').stop('SIGTERM');
    assert.equal(c.worker('A').running, false, `A's worker stopped (${JSON.stringify(exit)})`);
    // A's pool row is still live (its last report is younger than service_down_time), so A is chosen.
    const poolA = (await c.store.listPools()).find((p) => p.backend_id === A)!;
    assert.ok(Date.now() - Date.parse(poolA.updated_at) < 20_000, 'A still looks live to the scheduler');

    const started = Date.now();
    const h = await c.create({ name: 'worker-down', size: 1 });
    const result = await h.result();
    assert.equal(result.backend_id, B);
    assert.deepEqual(result.retry, { num_attempts: 2, backends: [A, B], hosts: [A, B] });
    const [first, second] = result.attempts;
    assert.equal(first.backend_id, A);
    assert.equal(first.outcome, 'failed');
    assert.equal(first.error_type, 'BackendUnavailable');
    assert.equal(first.cleanup, 'handed to a cleanup workflow');
    assert.deepEqual(first.compensations, [
      { name: 'CreateVolumeFromSpecTask', ok: true },
      { name: 'ScheduleCreateVolumeTask', ok: true },
    ]);
    assert.equal(second.outcome, 'succeeded');
    // Bounded by the schedule-to-start timeout (4 s in tests), not by the worker coming back.
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    assert.deepEqual(c.volumeFiles(h.volumeId), [`${B}/volume-${h.volumeId}`]);
    const claims = await c.store.listClaims(h.volumeId);
    assert.deepEqual(
      claims.map((x) => [x.attempt, x.backend_id, x.status]),
      [
        [1, A, 'released'],
        [2, B, 'active'],
      ],
    );
    const pending = await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.cleanup.pending' });
    assert.equal(pending.length, 1);
    assert.equal(pending[0].payload.backend_id, A);

    // The cleanup waits for A's volume service, however long that takes.
    const cleanup = c.client.workflow.getHandle(`cleanup-volume-${h.volumeId}-attempt-1`);
    assert.equal((await cleanup.describe()).status.name, 'RUNNING');
    await c.startVolumeWorker('A');
    await cleanup.result();
    assert.equal((await cleanup.describe()).status.name, 'COMPLETED');
    const deletes = await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.delete.end' });
    assert.deepEqual(
      deletes.map((e) => [e.payload.backend_id, e.payload.attempt, e.payload.deleted]),
      [[A, 1, false]],
    );
    assert.ok(!c.files('A').some((f) => f.includes(h.volumeId)), 'A has no file of the volume');
    assert.deepEqual(c.volumeFiles(h.volumeId), [`${B}/volume-${h.volumeId}`]);
  });

  it('finishes a create whose volume worker was SIGKILLed mid-write, once the worker is back: one file, no partials', async (t) => {
    const name = 'killed-mid-create';
    // Dies after writing the partial file, before renaming it into place.
    await c.store.addFaultRule({ host: c.host('A'), op: 'create', action: 'exit', remaining: 1, volume_name: name });
    const killed = c.worker('A');
    const h = await c.create({ name, size: 2 });
    const exit = await killed.exited;
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(
      c.files('A').some((f) => f.startsWith(`.volume-${h.volumeId}.partial-`)),
      `the crash left a partial write: ${c.files('A').join(', ')}`,
    );
    await c.startVolumeWorker('A');

    const result = await h.result();
    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'available');
    assert.equal(vol?.host, result.backend_id);
    // The retried activity (heartbeat timeout) normally finds A back and finishes there; if A came
    // back too late, the create was rescheduled to B and A's partial handed to a cleanup workflow.
    t.diagnostic(
      `finished on ${result.backend_id === A ? 'A (the crashed backend, after its restart)' : 'B (rescheduled)'}`,
    );
    if (result.backend_id === A) {
      assert.deepEqual(
        result.attempts.map((a) => [a.attempt, a.backend_id, a.outcome]),
        [[1, A, 'succeeded']],
      );
      const history = await c.history(h.workflowId);
      const createStarts = history.events!.filter(
        (e) =>
          e.activityTaskStartedEventAttributes &&
          history.events!.some(
            (s) =>
              s.eventId?.toString() === e.activityTaskStartedEventAttributes!.scheduledEventId?.toString() &&
              s.activityTaskScheduledEventAttributes?.activityType?.name === 'createVolumeFromSpec',
          ),
      );
      assert.equal(
        createStarts[0]?.activityTaskStartedEventAttributes?.attempt,
        2,
        'the create activity ran again after the crash',
      );
    } else {
      assert.equal(result.backend_id, B);
      assert.equal(result.attempts[0].cleanup, 'handed to a cleanup workflow');
      await c.client.workflow.getHandle(`cleanup-volume-${h.volumeId}-attempt-1`).result();
    }
    assert.deepEqual(
      c.volumeFiles(h.volumeId),
      [`${result.backend_id}/volume-${h.volumeId}`],
      'exactly one file, no partial write',
    );
    assert.deepEqual(await c.leakedFiles(), []);
    const creates = await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.create.end' });
    assert.equal(creates.length, 1);
  });

  async function cancelMidCreate(
    name: string,
    request: Record<string, unknown>,
    expectCleanup: 'deleted' | 'nothing to delete',
  ): Promise<void> {
    const h = await c.create({ name, size: 1, ...request });
    // The backend create has started (and hangs): cancel now.
    await eventually(
      async () => (await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.create.start' })).length > 0,
      30_000,
      'the backend create to start',
    );
    if (expectCleanup === 'deleted') {
      await eventually(
        async () => c.files('A').includes(`volume-${h.volumeId}`),
        10_000,
        'the volume to exist on A before the copy hangs',
      );
    }
    await new Promise((r) => setTimeout(r, 300));
    await h.cancel();
    const err = await expectCreateFailure(h, 'CancelledFailure');
    assert.ok(/cancel/i.test(err.message), err.message);
    assert.equal((await h.handle.describe()).status.name, 'CANCELLED');

    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'error');
    assert.ok(/cancel/i.test(vol?.error_reason ?? ''), String(vol?.error_reason));
    const state = await h.status();
    assert.equal(state.status, 'error');
    assert.equal(state.attempts.length, 1);
    assert.equal(state.attempts[0].error_type, 'Cancelled');
    assert.equal(state.attempts[0].cleanup, expectCleanup);
    assert.deepEqual(state.attempts[0].compensations, [
      { name: 'CreateVolumeFromSpecTask', ok: true },
      { name: 'ScheduleCreateVolumeTask', ok: true },
    ]);
    assert.deepEqual(c.volumeFiles(h.volumeId), [], 'no file on any backend');
    const claims = await c.store.listClaims(h.volumeId);
    assert.deepEqual(
      claims.map((x) => [x.attempt, x.backend_id, x.status]),
      [[1, A, 'released']],
      'capacity given back',
    );
    const poolA = (await c.store.listPools()).find((p) => p.backend_id === A)!;
    const active = (await c.store.listClaims())
      .filter((x) => x.backend_id === A && x.status === 'active')
      .reduce((n, x) => n + x.size_gb, 0);
    await eventually(
      async () => {
        const p = (await c.store.listPools()).find((x) => x.backend_id === A)!;
        return p.allocated_capacity_gb === active;
      },
      10_000,
      `A's allocated capacity (${poolA.allocated_capacity_gb}) to match its active claims (${active})`,
    );
  }

  it('cancels a create while the backend hangs: cancelled, volume error, nothing left, capacity released', async () => {
    const name = 'cancel-hang';
    await c.store.addFaultRule({ host: c.host('A'), op: 'create', action: 'hang', remaining: null, volume_name: name });
    await cancelMidCreate(name, {}, 'nothing to delete');
  });

  it('cancels a create after the volume exists on the backend (hung image copy): the compensation deletes it', async () => {
    const name = 'cancel-copy';
    const imageId = await c.addImage('cancel', 64 * 1024, 0x5a);
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'copy_image',
      action: 'hang',
      remaining: null,
      volume_name: name,
    });
    await cancelMidCreate(name, { image_id: imageId }, 'deleted');
  });
});
