/**
 * Alternates mode's pool selection (selectPool in src/activities/scheduler-activities.ts), pure:
 * preferred pools tried alone, in order, through a whole scheduling pass; else one full pass that
 * returns its runner-ups. Plus the scheduler_alternates create option.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { selectPool } from '../../src/activities/scheduler-activities';
import { CinderError } from '../../src/domain/cinder-errors';
import { DEFAULT_CREATE_OPTIONS, resolveCreateOptions } from '../../src/domain/create-options';
import {
  NoValidBackend,
  schedule,
  type BackendState,
  type FilterProperties,
  type ScheduleOptions,
} from '../../src/scheduler/index';
import { thickPool } from './pool-fixture';

const pool = (id: string, free: number, overrides: Partial<BackendState> = {}): BackendState =>
  thickPool({
    backend_id: id,
    total_capacity_gb: free + 100,
    free_capacity_gb: free,
    allocated_capacity_gb: 100,
    provisioned_capacity_gb: 100,
    ...overrides,
  });

const A = 'hostA@lvm#pool1';
const B = 'hostB@lvm#pool1';
const C = 'hostC@lvm#pool1';
const pools = [pool(C, 100), pool(A, 300), pool(B, 200)];
const props: FilterProperties = { size: 10, volume_id: 'v1' };
const options: ScheduleOptions = { maxAttempts: 3, alternates: 2 };

/** Runs selectPool and checks it left its inputs as they were. */
function select(backends: BackendState[], p: FilterProperties, opts: ScheduleOptions, preferred?: string[]) {
  const before = structuredClone([backends, p, opts, preferred]);
  try {
    return selectPool(backends, p, opts, preferred);
  } finally {
    assert.deepEqual([backends, p, opts, preferred], before, 'inputs untouched');
  }
}

/** The retry state after attempt 1 on `first` failed. */
const afterFailureOn = (first: string): FilterProperties => ({
  ...props,
  retry: { num_attempts: 1, backends: [first], hosts: [first], exc: 'VolumeBackendAPIException: boom' },
});

describe('selectPool (alternates mode)', () => {
  it('without preferred pools is one full pass that returns its runner-ups, best first', () => {
    const s = select(pools, props, options);
    assert.equal(s.preferred, null);
    assert.equal(s.result.backend.backend_id, A);
    assert.deepEqual(
      s.result.alternates.map((b) => b.backend_id),
      [B, C],
    );
    assert.deepEqual(s.result, schedule(pools, props, options), 'exactly the pure pass');
    assert.deepEqual(s.result.props.retry, { num_attempts: 1, backends: [A], hosts: [A] });
    assert.deepEqual(select(pools, props, options, []), s, 'an empty preferred list is the same');
  });

  it('takes the first preferred pool that passes alone, through the whole pass', () => {
    const s = select(pools, afterFailureOn(A), options, [B, C]);
    assert.equal(s.preferred, B);
    assert.equal(s.result.backend.backend_id, B);
    assert.equal(s.result.backend.allocated_capacity_gb, 110, 'consumed');
    assert.deepEqual(s.result.alternates, [], 'a preferred pool brings no alternates');
    // populateRetry dropped exc and counted the attempt; addRetryBackend added B.
    assert.deepEqual(s.result.props.retry, { num_attempts: 2, backends: [A, B], hosts: [A, B] });
  });

  it('skips a preferred pool that fails a filter alone and takes the next', () => {
    const small = [pool(C, 100), pool(A, 300), pool(B, 5)];
    const s = select(small, afterFailureOn(A), options, [B, C]);
    assert.equal(s.preferred, C);
    assert.equal(s.result.backend.backend_id, C);
  });

  it('skips a preferred pool that is no longer live', () => {
    const live = [pool(A, 300), pool(C, 100)];
    const s = select(live, afterFailureOn(A), options, [B, C]);
    assert.equal(s.preferred, C);
  });

  it('IgnoreAttemptedHostsFilter applies to preferred pools', () => {
    const s = select(
      pools,
      afterFailureOn(A),
      { ...options, filters: ['CapacityFilter', 'IgnoreAttemptedHostsFilter'] },
      [A, C],
    );
    assert.equal(s.preferred, C, 'A was attempted, so C is taken');
  });

  it('falls back to a full pass, with alternates, when no preferred pool passes', () => {
    const small = [pool(C, 5), pool(A, 300), pool(B, 5), pool('hostD@lvm#pool1', 50)];
    const s = select(small, afterFailureOn(A), options, [B, C]);
    assert.equal(s.preferred, null);
    assert.equal(s.result.backend.backend_id, 'hostD@lvm#pool1');
    assert.deepEqual(s.result.alternates, [], 'A was attempted, B and C are too small');
    assert.deepEqual(s.result.props.retry, {
      num_attempts: 2,
      backends: [A, 'hostD@lvm#pool1'],
      hosts: [A, 'hostD@lvm#pool1'],
    });
  });

  it('the full pass fails as the pure pass does, naming the filter', () => {
    const small = [pool(A, 300), pool(B, 5)];
    assert.throws(
      () => select(small, afterFailureOn(A), options, [B]),
      (e: unknown) =>
        e instanceof NoValidBackend && /IgnoreAttemptedHostsFilter removed the last 1 of 2 pools/.test(e.reason),
    );
  });

  it('max attempts still bounds everything', () => {
    const exhausted: FilterProperties = { ...props, retry: { num_attempts: 3, backends: [A, B, C], hosts: [A, B, C] } };
    assert.throws(
      () => select(pools, exhausted, { ...options, filters: ['CapacityFilter'] }, [B, C]),
      (e: unknown) => e instanceof NoValidBackend && e.reason === 'Exceeded max scheduling attempts 3 for resource v1',
    );
  });

  it('an invalid configuration is not swallowed by the preferred loop', () => {
    assert.throws(
      () => select(pools, props, { ...options, maxAttempts: 0 }, [B]),
      (e: unknown) => !(e instanceof NoValidBackend),
    );
  });
});

describe('scheduler_alternates option', () => {
  it('is 0 (off) by default', () => {
    assert.equal(DEFAULT_CREATE_OPTIONS.scheduler_alternates, 0);
    assert.equal(resolveCreateOptions(DEFAULT_CREATE_OPTIONS, { scheduler_alternates: 2 }).scheduler_alternates, 2);
  });
  it('must be a whole number >= 0', () => {
    for (const value of [-1, 1.5, '2', Number.NaN, true]) {
      assert.throws(
        () => resolveCreateOptions(DEFAULT_CREATE_OPTIONS, { scheduler_alternates: value }),
        (e: unknown) => e instanceof CinderError && e.field === 'options.scheduler_alternates',
        String(value),
      );
    }
  });
});
