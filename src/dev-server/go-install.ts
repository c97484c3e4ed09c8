import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The per-machine cache every built Go tool goes into: $XDG_CACHE_HOME/cinder-temporal. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'cinder-temporal');
}

export function isExecutable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function onPath(name: string, env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

export function goAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  return spawnSync('go', ['version'], { env, stdio: 'ignore' }).status === 0;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface GoInstallSpec {
  /** What is built, for progress lines: 'the Temporal CLI v1.5.1'. */
  what: string;
  /** The cache directory the binaries end up in (one per tool and version). */
  dir: string;
  /** `module/path/cmd/x@version` → the file name it gets in dir. */
  packages: Array<{ pkg: string; file: string }>;
}

/** Holds the lock directory next to dir while fn runs. Two concurrent first runs must not build
 *  into the same place; a lock older than 30 minutes is from a dead build and is taken over. */
async function withLock<T>(lock: string, what: string, progress: (l: string) => void, fn: () => Promise<T>) {
  const started = Date.now();
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const age = Date.now() - (fs.statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 30 * 60_000) {
        fs.rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() - started < 1000) progress(`waiting for another process building ${what} (${lock})`);
      await sleep(2000);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function goInstall(pkgs: string[], gobin: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn('go', ['install', ...pkgs], {
      env: { ...env, GOBIN: gobin, CGO_ENABLED: env.CGO_ENABLED ?? '0' },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`go install ${pkgs.join(' ')} failed (${signal ?? code})`)),
    );
  });
}

/**
 * Builds spec.packages with one `go install` into a directory beside spec.dir, renames the files to
 * their cache names there, then renames the whole directory in: a reader sees all the binaries or
 * none, never half a file. Progress lines go to `progress` (minutes, once per machine).
 */
export async function goInstallIntoCache(
  spec: GoInstallSpec,
  progress: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const complete = () => spec.packages.every((p) => isExecutable(path.join(spec.dir, p.file)));
  if (complete()) return spec.dir;
  const parent = path.dirname(spec.dir);
  fs.mkdirSync(parent, { recursive: true });
  const started = Date.now();
  return withLock(`${spec.dir}.lock`, spec.what, progress, async () => {
    if (complete()) return spec.dir;
    const gobin = fs.mkdtempSync(path.join(parent, '.build-'));
    try {
      progress(`building ${spec.what} with go install into ${spec.dir} (a few minutes, once per machine)`);
      const ticker = setInterval(
        () => progress(`  still building ${spec.what} (${Math.round((Date.now() - started) / 1000)}s)`),
        30_000,
      );
      try {
        await goInstall(
          spec.packages.map((p) => p.pkg),
          gobin,
          env,
        );
      } finally {
        clearInterval(ticker);
      }
      for (const p of spec.packages) {
        const built = path.join(gobin, path.basename(p.pkg.split('@')[0]!));
        if (built !== path.join(gobin, p.file)) fs.renameSync(built, path.join(gobin, p.file));
      }
      // An incomplete directory from an older layout or a crash: ours replaces it (we hold the lock).
      fs.rmSync(spec.dir, { recursive: true, force: true });
      fs.chmodSync(gobin, 0o755);
      fs.renameSync(gobin, spec.dir);
      progress(`built ${spec.what} in ${Math.round((Date.now() - started) / 1000)}s: ${spec.dir}`);
      return spec.dir;
    } finally {
      fs.rmSync(gobin, { recursive: true, force: true });
    }
  });
}
