import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  NO_POOLS_REASON,
  NoValidBackend,
  consumeFromVolume,
  schedule,
  weighBackends,
  type BackendState,
  type FilterProperties,
  type ScheduleOptions,
} from '../../src/scheduler/index';
import { thickPool } from './pool-fixture';

/** A thick-only pool whose virtual free capacity is `free`. */
const pool = (
  id: string,
  free: BackendState['free_capacity_gb'],
  overrides: Partial<BackendState> = {},
): BackendState =>
  thickPool({
    backend_id: id,
    total_capacity_gb: typeof free === 'number' ? free + 100 : 1000,
    free_capacity_gb: free,
    allocated_capacity_gb: 100,
    provisioned_capacity_gb: 100,
    capabilities: { storage_protocol: 'iSCSI' },
    ...overrides,
  });

const options: ScheduleOptions = { maxAttempts: 3 };

/** Runs a pass and checks it left its inputs as they were. */
function run(backends: BackendState[], props: FilterProperties, opts: ScheduleOptions = options) {
  const before = structuredClone([backends, props, opts]);
  try {
    return schedule(backends, props, opts);
  } finally {
    assert.deepEqual([backends, props, opts], before, 'inputs untouched');
  }
}

/** The reason of the NoValidBackend a pass throws. */
function reasonOf(backends: BackendState[], props: FilterProperties, opts: ScheduleOptions = options): string {
  try {
    run(backends, props, opts);
  } catch (error) {
    assert.ok(error instanceof NoValidBackend, `expected NoValidBackend, got ${String(error)}`);
    assert.equal(error.message, `No valid backend was found. ${error.reason}`);
    return error.reason;
  }
  assert.fail('expected NoValidBackend');
}

const three = () => [pool('h1@lvm#a', 100), pool('h2@lvm#b', 300), pool('h3@lvm#c', 200)];

describe('schedule', () => {
  it('chooses the freest pool, consumes it and records the attempt', () => {
    const result = run(three(), { size: 10, volume_id: 'vol-1' });
    assert.deepEqual(result.backend, {
      ...pool('h2@lvm#b', 300),
      allocated_capacity_gb: 110,
      provisioned_capacity_gb: 110,
      free_capacity_gb: 290,
    });
    assert.deepEqual(result.props, {
      size: 10,
      volume_id: 'vol-1',
      retry: { num_attempts: 1, backends: ['h2@lvm#b'], hosts: ['h2@lvm#b'] },
    });
    assert.deepEqual(result.alternates, []);
  });

  it('returns runners-up as alternates, best first and not consumed', () => {
    const pools = three();
    const result = run(pools, { size: 10, volume_id: 'vol-1' }, { ...options, alternates: 2 });
    assert.deepEqual(
      result.alternates.map((b) => b.backend_id),
      ['h3@lvm#c', 'h1@lvm#a'],
    );
    assert.deepEqual(result.alternates, [pools[2], pools[0]]);
  });

  it('returns as many alternates as there are runners-up', () => {
    const result = run(three(), { size: 10 }, { ...options, alternates: 10 });
    assert.equal(result.alternates.length, 2);
    assert.deepEqual(run(three(), { size: 10 }, { ...options, alternates: 0 }).alternates, []);
  });

  it('orders alternates exactly as weighBackends does, even for many', () => {
    const pools = Array.from({ length: 40 }, (_, i) => pool(`h${i}@lvm#p`, 50 + ((i * 7) % 13)));
    const props: FilterProperties = { size: 1 };
    const ranked = weighBackends(pools, props, [{ name: 'CapacityWeigher' }]).map((w) => w.backend.backend_id);
    for (const alternates of [3, 30]) {
      const result = run(pools, props, { ...options, alternates });
      assert.deepEqual(
        [result.backend.backend_id, ...result.alternates.map((b) => b.backend_id)],
        ranked.slice(0, alternates + 1),
      );
    }
  });

  it('keeps infinite free capacity as it is when consuming', () => {
    const result = run([pool('h@x#inf', 'infinite')], { size: 10 });
    assert.equal(result.backend.free_capacity_gb, 'infinite');
    assert.equal(result.backend.allocated_capacity_gb, 110);
    assert.equal(result.backend.provisioned_capacity_gb, 110);
  });

  it('uses the given weighers', () => {
    const pools = [
      pool('h1@lvm#a', 100, { allocated_capacity_gb: 30 }),
      pool('h2@lvm#b', 300, { allocated_capacity_gb: 90 }),
      pool('h3@lvm#c', 200, { allocated_capacity_gb: 10 }),
    ];
    const result = run(pools, { size: 1 }, { ...options, weighers: [{ name: 'AllocatedCapacityWeigher' }] });
    assert.equal(result.backend.backend_id, 'h3@lvm#c');
  });

  it('runs no filters when given none', () => {
    const result = run(
      [pool('h1@lvm#tiny', 1, { availability_zone: 'elsewhere' })],
      { size: 50, availability_zone: 'az1' },
      {
        ...options,
        filters: [],
      },
    );
    assert.equal(result.backend.backend_id, 'h1@lvm#tiny');
  });

  it('rejects an unknown filter name', () => {
    assert.throws(
      () => run(three(), { size: 1 }, { ...options, filters: ['RetryFilter' as never] }),
      (error: unknown) =>
        error instanceof Error && !(error instanceof NoValidBackend) && /RetryFilter/.test(error.message),
    );
  });

  it('keeps no retry when rescheduling is disabled', () => {
    const result = run(three(), { size: 10, volume_id: 'vol-1' }, { maxAttempts: 1 });
    assert.equal('retry' in result.props, false);
    assert.equal(result.backend.backend_id, 'h2@lvm#b');
  });
});

