/**
 * What the chaos tool runs against: a deployment it can start, hurt and stop. One interface for the
 * local dev server and the two-node Temporal cluster (HarnessChaosTarget, on the tests' Cluster): the
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

export interface HarnessTargetOptions {
  /** Pools of each backend (A and B), GiB. */
  poolGb?: number;
  /** How long a killed Temporal node stays down before its restart (cluster only). */
  nodeDownMs?: number;
}

/**
 * The tests' Cluster (test/support/cluster.ts) as a chaos target, two scheduler workers and volume
 * workers for backends A and B, fault injection on; `dev`: a dev server of its own in a file
 * (`persistentServer`), restarted whole; `cluster`: the two-node Temporal cluster on PostgreSQL
 * (`temporalCluster`), one node SIGKILLed and restarted per server restart, in turn.
 */
export class HarnessChaosTarget implements ChaosTarget {
  private restarts = 0;
  private constructor(
    readonly kind: 'dev' | 'cluster',
    readonly cluster: Cluster,
    private readonly nodeDownMs: number,
  ) {}

  static async start(kind: 'dev' | 'cluster', options: HarnessTargetOptions = {}): Promise<HarnessChaosTarget> {
    const total_capacity_gb = options.poolGb ?? 5000;
    const c = await startCluster({
      backends: [
        { name: 'A', pools: [{ name: 'pool1', total_capacity_gb }] },
        { name: 'B', pools: [{ name: 'pool1', total_capacity_gb }] },
      ],
      ...(kind === 'cluster' ? { temporalCluster: true } : { persistentServer: true }),
    });
    try {
      // The multi-node Cluster starts its second scheduler itself (through the other node).
      if (!c.workers.has('scheduler2')) await c.startWorker('scheduler2', ['scheduler']);
    } catch (err) {
      await c.stop();
      throw err;
    }
    return new HarnessChaosTarget(kind, c, options.nodeDownMs ?? 2000);
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
  get dir(): string {
    return this.cluster.dir;
  }
  addresses(): string[] {
    const t = this.cluster.temporal;
    return t ? t.nodes.map((_, i) => t.address(i + 1)) : [this.cluster.address];
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
    const w = this.cluster.worker(key);
    // Through the same node as before (the multi-node Cluster spreads the workers over its nodes).
    const address = w.options.env.TEMPORAL_ADDRESS;
    await this.cluster.startWorker(key, w.options.roles, address ? { TEMPORAL_ADDRESS: address } : {});
  }
  async restartServer(): Promise<{ what: string; downMs: number }> {
    const t = this.cluster.temporal;
    if (!t) return { what: `dev server ${this.cluster.address}`, downMs: await this.cluster.restartServer() };
    const n = (this.restarts++ % t.nodes.length) + 1;
    const t0 = Date.now();
    await t.kill(n);
    await new Promise((r) => setTimeout(r, this.nodeDownMs));
    await t.restart(n);
    return { what: `Temporal node ${n} (${t.address(n)})`, downMs: Date.now() - t0 };
  }
  stop(): Promise<void> {
    return this.cluster.stop();
  }
}
