import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  DEFAULT_FILTERS,
  FILTERS,
  capacityFactors,
  roundCapacity,
  virtualFreeCapacity,
  type BackendState,
  type FilterProperties,
} from '../../src/scheduler/index';
import { thickPool } from './pool-fixture';

/** A pool with round numbers; each test overrides what it is about. */
const pool = thickPool;

const thick = { extra_specs: { 'provisioning:type': 'thick' } };

/** Runs a filter and checks it left both arguments as they were. */
function passes(name: keyof typeof FILTERS, backend: BackendState, props: FilterProperties): boolean {
  const backendBefore = structuredClone(backend);
  const propsBefore = structuredClone(props);
  const result = FILTERS[name](backend, props);
  assert.deepEqual(backend, backendBefore);
  assert.deepEqual(props, propsBefore);
  return result;
}

describe('FILTERS', () => {
  it('holds the four filters by their Cinder names, frozen', () => {
    assert.deepEqual(Object.keys(FILTERS).sort(), [
      'AvailabilityZoneFilter',
      'CapabilitiesFilter',
      'CapacityFilter',
      'IgnoreAttemptedHostsFilter',
    ]);
    assert.ok(Object.isFrozen(FILTERS));
    assert.deepEqual(DEFAULT_FILTERS, [
      'AvailabilityZoneFilter',
      'CapacityFilter',
      'CapabilitiesFilter',
      'IgnoreAttemptedHostsFilter',
    ]);
  });
});

describe('AvailabilityZoneFilter', () => {
  it('passes every pool when no zone is requested (an empty zone counts as none)', () => {
    assert.equal(passes('AvailabilityZoneFilter', pool(), { size: 1 }), true);
    assert.equal(passes('AvailabilityZoneFilter', pool(), { size: 1, availability_zone: '' }), true);
  });

  it('passes only pools in exactly the requested zone', () => {
    assert.equal(passes('AvailabilityZoneFilter', pool(), { size: 1, availability_zone: 'az1' }), true);
    assert.equal(passes('AvailabilityZoneFilter', pool(), { size: 1, availability_zone: 'az2' }), false);
    assert.equal(passes('AvailabilityZoneFilter', pool(), { size: 1, availability_zone: 'AZ1' }), false);
  });
});

describe('IgnoreAttemptedHostsFilter', () => {
  const tried: FilterProperties = {
    size: 1,
    retry: { num_attempts: 2, backends: ['host1@lvm#pool1'], hosts: ['host1@lvm#pool1'] },
  };

  it('passes every pool without a retry', () => {
    assert.equal(passes('IgnoreAttemptedHostsFilter', pool(), { size: 1 }), true);
  });

  it('fails exactly the pools already tried', () => {
    assert.equal(passes('IgnoreAttemptedHostsFilter', pool(), tried), false);
  });

  it('passes another pool of the same backend, and is not fooled by a host prefix', () => {
    assert.equal(passes('IgnoreAttemptedHostsFilter', pool({ backend_id: 'host1@lvm#pool2' }), tried), true);
    const hostOnly: FilterProperties = {
      size: 1,
      retry: { num_attempts: 2, backends: ['host1@lvm'], hosts: ['host1@lvm'] },
    };
    assert.equal(passes('IgnoreAttemptedHostsFilter', pool(), hostOnly), true);
  });
});

