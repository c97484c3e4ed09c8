/**
 * The worker process, in Cinder's shape: the `scheduler` role (c-api + c-sch: the create-volume
 * workflow, the API and scheduling activities) and one `volume` role per backend (c-vol: that
 * backend's activities on its own task queue, and its pool stats reports). With no role given, it
 * runs the scheduler and every configured backend in one process.
 *
 *   worker.ts [scheduler] [volume --backend host@backend]...   run the roles
 *   worker.ts --check-config [roles]                           validate, print the summary, exit
 *   worker.ts --help
 *
 * Operations: SIGTERM/SIGINT stop polling and let in-flight activities finish within
 * shutdown_grace_ms, then exit 0; logs are pino (JSON, or pretty on a terminal); metrics_address
 * serves Prometheus metrics (the SDK's and the project's), health_address serves /healthz and
 * /readyz; the scheduler worker joins a Worker Deployment when versioning is configured.
 */
import fs from 'node:fs';
import { Connection } from '@temporalio/client';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createApiActivities } from './activities/api-activities';
import { WORKFLOW_INTERCEPTOR_MODULES } from './build-bundle';
import { createDeleteActivities } from './activities/delete-activities';
import { createSchedulerActivities } from './activities/scheduler-activities';
import { createVolumeActivities } from './activities/volume-activities';
import {
  ConfigError,
  ENV_SETTINGS,
  CONFIG_FILE_ENV,
  loadConfig,
  parseListenAddress,
  storeOptions,
  type AppConfig,
  type VersioningConfig,
} from './config/config';
import { ensureSearchAttributes } from './client/search-attributes-admin';
import { redactUrl } from './domain/secrets';
import { volumeTaskQueue } from './domain/volume';
import { createDriver } from './drivers';
import type { ResolvedBackendConfig } from './drivers/backend-config';
import type { VolumeDriver } from './drivers/driver';
import { createLogger, onStdoutClosed } from './logger';
import { startHealthServer, WorkerHealth } from './observability/health';
import {
  createCinderMetrics,
  metricsInterceptor,
  recordPoolCapacity,
  type CinderMetrics,
} from './observability/metrics';
import { concreteAddress, installRuntime } from './observability/telemetry';
import { startTracing, tracingActivityInterceptor, workflowSpanSinks, type Tracing } from './observability/tracing';
import { openVolumeStore } from './store';
import type { PoolRow, ServiceReport, VolumeStore } from './store/volume-store';
import { connectionOptions, connectWorker } from './temporal-connection';

export interface Roles {
  scheduler: boolean;
  /** host@backend of each volume role. */
  backends: string[];
}

export const USAGE = `usage: worker [scheduler] [volume --backend host@backend]... | all
       worker --check-config [roles]   validate the configuration and roles, print them, exit
       worker --demo [roles]           npm start's demo: its two file backends when the configuration
                                       names none, fault injection on (never in production)
Configuration: the file named by ${CONFIG_FILE_ENV}, then these environment variables:
${Object.entries(ENV_SETTINGS)
  .map(([name, s]) => `  ${name.padEnd(36)} ${s.doc}`)
  .join('\n')}
`;

export function parseRoles(argv: string[], config: AppConfig): Roles {
  const roles: Roles = { scheduler: false, backends: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === 'scheduler') roles.scheduler = true;
    else if (arg === 'volume') {
      if (argv[i + 1] !== '--backend' || !argv[i + 2])
        throw new ConfigError('volume', 'usage: volume --backend host@backend');
      roles.backends.push(argv[i + 2]);
      i += 2;
    } else if (arg === 'all') {
      roles.scheduler = true;
      roles.backends.push(...config.backends.map((b) => b.host));
    } else {
      throw new ConfigError(arg, 'unknown role (roles: scheduler, volume --backend host@backend, all)');
    }
  }
  if (!roles.scheduler && roles.backends.length === 0) {
    if (config.backends.length === 0) throw noBackends(config);
    return parseRoles(['all'], config);
  }
  if (argv.includes('all') && config.backends.length === 0) throw noBackends(config);
  roles.backends = [...new Set(roles.backends)];
  for (const host of roles.backends) {
    if (!config.backends.some((b) => b.host === host)) {
      throw new ConfigError(
        'backends',
        `no backend ${host} is configured (configured: ${config.backends.map((b) => b.host).join(', ')})`,
      );
    }
  }
  return roles;
}

