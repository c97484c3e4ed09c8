/**
 * Continue-as-new between attempts keeps Cinder's retry state. This file runs its own dev server
 * whose history limit suggests continue-as-new after 20 events, so a create with three attempts
 * continues as new at least once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../support/cluster';
import { activityCalls } from '../../src/client/history';
import { API_FLOW_STEPS } from '../../src/domain/names';

describe('create-volume: continue-as-new keeps the retry state', { timeout: 300_000 }, () => {
  let c: Cluster;

  before(async () => {
    c = await startCluster({
      // A > B > C in capacity: the CapacityWeigher tries them in that order.
      backends: [
        { name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 300 }] },
        { name: 'B', pools: [{ name: 'pool1', total_capacity_gb: 200 }] },
        { name: 'C', pools: [{ name: 'pool1', total_capacity_gb: 100 }] },
      ],
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 20 },
    });
  });

  after(() => c?.stopAfterLeakCheck());

  it('fails on A and B, succeeds on C, across runs: retry is {num_attempts: 3, backends: [A, B, C]}', async (t) => {
    const A = c.pool('A').backend_id;
    const B = c.pool('B').backend_id;
    const C = c.pool('C').backend_id;
    const name = 'continue-as-new';
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: name,
    });
    await c.store.addFaultRule({
      host: c.host('B'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeDriverException',
      remaining: 1,
      volume_name: name,
    });

    const h = await c.create({ name, size: 1 });
    const firstRunId = (h.handle as { firstExecutionRunId?: string }).firstExecutionRunId;
    assert.ok(firstRunId, 'the start returned the first run id');
    const result = await h.result();

    assert.equal(result.backend_id, C);
    assert.deepEqual(result.retry, { num_attempts: 3, backends: [A, B, C], hosts: [A, B, C] });
    assert.deepEqual(
      result.attempts.map((a) => [a.attempt, a.backend_id, a.outcome, a.error_type ?? null]),
      [
        [1, A, 'failed', 'VolumeBackendAPIException'],
        [2, B, 'failed', 'VolumeDriverException'],
        [3, C, 'succeeded', null],
      ],
    );

    // The first run ended by continuing as new; the last run is another one.
    const firstHistory = await c.client.workflow.getHandle(h.workflowId, firstRunId).fetchHistory();
    const lastEvent = firstHistory.events![firstHistory.events!.length - 1];
    assert.ok(
      lastEvent.workflowExecutionContinuedAsNewEventAttributes,
      'the first run ends with WorkflowExecutionContinuedAsNew',
    );
    const latest = await c.client.workflow.getHandle(h.workflowId).describe();
    assert.notEqual(latest.runId, firstRunId);
    assert.equal(latest.status.name, 'COMPLETED');

    // Every run after the first started from the carried retry state, not from the API flow again.
    const runs = [firstRunId];
    for (let history = firstHistory; ;) {
      const last = history.events![history.events!.length - 1];
      const next = last.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (!next) break;
      runs.push(next);
      history = await c.client.workflow.getHandle(h.workflowId, next).fetchHistory();
      const apiRan = activityCalls(history.events ?? []).some((a) => API_FLOW_STEPS.includes(a.activity as never));
      assert.equal(apiRan, false, `run ${next} does not repeat the API flow`);
    }
    t.diagnostic(`${runs.length} runs`);
    assert.ok(runs.length >= 2, `continued as new at least once (${runs.length} runs)`);

    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'available');
    assert.equal(vol?.host, C);
    assert.deepEqual(c.volumeFiles(h.volumeId), [`${C}/volume-${h.volumeId}`]);
    const claims = await c.store.listClaims(h.volumeId);
    assert.deepEqual(
      claims.map((x) => [x.attempt, x.backend_id, x.status]),
      [
        [1, A, 'released'],
        [2, B, 'released'],
        [3, C, 'active'],
      ],
    );
    // One volume row, one quota charge, despite several runs.
    const usage = Object.fromEntries((await c.store.getQuotaUsage(vol!.project_id)).map((q) => [q.resource, q.in_use]));
    assert.equal(usage.volumes, 1);
    assert.equal(usage.gigabytes, 1);
  });
});
