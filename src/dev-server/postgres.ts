/**
 * A throw-away PostgreSQL server (for the tests and the local cluster): initdb into a temp dir (on /dev/shm when it has room),
 * started with pg_ctl on a free loopback port (unix socket in the temp dir too), fsync off; stopped
 * and deleted by stop(). test/support/postgres.ts wraps it for the tests.
 *
 * - The binaries come from /usr/lib/postgresql/<version>/bin (Debian, newest first) or
 *   `pg_config --bindir`. Without them this throws, saying to run scripts/ensure-postgres.sh:
 *   tests that need PostgreSQL fail rather than skip.
 * - initdb and postgres refuse to run as root: as root they run as the `postgres` system user (which
 *   Debian's package creates), owning the temp dir.
 */
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  chownSync,
  constants,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort } from './dev-server';
import { childrenOf } from './procfs';

export interface PostgresDatabases {
  /** An empty database of its own: postgres://user:password@127.0.0.1:port/name. */
  url: string;
  /** Another empty database on the same server (for test isolation); dropped by stop(). With
   *  icuLocale, the database sorts text by that ICU locale (PostgreSQL 15+). */
  createDatabase(options?: DatabaseOptions): Promise<string>;
  /** Stops the server and deletes its directory (or drops the databases on an external server).
   *  Close the stores first. Repeating it is a no-op. */
  stop(): Promise<void>;
}

export interface DatabaseOptions {
  /** e.g. 'en-US': the database's default collation, to check code that must not depend on it. */
  icuLocale?: string;
}

/** A server of our own: where it listens, its superuser, and its processes. */
export interface LocalPostgres extends PostgresDatabases {
  host: string;
  port: number;
  user: string;
  password: string;
  dir: string;
  /** The postmaster's PID. */
  pid(): number;
  /** SIGSTOP every process of the server (a database failover's pause, as clients see it);
   *  resume() sends SIGCONT. */
  pause(): void;
  resume(): void;
  /** stop(), synchronously (for exit and signal hooks). */
  stopSync(): void;
}

export interface LocalPostgresOptions {
  /** Stop the server synchronously on SIGINT/SIGTERM of this process, then die of the signal
   *  (default true). A caller with its own signal handling passes false. */
  signalHooks?: boolean;
}

const ENSURE_HINT =
  'Run scripts/ensure-postgres.sh (as root) to install them, or set CINDER_TEST_POSTGRES_URL to a server to use.';

/** The directory holding initdb, pg_ctl and postgres, or null. */
export function findPostgresBinDir(): string | null {
  const hasServer = (dir: string) => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b)));
  const candidates: string[] = [];
  const debianRoot = '/usr/lib/postgresql';
  if (existsSync(debianRoot)) {
    const versions = readdirSync(debianRoot)
      .filter((v) => /^\d+(\.\d+)?$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => join(debianRoot, v, 'bin')));
  }
  try {
    candidates.push(
      execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(),
    );
  } catch {
    // no pg_config
  }
  return candidates.find((d) => d !== '' && hasServer(d)) ?? null;
}

interface RunAs {
  uid: number;
  gid: number;
}

/** As root: the postgres system user to run the server as. Otherwise null (run as ourselves). */
function serverUser(): RunAs | null {
  if (process.getuid?.() !== 0) return null;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      `Running as root, but there is no 'postgres' system user to run PostgreSQL as (initdb refuses root). ${ENSURE_HINT}`,
    );
  }
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

function shellQuote(args: string[]): string {
  return args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
}

/** The command line running bin as the server's user. */
function asServerUser(user: RunAs | null, bin: string, args: string[]): [string, string[]] {
  if (!user) return [bin, args];
  if (hasCommand('runuser')) return ['runuser', ['-u', 'postgres', '--', bin, ...args]];
  return ['su', ['postgres', '-s', '/bin/sh', '-c', shellQuote([bin, ...args])]];
}

