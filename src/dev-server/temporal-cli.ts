import path from 'node:path';
import { cacheDir, goAvailable, goInstallIntoCache, isExecutable, onPath } from './go-install';

/** The one place the Temporal CLI version is pinned. v1.5.1's go.mod has no `replace`
 *  directives, so `go install` builds it from the Go module proxy. */
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

export type CliSource = 'TEMPORAL_CLI_PATH' | 'PATH' | 'cache' | 'go install';

export interface ResolvedCli {
  path: string;
  source: CliSource;
}

export { cacheDir, goAvailable };

export function cachedCliPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal');
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

/** Builds the pinned CLI into the cache with `go install` (see goInstallIntoCache: locked, built
 *  aside and renamed in, progress lines). */
export async function buildTemporalCli(
  progress?: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  const target = cachedCliPath(env);
  await goInstallIntoCache(
    {
      what: `the Temporal CLI ${TEMPORAL_CLI_VERSION}`,
      dir: path.dirname(target),
      packages: [{ pkg: `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`, file: 'temporal' }],
    },
    progress,
    env,
  );
  return target;
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
