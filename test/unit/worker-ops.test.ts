/**
 * The worker process's operational pieces without a server: the settings it reads (validated, each
 * mistake named), Worker Versioning options, where the workflow code comes from, the health
 * endpoint, the metrics an activity's end produces, and the ids on SDK log lines.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  ApplicationFailure,
  CancelledFailure,
  type MetricCounter,
  type MetricGauge,
  type MetricMeter,
  type MetricTags,
} from '@temporalio/common';
import type { WorkerOptions } from '@temporalio/worker';
import { ConfigError, ENV_SETTINGS, loadConfig } from '../../src/config/config';
import { logsAsJson } from '../../src/logger';
import { startHealthServer, WorkerHealth, type PolledWorker } from '../../src/observability/health';
import {
  CINDER_METRICS,
  createCinderMetrics,
  failureType,
  recordActivityOutcome,
  recordPoolCapacity,
} from '../../src/observability/metrics';
import { sdkLogFields, volumeIdOfWorkflow } from '../../src/observability/telemetry';
import type { PoolRow } from '../../src/store/volume-store';
import { connectBackoffMs, parseRoles, USAGE, versioningOptions, workflowSource } from '../../src/worker';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'worker-ops-'));

const fails = (env: NodeJS.ProcessEnv, dir: string, setting: string, text: RegExp) =>
  assert.throws(
    () => loadConfig(env, dir),
    (e: unknown) => e instanceof ConfigError && e.setting === setting && text.test(e.message),
    `expected a ConfigError naming ${setting} matching ${text}`,
  );

describe('worker settings', () => {
  it('defaults: JSON logs unless on a terminal, SDK lines at INFO, no endpoints, unversioned', () => {
    const c = loadConfig({}, tmp());
    assert.equal(c.log_level, 'info');
    assert.equal(c.log_format, 'auto');
    assert.equal(c.sdk_log_level, 'INFO');
    assert.equal(c.metrics_address, undefined);
    assert.equal(c.health_address, undefined);
    assert.equal(c.versioning, undefined);
  });

  it('from the environment, normalised', () => {
    const c = loadConfig(
      {
        CINDER_LOG_LEVEL: 'DEBUG',
        CINDER_LOG_FORMAT: 'Pretty',
        CINDER_SDK_LOG_LEVEL: 'warn',
        CINDER_METRICS_ADDRESS: '9464',
        CINDER_HEALTH_ADDRESS: '127.0.0.1:0',
        TEMPORAL_DEPLOYMENT_NAME: 'cinder-scheduler',
        TEMPORAL_WORKER_BUILD_ID: '2026.11.25-abc123',
        CINDER_VERSIONING_BEHAVIOR: 'auto-upgrade',
      },
      tmp(),
    );
    assert.equal(c.log_level, 'debug');
    assert.equal(c.log_format, 'pretty');
    assert.equal(c.sdk_log_level, 'WARN');
    assert.equal(c.metrics_address, '0.0.0.0:9464', 'a bare port listens on every interface');
    assert.equal(c.health_address, '127.0.0.1:0');
    assert.deepEqual(c.versioning, {
      deployment_name: 'cinder-scheduler',
      build_id: '2026.11.25-abc123',
      default_behavior: 'AUTO_UPGRADE',
    });
  });

  it('from the config file, the environment winning', () => {
    const dir = tmp();
    fs.writeFileSync(
      path.join(dir, 'c.yaml'),
      'log_format: json\nmetrics_address: "[::1]:9464"\nhealth_address: 0.0.0.0:8080\nversioning:\n  deployment_name: cinder\n  build_id: v1\n',
    );
    const c = loadConfig({ CINDER_CONFIG: 'c.yaml', TEMPORAL_WORKER_BUILD_ID: 'v2' }, dir);
    assert.equal(c.log_format, 'json');
    assert.equal(c.metrics_address, '[::1]:9464');
    assert.equal(c.health_address, '0.0.0.0:8080');
    assert.deepEqual(c.versioning, { deployment_name: 'cinder', build_id: 'v2', default_behavior: 'PINNED' });
  });

  it('every mistake names its variable or key', () => {
    const dir = tmp();
    fails({ CINDER_LOG_FORMAT: 'xml' }, dir, 'CINDER_LOG_FORMAT', /one of auto, json, pretty/);
    fails({ CINDER_LOG_LEVEL: 'loud' }, dir, 'CINDER_LOG_LEVEL', /one of trace, debug, info/);
    fails({ CINDER_SDK_LOG_LEVEL: 'chatty' }, dir, 'CINDER_SDK_LOG_LEVEL', /TRACE, DEBUG, INFO, WARN, ERROR/);
    fails({ CINDER_METRICS_ADDRESS: 'localhost:99999' }, dir, 'CINDER_METRICS_ADDRESS', /host:port/);
    fails({ CINDER_HEALTH_ADDRESS: 'http://x:80' }, dir, 'CINDER_HEALTH_ADDRESS', /host:port/);
    fails({ TEMPORAL_DEPLOYMENT_NAME: 'cinder' }, dir, 'TEMPORAL_WORKER_BUILD_ID', /required with a deployment name/);
    fails({ TEMPORAL_WORKER_BUILD_ID: 'v1' }, dir, 'TEMPORAL_DEPLOYMENT_NAME', /required with a build id/);
    fails(
      { TEMPORAL_DEPLOYMENT_NAME: 'a.b', TEMPORAL_WORKER_BUILD_ID: 'v1' },
      dir,
      'TEMPORAL_DEPLOYMENT_NAME',
      /may not contain '\.'/,
    );
    fails({ CINDER_VERSIONING_BEHAVIOR: 'sometimes' }, dir, 'CINDER_VERSIONING_BEHAVIOR', /PINNED, AUTO_UPGRADE/);
    fs.writeFileSync(path.join(dir, 'v.yaml'), 'versioning:\n  deployment: cinder\n');
    fails({ CINDER_CONFIG: 'v.yaml' }, dir, 'versioning.deployment', /not a known setting/);
    fs.writeFileSync(path.join(dir, 'm.yaml'), 'metrics_address: everywhere\n');
    fails({ CINDER_CONFIG: 'm.yaml' }, dir, 'metrics_address', /host:port/);
    fs.writeFileSync(path.join(dir, 'b.yaml'), 'versioning:\n  build_id: v3\n');
    fails({ CINDER_CONFIG: 'b.yaml' }, dir, 'versioning.deployment_name', /required with a build id/);
  });

  it('--help lists every environment variable the configuration reads', () => {
    for (const name of Object.keys(ENV_SETTINGS)) assert.ok(USAGE.includes(name), name);
  });
});

describe('worker options', () => {
  it('Worker Versioning: a deployment version with its default behavior, or nothing', () => {
    assert.deepEqual(versioningOptions(undefined), {});
    const opts: Pick<WorkerOptions, 'workerDeploymentOptions'> = versioningOptions({
      deployment_name: 'cinder',
      build_id: 'v7',
      default_behavior: 'PINNED',
    });
    assert.deepEqual(opts, {
      workerDeploymentOptions: {
        version: { deploymentName: 'cinder', buildId: 'v7' },
        useWorkerVersioning: true,
        defaultVersioningBehavior: 'PINNED',
      },
    });
  });

  it('workflow code: the prebuilt bundle when configured (which must exist), else the sources', () => {
    const dir = tmp();
    const base = loadConfig({}, dir);
    assert.deepEqual(workflowSource(base), { workflowsPath: require.resolve('../../src/workflows') });
    const bundle = path.join(dir, 'bundle.js');
    fs.writeFileSync(bundle, '// bundle');
    assert.deepEqual(workflowSource(loadConfig({ CINDER_WORKFLOW_BUNDLE: bundle }, dir)), {
      workflowBundle: { codePath: bundle },
    });
    assert.throws(
      () => workflowSource(loadConfig({ CINDER_WORKFLOW_BUNDLE: path.join(dir, 'missing.js') }, dir)),
      (e: unknown) =>
        e instanceof ConfigError && e.setting === 'workflow_bundle_path' && /npm run build:bundle/.test(e.message),
    );
  });

  it('roles: a backend named twice is served once', () => {
    const config = loadConfig({}, tmp(), { demo: true });
    assert.deepEqual(parseRoles(['volume', '--backend', 'hostA@lvm', 'volume', '--backend', 'hostA@lvm'], config), {
      scheduler: false,
      backends: ['hostA@lvm'],
    });
  });

  it('roles: with no backends configured, a worker asked to serve backends refuses; the scheduler alone runs', () => {
    const config = loadConfig({}, tmp());
    for (const argv of [[], ['all'], ['volume', '--backend', 'hostA@lvm']]) {
      assert.throws(
        () => parseRoles(argv, config),
        (e: unknown) => e instanceof ConfigError && e.setting === 'backends' && /no backend/.test(e.message),
        argv.join(' '),
      );
    }
    assert.throws(() => parseRoles([], config), /npm start/, 'the error says where the demo backends went');
    assert.deepEqual(parseRoles(['scheduler'], config), { scheduler: true, backends: [] });
  });

  it('connect backoff: doubles from 250 ms, at most 10 s, never past the deadline', () => {
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6, 7, 8].map((n) => connectBackoffMs(n, 60_000)),
      [250, 500, 1000, 2000, 4000, 8000, 10_000, 10_000],
    );
    assert.equal(connectBackoffMs(6, 1200), 1200);
    assert.equal(connectBackoffMs(1, 0), 0);
  });
});

class FakeWorker implements PolledWorker {
  constructor(
    public state: string,
    readonly options: { taskQueue: string },
  ) {}
  getState(): string {
    return this.state;
  }
}

describe('health', () => {
  it('not ready while the Temporal server cannot be reached at start, with the last try as the reason', () => {
    const h = new WorkerHealth({ scheduler: true, backends: [] }, 30_000);
    h.noteConnect({ attempt: 3, error: 'transport error: connection refused' });
    const r = h.report();
    assert.equal(r.status, 'starting');
    assert.equal(r.ready, false);
    assert.ok(
      r.reasons.includes('cannot reach the Temporal server yet (try 3): transport error: connection refused'),
      r.reasons.join('; '),
    );
    h.noteConnect(null);
    h.addWorker('scheduler', new FakeWorker('RUNNING', { taskQueue: 'cinder-scheduler' }));
    h.markStarted();
    assert.deepEqual(h.report().reasons, []);
    assert.equal(h.report().ready, true);
  });

  it('starting, ok, failing, stopping; ready only with fresh stats reports', () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const h = new WorkerHealth({ scheduler: true, backends: ['hostA@lvm'] }, 30_000, () => now);
    assert.equal(h.report().status, 'starting');
    const sched = new FakeWorker('RUNNING', { taskQueue: 'cinder-scheduler' });
    const vol = new FakeWorker('RUNNING', { taskQueue: 'cinder-volume.hostA@lvm' });
    h.addWorker('scheduler', sched);
    h.addWorker('volume', vol, 'hostA@lvm');
    assert.equal(h.report().status, 'starting', 'not every role has started yet');
    h.markStarted();
    let r = h.report();
    assert.equal(r.status, 'ok');
    assert.equal(r.polling, true);
    assert.deepEqual(r.task_queues, ['cinder-scheduler', 'cinder-volume.hostA@lvm']);
    assert.equal(r.ready, false, 'no stats report yet');
    assert.deepEqual(r.reasons, ['hostA@lvm: last stats report failed']);

    h.noteStatsReport('hostA@lvm', true);
    r = h.report();
    assert.equal(r.ready, true);
    assert.deepEqual(r.stats_reports['hostA@lvm'], { ok: true, last_success_at: '2026-01-01T00:00:00.000Z' });

    now += 31_000;
    assert.equal(h.report().ready, false, 'the heartbeat went stale');
    assert.match(h.report().reasons[0], /31 s old/);
    h.noteStatsReport('hostA@lvm', false, new Error('database is locked'));
    r = h.report();
    assert.equal(r.stats_reports['hostA@lvm'].last_success_at, '2026-01-01T00:00:00.000Z', 'the last success is kept');
    assert.match(r.reasons.join(';'), /database is locked/);
    h.noteStatsReport('hostA@lvm', true);

    vol.state = 'FAILED';
    r = h.report();
    assert.equal(r.status, 'failing');
    assert.equal(r.polling, false);
    vol.state = 'RUNNING';
    h.markStopping();
    r = h.report();
    assert.equal(r.status, 'stopping');
    assert.equal(r.ready, false);
  });

  it('serves /healthz and /readyz as JSON with 200 or 503', async () => {
    const h = new WorkerHealth({ scheduler: true, backends: [] }, 30_000);
    const server = await startHealthServer({ host: '127.0.0.1', port: 0 }, h);
    try {
      const get = async (p: string, method = 'GET') => {
        const res = await fetch(`http://${server.address}${p}`, { method });
        return { status: res.status, text: await res.text() };
      };
      const starting = await get('/healthz');
      assert.equal(starting.status, 503);
      assert.equal(JSON.parse(starting.text).status, 'starting');
      h.addWorker('scheduler', new FakeWorker('RUNNING', { taskQueue: 'q' }));
      h.markStarted();
      const ok = await get('/healthz');
      assert.equal(ok.status, 200);
      assert.deepEqual(
        (({ status, roles, task_queues, polling }) => ({ status, roles, task_queues, polling }))(JSON.parse(ok.text)),
        { status: 'ok', roles: { scheduler: true, backends: [] }, task_queues: ['q'], polling: true },
      );
      assert.equal((await get('/readyz')).status, 200);
      assert.equal((await get('/healthz?verbose=1')).status, 200);
      assert.equal((await get('/metrics')).status, 404);
      assert.equal((await get('/healthz', 'POST')).status, 405);
      h.markStopping();
      assert.equal((await get('/healthz')).status, 503);
    } finally {
      await server.close();
    }
  });
});

/** A meter that remembers what was recorded, as `name{k=v,...}` → value. */
function recordingMeter() {
  const values = new Map<string, number>();
  const key = (name: string, tags: MetricTags = {}) =>
    `${name}{${Object.entries(tags)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}}`;
  const meter: MetricMeter = {
    createCounter: (name) =>
      ({
        name,
        kind: 'counter',
        valueType: 'int',
        add: (v: number, t?: MetricTags) => values.set(key(name, t), (values.get(key(name, t)) ?? 0) + v),
        withTags() {
          return this;
        },
      }) as MetricCounter,
    createGauge: (name) =>
      ({
        name,
        kind: 'gauge',
        valueType: 'float',
        set: (v: number, t?: MetricTags) => values.set(key(name, t), v),
        withTags() {
          return this;
        },
      }) as MetricGauge,
    createHistogram: () => {
      throw new Error('unused');
    },
    withTags() {
      return this;
    },
  };
  return { meter, values };
}

