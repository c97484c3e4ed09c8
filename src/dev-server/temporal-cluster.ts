/**
 * A multi-node Temporal cluster on this machine, from native processes: a throw-away PostgreSQL,
 * the Temporal schemas applied by temporal-sql-tool, and N temporal-server processes, each running
 * every service, on loopback ports, finding each other through the cluster_membership table
 * (ringpop). The namespace and the project's search attributes are registered. The `cluster`
 * command and the tests (test/support/cluster.ts) build on it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { Client as PgClient } from 'pg';
import YAML from 'yaml';
import { ensureSearchAttributes } from '../client/search-attributes-admin';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { freePort, LOCAL_DYNAMIC_CONFIG } from './dev-server';
import { startLocalPostgres, type LocalPostgres } from './postgres';
import { descendantsOf } from './procfs';
import { postgresSchemaDir, resolveTemporalServer, type ResolvedServer } from './temporal-server';
import { startOrStop } from './lifecycle';

export const TEMPORAL_SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
type Service = (typeof TEMPORAL_SERVICES)[number];

export interface TemporalClusterOptions {
  /** How many server processes (default 2). */
  nodes?: number;
  /** Few shards: each node owns some, and a node's death moves them (default 4). */
  numHistoryShards?: number;
  namespace?: string;
  /** Merged over LOCAL_DYNAMIC_CONFIG into the dynamic config file every node reads. */
  dynamicConfig?: Record<string, unknown>;
  /** Work folder (configs, logs); default a new temp folder, deleted by stop(). */
  dir?: string;
  /** Everything (PostgreSQL, schemas, every node ready, namespace, search attributes) within this. */
  startTimeoutMs?: number;
  /** How long each node may take to answer once started (default 120 s, within startTimeoutMs). */
  nodeReadyTimeoutMs?: number;
  /** Stop everything synchronously when this process gets SIGINT/SIGTERM (default true; a command
   *  that handles the signals itself passes false). */
  signalHooks?: boolean;
  progress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

type Ports = Record<Service, { grpc: number; membership: number }> & { http: number };

/** One temporal-server process; restartable on the same ports. */
export class TemporalNode {
  child: ChildProcess | null = null;
  private exitInfo: string | null = null;

