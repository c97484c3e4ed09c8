import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  DEFAULT_MAX_ATTEMPTS,
  NoValidBackend,
  addRetryBackend,
  populateRetry,
  type FilterProperties,
} from '../../src/scheduler/index';

const request = (extra: Partial<FilterProperties> = {}): FilterProperties => ({
  size: 10,
  volume_id: 'vol-1',
  ...extra,
});

describe('populateRetry', () => {
  it('starts the retry state on the first pass and keeps the rest of the request', () => {
    const props = request({ availability_zone: 'az1' });
    const before = structuredClone(props);
    const out = populateRetry(props, 3);
    assert.deepEqual(out, {
      size: 10,
      volume_id: 'vol-1',
      availability_zone: 'az1',
      retry: { num_attempts: 1, backends: [], hosts: [] },
    });
    assert.deepEqual(props, before);
    assert.notEqual(out, props);
  });

  it('adds one attempt on each later pass, drops exc, and copies the lists', () => {
    const props = request({
      retry: { num_attempts: 1, backends: ['h1@lvm#a'], hosts: ['h1@lvm#a'], exc: 'disk on fire' },
    });
    const before = structuredClone(props);
    const out = populateRetry(props, 3);
    assert.deepEqual(out.retry, { num_attempts: 2, backends: ['h1@lvm#a'], hosts: ['h1@lvm#a'] });
    assert.equal('exc' in out.retry!, false);
    assert.notEqual(out.retry!.backends, props.retry!.backends);
    assert.notEqual(out.retry!.hosts, props.retry!.hosts);
    assert.deepEqual(props, before);
  });

  it('allows exactly maxAttempts passes, the first included', () => {
    assert.equal(DEFAULT_MAX_ATTEMPTS, 3);
    let props = request();
    for (let attempt = 1; attempt <= DEFAULT_MAX_ATTEMPTS; attempt++) {
      props = populateRetry(props, DEFAULT_MAX_ATTEMPTS);
      assert.equal(props.retry!.num_attempts, attempt);
    }
    assert.throws(() => populateRetry(props, DEFAULT_MAX_ATTEMPTS), NoValidBackend);
  });

  it('raises NoValidBackend with Cinder wording once the attempts are used up', () => {
    const props = request({ retry: { num_attempts: 3, backends: ['a', 'b', 'c'], hosts: ['a', 'b', 'c'] } });
    const before = structuredClone(props);
    assert.throws(
      () => populateRetry(props, 3),
      (error: unknown) => {
        assert.ok(error instanceof NoValidBackend);
        assert.ok(error instanceof Error);
        assert.equal(error.name, 'NoValidBackend');
        assert.equal(error.reason, 'Exceeded max scheduling attempts 3 for resource vol-1');
        assert.equal(
          error.message,
          'No valid backend was found. Exceeded max scheduling attempts 3 for resource vol-1',
        );
        return true;
      },
    );
    assert.deepEqual(props, before);
  });

  it('names an unknown resource when the request has no volume id', () => {
    assert.throws(() => populateRetry({ size: 1, retry: { num_attempts: 2, backends: [], hosts: [] } }, 2), {
      reason: 'Exceeded max scheduling attempts 2 for resource unknown',
    });
  });

  it('keeps no retry at all when rescheduling is disabled (maxAttempts 1)', () => {
    const fresh = populateRetry(request(), 1);
    assert.deepEqual(fresh, { size: 10, volume_id: 'vol-1' });
    assert.equal('retry' in fresh, false);

    const props = request({ retry: { num_attempts: 5, backends: ['x'], hosts: ['x'] } });
    const before = structuredClone(props);
    const out = populateRetry(props, 1);
    assert.equal('retry' in out, false);
    assert.deepEqual(props, before, 'the input keeps its retry');
  });

  for (const bad of [0, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    it(`rejects scheduler_max_attempts ${bad} as a configuration error`, () => {
      assert.throws(
        () => populateRetry(request(), bad),
        (error: unknown) =>
          error instanceof Error &&
          !(error instanceof NoValidBackend) &&
          error.message.includes('scheduler_max_attempts'),
      );
    });
  }
});

describe('addRetryBackend', () => {
  it('appends the chosen pool to backends and hosts, on a copy', () => {
    const props = request({ retry: { num_attempts: 2, backends: ['h1@lvm#a'], hosts: ['h1@lvm#a'] } });
    const before = structuredClone(props);
    const out = addRetryBackend(props, 'h2@lvm#b');
    assert.deepEqual(out.retry, {
      num_attempts: 2,
      backends: ['h1@lvm#a', 'h2@lvm#b'],
      hosts: ['h1@lvm#a', 'h2@lvm#b'],
    });
    assert.equal(out.size, 10);
    assert.deepEqual(props, before);
  });

  it('changes nothing without a retry', () => {
    const props = request();
    const out = addRetryBackend(props, 'h2@lvm#b');
    assert.deepEqual(out, props);
    assert.equal('retry' in out, false);
  });

  it('keeps exc when one is there (only populateRetry drops it)', () => {
    const props = request({ retry: { num_attempts: 1, backends: [], hosts: [], exc: 'boom' } });
    assert.equal(addRetryBackend(props, 'h@b#p').retry!.exc, 'boom');
  });
});

describe('NoValidBackend', () => {
  it("prefixes the reason with Cinder's sentence and keeps the reason apart", () => {
    const error = new NoValidBackend('Nothing fits');
    assert.equal(error.message, 'No valid backend was found. Nothing fits');
    assert.equal(error.reason, 'Nothing fits');
    assert.equal(error.name, 'NoValidBackend');
    assert.ok(error.stack);
  });
});
