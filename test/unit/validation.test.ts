import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CinderError } from '../../src/domain/cinder-errors';
import {
  DEFAULT_CREATE_OPTIONS,
  effectiveFilters,
  OPERATOR_ONLY_OPTIONS,
  OPTION_BOUNDS,
  resolveCreateOptions,
  resolveRequestOptions,
} from '../../src/domain/create-options';
import { escapeControl } from '../../src/domain/text';
import { validateCreateRequest, volumeSourceOf } from '../../src/domain/validation';

const base = { volume_id: 'v1', project_id: 'p1', size: 1 };

function rejects(request: unknown, field: string, text: RegExp) {
  assert.throws(
    () => validateCreateRequest(request),
    (err: unknown) =>
      err instanceof CinderError &&
      err.cinderType === 'InvalidInput' &&
      err.field === field &&
      text.test(err.message) &&
      err.message.includes(`'${field}'`),
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
    assert.deepEqual(effectiveFilters(DEFAULT_CREATE_OPTIONS), [
      'AvailabilityZoneFilter',
      'CapacityFilter',
      'CapabilitiesFilter',
      'IgnoreAttemptedHostsFilter',
    ]);
    assert.deepEqual(effectiveFilters({ ...DEFAULT_CREATE_OPTIONS, ignore_attempted_hosts: false }), [
      'AvailabilityZoneFilter',
      'CapacityFilter',
      'CapabilitiesFilter',
    ]);
  });
  it('merges overrides and names a bad one', () => {
    assert.equal(resolveCreateOptions(DEFAULT_CREATE_OPTIONS, { scheduler_max_attempts: 1 }).scheduler_max_attempts, 1);
    const bad = (o: unknown, field: string) =>
      assert.throws(
        () => resolveCreateOptions(DEFAULT_CREATE_OPTIONS, o),
        (e: unknown) => e instanceof CinderError && e.field === `options.${field}`,
      );
    bad({ scheduler_max_attempts: 0 }, 'scheduler_max_attempts');
    bad({ scheduler_max_attempts: 2.5 }, 'scheduler_max_attempts');
    bad({ ignore_attempted_hosts: 'yes' }, 'ignore_attempted_hosts');
    bad({ scheduler_default_filters: ['RetryFilter'] }, 'scheduler_default_filters');
    bad({ nonsense: 1 }, 'nonsense');
  });
});

describe('a request is checked field by field, hostile or careless', () => {
  it('null is as wrong as absent for a required field; optional nulls are dropped', () => {
    rejects({ ...base, volume_id: null }, 'volume_id', /is required/);
    rejects({ ...base, project_id: null }, 'project_id', /is required/);
    rejects({ ...base, size: null }, 'size', /is required/);
    assert.deepEqual(validateCreateRequest({ ...base, name: null, metadata: null }), base);
  });
  it('request_id must be an id string', () => {
    rejects({ ...base, request_id: [1] }, 'request_id', /must be an id.*got \[1\]/);
    rejects({ ...base, request_id: 7 }, 'request_id', /must be an id/);
    assert.equal(validateCreateRequest({ ...base, request_id: 'req-1' }).request_id, 'req-1');
  });
  it('refuses control characters in names, ids and metadata, and in descriptions but tab and newline', () => {
    rejects({ ...base, name: 'a\u001b[2Jb' }, 'name', /control characters/);
    rejects({ ...base, name: 'a\rb' }, 'name', /control characters/);
    rejects({ ...base, volume_type: 'x\u0007' }, 'volume_type', /control characters/);
    rejects({ ...base, description: 'bell\u0007' }, 'description', /other than tab and newline/);
    rejects({ ...base, metadata: { 'k\u0000': 'v' } }, 'metadata.k\u0000', /key must not contain control characters/);
    rejects({ ...base, metadata: { k: 'v\u001b' } }, 'metadata.k', /value must not contain control/);
    assert.equal(validateCreateRequest({ ...base, description: 'line 1\n\tline 2' }).description, 'line 1\n\tline 2');
  });
  it('an own __proto__ key is an unknown field', () => {
    rejects(
      JSON.parse('{"volume_id":"v1","project_id":"p1","size":1,"__proto__":{"size":2}}'),
      '__proto__',
      /not a known field/,
    );
  });
  it('escapeControl shows stored control characters as escapes', () => {
    assert.equal(escapeControl('a\u001b[2J\r\n\t\u0000\u009b'), 'a\\x1b[2J\\r\\n\\t\\x00\\x9b');
    assert.equal(escapeControl('plain – text'), 'plain – text');
  });
});