describe('metrics from activity outcomes', () => {
  it('counts creates by outcome, reschedules, no-reschedule types, backend and compensation failures', () => {
    const { meter, values } = recordingMeter();
    const m = createCinderMetrics(meter);
    const nonRetryable = (type: string) => ApplicationFailure.create({ type, message: type, nonRetryable: true });
    recordActivityOutcome(m, 'createVolumeOnFinish', [{ volume_id: 'v1', backend_id: 'h@b#p', attempt: 1 }], {
      ok: true,
    });
    recordActivityOutcome(
      m,
      'markVolumeError',
      [{ volume_id: 'v2', error_type: 'ImageCopyFailure', scheduling_failed: false }],
      { ok: true },
    );
    recordActivityOutcome(
      m,
      'markVolumeError',
      [{ volume_id: 'v3', error_type: 'NoValidBackend', scheduling_failed: true }],
      { ok: true },
    );
    recordActivityOutcome(
      m,
      'markVolumeError',
      [{ volume_id: 'v4', error_type: 'Cancelled', scheduling_failed: false }],
      { ok: true },
    );
    recordActivityOutcome(
      m,
      'prepareReschedule',
      [{ volume_id: 'v5', backend_id: 'hostA@lvm#pool1', error_type: 'VolumeBackendAPIException' }],
      { ok: true },
    );
    recordActivityOutcome(m, 'createVolumeFromSpec', [{ volume_id: 'v5', backend_id: 'hostA@lvm#pool1', attempt: 1 }], {
      ok: false,
      err: nonRetryable('VolumeBackendAPIException'),
    });
    recordActivityOutcome(
      m,
      'deleteVolumeOnBackend',
      [{ volume_id: 'v5', backend_id: 'hostA@lvm#pool1', attempt: 1 }],
      { ok: false, err: new Error('EIO') },
    );
    recordActivityOutcome(m, 'releaseCapacity', ['v5', 1], { ok: false, err: new CancelledFailure('gone') });
    recordActivityOutcome(m, 'extractVolumeRequest', [{}], { ok: false, err: nonRetryable('InvalidInput') });
    // A retryable failure of an API activity is retried: not an outcome.
    recordActivityOutcome(m, 'reserveQuota', [{}], {
      ok: false,
      err: ApplicationFailure.create({ type: 'Transient', message: 'x', nonRetryable: false }),
    });
    // Activities that say nothing about outcomes.
    recordActivityOutcome(m, 'scheduleCreateVolume', [{}], { ok: true });
    recordActivityOutcome(m, 'commitQuota', [{}], { ok: true });

    assert.deepEqual(Object.fromEntries(values), {
      [`${CINDER_METRICS.creates}{outcome=available}`]: 1,
      [`${CINDER_METRICS.creates}{error_type=ImageCopyFailure,outcome=error}`]: 1,
      [`${CINDER_METRICS.creates}{error_type=NoValidBackend,outcome=error}`]: 1,
      [`${CINDER_METRICS.creates}{error_type=Cancelled,outcome=cancelled}`]: 1,
      [`${CINDER_METRICS.creates}{error_type=InvalidInput,outcome=rejected}`]: 1,
      [`${CINDER_METRICS.noRescheduleFailures}{error_type=ImageCopyFailure}`]: 1,
      [`${CINDER_METRICS.reschedules}{error_type=VolumeBackendAPIException,host=hostA@lvm}`]: 1,
      [`${CINDER_METRICS.backendCreateFailures}{error_type=VolumeBackendAPIException,host=hostA@lvm}`]: 1,
      [`${CINDER_METRICS.compensationFailures}{activity=deleteVolumeOnBackend,error_type=Error}`]: 1,
      [`${CINDER_METRICS.compensationFailures}{activity=releaseCapacity,error_type=Cancelled}`]: 1,
    });
  });

  it('pool capacity gauges by host and pool; non-numeric capacities leave no value', () => {
    const { meter, values } = recordingMeter();
    const m = createCinderMetrics(meter);
    const row = (id: string, total: PoolRow['total_capacity_gb'], free: PoolRow['free_capacity_gb']): PoolRow => ({
      backend_id: id,
      host: id.split('#')[0],
      updated_at: '',
      availability_zone: 'nova',
      total_capacity_gb: total,
      free_capacity_gb: free,
      allocated_capacity_gb: 3,
      provisioned_capacity_gb: 4,
      reserved_percentage: 0,
      max_over_subscription_ratio: 20,
      thin_provisioning_support: true,
      thick_provisioning_support: false,
      capabilities: {},
    });
    recordPoolCapacity(m, [row('hostA@lvm#pool1', 200, 197.5), row('hostA@lvm#pool2', 'infinite', 'unknown')]);
    assert.deepEqual(Object.fromEntries(values), {
      [`${CINDER_METRICS.poolTotal}{host=hostA@lvm,pool=pool1}`]: 200,
      [`${CINDER_METRICS.poolFree}{host=hostA@lvm,pool=pool1}`]: 197.5,
      [`${CINDER_METRICS.poolAllocated}{host=hostA@lvm,pool=pool1}`]: 3,
      [`${CINDER_METRICS.poolProvisioned}{host=hostA@lvm,pool=pool1}`]: 4,
      [`${CINDER_METRICS.poolAllocated}{host=hostA@lvm,pool=pool2}`]: 3,
      [`${CINDER_METRICS.poolProvisioned}{host=hostA@lvm,pool=pool2}`]: 4,
    });
  });

  it("failure types are Cinder's names", () => {
    assert.equal(failureType(ApplicationFailure.create({ type: 'ImageTooBig', message: 'm' })), 'ImageTooBig');
    assert.equal(failureType(new CancelledFailure('c')), 'Cancelled');
    assert.equal(failureType(new TypeError('t')), 'TypeError');
    assert.equal(failureType('weird'), 'Error');
  });

  it('every metric name is cinder_ and Prometheus-safe; counters end in _total', () => {
    for (const [key, name] of Object.entries(CINDER_METRICS)) {
      assert.match(name, /^cinder_[a-z_]+$/, key);
      const isGauge = name.endsWith('_gb') || name.endsWith('_seconds');
      assert.ok(isGauge || name.endsWith('_total'), `${name}: a counter ends in _total`);
    }
  });
});

describe('logs', () => {
  it('JSON unless asked for pretty or on a terminal in auto', () => {
    assert.equal(logsAsJson('json', true), true);
    assert.equal(logsAsJson('pretty', false), false);
    assert.equal(logsAsJson('auto', false), true);
    assert.equal(logsAsJson('auto', true), false);
  });

  it("SDK lines get the volume's ids from the workflow id", () => {
    assert.equal(volumeIdOfWorkflow('create-volume-9c8296d6-1111'), '9c8296d6-1111');
    assert.equal(volumeIdOfWorkflow('cleanup-volume-9c8296d6-1111-attempt-2'), '9c8296d6-1111');
    assert.equal(volumeIdOfWorkflow('something-else'), undefined);
    assert.deepEqual(
      sdkLogFields({ workflowId: 'create-volume-abc', workflowType: 'createVolume', sdkComponent: 'workflow' }),
      {
        workflowId: 'create-volume-abc',
        workflowType: 'createVolume',
        sdkComponent: 'workflow',
        workflow_id: 'create-volume-abc',
        volume_id: 'abc',
      },
    );
    assert.deepEqual(sdkLogFields(undefined), {});
  });
});
