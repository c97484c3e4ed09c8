import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  buildTemporalServer,
  cachedServerDir,
  findTemporalServer,
  resolveTemporalServer,
  TEMPORAL_SERVER_VERSION,
} from '../../src/dev-server/temporal-server';

function executable(file: string, body = '#!/bin/sh\nexit 0\n'): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, body, { mode: 0o755 });
  return file;
}

describe('Temporal server resolution', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'server-resolve-'));
    env = { PATH: path.join(dir, 'bin'), XDG_CACHE_HOME: path.join(dir, 'cache'), HOME: dir };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prefers TEMPORAL_SERVER_PATH (its SQL tool beside it or named), then PATH, then the cache', () => {
    const cache = cachedServerDir(env);
    assert.equal(cache, path.join(dir, 'cache', 'cinder-temporal', `temporal-server-${TEMPORAL_SERVER_VERSION}`));
    executable(path.join(cache, 'temporal-server'));
    executable(path.join(cache, 'temporal-sql-tool'));
    assert.deepEqual(findTemporalServer(env), {
      server: path.join(cache, 'temporal-server'),
      sqlTool: path.join(cache, 'temporal-sql-tool'),
      source: 'cache',
    });
    // Only the server on PATH is not enough: both or the cache.
    const onPath = executable(path.join(dir, 'bin', 'temporal-server'));
    assert.equal(findTemporalServer(env)?.source, 'cache');
    const toolOnPath = executable(path.join(dir, 'bin', 'temporal-sql-tool'));
    assert.deepEqual(findTemporalServer(env), { server: onPath, sqlTool: toolOnPath, source: 'PATH' });
    // go install's own names in one folder (GOBIN), as a user may point at it.
    const server = executable(path.join(dir, 'gobin', 'server'));
    const sql = executable(path.join(dir, 'gobin', 'sql'));
    assert.deepEqual(findTemporalServer({ ...env, TEMPORAL_SERVER_PATH: server }), {
      server,
      sqlTool: sql,
      source: 'TEMPORAL_SERVER_PATH',
    });
    const named = executable(path.join(dir, 'tools', 'my-sql-tool'));
    assert.equal(
      findTemporalServer({ ...env, TEMPORAL_SERVER_PATH: server, TEMPORAL_SQL_TOOL_PATH: named })?.sqlTool,
      named,
    );
  });

  it('names the variable that points at nothing usable', () => {
    assert.throws(
      () => findTemporalServer({ ...env, TEMPORAL_SERVER_PATH: path.join(dir, 'missing') }),
      /TEMPORAL_SERVER_PATH=.*missing is not an executable file/,
    );
    const lone = executable(path.join(dir, 'lone', 'temporal-server'));
    assert.throws(
      () => findTemporalServer({ ...env, TEMPORAL_SERVER_PATH: lone }),
      /no temporal-sql-tool \(or sql\) beside it; set TEMPORAL_SQL_TOOL_PATH/,
    );
    assert.throws(
      () => findTemporalServer({ ...env, TEMPORAL_SERVER_PATH: lone, TEMPORAL_SQL_TOOL_PATH: path.join(dir, 'nope') }),
      /TEMPORAL_SQL_TOOL_PATH=.*nope is not an executable file/,
    );
  });

  it('without a binary or Go, says what to set', async () => {
    fs.mkdirSync(path.join(dir, 'bin'));
    await assert.rejects(
      resolveTemporalServer(() => undefined, env),
      /TEMPORAL_SERVER_PATH.*no Go toolchain/,
    );
  });

  it('two concurrent first runs build both binaries once, with one go install, and rename them in whole', async () => {
    const calls = path.join(dir, 'go-calls');
    // A stand-in for `go`: records each install, takes a moment, writes go install's names into $GOBIN.
    executable(
      path.join(dir, 'bin', 'go'),
      [
        '#!/bin/sh',
        'if [ "$1" = version ]; then echo "go version test"; exit 0; fi',
        `echo "$@" >> "${calls}"`,
        'sleep 1',
        `printf '#!/bin/sh\\necho server\\n' > "$GOBIN/server"; printf '#!/bin/sh\\necho sql\\n' > "$GOBIN/sql"`,
        'chmod +x "$GOBIN/server" "$GOBIN/sql"',
        '',
      ].join('\n'),
    );
    env.PATH = `${path.join(dir, 'bin')}:/usr/bin:/bin`;
    const lines: string[] = [];
    const [a, b] = await Promise.all([
      buildTemporalServer((l) => lines.push(l), env),
      buildTemporalServer((l) => lines.push(l), env),
    ]);
    const cache = cachedServerDir(env);
    assert.deepEqual(a, {
      server: path.join(cache, 'temporal-server'),
      sqlTool: path.join(cache, 'temporal-sql-tool'),
      source: 'go install',
    });
    assert.deepEqual(b, a);
    assert.deepEqual(fs.readFileSync(calls, 'utf8').trim().split('\n'), [
      `install go.temporal.io/server/cmd/server@${TEMPORAL_SERVER_VERSION} go.temporal.io/server/cmd/tools/sql@${TEMPORAL_SERVER_VERSION}`,
    ]);
    assert.equal(fs.readFileSync(a.server, 'utf8'), '#!/bin/sh\necho server\n');
    assert.equal(fs.readFileSync(a.sqlTool, 'utf8'), '#!/bin/sh\necho sql\n');
    assert.deepEqual(fs.readdirSync(cache).sort(), ['temporal-server', 'temporal-sql-tool']);
    assert.ok(lines.some((l) => l.includes(`building the Temporal server ${TEMPORAL_SERVER_VERSION}`)));
    // No lock or build folder is left behind.
    assert.deepEqual(fs.readdirSync(path.dirname(cache)), [path.basename(cache)]);
    assert.equal((await resolveTemporalServer(() => undefined, env)).source, 'cache');
  });

  it('a failed go install leaves no cache entry, lock or build folder', async () => {
    executable(path.join(dir, 'bin', 'go'), '#!/bin/sh\nif [ "$1" = version ]; then exit 0; fi\nexit 1\n');
    env.PATH = `${path.join(dir, 'bin')}:/usr/bin:/bin`;
    await assert.rejects(
      buildTemporalServer(() => undefined, env),
      /go install .* failed \(1\)/,
    );
    assert.deepEqual(fs.readdirSync(path.join(dir, 'cache', 'cinder-temporal')), []);
  });
});
