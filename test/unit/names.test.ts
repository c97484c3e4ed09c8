/** The shared names module (src/domain/names.ts) matches what the code registers and starts. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApiActivities } from '../../src/activities/api-activities';
import { createDeleteActivities } from '../../src/activities/delete-activities';
import { createSchedulerActivities } from '../../src/activities/scheduler-activities';
import { createVolumeActivities } from '../../src/activities/volume-activities';
import {
  ACTIVITY,
  API_FLOW_COMPENSATIONS,
  API_FLOW_STEPS,
  ATTEMPT_COMPENSATIONS,
  ATTEMPT_STEPS,
  BACKEND_ACTIVITIES,
  CLEANUP,
  WORKFLOW_TYPE,
  cleanupOfDelete,
  cleanupWorkflowId,
  createVolumeWorkflowId,
  timeoutFailure,
  volumeIdOfWorkflow,
} from '../../src/domain/names';
import * as workflows from '../../src/workflows';

describe('shared names', () => {
  const deps = { store: {} as never, logger: {} as never, now: () => new Date() };
  const apiDeps = { ...deps, limits: {} as never, createDefaults: {} as never };
  const scheduler = {
    ...createApiActivities(apiDeps),
    ...createSchedulerActivities(deps),
    ...createDeleteActivities(apiDeps),
  };
  const backend = createVolumeActivities({ ...deps, driver: {} as never });

  it('names every activity the workers register, and only those', () => {
    assert.deepEqual(Object.values(ACTIVITY).sort(), [...Object.keys(scheduler), ...Object.keys(backend)].sort());
    assert.deepEqual([...BACKEND_ACTIVITIES].sort(), Object.keys(backend).sort());
    for (const group of [API_FLOW_STEPS, API_FLOW_COMPENSATIONS, ATTEMPT_STEPS, ATTEMPT_COMPENSATIONS]) {
      for (const name of group) assert.ok(name in scheduler || name in backend, name);
    }
  });

  it('names every workflow type the bundle exports', () => {
    assert.deepEqual(Object.keys(workflows).sort(), Object.values(WORKFLOW_TYPE).sort());
  });

  it('workflow ids round-trip to the volume id', () => {
    assert.equal(volumeIdOfWorkflow(createVolumeWorkflowId('v-1')), 'v-1');
    assert.equal(volumeIdOfWorkflow(cleanupWorkflowId('v-1', 2)), 'v-1');
    assert.equal(cleanupWorkflowId('v-1', 2), 'cleanup-volume-v-1-attempt-2');
    assert.equal(volumeIdOfWorkflow('other'), undefined);
  });

  it('maps a delete result and a timeout as the workflow and the history reader both read them', () => {
    assert.equal(cleanupOfDelete({ deleted: true, skipped: false }), CLEANUP.deleted);
    assert.equal(cleanupOfDelete({ deleted: false, skipped: true }), CLEANUP.skipped);
    assert.equal(cleanupOfDelete(undefined), CLEANUP.nothingToDelete);
    assert.deepEqual(timeoutFailure('SCHEDULE_TO_START').backend_unavailable, true);
    assert.deepEqual(timeoutFailure('HEARTBEAT'), {
      type: 'BackendUnavailable',
      message: 'the volume service stopped answering (HEARTBEAT timeout)',
      backend_unavailable: false,
    });
  });
});
