/**
 * A real deployment for one integration test file: the shared Temporal dev server (started by
 * test/run.ts, or here when a file runs alone) or a multi-node cluster of its own, a scheduler worker process and one volume worker
 * process per backend, a temp SQLite database and file pools. Names are unique per cluster so test
 * files can run side by side on one server.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import YAML from 'yaml';
import {
  createVolume,
  VolumeCreateError,
  type NewVolumeRequest,
  type VolumeCreateHandle,
} from '../../src/client/volumes';
import type { CreateOptions } from '../../src/domain/create-options';
import { freePort, startDevServer, type RunningDevServer } from '../../src/dev-server/dev-server';
import {
  startTemporalCluster,
  type TemporalCluster,
  type TemporalClusterOptions,
} from '../../src/dev-server/temporal-cluster';
import { WorkerProcess } from '../../src/dev-server/worker-process';
import { openVolumeStore } from '../../src/store';
import type { VolumeStore } from '../../src/store/volume-store';
import type { BackendConfig, PoolConfig } from '../../src/drivers/backend-config';
import { leakedFiles, type AuditPool } from './invariants';
import { startOrStop } from '../../src/dev-server/lifecycle';

/** Rows that own their file between tests: all but an error or deleted volume. */
const LIVE_OWNERS = ['creating', 'available', 'deleting', 'error_deleting'] as const;

export interface BackendSpec {
  /** Short name, e.g. 'A': the host becomes `hostA-<cluster id>@lvm`. */
  name: string;
  pools?: Array<Partial<PoolConfig> & { name: string }>;
  availability_zone?: string;
}

export interface ClusterOptions {
  backends: BackendSpec[];
  /** Worker-side create defaults; tests use short timeouts. */
  createDefaults?: Partial<CreateOptions>;
  /** Start the volume workers (default true). */
  startVolumeWorkers?: boolean;
  /** Own dev server with these dynamic config values instead of the shared one. */
  dynamicConfig?: Record<string, unknown>;
  /** The volume database (default: a temp SQLite file), e.g. a PostgreSQL URL. */
  databaseUrl?: string;
  /** Extra environment of every worker process (e.g. OTEL_EXPORTER_OTLP_ENDPOINT). */
  env?: NodeJS.ProcessEnv;
  /** fault_injection in the workers' configuration (default true: tests inject faults). */
  faultInjection?: boolean;
  /** Own dev server keeping its state in a file of the cluster's folder, so restartServer() loses
   *  no workflow (the shared server of `npm test` is in memory and is never restarted). */
  persistentServer?: boolean;
  /** Run on a multi-node Temporal cluster of its own (src/dev-server/temporal-cluster.ts) instead
   *  of the dev server: the volume database goes on the cluster's PostgreSQL, two scheduler workers
   *  connect through nodes 1 and 2, and the volume workers through the nodes in turn. */
  temporalCluster?: TemporalClusterOptions | true;
}

/** Fast timeouts so failure paths take seconds, not minutes. */
export const TEST_CREATE_DEFAULTS: Partial<CreateOptions> = {
  backend_schedule_to_start_timeout_ms: 4000,
  compensation_schedule_to_start_timeout_ms: 4000,
  create_heartbeat_timeout_ms: 3000,
  create_start_to_close_timeout_ms: 60_000,
  retry_initial_interval_ms: 200,
  service_down_time_s: 30,
};

