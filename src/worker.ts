/**
 * The worker process, in Cinder's shape: the `scheduler` role (c-api + c-sch: the create-volume
 * workflow, the API and scheduling activities) and one `volume` role per backend (c-vol: that
 * backend's activities on its own task queue, and its pool stats reports). With no role given, it
 * runs the scheduler and every configured backend in one process.
 *
 *   worker.ts [scheduler] [volume --backend host@backend]...
 */
import { Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createApiActivities } from './activities/api-activities';
import { createSchedulerActivities } from './activities/scheduler-activities';
import { createVolumeActivities } from './activities/volume-activities';
import { ConfigError, loadConfig, type AppConfig } from './config/config';
import { ensureSearchAttributes } from './dev-server/search-attributes-admin';
import { volumeTaskQueue } from './domain/volume';
import { createDriver } from './drivers';
import type { ResolvedBackendConfig } from './drivers/backend-config';
import { createLogger } from './logger';
import { openVolumeStore } from './store';
import type { VolumeStore } from './store/volume-store';
import { connectionOptions, connectWorker } from './temporal-connection';

export interface Roles {
  scheduler: boolean;
  /** host@backend of each volume role. */
  backends: string[];
}

export function parseRoles(argv: string[], config: AppConfig): Roles {
  const roles: Roles = { scheduler: false, backends: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === 'scheduler') roles.scheduler = true;
    else if (arg === 'volume') {
      if (argv[i + 1] !== '--backend' || !argv[i + 2]) throw new ConfigError('volume', 'usage: volume --backend host@backend');
      roles.backends.push(argv[i + 2]);
      i += 2;
    } else if (arg === 'all') {
      roles.scheduler = true;
      roles.backends.push(...config.backends.map((b) => b.host));
    } else {
      throw new ConfigError(arg, 'unknown role (roles: scheduler, volume --backend host@backend, all)');
    }
  }
  if (!roles.scheduler && roles.backends.length === 0) return parseRoles(['all'], config);
  for (const host of roles.backends) {
    if (!config.backends.some((b) => b.host === host)) {
      throw new ConfigError('backends', `no backend ${host} is configured (configured: ${config.backends.map((b) => b.host).join(', ')})`);
    }
  }
  return roles;
}

/** Routes the SDK's and the workflows' logs into pino, with Cinder's ids on each line. */
function installRuntimeLogger(logger: Logger): void {
  const sdkLog = logger.child({ component: 'temporal' });
  Runtime.install({
    shutdownSignals: [],
    logger: new DefaultLogger((process.env.CINDER_SDK_LOG_LEVEL as LogLevel) ?? 'INFO', ({ level, message, meta }) => {
      const m = (meta ?? {}) as Record<string, unknown>;
      const workflowId = typeof m.workflowId === 'string' ? m.workflowId : undefined;
      const volumeId = workflowId?.startsWith('create-volume-') ? workflowId.slice('create-volume-'.length) : undefined;
      const fields = { ...m, ...(workflowId ? { workflow_id: workflowId } : {}), ...(volumeId ? { volume_id: volumeId } : {}) };
      const method = level === 'TRACE' ? 'trace' : level === 'DEBUG' ? 'debug' : level === 'WARN' ? 'warn' : level === 'ERROR' ? 'error' : 'info';
      sdkLog[method](fields, message);
    }),
  });
}

/** Cinder's volume service reports its pools' stats periodically; the report is its heartbeat. */
export function startStatsReporter(backend: ResolvedBackendConfig, driver: ReturnType<typeof createDriver>, store: VolumeStore, intervalMs: number, logger: Logger) {
  const report = async () => {
    try {
      await store.reportPoolStats(backend.host, await driver.getVolumeStats(), new Date().toISOString());
    } catch (err) {
      logger.error({ err, host: backend.host }, 'pool stats report failed');
    }
  };
  const timer = setInterval(report, intervalMs);
  timer.unref();
  return { first: report(), stop: () => clearInterval(timer) };
}

async function schedulerWorker(config: AppConfig, connection: NativeConnection, store: VolumeStore, logger: Logger): Promise<Worker> {
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
    logger.warn({ err: String(err) }, 'cannot check or register search attributes; creates will not upsert them (see README: Temporal UI)');
  }
  const deps = { store, logger, now: () => new Date() };
  return Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.scheduler_task_queue,
    ...(config.workflow_bundle_path
      ? { workflowBundle: { codePath: config.workflow_bundle_path } }
      : { workflowsPath: require.resolve('./workflows') }),
    activities: {
      ...createApiActivities({ ...deps, limits: config.request_limits, createDefaults }),
      ...createSchedulerActivities(deps),
    },
    shutdownGraceTime: config.shutdown_grace_ms,
  });
}

async function volumeWorker(config: AppConfig, host: string, connection: NativeConnection, store: VolumeStore, logger: Logger) {
  const backend = config.backends.find((b) => b.host === host)!;
  const driver = createDriver(backend, store);
  const reporter = startStatsReporter(backend, driver, store, config.stats_interval_ms, logger);
  await reporter.first;
  const worker = await Worker.create({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: volumeTaskQueue(host),
    activities: createVolumeActivities({ store, logger: logger.child({ host }), now: () => new Date(), driver }),
    shutdownGraceTime: config.shutdown_grace_ms,
  });
  return { worker, reporter };
}

export async function main(argv = process.argv.slice(2)): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.log_level, { service: 'cinder-temporal-worker' });
  const roles = parseRoles(argv, config);
  // Our own signal handling, armed before anything starts: a signal during start-up must stop the
  // process too (the SDK's handlers only reach workers already running).
  const workers: Worker[] = [];
  let stopRequested: string | null = null;
  const requestStop = (why: string) => {
    if (stopRequested) return;
    stopRequested = why;
    logger.info({ event: 'worker.stopping', why }, `stopping: ${why}`);
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  process.on('SIGINT', () => requestStop('SIGINT'));
  process.on('SIGTERM', () => requestStop('SIGTERM'));
  // Started by a parent over IPC (npm start, tests): go when the parent goes, leaving no orphan.
  process.once('disconnect', () => requestStop('parent process gone'));
  installRuntimeLogger(logger);
  const connection = await connectWorker(config);
  const store = await openVolumeStore(config.database_url);
  const reporters: Array<{ stop(): void }> = [];
  try {
    if (roles.scheduler && !stopRequested) workers.push(await schedulerWorker(config, connection, store, logger));
    for (const host of roles.backends) {
      if (stopRequested) break;
      const { worker, reporter } = await volumeWorker(config, host, connection, store, logger);
      workers.push(worker);
      reporters.push(reporter);
    }
    const running = Promise.all(workers.map((w) => w.run()));
    // A stop during start-up: the workers were made, so run them only to shut them down cleanly.
    if (stopRequested) workers.forEach((w) => w.shutdown());
    else logger.info(
      { event: 'worker.running', roles, task_queues: workers.map((w) => w.options.taskQueue), address: config.temporal.address, database: config.database_url.replace(/\/\/[^@]*@/, '//***@') },
      'worker running',
    );
    await running;
  } finally {
    reporters.forEach((r) => r.stop());
    await store.close();
    await connection.close();
    logger.info({ event: 'worker.stopped' }, 'worker stopped');
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err) => {
      const message = err instanceof ConfigError ? `configuration error: ${err.message}` : err?.stack ?? String(err);
      process.stderr.write(`cinder-temporal worker: ${message}\n`);
      process.exit(err instanceof ConfigError ? 2 : 1);
    },
  );
}
