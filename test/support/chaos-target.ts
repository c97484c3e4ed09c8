/**
 * What the chaos tool runs against: a deployment it can start, hurt and stop. One interface for the
 * local dev server (DevChaosTarget, on the tests' Cluster) and a multi-node Temporal cluster: the
 * tool only creates volumes through `client`, adds fault rules through `store`, kills and restarts
 * workers by key, restarts the server (or one node of it), and audits through `store` and `pools`.
 */
import type { Client } from '@temporalio/client';
import type { VolumeStore } from '../../src/store/volume-store';
import { startCluster, type Cluster } from './cluster';
import type { AuditPool } from './invariants';

export interface ChaosTarget {
  /** 'dev' or 'cluster', for the report. */
  readonly kind: string;
  /** The volume database: fault rules, quotas, the audit. */
  readonly store: VolumeStore;
  /** A client of the Temporal server that outlives restartServer (it reconnects). */
  readonly client: Client;
  /** The scheduler workers' task queue. */
  readonly taskQueue: string;
  /** host@backend of every volume service: fault rules are per backend. */
  readonly backendHosts: string[];
  readonly pools: AuditPool[];
  /** The folder with its logs and databases. */
  readonly dir: string;
  /** Temporal frontends the workers and clients use. */
  addresses(): string[];
  /** Keys of the worker processes (scheduler and volume workers). */
  workers(): string[];
  /** Whether the worker is up; one killed by a fault (exit mid-create) is not. */
  workerRunning(key: string): boolean;
  /** Resolves with how the worker's current process ended, once it has. */
  workerExit(key: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL, no grace. Resolves once the process is gone. */
  killWorker(key: string): Promise<void>;
  /** Starts the worker again with its own roles; resolves once it is ready. */
  restartWorker(key: string): Promise<void>;
  /** Restarts the Temporal server (dev server: SIGKILL and start on the same file; a cluster: one
   *  node). Resolves once it serves again, with what was restarted and how long it was down. */
  restartServer(): Promise<{ what: string; downMs: number }>;
  /** Stops every process the target started. */
  stop(): Promise<void>;
}

export interface DevTargetOptions {
  /** Scheduler worker processes (default 2: one may die while the other works). */
  schedulers?: number;
  /** Pools of each backend (A and B), GiB. */
  poolGb?: number;
}

/** The dev server in a file of its own, two scheduler workers, volume workers for backends A and B,
 *  fault injection on: test/support/cluster.ts with `persistentServer`. */
export class DevChaosTarget implements ChaosTarget {
  readonly kind = 'dev';
  private constructor(readonly cluster: Cluster) {}

  static async start(options: DevTargetOptions = {}): Promise<DevChaosTarget> {
    const total_capacity_gb = options.poolGb ?? 5000;
    const c = await startCluster({
      backends: [
        { name: 'A', pools: [{ name: 'pool1', total_capacity_gb }] },
        { name: 'B', pools: [{ name: 'pool1', total_capacity_gb }] },
      ],
      persistentServer: true,
    });
    const target = new DevChaosTarget(c);
    try {
      for (let i = 2; i <= (options.schedulers ?? 2); i++) await c.startWorker(`scheduler${i}`, ['scheduler']);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return target;
  }

  get store(): VolumeStore {
    return this.cluster.store;
  }
  get client(): Client {
    return this.cluster.client;
  }
  get taskQueue(): string {
    return this.cluster.taskQueue;
  }
  get backendHosts(): string[] {
    return this.cluster.backends.map((b) => b.host);
  }
  get pools(): AuditPool[] {
    return this.cluster.auditPools;
  }
  addresses(): string[] {
    return [this.cluster.address];
  }
  workers(): string[] {
    return [...this.cluster.workers.keys()];
  }
  workerRunning(key: string): boolean {
    return this.cluster.worker(key).running;
  }
  workerExit(key: string): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return this.cluster.worker(key).exited;
  }
  async killWorker(key: string): Promise<void> {
    await this.cluster.worker(key).stop('SIGKILL');
  }
  async restartWorker(key: string): Promise<void> {
    await this.cluster.startWorker(key, this.cluster.worker(key).options.roles);
  }
  async restartServer(): Promise<{ what: string; downMs: number }> {
    return { what: `dev server ${this.cluster.address}`, downMs: await this.cluster.restartServer() };
  }
  get dir(): string {
    return this.cluster.dir;
  }
  stop(): Promise<void> {
    return this.cluster.stop();
  }
}
