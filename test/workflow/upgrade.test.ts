/**
 * Running creates survive the upgrade to the three flows on local activities: a create started on
 * the old build (the frozen body, with normal activities) is held in its backend create while the
 * old worker stops; the new build's worker takes over and finishes it on the old path, while a new
 * create on the same queue takes the new path (the patch marker, local activities).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { activityCalls } from '../../src/client/history';
import { PATCH_THREE_FLOWS } from '../../src/domain/names';
import type { createVolume } from '../../src/workflows/create-volume';
import { FakeCinder, startInProcess, stubPools } from '../support/in-process';

describe('upgrade: a create started before the three flows finishes on the new build', { timeout: 180_000 }, () => {
  it('old create finishes on the old path; a new create takes the new one', async () => {
    const [A, B] = stubPools(2);
    const fake = new FakeCinder({
      pools: [A, B],
      create: (n) => (n === 1 ? { type: 'VolumeBackendAPIException', message: 'first try fails' } : 'ok'),
    });
    const held = fake.hold('createVolumeFromSpec');
    // The backends' workers serve both builds (their activities are the contract between builds).
    const backends = await startInProcess(fake, undefined, { backends: true });
    // The old build: a scheduler worker with the old workflow code.
    const old = await startInProcess(fake, undefined, {
      workflowsPath: require.resolve('../support/v1-workflows'),
      backends: false,
    });
    const started = await old.start({}, {}, { workflowTaskTimeout: '2 seconds' });
    await held.reached;
    // The old scheduler worker goes away mid-create (the backend create is still running).
    await old.stop();
    const current = await startInProcess(fake, undefined, { taskQueue: old.taskQueue, backends: false });
    const h = current.client.workflow.getHandle<typeof createVolume>(started.workflowId);
    try {
      held.release();
      const r = await h.result();
      assert.equal(r.backend_id, B, 'rescheduled after the first attempt, on the new build');
      assert.deepEqual(
        r.attempts.map((a) => [a.attempt, a.backend_id, a.outcome]),
        [
          [1, A, 'failed'],
          [2, B, 'succeeded'],
        ],
      );
      const events = (await h.fetchHistory()).events ?? [];
      const markers = events.filter((e) => e.markerRecordedEventAttributes);
      assert.equal(markers.length, 0, 'the old create never took the new path (no patch marker, no local activity)');
      const calls = activityCalls(events);
      assert.ok(calls.every((x) => !x.local));
      assert.deepEqual(calls.filter((x) => x.activity === 'scheduleCreateVolume').length, 2);

      const fresh = await current.start();
      assert.equal((await fresh.result()).backend_id, B, 'the new create reschedules the same way');
      const freshEvents = (await fresh.fetchHistory()).events ?? [];
      const patchMarker = freshEvents.find((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
      assert.ok(patchMarker, `the new create records the ${PATCH_THREE_FLOWS} patch`);
      assert.ok(activityCalls(freshEvents).some((x) => x.local && x.activity === 'scheduleCreateVolume'));
    } finally {
      await current.stop();
      await backends.stop();
    }
  });
});
