/**
 * Deleting volumes and managing quotas as an operator does, through the `cinder-temporal` command
 * (a child process) on a real cluster: the delete saga (file gone, capacity and quota back, row
 * soft-deleted), refusals and --force on a creating volume, one delete per volume, a delete whose
 * volume service is down, a failing driver delete (error_deleting), and quota-show/usage/update.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { VolumeService } from '../../src/client/volume-service';
import { deleteVolumeWorkflowId } from '../../src/workflows/delete-volume';
import { eventually, startCluster, type Cluster } from '../support/cluster';
import { runCli, type Run } from '../support/run-process';

const run = runCli;

const show = (r: Run) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

/** The rows of a boxed table as objects keyed by its header. */
function boxRows(text: string): Array<Record<string, string>> {
  const lines = text.split('\n').filter((l) => l.startsWith('| '));
  const cells = (l: string) =>
    l
      .slice(2, -2)
      .split(' | ')
      .map((c) => c.trim());
  const [head, ...rows] = lines.map(cells);
  return rows.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
}

describe('delete and quotas from the command line', { timeout: 600_000 }, () => {
  let c: Cluster;
  let project: string;
  let svc: VolumeService;
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(args, { ...c.env, CINDER_PROJECT_ID: project, ...env });
  const allocated = async (backendId: string) =>
    (await c.store.listPools()).find((p) => p.backend_id === backendId)!.allocated_capacity_gb;
  const inUse = async (p: string, resource: string) =>
    (await c.store.getQuotaUsage(p)).find((q) => q.resource === resource)?.in_use ?? 0;
  /** A volume made through the client, available on `backend`'s pool. */
  const available = async (name: string, backend: 'A' | 'B', size = 1, projectId = project) => {
    const other = backend === 'A' ? 'B' : 'A';
    // Steer it: the other backend refuses this one create.
    await c.store.addFaultRule({ host: c.host(other), op: 'create', action: 'error', remaining: 1, volume_name: name });
    const h = await c.create({ name, size, project_id: projectId });
    const r = await h.result();
    assert.equal(r.backend_id, c.pool(backend).backend_id);
    return h.volumeId;
  };

  before(async () => {
    c = await startCluster({ backends: [{ name: 'A' }, { name: 'B' }] });
    project = `project-${c.id}`;
    await c.store.setQuotaLimit(project, 'volumes', -1);
    await c.store.setQuotaLimit(project, 'gigabytes', -1);
    await eventually(async () => (await c.store.listPools()).length === 2, 30_000, 'both pools reported');
    svc = new VolumeService(c.client, c.store, { taskQueue: c.taskQueue });
  });
  after(() => c?.stopAfterLeakCheck());

  it('create, then delete --wait: the file is gone, capacity and quota are back, list hides it', async () => {
    const quotaProject = `${project}-q`;
    const before = await allocated(c.pool('A').backend_id);
    const id = await available('del-plain', 'A', 3, quotaProject);
    assert.deepEqual(c.volumeFiles(id), [`${c.pool('A').backend_id}/volume-${id}`]);
    assert.equal(await allocated(c.pool('A').backend_id), before + 3);
    assert.equal(await inUse(quotaProject, 'gigabytes'), 3);

    const r = await cli(['delete', id, '--wait']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`^Request to delete volume ${id} has been accepted\\.$`, 'm'));
    assert.match(r.stdout, new RegExp(`^Volume ${id} deleted\\.$`, 'm'));
    assert.deepEqual(c.volumeFiles(id), []);
    // Given back in the delete's own transaction, not at the next stats report.
    assert.equal(await allocated(c.pool('A').backend_id), before);
    assert.equal(await inUse(quotaProject, 'gigabytes'), 0);
    assert.equal(await inUse(quotaProject, 'volumes'), 0);
    const row = await c.store.getVolume(id);
    assert.equal(row?.status, 'deleted');
    assert.ok(row?.deleted_at, 'deleted_at is set');
    const events = (await c.store.listEvents({ volume_id: id })).map((e) => e.event_type);
    assert.ok(events.includes('volume.delete.start') && events.includes('volume.delete.end'), events.join(', '));

    const list = await cli(['list', '--project-id', quotaProject]);
    assert.equal(list.code, 0, show(list));
    assert.ok(!list.stdout.includes(id), show(list));
    const all = await cli(['list', '--project-id', quotaProject, '--all']);
    assert.deepEqual(
      boxRows(all.stdout).map((v) => [v.ID, v.Status]),
      [[id, 'deleted']],
    );

    // A second delete of a deleted volume: Cinder's per-volume failure, then its summary, exit 1.
    const again = await cli(['delete', id]);
    assert.equal(again.code, 1, show(again));
    assert.match(
      again.stdout,
      new RegExp(`^Delete for volume ${id} failed: No volume with a name or ID of '${id}' exists\\.$`, 'm'),
    );
    assert.match(again.stderr, /^ERROR: Unable to delete any of the specified volumes\.$/m);
  });

  it('refuses a creating volume with InvalidVolume; --force cancels its create first, then deletes', async () => {
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'delay',
      delay_ms: 20_000,
      remaining: 1,
      volume_name: 'del-slow',
    });
    await c.store.addFaultRule({
      host: c.host('B'),
      op: 'create',
      action: 'delay',
      delay_ms: 20_000,
      remaining: 1,
      volume_name: 'del-slow',
    });
    const h = await c.create({ name: 'del-slow', size: 1 });
    await eventually(async () => (await c.store.getVolume(h.volumeId))?.host, 30_000, 'the create to be on a backend');

    const refused = await cli(['delete', 'del-slow']);
    assert.equal(refused.code, 1, show(refused));
    assert.match(
      refused.stdout,
      /^Delete for volume del-slow failed: Invalid volume: Volume status must be available or error or error_deleting /m,
    );
    assert.match(refused.stdout, /\(status: creating; --force deletes anyway\)/);
    assert.equal((await c.store.getVolume(h.volumeId))?.status, 'creating');

    const started = Date.now();
    const forced = await cli(['delete', h.volumeId, '--force', '--wait', '--json']);
    assert.equal(forced.code, 0, show(forced));
    const doc = JSON.parse(forced.stdout);
    assert.equal(doc.deletes[0].outcome, 'deleted');
    assert.equal(doc.deletes[0].result.create_cancelled, true);
    // The create's cancel reached its activity at the next heartbeat (throttled to 1 s), not after the 20 s delay.
    assert.ok(Date.now() - started < 15_000, `the forced delete took ${Date.now() - started} ms`);
    await assert.rejects(h.result(), (err: Error) => err.name === 'Cancelled' || /cancel/i.test(err.message));
    assert.equal((await c.store.getVolume(h.volumeId))?.status, 'deleted');
    assert.deepEqual(c.volumeFiles(h.volumeId), []);
    assert.deepEqual(
      (await c.store.listClaims(h.volumeId)).filter((cl) => cl.status === 'active'),
      [],
    );
    await c.store.clearFaultRules();
  });

  it('concurrent deletes of one volume are one delete', async () => {
    const id = await available('del-twice', 'B');
    const [a, b] = await Promise.all([svc.delete(id), svc.delete(id)]);
    assert.equal(a.workflowId, deleteVolumeWorkflowId(id));
    assert.equal(b.workflowId, a.workflowId);
    const runs = new Set([(await a.handle.describe()).runId, (await b.handle.describe()).runId]);
    assert.equal(runs.size, 1, 'one workflow run');
    await a.result();
    const starts = (await c.store.listEvents({ volume_id: id, event_type: 'volume.delete.start' })).length;
    assert.equal(starts, 1);
  });

  it('a delete whose volume service is down waits for it, and completes when it is back', async () => {
    const id = await available('del-down', 'B');
    await c.worker('B').stop('SIGTERM', 10_000);
    const r = await cli(['delete', id]);
    assert.equal(r.code, 0, show(r));
    const handle = await svc.delete(id); // joins the running delete
    assert.equal(handle.existing, true);
    await eventually(
      async () => (await handle.status()).phase === 'waiting for the volume service',
      30_000,
      'the delete to wait for B',
    );
    assert.equal((await c.store.getVolume(id))?.status, 'deleting');
    // Recorded by the step right after the phase changes: visible, once.
    await eventually(
      async () => (await c.store.listEvents({ volume_id: id, event_type: 'volume.delete.waiting' })).length > 0,
      30_000,
      'the waiting event',
    );
    assert.equal((await c.store.listEvents({ volume_id: id, event_type: 'volume.delete.waiting' })).length, 1);
    const shown = await cli(['show', id]);
    assert.match(shown.stdout, /\| delete_progress +\| deleting: waiting for the volume service \(/, show(shown));
    assert.deepEqual(
      c.volumeFiles(id),
      [`${c.pool('B').backend_id}/volume-${id}`],
      'nothing deleted yet, nothing forgotten',
    );
    await c.startVolumeWorker('B');
    const result = await handle.result();
    assert.equal(result.deleted_on_backend, true);
    assert.deepEqual(c.volumeFiles(id), []);
    assert.equal((await c.store.getVolume(id))?.status, 'deleted');
  });

  it('a driver delete that fails leaves error_deleting with its reason; a new delete then finishes', async () => {
    const id = await available('del-fail', 'A');
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'delete',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: 'del-fail',
    });
    const r = await cli(['delete', id, '--wait']);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, new RegExp(`^ERROR: delete of volume ${id} failed: VolumeBackendAPIException: `, 'm'));
    assert.doesNotMatch(r.stderr, /VolumeBackendAPIException: VolumeBackendAPIException/);
    const row = await c.store.getVolume(id);
    assert.equal(row?.status, 'error_deleting');
    assert.match(row?.error_reason ?? '', /^VolumeBackendAPIException: /);
    assert.ok(c.volumeFiles(id).length === 1, 'the file is still there: the delete did not happen');
    // error_deleting may be deleted again (Cinder's rule), and this time it works.
    const again = await cli(['delete', id, '--wait']);
    assert.equal(again.code, 0, show(again));
    assert.deepEqual(c.volumeFiles(id), []);
    assert.equal((await c.store.getVolume(id))?.status, 'deleted');
  });

  it("quota-show, quota-update and quota-usage in Cinder's terms; 11 creates after raising the limit", async () => {
    const p = `${project}-eleven`;
    const shown = await cli(['quota-show', '--project-id', p]);
    assert.equal(shown.code, 0, show(shown));
    const limits = Object.fromEntries(boxRows(shown.stdout).map((r) => [r.Property, r.Value]));
    assert.equal(limits.volumes, '10');
    assert.equal(limits.gigabytes, '1000');
    assert.equal(limits.volumes_default, '-1');

    const bad = await cli(['quota-update', p, '--volumes', 'ten']);
    assert.equal(bad.code, 2, show(bad));
    assert.match(bad.stderr, /--volumes: must be an integer/);
    const below = await cli(['quota-update', p, '--volumes', '-2']);
    assert.equal(below.code, 2, show(below));
    assert.match(below.stderr, /volumes must be >= -1/);
    const unknownType = await cli(['quota-update', p, '--volumes', '3', '--volume-type', 'gold']);
    assert.equal(unknownType.code, 2, show(unknownType));
    assert.match(unknownType.stderr, /Volume type with name gold could not be found/);

    const raised = await cli(['quota-update', p, '--volumes', '11']);
    assert.equal(raised.code, 0, show(raised));
    assert.equal(Object.fromEntries(boxRows(raised.stdout).map((r) => [r.Property, r.Value])).volumes, '11');
    const handles = await Promise.all(
      Array.from({ length: 11 }, (_, i) => c.create({ name: `eleven-${i}`, project_id: p })),
    );
    await Promise.all(handles.map((h) => h.result()));
    const twelfth = await c.create({ name: 'eleven-12', project_id: p });
    await assert.rejects(twelfth.result(), (err: Error) => err.name === 'VolumeLimitExceeded');

    const usage = await cli(['quota-usage', p]);
    assert.equal(usage.code, 0, show(usage));
    const row = boxRows(usage.stdout).find((r) => r.Type === 'volumes');
    assert.deepEqual(row, { Type: 'volumes', In_use: '11', Reserved: '0', Limit: '11' });

    const lower = await cli(['quota-update', p, '--volumes', '5']);
    assert.equal(lower.code, 1, show(lower));
    assert.match(
      lower.stderr,
      /Quota volumes limit must be equal or greater than existing resources\. Current usage is 11 and the requested limit is 5\./,
    );
    const forced = await cli(['quota-update', p, '--volumes', '5', '--force', '--json']);
    assert.equal(forced.code, 0, show(forced));
    assert.equal(JSON.parse(forced.stdout).find((q: { resource: string }) => q.resource === 'volumes').limit, 5);
    // The type's own limit is set with --volume-type.
    const typed = await cli(['quota-update', p, '--gigabytes', '50', '--volume-type', 'default']);
    assert.equal(Object.fromEntries(boxRows(typed.stdout).map((r) => [r.Property, r.Value])).gigabytes_default, '50');

    // Deleting them all gives the project's quota back.
    const del = await cli(['delete', ...handles.map((h) => h.volumeId), '--wait']);
    assert.equal(del.code, 0, show(del));
    assert.equal(await inUse(p, 'volumes'), 0);
  });
});
