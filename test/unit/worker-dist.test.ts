/**
 * The production start path: `tsc -p tsconfig.build.json` output runs under plain node (no tsx),
 * as `node dist/worker.js` in the Docker image. Compiles into a scratch folder under node_modules
 * (so the compiled files still find the packages) and runs the compiled worker's --check-config,
 * which loads every module a start loads and resolves the workflow code the way a start does
 * (require.resolve('./workflows') when no bundle is configured), without connecting anywhere.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { ENV_SETTINGS } from '../../src/config/config';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const OUT = path.join(ROOT, 'node_modules', '.cache', `cinder-dist-check-${process.pid}`);

/** The environment minus every variable the configuration reads, so the check sees defaults. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of [...Object.keys(ENV_SETTINGS), 'CINDER_CONFIG']) delete env[name];
  return { ...env, ...extra };
}

describe('compiled worker (dist/worker.js)', { timeout: 180_000 }, () => {
  after(() => fs.rmSync(OUT, { recursive: true, force: true }));

  it('compiles with tsconfig.build.json and starts under plain node: --help and --check-config', async () => {
    const tsc = require.resolve('typescript/bin/tsc');
    await run(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', OUT], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 }).catch((err) => {
      assert.fail(`tsc -p tsconfig.build.json failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
    });
    const worker = path.join(OUT, 'worker.js');
    assert.ok(fs.existsSync(worker), 'worker.js emitted');
    assert.ok(fs.existsSync(path.join(OUT, 'workflows', 'index.js')), 'the workflow sources are emitted next to it');

    const help = await run(process.execPath, [worker, '--help'], { cwd: ROOT, env: cleanEnv() });
    assert.match(help.stdout, /usage: worker/);

    // Without a configuration there are no backends: serving them is refused; the demo has its own.
    const noBackends = await run(process.execPath, [worker, '--check-config', 'all'], { cwd: ROOT, env: cleanEnv() }).then(
      () => assert.fail('a worker with no backends configured must refuse to serve them'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(noBackends.code, 2);
    assert.match(noBackends.stderr, /configuration error: backends: no backends are configured/);
    const check = await run(process.execPath, [worker, '--check-config', '--demo', 'all'], { cwd: ROOT, env: cleanEnv() });
    const summary = JSON.parse(check.stdout) as { ok: boolean; workflow_code: { path?: string }; roles: { scheduler: boolean } };
    assert.equal(summary.ok, true);
    assert.equal(summary.roles.scheduler, true);
    assert.equal(summary.workflow_code.path, path.join(OUT, 'workflows', 'index.js'), 'require.resolve(./workflows) finds the compiled workflows');

    // A configuration mistake exits 2 and names the setting.
    const bad = await run(process.execPath, [worker, 'scheduler'], { cwd: ROOT, env: cleanEnv({ CINDER_WORKFLOW_BUNDLE: path.join(OUT, 'missing-bundle.js') }) }).then(
      () => assert.fail('a missing bundle must stop the worker'),
      (err: { code: number; stderr: string }) => err,
    );
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /configuration error: workflow_bundle_path: no workflow bundle/);
  });
});
