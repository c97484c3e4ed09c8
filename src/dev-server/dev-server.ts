import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES, searchAttributeCliType } from '../workflows/search-attributes';
import { ensureSearchAttributes } from '../client/search-attributes-admin';
import { resolveTemporalCli, type CliSource } from './temporal-cli';

export interface DevServerOptions {
  /** Loopback by default: the dev server is not for other machines. */
  ip?: string;
  port?: number;
  uiPort?: number;
  ui?: boolean;
  /** SQLite file that keeps every workflow across restarts; absent: in memory. */
  dbFilename?: string;
  namespace?: string;
  /** Dynamic config overrides, e.g. { 'limit.historyCount.suggestContinueAsNew': 40 }, merged over
   *  LOCAL_DYNAMIC_CONFIG. */
  dynamicConfig?: Record<string, unknown>;
  /** Leave out LOCAL_DYNAMIC_CONFIG and LOCAL_SQLITE_PRAGMAS (the server's stock settings): to
   *  measure what they buy. */
  stockDynamicConfig?: boolean;
  /** Where the server's own log goes; default: discarded. */
  logFile?: string;
  /** Reuse a server already answering on ip:port instead of failing. Default true. */
  reuseExisting?: boolean;
  progress?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

export interface RunningDevServer {
  address: string;
  namespace: string;
  uiUrl: string | null;
  /** How the server came to be: started from a CLI source, reused, or the SDK's download. */
  origin: CliSource | 'reused' | 'sdk download';
  pid: number | null;
  /** Stops the server if this call started it; a reused server is left running. */
  stop(): Promise<void>;
}

/**
 * The dev server runs one history shard, and each of its queue processors reads new tasks at most
 * `MaxPollRPS` times a second per shard (default 20): on one shard every workflow and activity
 * dispatch waits for the next read, about 45 ms on average. A cluster spreads that over hundreds
 * of shards; here the limits go up so a local create costs what its round trips cost. One
 * task-queue partition: with the default four, a poll waits on one partition while the task sits
 * in another, and bursts of starts stall a few tasks for seconds. docs/deploy.md says which of
 * these a real cluster needs.
 */
export const LOCAL_DYNAMIC_CONFIG: Readonly<Record<string, unknown>> = {
  'history.transferProcessorMaxPollRPS': 10_000,
  'history.timerProcessorMaxPollRPS': 10_000,
  'history.visibilityProcessorMaxPollRPS': 10_000,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

/**
 * The dev server keeps its SQLite file (npm start's) with SQLite's own defaults: a rollback journal
 * and synchronous=FULL, several fsyncs per commit, and every workflow task, activity start and
 * completion is a commit. Measured with bench/create.bench.ts, that was most of a create's latency
 * and of an empty workflow's. WAL with synchronous=NORMAL survives a crash of the server process (a
 * restart finds every commit); only a crash of the machine may lose the last ones, which a local
 * server can afford. A cluster's database has its own durability settings (docs/deploy.md).
 */
export const LOCAL_SQLITE_PRAGMAS: Readonly<Record<string, string>> = { journal_mode: 'wal', synchronous: 'normal' };

/** The `--sqlite-pragma` arguments of a server with a file: none in memory, or on stock settings. */
export function sqlitePragmaArgs(opts: Pick<DevServerOptions, 'dbFilename' | 'stockDynamicConfig'>): string[] {
  if (!opts.dbFilename || opts.stockDynamicConfig) return [];
  return Object.entries(LOCAL_SQLITE_PRAGMAS).flatMap(([k, v]) => ['--sqlite-pragma', `${k}=${v}`]);
}

export const DEFAULT_PORT = 7233;
export const DEFAULT_UI_PORT = 8233;

export async function freePort(ip = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, ip, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function portOpen(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: ip, port });
    sock.setTimeout(1000);
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('timeout', () => {
      sock.destroy();
      resolve(false);
    });
    sock.once('error', () => resolve(false));
  });
}

