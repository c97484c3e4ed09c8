/**
 * The worker process as operations sees it: the health endpoint, the Prometheus endpoint (the SDK's
 * `temporal_*` metrics and the project's `cinder_*` ones), the SDK's and workflows' log lines
 * carrying Cinder's ids, and a graceful stop (SIGTERM) that lets an in-flight backend create finish.
 * Real dev server, real worker processes; every worker serves metrics and health on a free port.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { decodeVersioningBehavior } from '@temporalio/common';
import { createVolume } from '../../src/client/volumes';
import { volumeTaskQueue } from '../../src/domain/volume';
import { CINDER_METRICS } from '../../src/observability/metrics';
import { eventually, expectCreateFailure, startCluster, type Cluster } from '../support/cluster';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format, the sample lines (enough for these checks). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The value of the one sample of name whose labels include these (0 when there is none). */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(
    found.length <= 1,
    `${name}${JSON.stringify(labels)} matches ${found.length} series: ${JSON.stringify(found)}`,
  );
  return found[0]?.value ?? 0;
}

describe('worker operations: health, metrics, logs, graceful stop', { timeout: 300_000 }, () => {
  let c: Cluster;
  let A: string;
  let B: string;

  /** host:port a worker process serves `what` on, from its worker.running line. */
  const addressOf = (key: string, what: 'metrics_address' | 'health_address'): string => {
    const line = c
      .worker(key)
      .logs()
      .find((l) => l.event === 'worker.running');
    assert.ok(line, `${key} logged worker.running`);
    assert.equal(typeof line[what], 'string', `${key} serves ${what}: ${JSON.stringify(line)}`);
    return line[what] as string;
  };
  const scrape = async (key: string): Promise<Sample[]> => {
    const res = await fetch(`http://${addressOf(key, 'metrics_address')}/metrics`);
    assert.equal(res.status, 200);
    return parseMetrics(await res.text());
  };
  const health = async (key: string, path: '/healthz' | '/readyz') => {
    const res = await fetch(`http://${addressOf(key, 'health_address')}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    // Every worker process of this file (the cluster passes its own environment on) serves metrics
    // and health on a port it picks, and gives in-flight activities 20 s on SIGTERM.
    process.env.CINDER_METRICS_ADDRESS = '127.0.0.1:0';
    process.env.CINDER_HEALTH_ADDRESS = '127.0.0.1:0';
    process.env.CINDER_SHUTDOWN_GRACE_MS = '20000';
    c = await startCluster({
      backends: [{ name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 200 }] }, { name: 'B' }],
    });
    A = c.pool('A').backend_id;
    B = c.pool('B').backend_id;
  });

  after(() => c?.stopAfterLeakCheck());

  it('/healthz and /readyz: 200 with the roles, task queues and polling state of each worker', async () => {
    const sched = await health('scheduler', '/healthz');
    assert.equal(sched.status, 200, JSON.stringify(sched.body));
    assert.equal(sched.body.status, 'ok');
    assert.equal(sched.body.polling, true);
    assert.deepEqual(sched.body.roles, { scheduler: true, backends: [] });
    assert.deepEqual(sched.body.task_queues, [c.taskQueue]);
    assert.deepEqual(sched.body.workers, [{ role: 'scheduler', task_queue: c.taskQueue, state: 'RUNNING' }]);
    assert.equal((await health('scheduler', '/readyz')).status, 200);

    const vol = await health('A', '/healthz');
    assert.equal(vol.status, 200, JSON.stringify(vol.body));
    assert.deepEqual(vol.body.roles, { scheduler: false, backends: [c.host('A')] });
    assert.deepEqual(vol.body.task_queues, [volumeTaskQueue(c.host('A'))]);
    assert.equal(vol.body.polling, true);
    const ready = await health('A', '/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.equal((ready.body.stats_reports as Record<string, { ok: boolean }>)[c.host('A')].ok, true);
    assert.deepEqual(ready.body.reasons, []);

    const other = await fetch(`http://${addressOf('A', 'health_address')}/nothing`);
    assert.equal(other.status, 404);
  });

  it('/metrics: the SDK metrics and the cinder_ metrics by outcome, reschedule, failure type, compensation and pool', async () => {
    // A plain create (A is larger: it lands there), a reschedule from A to B whose first delete on A
    // fails once, a no-reschedule failure, and a request the API flow rejects.
    const plain = await c.create({ name: 'metrics-plain', size: 2 });
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: 'metrics-resched',
    });
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'delete',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: 'metrics-resched',
    });
    const resched = await c.create({ name: 'metrics-resched', size: 1 });
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'ImageTooBig',
      remaining: 1,
      volume_name: 'metrics-noresched',
    });
    const noResched = await c.create({ name: 'metrics-noresched', size: 1 });
    const rejected = await c.create({ name: 'metrics-rejected', size: 0 });

    assert.equal((await plain.result()).backend_id, A);
    const r = await resched.result();
    assert.equal(r.backend_id, B);
    assert.deepEqual(r.attempts[0].compensations, [
      { name: 'CreateVolumeFromSpecTask', ok: true },
      { name: 'ScheduleCreateVolumeTask', ok: true },
    ]);
    const noReschedErr = await expectCreateFailure(noResched, 'ImageTooBig');
    assert.equal(noReschedErr.state!.attempts.length, 1);
    await expectCreateFailure(rejected, 'InvalidInput');

    // Prometheus sums a counter over the processes that serve it: which pool runs an activity is
    // the workflow's business, so the checks add the three endpoints up.
    const [sched, mA, mB] = [await scrape('scheduler'), await scrape('A'), await scrape('B')];
    const total = (name: string, labels: Record<string, string> = {}) =>
      [sched, mA, mB].reduce((n, m) => n + valueOf(m, name, labels), 0);
    assert.ok(
      sched.some((s) => s.name.startsWith('temporal_')),
      'the SDK metrics are on the same endpoint',
    );
    assert.ok(
      valueOf(sched, 'temporal_workflow_completed', { workflow_type: 'createVolume' }) >= 2,
      'temporal_workflow_completed counts the creates',
    );
    assert.ok(
      valueOf(sched, 'temporal_workflow_failed', { workflow_type: 'createVolume' }) >= 2,
      'temporal_workflow_failed counts the failed creates',
    );
    assert.ok(
      mA.some(
        (s) =>
          s.name === 'temporal_activity_execution_latency_count' && s.labels.activity_type === 'createVolumeFromSpec',
      ),
      'activity metrics of the SDK on the volume worker',
    );

    assert.equal(
      total(CINDER_METRICS.creates, { outcome: 'available' }),
      2,
      'the plain and the rescheduled create ended available',
    );
    assert.equal(total(CINDER_METRICS.creates, { outcome: 'rejected', error_type: 'InvalidInput' }), 1);
    assert.equal(total(CINDER_METRICS.creates, { outcome: 'error', error_type: 'ImageTooBig' }), 1);
    assert.equal(total(CINDER_METRICS.noRescheduleFailures, { error_type: 'ImageTooBig' }), 1);
    assert.equal(total(CINDER_METRICS.reschedules, { host: c.host('A'), error_type: 'VolumeBackendAPIException' }), 1);
    assert.equal(
      total(CINDER_METRICS.backendCreateFailures, { host: c.host('A'), error_type: 'VolumeBackendAPIException' }),
      1,
    );
    assert.equal(total(CINDER_METRICS.backendCreateFailures, { host: c.host('A'), error_type: 'ImageTooBig' }), 1);
    assert.equal(total(CINDER_METRICS.backendCreateFailures, { host: c.host('B') }), 0, 'nothing failed on B');
    assert.equal(
      total(CINDER_METRICS.compensationFailures, {
        activity: 'deleteVolumeOnBackend',
        error_type: 'VolumeBackendAPIException',
      }),
      1,
    );
    // A backend's own failures are counted by its own volume worker.
    assert.equal(valueOf(mA, CINDER_METRICS.backendCreateFailures, { error_type: 'VolumeBackendAPIException' }), 1);

    // Pool capacity, from A's stats reports (every 500 ms here): the plain create's 2 GiB allocated.
    const poolA = (await c.store.listPools()).find((p) => p.backend_id === A)!;
    const gauges = await eventually(
      async () => {
        const m = await scrape('A');
        return valueOf(m, CINDER_METRICS.poolAllocated, { host: c.host('A'), pool: 'pool1' }) ===
          poolA.allocated_capacity_gb
          ? m
          : null;
      },
      15_000,
      "A's allocated capacity gauge",
    );
    assert.ok(poolA.allocated_capacity_gb >= 2, `allocated ${poolA.allocated_capacity_gb}`);
    assert.equal(valueOf(gauges, CINDER_METRICS.poolTotal, { host: c.host('A'), pool: 'pool1' }), 200);
    assert.ok(valueOf(gauges, CINDER_METRICS.poolFree, { host: c.host('A'), pool: 'pool1' }) > 0);
    assert.ok(valueOf(gauges, CINDER_METRICS.poolProvisioned, { host: c.host('A'), pool: 'pool1' }) >= 2);
    assert.ok(valueOf(gauges, CINDER_METRICS.statsReports, { host: c.host('A'), outcome: 'ok' }) >= 1);
    assert.ok(valueOf(gauges, CINDER_METRICS.statsLastReport, { host: c.host('A') }) > Date.now() / 1000 - 60);
    assert.ok(
      !gauges.some((s) => s.name === CINDER_METRICS.poolTotal && s.labels.host === c.host('B')),
      "A's worker reports only A's pools",
    );
    assert.equal(valueOf(await scrape('B'), CINDER_METRICS.poolTotal, { host: c.host('B'), pool: 'pool1' }), 100);
  });

  it("workflow and SDK log lines carry the volume's workflow_id and volume_id", async () => {
    const h = await c.create({ name: 'log-ids', size: 0 });
    await expectCreateFailure(h, 'InvalidInput');
    // The workflow's logger (SDK 'Workflow failed' line from inside the workflow) routed into pino.
    const line = await eventually(
      async () =>
        c
          .worker('scheduler')
          .logs()
          .find((l) => l.component === 'temporal' && l.msg === 'Workflow failed' && l.workflow_id === h.workflowId),
      15_000,
      "the workflow's 'Workflow failed' line",
    );
    assert.equal(line.volume_id, h.volumeId);
    assert.equal(line.workflowType, 'createVolume');
    assert.equal(line.level, 40, 'warn');
  });

  it('Worker Versioning: a versioned scheduler build runs creates whose volume activities go to the unversioned volume workers', async () => {
    const deploymentName = `cinder-it-${c.id}`;
    const taskQueue = `cinder-versioned-${c.id}`;
    const v1 = await c.startWorker('scheduler-v1', ['scheduler'], {
      CINDER_SCHEDULER_TASK_QUEUE: taskQueue,
      TEMPORAL_DEPLOYMENT_NAME: deploymentName,
      TEMPORAL_WORKER_BUILD_ID: 'v1',
    });
    const running = v1.logs().find((l) => l.event === 'worker.running')!;
    assert.deepEqual(running.versioning, {
      deployment_name: deploymentName,
      build_id: 'v1',
      default_behavior: 'PINNED',
    });
    // What `temporal worker deployment set-current-version` does; the version exists once it polled.
    await eventually(
      () =>
        c.client.workflowService
          .setWorkerDeploymentCurrentVersion({
            namespace: 'default',
            deploymentName,
            buildId: 'v1',
            identity: 'worker-ops test',
          })
          .then(
            () => true,
            () => false,
          ),
      30_000,
      'v1 to become the current version',
    );
    const h = await createVolume(
      c.client,
      { project_id: `project-${c.id}`, name: 'versioned', size: 1 },
      { taskQueue },
    );
    const result = await h.result();
    assert.equal(result.backend_id, A);
    const info = (await h.handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
    assert.equal(decodeVersioningBehavior(info?.behavior), 'PINNED', 'the create is pinned to the build it started on');
    assert.equal(info?.deploymentVersion?.buildId, 'v1');
    assert.equal(info?.deploymentVersion?.deploymentName, deploymentName);
    await v1.stop();
  });

  it('SIGTERM: the volume worker stops polling, finishes its in-flight backend create, exits 0, and the create completes', async () => {
    const name = 'graceful-stop';
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'delay',
      delay_ms: 4000,
      remaining: 1,
      volume_name: name,
    });
    const h = await c.create({ name, size: 1 });
    await eventually(
      async () => (await c.store.listEvents({ volume_id: h.volumeId, event_type: 'volume.create.start' })).length > 0,
      30_000,
      'the backend create to start on A',
    );
    const old = c.worker('A');
    const exiting = old.stop('SIGTERM', 60_000);
    // While it drains, A's worker says it is stopping.
    const draining = await eventually(
      async () => {
        const r = await health('A', '/healthz').catch(() => null);
        return r && r.body.status === 'stopping' ? r : null;
      },
      3000,
      "A's health to say stopping",
    );
    assert.equal(draining.status, 503);

    const exit = await exiting;
    assert.deepEqual(exit, { code: 0, signal: null }, 'a graceful stop exits 0');
    const lines = old.logs();
    const stopping = lines.findIndex((l) => l.event === 'worker.stopping');
    const created = lines.findIndex(
      (l) =>
        l.volume_id === h.volumeId && typeof l.msg === 'string' && l.msg.startsWith(`created volume-${h.volumeId}`),
    );
    assert.ok(stopping >= 0, 'A logged worker.stopping');
    assert.ok(created > stopping, 'the in-flight create finished after the stop began, on the stopping worker');
    assert.ok(lines.findIndex((l) => l.event === 'worker.stopped') > created, 'and the worker stopped only after it');

    // A stays down: nothing else of this create needs A's volume service.
    const result = await h.result();
    assert.deepEqual(
      result.attempts.map((a) => [a.attempt, a.backend_id, a.outcome]),
      [[1, A, 'succeeded']],
    );
    const history = await c.history(h.workflowId);
    const createScheduled = history.events!.filter(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'createVolumeFromSpec',
    );
    assert.equal(createScheduled.length, 1);
    const started = history.events!.filter(
      (e) =>
        e.activityTaskStartedEventAttributes?.scheduledEventId?.toString() === createScheduled[0].eventId?.toString(),
    );
    assert.equal(started.length, 1);
    assert.equal(
      started[0].activityTaskStartedEventAttributes!.attempt,
      1,
      'the create was not retried: the stopping worker finished it',
    );
    assert.deepEqual(c.volumeFiles(h.volumeId), [`${A}/volume-${h.volumeId}`]);
    assert.equal((await c.store.getVolume(h.volumeId))?.status, 'available');
  });
});
