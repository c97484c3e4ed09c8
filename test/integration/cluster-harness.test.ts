/**
 * The cluster harness's failure paths (src/dev-server/temporal-cluster.ts): a Temporal node that
 * exits or never answers stops the start with an error naming it, within the time given, and leaves
 * no process or folder behind. The real server's runs are in cluster.test.ts.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TemporalCluster } from '../../src/dev-server/temporal-cluster';
import { resolveTemporalServer } from '../../src/dev-server/temporal-server';
import { processRunning } from '../../src/dev-server/procfs';

describe('cluster harness: a node that does not come up', { timeout: 120_000 }, () => {
  let dir: string;
  let sqlTool: string;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cluster-harness-'));
    sqlTool = (await resolveTemporalServer()).sqlTool;
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** Starts a cluster whose server binary is `script`; returns the error, the PIDs it had and its folder. */
  async function failedStart(script: string, nodeReadyTimeoutMs?: number) {
    const server = path.join(dir, `server-${Math.random().toString(16).slice(2)}`);
    fs.writeFileSync(server, `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    const cluster = new TemporalCluster({
      nodeReadyTimeoutMs,
      env: { ...process.env, TEMPORAL_SERVER_PATH: server, TEMPORAL_SQL_TOOL_PATH: sqlTool },
    });
    let error: Error | null = null;
    let pids: number[] = [];
    try {
      await cluster.start();
    } catch (err) {
      error = err as Error;
      pids = [cluster.postgres.pid(), ...cluster.pids()];
    }
    await cluster.stop();
    return { error, pids, dir: cluster.dir };
  }

  it('a node that exits: the error names it, its exit status and its log; nothing is left', async () => {
    const r = await failedStart('echo "config is broken" >&2; exit 3');
    assert.ok(r.error, 'start fails');
    assert.match(r.error.message, /Temporal node 1 exited \(3; log .*node1\.log\)/);
    assert.match(r.error.message, /config is broken/, 'with the end of its log');
    assert.deepEqual(
      r.pids.filter((p) => processRunning(p)),
      [],
    );
    assert.equal(fs.existsSync(r.dir), false, 'its folder is removed');
  });

  it('a node that never answers: the start gives up after the time given, naming it; its process group is killed', async () => {
    const marker = path.join(dir, 'child.pid');
    // A server that starts a child of its own, then hangs: stop() must reach both by process group.
    const r = await failedStart(`sleep 600 & echo $! > ${marker}; exec sleep 600`, 4000);
    assert.ok(r.error, 'start fails');
    assert.match(r.error.message, /Temporal node 1 at 127\.0\.0\.1:\d+ not ready after 4000 ms/);
    const child = Number(fs.readFileSync(marker, 'utf8'));
    assert.deepEqual(
      [...r.pids, child].filter((p) => processRunning(p)),
      [],
      'node, its child and PostgreSQL are gone',
    );
  });
});