function run(user: RunAs | null, cwd: string, bin: string, args: string[]): Promise<string> {
  const [cmd, argv] = asServerUser(user, bin, args);
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { cwd, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${[cmd, ...argv].join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/** Where the server's directory goes: /dev/shm when it has room (every test database is a copy
 *  of template1, and tmpfs makes that several times faster), else the temp dir. */
function scratchRoot(): string {
  const shm = '/dev/shm';
  try {
    const fs = statfsSync(shm);
    if (fs.bavail * fs.bsize >= 2 * 1024 ** 3) {
      accessSync(shm, constants.W_OK | constants.X_OK);
      return shm;
    }
  } catch {
    // no usable /dev/shm
  }
  return tmpdir();
}

/**
 * pg_ctl runs the server in a session of its own, so it outlives this process when no exit or
 * signal hook can run (SIGKILL). A watcher shell holds fd 3, a pipe from this process: when the pipe
 * ends it stops the server and deletes its folder. cancel() kills the watcher (stop() does the work).
 */
function startLifeline(user: RunAs | null, pgCtl: string, dataDir: string, dir: string): { cancel(): void } {
  const [cmd, argv] = asServerUser(user, pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop']);
  const watcher = spawn(
    'sh',
    ['-c', 'cat <&3 >/dev/null; "$@" >/dev/null 2>&1; rm -rf "$PG_SCRATCH_DIR"', 'pg-lifeline', cmd, ...argv],
    {
      stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      detached: true,
      cwd: '/',
      env: { ...process.env, PG_SCRATCH_DIR: dir },
    },
  );
  watcher.unref();
  (watcher.stdio[3] as Socket).unref();
  return {
    cancel: () => {
      try {
        process.kill(-watcher.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    },
  };
}

/** Servers still running, stopped synchronously if the process exits without stop(). */
const running = new Map<string, () => void>();
let exitHookInstalled = false;
let signalHooksInstalled = false;
function stopAllAtExit(): void {
  for (const stop of running.values()) stop();
}

export async function startLocalPostgres(options: LocalPostgresOptions = {}): Promise<LocalPostgres> {
  const binDir = findPostgresBinDir();
  if (!binDir) {
    throw new Error(
      `No PostgreSQL server binaries (initdb, pg_ctl, postgres) in /usr/lib/postgresql/*/bin or pg_config --bindir. ${ENSURE_HINT}`,
    );
  }
  const user = serverUser();
  const dir = mkdtempSync(join(scratchRoot(), 'cinder-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const pwFile = join(dir, 'pw');
  const password = randomBytes(12).toString('hex');
  writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (user) {
    chownSync(dir, user.uid, user.gid);
    chownSync(pwFile, user.uid, user.gid);
  }
  const pgCtl = join(binDir, 'pg_ctl');
  let started = false;
  const lifeline = startLifeline(user, pgCtl, dataDir, dir);
  const stopSync = () => {
    lifeline.cancel();
    if (started)
      spawnSync(...asServerUser(user, pgCtl, ['-D', dataDir, '-m', 'immediate', '-w', 'stop']), {
        cwd: dir,
        stdio: 'ignore',
      });
    started = false;
    rmSync(dir, { recursive: true, force: true });
    running.delete(dir);
  };
  running.set(dir, stopSync);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', stopAllAtExit);
  }
  if (options.signalHooks !== false && !signalHooksInstalled) {
    signalHooksInstalled = true;
    // pg_ctl runs the server in a session of its own: a Ctrl-C or SIGTERM of the tests does not
    // reach it, and a process killed by a signal runs no 'exit' hook. Stop it, then die of the signal.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        stopAllAtExit();
        process.kill(process.pid, signal);
      });
    }
  }

  try {
    await run(user, dir, join(binDir, 'initdb'), [
      '-D',
      dataDir,
      '-U',
      'postgres',
      `--pwfile=${pwFile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-sync',
    ]);
    // The port is free when chosen but may be taken before postgres binds it: try a few.
    let port = 0;
    for (let tries = 1; !started; tries++) {
      port = await freePort();
      const serverOptions = [
        `-p ${port}`,
        `-k ${shellQuote([dir])}`,
        "-c listen_addresses='127.0.0.1'",
        '-c fsync=off',
        '-c synchronous_commit=off',
        '-c full_page_writes=off',
        '-c max_connections=200',
      ].join(' ');
      try {
        await run(user, dir, pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', serverOptions, 'start']);
        started = true;
      } catch (err) {
        if (tries >= 3) {
          const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4000) : '';
          throw new Error(`${(err as Error).message}\nserver log:\n${log}`);
        }
      }
    }
    const serverUrl = (db: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${db}`;
    const admin = adminOf(serverUrl('postgres'));
    const url = await admin.createDatabase();
    const pid = () => Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const signalAll = (signal: NodeJS.Signals) => {
      const main = pid();
      // The postmaster first on SIGSTOP (no new backends), last on SIGCONT.
      const procs = [main, ...childrenOf(main)];
      for (const p of signal === 'SIGCONT' ? procs.reverse() : procs) process.kill(p, signal);
    };
    return {
      url,
      host: '127.0.0.1',
      port,
      user: 'postgres',
      password,
      dir,
      pid,
      pause: () => signalAll('SIGSTOP'),
      resume: () => signalAll('SIGCONT'),
      createDatabase: admin.createDatabase,
      stopSync,
      stop: async () => stopSync(), // dropping the databases is moot: the whole cluster goes
    };
  } catch (err) {
    stopSync();
    throw err;
  }
}

// ---- databases on a server ----

/** Creates databases with random names through the maintenance url; drops them again. */
export function adminOf(maintenanceUrl: string) {
  const created: string[] = [];
  const withClient = async <T>(fn: (c: Client) => Promise<T>): Promise<T> => {
    const client = new Client({ connectionString: maintenanceUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  const createDatabase = async (options: DatabaseOptions = {}): Promise<string> => {
    const name = `cinder_test_${randomBytes(6).toString('hex')}`;
    const locale = options.icuLocale
      ? ` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '${options.icuLocale.replace(/'/g, "''")}'`
      : '';
    await withClient((c) => c.query(`CREATE DATABASE "${name}"${locale}`));
    created.push(name);
    const url = new URL(maintenanceUrl);
    url.pathname = `/${name}`;
    return url.toString();
  };
  const dropAll = async (): Promise<void> => {
    if (created.length === 0) return;
    await withClient(async (c) => {
      for (const name of created.splice(0)) {
        try {
          await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`); // PostgreSQL 13+
        } catch (err) {
          if ((err as { code?: string }).code !== '42601') throw err;
          await c.query(`DROP DATABASE IF EXISTS "${name}"`);
        }
      }
    });
  };
  return { createDatabase, dropAll };
}
