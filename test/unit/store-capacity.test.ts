import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CinderError } from '../../src/domain/cinder-errors';
import type { BackendState } from '../../src/scheduler/types';
import { openVolumeStore, type ClaimChoice, type PoolStatsReport, type VolumeStore } from '../../src/store';

const T0 = '2025-01-01T00:00:00.000Z';
const T1 = '2025-01-01T00:01:00.000Z';
const T2 = '2025-01-01T00:02:00.000Z';

function report(backend_id: string, extra: Partial<PoolStatsReport> = {}): PoolStatsReport {
  return {
    backend_id,
    availability_zone: 'nova',
    total_capacity_gb: 100,
    free_capacity_gb: 100,
    provisioned_capacity_gb: 0,
    reserved_percentage: 0,
    max_over_subscription_ratio: 1,
    thin_provisioning_support: false,
    thick_provisioning_support: true,
    capabilities: { volume_backend_name: 'lvm' },
    volume_names: [],
    ...extra,
  };
}

async function addVolume(s: VolumeStore, id: string, size = 10): Promise<void> {
  await s.createVolume({
    id,
    request: { volume_id: id, project_id: 'p1', size },
    volume_type: 'default',
    source: { type: 'raw' },
    workflow_id: `create-volume-${id}`,
    now: T0,
  });
}

/** A stand-in for the scheduler core: first pool (in the order given) with enough numeric free
 *  capacity, consumed as Cinder's consume_from_volume does. */
function firstFit(sizeGb: number, seen: BackendState[][] = []) {
  return (pools: BackendState[]): ClaimChoice => {
    seen.push(pools);
    const pool = pools.find((p) => typeof p.free_capacity_gb === 'number' && p.free_capacity_gb >= sizeGb);
    if (!pool) throw new CinderError('NoValidBackend', 'No valid backend was found. No weighed backends available');
    return {
      backend: {
        ...pool,
        allocated_capacity_gb: pool.allocated_capacity_gb + sizeGb,
        provisioned_capacity_gb: pool.provisioned_capacity_gb + sizeGb,
        free_capacity_gb: (pool.free_capacity_gb as number) - sizeGb,
      },
    };
  };
}

async function pool(s: VolumeStore, backendId: string) {
  const row = (await s.listPools()).find((p) => p.backend_id === backendId);
  assert.ok(row, `pool ${backendId}`);
  return row;
}

describe('pool stats', () => {
  test('every capacity form round-trips exactly', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    await s.reportPoolStats(
      'h1@x',
      [
        report('h1@x#inf', { total_capacity_gb: 'infinite', free_capacity_gb: 'unknown', capabilities: { nested: { a: [1, 2] } } }),
        report('h1@x#broken', { total_capacity_gb: 'unknown', free_capacity_gb: null, availability_zone: 'az2' }),
        report('h1@x#frac', { total_capacity_gb: 0.1 + 0.2, free_capacity_gb: 12.345, provisioned_capacity_gb: 1.5, reserved_percentage: 7.5, max_over_subscription_ratio: 20, thin_provisioning_support: true }),
      ],
      T0,
    );
    assert.deepEqual(await s.listPools(), [
      {
        backend_id: 'h1@x#broken',
        host: 'h1@x',
        availability_zone: 'az2',
        total_capacity_gb: 'unknown',
        free_capacity_gb: null,
        allocated_capacity_gb: 0,
        provisioned_capacity_gb: 0,
        reserved_percentage: 0,
        max_over_subscription_ratio: 1,
        thin_provisioning_support: false,
        thick_provisioning_support: true,
        capabilities: { volume_backend_name: 'lvm' },
        updated_at: T0,
      },
      {
        backend_id: 'h1@x#frac',
        host: 'h1@x',
        availability_zone: 'nova',
        total_capacity_gb: 0.1 + 0.2,
        free_capacity_gb: 12.345,
        allocated_capacity_gb: 0,
        provisioned_capacity_gb: 1.5,
        reserved_percentage: 7.5,
        max_over_subscription_ratio: 20,
        thin_provisioning_support: true,
        thick_provisioning_support: true,
        capabilities: { volume_backend_name: 'lvm' },
        updated_at: T0,
      },
      {
        backend_id: 'h1@x#inf',
        host: 'h1@x',
        availability_zone: 'nova',
        total_capacity_gb: 'infinite',
        free_capacity_gb: 'unknown',
        allocated_capacity_gb: 0,
        provisioned_capacity_gb: 0,
        reserved_percentage: 0,
        max_over_subscription_ratio: 1,
        thin_provisioning_support: false,
        thick_provisioning_support: true,
        capabilities: { nested: { a: [1, 2] } },
        updated_at: T0,
      },
    ]);
    assert.deepEqual(await s.listAvailabilityZones(), ['az2', 'nova']);
    await assert.rejects(s.reportPoolStats('h2@x', [report('h1@x#frac')], T1), /does not belong/);
    await s.close();
  });

  test('claims not yet on disk count as provisioned and come off free; allocated is every active claim', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    await s.reportPoolStats('h1@lvm', [report('h1@lvm#a')], T0);
    for (const [id, size] of [['v1', 10], ['v2', 5], ['v3', 7]] as const) {
      await addVolume(s, id, size);
      await s.claimCapacity({ volumeId: id, attempt: 1, sizeGb: size, liveSince: T0, now: T0, choose: firstFit(size) });
    }
    await s.releaseCapacity('v3', 1, T1);
    // The driver sees v2 on disk already (its 5 GiB are in the reported numbers) and an older volume.
    await s.reportPoolStats(
      'h1@lvm',
      [report('h1@lvm#a', { free_capacity_gb: 80, provisioned_capacity_gb: 20, volume_names: ['volume-old', 'volume-v2'] })],
      T1,
    );
    let a = await pool(s, 'h1@lvm#a');
    assert.equal(a.allocated_capacity_gb, 15); // v1 + v2; v3 released
    assert.equal(a.provisioned_capacity_gb, 30); // 20 reported + v1 pending
    assert.equal(a.free_capacity_gb, 70); // 80 reported - v1 pending
    assert.equal(a.updated_at, T1);

    // Non-numeric free stays as reported.
    await s.reportPoolStats('h1@lvm', [report('h1@lvm#a', { free_capacity_gb: 'infinite', provisioned_capacity_gb: 20 })], T2);
    a = await pool(s, 'h1@lvm#a');
    assert.equal(a.free_capacity_gb, 'infinite');
    assert.equal(a.provisioned_capacity_gb, 35); // v1 and v2 both pending now
    await s.close();
  });

  test('a pool its service stopped reporting keeps its old heartbeat', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    await s.reportPoolStats('h1@lvm', [report('h1@lvm#a'), report('h1@lvm#b')], T0);
    await s.reportPoolStats('h1@lvm', [report('h1@lvm#a')], '2025-01-01T00:01:00Z');
    assert.deepEqual(
      (await s.listPools()).map((p) => [p.backend_id, p.updated_at]),
      [
        ['h1@lvm#a', T1], // timestamps are stored in one canonical form
        ['h1@lvm#b', T0],
      ],
    );
    await s.close();
  });
});

