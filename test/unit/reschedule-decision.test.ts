/** onFailureReschedule, Cinder's OnFailureRescheduleTask as a pure function: one test per branch. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NO_RESCHEDULE_TYPES } from '../../src/domain/cinder-errors';
import { onFailureReschedule } from '../../src/workflows/reschedule';

const retry = { num_attempts: 1, backends: ['hA@lvm#p1'], hosts: ['hA@lvm#p1'] };

describe('onFailureReschedule', () => {
  it("reschedules a reschedulable failure, with Cinder's exc in the retry state", () => {
    const d = onFailureReschedule({ type: 'VolumeBackendAPIException', message: 'disk on fire' }, retry, {
      scheduler_max_attempts: 3,
    });
    assert.deepEqual(d, {
      action: 'reschedule',
      exc: 'VolumeBackendAPIException: disk on fire',
      retry: { ...retry, exc: 'VolumeBackendAPIException: disk on fire' },
    });
    assert.equal('exc' in retry, false, 'the input retry state is not changed');
  });

  it('reschedules the last allowed attempt too: the next pass raises Exceeded max scheduling attempts, as in Cinder', () => {
    const last = { num_attempts: 3, backends: ['a', 'b', 'c'], hosts: ['a', 'b', 'c'] };
    const d = onFailureReschedule({ type: 'BackendUnavailable', message: 'gone' }, last, { scheduler_max_attempts: 3 });
    assert.equal(d.action, 'reschedule');
  });

  it('ends in error when rescheduling is disabled (no retry state), naming the setting once', () => {
    const d = onFailureReschedule({ type: 'VolumeBackendAPIException', message: 'boom' }, undefined, {
      scheduler_max_attempts: 1,
    });
    assert.deepEqual(d, {
      action: 'error',
      why: 'rescheduling disabled',
      failure: {
        type: 'VolumeBackendAPIException',
        message: 'boom (rescheduling is disabled: scheduler_max_attempts is 1)',
      },
    });
  });

  it('ends in error for every no-reschedule type, without repeating the type in the message', () => {
    for (const type of NO_RESCHEDULE_TYPES) {
      const d = onFailureReschedule({ type, message: 'copy failed' }, retry, { scheduler_max_attempts: 3 });
      assert.equal(d.action, 'error', type);
      if (d.action !== 'error') continue;
      assert.equal(d.why, 'no-reschedule failure');
      assert.equal(d.failure.type, type);
      assert.equal(d.failure.message, `copy failed (not rescheduled: ${type} is a no-reschedule failure)`);
      assert.ok(!d.failure.message.startsWith(`${type}:`), 'the type is not repeated');
    }
  });
});