  constructor(
    readonly index: number,
    readonly ports: Ports,
    private readonly server: string,
    private readonly configDir: string,
    readonly logFile: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.ports.frontend.grpc}`;
  }

  /** The PID of the node's process group (the shell holding the lifeline). */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** The node's processes: the shell, the server it runs and the lifeline's watcher. */
  pids(): number[] {
    const pid = this.running ? this.pid : null;
    return pid ? descendantsOf(pid) : [];
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Why the process is gone, or null while it runs. */
  exited(): string | null {
    return this.exitInfo;
  }

  start(): void {
    if (this.running) throw new Error(`Temporal node ${this.index} is already running (pid ${this.pid})`);
    const log = fs.openSync(this.logFile, 'a');
    // A process group of its own (the shell and the server): stop() and kill() reach it by PID.
    const child = spawn(
      'sh',
      [
        '-c',
        NODE_WRAPPER,
        'temporal-node',
        this.server,
        ...['--root', this.configDir, '--config', '.', '--env', `node${this.index}`, '--allow-no-auth', 'start'],
      ],
      { stdio: ['ignore', log, log, 'pipe'], detached: true, cwd: this.configDir },
    );
    fs.closeSync(log);
    const lifeline = child.stdio[3] as net.Socket;
    lifeline.unref();
    this.exitInfo = null;
    this.child = child;
    live.add(child);
    child.once('exit', (code, signal) => {
      live.delete(child);
      lifeline.destroy();
      this.exitInfo = `node ${this.index} exited (${describeExit(code, signal)}; log ${this.logFile})`;
    });
    child.once('error', (err) => {
      this.exitInfo = `node ${this.index}: ${err.message}`;
    });
  }

  /** Sends signal to the node's process group and, unless it is SIGSTOP/SIGCONT, waits for the exit
   *  (SIGKILL after graceMs). */
  async kill(signal: NodeJS.Signals = 'SIGKILL', graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    killGroup(child, signal);
    if (signal === 'SIGSTOP' || signal === 'SIGCONT') return;
    const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/**
 * Runs the server ("$@") under a shell that holds fd 3, a pipe from this process: when the pipe
 * ends (this process is gone, even by SIGKILL, so no exit hook ran) the server is SIGKILLed too.
 * The shell ignores SIGINT/SIGTERM after starting the server, so a group SIGTERM reaches the server
 * and the shell exits when the server has, with its status (128 + signal when killed).
 */
const NODE_WRAPPER = [
  '"$@" 3<&- &',
  'pid=$!',
  '{ cat <&3 >/dev/null; kill -KILL "$pid" 2>/dev/null; } &',
  "trap '' INT TERM HUP",
  'wait "$pid"',
].join('\n');

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return signal;
  const name =
    code !== null && code > 128 ? Object.entries(os.constants.signals).find(([, n]) => n === code - 128) : null;
  return name ? name[0] : String(code);
}

const live = new Set<ChildProcess>();
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}
function killAllNow(): void {
  for (const child of live) killGroup(child, 'SIGKILL');
}
process.on('exit', killAllNow);

function runTool(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${path.basename(file)} ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/** Creates the two databases and applies every versioned schema step (what the Temporal docs'
 *  auto-setup does), through temporal-sql-tool. */
export async function setupTemporalSchemas(pg: LocalPostgres, sqlTool: string, env: NodeJS.ProcessEnv) {
  const schemaDir = postgresSchemaDir(env);
  const common = ['--plugin', 'postgres12', '--ep', pg.host, '-p', String(pg.port), '-u', pg.user];
  const toolEnv = { ...env, SQL_PASSWORD: pg.password }; // not on the command line
  for (const [db, sub] of [
    ['temporal', 'temporal'],
    ['temporal_visibility', 'visibility'],
  ] as const) {
    await runTool(sqlTool, [...common, '--db', db, 'create-database'], toolEnv);
    await runTool(sqlTool, [...common, '--db', db, 'setup-schema', '-v', '0.0'], toolEnv);
    await runTool(
      sqlTool,
      [...common, '--db', db, 'update-schema', '-d', path.join(schemaDir, sub, 'versioned')],
      toolEnv,
    );
  }
}

function nodeConfig(pg: LocalPostgres, ports: Ports, shards: number, dynamicConfigFile: string, first: Ports) {
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${pg.host}:${pg.port}`,
      connectProtocol: 'tcp',
      user: pg.user,
      password: pg.password,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const services = Object.fromEntries(
    TEMPORAL_SERVICES.map((s) => [
      s,
      {
        rpc: {
          grpcPort: ports[s].grpc,
          membershipPort: ports[s].membership,
          bindOnLocalHost: true,
          ...(s === 'frontend' ? { httpPort: ports.http } : {}),
        },
      },
    ]),
  );
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: shards,
      datastores: { default: store('temporal', 20), visibility: store('temporal_visibility', 5) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services,
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${first.frontend.grpc}`,
        },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
}

/** A free loopback port below 32768: the cluster_membership table keeps the membership port in a
 *  smallint, and Linux hands out ephemeral ports from 32768 up. */
async function freeMembershipPort(taken: Set<number>): Promise<number> {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free loopback port between 20000 and 32000 for Temporal membership');
}

async function allocatePorts(taken: Set<number>): Promise<Ports> {
  const ports = { http: await freePort() } as Ports;
  for (const s of TEMPORAL_SERVICES) ports[s] = { grpc: await freePort(), membership: await freeMembershipPort(taken) };
  return ports;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class TemporalCluster {
  readonly dir: string;
  readonly namespace: string;
  readonly nodes: TemporalNode[] = [];
  postgres!: LocalPostgres;
  binaries!: ResolvedServer;
  /** How long start() took, in ms. */
  startMs = 0;
  private readonly ownDir: boolean;
  private readonly progress: (line: string) => void;
  private readonly env: NodeJS.ProcessEnv;
  private stopped = false;
  private signalHook: ((signal: NodeJS.Signals) => void) | null = null;

  constructor(readonly options: TemporalClusterOptions = {}) {
    this.ownDir = !options.dir;
    this.dir = options.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-cluster-'));
    this.namespace = options.namespace ?? 'default';
    this.progress = options.progress ?? (() => undefined);
    this.env = options.env ?? process.env;
  }

  /** Node i's frontend address (1-based, as the logs and the command name the nodes). */
  address(node = 1): string {
    return this.nodes[node - 1]!.address;
  }

  node(n: number): TemporalNode {
    const node = this.nodes[n - 1];
    if (!node) throw new RangeError(`no Temporal node ${n} (the cluster has ${this.nodes.length})`);
    return node;
  }

  async start(): Promise<this> {
    // A first build of the server (minutes, once per machine) is not part of the start's time.
    this.binaries = await resolveTemporalServer(this.progress, this.env);
    const started = Date.now();
    const timeoutMs = this.options.startTimeoutMs ?? 180_000;
    if (this.options.signalHooks !== false) {
      this.signalHook = (signal) => {
        killAllNow();
        this.postgres?.stopSync();
        process.kill(process.pid, signal);
      };
      process.once('SIGINT', this.signalHook);
      process.once('SIGTERM', this.signalHook);
    }
    const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      const left = timeoutMs - (Date.now() - started);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`cluster start: ${what} did not finish within ${timeoutMs} ms`)),
          left,
        );
      });
      try {
        const work = fn();
        work.catch(() => undefined); // when the time is up first, its later failure is moot
        return await Promise.race([work, timeout]);
      } finally {
        clearTimeout(timer);
      }
    };
    this.postgres = await step('PostgreSQL', () => startLocalPostgres({ signalHooks: false }));
    this.progress(`PostgreSQL on ${this.postgres.host}:${this.postgres.port} (pid ${this.postgres.pid()})`);
    await step('the Temporal schemas (temporal-sql-tool)', () =>
      setupTemporalSchemas(this.postgres, this.binaries.sqlTool, this.env),
    );
    const count = this.options.nodes ?? 2;
    await this.writeNodeConfigs(count);
    // Node 1 first: it writes the cluster metadata the others then read.
    this.nodes[0]!.start();
    await step('Temporal node 1 (frontend answering)', () =>
      this.waitForNode(1, 'temporal-system', this.options.nodeReadyTimeoutMs),
    );
    await step('the namespace and search attributes', () => this.registerNamespace());
    for (const node of this.nodes.slice(1)) node.start();
    for (const node of this.nodes.slice(1)) {
      await step(`Temporal node ${node.index} (frontend answering)`, () =>
        this.waitForNode(node.index, this.namespace, this.options.nodeReadyTimeoutMs),
      );
    }
    this.startMs = Date.now() - started;
    this.progress(
      `Temporal cluster of ${count} nodes up in ${(this.startMs / 1000).toFixed(1)}s: ${this.nodes.map((n) => n.address).join(', ')}`,
    );
    return this;
  }

  /** The dynamic config file, and each node's config (its ports, the shared persistence) and
   *  TemporalNode. */
  private async writeNodeConfigs(count: number): Promise<void> {
    const dynamicConfigFile = path.join(this.dir, 'dynamicconfig.yaml');
    const dynamic = { ...LOCAL_DYNAMIC_CONFIG, ...this.options.dynamicConfig };
    fs.writeFileSync(
      dynamicConfigFile,
      YAML.stringify(Object.fromEntries(Object.entries(dynamic).map(([k, value]) => [k, [{ value }]]))),
    );
    const ports: Ports[] = [];
    const taken = new Set<number>();
    for (let i = 0; i < count; i++) ports.push(await allocatePorts(taken));
    for (let i = 1; i <= count; i++) {
      const config = nodeConfig(
        this.postgres,
        ports[i - 1]!,
        this.options.numHistoryShards ?? 4,
        dynamicConfigFile,
        ports[0]!,
      );
      fs.writeFileSync(path.join(this.dir, `node${i}.yaml`), YAML.stringify(config), { mode: 0o600 });
      this.nodes.push(
        new TemporalNode(i, ports[i - 1]!, this.binaries.server, this.dir, path.join(this.dir, `node${i}.log`)),
      );
    }
  }

  /** Until node n's frontend answers for namespace (and, for the project's namespace, lists the
   *  search attributes); throws at once when the process exits. */
  async waitForNode(n: number, namespace = this.namespace, timeoutMs = 120_000): Promise<void> {
    const node = this.node(n);
    const deadline = Date.now() + timeoutMs;
    let last: unknown = null;
    while (Date.now() < deadline) {
      const dead = node.exited();
      if (dead) throw new Error(`Temporal ${dead}: ${tail(node.logFile)}`);
      try {
        const conn = await Connection.connect({ address: node.address, connectTimeout: 2000 });
        try {
          await conn.workflowService.describeNamespace({ namespace });
          if (namespace === this.namespace) {
            const sa = await conn.operatorService.listSearchAttributes({ namespace });
            const missing = SEARCH_ATTRIBUTES.filter((k) => !(k.name in (sa.customAttributes ?? {})));
            if (missing.length > 0) throw new Error(`search attributes not yet visible: ${missing.map((k) => k.name)}`);
          }
          return;
        } finally {
          await conn.close();
        }
      } catch (err) {
        last = err;
        await sleep(300);
      }
    }
    throw new Error(`Temporal node ${n} at ${node.address} not ready after ${timeoutMs} ms: ${String(last)}`);
  }

  private async registerNamespace(): Promise<void> {
    const conn = await Connection.connect({ address: this.address(1) });
    try {
      try {
        await conn.workflowService.registerNamespace({
          namespace: this.namespace,
          workflowExecutionRetentionPeriod: msToTs('1 day'),
        });
      } catch (err) {
        if (!/already exists|AlreadyExists/i.test(String(err))) throw err;
      }
      for (;;) {
        try {
          await ensureSearchAttributes(conn, this.namespace);
          break;
        } catch (err) {
          // The namespace is registered, but the frontend's namespace cache learns of it on its next refresh.
          if (!/not found|NotFound/i.test(String(err))) throw err;
          await sleep(500);
        }
      }
    } finally {
      await conn.close();
    }
    await this.waitForNode(1);
  }

  /** SIGKILLs node n (its process group) and waits for its exit. */
  kill(n: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return this.node(n).kill(signal);
  }

  /** Starts node n again on its ports, and waits until its frontend answers. */
  async restart(n: number): Promise<void> {
    const node = this.node(n);
    if (node.running) await node.kill('SIGKILL');
    node.start();
    await this.waitForNode(n);
  }

  /** The members that heartbeat in the cluster_membership table (the list ringpop bootstraps from;
   *  healthy: a heartbeat in the last 20 s, the server's own cutoff), each as `node<n>/<service>`
   *  where its membership port is one of ours; sorted, without repeats. */
  async members(): Promise<string[]> {
    const url = `postgres://${this.postgres.user}:${encodeURIComponent(this.postgres.password)}@${this.postgres.host}:${this.postgres.port}/temporal`;
    const client = new PgClient({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ rpc_port: number }>(
        "SELECT DISTINCT rpc_port FROM cluster_membership WHERE last_heartbeat > (now() AT TIME ZONE 'utc') - interval '20 seconds'",
      );
      return rows
        .map((r) => {
          for (const n of this.nodes)
            for (const s of TEMPORAL_SERVICES) if (n.ports[s].membership === r.rpc_port) return `node${n.index}/${s}`;
          return `port ${r.rpc_port}`;
        })
        .sort();
    } finally {
      await client.end();
    }
  }

  /** The PIDs of the running Temporal nodes (each its shell and its server). */
  pids(): number[] {
    return this.nodes.flatMap((n) => n.pids());
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await Promise.all(this.nodes.map((n) => n.kill('SIGTERM', 5000)));
    await this.postgres?.stop();
    if (this.signalHook) {
      process.off('SIGINT', this.signalHook);
      process.off('SIGTERM', this.signalHook);
    }
    if (this.ownDir && !process.env.KEEP_TEST_DIRS) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').slice(-3000);
  } catch {
    return '(no log)';
  }
}

export async function startTemporalCluster(options: TemporalClusterOptions = {}): Promise<TemporalCluster> {
  const cluster = new TemporalCluster(options);
  return startOrStop(cluster, () => cluster.start());
}
