/**
 * What bench/create.bench.ts measures against: one local dev server started the way `npm start`
 * starts it (startDevServer, its dynamic config, a SQLite file), the real worker processes through
 * the launcher the demo and the tests use (WorkerProcess: a scheduler, one volume worker per
 * backend) and an empty-workflow worker in its own process. Everything lives in one temp folder.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import YAML from 'yaml';
import { buildWorkflowBundle } from '../../src/build-bundle';
import { freePort, startDevServer, type RunningDevServer } from '../../src/dev-server/dev-server';
import { WorkerProcess } from '../../src/dev-server/worker-process';
import { openVolumeStore } from '../../src/store';
import type { VolumeStore } from '../../src/store/volume-store';

/** Three backends of falling size, so the CapacityWeigher tries A, then B, then C: a fault rule on
 *  the first k of them gives a create exactly k failed attempts. */
export const BACKENDS = [
  { name: 'A', total_capacity_gb: 400_000 },
  { name: 'B', total_capacity_gb: 200_000 },
  { name: 'C', total_capacity_gb: 100_000 },
] as const;

export const EMPTY_TASK_QUEUE = 'bench-empty';
export const PROJECT = 'bench';

export interface DeploymentOptions {
  /** The server's stock dynamic config instead of LOCAL_DYNAMIC_CONFIG (to measure what it buys). */
  stockServer: boolean;
  /** Dynamic config values over the server's (to try a setting before it goes into LOCAL_DYNAMIC_CONFIG). */
  dynamicConfig?: Record<string, unknown>;
  /** The dev server's own SQLite file, as npm start runs it (default), or in memory as the tests. */
  serverDb: 'file' | 'memory';
  keepDir: boolean;
  progress: (line: string) => void;
}

export class Deployment {
  readonly id = randomBytes(3).toString('hex');
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), `cinder-bench-${this.id}-`));
  readonly taskQueue = `cinder-scheduler-bench-${this.id}`;
  readonly workers: WorkerProcess[] = [];
  store!: VolumeStore;
  client!: Client;
  private server: RunningDevServer | null = null;
  private connection: Connection | null = null;
  private empty: ChildProcess | null = null;

  constructor(readonly options: DeploymentOptions) {}

  host(name: string): string {
    return `bench${name}-${this.id}@lvm`;
  }

  async start(): Promise<this> {
    const { progress } = this.options;
    this.server = await startDevServer({
      port: await freePort(),
      ui: false,
      reuseExisting: false,
      stockDynamicConfig: this.options.stockServer,
      dynamicConfig: this.options.dynamicConfig,
      ...(this.options.serverDb === 'file' ? { dbFilename: path.join(this.dir, 'temporal.db') } : {}),
      logFile: path.join(this.dir, 'temporal-server.log'),
      progress,
    });
    const configFile = path.join(this.dir, 'cinder.yaml');
    fs.writeFileSync(configFile, YAML.stringify(this.config()));
    progress('building the workflow bundle');
    const bundle = await buildWorkflowBundle(path.join(this.dir, 'workflow-bundle.js'));
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: this.server.address,
      CINDER_CONFIG: configFile,
      CINDER_WORKFLOW_BUNDLE: bundle.file,
    };
    const roles = [['scheduler'], ...BACKENDS.map((b) => ['volume', '--backend', this.host(b.name)])];
    for (const r of roles)
      this.workers.push(
        new WorkerProcess({ roles: r, env, logFile: path.join(this.dir, `worker-${r[r.length - 1]}.log`) }),
      );
    this.empty = await startEmptyWorker(env, path.join(this.dir, 'empty-worker.log'));
    await Promise.all(this.workers.map((w) => w.ready));
    this.store = await openVolumeStore(`sqlite:${path.join(this.dir, 'cinder.db')}`);
    await this.store.setQuotaLimit(PROJECT, 'volumes', -1);
    await this.store.setQuotaLimit(PROJECT, 'gigabytes', -1);
    this.connection = await Connection.connect({ address: this.server.address });
    this.client = new Client({ connection: this.connection });
    progress(`deployment up in ${this.dir}: ${this.workers.length} worker processes + the empty-workflow worker`);
    return this;
  }

  /** The worker configuration: the project's defaults (as a user runs them) except the backends
   *  and fault injection. */
  private config(): Record<string, unknown> {
    return {
      database_url: `sqlite:${path.join(this.dir, 'cinder.db')}`,
      data_dir: this.dir,
      scheduler_task_queue: this.taskQueue,
      // The history shapes are made with fault rules, which volume workers apply only when told to.
      fault_injection: true,
      backends: BACKENDS.map((b) => ({
        host: this.host(b.name),
        pools: [
          { name: 'pool1', path: path.join(this.dir, 'backends', b.name), total_capacity_gb: b.total_capacity_gb },
        ],
      })),
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop('SIGTERM', 15_000)));
    if (this.empty && this.empty.exitCode === null) {
      const exited = new Promise((r) => this.empty!.once('exit', r));
      this.empty.kill('SIGTERM');
      const timer = setTimeout(() => this.empty?.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await this.connection?.close();
    await this.store?.close();
    await this.server?.stop();
    if (!this.options.keepDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function startEmptyWorker(env: NodeJS.ProcessEnv, logFile: string): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['--import', require.resolve('tsx'), path.join(__dirname, 'empty-worker.ts'), EMPTY_TASK_QUEUE],
    {
      env,
      stdio: ['ignore', 'pipe', fs.openSync(logFile, 'a'), 'ipc'],
    },
  );
  const killOnExit = () => child.kill('SIGTERM');
  process.on('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) =>
      reject(new Error(`empty-workflow worker exited (${code}) before it was ready; see ${logFile}`)),
    );
    readline.createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"worker.running"')) resolve();
    });
  });
  return child;
}
