/**
 * The activities in a MockActivityEnvironment (@temporalio/testing): real SQLite store, real file
 * driver in a temp directory, no server. Each database step is safe to run twice (a local activity
 * is re-run after a worker dies); the backend create heartbeats and stops when cancelled.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createApiActivities } from '../../src/activities/api-activities';
import { createSchedulerActivities, type ScheduleDecision } from '../../src/activities/scheduler-activities';
import type { VolumeSpec } from '../../src/activities/api-activities';
import { createVolumeActivities } from '../../src/activities/volume-activities';
import { DEFAULT_CREATE_OPTIONS } from '../../src/domain/create-options';
import { DEFAULT_REQUEST_LIMITS } from '../../src/domain/validation';
import { createDriver } from '../../src/drivers';
import { openVolumeStore } from '../../src/store';
import type { VolumeStore } from '../../src/store/volume-store';

const HOST = 'mock1@file';
const POOL = `${HOST}#pool1`;
const OWNER = 'run-1';

describe('activities in a MockActivityEnvironment', () => {
  let dir: string;
  let store: VolumeStore;
  const logger = pino({ level: 'silent' });
  const deps = () => ({ store, logger, now: () => new Date() });
  const local = (activityType: string) => new MockActivityEnvironment({ activityType, isLocal: true });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-mock-acts-'));
    store = await openVolumeStore(`sqlite:${path.join(dir, 'cinder.db')}`);
    await store.putVolumeType({ name: 'default', extra_specs: {} });
    const driver = createDriver({
      host: HOST,
      pools: [{ name: 'pool1', path: path.join(dir, 'pool1'), total_capacity_gb: 50 }],
    });
    await store.reportPoolStats(HOST, await driver.getVolumeStats(), new Date().toISOString());
  });
  after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const api = () =>
    createApiActivities({ ...deps(), limits: DEFAULT_REQUEST_LIMITS, createDefaults: { ...DEFAULT_CREATE_OPTIONS } });

  it('the API flow, each step run twice, leaves one row and one reservation', async () => {
    const a = api();
    const request = { volume_id: 'vol-api', project_id: 'p1', size: 2 };
    const spec: VolumeSpec = await local('extractVolumeRequest').run(a.extractVolumeRequest, request, undefined);
    assert.equal(spec.volume_type.name, 'default');
    assert.equal(spec.options.scheduler_max_attempts, 3);
    for (let i = 0; i < 2; i++) {
      await local('reserveQuota').run(
        a.reserveQuota,
        { request: spec.request, quota_deltas: spec.quota_deltas },
        OWNER,
      );
      await local('createVolumeEntry').run(
        a.createVolumeEntry,
        { request: spec.request, volume_type: spec.volume_type, source: spec.source },
        'create-volume-vol-api',
        OWNER,
      );
      await local('commitQuota').run(a.commitQuota, 'vol-api', OWNER);
    }
    assert.equal((await store.getVolume('vol-api'))?.status, 'creating');
    const usage = Object.fromEntries(
      (await store.getQuotaUsage('p1')).map((q) => [q.resource, [q.in_use, q.reserved]]),
    );
    assert.deepEqual(usage.volumes, [1, 0]);
    assert.deepEqual(usage.gigabytes, [2, 0]);
  });

  it('the API flow as one step, run twice, leaves one row and one committed reservation', async () => {
    const args = {
      request: { volume_id: 'vol-one', project_id: 'p3', size: 3 },
      workflow_id: 'create-volume-vol-one',
      owner: OWNER,
    };
    for (let i = 0; i < 2; i++) {
      const spec: VolumeSpec = await local('createVolumeApiFlow').run(api().createVolumeApiFlow, args);
      assert.equal(spec.request.volume_id, 'vol-one');
    }
    assert.equal((await store.getVolume('vol-one'))?.status, 'creating');
    const usage = Object.fromEntries(
      (await store.getQuotaUsage('p3')).map((q) => [q.resource, [q.in_use, q.reserved]]),
    );
    assert.deepEqual(usage.gigabytes, [3, 0]);
  });

  it('the API flow as one step, refused after its entry: no row, no quota', async () => {
    // Another create owns the volume id: the entry is refused, and the reservation is given back.
    const request = { volume_id: 'vol-taken', project_id: 'p4', size: 2 };
    await local('createVolumeApiFlow').run(api().createVolumeApiFlow, {
      request,
      workflow_id: 'create-volume-vol-taken',
      owner: 'run-first',
    });
    const before = await store.getQuotaUsage('p4');
    await assert.rejects(
      local('createVolumeApiFlow').run(api().createVolumeApiFlow, {
        request: { ...request, project_id: 'p5' },
        workflow_id: 'create-volume-vol-taken',
        owner: 'run-second',
      }),
      (err: unknown) => err instanceof ApplicationFailure && err.nonRetryable && /already exists/.test(err.message),
    );
    assert.deepEqual(await store.getQuotaUsage('p4'), before, "the first create's quota is untouched");
    const p5 = (await store.getQuotaUsage('p5')).filter((q) => q.in_use !== 0 || q.reserved !== 0);
    assert.deepEqual(p5, [], 'the refused create holds no quota');
    assert.equal((await store.getVolume('vol-taken'))?.project_id, 'p4');
  });

  it('a bad request is refused as a non-retryable InvalidInput naming the field', async () => {
    await assert.rejects(
      local('extractVolumeRequest').run(
        api().extractVolumeRequest,
        { volume_id: 'vol-bad', project_id: 'p1', size: 0 },
        undefined,
      ),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'InvalidInput' &&
        err.nonRetryable &&
        /'size'/.test(err.message),
    );
  });

  it('a scheduling pass run twice returns the same decision and holds one claim; the release is safe twice', async () => {
    const s = createSchedulerActivities(deps());
    const req = {
      volume_id: 'vol-api',
      attempt: 1,
      filter_properties: { size: 2, volume_id: 'vol-api', volume_type: { name: 'default', extra_specs: {} } },
      resource_backend: null,
      options: DEFAULT_CREATE_OPTIONS,
      owner: OWNER,
    };
    const first: ScheduleDecision = await local('scheduleCreateVolume').run(s.scheduleCreateVolume, req);
    const again = await local('scheduleCreateVolume').run(s.scheduleCreateVolume, req);
    assert.equal(first.backend_id, POOL);
    assert.deepEqual(again, first);
    assert.deepEqual(first.filter_properties.retry, { num_attempts: 1, backends: [POOL], hosts: [POOL] });
    assert.equal((await store.listClaims('vol-api')).filter((c) => c.status === 'active').length, 1);
    assert.equal(await local('releaseCapacity').run(s.releaseCapacity, 'vol-api', 1, OWNER), true);
    assert.equal(await local('releaseCapacity').run(s.releaseCapacity, 'vol-api', 1, OWNER), false);
  });

  it('a pass past scheduler_max_attempts fails with NoValidBackend, not retryable', async () => {
    const s = createSchedulerActivities(deps());
    await assert.rejects(
      local('scheduleCreateVolume').run(s.scheduleCreateVolume, {
        volume_id: 'vol-api',
        attempt: 4,
        filter_properties: {
          size: 2,
          volume_id: 'vol-api',
          retry: { num_attempts: 3, backends: [POOL], hosts: [POOL] },
        },
        resource_backend: null,
        options: DEFAULT_CREATE_OPTIONS,
      }),
      (err: unknown) =>
        err instanceof ApplicationFailure &&
        err.type === 'NoValidBackend' &&
        err.nonRetryable &&
        /Exceeded max scheduling attempts 3/.test(err.message),
    );
  });

  it("mark-error sets the row and emits Cinder's notification once per run", async () => {
    const s = createSchedulerActivities(deps());
    const args = {
      volume_id: 'vol-api',
      reason: 'No valid backend was found.',
      error_type: 'NoValidBackend',
      scheduling_failed: true,
      owner: OWNER,
    };
    await local('markVolumeError').run(s.markVolumeError, args);
    const row = await store.getVolume('vol-api');
    assert.deepEqual([row?.status, row?.error_reason], ['error', 'No valid backend was found.']);
    const events = await store.listEvents({ volume_id: 'vol-api', event_type: 'scheduler.create_volume' });
    assert.equal(events.length, 1);
    assert.equal(events[0].payload.error_type, 'NoValidBackend');
  });

  describe('the backend create', () => {
    const volume = async (id: string) => {
      const a = api();
      const spec: VolumeSpec = await local('extractVolumeRequest').run(
        a.extractVolumeRequest,
        { volume_id: id, project_id: 'p2', size: 1, name: id },
        undefined,
      );
      await local('createVolumeEntry').run(a.createVolumeEntry, spec, `create-volume-${id}`, OWNER);
      return createVolumeActivities({
        ...deps(),
        driver: createDriver(
          { host: HOST, pools: [{ name: 'pool1', path: path.join(dir, 'pool1'), total_capacity_gb: 50 }] },
          store,
        ),
      });
    };

    it('heartbeats, makes volume-<id>, and its delete is safe twice', async () => {
      const v = await volume('vol-made');
      const env = new MockActivityEnvironment({ activityType: 'createVolumeFromSpec', heartbeatTimeoutMs: 300 });
      let beats = 0;
      env.on('heartbeat', () => beats++);
      const req = { volume_id: 'vol-made', backend_id: POOL, attempt: 1, owner: OWNER };
      assert.deepEqual(await env.run(v.createVolumeFromSpec, req), { object_name: 'volume-vol-made' });
      assert.ok(beats >= 1, 'heartbeats');
      assert.ok(fs.existsSync(path.join(dir, 'pool1', 'volume-vol-made')));
      const del = () =>
        new MockActivityEnvironment({ activityType: 'deleteVolumeOnBackend' }).run(v.deleteVolumeOnBackend, req);
      assert.deepEqual(await del(), { deleted: true, skipped: false });
      assert.deepEqual(await del(), { deleted: false, skipped: false });
    });

    it('asked to finish, makes the volume available; a retry finds it made and finished', async () => {
      const v = await volume('vol-fin');
      const req = { volume_id: 'vol-fin', backend_id: POOL, attempt: 1, owner: OWNER, finish: true };
      for (let i = 0; i < 2; i++) {
        const env = new MockActivityEnvironment({ activityType: 'createVolumeFromSpec', heartbeatTimeoutMs: 300 });
        assert.deepEqual(await env.run(v.createVolumeFromSpec, req), { object_name: 'volume-vol-fin', finished: true });
      }
      const row = await store.getVolume('vol-fin');
      assert.equal(row?.status, 'available');
      assert.equal(row?.host, POOL);
    });

    it('stops when cancelled (a hung driver call is aborted)', async () => {
      const v = await volume('vol-hang');
      await store.addFaultRule({ host: HOST, op: 'create', action: 'hang', remaining: 1, volume_name: 'vol-hang' });
      const env = new MockActivityEnvironment({ activityType: 'createVolumeFromSpec', heartbeatTimeoutMs: 300 });
      const running = env.run(v.createVolumeFromSpec, {
        volume_id: 'vol-hang',
        backend_id: POOL,
        attempt: 1,
        owner: OWNER,
      });
      setTimeout(() => env.cancel('CANCELLED'), 300);
      await assert.rejects(
        running,
        (err: unknown) =>
          err instanceof CancelledFailure || (err as Error).name === 'AbortError' || /cancel|abort/i.test(String(err)),
      );
    });
  });
});
