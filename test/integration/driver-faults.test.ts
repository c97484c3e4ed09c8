/**
 * Faults that fail as real drivers fail, against real worker processes: a driver that writes the
 * volume and then raises (the compensation deletes a real file), a write that lands short, an
 * exception that is not Cinder's (rescheduled: the no-reschedule list is a denylist), the two
 * no-reschedule types of the design notes' Cinder release, and copy_image / delete faults raised
 * after their work is done. Fault rules always name their volume, so the tests never disturb each
 * other. A is larger than B, so the CapacityWeigher tries A first.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { volumeHistory } from '../../src/client/history';
import { GiB } from '../../src/drivers/file-driver';
import type { FaultRule } from '../../src/domain/faults';
import { eventually, expectCreateFailure, startCluster, type Cluster } from '../support/cluster';
import { runCli } from '../support/run-process';

describe('create-volume: faults that fail like drivers', { timeout: 300_000 }, () => {
  let c: Cluster;
  let A: string;
  let B: string;

  before(async () => {
    c = await startCluster({
      backends: [{ name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 300 }] }, { name: 'B' }],
    });
    A = c.pool('A').backend_id;
    B = c.pool('B').backend_id;
  });

  after(() => c?.stopAfterLeakCheck());

  let projects = 0;
  const project = () => `p-${c.id}-${++projects}`;

  const fault = (rule: Partial<Omit<FaultRule, 'id'>> & { volume_name: string }) =>
    c.store.addFaultRule({ host: c.host('A'), op: 'create', action: 'error', remaining: null, ...rule });

  async function deletesOf(volumeId: string): Promise<Array<[unknown, unknown]>> {
    return (await c.store.listEvents({ volume_id: volumeId, event_type: 'volume.delete.end' })).map((e) => [
      e.payload.backend_id,
      e.payload.deleted,
    ]);
  }

  const cli = (args: string[]) => runCli(args, c.env);

  it('--after-write: the driver creates the volume, then raises; the compensation deletes the real file and history says deleted', async () => {
    const name = 'after-write';
    await fault({ error_type: 'VolumeBackendAPIException', stage: 'after_write', volume_name: name });
    const h = await c.create({ project_id: project(), name, size: 2 });
    const result = await h.result();
    assert.equal(result.backend_id, B, 'rescheduled to B');
    const [first, second] = result.attempts;
    assert.deepEqual(
      [first.backend_id, first.outcome, first.error_type, first.cleanup],
      [A, 'failed', 'VolumeBackendAPIException', 'deleted'],
    );
    assert.match(first.error ?? '', /after writing it/);
    assert.equal(second.outcome, 'succeeded');
    assert.deepEqual(await deletesOf(h.volumeId), [[A, true]], 'the compensation removed a file that existed');
    assert.deepEqual(c.volumeFiles(h.volumeId), [`${B}/volume-${h.volumeId}`]);

    // What a user reads: the library's history and the CLI's table.
    const history = await volumeHistory(c.client, h.volumeId);
    assert.deepEqual(
      history.attempts.map((a) => [a.backend_id, a.outcome, a.cleanup]),
      [
        [A, 'failed', 'deleted'],
        [B, 'succeeded', undefined],
      ],
    );
    const out = await cli(['history', h.volumeId]);
    assert.equal(out.code, 0, out.stderr);
    const row = out.stdout.split('\n').find((l) => l.includes(`| 1 of 3`));
    assert.ok(
      row &&
        row.includes(A) &&
        row.includes('VolumeBackendAPIException') &&
        /\| deleted; capacity given back\s*\|/.test(row),
      `attempt 1 row: ${row}\n${out.stdout}`,
    );
  });

  it('a partial write: volume-<id> exists smaller than asked, the create fails and is rescheduled, the short file is deleted', async () => {
    const name = 'partial-write';
    await fault({ stage: 'partial_write', volume_name: name });
    // Hold the compensation delete a moment, to look at what the failed create left on A.
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'delete',
      action: 'delay',
      delay_ms: 2000,
      remaining: 1,
      volume_name: name,
    });
    const h = await c.create({ project_id: project(), name, size: 2 });
    const file = path.join(c.pool('A').path, `volume-${h.volumeId}`);
    const size = await eventually(
      async () => (fs.existsSync(file) ? fs.statSync(file).size : null),
      30_000,
      'the short write on A',
    );
    assert.equal(size, GiB, 'volume-<id> holds 1 of the 2 GiB asked for');
    const result = await h.result();
    assert.equal(result.backend_id, B);
    const [first] = result.attempts;
    assert.deepEqual([first.backend_id, first.error_type, first.cleanup], [A, 'VolumeBackendAPIException', 'deleted']);
    assert.match(first.error ?? '', new RegExp(`after writing ${GiB} of ${2 * GiB} bytes`));
    assert.equal(fs.existsSync(file), false, 'the short file is gone');
    assert.deepEqual(c.volumeFiles(h.volumeId), [`${B}/volume-${h.volumeId}`]);
  });

  for (const type of ['ProcessExecutionError', 'Error']) {
    it(`a non-Cinder exception (${type}) is retried on the backend, then rescheduled: the list is a denylist`, async () => {
      const name = `not-cinder-${type}`;
      await fault({ error_type: type, volume_name: name });
      const h = await c.create({ project_id: project(), name, size: 1 });
      const result = await h.result();
      assert.equal(result.backend_id, B);
      const [first, second] = result.attempts;
      assert.deepEqual([first.backend_id, first.outcome, first.error_type], [A, 'failed', type]);
      assert.match(first.error ?? '', new RegExp(`Injected fault on ${c.host('A')}: ${type} while creating`));
      assert.equal(first.cleanup, 'nothing to delete');
      assert.equal(second.outcome, 'succeeded');
      assert.deepEqual(result.retry?.backends, [A, B]);
      // Temporal retried the create on A (a plain error is retryable) before the workflow rescheduled it.
      const rule = (await c.store.listFaultRules(c.host('A'))).find((r) => r.volume_name === name)!;
      const events = (await c.history(h.workflowId)).events!;
      const createOnA = events.find(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'createVolumeFromSpec',
      )!;
      const started = events.find(
        (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === createOnA.eventId?.toString(),
      );
      assert.equal(
        started?.activityTaskStartedEventAttributes?.attempt,
        3,
        'three tries on A (create_max_activity_attempts)',
      );
      assert.equal(rule.remaining, null);
      assert.equal(
        (await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.create.reschedule' })).length,
        1,
      );
    });
  }

  for (const type of ['ExportFailure', 'MetadataCreateFailure']) {
    it(`${type} (the design notes' release) after the volume exists: one attempt, no reschedule, the volume deleted`, async () => {
      const name = `no-reschedule-${type}`;
      await fault({ error_type: type, stage: 'after_write', volume_name: name });
      const h = await c.create({ project_id: project(), name, size: 1 });
      const err = await expectCreateFailure(h, type);
      assert.ok(err.message.includes(`not rescheduled: ${type} is a no-reschedule failure`), err.message);
      const attempts = err.state!.attempts;
      assert.deepEqual(
        attempts.map((a) => [a.attempt, a.backend_id, a.outcome, a.error_type, a.cleanup]),
        [[1, A, 'failed', type, 'deleted']],
      );
      const vol = await c.store.getVolume(h.volumeId);
      assert.equal(vol?.status, 'error');
      assert.ok(vol?.error_reason?.includes(type), String(vol?.error_reason));
      assert.deepEqual(await deletesOf(h.volumeId), [[A, true]]);
      assert.deepEqual(
        (await c.store.listClaims(h.volumeId)).map((x) => [x.attempt, x.status]),
        [[1, 'released']],
      );
      assert.deepEqual(c.volumeFiles(h.volumeId), []);
      assert.equal(
        (await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.create.reschedule' })).length,
        0,
      );
    });
  }

  it('copy_image after the copy and delete after the delete keep working: ImageCopyFailure, the volume deleted once', async () => {
    const name = 'copy-then-fail';
    const imageId = await c.addImage('aw', 128 * 1024, 0x7e);
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'copy_image',
      action: 'error',
      stage: 'after_write',
      remaining: 1,
      volume_name: name,
    });
    // The driver deletes the volume, then says it failed: the retried delete finds nothing.
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'delete',
      action: 'error',
      stage: 'after_write',
      remaining: 1,
      volume_name: name,
    });
    const h = await c.create({ project_id: project(), name, size: 1, image_id: imageId });
    const err = await expectCreateFailure(h, 'ImageCopyFailure');
    const [attempt] = err.state!.attempts;
    assert.match(attempt.error ?? '', /after copying it/);
    assert.equal(attempt.cleanup, 'nothing to delete', 'the second try of the delete found the volume gone');
    assert.deepEqual(attempt.compensations, [
      { name: 'CreateVolumeFromSpecTask', ok: true },
      { name: 'ScheduleCreateVolumeTask', ok: true },
    ]);
    assert.deepEqual(c.volumeFiles(h.volumeId), []);
    const rules = (await c.store.listFaultRules(c.host('A'))).filter((r) => r.volume_name === name);
    assert.deepEqual(
      rules.map((r) => [r.op, r.remaining]),
      [
        ['copy_image', 0],
        ['delete', 0],
      ],
      'both faults fired',
    );
  });
});
