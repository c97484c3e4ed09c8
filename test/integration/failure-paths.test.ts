/**
 * Failure paths of one create against real worker processes: every backend failing, each
 * no-reschedule type, rescheduling disabled, IgnoreAttemptedHostsFilter off, no pool passing the
 * filters, a compensation delete that fails before it succeeds, quota and request errors.
 *
 * Three backends, A > B > C in capacity so the CapacityWeigher tries them in that order. Pools have
 * an over-subscription ratio of 1, so a request larger than every pool is refused by the
 * CapacityFilter. Fault rules always name their volume, so the tests never disturb each other.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { activityCalls } from '../../src/client/history';
import { NO_RESCHEDULE_TYPES } from '../../src/domain/cinder-errors';
import { expectCreateFailure, startCluster, type Cluster } from '../support/cluster';

describe('create-volume: failure paths', { timeout: 300_000 }, () => {
  let c: Cluster;
  let A: string;
  let B: string;
  let C: string;

  before(async () => {
    c = await startCluster({
      backends: [
        { name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 300, max_over_subscription_ratio: 1 }] },
        { name: 'B', pools: [{ name: 'pool1', total_capacity_gb: 200, max_over_subscription_ratio: 1 }] },
        { name: 'C', pools: [{ name: 'pool1', total_capacity_gb: 100, max_over_subscription_ratio: 1 }] },
      ],
    });
    A = c.pool('A').backend_id;
    B = c.pool('B').backend_id;
    C = c.pool('C').backend_id;
  });

  after(() => c?.stopAfterLeakCheck());

  /** IgnoreAttemptedHostsFilter is the operator's to switch off, not a request's. */
  const noIgnoreQueue = () => c.schedulerWith('no-ignore', { CINDER_IGNORE_ATTEMPTED_HOSTS: 'false' });

  /** Each test its own project: error volumes keep counting against the project's quota. */
  let projects = 0;
  const project = () => `p-${c.id}-${++projects}`;

  /** Names of the activities the workflow scheduled, in order. */
  async function activitiesScheduled(workflowId: string): Promise<string[]> {
    const history = await c.history(workflowId);
    return activityCalls(history.events ?? []).map((a) => a.activity);
  }

  async function assertClaimsReleased(volumeId: string, expected: Array<[number, string]>): Promise<void> {
    const claims = await c.store.listClaims(volumeId);
    assert.deepEqual(
      claims.map((x) => [x.attempt, x.backend_id, x.status]),
      expected.map(([attempt, backend]) => [attempt, backend, 'released']),
      'every claim of the volume is given back',
    );
  }

  it('fails with NoValidBackend after exactly 3 attempts when every backend fails', async () => {
    const name = 'all-fail';
    for (const b of ['A', 'B', 'C']) {
      await c.store.addFaultRule({
        host: c.host(b),
        op: 'create',
        action: 'error',
        error_type: 'VolumeBackendAPIException',
        remaining: null,
        volume_name: name,
      });
    }
    const h = await c.create({ project_id: project(), name, size: 2 });
    const err = await expectCreateFailure(h, 'NoValidBackend');
    const reason = `Exceeded max scheduling attempts 3 for resource ${h.volumeId}`;
    assert.ok(err.message.includes(reason), err.message);
    assert.ok(err.message.startsWith('No valid backend was found.'), err.message);

    // Exactly three backend attempts, one per backend, then a fourth pass that gives up.
    const state = err.state!;
    assert.equal(state.status, 'error');
    assert.deepEqual(
      state.attempts.map((a) => [a.attempt, a.backend_id, a.outcome, a.error_type]),
      [
        [1, A, 'failed', 'VolumeBackendAPIException'],
        [2, B, 'failed', 'VolumeBackendAPIException'],
        [3, C, 'failed', 'VolumeBackendAPIException'],
      ],
    );
    assert.deepEqual(state.retry?.backends, [A, B, C]);
    const acts = await activitiesScheduled(h.workflowId);
    assert.equal(acts.filter((a) => a === 'createVolumeFromSpec').length, 3);
    assert.equal(acts.filter((a) => a === 'scheduleCreateVolume').length, 4);

    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'error');
    assert.ok(vol?.error_reason?.includes(reason), String(vol?.error_reason));
    const schedEvents = await c.store.listEvents({ volume_id: h.volumeId, event_type: 'scheduler.create_volume' });
    assert.equal(schedEvents.length, 1);
    assert.equal(schedEvents[0].payload.state, 'error');
    assert.equal(schedEvents[0].payload.error_type, 'NoValidBackend');
    // As in Cinder, each failed attempt is rescheduled; the pass after the third gives up.
    assert.deepEqual(
      (await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.create.reschedule' })).map(
        (e) => e.payload.backend_id,
      ),
      [A, B, C],
    );
    await assertClaimsReleased(h.volumeId, [
      [1, A],
      [2, B],
      [3, C],
    ]);
    assert.deepEqual(c.volumeFiles(h.volumeId), []);
  });

  it('with IgnoreAttemptedHostsFilter off, one failing backend is tried 3 times, then NoValidBackend', async () => {
    const name = 'same-backend-fails';
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: null,
      volume_name: name,
    });
    const h = await c.create({ project_id: project(), name, size: 1 }, undefined, await noIgnoreQueue());
    const err = await expectCreateFailure(h, 'NoValidBackend');
    assert.ok(err.message.includes(`Exceeded max scheduling attempts 3 for resource ${h.volumeId}`), err.message);
    assert.deepEqual(
      err.state!.attempts.map((a) => [a.backend_id, a.outcome]),
      [
        [A, 'failed'],
        [A, 'failed'],
        [A, 'failed'],
      ],
    );
    assert.deepEqual(err.state!.retry?.backends, [A, A, A]);
    assert.equal((await c.store.getVolume(h.volumeId))?.status, 'error');
    await assertClaimsReleased(h.volumeId, [
      [1, A],
      [2, A],
      [3, A],
    ]);
    assert.deepEqual(c.volumeFiles(h.volumeId), []);
  });

  it('ends after one attempt for each of the thirteen no-reschedule types, cleaning the failed backend', async () => {
    assert.equal(NO_RESCHEDULE_TYPES.length, 13, "the union of the design notes' release and current Cinder");
    // An image, for the case where the failure comes after the volume exists on the backend.
    const imageId = await c.addImage('cirros', 256 * 1024, 0xab);

    const cases: Array<{ type: string; op: 'create' | 'copy_image'; image?: boolean }> = [
      ...NO_RESCHEDULE_TYPES.map((type) => ({ type, op: 'create' as const })),
      { type: 'ImageCopyFailure', op: 'copy_image', image: true },
    ];
    const runs = await Promise.all(
      cases.map(async (k) => {
        const name = `norescheduled-${k.op}-${k.type}`;
        await c.store.addFaultRule({
          host: c.host('A'),
          op: k.op,
          action: 'error',
          error_type: k.type,
          remaining: null,
          volume_name: name,
        });
        const h = await c.create({ project_id: project(), name, size: 1, ...(k.image ? { image_id: imageId } : {}) });
        return { ...k, h };
      }),
    );
    const outcomes = await Promise.all(runs.map(async (r) => ({ ...r, err: await expectCreateFailure(r.h, r.type) })));

    for (const { type, op, h, err } of outcomes) {
      const what = `${type} on ${op}`;
      assert.ok(err.message.includes(`not rescheduled: ${type} is a no-reschedule failure`), `${what}: ${err.message}`);
      const state = err.state!;
      assert.equal(state.attempts.length, 1, `${what}: exactly one attempt`);
      const [attempt] = state.attempts;
      assert.equal(attempt.backend_id, A, what);
      assert.equal(attempt.outcome, 'failed', what);
      assert.equal(attempt.error_type, type, what);
      // The volume object existed only when the failure came after the create (the image copy).
      assert.equal(attempt.cleanup, op === 'copy_image' ? 'deleted' : 'nothing to delete', what);
      assert.deepEqual(
        attempt.compensations,
        [
          { name: 'CreateVolumeFromSpecTask', ok: true },
          { name: 'ScheduleCreateVolumeTask', ok: true },
        ],
        what,
      );
      const acts = await activitiesScheduled(h.workflowId);
      assert.equal(acts.filter((a) => a === 'createVolumeFromSpec').length, 1, `${what}: one backend create`);
      assert.equal(acts.filter((a) => a === 'scheduleCreateVolume').length, 1, `${what}: one scheduling pass`);
      const vol = await c.store.getVolume(h.volumeId);
      assert.equal(vol?.status, 'error', what);
      assert.ok(vol?.error_reason?.includes(type), `${what}: ${vol?.error_reason}`);
      await assertClaimsReleased(h.volumeId, [[1, A]]);
      assert.deepEqual(c.volumeFiles(h.volumeId), [], `${what}: no file on any backend`);
    }
    const imageCase = outcomes.find((o) => o.op === 'copy_image')!;
    const deletes = await c.store.listEvents({ volume_id: imageCase.h.volumeId, event_type: 'volume.delete.end' });
    assert.equal(deletes.length, 1);
    assert.equal(deletes[0].payload.deleted, true, 'the compensation removed the volume the create had made');
  });

  it('with scheduler_max_attempts 1, a reschedulable failure ends the create after one attempt, without retry state', async () => {
    const name = 'max-attempts-1';
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: null,
      volume_name: name,
    });
    const h = await c.create({ project_id: project(), name, size: 1 }, { scheduler_max_attempts: 1 });
    const err = await expectCreateFailure(h, 'VolumeBackendAPIException');
    assert.ok(err.message.includes('rescheduling is disabled'), err.message);
    const state = err.state!;
    assert.equal(state.retry, null, 'no retry is kept when rescheduling is disabled');
    assert.equal(state.max_attempts, 1);
    assert.deepEqual(
      state.attempts.map((a) => [a.attempt, a.backend_id, a.outcome]),
      [[1, A, 'failed']],
    );
    const queried = await h.status();
    assert.equal(queried.retry, null);
    assert.equal(queried.status, 'error');
    // The scheduling activity's result carries no retry either.
    const history = await c.history(h.workflowId);
    const acts = await activitiesScheduled(h.workflowId);
    assert.equal(acts.filter((a) => a === 'scheduleCreateVolume').length, 1);
    const pass = activityCalls(history.events ?? []).find((a) => a.activity === 'scheduleCreateVolume');
    assert.equal(pass?.status, 'completed', 'the scheduling pass completed');
    const decision = pass!.result as { backend_id: string; filter_properties: Record<string, unknown> };
    assert.equal(decision.backend_id, A);
    assert.equal('retry' in decision.filter_properties, false, 'the decision carries no retry');
    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'error');
    assert.ok(vol?.error_reason?.includes('rescheduling is disabled'), String(vol?.error_reason));
    assert.equal(
      (await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.create.reschedule' })).length,
      0,
    );
    await assertClaimsReleased(h.volumeId, [[1, A]]);
    assert.deepEqual(c.volumeFiles(h.volumeId), []);
  });

  it('with IgnoreAttemptedHostsFilter off, the retry may land on the same pool, and succeeds there', async () => {
    const name = 'same-pool-retry';
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: name,
    });
    const h = await c.create({ project_id: project(), name, size: 1 }, undefined, await noIgnoreQueue());
    const result = await h.result();
    assert.equal(result.backend_id, A);
    assert.deepEqual(result.retry, { num_attempts: 2, backends: [A, A], hosts: [A, A] });
    assert.deepEqual(
      result.attempts.map((a) => [a.attempt, a.backend_id, a.outcome]),
      [
        [1, A, 'failed'],
        [2, A, 'succeeded'],
      ],
    );
    // The failed attempt's delete ran before the second attempt, so it cannot remove the new volume.
    assert.equal(result.attempts[0].cleanup, 'nothing to delete');
    assert.deepEqual(c.volumeFiles(h.volumeId), [`${A}/volume-${h.volumeId}`], 'exactly one file');
    const claims = await c.store.listClaims(h.volumeId);
    assert.deepEqual(
      claims.map((x) => [x.attempt, x.backend_id, x.status]),
      [
        [1, A, 'released'],
        [2, A, 'active'],
      ],
    );
    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'available');
    assert.equal(vol?.host, A);
  });

  it('fails with NoValidBackend naming the CapacityFilter when no pool is large enough', async () => {
    const h = await c.create({ project_id: project(), name: 'too-big', size: 400 });
    const err = await expectCreateFailure(h, 'NoValidBackend');
    assert.ok(err.message.includes('CapacityFilter'), err.message);
    assert.ok(err.message.includes('CapacityFilter removed the last 3 of 3 pools'), err.message);
    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'error');
    assert.ok(vol?.error_reason?.includes('CapacityFilter'), String(vol?.error_reason));
    assert.equal(err.state!.attempts.length, 0, 'no backend was tried');
    const schedEvents = await c.store.listEvents({ volume_id: h.volumeId, event_type: 'scheduler.create_volume' });
    assert.equal(schedEvents.length, 1);
    assert.ok(String(schedEvents[0].payload.reason).includes('CapacityFilter'));
    assert.deepEqual(await c.store.listClaims(h.volumeId), [], 'nothing was claimed');
    assert.deepEqual(c.volumeFiles(h.volumeId), []);
  });

  it('rejects an unknown availability zone in the API flow: InvalidAvailabilityZone, no row, no quota', async () => {
    const zoneProject = project();
    const h = await c.create({ name: 'bad-zone', size: 1, project_id: zoneProject, availability_zone: 'atlantis' });
    const err = await expectCreateFailure(h, 'InvalidAvailabilityZone');
    assert.ok(err.message.includes('atlantis'), err.message);
    assert.equal(await c.store.getVolume(h.volumeId), null);
    for (const q of await c.store.getQuotaUsage(zoneProject))
      assert.deepEqual([q.resource, q.in_use, q.reserved], [q.resource, 0, 0]);
    assert.deepEqual(c.volumeFiles(h.volumeId), []);
  });

  it('retries a compensation delete that fails twice until it succeeds: no leak, compensations ok', async () => {
    const name = 'delete-fails-twice';
    const imageId = await c.addImage('delete-test', 64 * 1024, 0xcd);
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'copy_image',
      action: 'error',
      error_type: 'ImageCopyFailure',
      remaining: 1,
      volume_name: name,
    });
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'delete',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 2,
      volume_name: name,
    });

    const h = await c.create({ project_id: project(), name, size: 1, image_id: imageId });
    const err = await expectCreateFailure(h, 'ImageCopyFailure');
    const [attempt] = err.state!.attempts;
    assert.equal(attempt.cleanup, 'deleted');
    assert.deepEqual(attempt.compensations, [
      { name: 'CreateVolumeFromSpecTask', ok: true },
      { name: 'ScheduleCreateVolumeTask', ok: true },
    ]);
    assert.deepEqual(c.volumeFiles(h.volumeId), [], 'the volume made before the copy failed is gone');
    // The delete fault fired twice: the third try of the delete activity removed the volume.
    const rules = (await c.store.listFaultRules(c.host('A'))).filter(
      (r) => r.volume_name === name && r.op === 'delete',
    );
    assert.equal(rules[0].remaining, 0);
    const history = await c.history(h.workflowId);
    const deleteScheduled = history.events!.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deleteVolumeOnBackend',
    );
    assert.ok(deleteScheduled);
    const started = history.events!.find(
      (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === deleteScheduled.eventId?.toString(),
    );
    assert.equal(started?.activityTaskStartedEventAttributes?.attempt, 3, 'the delete succeeded on its third try');
    const deletes = await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.delete.end' });
    assert.deepEqual(
      deletes.map((e) => e.payload.deleted),
      [true],
    );
    await assertClaimsReleased(h.volumeId, [[1, A]]);
  });

  describe('request errors: nothing is created, nothing is counted', () => {
    async function assertNothingLeft(volumeId: string, project: string): Promise<void> {
      assert.equal(await c.store.getVolume(volumeId), null, 'no volume row');
      assert.deepEqual(c.volumeFiles(volumeId), [], 'no file');
      assert.deepEqual(await c.store.listClaims(volumeId), [], 'no capacity claimed');
      for (const q of await c.store.getQuotaUsage(project)) {
        assert.deepEqual([q.resource, q.in_use, q.reserved], [q.resource, 0, 0], `no quota used for ${q.resource}`);
      }
    }

    it('quota exceeded: QuotaError naming gigabytes, reservation rolled back', async () => {
      const quotaProject = project();
      await c.store.setQuotaLimit(quotaProject, 'gigabytes', 5);
      const h = await c.create({ name: 'over-quota', project_id: quotaProject, size: 6 });
      const err = await expectCreateFailure(h, 'QuotaError');
      assert.ok(err.message.includes('gigabytes'), err.message);
      assert.ok(err.message.includes('Requested 6G, quota is 5G'), err.message);
      await assertNothingLeft(h.volumeId, quotaProject);
      // Within the quota it works, and counts.
      const ok = await c.create({ name: 'within-quota', project_id: quotaProject, size: 5 });
      await ok.result();
      const usage = Object.fromEntries((await c.store.getQuotaUsage(quotaProject)).map((q) => [q.resource, q.in_use]));
      assert.equal(usage.gigabytes, 5);
      assert.equal(usage.volumes, 1);
    });

    const invalid: Array<{ what: string; request: Record<string, unknown>; type: string; field: string }> = [
      { what: 'size 0', request: { size: 0 }, type: 'InvalidInput', field: 'size' },
      { what: 'size 1.5', request: { size: 1.5 }, type: 'InvalidInput', field: 'size' },
      {
        what: 'an unknown volume type',
        request: { size: 1, volume_type: 'no-such-type' },
        type: 'VolumeTypeNotFound',
        field: 'volume_type',
      },
      {
        what: 'a metadata value that is not a string',
        request: { size: 1, metadata: { tier: 5 } },
        type: 'InvalidInput',
        field: 'metadata',
      },
    ];
    for (const k of invalid) {
      it(`invalid input, ${k.what}: ${k.type} naming '${k.field}'`, async () => {
        const invalidProject = project();
        const h = await c.create({ name: `invalid-${k.what}`, project_id: invalidProject, ...k.request } as never);
        const err = await expectCreateFailure(h, k.type);
        assert.ok(err.message.includes(k.field), `message names the field '${k.field}': ${err.message}`);
        await assertNothingLeft(h.volumeId, invalidProject);
      });
    }
  });
});
