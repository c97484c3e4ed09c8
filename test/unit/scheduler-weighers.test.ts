import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  DEFAULT_WEIGHERS,
  weighBackends,
  type BackendState,
  type FilterProperties,
  type WeigherSpec,
} from '../../src/scheduler/index';
import { thickPool } from './pool-fixture';

/** A thick-only pool whose virtual free capacity is simply `free` (nothing reserved or provisioned). */
const pool = (
  id: string,
  free: BackendState['free_capacity_gb'],
  overrides: Partial<BackendState> = {},
): BackendState =>
  thickPool({
    backend_id: `host@lvm#${id}`,
    total_capacity_gb: typeof free === 'number' ? free : 1000,
    free_capacity_gb: free,
    ...overrides,
  });

const request: FilterProperties = { size: 1 };

function weigh(backends: BackendState[], weighers: readonly WeigherSpec[], props = request) {
  const before = structuredClone([backends, props, weighers]);
  const out = weighBackends(backends, props, weighers);
  assert.deepEqual([backends, props, weighers], before, 'inputs untouched');
  return out.map(({ backend, weight }) => [backend.backend_id.split('#')[1], weight] as const);
}

const near = (actual: ReadonlyArray<readonly [string | undefined, number]>, expected: Array<[string, number]>) => {
  assert.deepEqual(
    actual.map(([id]) => id),
    expected.map(([id]) => id),
  );
  actual.forEach(([, weight], i) =>
    assert.ok(Math.abs(weight - expected[i]![1]) < 1e-12, `${weight} vs ${expected[i]![1]}`),
  );
};

describe('weighBackends with CapacityWeigher', () => {
  it('is the default weigher, at multiplier 1', () => {
    assert.deepEqual(DEFAULT_WEIGHERS, [{ name: 'CapacityWeigher' }]);
  });

  it('normalizes virtual free capacity to 0..1 and puts the freest first', () => {
    // Free 100, 300, 200 → (w − 100) / 200 → 0, 1, 0.5.
    near(weigh([pool('a', 100), pool('b', 300), pool('c', 200)], DEFAULT_WEIGHERS), [
      ['b', 1],
      ['c', 0.5],
      ['a', 0],
    ]);
  });

  it('applies the multiplier after normalizing', () => {
    near(weigh([pool('a', 100), pool('b', 300), pool('c', 200)], [{ name: 'CapacityWeigher', multiplier: 2 }]), [
      ['b', 2],
      ['c', 1],
      ['a', 0],
    ]);
    near(weigh([pool('a', 100), pool('b', 300), pool('c', 200)], [{ name: 'CapacityWeigher', multiplier: -1 }]), [
      ['a', 0],
      ['c', -0.5],
      ['b', -1],
    ]);
  });

  it('weighs thick capacity when the volume type asks for thick', () => {
    // Thin pool: 100 total, ratio 4, 50 provisioned, 90 free: thin 400 − 50 = 350, thick min(90, 50) = 50.
    const thinPool = pool('thin', 90, {
      total_capacity_gb: 100,
      provisioned_capacity_gb: 50,
      thin_provisioning_support: true,
      max_over_subscription_ratio: 4,
    });
    const thickPool = pool('thick', 200);
    near(weigh([thickPool, thinPool], DEFAULT_WEIGHERS), [
      ['thin', 1],
      ['thick', 0],
    ]);
    const thick: FilterProperties = { size: 1, volume_type: { extra_specs: { 'provisioning:type': 'thick' } } };
    near(weigh([thinPool, thickPool], DEFAULT_WEIGHERS, thick), [
      ['thick', 1],
      ['thin', 0],
    ]);
  });

  it('keeps input order between equal weights, all weighing 0', () => {
    near(weigh([pool('x', 50), pool('y', 50), pool('z', 50)], DEFAULT_WEIGHERS), [
      ['x', 0],
      ['y', 0],
      ['z', 0],
    ]);
    near(weigh([pool('z', 50), pool('y', 50), pool('x', 50)], DEFAULT_WEIGHERS), [
      ['z', 0],
      ['y', 0],
      ['x', 0],
    ]);
  });

  it('weighs infinite or unknown capacity as -1 under a positive multiplier', () => {
    // Raw 100, 300, -1 → (w + 1) / 301.
    near(weigh([pool('a', 100), pool('b', 300), pool('inf', 'infinite')], DEFAULT_WEIGHERS), [
      ['b', 1],
      ['a', 101 / 301],
      ['inf', 0],
    ]);
    near(weigh([pool('unk', 100, { total_capacity_gb: 'unknown' }), pool('a', 100)], DEFAULT_WEIGHERS), [
      ['a', 1],
      ['unk', 0],
    ]);
  });

  it('weighs them just above the largest finite weight under a negative multiplier', () => {
    // Raw 100, 300, 301 → (w − 100) / 201 × −1.
    near(
      weigh([pool('a', 100), pool('b', 300), pool('inf', 'infinite')], [{ name: 'CapacityWeigher', multiplier: -1 }]),
      [
        ['a', 0],
        ['b', -200 / 201],
        ['inf', -1],
      ],
    );
  });

  it('treats them as equal, without crashing, when no candidate has a finite figure', () => {
    const all = [pool('p', 'infinite'), pool('q', 'unknown'), pool('r', 10, { total_capacity_gb: 'infinite' })];
    for (const multiplier of [-1, 1]) {
      near(weigh(all, [{ name: 'CapacityWeigher', multiplier }]), [
        ['p', 0],
        ['q', 0],
        ['r', 0],
      ]);
    }
  });
});

