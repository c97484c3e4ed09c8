import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CinderError } from '../../src/domain/cinder-errors';
import { MIGRATIONS, SqliteVolumeStore, openVolumeStore, sqliteFilename, type NewVolume } from '../../src/store';

const tmp = mkdtempSync(join(tmpdir(), 'store-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const T0 = '2025-01-01T00:00:00.000Z';
const T1 = '2025-01-01T00:01:00.000Z';

function newVolume(id: string, extra: Partial<NewVolume['request']> = {}): NewVolume {
  return {
    id,
    request: { volume_id: id, project_id: 'p1', size: 2, ...extra },
    volume_type: 'default',
    source: { type: 'raw' },
    workflow_id: `create-volume-${id}`,
    now: T0,
  };
}

describe('migrations and opening', () => {
  test('opening the same file twice applies each migration once', async () => {
    const file = join(tmp, 'nested', 'dir', 'migrate.db');
    const a = (await openVolumeStore(`sqlite:${file}`)) as SqliteVolumeStore;
    await a.putVolumeType({ name: 'gold', extra_specs: { 'capabilities:tier': 'gold' } });
    await a.close();
    const b = (await openVolumeStore(file)) as SqliteVolumeStore;
    const versions = b.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{ version: number }>;
    assert.deepEqual(
      versions.map((v) => v.version),
      MIGRATIONS.map((m) => m.version),
    );
    assert.deepEqual(await b.getVolumeType('gold'), { name: 'gold', extra_specs: { 'capabilities:tier': 'gold' } });
    assert.equal(b.db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(b.db.pragma('foreign_keys', { simple: true }), 1);
    assert.equal(b.db.pragma('busy_timeout', { simple: true }), 10000);
    await b.close();
  });

  test('the default volume type is seeded', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    assert.deepEqual(await s.getVolumeType('default'), { name: 'default', extra_specs: {} });
    assert.equal(await s.getVolumeType('nope'), null);
    await s.close();
  });

  test('urls', async () => {
    assert.equal(sqliteFilename('sqlite::memory:'), ':memory:');
    assert.equal(sqliteFilename('sqlite:data/v.db'), 'data/v.db');
    assert.equal(sqliteFilename('sqlite:///var/lib/v.db'), '/var/lib/v.db');
    assert.equal(sqliteFilename('/var/lib/v.db'), '/var/lib/v.db');
    await assert.rejects(openVolumeStore('postgres://u:secret@db/cinder'), (err: Error) => {
      assert.match(err.message, /PostgreSQL .*not supported yet/);
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
    await assert.rejects(openVolumeStore('postgresql://db/cinder'), /PostgreSQL/);
    await assert.rejects(openVolumeStore('mysql://db/cinder'), /Unsupported volume database url/);
  });
});

describe('volumes', () => {
  test('create, retry, read, list, update, destroy', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    const v = await s.createVolume(newVolume('v1', { request_id: 'r1', name: 'data', metadata: { a: 'b' }, availability_zone: 'nova' }));
    assert.deepEqual(v, {
      id: 'v1',
      project_id: 'p1',
      name: 'data',
      description: null,
      size: 2,
      status: 'creating',
      volume_type: 'default',
      availability_zone: 'nova',
      host: null,
      source: { type: 'raw' },
      metadata: { a: 'b' },
      workflow_id: 'create-volume-v1',
      request_id: 'r1',
      error_reason: null,
      created_at: T0,
      updated_at: T0,
      scheduled_at: null,
      launched_at: null,
    });
    // A retried activity gets the row unchanged, even with a different body.
    assert.deepEqual(await s.createVolume({ ...newVolume('v1', { request_id: 'r1', size: 99 }), now: T1 }), v);
    assert.deepEqual(await s.getVolumeByRequestId('p1', 'r1'), v);
    assert.equal(await s.getVolumeByRequestId('p2', 'r1'), null);
    assert.equal(await s.getVolume('missing'), null);

    // The same request id in another project is another request; in the same project it is refused.
    await s.createVolume({ ...newVolume('v2', { request_id: 'r1', project_id: 'p2' }), source: { type: 'image', image_id: 'img' } });
    await assert.rejects(s.createVolume(newVolume('v3', { request_id: 'r1' })), (err: CinderError) => {
      assert.equal(err.cinderType, 'InvalidInput');
      assert.equal(err.field, 'request_id');
      assert.match(err.message, /v1/);
      return true;
    });
    assert.deepEqual((await s.getVolume('v2'))?.source, { type: 'image', image_id: 'img' });

    const updated = await s.updateVolume('v1', { status: 'available', host: 'h@b#p', launched_at: T1 }, T1);
    assert.equal(updated.status, 'available');
    assert.equal(updated.host, 'h@b#p');
    assert.equal(updated.launched_at, T1);
    assert.equal(updated.updated_at, T1);
    assert.equal(updated.error_reason, null);
    const cleared = await s.updateVolume('v1', { host: null }, T1);
    assert.equal(cleared.host, null);
    assert.equal(cleared.status, 'available');
    await assert.rejects(s.updateVolume('nope', { status: 'error' }, T1), (err: CinderError) => err.cinderType === 'VolumeNotFound');

    await s.destroyVolume('v2');
    await s.destroyVolume('v2');
    assert.equal(await s.getVolume('v2'), null);
    await s.close();
  });

  test('list filters: status, project, host with or without pool', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    for (const [id, host, project] of [
      ['a', 'h1@lvm#p1', 'p1'],
      ['b', 'h1@lvm#p2', 'p1'],
      ['c', 'h1@lvm2#p1', 'p2'],
      ['d', null, 'p2'],
    ] as const) {
      await s.createVolume(newVolume(id, { project_id: project }));
      if (host) await s.updateVolume(id, { host }, T0);
    }
    await s.updateVolume('d', { status: 'error', error_reason: 'No valid backend' }, T1);
    const ids = async (f: Parameters<typeof s.listVolumes>[0]) => (await s.listVolumes(f)).map((v) => v.id);
    assert.deepEqual(await ids(undefined), ['a', 'b', 'c', 'd']);
    assert.deepEqual(await ids({ host: 'h1@lvm' }), ['a', 'b']);
    assert.deepEqual(await ids({ host: 'h1@lvm#p2' }), ['b']);
    assert.deepEqual(await ids({ project_id: 'p2' }), ['c', 'd']);
    assert.deepEqual(await ids({ status: 'error', project_id: 'p2' }), ['d']);
    assert.equal((await s.getVolume('d'))?.error_reason, 'No valid backend');
    await s.close();
  });
});

describe('reference data', () => {
  test('snapshots, images, volume types upsert', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    const snap = { id: 's1', volume_id: 'v1', size: 3, host: 'h@b#p', status: 'available' as const };
    await s.putSnapshot(snap);
    await s.putSnapshot({ ...snap, status: 'error' });
    assert.deepEqual(await s.getSnapshot('s1'), { ...snap, status: 'error' });
    const img = { id: 'i1', name: 'cirros', size_gb: 1, disk_format: 'raw', status: 'active' as const, path: '/tmp/i1' };
    await s.putImage(img);
    assert.deepEqual(await s.getImage('i1'), img);
    assert.equal(await s.getImage('i2'), null);
    assert.equal(await s.getSnapshot('s2'), null);
    await s.putVolumeType({ name: 'default', extra_specs: { 'provisioning:type': 'thick' } });
    assert.deepEqual(await s.getVolumeType('default'), { name: 'default', extra_specs: { 'provisioning:type': 'thick' } });
    await s.close();
  });
});

describe('events', () => {
  test('recorded with JSON payloads, filtered, in order', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    await s.recordEvent({ event_type: 'volume.create.start', volume_id: 'v1', workflow_id: 'w1', payload: { size: 1 }, created_at: T0 });
    await s.recordEvent({
      event_type: 'scheduler.create_volume',
      volume_id: 'v2',
      workflow_id: null,
      payload: { reason: 'No valid backend', nested: { list: [1, 'x', null] } },
      created_at: T1,
    });
    await s.recordEvent({ event_type: 'volume.create.end', volume_id: 'v1', workflow_id: 'w1', payload: {}, created_at: T1 });
    const all = await s.listEvents();
    assert.deepEqual(
      all.map((e) => [e.id, e.event_type]),
      [
        [1, 'volume.create.start'],
        [2, 'scheduler.create_volume'],
        [3, 'volume.create.end'],
      ],
    );
    assert.deepEqual(all[1], {
      id: 2,
      event_type: 'scheduler.create_volume',
      volume_id: 'v2',
      workflow_id: null,
      payload: { reason: 'No valid backend', nested: { list: [1, 'x', null] } },
      created_at: T1,
    });
    assert.deepEqual(
      (await s.listEvents({ volume_id: 'v1' })).map((e) => e.event_type),
      ['volume.create.start', 'volume.create.end'],
    );
    assert.deepEqual(
      (await s.listEvents({ volume_id: 'v1', event_type: 'volume.create.end' })).map((e) => e.id),
      [3],
    );
    await s.close();
  });
});