describe('capacity factors', () => {
  it('works the thin example through: reserved 10, available 90, total_available 180, free 130', () => {
    const thin = pool({
      total_capacity_gb: 100,
      free_capacity_gb: 60,
      reserved_percentage: 10,
      max_over_subscription_ratio: 2,
      provisioned_capacity_gb: 50,
      thin_provisioning_support: true,
    });
    assert.deepEqual(capacityFactors(thin, true), {
      reserved: 10,
      available: 90,
      thin: true,
      ratio: 2,
      totalAvailable: 180,
      virtualFree: 130,
    });
    // The same pool asked for thick: min(free 60, available 90 - provisioned 50) = 40.
    assert.deepEqual(capacityFactors(thin, false), {
      reserved: 10,
      available: 90,
      thin: false,
      ratio: 1,
      totalAvailable: 90,
      virtualFree: 40,
    });
    assert.equal(virtualFreeCapacity(thin), 130);
    assert.equal(virtualFreeCapacity(thin, false), 40);
  });

  it('floors the reservation and reads total × pct / 100 exactly', () => {
    assert.equal(capacityFactors(pool({ total_capacity_gb: 55, reserved_percentage: 10 }), true)!.reserved, 5);
    // 100 × 0.29 is 28.999999999999996 in floating point; the spec's 100 × 29 / 100 is 29.
    assert.equal(capacityFactors(pool({ reserved_percentage: 29 }), true)!.reserved, 29);
  });

  it('rounds total_available and virtual_free to 2 decimals', () => {
    const factors = capacityFactors(
      pool({ total_capacity_gb: 10, thin_provisioning_support: true, max_over_subscription_ratio: 1.3333 }),
      true,
    )!;
    assert.equal(factors.totalAvailable, 13.33);
    assert.equal(factors.virtualFree, 13.33);
  });

  it('has no figure for infinite, unknown or missing capacity', () => {
    assert.equal(virtualFreeCapacity(pool({ free_capacity_gb: 'infinite' })), undefined);
    assert.equal(virtualFreeCapacity(pool({ total_capacity_gb: 'unknown' })), undefined);
    assert.equal(virtualFreeCapacity(pool({ free_capacity_gb: null })), undefined);
  });

  it('rounds like Python round(x, 2): exact binary value, ties to even', () => {
    assert.equal(roundCapacity(0.125), 0.12);
    assert.equal(roundCapacity(0.375), 0.38);
    assert.equal(roundCapacity(2.675), 2.67); // really 2.67499999…
    assert.equal(roundCapacity(1.005), 1); // really 1.00499999…
    assert.equal(roundCapacity(0.1 + 0.2), 0.3);
    assert.equal(roundCapacity(-0.125), -0.12);
    assert.ok(Object.is(roundCapacity(-0.001), 0), 'no negative zero');
    assert.equal(roundCapacity(123456.789), 123456.79);
  });
});