describe('schedule across attempts', () => {
  it('skips the pools already tried, then gives up after max attempts', () => {
    let pools = three();
    let props: FilterProperties = { size: 10, volume_id: 'vol-9' };
    const chosen: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const result = run(pools, props);
      chosen.push(result.backend.backend_id);
      assert.equal(result.props.retry!.num_attempts, attempt);
      pools = pools.map((p) => (p.backend_id === result.backend.backend_id ? result.backend : p));
      // The volume service fails and sends the request back with its error.
      props = { ...result.props, retry: { ...result.props.retry!, exc: `attempt ${attempt} failed` } };
    }
    assert.deepEqual(chosen, ['h2@lvm#b', 'h3@lvm#c', 'h1@lvm#a']);
    assert.deepEqual(props.retry!.backends, chosen);
    assert.equal(reasonOf(pools, props), 'Exceeded max scheduling attempts 3 for resource vol-9');
  });

  it('may pick the pool that just failed when IgnoreAttemptedHostsFilter is off (stock Cinder)', () => {
    const props: FilterProperties = {
      size: 10,
      retry: { num_attempts: 1, backends: ['h2@lvm#b'], hosts: ['h2@lvm#b'] },
    };
    const stock = run(three(), props, {
      ...options,
      filters: ['AvailabilityZoneFilter', 'CapacityFilter', 'CapabilitiesFilter'],
    });
    assert.equal(stock.backend.backend_id, 'h2@lvm#b');
    assert.equal(run(three(), props).backend.backend_id, 'h3@lvm#c');
  });

  it('fails when every pool has been tried, naming the filter', () => {
    const props: FilterProperties = {
      size: 10,
      volume_id: 'vol-3',
      retry: { num_attempts: 1, backends: ['h1@lvm#a', 'h2@lvm#b', 'h3@lvm#c'], hosts: [] },
    };
    assert.equal(
      reasonOf(three(), props),
      'No pool passed the filters for volume vol-3 (size 10 GiB): IgnoreAttemptedHostsFilter removed the last 3 of 3 pools ' +
        '(AvailabilityZoneFilter removed 0, CapacityFilter removed 0, CapabilitiesFilter removed 0, IgnoreAttemptedHostsFilter removed 3)',
    );
  });

  it('spreads a burst: each pass sees what the previous ones consumed', () => {
    let pools = [pool('h1@lvm#a', 100), pool('h2@lvm#b', 105)];
    const picks: string[] = [];
    for (let i = 0; i < 4; i++) {
      const result = run(pools, { size: 10 });
      picks.push(result.backend.backend_id);
      pools = pools.map((p) => (p.backend_id === result.backend.backend_id ? result.backend : p));
    }
    // b 105 → 95 < a 100 → a 90 < b 95 → b 85 < a 90 → a.
    assert.deepEqual(picks, ['h2@lvm#b', 'h1@lvm#a', 'h2@lvm#b', 'h1@lvm#a']);
  });
});

