/**
 * Creates from a snapshot and clones of a volume: the backend that holds the source makes the new
 * volume, even when the CapacityWeigher would prefer another one. A is larger than B, so a plain
 * create goes to A; the sources are put on B (A fails their create once) to make the point.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createDriver } from '../../src/drivers';
import { expectCreateFailure, startCluster, type Cluster } from '../support/cluster';

describe('create-volume: from a snapshot and as a clone', { timeout: 180_000 }, () => {
  let c: Cluster;
  let A: string;
  let B: string;
  let sourceId: string;

  before(async () => {
    c = await startCluster({
      backends: [{ name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 300 }] }, { name: 'B' }],
    });
    A = c.pool('A').backend_id;
    B = c.pool('B').backend_id;
    // The source volume lands on B: A fails it once, the reschedule goes to B.
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: 'source',
    });
    // Small sizes: the file driver reads a source's holes when it copies, 1 GiB at a time is enough.
    const source = await c.create({ name: 'source', size: 1 });
    const result = await source.result();
    assert.equal(result.backend_id, B);
    sourceId = source.volumeId;
  });

  after(() => c?.stopAfterLeakCheck());

  it('a plain create prefers A (the larger backend)', async () => {
    const h = await c.create({ name: 'plain', size: 1 });
    assert.equal((await h.result()).backend_id, A);
  });

  it('creates from a snapshot on the backend that holds the snapshot', async () => {
    const snapshotId = `snap-${c.id}`;
    // The snapshot is made by B's driver next to its volume, and recorded as Cinder would.
    await createDriver(c.backendConfig('B')).createSnapshot({ id: snapshotId, volume_id: sourceId, size: 1, host: B });
    await c.store.putSnapshot({ id: snapshotId, volume_id: sourceId, size: 1, host: B, status: 'available' });
    assert.ok(c.files('B').includes(`snapshot-${snapshotId}`));

    const h = await c.create({ name: 'from-snapshot', size: 2, snapshot_id: snapshotId });
    const result = await h.result();
    assert.equal(result.backend_id, B, 'made where its snapshot is');
    assert.deepEqual(result.retry, { num_attempts: 1, backends: [B], hosts: [B] });
    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'available');
    assert.deepEqual(vol?.source, { type: 'snap', snapshot_id: snapshotId });
    assert.deepEqual(c.volumeFiles(h.volumeId), [`${B}/volume-${h.volumeId}`]);
  });

  it('clones a volume on the backend that holds the source', async () => {
    const h = await c.create({ name: 'clone', size: 1, source_volid: sourceId });
    const result = await h.result();
    assert.equal(result.backend_id, B, 'made where its source is');
    const vol = await c.store.getVolume(h.volumeId);
    assert.equal(vol?.status, 'available');
    assert.deepEqual(vol?.source, { type: 'source_vol', source_volid: sourceId });
    assert.deepEqual(c.volumeFiles(h.volumeId), [`${B}/volume-${h.volumeId}`]);
  });

  it('refuses a snapshot that does not exist in the API flow: SnapshotNotFound, no row', async () => {
    const missing = await c.create({ name: 'no-snapshot', size: 1, snapshot_id: 'no-such-snapshot' });
    const err = await expectCreateFailure(missing, 'SnapshotNotFound');
    assert.ok(err.message.includes('snapshot_id'), err.message);
    assert.equal(await c.store.getVolume(missing.volumeId), null);
  });
});