describe('CapacityFilter', () => {
  const thinPool = pool({
    total_capacity_gb: 100,
    free_capacity_gb: 60,
    reserved_percentage: 10,
    max_over_subscription_ratio: 2,
    provisioned_capacity_gb: 50,
    thin_provisioning_support: true,
  });

  it('passes a thin request up to the virtual free capacity (130 of 180 with 50 provisioned)', () => {
    assert.equal(passes('CapacityFilter', thinPool, { size: 130 }), true);
    assert.equal(passes('CapacityFilter', thinPool, { size: 131 }), false);
  });

  it('uses min(free, available - provisioned) for a thick request', () => {
    const props = (size: number): FilterProperties => ({ size, volume_type: thick });
    assert.equal(passes('CapacityFilter', thinPool, props(40)), true);
    assert.equal(passes('CapacityFilter', thinPool, props(41)), false);
  });

  it('only "thick" exactly asks for thick provisioning', () => {
    const props: FilterProperties = { size: 130, volume_type: { extra_specs: { 'provisioning:type': 'Thick' } } };
    assert.equal(passes('CapacityFilter', thinPool, props), true);
    const thinAsked: FilterProperties = { size: 130, volume_type: { extra_specs: { 'provisioning:type': 'thin' } } };
    assert.equal(passes('CapacityFilter', thinPool, thinAsked), true);
  });

  it('ignores the over-subscription ratio of a pool without thin support', () => {
    // available 90, free 70, provisioned 30 → min(70, 60) = 60 whatever the ratio.
    const thickPool = pool({
      free_capacity_gb: 70,
      reserved_percentage: 10,
      provisioned_capacity_gb: 30,
      max_over_subscription_ratio: 5,
    });
    assert.equal(passes('CapacityFilter', thickPool, { size: 60 }), true);
    assert.equal(passes('CapacityFilter', thickPool, { size: 61 }), false);
    assert.equal(
      passes('CapacityFilter', pool({ max_over_subscription_ratio: 0.5 }), { size: 100 }),
      true,
      'a ratio below 1 does not matter without thin support',
    );
  });

  it('fails a thin pool whose ratio is below 1, however empty', () => {
    const underRatio = pool({ thin_provisioning_support: true, max_over_subscription_ratio: 0.8 });
    assert.equal(passes('CapacityFilter', underRatio, { size: 1 }), false);
    assert.equal(
      passes('CapacityFilter', underRatio, { size: 1, volume_type: thick }),
      true,
      'a thick request does not use the ratio',
    );
  });

  it('fails when (provisioned + size) / total_available exceeds the ratio', () => {
    // Ratio 1, total_available 100, provisioned 0.004: virtual free rounds to 100.00, so size 100
    // passes the free-space test, but (0.004 + 100) / 100 = 1.00004 > 1.
    const edge = pool({
      thin_provisioning_support: true,
      max_over_subscription_ratio: 1,
      provisioned_capacity_gb: 0.004,
    });
    assert.equal(virtualFreeCapacity(edge), 100);
    assert.equal(passes('CapacityFilter', edge, { size: 100 }), false);
    assert.equal(passes('CapacityFilter', edge, { size: 99.99 }), true);
  });

  it('passes a zero-size request before looking at anything else', () => {
    assert.equal(passes('CapacityFilter', pool({ free_capacity_gb: null, total_capacity_gb: 0 }), { size: 0 }), true);
  });

  it('fails a pool whose stats are broken (free null)', () => {
    assert.equal(passes('CapacityFilter', pool({ free_capacity_gb: null }), { size: 1 }), false);
  });

  it('passes an infinite or unknown free capacity', () => {
    for (const free of ['infinite', 'unknown'] as const) {
      assert.equal(
        passes('CapacityFilter', pool({ free_capacity_gb: free, reserved_percentage: 50 }), { size: 1e6 }),
        true,
      );
    }
  });

  it('passes an infinite or unknown total only without a reservation', () => {
    for (const total of ['infinite', 'unknown'] as const) {
      assert.equal(passes('CapacityFilter', pool({ total_capacity_gb: total }), { size: 1e6 }), true);
      assert.equal(
        passes('CapacityFilter', pool({ total_capacity_gb: total, reserved_percentage: 5 }), { size: 1 }),
        false,
      );
    }
  });

  it('fails a total of zero or less', () => {
    assert.equal(passes('CapacityFilter', pool({ total_capacity_gb: 0 }), { size: 1 }), false);
    assert.equal(passes('CapacityFilter', pool({ total_capacity_gb: -5 }), { size: 1 }), false);
  });

  it('fails, without dividing by zero, a thin pool that reserves 100%', () => {
    const allReserved = pool({
      reserved_percentage: 100,
      thin_provisioning_support: true,
      max_over_subscription_ratio: 20,
    });
    assert.equal(capacityFactors(allReserved, true)!.totalAvailable, 0);
    assert.equal(passes('CapacityFilter', allReserved, { size: 1 }), false);
    assert.equal(passes('CapacityFilter', allReserved, { size: 1, volume_type: thick }), false);
    assert.equal(passes('CapacityFilter', pool({ reserved_percentage: 100 }), { size: 1 }), false);
  });

  it('counts the reservation against a thick pool', () => {
    // total 100, 25% reserved → available 75, free 80, provisioned 0 → min(80, 75) = 75.
    const reserved = pool({ free_capacity_gb: 80, reserved_percentage: 25 });
    assert.equal(passes('CapacityFilter', reserved, { size: 75 }), true);
    assert.equal(passes('CapacityFilter', reserved, { size: 76 }), false);
  });
});
