/**
 * The batch audit (test/support/invariants.ts) counts right: a real SQLite store and real pool
 * directories set up as a finished batch leaves them (two available volumes, one error), audited
 * clean; then each kind of damage, made by hand, is counted as its own kind and nothing else.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { openVolumeStore, type VolumeStore } from '../../src/store';
import type { BackendState } from '../../src/domain/pools';
import { consumeFromVolume } from '../../src/scheduler';
import {
  auditBatch,
  leakedFiles,
  type AuditBatch,
  type AuditPool,
  type AuditReport,
  type CreateEnd,
  type CreateRun,
  type ViolationKind,
} from '../support/invariants';

const P = 'chaos-p';
const T0 = '2026-01-01T00:00:00.000Z';
const HOST = 'hostA@lvm';
const A = `${HOST}#pool1`;
const B = `${HOST}#pool2`;

describe('batch audit', () => {
  let dir: string;
  let store: VolumeStore;
  let pools: AuditPool[];
  let ends: Map<string, CreateEnd>;
  let runs: CreateRun[];
  let batch: AuditBatch;

  const audit = (): Promise<AuditReport> =>
    auditBatch(
      {
        store,
        pools,
        creates: {
          end: async (wf) => ends.get(wf) ?? { status: 'missing' },
          runsOf: async (projects) => runs.filter(() => projects.includes(P)),
        },
      },
      batch,
    );

  /** Only these kinds, this many times each. */
  function expectOnly(r: AuditReport, want: Partial<Record<ViolationKind, number>>): void {
    const got = Object.fromEntries(Object.entries(r.counts).filter(([, n]) => n > 0));
    assert.deepEqual(got, want, JSON.stringify(r.violations, null, 2));
  }

  function poolReport(backend_id: string, provisioned: number, names: string[]) {
    return {
      backend_id,
      availability_zone: 'nova',
      total_capacity_gb: 100,
      free_capacity_gb: 100,
      provisioned_capacity_gb: provisioned,
      reserved_percentage: 0,
      max_over_subscription_ratio: 1,
      thin_provisioning_support: false,
      thick_provisioning_support: true,
      capabilities: {},
      volume_names: names,
    };
  }

  /** The scheduler's choice of one pool, consumed as the scheduler consumes it. */
  const onPool = (id: string, size: number) => (ps: BackendState[]) => ({
    backend: consumeFromVolume(
      ps.find((p) => p.backend_id === id)!,
      size,
    ),
  });

  /** A volume row in 'creating', as the API flow writes it. */
  const row = (id: string, size: number, name: string) =>
    store.createVolume({
      id,
      request: { volume_id: id, project_id: P, size, name },
      volume_type: 'default',
      source: { type: 'raw' },
      workflow_id: `create-volume-${id}`,
      now: T0,
    });

  /** The store steps a create takes: quota, row, claim; then available with its file, or error. */
  async function create(id: string, size: number, pool: string, end: 'available' | 'error'): Promise<void> {
    await store.reserveQuota(id, P, { volumes: 1, gigabytes: size, volumes_default: 1, gigabytes_default: size }, T0);
    await row(id, size, `n-${id}`);
    await store.commitQuota(id, T0);
    await store.claimCapacity({
      volumeId: id,
      attempt: 1,
      sizeGb: size,
      liveSince: T0,
      now: T0,
      choose: onPool(pool, size),
    });
    const wf = `create-volume-${id}`;
    runs.push({ workflowId: wf, runId: `run-${id}`, volumeId: id, continuedAsNew: false });
    batch.volumeIds.push(id);
    if (end === 'available') {
      fs.writeFileSync(path.join(pools.find((p) => p.backend_id === pool)!.path, `volume-${id}`), '');
      await store.updateVolume(id, { status: 'available', host: pool }, T0);
      ends.set(wf, { status: 'completed' });
    } else {
      await store.releaseCapacity(id, 1, T0);
      const reason = `Exceeded max scheduling attempts 3 for volume ${id}`;
      await store.updateVolume(id, { status: 'error', error_reason: reason }, T0);
      ends.set(wf, { status: 'failed', failure: { type: 'NoValidBackend', message: reason } });
    }
  }

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'invariants-test-'));
    store = await openVolumeStore(`sqlite:${path.join(dir, 'cinder.db')}`);
    pools = [A, B].map((backend_id, i) => ({ backend_id, path: path.join(dir, `pool${i + 1}`) }));
    for (const p of pools) fs.mkdirSync(p.path);
    await store.reportPoolStats(HOST, [poolReport(A, 0, []), poolReport(B, 0, [])], T0);
    ends = new Map();
    runs = [];
    batch = { volumeIds: [], projectIds: [P] };
    await create('v1', 2, A, 'available');
    await create('v2', 3, B, 'available');
    await create('v3', 1, A, 'error');
    await store.reportPoolStats(HOST, [poolReport(A, 2, ['volume-v1']), poolReport(B, 3, ['volume-v2'])], T0);
  });

  afterEach(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a healthy batch: no violation, the outcome mix counted', async () => {
    const r = await audit();
    expectOnly(r, {});
    assert.deepEqual(r.outcomes, { available: 2, error: 1, refused: 0, lost: 0 });
    assert.deepEqual(r.errorTypes, { NoValidBackend: 1 });
  });

  test('lost: a workflow missing, one still running, one whose row is not final or disagrees', async () => {
    ends.delete('create-volume-v1');
    ends.set('create-volume-v2', { status: 'running' });
    ends.set('create-volume-v3', { status: 'completed' });
    const r = await audit();
    expectOnly(r, { lost: 3 });
    assert.equal(r.outcomes.lost, 3);
    assert.match(r.violations.map((v) => v.detail).join('\n'), /no create workflow[^]*still running[^]*row is error/);
  });

  test('lost: a row missing after a failure that is not a request error', async () => {
    await store.destroyVolume('v3');
    // The quota the row held is gone with it, as a destroyed entry's would be.
    await store.releaseQuota('v3', T0);
    expectOnly(await audit(), { lost: 1 });
    ends.set('create-volume-v3', { status: 'failed', failure: { type: 'QuotaError', message: 'over quota' } });
    const r = await audit();
    expectOnly(r, {});
    assert.equal(r.outcomes.refused, 1);
  });

  test('leaked files: a stray volume file, a partial write, the file of an error volume', async () => {
    fs.writeFileSync(path.join(pools[0].path, 'volume-stray'), '');
    fs.writeFileSync(path.join(pools[0].path, '.volume-v1.partial-0123456789abcdef'), '');
    fs.writeFileSync(path.join(pools[0].path, 'volume-v3'), '');
    const r = await audit();
    // The partial also makes v1 two files: a duplicate.
    expectOnly(r, { 'leaked-file': 3, duplicate: 1 });
    assert.deepEqual((await leakedFiles(store, pools)).sort(), [
      `${A}/.volume-v1.partial-0123456789abcdef`,
      `${A}/volume-stray`,
      `${A}/volume-v3`,
    ]);
  });

  test('duplicates: one volume on two pools, a row and a workflow the batch did not start, two runs of one', async () => {
    fs.writeFileSync(path.join(pools[1].path, 'volume-v1'), '');
    await row('v9', 1, 'n-v1');
    await store.updateVolume('v9', { status: 'error', error_reason: 'x' }, T0);
    runs.push({ workflowId: 'create-volume-v2', runId: 'second', volumeId: 'v2', continuedAsNew: false });
    runs.push({ workflowId: 'create-volume-v1', runId: 'earlier', volumeId: 'v1', continuedAsNew: true });
    const r = await audit();
    // v1 on B: two files, and a file on a pool its row is not on (a leak). v9: a stray row and a
    // second row named n-v1; its quota was never taken (drift in four resources).
    expectOnly(r, { duplicate: 4, 'leaked-file': 1, 'quota-drift': 4 });
  });

  test('capacity drift: an error volume that kept its claim; provisioned that does not match', async () => {
    await store.reserveQuota('v4', P, { volumes: 1, gigabytes: 5, volumes_default: 1, gigabytes_default: 5 }, T0);
    await row('v4', 5, 'n-v4');
    await store.commitQuota('v4', T0);
    await store.claimCapacity({ volumeId: 'v4', attempt: 1, sizeGb: 5, liveSince: T0, now: T0, choose: onPool(B, 5) });
    await store.updateVolume('v4', { status: 'error', error_reason: 'VolumeBackendAPIException' }, T0);
    batch.volumeIds.push('v4');
    runs.push({ workflowId: 'create-volume-v4', runId: 'r4', volumeId: 'v4', continuedAsNew: false });
    ends.set('create-volume-v4', {
      status: 'failed',
      failure: { type: 'VolumeBackendAPIException', message: 'Injected fault on hostA@lvm' },
    });
    const r = await audit();
    // The claim itself; B's counter (8) above its volumes (3); B's provisioned (3 + the claim not seen).
    expectOnly(r, { 'capacity-drift': 3 });
    assert.equal(r.injectedErrors, 1);
  });

  test('capacity drift waits settleMs for provisioned, then reports it', async () => {
    await store.reportPoolStats(HOST, [poolReport(A, 7, ['volume-v1']), poolReport(B, 3, ['volume-v2'])], T0);
    const t0 = Date.now();
    batch.settleMs = 600;
    const r = await audit();
    expectOnly(r, { 'capacity-drift': 1 });
    assert.ok(Date.now() - t0 >= 600, 'it waited for the next report');
    assert.match(r.violations[0].detail, /provisioned_capacity_gb 7, volumes 2 GiB/);
  });

  test('quota drift: a reservation left reserved, an in-use count that no volume backs', async () => {
    await store.reserveQuota('ghost', P, { volumes: 1, gigabytes: 4 }, T0);
    let r = await audit();
    expectOnly(r, { 'quota-drift': 2 });
    assert.match(r.violations[0].detail, /reserved [14]/);
    await store.commitQuota('ghost', T0);
    r = await audit();
    expectOnly(r, { 'quota-drift': 2 });
    assert.match(r.violations.map((v) => v.detail).join('\n'), /gigabytes: in_use 10 \(volumes say 6\), reserved 0/);
  });

  test('unexplained errors: no error_reason, or a failure type that is not Cinder’s nor injected', async () => {
    await store.updateVolume('v3', { error_reason: '' }, T0);
    expectOnly(await audit(), { 'unexplained-error': 1 });
    await store.updateVolume('v3', { error_reason: 'boom' }, T0);
    ends.set('create-volume-v3', { status: 'failed', failure: { type: 'TypeError', message: 'x is undefined' } });
    expectOnly(await audit(), { 'unexplained-error': 1 });
    ends.set('create-volume-v3', {
      status: 'failed',
      failure: { type: 'ProcessExecutionError', message: 'Injected fault on hostA@lvm: ProcessExecutionError' },
    });
    const r = await audit();
    expectOnly(r, {});
    assert.deepEqual(r.errorTypes, { ProcessExecutionError: 1 });
  });
});