/** A worker asked to serve backends whose configuration names none: never fall back on demo pools. */
function noBackends(config: AppConfig): ConfigError {
  const where = config.config_file ? `none in ${config.config_file}` : `${CONFIG_FILE_ENV} names no configuration file`;
  return new ConfigError(
    'backends',
    `no backends are configured (${where}): list them under 'backends', or run only the scheduler role; the embedded demo backends are used only by npm start (worker --demo)`,
  );
}

/** Worker Versioning options of the scheduler worker: a Worker Deployment version with a default
 *  behavior for its workflows, or nothing (unversioned) when not configured. */
export function versioningOptions(v: VersioningConfig | undefined): Pick<WorkerOptions, 'workerDeploymentOptions'> {
  if (!v) return {};
  return {
    workerDeploymentOptions: {
      version: { deploymentName: v.deployment_name, buildId: v.build_id },
      useWorkerVersioning: true,
      defaultVersioningBehavior: v.default_behavior,
    },
  };
}

/** Where the scheduler worker gets its workflow code: the prebuilt bundle, or the sources (bundled
 *  at start). Fails with the setting's name when the bundle is missing. */
export function workflowSource(config: AppConfig): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (config.workflow_bundle_path) {
    if (!fs.existsSync(config.workflow_bundle_path)) {
      throw new ConfigError(
        'workflow_bundle_path',
        `no workflow bundle at ${config.workflow_bundle_path} (CINDER_WORKFLOW_BUNDLE; build one with npm run build:bundle)`,
      );
    }
    return { workflowBundle: { codePath: config.workflow_bundle_path } };
  }
  return { workflowsPath: require.resolve('./workflows') };
}

/** One stats report of a volume service: its driver's pool stats into the store. The driver looks
 *  only for the volumes of claims not yet seen on disk, so no step reads every volume. */
export async function reportPoolStatsOnce(
  backend: ResolvedBackendConfig,
  driver: VolumeDriver,
  store: VolumeStore,
  service?: ServiceReport,
): Promise<void> {
  const expected = await store.pendingClaimObjects(backend.pools.map((p) => `${backend.host}#${p.name}`));
  await store.reportPoolStats(backend.host, await driver.getVolumeStats(expected), new Date().toISOString(), service);
}

/** Cinder's volume service reports its pools' stats periodically; the report is its heartbeat.
 *  onReport sees each report's outcome and, after a success, the service's pool rows (with the
 *  allocation the store adds) when it asks for them. */
export function startStatsReporter(
  backend: ResolvedBackendConfig,
  driver: VolumeDriver,
  store: VolumeStore,
  intervalMs: number,
  logger: Logger,
  onReport?: { outcome(ok: boolean, err?: unknown): void; pools?(rows: PoolRow[]): void },
  service?: ServiceReport,
) {
  const report = async () => {
    try {
      await reportPoolStatsOnce(backend, driver, store, service);
    } catch (err) {
      logger.error({ err, host: backend.host }, 'pool stats report failed');
      onReport?.outcome(false, err);
      return;
    }
    onReport?.outcome(true);
    if (onReport?.pools) {
      try {
        onReport.pools((await store.listPools()).filter((p) => p.host === backend.host));
      } catch (err) {
        logger.warn({ err, host: backend.host }, 'cannot read pool rows for the capacity metrics');
      }
    }
  };
  const timer = setInterval(report, intervalMs);
  timer.unref();
  return { first: report(), stop: () => clearInterval(timer) };
}

export interface Observability {
  metrics: CinderMetrics | null;
  health: WorkerHealth;
  /** Absent or null: no traces exported (the interceptors still run, recording nothing). */
  tracing?: Tracing | null;
}

/** Activity interceptors (traces always: without a provider they record nothing; metrics when
 *  served) and, for workflow code bundled at start, the workflow interceptor modules. */
function interceptors(obs: Observability, workflowsFromSource = false): Pick<WorkerOptions, 'interceptors'> {
  return {
    interceptors: {
      activity: [tracingActivityInterceptor, ...(obs.metrics ? [metricsInterceptor(obs.metrics)] : [])],
      ...(workflowsFromSource ? { workflowModules: WORKFLOW_INTERCEPTOR_MODULES } : {}),
    },
  };
}

