/**
 * Several processes sharing one SQLite file. The test spawns this same file as its child processes
 * (STORE_CHILD set): better-sqlite3 is synchronous, so only separate processes really race.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import { CinderError } from '../../src/domain/cinder-errors';
import type { BackendState } from '../../src/scheduler/types';
import { SqliteVolumeStore, type ClaimChoice } from '../../src/store';

const T0 = '2025-01-01T00:00:00.000Z';

type ChildJob = { mode: 'open'; file: string } | { mode: 'claim'; file: string; volumeIds: string[] };
interface ChildResult {
  claimed: number;
  noValidBackend: number;
  errors: string[];
}

/** First fit, thick: a pool with less free than the size cannot take it. Spins a little inside the
 *  transaction to widen the window in which another process could interleave. */
function chooseFirstFit(pools: BackendState[]): ClaimChoice {
  const spinUntil = Date.now() + 1;
  while (Date.now() < spinUntil);
  const pool = pools.find((p) => typeof p.free_capacity_gb === 'number' && p.free_capacity_gb >= 1);
  if (!pool) throw new CinderError('NoValidBackend', 'No valid backend was found.');
  return {
    backend: {
      ...pool,
      allocated_capacity_gb: pool.allocated_capacity_gb + 1,
      provisioned_capacity_gb: pool.provisioned_capacity_gb + 1,
      free_capacity_gb: (pool.free_capacity_gb as number) - 1,
    },
  };
}

async function runChild(job: ChildJob): Promise<void> {
  const store = new SqliteVolumeStore(job.file);
  const result: ChildResult = { claimed: 0, noValidBackend: 0, errors: [] };
  if (job.mode === 'claim') {
    // Start together: report ready, wait for the parent's go.
    process.stdout.write('ready\n');
    await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
    for (const volumeId of job.volumeIds) {
      try {
        await store.claimCapacity({ volumeId, attempt: 1, sizeGb: 1, liveSince: T0, now: new Date().toISOString(), choose: chooseFirstFit });
        result.claimed++;
      } catch (err) {
        if (err instanceof CinderError && err.cinderType === 'NoValidBackend') result.noValidBackend++;
        else result.errors.push(String(err));
      }
    }
  }
  await store.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

/** Spawns children for jobs; once every claim child is ready, tells them all to go. */
async function runChildren(jobs: ChildJob[]): Promise<ChildResult[]> {
  const children = jobs.map((job) =>
    spawn(process.execPath, ['--import', 'tsx', __filename], {
      env: { ...process.env, STORE_CHILD: JSON.stringify(job) },
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const lines = children.map((c) => createInterface({ input: c.stdout! }));
  const ready = lines.map((rl, i) =>
    jobs[i].mode === 'claim' ? new Promise<void>((resolve) => rl.once('line', () => resolve())) : Promise.resolve(),
  );
  const results = lines.map(
    (rl, i) =>
      new Promise<ChildResult>((resolve, reject) => {
        let last = '';
        rl.on('line', (line) => (last = line));
        children[i].on('exit', (code) => (code === 0 ? resolve(JSON.parse(last) as ChildResult) : reject(new Error(`child ${i} exited ${code}`))));
      }),
  );
  await Promise.all(ready);
  for (const c of children) c.stdin!.write('go\n');
  return Promise.all(results);
}

const job = process.env.STORE_CHILD;
if (job) {
  void runChild(JSON.parse(job) as ChildJob);
} else {
  const tmp = mkdtempSync(join(tmpdir(), 'store-race-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  describe('several processes on one file', { timeout: 120_000 }, () => {
    test('opening a fresh file at once migrates it exactly once', async () => {
      const file = join(tmp, 'fresh.db');
      const results = await runChildren([1, 2, 3, 4].map(() => ({ mode: 'open' as const, file })));
      assert.equal(results.length, 4);
      const s = new SqliteVolumeStore(file);
      assert.deepEqual(s.db.prepare('SELECT version FROM schema_migrations').all(), [{ version: 1 }]);
      assert.equal((s.db.prepare("SELECT COUNT(*) AS n FROM volume_types WHERE name = 'default'").get() as { n: number }).n, 1);
      await s.close();
    });

    test('3 processes x 20 claims of 1 GiB on a 10 GiB pool: exactly 10 succeed', async () => {
      const file = join(tmp, 'race.db');
      const s = new SqliteVolumeStore(file);
      await s.reportPoolStats(
        'h1@lvm',
        [
          {
            backend_id: 'h1@lvm#a',
            availability_zone: 'nova',
            total_capacity_gb: 10,
            free_capacity_gb: 10,
            provisioned_capacity_gb: 0,
            reserved_percentage: 0,
            max_over_subscription_ratio: 1,
            thin_provisioning_support: false,
            thick_provisioning_support: true,
            capabilities: {},
            volume_names: [],
          },
        ],
        T0,
      );
      const jobs: ChildJob[] = [];
      for (let c = 0; c < 3; c++) {
        const volumeIds: string[] = [];
        for (let i = 0; i < 20; i++) {
          const id = `v-${c}-${i}`;
          volumeIds.push(id);
          await s.createVolume({
            id,
            request: { volume_id: id, project_id: 'p1', size: 1 },
            volume_type: 'default',
            source: { type: 'raw' },
            workflow_id: `create-volume-${id}`,
            now: T0,
          });
        }
        jobs.push({ mode: 'claim', file, volumeIds });
      }

      const results = await runChildren(jobs);
      assert.deepEqual(
        results.flatMap((r) => r.errors),
        [],
      );
      assert.equal(
        results.reduce((n, r) => n + r.claimed, 0),
        10,
      );
      assert.equal(
        results.reduce((n, r) => n + r.noValidBackend, 0),
        50,
      );
      const [pool] = await s.listPools();
      assert.deepEqual([pool.allocated_capacity_gb, pool.provisioned_capacity_gb, pool.free_capacity_gb], [10, 10, 0]);
      const claims = await s.listClaims();
      assert.equal(claims.length, 10);
      assert.equal((await s.listVolumes()).filter((v) => v.host === 'h1@lvm#a').length, 10);
      await s.close();
    });
  });
}