describe('claimCapacity', () => {
  async function setup() {
    const s = await openVolumeStore('sqlite::memory:');
    await s.reportPoolStats('h1@lvm', [report('h1@lvm#b', { free_capacity_gb: 50 }), report('h1@lvm#a', { free_capacity_gb: 8 })], T1);
    await s.reportPoolStats('h0@old', [report('h0@old#x')], T0); // not live at T1
    await addVolume(s, 'v1', 10);
    return s;
  }

  test('passes only live pools, in backend_id order, as BackendState', async () => {
    const s = await setup();
    const seen: BackendState[][] = [];
    await s.claimCapacity({ volumeId: 'v1', attempt: 1, sizeGb: 10, liveSince: '2025-01-01T00:01:00Z', now: T2, choose: firstFit(10, seen) });
    assert.equal(seen.length, 1);
    assert.deepEqual(
      seen[0].map((p) => p.backend_id),
      ['h1@lvm#a', 'h1@lvm#b'],
    );
    assert.deepEqual(Object.keys(seen[0][0]).sort(), [
      'allocated_capacity_gb',
      'availability_zone',
      'backend_id',
      'capabilities',
      'free_capacity_gb',
      'max_over_subscription_ratio',
      'provisioned_capacity_gb',
      'reserved_percentage',
      'thick_provisioning_support',
      'thin_provisioning_support',
      'total_capacity_gb',
    ]);
    await s.close();
  });

  test('claims, writes the consumed stats back, sets host; a repeat returns the same claim without choosing', async () => {
    const s = await setup();
    const first = await s.claimCapacity({ volumeId: 'v1', attempt: 1, sizeGb: 10, liveSince: T1, now: T2, choose: firstFit(10) });
    assert.deepEqual(first, {
      existing: false,
      claim: { volume_id: 'v1', attempt: 1, backend_id: 'h1@lvm#b', size_gb: 10, status: 'active', created_at: T2 },
    });
    const b = await pool(s, 'h1@lvm#b');
    assert.deepEqual([b.allocated_capacity_gb, b.provisioned_capacity_gb, b.free_capacity_gb], [10, 10, 40]);
    const v = await s.getVolume('v1');
    assert.equal(v?.host, 'h1@lvm#b');
    assert.equal(v?.scheduled_at, T2);

    let called = false;
    const again = await s.claimCapacity({
      volumeId: 'v1',
      attempt: 1,
      sizeGb: 10,
      liveSince: T1,
      now: '2025-01-01T00:09:00.000Z',
      choose: () => {
        called = true;
        throw new Error('must not be called');
      },
    });
    assert.equal(called, false);
    assert.deepEqual(again, { ...first, existing: true });
    assert.deepEqual(await pool(s, 'h1@lvm#b'), b);
    assert.deepEqual(await s.listClaims(), [first.claim]);
    await s.close();
  });

  test('a throwing choose writes nothing', async () => {
    const s = await setup();
    const before = await s.listPools();
    await assert.rejects(
      s.claimCapacity({ volumeId: 'v1', attempt: 1, sizeGb: 60, liveSince: T1, now: T2, choose: firstFit(60) }),
      (err: CinderError) => err.cinderType === 'NoValidBackend',
    );
    assert.deepEqual(await s.listPools(), before);
    assert.deepEqual(await s.listClaims('v1'), []);
    const v = await s.getVolume('v1');
    assert.equal(v?.host, null);
    assert.equal(v?.scheduled_at, null);
    await s.close();
  });

  test('a missing volume is VolumeNotFound, before choosing; a choice outside the live pools is refused', async () => {
    const s = await setup();
    let called = false;
    await assert.rejects(
      s.claimCapacity({ volumeId: 'ghost', attempt: 1, sizeGb: 1, liveSince: T1, now: T2, choose: (p) => ((called = true), firstFit(1)(p)) }),
      (err: CinderError) => err.cinderType === 'VolumeNotFound',
    );
    assert.equal(called, false);
    await assert.rejects(
      s.claimCapacity({
        volumeId: 'v1',
        attempt: 1,
        sizeGb: 1,
        liveSince: T1,
        now: T2,
        choose: () => ({ backend: { ...report('h0@old#x'), allocated_capacity_gb: 1 } }),
      }),
      /not one of the live pools/,
    );
    assert.deepEqual(await s.listClaims(), []);
    assert.equal((await pool(s, 'h0@old#x')).allocated_capacity_gb, 0);
    await s.close();
  });
});