describe('weighBackends with AllocatedCapacityWeigher', () => {
  it('puts the least allocated first at its default multiplier -1', () => {
    const pools = [
      pool('a', 100, { allocated_capacity_gb: 10 }),
      pool('b', 100, { allocated_capacity_gb: 50 }),
      pool('c', 100, { allocated_capacity_gb: 30 }),
    ];
    near(weigh(pools, [{ name: 'AllocatedCapacityWeigher' }]), [
      ['a', 0],
      ['c', -0.5],
      ['b', -1],
    ]);
    near(weigh(pools, [{ name: 'AllocatedCapacityWeigher', multiplier: 1 }]), [
      ['b', 1],
      ['c', 0.5],
      ['a', 0],
    ]);
  });
});

describe('weighBackends with several weighers', () => {
  it("sums each weigher's normalized, multiplied weights", () => {
    // Capacity: 100, 300, 200 → 0, 1, 0.5. Allocated: 0, 40, 10 → 0, 1, 0.25, × −1.
    // Sums: 0, 0, 0.25 → p3 first, then p1 and p2 tied in input order.
    const pools = [
      pool('p1', 100, { allocated_capacity_gb: 0 }),
      pool('p2', 300, { allocated_capacity_gb: 40 }),
      pool('p3', 200, { allocated_capacity_gb: 10 }),
    ];
    near(weigh(pools, [{ name: 'CapacityWeigher' }, { name: 'AllocatedCapacityWeigher' }]), [
      ['p3', 0.25],
      ['p1', 0],
      ['p2', 0],
    ]);
  });

  it('returns nothing for no candidates, and input order for no weighers', () => {
    assert.deepEqual(weighBackends([], request, DEFAULT_WEIGHERS), []);
    near(weigh([pool('a', 1), pool('b', 2)], []), [
      ['a', 0],
      ['b', 0],
    ]);
  });

  it('returns the backends themselves, not copies', () => {
    const pools = [pool('a', 1), pool('b', 2)];
    const out = weighBackends(pools, request, DEFAULT_WEIGHERS);
    assert.equal(out[0]!.backend, pools[1]);
    assert.equal(out[1]!.backend, pools[0]);
  });

  it('rejects an unknown weigher', () => {
    assert.throws(
      () => weighBackends([pool('a', 1)], request, [{ name: 'GoodnessWeigher' } as unknown as WeigherSpec]),
      /Unknown scheduler weigher GoodnessWeigher/,
    );
  });

  it('orders a long list the same way as a stable sort', () => {
    // Enough candidates and runners-up to take the full-sort path as well as the top-k path.
    const pools = Array.from({ length: 60 }, (_, i) => pool(`p${i}`, (i * 37) % 11));
    const out = weighBackends(pools, request, DEFAULT_WEIGHERS).map(({ backend }) => backend.backend_id);
    const expected = pools
      .map((p, i) => ({ id: p.backend_id, free: p.free_capacity_gb as number, i }))
      .sort((a, b) => b.free - a.free || a.i - b.i)
      .map(({ id }) => id);
    assert.deepEqual(out, expected);
  });
});
