/**
 * `cinder-temporal cluster`: the two-node Temporal cluster (temporal-cluster.ts) with the project's
 * workers on it, for a person to try: two scheduler workers (through nodes 1 and 2), a volume worker
 * per backend (through the nodes in turn), the volume database on the cluster's PostgreSQL, and
 * optionally the Temporal UI pointed at node 1. Everything lives in one temp folder and goes with
 * stop().
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import type { VolumeType } from '../domain/volume';
import type { ResolvedBackendConfig } from '../drivers/backend-config';
import { freePort } from './dev-server';
import { TemporalCluster } from './temporal-cluster';
import { resolveTemporalUiServer } from './temporal-server';
import { WorkerProcess } from './worker-process';
import { startOrStop } from './lifecycle';

export interface LocalClusterOptions {
  /** The backends the volume workers serve (the demo's when none are configured). */
  backends: ResolvedBackendConfig[];
  schedulerTaskQueue: string;
  volumeTypes?: VolumeType[];
  ui?: boolean;
  uiPort?: number;
  progress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export class LocalCluster {
  readonly temporal: TemporalCluster;
  readonly workers = new Map<string, WorkerProcess>();
  databaseUrl = '';
  uiUrl: string | null = null;
  /** A shell file exporting what the CLI needs to reach this cluster (mode 0600: it holds the
   *  database password). */
  envFile = '';
  private ui: ChildProcess | null = null;
  private readonly progress: (line: string) => void;

  constructor(readonly options: LocalClusterOptions) {
    this.progress = options.progress ?? (() => undefined);
    this.temporal = new TemporalCluster({ signalHooks: false, progress: this.progress, env: options.env });
  }

  get dir(): string {
    return this.temporal.dir;
  }

  async start(): Promise<this> {
    await this.temporal.start();
    this.databaseUrl = await this.temporal.postgres.createDatabase();
    const dataDir = path.join(this.dir, 'data');
    const configFile = path.join(this.dir, 'cinder.yaml');
    fs.writeFileSync(
      configFile,
      YAML.stringify({
        database_url: this.databaseUrl,
        data_dir: dataDir,
        scheduler_task_queue: this.options.schedulerTaskQueue,
        fault_injection: true,
        ...(this.options.volumeTypes ? { volume_types: this.options.volumeTypes } : {}),
        // The pools' files go with the cluster: its volume database does too.
        backends: this.options.backends.map((b) => ({
          ...b,
          pools: b.pools.map((p) => ({ ...p, path: path.join(dataDir, 'backends', b.host, p.name) })),
        })),
      }),
      { mode: 0o600 },
    );
    const env = { ...(this.options.env ?? process.env), CINDER_CONFIG: configFile };
    this.envFile = path.join(this.dir, 'env.sh');
    fs.writeFileSync(
      this.envFile,
      [`export CINDER_CONFIG='${configFile}'`, `export TEMPORAL_ADDRESS='${this.temporal.address(1)}'`, ''].join('\n'),
      { mode: 0o600 },
    );
    const node = (turn: number) => this.temporal.address((turn % this.temporal.nodes.length) + 1);
    const roles: Array<[string, string[], string]> = [
      ['scheduler-1', ['scheduler'], node(0)],
      ['scheduler-2', ['scheduler'], node(1)],
      ...this.options.backends.map(
        (b, i) => [`volume-${b.host}`, ['volume', '--backend', b.host], node(i)] as [string, string[], string],
      ),
    ];
    for (const [key, r, address] of roles) {
      const logFile = path.join(this.dir, `worker-${key.replace(/[@#]/g, '_')}.log`);
      this.workers.set(key, new WorkerProcess({ roles: r, env: { ...env, TEMPORAL_ADDRESS: address }, logFile }));
    }
    await Promise.all([...this.workers.values()].map((w) => w.ready));
    if (this.options.ui) await this.startUi();
    return this;
  }

  /** The UI server (the one the CLI embeds) on loopback, pointed at node 1. */
  private async startUi(): Promise<void> {
    const binary = await resolveTemporalUiServer(this.progress, this.options.env);
    const port = this.options.uiPort ?? (await freePort());
    const uiDir = path.join(this.dir, 'ui');
    fs.mkdirSync(uiDir, { recursive: true });
    fs.writeFileSync(
      path.join(uiDir, 'cluster.yaml'),
      YAML.stringify({
        temporalGrpcAddress: this.temporal.address(1),
        host: '127.0.0.1',
        port,
        enableUi: true,
        defaultNamespace: this.temporal.namespace,
        cors: { allowOrigins: [`http://127.0.0.1:${port}`] },
      }),
    );
    const log = fs.openSync(path.join(this.dir, 'ui.log'), 'a');
    this.ui = spawn(binary, ['--root', uiDir, '--config', '.', '--env', 'cluster', 'start'], {
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    const killOnExit = () => this.ui?.kill('SIGKILL');
    process.on('exit', killOnExit);
    this.ui.once('exit', () => process.off('exit', killOnExit));
    this.uiUrl = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (this.ui.exitCode !== null) throw new Error(`the Temporal UI server exited (see ${this.dir}/ui.log)`);
      try {
        if ((await fetch(this.uiUrl)).ok) return;
      } catch {
        // not yet listening
      }
      if (Date.now() > deadline) throw new Error(`the Temporal UI server did not answer on ${this.uiUrl} in 30 s`);
      await new Promise((r) => setTimeout(r, 300));
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop('SIGTERM', 10_000)));
    if (this.ui && this.ui.exitCode === null && this.ui.signalCode === null) {
      const exited = new Promise((r) => this.ui!.once('exit', r));
      this.ui.kill('SIGTERM');
      await exited;
    }
    await this.temporal.stop();
  }
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const cluster = new LocalCluster(options);
  return startOrStop(cluster, () => cluster.start());
}