describe('fault rules', () => {
  test('a counted rule fires exactly N times and survives reopening', async () => {
    const file = join(tmp, 'faults.db');
    const a = await openVolumeStore(file);
    const rule = await a.addFaultRule({ host: 'h@lvm', op: 'create', action: 'error', error_type: 'VolumeBackendAPIException', remaining: 3 });
    assert.deepEqual(rule, {
      id: 1,
      host: 'h@lvm',
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 3,
      probability: null,
      delay_ms: null,
      volume_name: null,
    });
    assert.equal((await a.takeFault('h@lvm', 'create', 'x'))?.remaining, 2);
    assert.equal(await a.takeFault('h@lvm', 'delete', 'x'), null);
    assert.equal(await a.takeFault('other@lvm', 'create', 'x'), null);
    await a.close();
    const b = await openVolumeStore(file);
    let fired = 0;
    for (let i = 0; i < 10; i++) if (await b.takeFault('h@lvm', 'create', null)) fired++;
    assert.equal(fired, 2);
    assert.equal((await b.listFaultRules('h@lvm'))[0].remaining, 0);
    await b.close();
  });

  test('an uncounted rule fires every time', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    await s.addFaultRule({ host: 'h@lvm', op: 'delete', action: 'delay', delay_ms: 50, remaining: null });
    for (let i = 0; i < 5; i++) assert.equal((await s.takeFault('h@lvm', 'delete', null))?.delay_ms, 50);
    await s.close();
  });

  test('probability 0 never fires, 1 always; counted only when it fires', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    const never = await s.addFaultRule({ host: 'h@lvm', op: 'create', action: 'error', remaining: 5, probability: 0 });
    for (let i = 0; i < 20; i++) assert.equal(await s.takeFault('h@lvm', 'create', null), null);
    const always = await s.addFaultRule({ host: 'h@lvm', op: 'create', action: 'exit', remaining: null, probability: 1 });
    for (let i = 0; i < 20; i++) assert.equal((await s.takeFault('h@lvm', 'create', null))?.id, always.id);
    assert.equal((await s.listFaultRules()).find((r) => r.id === never.id)?.remaining, 5);
    await s.close();
  });

  test('probability against an injected random source; a rule that does not fire lets the next one try', async () => {
    const draws = [0.3, 0.7, 0.9];
    const s = new SqliteVolumeStore(':memory:', { random: () => draws.shift() ?? 0 });
    const half = await s.addFaultRule({ host: 'h@lvm', op: 'create', action: 'error', remaining: null, probability: 0.5 });
    const fallback = await s.addFaultRule({ host: 'h@lvm', op: 'create', action: 'delay', delay_ms: 1, remaining: 1 });
    assert.equal((await s.takeFault('h@lvm', 'create', null))?.id, half.id); // 0.3 < 0.5
    assert.equal((await s.takeFault('h@lvm', 'create', null))?.id, fallback.id); // 0.7: next rule
    assert.equal(await s.takeFault('h@lvm', 'create', null), null); // 0.9, fallback used up
    await s.close();
  });

  test('volume_name targets one volume; clear by host or all', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    await s.addFaultRule({ host: 'h@lvm', op: 'copy_image', action: 'hang', remaining: null, volume_name: 'victim' });
    await s.addFaultRule({ host: 'h2@lvm', op: 'create', action: 'error', remaining: null });
    assert.equal(await s.takeFault('h@lvm', 'copy_image', 'bystander'), null);
    assert.equal(await s.takeFault('h@lvm', 'copy_image', null), null);
    assert.equal((await s.takeFault('h@lvm', 'copy_image', 'victim'))?.action, 'hang');
    await s.clearFaultRules('h@lvm');
    assert.deepEqual(
      (await s.listFaultRules()).map((r) => r.host),
      ['h2@lvm'],
    );
    await s.clearFaultRules();
    assert.deepEqual(await s.listFaultRules(), []);
    await assert.rejects(s.addFaultRule({ host: 'h', op: 'create', action: 'error', remaining: 1, probability: 2 }), /probability/);
    await s.close();
  });
});