export class Cluster {
  readonly id = randomBytes(3).toString('hex');
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), `cinder-it-${this.id}-`));
  readonly dbPath = path.join(this.dir, 'cinder.db');
  readonly configFile = path.join(this.dir, 'cinder.yaml');
  readonly taskQueue = `cinder-scheduler-${this.id}`;
  readonly workers = new Map<string, WorkerProcess>();
  store!: VolumeStore;
  client!: Client;
  address!: string;
  /** The multi-node cluster, with options.temporalCluster. */
  temporal: TemporalCluster | null = null;
  private server: RunningDevServer | null = null;
  private clusterDatabaseUrl: string | null = null;
  private readonly extraConnections: Connection[] = [];
  private connection!: Connection;
  readonly backends: Array<{
    name: string;
    host: string;
    availability_zone?: string;
    pools: Array<{ name: string; path: string; backend_id: string }>;
  }>;

  constructor(readonly options: ClusterOptions) {
    this.backends = options.backends.map((b) => {
      const host = `host${b.name}-${this.id}@lvm`;
      const pools = (b.pools ?? [{ name: 'pool1' }]).map((p) => ({
        ...p,
        name: p.name,
        path: path.join(this.dir, 'backends', b.name, p.name),
        backend_id: `${host}#${p.name}`,
      }));
      return { name: b.name, host, pools, availability_zone: b.availability_zone };
    });
  }

  get databaseUrl(): string {
    return this.options.databaseUrl ?? this.clusterDatabaseUrl ?? `sqlite:${this.dbPath}`;
  }

  /** The Temporal node a worker connects through: with a multi-node cluster, the nodes in turn. */
  private nodeAddress(turn: number): string {
    if (!this.temporal) return this.address;
    return this.temporal.address((turn % this.temporal.nodes.length) + 1);
  }

  /** A client connected through Temporal node n (multi-node cluster only); closed by stop(). */
  async clientOf(node: number): Promise<Client> {
    const connection = await Connection.connect({ address: this.temporal!.address(node) });
    this.extraConnections.push(connection);
    return new Client({ connection });
  }

  host(name: string): string {
    return this.backends.find((b) => b.name === name)!.host;
  }

  pool(name: string, pool = 'pool1'): { name: string; path: string; backend_id: string } {
    return this.backends.find((b) => b.name === name)!.pools.find((p) => p.name === pool)!;
  }

  get env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      TEMPORAL_ADDRESS: this.address,
      CINDER_CONFIG: this.configFile,
      CINDER_LOG_LEVEL: 'info',
      ...this.options.env,
    };
  }

  async start(): Promise<this> {
    if (this.options.temporalCluster) {
      const opts = this.options.temporalCluster === true ? {} : this.options.temporalCluster;
      this.temporal = await startTemporalCluster({
        dir: fs.mkdtempSync(path.join(this.dir, 'temporal-')),
        dynamicConfig: this.options.dynamicConfig,
        ...opts,
      });
      this.address = this.temporal.address(1);
      this.clusterDatabaseUrl = await this.temporal.postgres.createDatabase();
    } else if (this.options.dynamicConfig || this.options.persistentServer || !process.env.TEMPORAL_ADDRESS) {
      this.server = await this.startServer(await freePort());
      this.address = this.server.address;
    } else {
      this.address = process.env.TEMPORAL_ADDRESS;
    }
    fs.writeFileSync(
      this.configFile,
      YAML.stringify({
        database_url: this.databaseUrl,
        data_dir: this.dir,
        scheduler_task_queue: this.taskQueue,
        stats_interval_ms: 500,
        shutdown_grace_ms: 5000,
        fault_injection: this.options.faultInjection ?? true,
        create_defaults: { ...TEST_CREATE_DEFAULTS, ...this.options.createDefaults },
        backends: this.backends.map((b) => this.backendConfig(b.name)),
      }),
    );
    this.store = await openVolumeStore(this.databaseUrl);
    this.connection = await Connection.connect({ address: this.address });
    this.client = new Client({ connection: this.connection });
    const starting = [this.startWorker('scheduler', ['scheduler'])];
    // A second scheduler on the same task queue, through the other node.
    if (this.temporal)
      starting.push(this.startWorker('scheduler2', ['scheduler'], { TEMPORAL_ADDRESS: this.nodeAddress(1) }));
    if (this.options.startVolumeWorkers !== false) {
      for (const b of this.backends) starting.push(this.startVolumeWorker(b.name));
    }
    await Promise.all(starting);
    return this;
  }

  private startServer(port: number): Promise<RunningDevServer> {
    return startDevServer({
      port,
      ui: false,
      dynamicConfig: this.options.dynamicConfig,
      reuseExisting: false,
      ...(this.options.persistentServer
        ? { dbFilename: path.join(this.dir, 'temporal.db'), logFile: path.join(this.dir, 'temporal-server.log') }
        : {}),
    });
  }

  /** SIGKILLs the cluster's own dev server and starts it again on the same port and file: workers
   *  and clients reconnect by themselves. Needs `persistentServer`. Returns how long it was down. */
  async restartServer(): Promise<number> {
    if (!this.server || !this.options.persistentServer)
      throw new Error('restartServer needs a cluster started with persistentServer');
    const t0 = Date.now();
    if (this.server.pid) process.kill(this.server.pid, 'SIGKILL');
    await this.server.stop();
    this.server = await this.startServer(Number(this.address.slice(this.address.lastIndexOf(':') + 1)));
    return Date.now() - t0;
  }

  async startWorker(key: string, roles: string[], env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess> {
    const proc = new WorkerProcess({ roles, env: { ...this.env, ...env }, logFile: path.join(this.dir, `${key}.log`) });
    this.workers.set(key, proc);
    await proc.ready;
    return proc;
  }

  startVolumeWorker(name: string): Promise<WorkerProcess> {
    const turn = this.backends.findIndex((b) => b.name === name);
    return this.startWorker(name, ['volume', '--backend', this.host(name)], {
      TEMPORAL_ADDRESS: this.nodeAddress(turn),
    });
  }

  worker(key: string): WorkerProcess {
    return this.workers.get(key)!;
  }

  create(
    request: Partial<NewVolumeRequest> = {},
    options?: Partial<CreateOptions>,
    taskQueue = this.taskQueue,
  ): Promise<VolumeCreateHandle> {
    return createVolume(this.client, { project_id: `project-${this.id}`, size: 1, ...request } as NewVolumeRequest, {
      taskQueue,
      ...(options ? { options } : {}),
    });
  }

  private readonly operatorQueues = new Map<string, Promise<string>>();

  /** The task queue of a second scheduler worker whose operator settings differ (env, e.g.
   *  CINDER_IGNORE_ATTEMPTED_HOSTS=false): options a request may not set. Started once per key. */
  schedulerWith(key: string, env: NodeJS.ProcessEnv): Promise<string> {
    let queue = this.operatorQueues.get(key);
    if (!queue) {
      const taskQueue = `${this.taskQueue}-${key}`;
      queue = this.startWorker(`scheduler-${key}`, ['scheduler'], {
        CINDER_SCHEDULER_TASK_QUEUE: taskQueue,
        ...env,
      }).then(() => taskQueue);
      this.operatorQueues.set(key, queue);
    }
    return queue;
  }

  /** A raw image file of `bytes` bytes of `fill` in the cluster's folder, registered as an active
   *  1 GiB image named `name`; returns its id. */
  async addImage(name: string, bytes: number, fill: number): Promise<string> {
    const imagePath = path.join(this.dir, `image-${name}.raw`);
    fs.writeFileSync(imagePath, Buffer.alloc(bytes, fill));
    const id = `image-${name}-${this.id}`;
    await this.store.putImage({ id, name, size_gb: 1, disk_format: 'raw', status: 'active', path: imagePath });
    return id;
  }

  /** The backend's configuration as its volume worker reads it (to build a driver in a test). */
  backendConfig(name: string): BackendConfig {
    const b = this.backends.find((x) => x.name === name)!;
    return {
      host: b.host,
      ...(b.availability_zone ? { availability_zone: b.availability_zone } : {}),
      pools: b.pools.map(({ backend_id: _id, ...p }) => ({ total_capacity_gb: 100, ...p })),
    };
  }

  /** Every file of one volume (`volume-<id>` and its partial writes) in every pool, as `backend_id/file`. */
  volumeFiles(volumeId: string): string[] {
    const found: string[] = [];
    for (const b of this.backends) {
      for (const p of b.pools) {
        for (const f of this.files(b.name, p.name)) {
          if (f === `volume-${volumeId}` || f.startsWith(`.volume-${volumeId}.partial`))
            found.push(`${p.backend_id}/${f}`);
        }
      }
    }
    return found;
  }

  /** Files in one pool directory. */
  files(name: string, pool = 'pool1'): string[] {
    const dir = this.pool(name, pool).path;
    return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
  }

  /** Every pool directory, as the batch audit (invariants.ts) reads them. */
  get auditPools(): AuditPool[] {
    return this.backends.flatMap((b) => b.pools.map((p) => ({ backend_id: p.backend_id, path: p.path })));
  }

  /** Every file in every pool that the database does not list as an existing volume there (a
   *  `creating` one too: this runs between tests, not only at rest). */
  leakedFiles(): Promise<string[]> {
    return leakedFiles(this.store, this.auditPools, LIVE_OWNERS);
  }

  /** The workflow's recorded history as JSON (for replay fixtures and assertions). */
  async history(workflowId: string) {
    return this.client.workflow.getHandle(workflowId).fetchHistory();
  }

  /** The check every integration file ends with: no pool holds a file the database does not list
   *  as an existing volume (snapshots aside); then stop. */
  async stopAfterLeakCheck(): Promise<void> {
    try {
      const leaks = await this.leakedFiles();
      if (leaks.length > 0) throw new Error(`files left behind by this file's tests: ${leaks.join(', ')}`);
    } finally {
      await this.stop();
    }
  }

  private stopped = false;

  /** Stops the workers, then the server or cluster it started; repeating it is a no-op. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all([...this.workers.values()].map((w) => w.stop('SIGTERM', 10_000)));
    await this.connection?.close();
    for (const c of this.extraConnections.splice(0)) await c.close();
    await this.store?.close();
    await this.server?.stop();
    await this.temporal?.stop();
    if (!process.env.KEEP_TEST_DIRS) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const cluster = new Cluster(options);
  return startOrStop(cluster, () => cluster.start());
}

/** Polls until fn returns a truthy value. */
export async function eventually<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Awaits the create and asserts it failed with the Cinder failure `type`; returns the failure (its
 * message and the workflow's state at the end) for further checks.
 */
export async function expectCreateFailure(handle: VolumeCreateHandle, type: string): Promise<VolumeCreateError> {
  let outcome: { ok: true; backend: string } | { ok: false; err: unknown };
  try {
    const result = await handle.result();
    outcome = { ok: true, backend: result.backend_id };
  } catch (err) {
    outcome = { ok: false, err };
  }
  if (outcome.ok)
    assert.fail(`create of ${handle.volumeId} should fail with ${type}, but it succeeded on ${outcome.backend}`);
  const err = outcome.err;
  if (!(err instanceof VolumeCreateError)) throw err;
  assert.equal(
    err.type,
    type,
    `create of ${handle.volumeId} failed with ${err.type} (${err.message}), expected ${type}`,
  );
  return err;
}
