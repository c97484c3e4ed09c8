/**
 * Quota reservation cost as a project's volumes grow: reserveQuota + commitQuota (a create's API
 * flow) and releaseQuota (a delete), on a SQLite file, with 0, 1k, 10k and 100k committed volumes in
 * the project. Usage lives in one quota_usages row per resource, so the cost should stay flat.
 * Prints a table and writes bench/results/quota.json. Not a test: `npx tsx bench/quota.bench.ts`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { SqliteVolumeStore } from '../src/store';

const SIZES = [0, 1_000, 10_000, 100_000];
const SAMPLES = 300;
const DELTAS = { volumes: 1, gigabytes: 1, volumes_default: 1, gigabytes_default: 1 };

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** n committed volumes of the project, written straight into the tables (rows and usage agree). */
function fill(store: SqliteVolumeStore, project: string, n: number): void {
  const insert = store.db.prepare(
    "INSERT INTO quota_reservations (volume_id, project_id, resource, delta, status, created_at, updated_at) VALUES (?, ?, ?, 1, 'committed', 't', 't')",
  );
  const usage = store.db.prepare(
    'INSERT INTO quota_usages (project_id, resource, in_use, reserved) VALUES (?, ?, ?, 0)',
  );
  store.db.transaction(() => {
    for (let i = 0; i < n; i++) for (const r of Object.keys(DELTAS)) insert.run(`fill-${i}`, project, r);
    if (n > 0) for (const r of Object.keys(DELTAS)) usage.run(project, r, n);
  })();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'quota-bench-'));
  const rows: Array<Record<string, number>> = [];
  try {
    for (const n of SIZES) {
      const store = new SqliteVolumeStore(join(dir, `q-${n}.db`), { defaultQuotas: { volumes: -1, gigabytes: -1 } });
      fill(store, 'p', n);
      const reserve: number[] = [];
      const release: number[] = [];
      for (let i = 0; i < SAMPLES + 20; i++) {
        const id = `bench-${i}`;
        const t0 = performance.now();
        await store.reserveQuota(id, 'p', DELTAS, 't');
        await store.commitQuota(id, 't');
        const t1 = performance.now();
        await store.releaseQuota(id, 't');
        const t2 = performance.now();
        if (i >= 20) {
          reserve.push(t1 - t0);
          release.push(t2 - t1);
        }
      }
      await store.close();
      reserve.sort((a, b) => a - b);
      release.sort((a, b) => a - b);
      rows.push({
        volumes: n,
        reserve_commit_p50_ms: +percentile(reserve, 50).toFixed(3),
        reserve_commit_p95_ms: +percentile(reserve, 95).toFixed(3),
        release_p50_ms: +percentile(release, 50).toFixed(3),
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const base = rows[0].reserve_commit_p50_ms;
  console.log('volumes   reserve+commit p50   p95        release p50   vs empty');
  for (const r of rows) {
    console.log(
      `${String(r.volumes).padEnd(9)} ${`${r.reserve_commit_p50_ms} ms`.padEnd(20)} ${`${r.reserve_commit_p95_ms} ms`.padEnd(10)} ${`${r.release_p50_ms} ms`.padEnd(13)} ${(r.reserve_commit_p50_ms / base).toFixed(2)}x`,
    );
  }
  mkdirSync(join(__dirname, 'results'), { recursive: true });
  writeFileSync(
    join(__dirname, 'results', 'quota.json'),
    JSON.stringify({ samples: SAMPLES, store: 'sqlite file', rows }, null, 2) + '\n',
  );
}

void main();