async function schedulerWorker(
  config: AppConfig,
  connection: NativeConnection,
  store: VolumeStore,
  logger: Logger,
  obs: Observability,
): Promise<Worker> {
  for (const type of config.volume_types) await store.putVolumeType(type);
  const createDefaults = { ...config.create_defaults };
  try {
    const client = await Connection.connect(connectionOptions(config));
    try {
      const added = await ensureSearchAttributes(client, config.temporal.namespace);
      if (added.length > 0) logger.info({ added }, 'registered search attributes');
    } finally {
      await client.close();
    }
  } catch (err) {
    // A managed cluster may refuse: creates still run, without upserting search attributes.
    createDefaults.upsert_search_attributes = false;
    logger.warn(
      { err: String(err) },
      'cannot check or register search attributes; creates will not upsert them (see README: Temporal UI)',
    );
  }
  const deps = { store, logger, now: () => new Date() };
  const source = workflowSource(config);
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.scheduler_task_queue,
    ...source,
    activities: {
      ...createApiActivities({ ...deps, limits: config.request_limits, createDefaults }),
      ...createSchedulerActivities(deps),
      ...createDeleteActivities({ ...deps, limits: config.request_limits, createDefaults }),
    },
    ...interceptors(obs, 'workflowsPath' in source),
    sinks: workflowSpanSinks(obs.tracing ?? null),
    // Only the workflow code is versioned: volume workers (one per backend) serve every build's
    // creates, so their activities are the contract between builds (see docs/deploy.md).
    ...versioningOptions(config.versioning),
    shutdownGraceTime: config.shutdown_grace_ms,
  });
}

/** One volume role (c-vol) of a worker process: its driver, stats reports and Temporal worker. */
export async function volumeWorker(
  config: AppConfig,
  host: string,
  connection: NativeConnection,
  store: VolumeStore,
  logger: Logger,
  obs: Observability,
) {
  const backend = config.backends.find((b) => b.host === host)!;
  const driver = volumeDriver(config, backend, store);
  const metrics = obs.metrics;
  const reporter = startStatsReporter(
    backend,
    driver,
    store,
    config.stats_interval_ms,
    logger,
    {
      outcome: (ok, err) => {
        obs.health.noteStatsReport(host, ok, err);
        metrics?.statsReports.add(1, { host, outcome: ok ? 'ok' : 'failed' });
        if (ok) metrics?.statsLastReport.set(Date.now() / 1000, { host });
      },
      ...(metrics ? { pools: (rows: PoolRow[]) => recordPoolCapacity(metrics, rows) } : {}),
    },
    { fault_injection: config.fault_injection },
  );
  if (config.fault_injection)
    logger.warn(
      { host, fault_injection: true },
      `fault injection is on for ${host}: fault rules (cinder-temporal faults) apply to its operations`,
    );
  await reporter.first;
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: volumeTaskQueue(host),
    activities: createVolumeActivities({ store, logger: logger.child({ host }), now: () => new Date(), driver }),
    // Heartbeats reach the server at least every second, so a cancelled create or delete learns of
    // its cancel within about a second (the SDK's default throttle is 0.8 x the heartbeat timeout).
    maxHeartbeatThrottleInterval: '1 second',
    ...interceptors(obs),
    shutdownGraceTime: config.shutdown_grace_ms,
  });
  return { worker, reporter };
}

/** The driver of a volume role: fault rules are consulted only when fault injection is configured,
 *  so a production worker never runs a fault-rule query. */
export function volumeDriver(config: AppConfig, backend: ResolvedBackendConfig, store: VolumeStore): VolumeDriver {
  return config.fault_injection ? createDriver(backend, store) : createDriver(backend);
}

