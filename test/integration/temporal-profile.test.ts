/**
 * A temporal.toml profile connects everything, with no TEMPORAL_ADDRESS anywhere: the scheduler and
 * volume worker processes, the cinder-temporal CLI, and the Temporal CLI itself read the same file
 * and profile. The file's default profile points at a dead port, so only the chosen one can work.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WorkerProcess } from '../../src/dev-server/worker-process';
import { resolveTemporalCli } from '../../src/dev-server/temporal-cli';
import { startCluster, type Cluster } from '../support/cluster';
import { BIN, ROOT, runProcess } from '../support/run-process';

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv) => runProcess(cmd, args, env);

describe('a temporal.toml profile connects the workers and the CLI', { timeout: 300_000 }, () => {
  let c: Cluster;
  let env: NodeJS.ProcessEnv;
  let toml: string;
  const workers: WorkerProcess[] = [];

  before(async () => {
    c = await startCluster({ backends: [{ name: 'A' }], startVolumeWorkers: false });
    // The cluster's own scheduler connected through TEMPORAL_ADDRESS: replace it.
    await c.worker('scheduler').stop();
    toml = path.join(c.dir, 'temporal.toml');
    fs.writeFileSync(
      toml,
      `[profile.default]\naddress = "127.0.0.1:1"\n\n[profile.cinder-it]\naddress = "${c.address}"\nnamespace = "default"\n`,
    );
    const { TEMPORAL_ADDRESS: _unset, TEMPORAL_NAMESPACE: _unset2, ...rest } = c.env;
    env = { ...rest, TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cinder-it', CINDER_PROJECT_ID: `project-${c.id}` };
    for (const roles of [['scheduler'], ['volume', '--backend', c.host('A')]]) {
      workers.push(new WorkerProcess({ roles, env, logFile: path.join(c.dir, `profile-${roles[0]}.log`) }));
    }
    await Promise.all(workers.map((w) => w.ready));
  });
  after(async () => {
    await Promise.all(workers.map((w) => w.stop('SIGTERM', 10_000)));
    await c?.stopAfterLeakCheck();
  });

  it('the workers connected through the profile and say so', () => {
    for (const w of workers) {
      const running = w.logs().find((l) => l.event === 'worker.running');
      assert.equal(running?.address, c.address);
      assert.deepEqual(running?.profile, { name: 'cinder-it', file: toml });
    }
  });

  it('the CLI creates a volume through the same profile, served by those workers', async () => {
    const r = await run(
      process.execPath,
      [BIN, 'create', '--size', '1', '--name', 'via-profile', '--json', '--wait'],
      env,
    );
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    const doc = JSON.parse(r.stdout) as { outcome: string; volume: { id: string; host: string } };
    assert.equal(doc.outcome, 'available');
    assert.equal(doc.volume.host, c.pool('A').backend_id);
    // The Temporal CLI reads the same file and profile.
    const cli = await resolveTemporalCli(() => undefined);
    assert.ok(cli, 'a Temporal CLI');
    const { TEMPORAL_CONFIG_FILE: _f, TEMPORAL_PROFILE: _p, ...plain } = env;
    const d = await run(
      cli.path,
      [
        'workflow',
        'describe',
        '--config-file',
        toml,
        '--profile',
        'cinder-it',
        '-w',
        `create-volume-${doc.volume.id}`,
        '-o',
        'json',
      ],
      plain,
    );
    assert.equal(d.code, 0, d.stderr);
    assert.equal(JSON.parse(d.stdout).workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_COMPLETED');
  });

  it('a profile that the file lacks stops the worker and the CLI, naming TEMPORAL_PROFILE', async () => {
    const bad = { ...env, TEMPORAL_PROFILE: 'nope' };
    const w = await run(process.execPath, [...workerArgs(), 'scheduler'], bad);
    assert.equal(w.code, 2);
    assert.match(w.stderr, /configuration error: TEMPORAL_PROFILE: no profile 'nope'/);
    const r = await run(process.execPath, [BIN, 'list'], bad);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /TEMPORAL_PROFILE: no profile 'nope'/);
  });
});

function workerArgs(): string[] {
  return ['--import', require.resolve('tsx'), path.join(ROOT, 'src', 'worker.ts')];
}