/** Waits until the frontend answers and the namespace exists. */
export async function waitForServer(
  address: string,
  namespace: string,
  timeoutMs: number,
  exited?: () => string | null,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    const dead = exited?.();
    if (dead) throw new Error(`Temporal dev server exited before it was ready: ${dead}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await conn.workflowService.describeNamespace({ namespace });
        return;
      } finally {
        await conn.close();
      }
    } catch (err) {
      lastErr = err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  throw new Error(`Temporal server at ${address} not ready after ${timeoutMs} ms: ${String(lastErr)}`);
}

function stopChild(child: ChildProcess, graceMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/**
 * Starts `temporal server start-dev` on loopback with the UI, a persistent SQLite file, the
 * project's search attributes and LOCAL_DYNAMIC_CONFIG, or reuses a server already on the port (as
 * it is: its dynamic config cannot change while it runs). Without any CLI (no PATH
 * entry, cache or Go), falls back to the SDK's download, which needs the internet.
 */
export async function startDevServer(opts: DevServerOptions = {}): Promise<RunningDevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? DEFAULT_PORT;
  const ui = opts.ui ?? true;
  const uiPort = opts.uiPort ?? DEFAULT_UI_PORT;
  const namespace = opts.namespace ?? 'default';
  const address = `${ip}:${port}`;
  const progress = opts.progress ?? (() => undefined);
  const uiUrl = ui ? `http://${ip === '0.0.0.0' ? '127.0.0.1' : ip}:${uiPort}` : null;

  if (await portOpen(ip, port)) {
    if (opts.reuseExisting === false) throw new Error(`port ${port} on ${ip} is in use`);
    await waitForServer(address, namespace, 10_000);
    const conn = await Connection.connect({ address });
    try {
      await ensureSearchAttributes(conn, namespace);
    } finally {
      await conn.close();
    }
    progress(`reusing the Temporal server already running at ${address}`);
    return { address, namespace, uiUrl, origin: 'reused', pid: null, stop: async () => undefined };
  }

  if (opts.dbFilename) fs.mkdirSync(path.dirname(opts.dbFilename), { recursive: true });
  const dynamicConfig = { ...(opts.stockDynamicConfig ? {} : LOCAL_DYNAMIC_CONFIG), ...opts.dynamicConfig };
  const dynamicArgs = Object.entries(dynamicConfig).flatMap(([k, v]) => [
    '--dynamic-config-value',
    `${k}=${JSON.stringify(v)}`,
  ]);
  const cli = await resolveTemporalCli(progress, opts.env);

  if (!cli) {
    progress('no Temporal CLI found and no Go toolchain: using the SDK download of the dev server');
    // A dev dependency: a production install (npm ci --omit=dev) has a cluster, not this fallback.
    const { TestWorkflowEnvironment } = await import('@temporalio/testing').catch((err: Error) => {
      throw new Error(
        `no Temporal CLI found, and @temporalio/testing (a dev dependency) cannot be loaded to download one: ${err.message}`,
      );
    });
    const env = await TestWorkflowEnvironment.createLocal({
      server: {
        ip,
        port,
        ui,
        uiPort,
        namespace,
        dbFilename: opts.dbFilename,
        searchAttributes: [...SEARCH_ATTRIBUTES],
        extraArgs: [...dynamicArgs, ...sqlitePragmaArgs(opts)],
      },
    });
    return { address, namespace, uiUrl, origin: 'sdk download', pid: null, stop: () => env.teardown() };
  }

  const args = [
    'server',
    'start-dev',
    '--ip',
    ip,
    '--port',
    String(port),
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    ...(ui ? ['--ui-port', String(uiPort)] : ['--headless']),
    ...(opts.dbFilename ? ['--db-filename', opts.dbFilename] : []),
    ...sqlitePragmaArgs(opts),
    ...SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${searchAttributeCliType(k.type)}`]),
    ...dynamicArgs,
  ];
  const logFd = opts.logFile ? fs.openSync(opts.logFile, 'a') : 'ignore';
  const child = spawn(cli.path, args, { stdio: ['ignore', logFd, logFd], env: opts.env ?? process.env });
  if (typeof logFd === 'number') fs.closeSync(logFd);
  // If this process exits first (process.exit, an uncaught error), the server goes with it.
  const killOnExit = () => child.kill('SIGTERM');
  process.on('exit', killOnExit);
  let exitInfo: string | null = null;
  child.once('exit', (code, signal) => {
    process.off('exit', killOnExit);
    exitInfo = `exit ${signal ?? code}${opts.logFile ? ` (see ${opts.logFile})` : ''}`;
  });
  child.once('error', (err) => {
    exitInfo = String(err);
  });
  try {
    await waitForServer(address, namespace, 60_000, () => exitInfo);
  } catch (err) {
    await stopChild(child, 2000);
    throw err;
  }
  progress(`Temporal dev server (${cli.source}: ${cli.path}) at ${address}${uiUrl ? `, UI ${uiUrl}` : ''}`);
  return { address, namespace, uiUrl, origin: cli.source, pid: child.pid ?? null, stop: () => stopChild(child) };
}