describe("a request's options", () => {
  const bad = (o: unknown, field: string, text: RegExp) =>
    assert.throws(
      () => resolveRequestOptions(DEFAULT_CREATE_OPTIONS, o),
      (e: unknown) =>
        e instanceof CinderError &&
        e.cinderType === 'InvalidInput' &&
        e.field === `options.${field}` &&
        text.test(e.message),
    );
  it('are bounded whole numbers where a count or a time is meant', () => {
    bad({ retry_initial_interval_ms: 0 }, 'retry_initial_interval_ms', /whole number from 10 to 600000, got 0/);
    bad({ retry_initial_interval_ms: 1e300 }, 'retry_initial_interval_ms', /got 1e\+300/);
    bad({ create_max_activity_attempts: 0 }, 'create_max_activity_attempts', /from 1 to 100/);
    bad({ create_max_activity_attempts: 1.5 }, 'create_max_activity_attempts', /got 1.5/);
    bad({ scheduler_max_attempts: '3' }, 'scheduler_max_attempts', /got "3"/);
    bad({ upsert_search_attributes: 1 }, 'upsert_search_attributes', /true or false/);
    assert.equal(
      resolveRequestOptions(DEFAULT_CREATE_OPTIONS, { scheduler_max_attempts: 2 }).scheduler_max_attempts,
      2,
    );
  });
  it('refuse what only the operator may set: filters, weighers, IgnoreAttemptedHosts, service_down_time', () => {
    for (const key of OPERATOR_ONLY_OPTIONS) {
      bad({ [key]: (DEFAULT_CREATE_OPTIONS as unknown as Record<string, unknown>)[key] }, key, /set by the operator/);
    }
    bad({ scheduler_default_filters: [] }, 'scheduler_default_filters', /set by the operator/);
    // The operator's configuration may set them.
    assert.deepEqual(
      resolveCreateOptions(DEFAULT_CREATE_OPTIONS, { scheduler_default_filters: ['CapacityFilter'] })
        .scheduler_default_filters,
      ['CapacityFilter'],
    );
  });
  it('refuse unknown, own __proto__ and non-object options', () => {
    bad({ nonsense: 1 }, 'nonsense', /not a known field/);
    bad(JSON.parse('{"__proto__":{"scheduler_max_attempts":1}}'), '__proto__', /not a known field/);
    assert.throws(
      () => resolveRequestOptions(DEFAULT_CREATE_OPTIONS, [1]),
      (e: unknown) => e instanceof CinderError && e.field === 'options',
    );
    assert.throws(
      () => resolveRequestOptions(DEFAULT_CREATE_OPTIONS, Object.create({ scheduler_max_attempts: 1 })),
      (e: unknown) => e instanceof CinderError && e.field === 'options',
    );
  });
});

describe("docs/cli.md's options table", () => {
  it('matches the schema: every option, its range, and which ones only the operator may set', () => {
    const doc = readFileSync(path.join(__dirname, '../../docs/cli.md'), 'utf8');
    const rows = doc
      .split('\n')
      .filter((l) => l.startsWith('| `') && /\| (whole number|true or false|\*\*no\*\*)/.test(l));
    const documented = new Map<string, string>();
    for (const row of rows) {
      const [names, rule] = row.split('|').slice(1, 3);
      for (const m of names.matchAll(/`([a-z_]+)`/g)) documented.set(m[1], rule.trim());
    }
    assert.deepEqual(
      [...documented.keys()].sort(),
      Object.keys(DEFAULT_CREATE_OPTIONS).sort(),
      'every option has a row',
    );
    for (const [key, [min, max]] of Object.entries(OPTION_BOUNDS)) {
      if (OPERATOR_ONLY_OPTIONS.includes(key as keyof typeof DEFAULT_CREATE_OPTIONS)) continue;
      assert.ok(documented.get(key)?.startsWith(`whole number ${min}–${max}`), `${key}: ${documented.get(key)}`);
    }
    for (const key of OPERATOR_ONLY_OPTIONS) assert.match(documented.get(key) ?? '', /^\*\*no\*\*/, key);
  });
});
