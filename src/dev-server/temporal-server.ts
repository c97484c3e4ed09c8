import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { cacheDir, goAvailable, goInstallIntoCache, isExecutable, onPath } from './go-install';

/** The one place the Temporal server version is pinned: the server the pinned CLI (v1.5.1)
 *  embeds. Its go.mod has no `replace` directive, so `go install` builds it from the module proxy. */
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';

export type ServerSource = 'TEMPORAL_SERVER_PATH' | 'PATH' | 'cache' | 'go install';

export interface ResolvedServer {
  /** temporal-server: every service (frontend, history, matching, worker) in one binary. */
  server: string;
  /** temporal-sql-tool: creates the databases and applies the versioned schemas. */
  sqlTool: string;
  source: ServerSource;
}

export function cachedServerDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), `temporal-server-${TEMPORAL_SERVER_VERSION}`);
}

/** The SQL tool beside an explicit server binary: TEMPORAL_SQL_TOOL_PATH, else temporal-sql-tool
 *  or `sql` (go install's name) in the same folder. */
function sqlToolBeside(server: string, env: NodeJS.ProcessEnv): string {
  if (env.TEMPORAL_SQL_TOOL_PATH) {
    if (!isExecutable(env.TEMPORAL_SQL_TOOL_PATH))
      throw new Error(`TEMPORAL_SQL_TOOL_PATH=${env.TEMPORAL_SQL_TOOL_PATH} is not an executable file`);
    return env.TEMPORAL_SQL_TOOL_PATH;
  }
  const found = ['temporal-sql-tool', 'sql'].map((f) => path.join(path.dirname(server), f)).find(isExecutable);
  if (!found)
    throw new Error(
      `TEMPORAL_SERVER_PATH=${server}: no temporal-sql-tool (or sql) beside it; set TEMPORAL_SQL_TOOL_PATH`,
    );
  return found;
}

/** Finds the server and its SQL tool without building: TEMPORAL_SERVER_PATH, then both on PATH,
 *  then the cache. */
export function findTemporalServer(env: NodeJS.ProcessEnv = process.env): ResolvedServer | null {
  if (env.TEMPORAL_SERVER_PATH) {
    if (!isExecutable(env.TEMPORAL_SERVER_PATH))
      throw new Error(`TEMPORAL_SERVER_PATH=${env.TEMPORAL_SERVER_PATH} is not an executable file`);
    const server = env.TEMPORAL_SERVER_PATH;
    return { server, sqlTool: sqlToolBeside(server, env), source: 'TEMPORAL_SERVER_PATH' };
  }
  const server = onPath('temporal-server', env);
  const sqlTool = onPath('temporal-sql-tool', env);
  if (server && sqlTool) return { server, sqlTool, source: 'PATH' };
  const dir = cachedServerDir(env);
  const cached = { server: path.join(dir, 'temporal-server'), sqlTool: path.join(dir, 'temporal-sql-tool') };
  if (isExecutable(cached.server) && isExecutable(cached.sqlTool)) return { ...cached, source: 'cache' };
  return null;
}

/** Builds cmd/server and cmd/tools/sql with one `go install` into the cache (locked, built aside
 *  and renamed in, with progress lines; the Go module and build caches are the CLI's). */
export async function buildTemporalServer(
  progress?: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedServer> {
  const dir = await goInstallIntoCache(
    {
      what: `the Temporal server ${TEMPORAL_SERVER_VERSION}`,
      dir: cachedServerDir(env),
      packages: [
        { pkg: `${TEMPORAL_SERVER_MODULE}/cmd/server@${TEMPORAL_SERVER_VERSION}`, file: 'temporal-server' },
        { pkg: `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`, file: 'temporal-sql-tool' },
      ],
    },
    progress,
    env,
  );
  return {
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
    source: 'go install',
  };
}

/** TEMPORAL_SERVER_PATH, PATH, cache, then go install; unlike the CLI there is no download to
 *  fall back on, so without Go this throws saying what to set. */
export async function resolveTemporalServer(
  progress?: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedServer> {
  const found = findTemporalServer(env);
  if (found) return found;
  if (!goAvailable(env))
    throw new Error(
      `no Temporal server ${TEMPORAL_SERVER_VERSION} (TEMPORAL_SERVER_PATH, temporal-server and temporal-sql-tool on PATH, or ${cachedServerDir(env)}) and no Go toolchain to build it`,
    );
  return buildTemporalServer(progress, env);
}

/** The PostgreSQL schema folder of the pinned server module (`schema/postgresql/v12`), read from the
 *  Go module cache at run time (`go mod download` fetches the module if the cache lacks it), or
 *  TEMPORAL_SCHEMA_DIR. */
export function postgresSchemaDir(env: NodeJS.ProcessEnv = process.env): string {
  let dir = env.TEMPORAL_SCHEMA_DIR;
  if (!dir) {
    const res = spawnSync('go', ['mod', 'download', '-json', `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`], {
      env,
      cwd: os.tmpdir(),
      encoding: 'utf8',
      timeout: 300_000,
    });
    if (res.status !== 0)
      throw new Error(
        `cannot find the schema of ${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION} (go mod download: ${res.error?.message ?? res.stderr.trim()}); set TEMPORAL_SCHEMA_DIR to its schema/postgresql/v12 folder`,
      );
    dir = path.join((JSON.parse(res.stdout) as { Dir: string }).Dir, 'schema', 'postgresql', 'v12');
  }
  for (const sub of ['temporal/versioned', 'visibility/versioned']) {
    if (!fs.existsSync(path.join(dir, sub))) throw new Error(`${dir} has no ${sub} folder (TEMPORAL_SCHEMA_DIR)`);
  }
  return dir;
}

/** The Temporal UI server the pinned CLI embeds (`go version -m temporal | grep ui-server`); its
 *  go.mod has no `replace` either and the module carries the built UI, so it builds the same way. */
export const TEMPORAL_UI_MODULE = 'github.com/temporalio/ui-server/v2';
export const TEMPORAL_UI_VERSION = 'v2.42.1';

export function cachedUiServerPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheDir(env), `temporal-ui-server-${TEMPORAL_UI_VERSION}`, 'temporal-ui-server');
}

/** TEMPORAL_UI_SERVER_PATH, temporal-ui-server on PATH, the cache, then go install. */
export async function resolveTemporalUiServer(
  progress?: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (env.TEMPORAL_UI_SERVER_PATH) {
    if (!isExecutable(env.TEMPORAL_UI_SERVER_PATH))
      throw new Error(`TEMPORAL_UI_SERVER_PATH=${env.TEMPORAL_UI_SERVER_PATH} is not an executable file`);
    return env.TEMPORAL_UI_SERVER_PATH;
  }
  const found =
    onPath('temporal-ui-server', env) ?? (isExecutable(cachedUiServerPath(env)) ? cachedUiServerPath(env) : null);
  if (found) return found;
  if (!goAvailable(env))
    throw new Error(
      `no Temporal UI server ${TEMPORAL_UI_VERSION} (TEMPORAL_UI_SERVER_PATH, PATH, cache) and no Go toolchain`,
    );
  const dir = await goInstallIntoCache(
    {
      what: `the Temporal UI server ${TEMPORAL_UI_VERSION}`,
      dir: path.dirname(cachedUiServerPath(env)),
      packages: [{ pkg: `${TEMPORAL_UI_MODULE}/cmd/server@${TEMPORAL_UI_VERSION}`, file: 'temporal-ui-server' }],
    },
    progress,
    env,
  );
  return path.join(dir, 'temporal-ui-server');
}