/** Validates what a start would use, without connecting anywhere. */
function checkConfig(config: AppConfig, roles: Roles): Record<string, unknown> {
  const source = roles.scheduler ? workflowSource(config) : {};
  return {
    ok: true,
    config_file: config.config_file ?? null,
    roles,
    task_queues: [...(roles.scheduler ? [config.scheduler_task_queue] : []), ...roles.backends.map(volumeTaskQueue)],
    workflow_code: source.workflowBundle
      ? { bundle: config.workflow_bundle_path }
      : source.workflowsPath
        ? { path: source.workflowsPath }
        : null,
    temporal: {
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      profile: config.temporal.profile ?? null,
    },
    traces: config.tracing ? redactUrl(config.tracing.otlp_traces_endpoint) : null,
    database: redactUrl(config.database_url),
    metrics_address: config.metrics_address ?? null,
    health_address: config.health_address ?? null,
    versioning: config.versioning ?? null,
    fault_injection: config.fault_injection,
    connect_deadline_ms: config.connect_deadline_ms,
    log: { level: config.log_level, format: config.log_format, sdk_level: config.sdk_log_level },
  };
}

/** The next wait before retrying to connect: doubling from 250 ms up to 10 s, never past the deadline. */
export function connectBackoffMs(attempt: number, remainingMs: number): number {
  return Math.max(0, Math.min(250 * 2 ** (attempt - 1), 10_000, remainingMs));
}

/**
 * Connects to the Temporal server, retrying with backoff (each try logged) until connect_deadline_ms
 * has passed: a worker started before the server, or while it restarts, waits for it instead of
 * exiting. /readyz says not ready meanwhile (no worker runs yet). Null when a stop came first.
 */
async function connectWithRetry(
  config: AppConfig,
  logger: Logger,
  health: WorkerHealth,
  stopped: () => boolean,
): Promise<NativeConnection | null> {
  const deadline = Date.now() + config.connect_deadline_ms;
  for (let attempt = 1; ; attempt++) {
    try {
      const connection = await connectWorker(config);
      health.noteConnect(null);
      if (attempt > 1)
        logger.info(
          { event: 'worker.connected', address: config.temporal.address, attempt },
          `connected to ${config.temporal.address} after ${attempt} tries`,
        );
      return connection;
    } catch (err) {
      const remaining = deadline - Date.now();
      const message = err instanceof Error ? err.message : String(err);
      if (remaining <= 0 || stopped()) {
        if (stopped()) return null;
        throw new ConnectError(
          `cannot reach the Temporal server at ${config.temporal.address} after ${attempt} tries in ${config.connect_deadline_ms} ms (connect_deadline_ms, CINDER_CONNECT_DEADLINE_MS): ${message}`,
        );
      }
      const wait = connectBackoffMs(attempt, remaining);
      health.noteConnect({ attempt, error: message });
      logger.warn(
        {
          event: 'worker.connect_failed',
          address: config.temporal.address,
          attempt,
          retry_in_ms: wait,
          deadline_in_ms: remaining,
          err: message,
        },
        `cannot reach the Temporal server at ${config.temporal.address} (try ${attempt}); retrying in ${wait} ms`,
      );
      const until = Date.now() + wait;
      while (Date.now() < until && !stopped())
        await new Promise((r) => setTimeout(r, Math.min(100, until - Date.now())));
      if (stopped()) return null;
    }
  }
}

