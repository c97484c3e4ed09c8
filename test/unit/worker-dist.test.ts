/**
 * The production start path, in a production install: a temp copy holding only package.json, bin/,
 * the `tsc -p tsconfig.build.json` output and the packages `npm ci --omit=dev` installs (the
 * lockfile's production tree, as `npm ls --omit=dev` lists it, hard-linked from node_modules; no
 * tsx, no typescript, no src/). There, under plain node:
 * - `node dist/worker.js --help` and `--check-config all` (which loads every module a start loads
 *   and resolves the workflow code the way a start does);
 * - `node dist/build-bundle.js` builds the workflow bundle;
 * - `node dist/worker.js all` (started by the compiled WorkerProcess) serves a create that the
 *   compiled CLI (`node bin/cinder-temporal.js create --wait`) starts on the test's Temporal server;
 * - SIGTERM stops it with exit 0.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { ENV_SETTINGS } from '../../src/config/config';
import { freePort, startDevServer, type RunningDevServer } from '../../src/dev-server/dev-server';
import type { WorkerProcess as WorkerProcessType } from '../../src/dev-server/worker-process';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const DEV_ONLY = ['tsx', 'typescript', 'esbuild', '@temporalio/testing', 'eslint', 'prettier', 'playwright-core'];

/** The environment minus every variable the configuration reads, so the check sees defaults. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [...Object.keys(ENV_SETTINGS), 'CINDER_CONFIG']) delete env[name];
  return { ...env, HOME: os.tmpdir(), ...extra };
}

/** Copies a directory as hard links (cheap, same file system), or plainly across file systems. */
async function linkCopy(from: string, to: string): Promise<void> {
  fs.mkdirSync(path.dirname(to), { recursive: true });
  try {
    await run('cp', ['-al', from, to]);
  } catch {
    fs.cpSync(from, to, { recursive: true });
  }
}

/** A production install next to the compiled code: exactly the packages npm ci --omit=dev keeps. */
async function productionTree(dir: string): Promise<void> {
  const { stdout } = await run('npm', ['ls', '--omit=dev', '--all', '--parseable'], {
    cwd: ROOT,
    maxBuffer: 16 * 1024 * 1024,
  });
  const modules = path.join(ROOT, 'node_modules') + path.sep;
  const paths = stdout
    .split('\n')
    .filter((p) => p.startsWith(modules))
    .sort();
  const copied: string[] = [];
  for (const p of paths) {
    if (copied.some((c) => p.startsWith(c + path.sep))) continue; // inside a package already copied
    await linkCopy(p, path.join(dir, 'node_modules', p.slice(modules.length)));
    copied.push(p);
  }
  for (const f of ['package.json', 'package-lock.json']) fs.copyFileSync(path.join(ROOT, f), path.join(dir, f));
  fs.cpSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'), { recursive: true });
}

