import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The one place the Temporal CLI version is pinned. v1.5.1's go.mod has no `replace`
 *  directives, so `go install` builds it from the Go module proxy. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

export type CliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go install';

export interface ResolvedCli {
  path: string;
  source: CliSource;
}

export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'cinder-temporal');
}

export function cachedCliPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal');
}

function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/** Finds a Temporal CLI without building one: TEMPORAL_CLI_PATH, then PATH, then the cache. */
export function findTemporalCli(env: NodeJS.ProcessEnv = process.env): ResolvedCli | null {
  if (env.TEMPORAL_CLI_PATH) {
    if (!isExecutable(env.TEMPORAL_CLI_PATH)) {
      throw new Error(`TEMPORAL_CLI_PATH=${env.TEMPORAL_CLI_PATH} is not an executable file`);
    }
    return { path: env.TEMPORAL_CLI_PATH, source: 'TEMPORAL_CLI_PATH' };
  }
  const fromPath = onPath('temporal', env);
  if (fromPath) return { path: fromPath, source: 'PATH' };
  const cached = cachedCliPath(env);
  if (isExecutable(cached)) return { path: cached, source: 'cache' };
  return null;
}

export function goAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  return spawnSync('go', ['version'], { env, stdio: 'ignore' }).status === 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds the pinned CLI into the cache with `go install`. A lock directory keeps two concurrent
 * first runs from building into the same place; the binary is built aside and renamed in, so a
 * reader never sees half a file. Progress goes to `progress` (minutes, once per machine).
 */
export async function buildTemporalCli(
  progress: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const target = cachedCliPath(env);
  const dir = path.dirname(target);
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  const started = Date.now();
  for (;;) {
    if (isExecutable(target)) return target;
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Another process is building; a lock older than 30 minutes is from a dead build.
      const age = Date.now() - fs.statSync(lock, { throwIfNoEntry: false })!.mtimeMs;
      if (Number.isFinite(age) && age > 30 * 60_000) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started < 1000) progress(`waiting for another process building the Temporal CLI (${lock})`);
      await sleep(2000);
    }
  }
  try {
    if (isExecutable(target)) return target;
    const gobin = fs.mkdtempSync(path.join(path.dirname(dir), '.build-'));
    progress(
      `building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install into ${dir} (a few minutes, once per machine)`,
    );
    const ticker = setInterval(
      () => progress(`  still building the Temporal CLI (${Math.round((Date.now() - started) / 1000)}s)`),
      30_000,
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const child = spawn('go', ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], {
          env: { ...env, GOBIN: gobin, CGO_ENABLED: env.CGO_ENABLED ?? '0' },
          stdio: ['ignore', 'inherit', 'inherit'],
        });
        child.on('error', reject);
        child.on('exit', (code, signal) =>
          code === 0
            ? resolve()
            : reject(new Error(`go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION} failed (${signal ?? code})`)),
        );
      });
    } finally {
      clearInterval(ticker);
    }
    fs.mkdirSync(dir, { recursive: true });
    fs.renameSync(path.join(gobin, 'temporal'), target);
    fs.rmSync(gobin, { recursive: true, force: true });
    progress(`built the Temporal CLI in ${Math.round((Date.now() - started) / 1000)}s: ${target}`);
    return target;
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

/** Resolution order: TEMPORAL_CLI_PATH, PATH, cache, go install; null when none applies (the
 *  caller then falls back to the SDK's own download). */
export async function resolveTemporalCli(
  progress?: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedCli | null> {
  const found = findTemporalCli(env);
  if (found) return found;
  if (!goAvailable(env)) return null;
  return { path: await buildTemporalCli(progress, env), source: 'go install' };
}
