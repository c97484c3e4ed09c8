/**
 * No secret in any output: workers on a PostgreSQL database whose URL has a password, connecting to
 * Temporal with an API key, logging at debug with the SDK at DEBUG, and the CLI and --check-config
 * run with the same settings (and a `?password=` URL, and a database that refuses the connection).
 * Every worker log line (the files hold stdout and stderr) and every CLI output is searched for the
 * password and the key, as written and percent-decoded.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { workerCommand } from '../../src/dev-server/worker-process';
import { startCluster, type Cluster } from '../support/cluster';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

const ROOT = path.resolve(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'cinder-temporal.js');
const WORKER = workerCommand(path.join(ROOT, 'src', 'dev-server', 'worker-process.ts'));
// Distinctive, so a match cannot be chance; the second has characters a URL must percent-encode.
const API_KEY = `apikey-${randomBytes(12).toString('hex')}`;
const PARAM_PASSWORD = `pw-${randomBytes(8).toString('hex')}`;
const ODD_PASSWORD = `odd/${randomBytes(6).toString('hex')}@#`;

interface Output {
  what: string;
  code: number | null;
  text: string;
}

function run(what: string, args: string[], env: NodeJS.ProcessEnv): Promise<Output> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.stderr.on('data', (d) => (text += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ what, code, text });
    });
  });
}

describe('secrets stay out of every log line and output', { timeout: 300_000 }, () => {
  let pg: TestPostgres;
  let c: Cluster;
  let dbPassword: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    pg = await startTestPostgres();
    const url = await pg.createDatabase();
    dbPassword = decodeURIComponent(new URL(url).password);
    assert.ok(dbPassword.length >= 8, 'the test database URL carries a password');
    c = await startCluster({
      backends: [{ name: 'A' }],
      databaseUrl: url,
      // The dev server ignores the key; TLS off because it serves plaintext. The SDK still sends it.
      env: {
        TEMPORAL_API_KEY: API_KEY,
        TEMPORAL_TLS: 'false',
        CINDER_LOG_LEVEL: 'debug',
        CINDER_SDK_LOG_LEVEL: 'DEBUG',
      },
    });
    env = { ...c.env, CINDER_PROJECT_ID: `project-${c.id}` };
  });
  after(async () => {
    await c?.stopAfterLeakCheck();
    await pg?.stop();
  });

  it('a create through the CLI, --check-config, and refused databases print neither the password nor the key', async () => {
    const outputs: Output[] = [];
    const created = await run(
      'cli create',
      [BIN, 'create', '--size', '1', '--name', 'secret-check', '--json', '--wait'],
      env,
    );
    assert.equal(created.code, 0, created.text);
    const id = (JSON.parse(created.text.slice(created.text.indexOf('{'))) as { volume: { id: string } }).volume.id;
    outputs.push(created);
    outputs.push(await run('cli show', [BIN, 'show', id], env));
    outputs.push(await run('cli list', [BIN, 'list', '--json'], env));
    outputs.push(await run('cli backends', [BIN, 'backends'], env));
    outputs.push(await run('worker --check-config', [...WORKER, '--check-config', 'all'], env));
    // The forms the old worker redaction missed: a password parameter, and an encoded password.
    const paramUrl = `postgres://cinder@127.0.0.1:1/cinder?password=${PARAM_PASSWORD}`;
    const oddUrl = `postgres://cinder:${encodeURIComponent(ODD_PASSWORD)}@127.0.0.1:1/cinder`;
    outputs.push(
      await run('worker --check-config (password=)', [...WORKER, '--check-config', 'all'], {
        ...env,
        CINDER_DATABASE_URL: paramUrl,
      }),
    );
    // A database that refuses the connection: the error names the URL, without its password.
    const refusedWorker = await run('worker, database refused', [...WORKER, 'volume', '--backend', c.host('A')], {
      ...env,
      CINDER_DATABASE_URL: oddUrl,
    });
    assert.notEqual(refusedWorker.code, 0, refusedWorker.text);
    outputs.push(refusedWorker);
    const refusedCli = await run('cli list, database refused', [BIN, 'list'], {
      ...env,
      CINDER_DATABASE_URL: paramUrl,
    });
    assert.notEqual(refusedCli.code, 0);
    outputs.push(refusedCli);

    const logs = fs.readdirSync(c.dir).filter((f) => f.endsWith('.log'));
    assert.ok(logs.length >= 2, `worker logs: ${logs.join(', ')}`);
    for (const f of logs)
      outputs.push({ what: `log ${f}`, code: null, text: fs.readFileSync(path.join(c.dir, f), 'utf8') });

    // The outputs are real: the workers logged the redacted URL, the create ran at debug level.
    const running = c
      .worker('scheduler')
      .logs()
      .find((l) => l.event === 'worker.running');
    assert.match(String(running?.database), /^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\//);
    assert.ok(outputs.find((o) => o.what === 'worker --check-config (password=)')!.text.includes('password=***'));
    assert.match(refusedWorker.text, /postgres:\/\/cinder:\*\*\*@127\.0\.0\.1:1\/cinder/);
    assert.ok(
      logs.some((f) => fs.readFileSync(path.join(c.dir, f), 'utf8').includes('"level":20')),
      'debug lines were written',
    );

    const secrets = [
      dbPassword,
      encodeURIComponent(dbPassword),
      API_KEY,
      PARAM_PASSWORD,
      ODD_PASSWORD,
      encodeURIComponent(ODD_PASSWORD),
    ];
    for (const o of outputs) {
      for (const secret of secrets) {
        const at = o.text.indexOf(secret);
        assert.equal(
          at,
          -1,
          `${o.what} shows a secret: …${o.text.slice(Math.max(0, at - 80), at + secret.length + 20)}…`,
        );
      }
    }
  });
});