/** The server stayed out of reach until the deadline. */
export class ConnectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectError';
  }
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const config = loadConfig(process.env, process.cwd(), { demo: argv.includes('--demo') });
  const checkOnly = argv.includes('--check-config');
  const roles = parseRoles(
    argv.filter((a) => a !== '--check-config' && a !== '--demo'),
    config,
  );
  if (checkOnly) {
    process.stdout.write(JSON.stringify(checkConfig(config, roles), null, 2) + '\n');
    return;
  }
  // A missing bundle fails now, naming its setting, not after connecting.
  if (roles.scheduler) workflowSource(config);
  const logger = createLogger(config.log_level, { service: 'cinder-temporal-worker' }, config.log_format);
  const health = new WorkerHealth(roles, Math.max(3 * config.stats_interval_ms, 5000));
  // Our own signal handling, armed before anything starts: a signal during start-up must stop the
  // process too (the SDK's handlers only reach workers already running).
  const workers: Worker[] = [];
  let stopRequested: string | null = null;
  const requestStop = (why: string) => {
    if (stopRequested) return;
    stopRequested = why;
    health.markStopping();
    logger.info({ event: 'worker.stopping', why, grace_ms: config.shutdown_grace_ms }, `stopping: ${why}`);
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    // A stop must end even when the server is gone and the SDK cannot finish its shutdown.
    setTimeout(() => {
      logger.error({ event: 'worker.stop_timeout', why }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.shutdown_grace_ms + 15_000).unref();
  };
  process.on('SIGINT', () => requestStop('SIGINT'));
  process.on('SIGTERM', () => requestStop('SIGTERM'));
  // Started by a parent over IPC (npm start, tests): go when the parent goes, leaving no orphan.
  process.once('disconnect', () => requestStop('parent process gone'));
  onStdoutClosed(() => requestStop('stdout closed'));

  const metricsBind = parseListenAddress('metrics_address', config.metrics_address);
  const metricsAddress = metricsBind ? await concreteAddress(metricsBind) : undefined;
  try {
    installRuntime(logger, { sdkLogLevel: config.sdk_log_level, ...(metricsAddress ? { metricsAddress } : {}) });
  } catch (err) {
    if (!metricsAddress) throw err;
    throw new ConfigError(
      'metrics_address',
      `cannot serve metrics on ${metricsAddress} (CINDER_METRICS_ADDRESS): ${(err as Error).message}`,
    );
  }
  const tracing = startTracing(config.tracing, 'cinder-temporal-worker', {
    'cinder.roles': [...(roles.scheduler ? ['scheduler'] : []), ...roles.backends.map((b) => `volume:${b}`)].join(','),
  });
  const obs: Observability = {
    metrics: metricsAddress ? createCinderMetrics(Runtime.instance().metricMeter) : null,
    health,
    tracing,
  };
  const healthBind = parseListenAddress('health_address', config.health_address);
  const healthServer = healthBind
    ? await startHealthServer(healthBind, health).catch((err: Error) => {
        throw new ConfigError(
          'health_address',
          `cannot serve health on ${config.health_address} (CINDER_HEALTH_ADDRESS): ${err.message}`,
        );
      })
    : null;

  const connection = await connectWithRetry(config, logger, health, () => stopRequested !== null);
  if (!connection) {
    await healthServer?.close();
    logger.info({ event: 'worker.stopped', why: stopRequested }, 'worker stopped before it connected');
    return;
  }
  const store = await openVolumeStore(config.database_url, storeOptions(config));
  const reporters: Array<{ stop(): void }> = [];
  try {
    if (roles.scheduler && !stopRequested) {
      const w = await schedulerWorker(config, connection, store, logger, obs);
      workers.push(w);
      health.addWorker('scheduler', w);
    }
    for (const host of roles.backends) {
      if (stopRequested) break;
      const { worker, reporter } = await volumeWorker(config, host, connection, store, logger, obs);
      workers.push(worker);
      health.addWorker('volume', worker, host);
      reporters.push(reporter);
    }
    const running = Promise.all(workers.map((w) => w.run()));
    health.markStarted();
    // A stop during start-up: the workers were made, so run them only to shut them down cleanly.
    if (stopRequested) workers.forEach((w) => w.shutdown());
    else
      logger.info(
        {
          event: 'worker.running',
          roles,
          task_queues: workers.map((w) => w.options.taskQueue),
          address: config.temporal.address,
          namespace: config.temporal.namespace,
          database: redactUrl(config.database_url),
          metrics_address: metricsAddress ?? null,
          health_address: healthServer?.address ?? null,
          versioning: config.versioning ?? null,
          profile: config.temporal.profile ?? null,
          traces: config.tracing ? redactUrl(config.tracing.otlp_traces_endpoint) : null,
          workflow_bundle: roles.scheduler ? (config.workflow_bundle_path ?? null) : undefined,
        },
        'worker running',
      );
    await running;
  } finally {
    reporters.forEach((r) => r.stop());
    await store.close();
    await connection.close();
    await healthServer?.close();
    await tracing?.shutdown().catch((err: unknown) => logger.warn({ err: String(err) }, 'cannot flush the last spans'));
    logger.info({ event: 'worker.stopped', why: stopRequested }, 'worker stopped');
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      const message =
        err instanceof ConfigError
          ? `configuration error: ${err.message}`
          : err instanceof ConnectError
            ? err.message
            : (err?.stack ?? String(err));
      process.stderr.write(`cinder-temporal worker: ${message}\n`);
      process.exit(err instanceof ConfigError ? 2 : 1);
    },
  );
}