describe('compiled worker (dist/worker.js) in a production install', { timeout: 300_000 }, () => {
  const PROD = fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-prod-'));
  const DIST = path.join(PROD, 'dist');
  let server: RunningDevServer | null = null;
  let address: string;
  let worker: WorkerProcessType | null = null;

  before(async () => {
    await productionTree(PROD);
    const tsc = require.resolve('typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', DIST], {
      cwd: ROOT,
      maxBuffer: 16 * 1024 * 1024,
    }).catch((err) => {
      assert.fail(`tsc -p tsconfig.build.json failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    if (process.env.TEMPORAL_ADDRESS) address = process.env.TEMPORAL_ADDRESS;
    else {
      server = await startDevServer({ port: await freePort(), ui: false, reuseExisting: false });
      address = server.address;
    }
  });
  after(async () => {
    await worker?.stop('SIGKILL');
    await server?.stop();
    fs.rmSync(PROD, { recursive: true, force: true });
  });

  it('has no dev packages and no sources', () => {
    for (const name of DEV_ONLY)
      assert.ok(!fs.existsSync(path.join(PROD, 'node_modules', name)), `${name} is not installed`);
    assert.ok(!fs.existsSync(path.join(PROD, 'src')));
    assert.ok(fs.existsSync(path.join(PROD, 'node_modules', '@temporalio', 'worker')));
  });

  it('starts under plain node: --help and --check-config', async () => {
    const entry = path.join(DIST, 'worker.js');
    assert.ok(fs.existsSync(path.join(DIST, 'workflows', 'index.js')), 'the workflow sources are emitted next to it');
    const help = await run(process.execPath, [entry, '--help'], { cwd: PROD, env: cleanEnv() });
    assert.match(help.stdout, /usage: worker/);

    // Without a configuration there are no backends: serving them is refused; the demo has its own.
    const noBackends = await run(process.execPath, [entry, '--check-config', 'all'], {
      cwd: PROD,
      env: cleanEnv(),
    }).then(
      () => assert.fail('a worker with no backends configured must refuse to serve them'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(noBackends.code, 2);
    assert.match(noBackends.stderr, /configuration error: backends: no backends are configured/);
    const check = await run(process.execPath, [entry, '--check-config', '--demo', 'all'], {
      cwd: PROD,
      env: cleanEnv(),
    });
    const summary = JSON.parse(check.stdout) as {
      ok: boolean;
      workflow_code: { path?: string };
      roles: { scheduler: boolean };
    };
    assert.equal(summary.ok, true);
    assert.equal(summary.roles.scheduler, true);
    assert.equal(
      summary.workflow_code.path,
      path.join(DIST, 'workflows', 'index.js'),
      'require.resolve(./workflows) finds the compiled workflows',
    );

    // A configuration mistake exits 2 and names the setting.
    const bad = await run(process.execPath, [entry, 'scheduler'], {
      cwd: PROD,
      env: cleanEnv({ CINDER_WORKFLOW_BUNDLE: path.join(DIST, 'missing-bundle.js') }),
    }).then(
      () => assert.fail('a missing bundle must stop the worker'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /configuration error: workflow_bundle_path: no workflow bundle/);
  });

  it('builds the bundle, serves a create started by the compiled CLI, and stops on SIGTERM', async () => {
    const bundle = path.join(DIST, 'workflow-bundle.js');
    const built = await run(process.execPath, [path.join(DIST, 'build-bundle.js'), bundle], {
      cwd: PROD,
      env: cleanEnv(),
    });
    assert.match(built.stdout, /workflow bundle: .*KiB/);
    assert.ok(fs.statSync(bundle).size > 100_000);

    const id = path.basename(PROD).replace(/[^a-zA-Z0-9]/g, '');
    const config = path.join(PROD, 'cinder.yaml');
    fs.writeFileSync(
      config,
      YAML.stringify({
        data_dir: path.join(PROD, 'data'),
        scheduler_task_queue: `cinder-scheduler-${id}`,
        stats_interval_ms: 500,
        backends: [
          {
            host: `dist${id}@lvm`,
            pools: [{ name: 'pool1', path: path.join(PROD, 'pools', 'pool1'), total_capacity_gb: 10 }],
          },
        ],
      }),
    );
    const env = cleanEnv({
      TEMPORAL_ADDRESS: address,
      CINDER_CONFIG: config,
      CINDER_WORKFLOW_BUNDLE: bundle,
      CINDER_PROJECT_ID: `p-${id}`,
    });
    // The compiled launcher, loaded from the production tree, starts the compiled worker.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a path known only at run time
    const compiled = require(
      path.join(DIST, 'dev-server', 'worker-process.js'),
    ) as typeof import('../../src/dev-server/worker-process');
    assert.deepEqual(
      compiled.workerCommand(path.join(DIST, 'dev-server', 'worker-process.js')),
      [path.join(DIST, 'worker.js')],
      'plain node, no tsx',
    );
    worker = new compiled.WorkerProcess({ roles: ['all'], env, logFile: path.join(PROD, 'worker.log') });
    await worker.ready;

    const created = await run(
      process.execPath,
      [path.join(PROD, 'bin', 'cinder-temporal.js'), 'create', '--size', '1', '--json', '--wait'],
      { cwd: PROD, env },
    );
    const doc = JSON.parse(created.stdout) as { outcome: string; volume: { host: string } };
    assert.equal(doc.outcome, 'available', created.stderr);
    assert.equal(doc.volume.host, `dist${id}@lvm#pool1`);

    const exit = await worker.stop('SIGTERM', 30_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    worker = null;
  });
});
