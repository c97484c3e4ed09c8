/**
 * Recovery in seconds, with the production defaults of the timeouts that matter: a volume worker
 * SIGKILLed during a compensation delete (the delete heartbeats, so its death is noticed within the
 * heartbeat timeout), a scheduler worker SIGKILLed in the middle of an API-flow step (database steps
 * have a start-to-close just above a SQLite busy wait), and a worker started while the Temporal
 * server is down (it retries until its deadline, not ready meanwhile). Real processes and signals.
 * A is larger than B, so A is tried first.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { temporal } from '@temporalio/proto';
import Database from 'better-sqlite3';
import { DEFAULT_CREATE_OPTIONS } from '../../src/domain/create-options';
import { freePort, startDevServer } from '../../src/dev-server/dev-server';
import { WorkerProcess } from '../../src/dev-server/worker-process';
import { localActivityOf } from '../../src/client/history';
import { eventually, startCluster, type Cluster } from '../support/cluster';

/** How soon after the restart the stalled create must move on. */
const MOVE_ON_MS = 15_000;

describe('recovery: killed workers cost seconds', { timeout: 300_000 }, () => {
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

  /** When the activity completed, by the history's clock (a local activity: its marker). */
  async function completedAt(workflowId: string, activity: string): Promise<number[]> {
    const events = (await c.history(workflowId)).events!;
    const scheduled = new Set(
      events
        .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activity)
        .map((e) => e.eventId?.toString()),
    );
    return events
      .filter(
        (e) =>
          (e.activityTaskCompletedEventAttributes &&
            scheduled.has(e.activityTaskCompletedEventAttributes.scheduledEventId?.toString())) ||
          localActivityOf(e)?.activity === activity,
      )
      .map((e) => Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6));
  }

  it('a volume worker SIGKILLed during a compensation delete: the create moves on within 15 s of the restart', async (t) => {
    const name = 'killed-mid-delete';
    // The driver writes the volume and fails; the compensation's delete then kills A's worker.
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      stage: 'after_write',
      remaining: 1,
      volume_name: name,
    });
    await c.store.addFaultRule({ host: c.host('A'), op: 'delete', action: 'exit', remaining: 1, volume_name: name });
    const killed = c.worker('A');
    const h = await c.create(
      { name, size: 1 },
      {
        // The production defaults, not the tests' short ones.
        create_heartbeat_timeout_ms: DEFAULT_CREATE_OPTIONS.create_heartbeat_timeout_ms,
        compensation_schedule_to_start_timeout_ms: DEFAULT_CREATE_OPTIONS.compensation_schedule_to_start_timeout_ms,
      },
    );
    const exit = await killed.exited;
    assert.equal(exit.signal, 'SIGKILL');
    assert.ok(c.files('A').includes(`volume-${h.volumeId}`), 'the worker died before deleting the volume');

    await c.startVolumeWorker('A');
    const restarted = Date.now();
    const result = await h.result();
    const done = Date.now();
    const [deleted] = await completedAt(h.workflowId, 'deleteVolumeOnBackend');
    t.diagnostic(
      `after the restart: delete done in ${deleted - restarted} ms, create available in ${done - restarted} ms`,
    );
    assert.ok(deleted - restarted < MOVE_ON_MS, `the delete finished ${deleted - restarted} ms after the restart`);
    assert.ok(done - restarted < MOVE_ON_MS, `the create finished ${done - restarted} ms after the restart`);

    assert.equal(result.backend_id, B);
    const [first] = result.attempts;
    assert.deepEqual([first.backend_id, first.outcome, first.cleanup], [A, 'failed', 'deleted']);
    assert.deepEqual(c.volumeFiles(h.volumeId), [`${B}/volume-${h.volumeId}`], 'the volume on A is gone, one on B');
    const events = (await c.history(h.workflowId)).events!;
    const del = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'deleteVolumeOnBackend',
    )!;
    assert.equal(
      del.activityTaskScheduledEventAttributes?.heartbeatTimeout?.seconds?.toString(),
      String(DEFAULT_CREATE_OPTIONS.create_heartbeat_timeout_ms / 1000),
      'the delete has a heartbeat timeout',
    );
    const started = events.find(
      (e) => e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === del.eventId?.toString(),
    );
    assert.equal(
      started?.activityTaskStartedEventAttributes?.attempt,
      2,
      'the delete ran again on the restarted worker',
    );
  });

  it('a scheduler worker SIGKILLed during an API-flow step: the step moves on within 15 s of the restart', async (t) => {
    // Hold the database's write lock, so the scheduler's first write of the API flow waits in it.
    const lock = new Database(c.dbPath, { timeout: 10_000 });
    lock.exec('BEGIN IMMEDIATE');
    let locked = true;
    const unlock = () => {
      if (locked) lock.exec('ROLLBACK');
      locked = false;
    };
    try {
      const h = await c.create({ name: 'scheduler-killed', size: 1 });
      // The API flow is a local activity: it runs inside the scheduler worker's workflow task, which
      // stays started while its first write (reserveQuota's) waits for the lock.
      const taskStarted = async () =>
        (await h.handle.describe()).raw.pendingWorkflowTask?.state ===
        temporal.api.enums.v1.PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED;
      await eventually(
        async () =>
          (await taskStarted()) &&
          (await new Promise((r) => setTimeout(r, 1000))) === undefined &&
          (await taskStarted()),
        30_000,
        'an API-flow step to start and wait for the lock',
      );
      const step = 'createVolumeApiFlow';
      t.diagnostic(`killing the scheduler worker during ${step}`);
      await c.worker('scheduler').stop('SIGKILL');
      unlock();
      await c.startWorker('scheduler', ['scheduler']);
      const restarted = Date.now();
      const result = await h.result();
      const done = Date.now();
      const stepDone = Math.max(...(await completedAt(h.workflowId, step)));
      t.diagnostic(
        `after the restart: ${step} done in ${stepDone - restarted} ms, create available in ${done - restarted} ms`,
      );
      assert.ok(stepDone - restarted < MOVE_ON_MS, `${step} finished ${stepDone - restarted} ms after the restart`);
      assert.equal(result.backend_id, A);
      assert.equal((await c.store.getVolume(h.volumeId))?.status, 'available');
      assert.deepEqual(c.volumeFiles(h.volumeId), [`${A}/volume-${h.volumeId}`]);
    } finally {
      unlock();
      lock.close();
    }
  });

  it('a worker started while the Temporal server is down retries with backoff, not ready, until the server is up', async () => {
    const port = await freePort();
    const healthPort = await freePort();
    const w = new WorkerProcess({
      roles: ['scheduler'],
      env: {
        ...c.env,
        TEMPORAL_ADDRESS: `127.0.0.1:${port}`,
        CINDER_HEALTH_ADDRESS: `127.0.0.1:${healthPort}`,
        CINDER_CONNECT_DEADLINE_MS: '120000',
      },
      logFile: path.join(c.dir, 'late-server.log'),
    });
    let server: Awaited<ReturnType<typeof startDevServer>> | null = null;
    try {
      const failures = () => w.logs().filter((l) => l.event === 'worker.connect_failed');
      await eventually(async () => failures().length >= 2, 30_000, 'two failed tries, each logged');
      assert.deepEqual(
        failures()
          .slice(0, 2)
          .map((l) => l.attempt),
        [1, 2],
      );
      assert.ok(
        failures().every((l) => typeof l.retry_in_ms === 'number' && String(l.err).length > 0),
        JSON.stringify(failures()[0]),
      );
      const notReady = await fetch(`http://127.0.0.1:${healthPort}/readyz`);
      assert.equal(notReady.status, 503);
      const body = (await notReady.json()) as { ready: boolean; reasons: string[] };
      assert.equal(body.ready, false);
      assert.ok(
        body.reasons.some((r) => r.startsWith('cannot reach the Temporal server yet')),
        body.reasons.join('; '),
      );
      assert.ok(w.running, 'still running, not exited');

      server = await startDevServer({ port, ui: false, reuseExisting: false });
      await w.ready;
      assert.ok(
        w.logs().some((l) => l.event === 'worker.connected'),
        'the connection after the failures is logged',
      );
      await eventually(
        async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200,
        30_000,
        '/readyz to say ready',
      );
    } finally {
      await w.stop('SIGTERM', 10_000);
      await server?.stop();
    }
  });

  it('a worker that cannot reach the server by its deadline exits 1, saying so', async () => {
    const port = await freePort();
    const w = new WorkerProcess({
      roles: ['scheduler'],
      env: { ...c.env, TEMPORAL_ADDRESS: `127.0.0.1:${port}`, CINDER_CONNECT_DEADLINE_MS: '1500' },
      logFile: path.join(c.dir, 'no-server.log'),
    });
    const err = await w.ready.then(
      () => null,
      (e: Error) => e,
    );
    assert.ok(err, 'it never became ready');
    const exit = await w.exited;
    assert.equal(exit.code, 1);
    assert.match(
      err.message,
      new RegExp(`cannot reach the Temporal server at 127\\.0\\.0\\.1:${port} after \\d+ tries in 1500 ms`),
    );
    assert.ok(w.logs().filter((l) => l.event === 'worker.connect_failed').length >= 1);
  });
});
