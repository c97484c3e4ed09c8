import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  buildTemporalCli,
  cachedCliPath,
  findTemporalCli,
  resolveTemporalCli,
  TEMPORAL_CLI_VERSION,
} from '../../src/dev-server/temporal-cli';

function executable(file: string, body = '#!/bin/sh\nexit 0\n'): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, body, { mode: 0o755 });
  return file;
}

describe('Temporal CLI resolution', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-resolve-'));
    env = { PATH: path.join(dir, 'bin'), XDG_CACHE_HOME: path.join(dir, 'cache'), HOME: dir };
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('prefers TEMPORAL_CLI_PATH, then PATH, then the cache', () => {
    const cached = executable(cachedCliPath(env));
    assert.equal(
      cached,
      path.join(dir, 'cache', 'cinder-temporal', `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal'),
    );
    assert.deepEqual(findTemporalCli(env), { path: cached, source: 'cache' });
    const onPath = executable(path.join(dir, 'bin', 'temporal'));
    assert.deepEqual(findTemporalCli(env), { path: onPath, source: 'PATH' });
    const explicit = executable(path.join(dir, 'elsewhere', 'temporal'));
    assert.deepEqual(findTemporalCli({ ...env, TEMPORAL_CLI_PATH: explicit }), {
      path: explicit,
      source: 'TEMPORAL_CLI_PATH',
    });
  });

  it('names TEMPORAL_CLI_PATH when it points at nothing usable', () => {
    assert.throws(
      () => findTemporalCli({ ...env, TEMPORAL_CLI_PATH: path.join(dir, 'missing') }),
      /TEMPORAL_CLI_PATH=.*missing is not an executable file/,
    );
  });

  it('returns null when there is no CLI and no Go (the SDK download is the fallback)', async () => {
    fs.mkdirSync(path.join(dir, 'bin'));
    assert.equal(await resolveTemporalCli(() => undefined, env), null);
  });

  it('two concurrent first runs build once into the cache, and the result is whole', async () => {
    const calls = path.join(dir, 'go-calls');
    // A stand-in for `go`: records each install, takes a moment, writes the binary into $GOBIN.
    executable(
      path.join(dir, 'bin', 'go'),
      `#!/bin/sh\nif [ "$1" = version ]; then echo "go version test"; exit 0; fi\necho "$@" >> "${calls}"\nsleep 1\nprintf '#!/bin/sh\\necho built\\n' > "$GOBIN/temporal"\nchmod +x "$GOBIN/temporal"\n`,
    );
    env.PATH = `${path.join(dir, 'bin')}:/usr/bin:/bin`;
    const lines: string[] = [];
    const [a, b] = await Promise.all([
      buildTemporalCli((l) => lines.push(l), env),
      buildTemporalCli((l) => lines.push(l), env),
    ]);
    assert.equal(a, cachedCliPath(env));
    assert.equal(b, a);
    assert.deepEqual(fs.readFileSync(calls, 'utf8').trim().split('\n'), [
      `install github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`,
    ]);
    assert.equal(fs.readFileSync(a, 'utf8'), '#!/bin/sh\necho built\n');
    assert.ok(lines.some((l) => l.includes('building the Temporal CLI')));
    // No lock or build folder is left behind.
    assert.deepEqual(fs.readdirSync(path.join(dir, 'cache', 'cinder-temporal')).sort(), [
      `temporal-cli-${TEMPORAL_CLI_VERSION}`,
    ]);
    assert.deepEqual(await resolveTemporalCli(() => undefined, env), { path: a, source: 'cache' });
  });
});
