/**
 * What the database steps cost as data grows: `reserveQuota` of one more volume in a project that
 * holds N, and one stats report (the worker's reportPoolStatsOnce: driver stats, then the store)
 * of a pool holding N volumes. A temp SQLite database and a file pool holding N volumes as finished
 * creates leave them (see populate); the samples go through the store's API.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { FileVolumeDriver, GiB } from '../../src/drivers/file-driver';
import { openVolumeStore } from '../../src/store';
import { reportPoolStatsOnce } from '../../src/worker';
import { percentile, round } from './load';

const HOST = 'storebench@lvm';
const BACKEND = `${HOST}#pool1`;
const PROJECT = 'storebench';

export interface StoreCost {
  volumes: number;
  reserve_quota_p50_ms: number | null;
  reserve_quota_p95_ms: number | null;
  stats_report_p50_ms: number | null;
  stats_report_p95_ms: number | null;
  /** The first report of a fresh driver (a worker start), which may read the whole pool once. */
  stats_first_report_ms: number | null;
  reserve_quota_ratio_to_empty: number | null;
  stats_report_ratio_to_empty: number | null;
}

const volumeId = (i: number) => `00000000-0000-5000-8000-${i.toString(16).padStart(12, '0')}`;

/**
 * Adds volumes [from, to) as finished creates leave them: the volume row, its committed quota
 * reservation, its active claim on the pool (and the pool's allocation), its sparse file. Written in
 * one transaction straight into the tables (the store's API takes about 10 ms a volume on this
 * machine, 15 minutes for 100k); the columns are those of migration 1, which later ones only add to.
 */
function populate(dbFile: string, dir: string, from: number, to: number): void {
  const db = new Database(dbFile);
  const now = new Date().toISOString();
  try {
    db.pragma('busy_timeout = 10000');
    const volume =
      db.prepare(`INSERT INTO volumes (id, project_id, name, size, status, volume_type, host, source, metadata, workflow_id, created_at, updated_at, scheduled_at, launched_at)
      VALUES (?, ?, ?, 1, 'available', 'default', ?, '{"type":"raw"}', '{}', ?, ?, ?, ?, ?)`);
    const reservation = db.prepare(
      `INSERT INTO quota_reservations (volume_id, project_id, resource, delta, status, created_at, updated_at) VALUES (?, ?, ?, 1, 'committed', ?, ?)`,
    );
    const claim = db.prepare(
      `INSERT INTO capacity_claims (volume_id, attempt, backend_id, size_gb, status, created_at, released_at) VALUES (?, 1, ?, 1, 'active', ?, NULL)`,
    );
    db.transaction(() => {
      for (let i = from; i < to; i++) {
        const id = volumeId(i);
        volume.run(id, PROJECT, `v${i}`, BACKEND, `create-volume-${id}`, now, now, now, now);
        for (const resource of ['volumes', 'gigabytes']) reservation.run(id, PROJECT, resource, now, now);
        claim.run(id, BACKEND, now);
      }
      db.prepare('UPDATE pools SET allocated_capacity_gb = allocated_capacity_gb + ? WHERE backend_id = ?').run(
        to - from,
        BACKEND,
      );
    })();
  } finally {
    db.close();
  }
  for (let i = from; i < to; i++) {
    const fd = fs.openSync(path.join(dir, `volume-${volumeId(i)}`), 'w');
    fs.ftruncateSync(fd, GiB);
    fs.closeSync(fd);
  }
}

async function timeIt(n: number, fn: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn(i);
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

export async function storeCosts(
  levels: number[],
  samples: { quota: number; stats: number },
  progress: (l: string) => void,
): Promise<StoreCost[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-store-bench-'));
  const poolDir = path.join(dir, 'pool1');
  fs.mkdirSync(poolDir);
  const dbFile = path.join(dir, 'cinder.db');
  const store = await openVolumeStore(`sqlite:${dbFile}`);
  const driverOf = () =>
    new FileVolumeDriver({ host: HOST, pools: [{ name: 'pool1', path: poolDir, total_capacity_gb: 10_000_000 }] });
  const results: StoreCost[] = [];
  try {
    await store.setQuotaLimit(PROJECT, 'volumes', -1);
    await store.setQuotaLimit(PROJECT, 'gigabytes', -1);
    await reportPoolStatsOnce(driverOf().config, driverOf(), store);
    let have = 0;
    let probe = 1e9;
    for (const n of [...levels].sort((a, b) => a - b)) {
      progress(`store costs: populating ${n} volumes`);
      populate(dbFile, poolDir, have, n);
      have = n;
      const now = new Date().toISOString();
      // A create's reservation, then its rollback (a failed create), so N stays as it is.
      const quota = await timeIt(samples.quota, async () => {
        const id = volumeId(probe++);
        await store.reserveQuota(id, PROJECT, { volumes: 1, gigabytes: 1 }, now);
        await store.rollbackQuota(id, now);
      });
      const driver = driverOf();
      const t0 = performance.now();
      await reportPoolStatsOnce(driver.config, driver, store);
      const first = performance.now() - t0;
      // Steady state: what the first reports leave to the database (a WAL checkpoint) is not a report's cost.
      for (let i = 0; i < 3; i++) await reportPoolStatsOnce(driver.config, driver, store);
      const stats = await timeIt(samples.stats, () => reportPoolStatsOnce(driver.config, driver, store));
      results.push({
        volumes: n,
        reserve_quota_p50_ms: round(percentile(quota, 50), 3),
        reserve_quota_p95_ms: round(percentile(quota, 95), 3),
        stats_report_p50_ms: round(percentile(stats, 50), 3),
        stats_report_p95_ms: round(percentile(stats, 95), 3),
        stats_first_report_ms: round(first, 3),
        reserve_quota_ratio_to_empty: null,
        stats_report_ratio_to_empty: null,
      });
    }
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const base = results.find((r) => r.volumes === 0) ?? results[0];
  for (const r of results) {
    r.reserve_quota_ratio_to_empty = base?.reserve_quota_p50_ms
      ? round(r.reserve_quota_p50_ms! / base.reserve_quota_p50_ms, 2)
      : null;
    r.stats_report_ratio_to_empty = base?.stats_report_p50_ms
      ? round(r.stats_report_p50_ms! / base.stats_report_p50_ms, 2)
      : null;
  }
  return results;
}