describe('schedule failures', () => {
  it('says so when there are no pools at all', () => {
    assert.equal(NO_POOLS_REASON, 'No pools are reported by any live volume service');
    assert.equal(reasonOf([], { size: 1, volume_id: 'vol-1' }), 'No pools are reported by any live volume service');
  });

  it('checks the attempts before anything else', () => {
    const props: FilterProperties = { size: 1, volume_id: 'v', retry: { num_attempts: 3, backends: [], hosts: [] } };
    assert.equal(reasonOf([], props), 'Exceeded max scheduling attempts 3 for resource v');
  });

  it('names the filter that removed the last pools and what each filter removed', () => {
    const pools = [
      pool('h1@lvm#a', 500, { availability_zone: 'az2' }),
      pool('h2@lvm#a', 5),
      pool('h3@lvm#a', 500, { availability_zone: 'az2' }),
      pool('h4@lvm#a', 9),
      pool('h5@lvm#a', 500, { availability_zone: 'az3' }),
    ];
    assert.equal(
      reasonOf(pools, { size: 10, volume_id: 'vol-7', availability_zone: 'az1' }),
      'No pool passed the filters for volume vol-7 (size 10 GiB): CapacityFilter removed the last 2 of 5 pools ' +
        '(AvailabilityZoneFilter removed 3, CapacityFilter removed 2)',
    );
  });

  it('lists filters that removed nothing before the one that emptied the list', () => {
    const pools = [pool('h1@lvm#a', 500), pool('h2@lvm#a', 5), pool('h3@lvm#a', 500)];
    const props: FilterProperties = {
      size: 10,
      volume_id: 'vol-8',
      volume_type: { extra_specs: { 'capabilities:storage_protocol': 'FC' } },
    };
    assert.equal(
      reasonOf(pools, props),
      'No pool passed the filters for volume vol-8 (size 10 GiB): CapabilitiesFilter removed the last 2 of 3 pools ' +
        '(AvailabilityZoneFilter removed 0, CapacityFilter removed 1, CapabilitiesFilter removed 2)',
    );
  });

  it('reads well for a single pool and a request without a volume id', () => {
    assert.equal(
      reasonOf([pool('h1@lvm#a', 5)], { size: 6 }),
      'No pool passed the filters for the request (size 6 GiB): CapacityFilter removed the last 1 of 1 pool ' +
        '(AvailabilityZoneFilter removed 0, CapacityFilter removed 1)',
    );
  });

  it('fails a pool with broken stats and a thin pool that reserves everything, without crashing', () => {
    const pools = [
      pool('h1@lvm#broken', null),
      pool('h2@lvm#full', 100, {
        reserved_percentage: 100,
        thin_provisioning_support: true,
        max_over_subscription_ratio: 20,
      }),
    ];
    assert.equal(
      reasonOf(pools, { size: 1, volume_id: 'v' }),
      'No pool passed the filters for volume v (size 1 GiB): CapacityFilter removed the last 2 of 2 pools ' +
        '(AvailabilityZoneFilter removed 0, CapacityFilter removed 2)',
    );
  });

  it('chooses among infinite pools under a negative multiplier without crashing', () => {
    const pools = [pool('h1@x#a', 'infinite'), pool('h2@x#b', 'unknown')];
    const result = run(
      pools,
      { size: 1 },
      { ...options, weighers: [{ name: 'CapacityWeigher', multiplier: -1 }], alternates: 1 },
    );
    assert.equal(result.backend.backend_id, 'h1@x#a');
    assert.deepEqual(
      result.alternates.map((b) => b.backend_id),
      ['h2@x#b'],
    );
  });
});

describe('consumeFromVolume', () => {
  it('grows allocated and provisioned and shrinks a numeric free, on a copy', () => {
    const backend = pool('h@b#p', 50);
    const before = structuredClone(backend);
    const consumed = consumeFromVolume(backend, 20);
    assert.deepEqual(consumed, {
      ...before,
      allocated_capacity_gb: 120,
      provisioned_capacity_gb: 120,
      free_capacity_gb: 30,
    });
    assert.deepEqual(backend, before);
    assert.notEqual(consumed, backend);
  });

  it('leaves infinite, unknown and null free capacity as they are', () => {
    for (const free of ['infinite', 'unknown', null] as const) {
      assert.equal(consumeFromVolume(pool('h@b#p', free), 5).free_capacity_gb, free);
    }
  });
});
