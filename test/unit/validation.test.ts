import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CinderError } from '../../src/domain/cinder-errors';
import { DEFAULT_CREATE_OPTIONS, effectiveFilters, resolveCreateOptions } from '../../src/domain/create-options';
import { validateCreateRequest, volumeSourceOf } from '../../src/domain/validation';

const base = { volume_id: 'v1', project_id: 'p1', size: 1 };

function rejects(request: unknown, field: string, text: RegExp) {
  assert.throws(
    () => validateCreateRequest(request),
    (err: unknown) => err instanceof CinderError && err.cinderType === 'InvalidInput' && err.field === field && text.test(err.message) && err.message.includes(`'${field}'`),
  );
}

describe('validateCreateRequest', () => {
  it('accepts a minimal request and keeps it as is', () => {
    assert.deepEqual(validateCreateRequest(base), base);
  });
  it('size must be a positive whole number of GiB within the maximum', () => {
    rejects({ ...base, size: 0 }, 'size', /positive whole number of GiB, got 0/);
    rejects({ ...base, size: -2 }, 'size', /got -2/);
    rejects({ ...base, size: 1.5 }, 'size', /got 1.5/);
    rejects({ ...base, size: '10' }, 'size', /got "10"/);
    rejects({ ...base, size: 1001 }, 'size', /1001 GiB exceeds the maximum of 1000 GiB/);
    rejects({ volume_id: 'v1', project_id: 'p1' }, 'size', /is required/);
    assert.equal(validateCreateRequest({ ...base, size: 1000 }).size, 1000);
  });
  it('names unknown fields, missing ids and bad ids', () => {
    rejects({ ...base, colour: 'red' }, 'colour', /not a known field/);
    rejects({ project_id: 'p1', size: 1 }, 'volume_id', /is required/);
    rejects({ ...base, project_id: 'a b' }, 'project_id', /must be an id/);
  });
  it('allows at most one source', () => {
    rejects({ ...base, snapshot_id: 's1', image_id: 'i1' }, 'image_id', /cannot be combined with snapshot_id/);
    assert.deepEqual(volumeSourceOf({ ...base, snapshot_id: 's1' }), { type: 'snap', snapshot_id: 's1' });
    assert.deepEqual(volumeSourceOf({ ...base, source_volid: 'v0' }), { type: 'source_vol', source_volid: 'v0' });
    assert.deepEqual(volumeSourceOf({ ...base, image_id: 'i1' }), { type: 'image', image_id: 'i1' });
    assert.deepEqual(volumeSourceOf(base), { type: 'raw' });
  });
  it('checks metadata keys, values and count', () => {
    rejects({ ...base, metadata: { k: 5 } }, 'metadata.k', /value must be a string/);
    rejects({ ...base, metadata: { k: 'x'.repeat(256) } }, 'metadata.k', /at most 255 characters/);
    rejects({ ...base, metadata: ['a'] }, 'metadata', /must be an object/);
    const many = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, 'v']));
    rejects({ ...base, metadata: many }, 'metadata', /129 items, more than the limit of 128/);
  });
  it('rejects a request that is not an object', () => {
    rejects(null, 'request', /must be an object/);
    rejects([1], 'request', /must be an object/);
  });
});

describe('create options', () => {
  it('defaults follow Cinder, with IgnoreAttemptedHostsFilter on', () => {
    assert.equal(DEFAULT_CREATE_OPTIONS.scheduler_max_attempts, 3);
    assert.deepEqual(effectiveFilters(DEFAULT_CREATE_OPTIONS), ['AvailabilityZoneFilter', 'CapacityFilter', 'CapabilitiesFilter', 'IgnoreAttemptedHostsFilter']);
    assert.deepEqual(effectiveFilters({ ...DEFAULT_CREATE_OPTIONS, ignore_attempted_hosts: false }), ['AvailabilityZoneFilter', 'CapacityFilter', 'CapabilitiesFilter']);
  });
  it('merges overrides and names a bad one', () => {
    assert.equal(resolveCreateOptions(DEFAULT_CREATE_OPTIONS, { scheduler_max_attempts: 1 }).scheduler_max_attempts, 1);
    const bad = (o: unknown, field: string) =>
      assert.throws(() => resolveCreateOptions(DEFAULT_CREATE_OPTIONS, o), (e: unknown) => e instanceof CinderError && e.field === `options.${field}`);
    bad({ scheduler_max_attempts: 0 }, 'scheduler_max_attempts');
    bad({ scheduler_max_attempts: 2.5 }, 'scheduler_max_attempts');
    bad({ ignore_attempted_hosts: 'yes' }, 'ignore_attempted_hosts');
    bad({ scheduler_default_filters: ['RetryFilter'] }, 'scheduler_default_filters');
    bad({ nonsense: 1 }, 'nonsense');
  });
});