describe('releaseCapacity', () => {
  test('gives back exactly once and leaves the host to the workflow', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    await s.reportPoolStats('h1@lvm', [report('h1@lvm#a', { free_capacity_gb: 30, provisioned_capacity_gb: 3 })], T0);
    await addVolume(s, 'v1', 10);
    await s.claimCapacity({ volumeId: 'v1', attempt: 1, sizeGb: 10, liveSince: T0, now: T1, choose: firstFit(10) });
    let a = await pool(s, 'h1@lvm#a');
    assert.deepEqual([a.allocated_capacity_gb, a.provisioned_capacity_gb, a.free_capacity_gb], [10, 13, 20]);

    assert.equal(await s.releaseCapacity('v1', 1, T2), true);
    assert.equal(await s.releaseCapacity('v1', 1, T2), false);
    assert.equal(await s.releaseCapacity('v1', 2, T2), false);
    assert.equal(await s.releaseCapacity('nope', 1, T2), false);
    a = await pool(s, 'h1@lvm#a');
    assert.deepEqual([a.allocated_capacity_gb, a.provisioned_capacity_gb, a.free_capacity_gb], [0, 3, 30]);
    assert.equal((await s.listClaims('v1'))[0].status, 'released');
    assert.equal((await s.getVolume('v1'))?.host, 'h1@lvm#a');

    // The next attempt claims afresh; a released claim is still "existing" for its own attempt.
    const second = await s.claimCapacity({ volumeId: 'v1', attempt: 2, sizeGb: 10, liveSince: T0, now: T2, choose: firstFit(10) });
    assert.equal(second.existing, false);
    const replay = await s.claimCapacity({ volumeId: 'v1', attempt: 1, sizeGb: 10, liveSince: T0, now: T2, choose: firstFit(10) });
    assert.deepEqual([replay.existing, replay.claim.status], [true, 'released']);
    assert.equal((await pool(s, 'h1@lvm#a')).allocated_capacity_gb, 10);
    await s.close();
  });

  test('non-numeric free is left alone; destroying a volume releases what it still holds', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    await s.reportPoolStats('h1@nfs', [report('h1@nfs#a', { free_capacity_gb: 'infinite' })], T0);
    await addVolume(s, 'v1', 4);
    await s.claimCapacity({
      volumeId: 'v1',
      attempt: 1,
      sizeGb: 4,
      liveSince: T0,
      now: T1,
      choose: ([p]) => ({ backend: { ...p, allocated_capacity_gb: 4, provisioned_capacity_gb: 4 } }),
    });
    await s.destroyVolume('v1');
    const a = await pool(s, 'h1@nfs#a');
    assert.deepEqual([a.allocated_capacity_gb, a.provisioned_capacity_gb, a.free_capacity_gb], [0, 0, 'infinite']);
    assert.equal((await s.listClaims('v1'))[0].status, 'released');
    assert.equal(await s.releaseCapacity('v1', 1, T2), false);
    await s.close();
  });
});
