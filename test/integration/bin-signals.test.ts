/**
 * `npx cinder-temporal worker` stopped the way an operator stops it, with `kill <pid>` of the npx
 * process: npm exec does not pass the signal on, so the bin wrapper must notice and stop the node
 * worker itself. No orphan is left.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import YAML from 'yaml';
import { eventually } from '../support/cluster';

const ROOT = path.resolve(__dirname, '..', '..');

/** Every descendant of pid (children, their children, ...). */
function descendants(pid: number): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' });
  } catch {
    return []; // no children
  }
  const kids = out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((n) => n > 0);
  return kids.flatMap((k) => [k, ...descendants(k)]);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie has exited
  } catch {
    return false;
  }
};

describe('the bin wrapper under npx', { timeout: 120_000 }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-bin-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('kill <pid> of `npx cinder-temporal worker` stops the node worker too', async () => {
    assert.ok(process.env.TEMPORAL_ADDRESS, 'run by test/run.ts, which starts the server');
    const config = path.join(dir, 'cinder.yaml');
    fs.writeFileSync(
      config,
      YAML.stringify({
        database_url: `sqlite:${path.join(dir, 'cinder.db')}`,
        data_dir: dir,
        scheduler_task_queue: `cinder-scheduler-bin-${process.pid}`,
        shutdown_grace_ms: 2000,
        backends: [
          {
            host: `hostBin${process.pid}@lvm`,
            pools: [{ name: 'pool1', path: path.join(dir, 'pool1'), total_capacity_gb: 10 }],
          },
        ],
      }),
    );
    const log = path.join(dir, 'worker.log');
    const out = fs.openSync(log, 'w');
    const npx = spawn('npx', ['cinder-temporal', 'worker', 'scheduler'], {
      cwd: ROOT,
      env: { ...process.env, CINDER_CONFIG: config, CINDER_LOG_FORMAT: 'json' },
      stdio: ['ignore', out, out],
    });
    try {
      await eventually(
        async () => fs.readFileSync(log, 'utf8').includes('"worker.running"'),
        90_000,
        'the worker to run',
      );
      const tree = descendants(npx.pid!);
      assert.ok(tree.length > 0, 'npx started the worker as its descendant');
      process.kill(npx.pid!, 'SIGTERM');
      await eventually(
        async () => tree.every((pid) => !alive(pid)),
        30_000,
        `every process under npx (${tree.join(', ')}) to exit`,
      );
      assert.match(fs.readFileSync(log, 'utf8'), /"worker.stopped"/, 'the worker stopped cleanly, not killed');
    } finally {
      for (const pid of [npx.pid!, ...descendants(npx.pid!)]) if (alive(pid)) process.kill(pid, 'SIGKILL');
      fs.closeSync(out);
    }
  });
});
