/**
 * `cinder-temporal cluster` as a person runs it: it prints the nodes, PostgreSQL, the workers and a
 * file to source; a create through that file ends `available`; Ctrl-C (SIGINT) stops everything
 * it printed and removes its folder. (The harness under it: temporalCluster, cluster.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { TEMPORAL_SERVER_VERSION } from '../../src/dev-server/temporal-server';
import { BIN, ROOT, runCli, runProcess } from '../support/run-process';
import { processRunning } from '../../src/dev-server/procfs';

describe('cinder-temporal cluster', { timeout: 240_000 }, () => {
  let child: ChildProcess | null = null;
  // A failed test still stops the cluster the way a person does (Ctrl-C), then for good.
  after(async () => {
    if (!child || child.exitCode !== null) return;
    const gone = new Promise((r) => child!.once('exit', r));
    child.kill('SIGINT');
    const timer = setTimeout(() => child!.kill('SIGKILL'), 30_000);
    await gone;
    clearTimeout(timer);
  });

  it('ensure-temporal-server prints the server and SQL tool it found, each runnable at the pinned version', async () => {
    const r = await runCli(['ensure-temporal-server'], process.env, 600_000);
    assert.equal(r.code, 0, r.stderr);
    const m = /^(\S+) (\S+) \((TEMPORAL_SERVER_PATH|PATH|cache|go install)\)$/.exec(r.stdout.trim());
    assert.ok(m, r.stdout);
    for (const bin of [m[1]!, m[2]!]) {
      const v = await runProcess(bin, ['--version'], process.env, 30_000);
      assert.match(v.stdout, new RegExp(`version ${TEMPORAL_SERVER_VERSION.slice(1).replace(/\./g, '\\.')}`), bin);
    }
  });

  it('refuses a bad option before starting anything, naming it', async () => {
    for (const [args, message] of [
      [['--bogus'], /unknown option --bogus/],
      [['--ui-port', '0'], /--ui-port: must be a port number \(1-65535\), got 0/],
      [['--ui-port'], /--ui-port: must be a port number \(1-65535\), got nothing/],
    ] as const) {
      const r = await runCli(['cluster', ...args], process.env, 30_000);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stdout + r.stderr, /PostgreSQL on/, 'nothing started');
    }
  });

  it('starts two nodes and the workers, serves a create, and Ctrl-C stops every process it printed', async () => {
    child = spawn(process.execPath, [BIN, 'cluster'], {
      cwd: ROOT,
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    const deadline = Date.now() + 180_000;
    while (!stdout.includes('Ctrl-C stops everything.')) {
      if (child.exitCode !== null)
        assert.fail(`cluster exited (${child.exitCode}) before it was up:\n${stdout}${stderr}`);
      if (Date.now() > deadline) assert.fail(`cluster not up in 180 s:\n${stdout}${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.match(stdout, /Temporal node 1: 127\.0\.0\.1:\d+/);
    assert.match(stdout, /Temporal node 2: 127\.0\.0\.1:\d+/);
    assert.equal((stdout.match(/worker scheduler-\d: pid/g) ?? []).length, 2, 'two scheduler workers');
    assert.doesNotMatch(stdout + stderr, /postgres:\/\/[^\s]*:[^\s@]+@/, 'no database password printed');
    const folder = /\(folder (\S+)\)/.exec(stdout)![1]!;
    const envFile = /In another shell: \. (\S+)/.exec(stdout)![1]!;
    const pids = [...stdout.matchAll(/\bpids? ((?:\d+ ?)+)/g)].flatMap((m) => m[1]!.trim().split(' ').map(Number));
    // Each node: its shell, the server, the lifeline's watcher; then PostgreSQL and four workers.
    assert.ok(pids.length >= 2 * 3 + 1 + 4, `every process printed: ${pids.join(' ')}`);

    const clusterEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const [, k, v] of fs.readFileSync(envFile, 'utf8').matchAll(/^export (\w+)='([^']*)'$/gm)) clusterEnv[k!] = v;
    const create = await runCli(['create', '--size', '1', '--wait', '--json'], clusterEnv);
    assert.equal(create.code, 0, create.stderr);
    assert.equal(JSON.parse(create.stdout).volume.status, 'available');

    child.kill('SIGINT');
    assert.equal(await exited, 0, stderr);
    assert.match(stdout, /SIGINT: stopping .*\n.*stopped\./);
    assert.deepEqual(
      pids.filter((p) => processRunning(p)),
      [],
      'no process left',
    );
    assert.equal(fs.existsSync(folder), false, 'its folder is removed');
  });
});
