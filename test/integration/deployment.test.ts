/**
 * The compose topology as native processes (docker/docker-compose.yml cannot run here: no Docker
 * engine): a Temporal server, a scheduler worker and two volume workers sharing a PostgreSQL volume
 * database. One volume worker gets SIGTERM in the middle of a batch of creates.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { VolumeCreateError } from '../../src/client/volumes';
import { eventually, startCluster, type Cluster } from '../support/cluster';
import { startTestPostgres, type TestPostgres } from '../support/postgres';

describe('native deployment on PostgreSQL', { timeout: 240_000 }, () => {
  let pg: TestPostgres;
  let c: Cluster;
  before(async () => {
    pg = await startTestPostgres();
    c = await startCluster({ backends: [{ name: 'A' }, { name: 'B' }], databaseUrl: pg.url });
  });
  after(async () => {
    try {
      await c?.stopAfterLeakCheck();
    } finally {
      await pg?.stop();
    }
  });

  it('SIGTERM of a volume worker mid-batch: every create ends available or error with a reason, nothing unlisted is left', async () => {
    const A = c.pool('A').backend_id;
    // Twelve volumes: more than Cinder's default quota of 10 per project.
    await c.store.setQuotaLimit(`project-${c.id}`, 'volumes', 20);
    // Creates on A take a while, so some are in flight when its worker is told to stop.
    await c.store.addFaultRule({ host: c.host('A'), op: 'create', action: 'delay', delay_ms: 1500, remaining: null });
    const handles = await Promise.all(Array.from({ length: 12 }, (_, i) => c.create({ name: `batch-${i}`, size: 1 })));
    const startedOnA = await eventually(
      async () => {
        const starts = (await c.store.listEvents({ event_type: 'volume.create.start' })).filter(
          (e) => e.payload.backend_id === A,
        );
        return starts.length > 0 ? starts.map((e) => e.volume_id) : null;
      },
      60_000,
      'a create in flight on A',
    );
    const stopped = await c.worker('A').stop('SIGTERM', 30_000);
    assert.deepEqual(stopped, { code: 0, signal: null }, 'the volume worker exits 0 after draining');

    const outcomes = await Promise.allSettled(handles.map((h) => h.result()));
    const rows = await Promise.all(handles.map((h) => c.store.getVolume(h.volumeId)));
    outcomes.forEach((o, i) => {
      const row = rows[i]!;
      if (o.status === 'fulfilled') {
        assert.equal(row.status, 'available', `volume ${i}`);
        assert.equal(row.host, o.value.backend_id);
      } else {
        assert.ok(o.reason instanceof VolumeCreateError, String(o.reason));
        assert.equal(row.status, 'error', `volume ${i}`);
        assert.ok(row.error_reason && row.error_reason.length > 0, `volume ${i} says why`);
      }
    });
    // The create that was running on A when SIGTERM came finished there (graceful drain).
    const drained = rows.filter((r) => r && startedOnA.includes(r.id) && r.host === A && r.status === 'available');
    assert.ok(drained.length >= 1, 'an in-flight create on A completed during the shutdown grace');
    // Every available volume has exactly its one file; no pool holds anything else.
    for (const r of rows) {
      if (r?.status === 'available') assert.deepEqual(c.volumeFiles(r.id).length, 1, `one file for ${r.id}`);
    }
    assert.deepEqual(await c.leakedFiles(), []);
    const summary = outcomes.reduce<Record<string, number>>((acc, o, i) => {
      const key =
        o.status === 'fulfilled' ? `available on ${rows[i]!.host}` : `error ${(o.reason as VolumeCreateError).type}`;
      acc[key] = (acc[key] ?? 0) + 1;
      return acc;
    }, {});
    process.stderr.write(`deployment batch outcomes: ${JSON.stringify(summary)}\n`);
  });
});
