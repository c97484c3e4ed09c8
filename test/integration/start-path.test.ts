/**
 * The start path as a hostile caller uses it: raw workflow starts (as the Temporal CLI sends them)
 * against another project's volume, forged continue-as-new carries, wrong workflow ids, garbage
 * inputs. Each must fail fast naming the field and change nothing of anyone else's volume.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { unwrapCreateFailure, VolumeCreateError } from '../../src/client/volumes';
import { startCluster, type Cluster } from '../support/cluster';

describe('start path: one volume, one owner, one workflow', { timeout: 180_000 }, () => {
  let c: Cluster;
  let victimId: string;
  const victimProject = () => `victim-${c.id}`;

  before(async () => {
    c = await startCluster({ backends: [{ name: 'A' }, { name: 'B' }] });
    const h = await c.create({ project_id: victimProject(), name: 'victim', size: 2 });
    victimId = h.volumeId;
    await h.result();
  });
  after(() => c?.stopAfterLeakCheck());

  /** Everything of the victim that an attack could change. */
  async function victimState() {
    const volume = await c.store.getVolume(victimId);
    const files = c.backends.flatMap((b) =>
      b.pools.flatMap((p) =>
        c
          .files(b.name, p.name)
          .filter((f) => f.includes(victimId))
          .map((f) => `${p.backend_id}/${f}:${fs.statSync(path.join(p.path, f)).size}`),
      ),
    );
    return {
      volume,
      files,
      claims: await c.store.listClaims(victimId),
      quota: await c.store.getQuotaUsage(victimProject()),
      pools: (await c.store.listPools()).map((p) => [p.backend_id, p.allocated_capacity_gb]),
    };
  }

  /** A raw start as the Temporal CLI makes it; resolves with the failure the run ended with. */
  async function rawStart(input: unknown, workflowId: string): Promise<VolumeCreateError> {
    const handle = await c.client.workflow.start('createVolume', {
      workflowId,
      taskQueue: c.taskQueue,
      args: [input],
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      workflowExecutionTimeout: '60 seconds',
    });
    const outcome = await Promise.race([
      handle.result().then(
        () => null,
        (err: unknown) => unwrapCreateFailure(err),
      ),
      new Promise<'stuck'>((resolve) => setTimeout(() => resolve('stuck'), 20_000)),
    ]);
    assert.notEqual(outcome, 'stuck', `${workflowId} still running after 20 s`);
    assert.ok(outcome instanceof VolumeCreateError, `${workflowId} should fail, got ${String(outcome)}`);
    return outcome;
  }

  function refused(err: VolumeCreateError, field: string, text: RegExp = /./): void {
    assert.equal(err.type, 'InvalidInput', err.message);
    assert.ok(err.message.startsWith(`Invalid input for field '${field}': `), err.message);
    assert.match(err.message, text);
  }

  it("a second workflow on another project's volume id fails at once and changes nothing of it", async () => {
    const before = await victimState();
    const attacker = `attacker-${c.id}`;
    await c.store.setQuotaLimit(attacker, 'volumes', 0);
    for (const project_id of [attacker, victimProject()]) {
      const err = await rawStart(
        { request: { volume_id: victimId, project_id, size: 2 } },
        `create-volume-${victimId}`,
      );
      refused(err, 'volume_id', new RegExp(`volume ${victimId} already exists`));
    }
    assert.deepEqual(await victimState(), before);
    assert.deepEqual(
      (await c.store.getQuotaUsage(attacker)).find((q) => q.resource === 'volumes'),
      { resource: 'volumes', limit: 0, in_use: 0, reserved: 0 },
    );
  });

  it('a caller-given continue-as-new carry is refused before any step, even one forging a huge size', async () => {
    const before = await victimState();
    const forged = {
      request: { volume_id: victimId, project_id: victimProject(), size: 2 },
      resume: {
        spec: {
          request: { volume_id: victimId, project_id: victimProject(), size: 999999 },
          volume_type: { name: 'default', extra_specs: {} },
          source: { type: 'raw' },
          resource_backend: null,
          quota_deltas: {},
          options: { scheduler_max_attempts: 3 },
        },
        filter_properties: { size: 999999, volume_id: victimId },
        attempts: [],
      },
    };
    refused(await rawStart(forged, `create-volume-${victimId}`), 'resume', /internal to the workflow/);
    refused(await rawStart({ ...forged, resume: {} }, `create-volume-${victimId}`), 'resume');
    assert.deepEqual(await victimState(), before);
    // Nothing ran: the failed run scheduled no activity.
    const history = await c.history(`create-volume-${victimId}`);
    assert.equal(history.events!.filter((e) => e.activityTaskScheduledEventAttributes).length, 0);
  });

  it('a workflow id that is not create-volume-<volume_id> is refused before any step', async () => {
    const before = await victimState();
    const id = randomUUID();
    refused(
      await rawStart({ request: { volume_id: victimId, project_id: victimProject(), size: 1 } }, `create-volume-${id}`),
      'workflow_id',
    );
    refused(
      await rawStart({ request: { volume_id: id, project_id: victimProject(), size: 1 } }, `mine-${id}`),
      'workflow_id',
    );
    assert.deepEqual(await victimState(), before);
    assert.equal(await c.store.getVolume(id), null);
  });

  it('garbage inputs fail the run with InvalidInput naming the field, never a TypeError loop', async () => {
    const cases: Array<[unknown, string]> = [
      ['a string', 'input'],
      [null, 'input'],
      [[], 'input'],
      [{}, 'request'],
      [{ request: null }, 'request'],
      [{ request: { volume_id: null, project_id: 'p', size: 1 } }, 'volume_id'],
    ];
    await Promise.all(
      cases.map(async ([input, field], i) => refused(await rawStart(input, `garbage-${c.id}-${i}`), field)),
    );
  });

  it('a bad request or option fails in the API flow, naming it, and leaves no row, quota or claim', async () => {
    const project = `careless-${c.id}`;
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ project_id: null, size: 1 }, 'project_id'],
      [{ project_id: project, size: 1, request_id: ['r'] }, 'request_id'],
      [{ project_id: project, size: 1, name: 'bell\u0007' }, 'name'],
      [
        { project_id: project, size: 1, options: { retry_initial_interval_ms: 0 } },
        'options.retry_initial_interval_ms',
      ],
      [{ project_id: project, size: 1, options: { service_down_time_s: 1e300 } }, 'options.service_down_time_s'],
      [
        { project_id: project, size: 1, options: { create_max_activity_attempts: 1.5 } },
        'options.create_max_activity_attempts',
      ],
      [
        { project_id: project, size: 1, options: { scheduler_default_filters: [] } },
        'options.scheduler_default_filters',
      ],
    ];
    await Promise.all(
      cases.map(async ([fields, field]) => {
        const { options, ...request } = fields;
        const id = randomUUID();
        const input = { request: { volume_id: id, ...request }, ...(options ? { options } : {}) };
        refused(await rawStart(input, `create-volume-${id}`), field);
        assert.equal(await c.store.getVolume(id), null, `${field}: no row`);
        assert.deepEqual(await c.store.listClaims(id), [], `${field}: no claim`);
        assert.deepEqual(c.volumeFiles(id), [], `${field}: no file`);
      }),
    );
    for (const q of await c.store.getQuotaUsage(project))
      assert.deepEqual([q.resource, q.in_use, q.reserved], [q.resource, 0, 0]);
  });
});
