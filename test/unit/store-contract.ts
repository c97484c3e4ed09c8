/**
 * The VolumeStore contract: the behaviour every store implementation must show, as test suites
 * parametrized by a target that opens stores on fresh databases. store.test.ts, store-quota.test.ts,
 * store-capacity.test.ts and store-concurrency.test.ts run it against SQLite; store-postgres.test.ts
 * against PostgreSQL. What only one database has (files, WAL, urls) stays in that database's file.
 *
 * The concurrency suite spawns this file as its child processes (STORE_CHILD set): only separate
 * processes, each with its own connection, really race.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { CinderError } from '../../src/domain/cinder-errors';
import type { BackendState } from '../../src/scheduler/types';
import {
  MIGRATIONS,
  SqliteVolumeStore,
  openVolumeStore,
  type ClaimChoice,
  type NewVolume,
  type PoolStatsReport,
  type QuotaUsage,
  type VolumeStore,
} from '../../src/store';

/** Store options every implementation takes. */
export interface StoreTestOptions {
  defaultQuotas?: Record<string, number>;
  random?: () => number;
}

export interface TestDatabase {
  /** Where it is, as openVolumeStore takes it (a file path or a url): child processes open it. */
  location: string;
  /** Opens a store on it; again after close to reopen it. */
  open(options?: StoreTestOptions): Promise<VolumeStore>;
}

export interface StoreTarget {
  /** A store on a new, empty database of its own. */
  open(options?: StoreTestOptions): Promise<VolumeStore>;
  /** A new, empty database that outlives its stores (for reopening and for child processes). */
  freshDatabase(): Promise<TestDatabase>;
  /** Read straight from the database, not through a store: schema_migrations' rows and how many
   *  'default' volume types there are. */
  inspect(location: string): Promise<{ migrations: Array<{ version: number }>; defaultTypes: number }>;
}

/** SQLite: in-memory stores, and files in a temp dir (deleted after the test file) to reopen. */
export function sqliteTarget(): StoreTarget {
  const tmp = mkdtempSync(join(tmpdir(), 'store-test-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  let databases = 0;
  const open = async (location: string, options?: StoreTestOptions): Promise<VolumeStore> =>
    options ? new SqliteVolumeStore(location, options) : openVolumeStore(location);
  return {
    open: (options) => open(options ? ':memory:' : 'sqlite::memory:', options),
    freshDatabase: async () => {
      const location = join(tmp, `db-${++databases}.db`);
      return {
        location,
        open: (options) => (options ? open(location, options) : openVolumeStore(`sqlite:${location}`)),
      };
    },
    inspect: async (location) => {
      const db = new Database(location);
      try {
        return {
          migrations: db.prepare('SELECT version FROM schema_migrations').all() as Array<{ version: number }>,
          defaultTypes: (
            db.prepare("SELECT COUNT(*) AS n FROM volume_types WHERE name = 'default'").get() as { n: number }
          ).n,
        };
      } finally {
        db.close();
      }
    },
  };
}

/** Every suite of the contract. */
export function defineStoreContract(name: string, target: StoreTarget): void {
  defineBasicContract(name, target);
  defineOwnershipContract(name, target);
  defineQuotaContract(name, target);
  defineCapacityContract(name, target);
  defineDeleteContract(name, target);
  defineConcurrencyContract(name, target);
}

// ---------------------------------------------------------------------------------------------
// owners: one volume id, one create

function isAlreadyExists(id: string) {
  return (e: unknown) =>
    e instanceof CinderError &&
    e.cinderType === 'InvalidInput' &&
    e.field === 'volume_id' &&
    e.message.includes(`volume ${id} already exists`);
}

export function defineOwnershipContract(name: string, target: StoreTarget): void {
  describe(`${name}: owners`, () => {
    /** A settled volume of owner run-1 in project p1: row, committed quota, an active claim. */
    async function victim(s: VolumeStore) {
      await s.reportPoolStats('h1@lvm', [report('h1@lvm#p1')], T0);
      await s.reserveQuota('v', 'p1', { volumes: 1, gigabytes: 2 }, T0, 'run-1');
      await s.createVolume({ ...newVolume('v'), owner: 'run-1' });
      await s.commitQuota('v', T0, 'run-1');
      await s.claimCapacity({
        volumeId: 'v',
        attempt: 1,
        sizeGb: 2,
        owner: 'run-1',
        liveSince: T0,
        now: T0,
        choose: chooseFirstFit,
      });
      await s.updateVolume('v', { status: 'available' }, T1, 'run-1');
      return {
        volume: await s.getVolume('v'),
        claims: await s.listClaims('v'),
        quota: await s.getQuotaUsage('p1'),
        pools: await s.listPools(),
      };
    }

    test('the same owner repeats every step idempotently', async () => {
      const s = await target.open();
      await victim(s);
      await s.reserveQuota('v', 'p1', { volumes: 1, gigabytes: 2 }, T0, 'run-1');
      assert.equal((await s.createVolume({ ...newVolume('v'), owner: 'run-1' })).owner, 'run-1');
      const again = await s.claimCapacity({
        volumeId: 'v',
        attempt: 1,
        sizeGb: 2,
        owner: 'run-1',
        liveSince: T0,
        now: T0,
        choose: chooseFirstFit,
      });
      assert.equal(again.existing, true);
      await s.close();
    });

    test("another create's every step is refused or a no-op, and changes nothing of the volume", async () => {
      const s = await target.open();
      const before = await victim(s);
      for (const project of ['p1', 'p2']) {
        await assert.rejects(
          s.reserveQuota('v', project, { volumes: 1, gigabytes: 2 }, T1, 'run-2'),
          isAlreadyExists('v'),
        );
        await assert.rejects(
          s.createVolume({ ...newVolume('v', { project_id: project }), owner: 'run-2' }),
          isAlreadyExists('v'),
        );
      }
      await s.rollbackQuota('v', T1, 'run-2');
      await s.commitQuota('v', T1, 'run-2');
      await assert.rejects(
        s.claimCapacity({
          volumeId: 'v',
          attempt: 1,
          sizeGb: 2,
          owner: 'run-2',
          liveSince: T0,
          now: T1,
          choose: chooseFirstFit,
        }),
        isAlreadyExists('v'),
      );
      await assert.rejects(
        s.claimCapacity({
          volumeId: 'v',
          attempt: 2,
          sizeGb: 2,
          owner: 'run-2',
          liveSince: T0,
          now: T1,
          choose: chooseFirstFit,
        }),
        isAlreadyExists('v'),
      );
      assert.equal(await s.releaseCapacity('v', 1, T1, 'run-2'), false);
      await assert.rejects(
        s.updateVolume('v', { status: 'error', error_reason: 'forged' }, T1, 'run-2'),
        isAlreadyExists('v'),
      );
      await s.destroyVolume('v', 'run-2');
      assert.deepEqual(
        {
          volume: await s.getVolume('v'),
          claims: await s.listClaims('v'),
          quota: await s.getQuotaUsage('p1'),
          pools: await s.listPools(),
        },
        before,
      );
      await s.close();
    });

    test('a row made before owners is taken over while creating, and belongs to nobody new once settled', async () => {
      const s = await target.open();
      await s.reserveQuota('old', 'p1', { volumes: 1, gigabytes: 2 }, T0);
      await s.createVolume(newVolume('old'));
      await s.commitQuota('old', T0, 'run-1');
      assert.deepEqual((await usage(s)).volumes, { limit: 10, in_use: 1, reserved: 0 });
      await s.updateVolume('old', { status: 'available' }, T1, 'run-1');
      assert.equal((await s.getVolume('old'))?.owner, 'run-1');

      await s.reserveQuota('settled', 'p1', { volumes: 1, gigabytes: 2 }, T0);
      await s.createVolume(newVolume('settled'));
      await s.updateVolume('settled', { status: 'available' }, T1);
      await assert.rejects(
        s.reserveQuota('settled', 'p1', { volumes: 1, gigabytes: 2 }, T1, 'run-9'),
        isAlreadyExists('settled'),
      );
      await assert.rejects(s.createVolume({ ...newVolume('settled'), owner: 'run-9' }), isAlreadyExists('settled'));
      await s.rollbackQuota('settled', T1, 'run-9');
      assert.deepEqual((await usage(s)).volumes, { limit: 10, in_use: 1, reserved: 1 });
      assert.equal((await s.getVolume('settled'))?.owner, null);
      await s.close();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// volumes, reference data, events, fault rules

const T0 = '2025-01-01T00:00:00.000Z';
const T1 = '2025-01-01T00:01:00.000Z';
const T2 = '2025-01-01T00:02:00.000Z';

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

export function defineBasicContract(name: string, target: StoreTarget): void {
  describe(`${name}: migrations`, () => {
    test('the default volume type is seeded', async () => {
      const s = await target.open();
      assert.deepEqual(await s.getVolumeType('default'), { name: 'default', extra_specs: {} });
      assert.equal(await s.getVolumeType('nope'), null);
      await s.close();
    });

    test('opening the same database twice applies each migration once and keeps the data', async () => {
      const db = await target.freshDatabase();
      const a = await db.open();
      await a.putVolumeType({ name: 'gold', extra_specs: { 'capabilities:tier': 'gold' } });
      await a.close();
      const b = await db.open();
      assert.deepEqual(await b.getVolumeType('gold'), { name: 'gold', extra_specs: { 'capabilities:tier': 'gold' } });
      await b.close();
      const { migrations, defaultTypes } = await target.inspect(db.location);
      assert.deepEqual(
        migrations.map((m) => m.version).sort((x, y) => x - y),
        MIGRATIONS.map((m) => m.version),
      );
      assert.equal(defaultTypes, 1);
    });
  });

  describe(`${name}: volumes`, () => {
    test('create, retry, read, list, update, destroy', async () => {
      const s = await target.open();
      const v = await s.createVolume(
        newVolume('v1', { request_id: 'r1', name: 'data', metadata: { a: 'b' }, availability_zone: 'nova' }),
      );
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
        owner: null,
        request_id: 'r1',
        error_reason: null,
        created_at: T0,
        updated_at: T0,
        scheduled_at: null,
        launched_at: null,
        deleted_at: null,
      });
      // A retried activity gets the row unchanged, even with a different body.
      assert.deepEqual(await s.createVolume({ ...newVolume('v1', { request_id: 'r1', size: 99 }), now: T1 }), v);
      assert.deepEqual(await s.getVolumeByRequestId('p1', 'r1'), v);
      assert.equal(await s.getVolumeByRequestId('p2', 'r1'), null);
      assert.equal(await s.getVolume('missing'), null);

      // The same request id in another project is another request; in the same project it is refused.
      await s.createVolume({
        ...newVolume('v2', { request_id: 'r1', project_id: 'p2' }),
        source: { type: 'image', image_id: 'img' },
      });
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
      await assert.rejects(
        s.updateVolume('nope', { status: 'error' }, T1),
        (err: CinderError) => err.cinderType === 'VolumeNotFound',
      );

      await s.destroyVolume('v2');
      await s.destroyVolume('v2');
      assert.equal(await s.getVolume('v2'), null);
      await s.close();
    });

    test('list filters: status, project, host with or without pool', async () => {
      const s = await target.open();
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

    test('host filters treat _ and % literally; lists sort by created_at, then id, byte-wise', async () => {
      const s = await target.open();
      for (const [id, host, now] of [
        ['b', 'h_1@lvm#p', T1],
        ['B', 'hx1@lvm#p', T1],
        ['a', 'h%1@lvm#p', T1],
        ['_', 'h_1@lvm', T1],
        ['z', 'h_1@lvm2#p', T0],
      ] as const) {
        await s.createVolume({ ...newVolume(id), now });
        await s.updateVolume(id, { host }, now);
      }
      const ids = async (f: Parameters<typeof s.listVolumes>[0]) => (await s.listVolumes(f)).map((v) => v.id);
      assert.deepEqual(await ids(undefined), ['z', 'B', '_', 'a', 'b']);
      assert.deepEqual(await ids({ host: 'h_1@lvm' }), ['_', 'b']);
      assert.deepEqual(await ids({ host: 'h%1@lvm' }), ['a']);
      await s.close();
    });
  });

  describe(`${name}: reference data`, () => {
    test('snapshots, images, volume types upsert', async () => {
      const s = await target.open();
      const snap = { id: 's1', volume_id: 'v1', size: 3, host: 'h@b#p', status: 'available' as const };
      await s.putSnapshot(snap);
      await s.putSnapshot({ ...snap, status: 'error' });
      assert.deepEqual(await s.getSnapshot('s1'), { ...snap, status: 'error' });
      const img = {
        id: 'i1',
        name: 'cirros',
        size_gb: 1,
        disk_format: 'raw',
        status: 'active' as const,
        path: '/tmp/i1',
      };
      await s.putImage(img);
      assert.deepEqual(await s.getImage('i1'), img);
      assert.equal(await s.getImage('i2'), null);
      assert.equal(await s.getSnapshot('s2'), null);
      await s.putVolumeType({ name: 'default', extra_specs: { 'provisioning:type': 'thick' } });
      assert.deepEqual(await s.getVolumeType('default'), {
        name: 'default',
        extra_specs: { 'provisioning:type': 'thick' },
      });
      await s.close();
    });
  });

  describe(`${name}: events`, () => {
    test('recorded with JSON payloads, filtered, in order', async () => {
      const s = await target.open();
      await s.recordEvent({
        event_type: 'volume.create.start',
        volume_id: 'v1',
        workflow_id: 'w1',
        payload: { size: 1 },
        created_at: T0,
      });
      await s.recordEvent({
        event_type: 'scheduler.create_volume',
        volume_id: 'v2',
        workflow_id: null,
        payload: { reason: 'No valid backend', nested: { list: [1, 'x', null] } },
        created_at: T1,
      });
      await s.recordEvent({
        event_type: 'volume.create.end',
        volume_id: 'v1',
        workflow_id: 'w1',
        payload: {},
        created_at: T1,
      });
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

  describe(`${name}: fault rules`, () => {
    test('a counted rule fires exactly N times and survives reopening', async () => {
      const db = await target.freshDatabase();
      const a = await db.open();
      const rule = await a.addFaultRule({
        host: 'h@lvm',
        op: 'create',
        action: 'error',
        error_type: 'VolumeBackendAPIException',
        remaining: 3,
      });
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
        stage: null,
      });
      assert.equal((await a.takeFault('h@lvm', 'create', 'x'))?.remaining, 2);
      assert.equal(await a.takeFault('h@lvm', 'delete', 'x'), null);
      assert.equal(await a.takeFault('other@lvm', 'create', 'x'), null);
      await a.close();
      const b = await db.open();
      let fired = 0;
      for (let i = 0; i < 10; i++) if (await b.takeFault('h@lvm', 'create', null)) fired++;
      assert.equal(fired, 2);
      assert.equal((await b.listFaultRules('h@lvm'))[0].remaining, 0);
      await b.close();
    });

    test('a rule keeps where it raises: after the write, or after a partial write', async () => {
      const s = await target.open();
      await s.addFaultRule({
        host: 'h@lvm',
        op: 'create',
        action: 'error',
        error_type: 'ExportFailure',
        remaining: 1,
        stage: 'after_write',
        volume_name: 'a',
      });
      await s.addFaultRule({
        host: 'h@lvm',
        op: 'create',
        action: 'error',
        error_type: 'ProcessExecutionError',
        remaining: 1,
        stage: 'partial_write',
        volume_name: 'b',
      });
      assert.deepEqual(
        [(await s.takeFault('h@lvm', 'create', 'a'))?.stage, (await s.takeFault('h@lvm', 'create', 'b'))?.stage],
        ['after_write', 'partial_write'],
      );
      assert.deepEqual(
        (await s.listFaultRules('h@lvm')).map((r) => [r.error_type, r.stage, r.remaining]),
        [
          ['ExportFailure', 'after_write', 0],
          ['ProcessExecutionError', 'partial_write', 0],
        ],
      );
      await s.close();
    });

    test('an uncounted rule fires every time', async () => {
      const s = await target.open();
      await s.addFaultRule({ host: 'h@lvm', op: 'delete', action: 'delay', delay_ms: 50, remaining: null });
      for (let i = 0; i < 5; i++) assert.equal((await s.takeFault('h@lvm', 'delete', null))?.delay_ms, 50);
      await s.close();
    });

    test('probability 0 never fires, 1 always; counted only when it fires', async () => {
      const s = await target.open();
      const never = await s.addFaultRule({
        host: 'h@lvm',
        op: 'create',
        action: 'error',
        remaining: 5,
        probability: 0,
      });
      for (let i = 0; i < 20; i++) assert.equal(await s.takeFault('h@lvm', 'create', null), null);
      const always = await s.addFaultRule({
        host: 'h@lvm',
        op: 'create',
        action: 'exit',
        remaining: null,
        probability: 1,
      });
      for (let i = 0; i < 20; i++) assert.equal((await s.takeFault('h@lvm', 'create', null))?.id, always.id);
      assert.equal((await s.listFaultRules()).find((r) => r.id === never.id)?.remaining, 5);
      await s.close();
    });

    test('probability against an injected random source; a rule that does not fire lets the next one try', async () => {
      const draws = [0.3, 0.7, 0.9];
      const s = await target.open({ random: () => draws.shift() ?? 0 });
      const half = await s.addFaultRule({
        host: 'h@lvm',
        op: 'create',
        action: 'error',
        remaining: null,
        probability: 0.5,
      });
      const fallback = await s.addFaultRule({
        host: 'h@lvm',
        op: 'create',
        action: 'delay',
        delay_ms: 1,
        remaining: 1,
      });
      assert.equal((await s.takeFault('h@lvm', 'create', null))?.id, half.id); // 0.3 < 0.5
      assert.equal((await s.takeFault('h@lvm', 'create', null))?.id, fallback.id); // 0.7: next rule
      assert.equal(await s.takeFault('h@lvm', 'create', null), null); // 0.9, fallback used up
      await s.close();
    });

    test('volume_name targets one volume; clear by host or all', async () => {
      const s = await target.open();
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
      await assert.rejects(
        s.addFaultRule({ host: 'h', op: 'create', action: 'error', remaining: 1, probability: 2 }),
        /probability/,
      );
      await s.close();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// quota

async function usage(s: VolumeStore, project = 'p1'): Promise<Record<string, Omit<QuotaUsage, 'resource'>>> {
  return Object.fromEntries((await s.getQuotaUsage(project)).map(({ resource, ...u }) => [resource, u]));
}

function isQuotaError(type: string, field: string, message: RegExp | string) {
  return (err: CinderError) => {
    assert.equal(err.cinderType, type);
    assert.equal(err.field, field);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  };
}

export function defineQuotaContract(name: string, target: StoreTarget): void {
  const NOW = T0;

  describe(`${name}: quota`, () => {
    test("Cinder's defaults: 10 volumes, 1000 GiB, per-type unlimited", async () => {
      const s = await target.open();
      assert.deepEqual(await usage(s), {
        gigabytes: { limit: 1000, in_use: 0, reserved: 0 },
        volumes: { limit: 10, in_use: 0, reserved: 0 },
      });
      await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 5, volumes_gold: 1, gigabytes_gold: 5 }, NOW);
      assert.deepEqual(await usage(s), {
        gigabytes: { limit: 1000, in_use: 0, reserved: 5 },
        gigabytes_gold: { limit: -1, in_use: 0, reserved: 5 },
        volumes: { limit: 10, in_use: 0, reserved: 1 },
        volumes_gold: { limit: -1, in_use: 0, reserved: 1 },
      });
      await s.close();
    });

    test('reserve, commit and rollback are each idempotent', async () => {
      const s = await target.open();
      await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 5 }, NOW);
      await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 5 }, NOW);
      assert.deepEqual((await usage(s)).gigabytes, { limit: 1000, in_use: 0, reserved: 5 });
      await s.commitQuota('v1', NOW);
      await s.commitQuota('v1', NOW);
      assert.deepEqual((await usage(s)).gigabytes, { limit: 1000, in_use: 5, reserved: 0 });
      // A committed reservation stays: an error volume keeps its quota until deleted.
      await s.rollbackQuota('v1', NOW);
      assert.deepEqual((await usage(s)).volumes, { limit: 10, in_use: 1, reserved: 0 });

      await s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 3 }, NOW);
      await s.rollbackQuota('v2', NOW);
      await s.rollbackQuota('v2', NOW);
      await s.commitQuota('v2', NOW); // too late: rolled back stays rolled back
      // Reserving again for the same volume id is still a no-op.
      await s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 3 }, NOW);
      assert.deepEqual(await usage(s), {
        gigabytes: { limit: 1000, in_use: 5, reserved: 0 },
        volumes: { limit: 10, in_use: 1, reserved: 0 },
      });
      // Other projects are untouched.
      assert.deepEqual((await usage(s, 'p2')).gigabytes, { limit: 1000, in_use: 0, reserved: 0 });
      await s.close();
    });

    test('gigabytes exceeded: QuotaError on size, nothing reserved', async () => {
      const s = await target.open();
      await s.setQuotaLimit('p1', 'gigabytes', 10);
      await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 6 }, NOW);
      await s.commitQuota('v1', NOW);
      await s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 2 }, NOW);
      await assert.rejects(
        s.reserveQuota('v3', 'p1', { volumes: 1, gigabytes: 5 }, NOW),
        isQuotaError(
          'QuotaError',
          'size',
          'Requested volume or snapshot exceeds allowed gigabytes quota. Requested 5G, quota is 10G and 8G has been consumed.',
        ),
      );
      assert.deepEqual(await usage(s), {
        gigabytes: { limit: 10, in_use: 6, reserved: 2 },
        volumes: { limit: 10, in_use: 1, reserved: 1 },
      });
      // Exactly filling the quota is allowed.
      await s.reserveQuota('v3', 'p1', { volumes: 1, gigabytes: 2 }, NOW);
      assert.deepEqual((await usage(s)).gigabytes, { limit: 10, in_use: 6, reserved: 4 });
      await s.close();
    });

    test('volumes exceeded: VolumeLimitExceeded on project_id; gigabytes reported first when both are over', async () => {
      const s = await target.open();
      await s.setQuotaLimit('p1', 'volumes', 2);
      await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 1 }, NOW);
      await s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 1 }, NOW);
      await assert.rejects(
        s.reserveQuota('v3', 'p1', { volumes: 1, gigabytes: 1 }, NOW),
        isQuotaError(
          'VolumeLimitExceeded',
          'project_id',
          /^Maximum number of volumes allowed \(2\) exceeded for quota 'volumes'\./,
        ),
      );
      await s.setQuotaLimit('p1', 'gigabytes', 2);
      await assert.rejects(
        s.reserveQuota('v3', 'p1', { volumes: 1, gigabytes: 1 }, NOW),
        isQuotaError('QuotaError', 'size', /gigabytes quota/),
      );
      // Rolling one back frees its share.
      await s.rollbackQuota('v2', NOW);
      await s.reserveQuota('v3', 'p1', { volumes: 1, gigabytes: 1 }, NOW);
      await s.close();
    });

    test('per-type limits and configurable defaults', async () => {
      const s = await target.open({ defaultQuotas: { volumes: 1, gigabytes_gold: 4 } });
      await assert.rejects(
        s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 5, volumes_gold: 1, gigabytes_gold: 5 }, NOW),
        isQuotaError('QuotaError', 'size', /allowed gigabytes_gold quota\. Requested 5G, quota is 4G and 0G/),
      );
      await s.setQuotaLimit('p1', 'volumes_gold', 0);
      await assert.rejects(
        s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 1, volumes_gold: 1, gigabytes_gold: 1 }, NOW),
        isQuotaError('VolumeLimitExceeded', 'project_id', /quota 'volumes_gold'/),
      );
      await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 1 }, NOW);
      await assert.rejects(
        s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 1 }, NOW),
        isQuotaError('VolumeLimitExceeded', 'project_id', /\(1\)/),
      );
      // -1 is unlimited.
      await s.setQuotaLimit('p1', 'volumes', -1);
      await s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 1 }, NOW);
      assert.deepEqual((await usage(s)).volumes, { limit: -1, in_use: 0, reserved: 2 });
      assert.deepEqual((await usage(s)).gigabytes_gold, { limit: 4, in_use: 0, reserved: 0 });
      await s.close();
    });

    test('reservations from one store in parallel never exceed the quota', async () => {
      const s = await target.open();
      await s.setQuotaLimit('p1', 'volumes', 5);
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => s.reserveQuota(`v${i}`, 'p1', { volumes: 1, gigabytes: 1 }, NOW)),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 5);
      for (const r of results)
        if (r.status === 'rejected') assert.equal((r.reason as CinderError).cinderType, 'VolumeLimitExceeded');
      assert.deepEqual((await usage(s)).volumes, { limit: 5, in_use: 0, reserved: 5 });
      await s.close();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// pools and capacity

/** One pool's stats report with round numbers; a test overrides what it is about. */
export function report(backend_id: string, extra: Partial<PoolStatsReport> = {}): PoolStatsReport {
  return {
    backend_id,
    availability_zone: 'nova',
    total_capacity_gb: 100,
    free_capacity_gb: 100,
    provisioned_capacity_gb: 0,
    reserved_percentage: 0,
    max_over_subscription_ratio: 1,
    thin_provisioning_support: false,
    thick_provisioning_support: true,
    capabilities: { volume_backend_name: 'lvm' },
    volume_names: [],
    ...extra,
  };
}

async function addVolume(s: VolumeStore, id: string, size = 10): Promise<void> {
  await s.createVolume({
    id,
    request: { volume_id: id, project_id: 'p1', size },
    volume_type: 'default',
    source: { type: 'raw' },
    workflow_id: `create-volume-${id}`,
    now: T0,
  });
}

/** A stand-in for the scheduler core: first pool (in the order given) with enough numeric free
 *  capacity, consumed as Cinder's consume_from_volume does. */
function firstFit(sizeGb: number, seen: BackendState[][] = []) {
  return (pools: BackendState[]): ClaimChoice => {
    seen.push(pools);
    const pool = pools.find((p) => typeof p.free_capacity_gb === 'number' && p.free_capacity_gb >= sizeGb);
    if (!pool) throw new CinderError('NoValidBackend', 'No valid backend was found. No weighed backends available');
    return {
      backend: {
        ...pool,
        allocated_capacity_gb: pool.allocated_capacity_gb + sizeGb,
        provisioned_capacity_gb: pool.provisioned_capacity_gb + sizeGb,
        free_capacity_gb: (pool.free_capacity_gb as number) - sizeGb,
      },
    };
  };
}

async function pool(s: VolumeStore, backendId: string) {
  const row = (await s.listPools()).find((p) => p.backend_id === backendId);
  assert.ok(row, `pool ${backendId}`);
  return row;
}

export function defineCapacityContract(name: string, target: StoreTarget): void {
  describe(`${name}: pool stats`, () => {
    test('a volume service says with its report whether it injects faults; the newest report wins', async () => {
      const s = await target.open();
      assert.equal(await s.getServiceFaultInjection('h1@x'), null, 'never reported');
      await s.reportPoolStats('h1@x', [report('h1@x#a'), report('h1@x#b')], T0);
      assert.equal(await s.getServiceFaultInjection('h1@x'), null, 'reported without saying (an older build)');
      await s.reportPoolStats('h1@x', [report('h1@x#a'), report('h1@x#b')], T1, { fault_injection: true });
      assert.equal(await s.getServiceFaultInjection('h1@x'), true);
      await s.reportPoolStats('h1@x', [report('h1@x#a'), report('h1@x#b')], '2025-01-01T00:02:00.000Z', {
        fault_injection: false,
      });
      assert.equal(await s.getServiceFaultInjection('h1@x'), false);
      assert.equal(await s.getServiceFaultInjection('h2@x'), null, 'another service');
      // The flag is the service's, not a pool stat: pool rows read as before.
      assert.deepEqual(Object.keys((await s.listPools())[0]).includes('fault_injection'), false);
      await s.close();
    });

    test('every capacity form round-trips exactly', async () => {
      const s = await target.open();
      await s.reportPoolStats(
        'h1@x',
        [
          report('h1@x#inf', {
            total_capacity_gb: 'infinite',
            free_capacity_gb: 'unknown',
            capabilities: { nested: { a: [1, 2] } },
          }),
          report('h1@x#broken', { total_capacity_gb: 'unknown', free_capacity_gb: null, availability_zone: 'az2' }),
          report('h1@x#frac', {
            total_capacity_gb: 0.1 + 0.2,
            free_capacity_gb: 12.345,
            provisioned_capacity_gb: 1.5,
            reserved_percentage: 7.5,
            max_over_subscription_ratio: 20,
            thin_provisioning_support: true,
          }),
        ],
        T0,
      );
      assert.deepEqual(await s.listPools(), [
        {
          backend_id: 'h1@x#broken',
          host: 'h1@x',
          availability_zone: 'az2',
          total_capacity_gb: 'unknown',
          free_capacity_gb: null,
          allocated_capacity_gb: 0,
          provisioned_capacity_gb: 0,
          reserved_percentage: 0,
          max_over_subscription_ratio: 1,
          thin_provisioning_support: false,
          thick_provisioning_support: true,
          capabilities: { volume_backend_name: 'lvm' },
          updated_at: T0,
        },
        {
          backend_id: 'h1@x#frac',
          host: 'h1@x',
          availability_zone: 'nova',
          total_capacity_gb: 0.1 + 0.2,
          free_capacity_gb: 12.345,
          allocated_capacity_gb: 0,
          provisioned_capacity_gb: 1.5,
          reserved_percentage: 7.5,
          max_over_subscription_ratio: 20,
          thin_provisioning_support: true,
          thick_provisioning_support: true,
          capabilities: { volume_backend_name: 'lvm' },
          updated_at: T0,
        },
        {
          backend_id: 'h1@x#inf',
          host: 'h1@x',
          availability_zone: 'nova',
          total_capacity_gb: 'infinite',
          free_capacity_gb: 'unknown',
          allocated_capacity_gb: 0,
          provisioned_capacity_gb: 0,
          reserved_percentage: 0,
          max_over_subscription_ratio: 1,
          thin_provisioning_support: false,
          thick_provisioning_support: true,
          capabilities: { nested: { a: [1, 2] } },
          updated_at: T0,
        },
      ]);
      assert.deepEqual(await s.listAvailabilityZones(), ['az2', 'nova']);
      await assert.rejects(s.reportPoolStats('h2@x', [report('h1@x#frac')], T1), /does not belong/);
      await s.close();
    });

    test('doubles that a 4-byte float would round survive in every numeric column', async () => {
      const s = await target.open();
      const odd = {
        provisioned_capacity_gb: 1 / 3,
        reserved_percentage: 0.1 + 0.7,
        max_over_subscription_ratio: 1e-7 + 20,
      };
      await s.reportPoolStats(
        'h1@x',
        [report('h1@x#a', { total_capacity_gb: 2 ** 40 + 0.5, free_capacity_gb: Math.PI, ...odd })],
        T0,
      );
      const a = await pool(s, 'h1@x#a');
      assert.deepEqual(
        [
          a.total_capacity_gb,
          a.free_capacity_gb,
          a.provisioned_capacity_gb,
          a.reserved_percentage,
          a.max_over_subscription_ratio,
        ],
        [2 ** 40 + 0.5, Math.PI, odd.provisioned_capacity_gb, odd.reserved_percentage, odd.max_over_subscription_ratio],
      );
      await addVolume(s, 'v1', 1);
      await s.claimCapacity({
        volumeId: 'v1',
        attempt: 1,
        sizeGb: 1,
        liveSince: T0,
        now: T1,
        choose: ([p]) => ({
          backend: { ...p, allocated_capacity_gb: 0.1 + 0.2, provisioned_capacity_gb: 1 / 7, free_capacity_gb: Math.E },
        }),
      });
      const b = await pool(s, 'h1@x#a');
      assert.deepEqual(
        [b.allocated_capacity_gb, b.provisioned_capacity_gb, b.free_capacity_gb],
        [0.1 + 0.2, 1 / 7, Math.E],
      );
      await s.close();
    });

    test('claims not yet on disk count as provisioned and come off free; allocated is every active claim', async () => {
      const s = await target.open();
      await s.reportPoolStats('h1@lvm', [report('h1@lvm#a')], T0);
      for (const [id, size] of [
        ['v1', 10],
        ['v2', 5],
        ['v3', 7],
      ] as const) {
        await addVolume(s, id, size);
        await s.claimCapacity({
          volumeId: id,
          attempt: 1,
          sizeGb: size,
          liveSince: T0,
          now: T0,
          choose: firstFit(size),
        });
      }
      await s.releaseCapacity('v3', 1, T1);
      // The driver sees v2 on disk already (its 5 GiB are in the reported numbers) and an older volume.
      await s.reportPoolStats(
        'h1@lvm',
        [
          report('h1@lvm#a', {
            free_capacity_gb: 80,
            provisioned_capacity_gb: 20,
            volume_names: ['volume-old', 'volume-v2'],
          }),
        ],
        T1,
      );
      let a = await pool(s, 'h1@lvm#a');
      assert.equal(a.allocated_capacity_gb, 15); // v1 + v2; v3 released
      assert.equal(a.provisioned_capacity_gb, 30); // 20 reported + v1 pending
      assert.equal(a.free_capacity_gb, 70); // 80 reported - v1 pending
      assert.equal(a.updated_at, T1);

      // Non-numeric free stays as reported. v2 was seen on disk: it stays in the driver's figures
      // (the driver keeps them as volumes come and go) and is not pending again.
      await s.reportPoolStats(
        'h1@lvm',
        [report('h1@lvm#a', { free_capacity_gb: 'infinite', provisioned_capacity_gb: 20 })],
        T2,
      );
      a = await pool(s, 'h1@lvm#a');
      assert.equal(a.free_capacity_gb, 'infinite');
      assert.equal(a.provisioned_capacity_gb, 30); // v1 still pending
      assert.equal(a.allocated_capacity_gb, 15);
      await s.close();
    });

    test('a restarted worker on the same database finds the same figures', async () => {
      const db = await target.freshDatabase();
      let s = await db.open();
      await s.reportPoolStats('h1@lvm', [report('h1@lvm#a')], T0);
      for (const id of ['v1', 'v2']) {
        await addVolume(s, id, 3);
        await s.claimCapacity({ volumeId: id, attempt: 1, sizeGb: 3, liveSince: T0, now: T0, choose: firstFit(3) });
      }
      const seen = report('h1@lvm#a', {
        free_capacity_gb: 97,
        provisioned_capacity_gb: 3,
        volume_names: ['volume-v1'],
      });
      await s.reportPoolStats('h1@lvm', [seen], T1);
      const before = await pool(s, 'h1@lvm#a');
      await s.close();
      s = await db.open();
      assert.deepEqual(Object.fromEntries(await s.pendingClaimObjects(['h1@lvm#a'])), { 'h1@lvm#a': ['volume-v2'] });
      // The restarted driver scans the same files, so it reports the same figures.
      await s.reportPoolStats('h1@lvm', [{ ...seen, volume_names: [] }], T1);
      assert.deepEqual(await pool(s, 'h1@lvm#a'), before);
      assert.deepEqual(
        [before.allocated_capacity_gb, before.provisioned_capacity_gb, before.free_capacity_gb],
        [6, 6, 94],
      );
      await s.close();
    });

    test('pendingClaimObjects: the active claims no report has seen on disk, per pool; seen is for good', async () => {
      const s = await target.open();
      await s.reportPoolStats('h1@lvm', [report('h1@lvm#a'), report('h1@lvm#b')], T0);
      for (const [id, pool] of [
        ['v1', 'h1@lvm#a'],
        ['v2', 'h1@lvm#a'],
        ['v3', 'h1@lvm#b'],
        ['v4', 'h1@lvm#a'],
      ] as const) {
        await addVolume(s, id, 2);
        await s.claimCapacity({
          volumeId: id,
          attempt: 1,
          sizeGb: 2,
          liveSince: T0,
          now: T0,
          choose: (pools) => firstFit(2)(pools.filter((p) => p.backend_id === pool)),
        });
      }
      await s.releaseCapacity('v4', 1, T1); // a rescheduled attempt: never pending again
      const all = { a: ['volume-v1', 'volume-v2'], b: ['volume-v3'] };
      assert.deepEqual(Object.fromEntries(await s.pendingClaimObjects(['h1@lvm#a', 'h1@lvm#b', 'h1@lvm#none'])), {
        'h1@lvm#a': all.a,
        'h1@lvm#b': all.b,
        'h1@lvm#none': [],
      });
      // The driver saw v2 (and v9, no claim of this store's) on a; nothing on b.
      await s.reportPoolStats(
        'h1@lvm',
        [
          report('h1@lvm#a', { free_capacity_gb: 50, volume_names: ['volume-v2', 'volume-v9'] }),
          report('h1@lvm#b', { free_capacity_gb: 50 }),
        ],
        T1,
      );
      assert.deepEqual(Object.fromEntries(await s.pendingClaimObjects(['h1@lvm#a', 'h1@lvm#b'])), {
        'h1@lvm#a': ['volume-v1'],
        'h1@lvm#b': ['volume-v3'],
      });
      const a = await pool(s, 'h1@lvm#a');
      assert.deepEqual([a.allocated_capacity_gb, a.provisioned_capacity_gb, a.free_capacity_gb], [4, 2, 48]);
      const b = await pool(s, 'h1@lvm#b');
      assert.deepEqual([b.allocated_capacity_gb, b.provisioned_capacity_gb, b.free_capacity_gb], [2, 2, 48]);
      await s.close();
    });

    test('a pool its service stopped reporting keeps its old heartbeat', async () => {
      const s = await target.open();
      await s.reportPoolStats('h1@lvm', [report('h1@lvm#a'), report('h1@lvm#b')], T0);
      await s.reportPoolStats('h1@lvm', [report('h1@lvm#a')], '2025-01-01T00:01:00Z');
      assert.deepEqual(
        (await s.listPools()).map((p) => [p.backend_id, p.updated_at]),
        [
          ['h1@lvm#a', T1], // timestamps are stored in one canonical form
          ['h1@lvm#b', T0],
        ],
      );
      await assert.rejects(s.reportPoolStats('h1@lvm', [report('h1@lvm#a')], 'yesterday'), /invalid timestamp/);
      await s.close();
    });

    test('pools and zones sort byte-wise (upper case before lower case)', async () => {
      const s = await target.open();
      await s.reportPoolStats(
        'h1@lvm',
        [
          report('h1@lvm#b', { availability_zone: 'zone-b' }),
          report('h1@lvm#B', { availability_zone: 'Zone-c' }),
          report('h1@lvm#a'),
        ],
        T0,
      );
      assert.deepEqual(
        (await s.listPools()).map((p) => p.backend_id),
        ['h1@lvm#B', 'h1@lvm#a', 'h1@lvm#b'],
      );
      assert.deepEqual(await s.listAvailabilityZones(), ['Zone-c', 'nova', 'zone-b']);
      await s.close();
    });
  });

  describe(`${name}: claimCapacity`, () => {
    async function setup() {
      const s = await target.open();
      await s.reportPoolStats(
        'h1@lvm',
        [report('h1@lvm#b', { free_capacity_gb: 50 }), report('h1@lvm#a', { free_capacity_gb: 8 })],
        T1,
      );
      await s.reportPoolStats('h0@old', [report('h0@old#x')], T0); // not live at T1
      await addVolume(s, 'v1', 10);
      return s;
    }

    test('passes only live pools, in backend_id order, as BackendState', async () => {
      const s = await setup();
      const seen: BackendState[][] = [];
      await s.claimCapacity({
        volumeId: 'v1',
        attempt: 1,
        sizeGb: 10,
        liveSince: '2025-01-01T00:01:00Z',
        now: T2,
        choose: firstFit(10, seen),
      });
      assert.equal(seen.length, 1);
      assert.deepEqual(
        seen[0].map((p) => p.backend_id),
        ['h1@lvm#a', 'h1@lvm#b'],
      );
      assert.deepEqual(Object.keys(seen[0][0]).sort(), [
        'allocated_capacity_gb',
        'availability_zone',
        'backend_id',
        'capabilities',
        'free_capacity_gb',
        'max_over_subscription_ratio',
        'provisioned_capacity_gb',
        'reserved_percentage',
        'thick_provisioning_support',
        'thin_provisioning_support',
        'total_capacity_gb',
      ]);
      await s.close();
    });

    test('claims, writes the consumed stats back, sets host; a repeat returns the same claim without choosing', async () => {
      const s = await setup();
      const first = await s.claimCapacity({
        volumeId: 'v1',
        attempt: 1,
        sizeGb: 10,
        liveSince: T1,
        now: T2,
        choose: firstFit(10),
      });
      assert.deepEqual(first, {
        existing: false,
        claim: { volume_id: 'v1', attempt: 1, backend_id: 'h1@lvm#b', size_gb: 10, status: 'active', created_at: T2 },
      });
      const b = await pool(s, 'h1@lvm#b');
      assert.deepEqual([b.allocated_capacity_gb, b.provisioned_capacity_gb, b.free_capacity_gb], [10, 10, 40]);
      const v = await s.getVolume('v1');
      assert.equal(v?.host, 'h1@lvm#b');
      assert.equal(v?.scheduled_at, T2);

      let called = false;
      const again = await s.claimCapacity({
        volumeId: 'v1',
        attempt: 1,
        sizeGb: 10,
        liveSince: T1,
        now: '2025-01-01T00:09:00.000Z',
        choose: () => {
          called = true;
          throw new Error('must not be called');
        },
      });
      assert.equal(called, false);
      assert.deepEqual(again, { ...first, existing: true });
      assert.deepEqual(await pool(s, 'h1@lvm#b'), b);
      assert.deepEqual(await s.listClaims(), [first.claim]);
      await s.close();
    });

    test('a throwing choose writes nothing', async () => {
      const s = await setup();
      const before = await s.listPools();
      await assert.rejects(
        s.claimCapacity({ volumeId: 'v1', attempt: 1, sizeGb: 60, liveSince: T1, now: T2, choose: firstFit(60) }),
        (err: CinderError) => err.cinderType === 'NoValidBackend',
      );
      assert.deepEqual(await s.listPools(), before);
      assert.deepEqual(await s.listClaims('v1'), []);
      const v = await s.getVolume('v1');
      assert.equal(v?.host, null);
      assert.equal(v?.scheduled_at, null);
      await s.close();
    });

    test('a missing volume is VolumeNotFound, before choosing; a choice outside the live pools is refused', async () => {
      const s = await setup();
      let called = false;
      await assert.rejects(
        s.claimCapacity({
          volumeId: 'ghost',
          attempt: 1,
          sizeGb: 1,
          liveSince: T1,
          now: T2,
          choose: (p) => ((called = true), firstFit(1)(p)),
        }),
        (err: CinderError) => err.cinderType === 'VolumeNotFound',
      );
      assert.equal(called, false);
      await assert.rejects(
        s.claimCapacity({
          volumeId: 'v1',
          attempt: 1,
          sizeGb: 1,
          liveSince: T1,
          now: T2,
          choose: () => ({ backend: { ...report('h0@old#x'), allocated_capacity_gb: 1 } }),
        }),
        /not one of the live pools/,
      );
      assert.deepEqual(await s.listClaims(), []);
      assert.equal((await pool(s, 'h0@old#x')).allocated_capacity_gb, 0);
      await s.close();
    });

    test('claims from one store in parallel: exactly the capacity succeeds', async () => {
      const s = await target.open();
      await s.reportPoolStats('h1@lvm', [report('h1@lvm#a', { free_capacity_gb: 5 })], T0);
      for (let i = 0; i < 12; i++) await addVolume(s, `v${i}`, 1);
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          s.claimCapacity({ volumeId: `v${i}`, attempt: 1, sizeGb: 1, liveSince: T0, now: T1, choose: firstFit(1) }),
        ),
      );
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 5);
      for (const r of results)
        if (r.status === 'rejected') assert.equal((r.reason as CinderError).cinderType, 'NoValidBackend');
      const a = await pool(s, 'h1@lvm#a');
      assert.deepEqual([a.allocated_capacity_gb, a.provisioned_capacity_gb, a.free_capacity_gb], [5, 5, 0]);
      assert.equal((await s.listClaims()).length, 5);
      await s.close();
    });
  });

  describe(`${name}: releaseCapacity`, () => {
    test('gives back exactly once and leaves the host to the workflow', async () => {
      const s = await target.open();
      await s.reportPoolStats('h1@lvm', [report('h1@lvm#a', { free_capacity_gb: 30, provisioned_capacity_gb: 3 })], T0);
      await addVolume(s, 'v1', 10);
      await s.claimCapacity({ volumeId: 'v1', attempt: 1, sizeGb: 10, liveSince: T0, now: T1, choose: firstFit(10) });
      let a = await pool(s, 'h1@lvm#a');
      assert.deepEqual([a.allocated_capacity_gb, a.provisioned_capacity_gb, a.free_capacity_gb], [10, 13, 20]);

      assert.equal(await s.releaseCapacity('v1', 1, T2), true);
      assert.equal(await s.releaseCapacity('v1', 1, T2), false);
      assert.equal(await s.releaseCapacity('v1', 2, T2), false);
      assert.equal(await s.releaseCapacity('nope', 1, T2), false);
      a = await pool(s, 'h1@lvm#a');
      assert.deepEqual([a.allocated_capacity_gb, a.provisioned_capacity_gb, a.free_capacity_gb], [0, 3, 30]);
      assert.equal((await s.listClaims('v1'))[0].status, 'released');
      assert.equal((await s.getVolume('v1'))?.host, 'h1@lvm#a');

      // The next attempt claims afresh; a released claim is still "existing" for its own attempt.
      const second = await s.claimCapacity({
        volumeId: 'v1',
        attempt: 2,
        sizeGb: 10,
        liveSince: T0,
        now: T2,
        choose: firstFit(10),
      });
      assert.equal(second.existing, false);
      const replay = await s.claimCapacity({
        volumeId: 'v1',
        attempt: 1,
        sizeGb: 10,
        liveSince: T0,
        now: T2,
        choose: firstFit(10),
      });
      assert.deepEqual([replay.existing, replay.claim.status], [true, 'released']);
      assert.equal((await pool(s, 'h1@lvm#a')).allocated_capacity_gb, 10);
      await s.close();
    });

    test('non-numeric free is left alone; destroying a volume releases what it still holds', async () => {
      const s = await target.open();
      await s.reportPoolStats('h1@nfs', [report('h1@nfs#a', { free_capacity_gb: 'infinite' })], T0);
      await addVolume(s, 'v1', 4);
      await s.claimCapacity({
        volumeId: 'v1',
        attempt: 1,
        sizeGb: 4,
        liveSince: T0,
        now: T1,
        choose: ([p]) => ({ backend: { ...p, allocated_capacity_gb: 4, provisioned_capacity_gb: 4 } }),
      });
      await s.destroyVolume('v1');
      const a = await pool(s, 'h1@nfs#a');
      assert.deepEqual([a.allocated_capacity_gb, a.provisioned_capacity_gb, a.free_capacity_gb], [0, 0, 'infinite']);
      assert.equal((await s.listClaims('v1'))[0].status, 'released');
      assert.equal(await s.releaseCapacity('v1', 1, T2), false);
      await s.close();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// several processes on one database

type ChildJob = { mode: 'open'; location: string } | { mode: 'claim'; location: string; volumeIds: string[] };
interface ChildResult {
  claimed: number;
  noValidBackend: number;
  errors: string[];
}

/** First fit, thick: a pool with less free than the size cannot take it. Spins a little inside the
 *  transaction to widen the window in which another process could interleave. */
function chooseFirstFit(pools: BackendState[]): ClaimChoice {
  const spinUntil = Date.now() + 1;
  while (Date.now() < spinUntil);
  const pool = pools.find((p) => typeof p.free_capacity_gb === 'number' && p.free_capacity_gb >= 1);
  if (!pool) throw new CinderError('NoValidBackend', 'No valid backend was found.');
  return {
    backend: {
      ...pool,
      allocated_capacity_gb: pool.allocated_capacity_gb + 1,
      provisioned_capacity_gb: pool.provisioned_capacity_gb + 1,
      free_capacity_gb: (pool.free_capacity_gb as number) - 1,
    },
  };
}

async function runChild(job: ChildJob): Promise<void> {
  const result: ChildResult = { claimed: 0, noValidBackend: 0, errors: [] };
  const go = async () => {
    process.stdout.write('ready\n');
    await new Promise<void>((resolve) => createInterface({ input: process.stdin }).once('line', () => resolve()));
  };
  // Start together: report ready, wait for the parent's go. Openers race on the open itself;
  // claimers open first and race on the claims.
  if (job.mode === 'open') await go();
  const store = await openVolumeStore(job.location);
  if (job.mode === 'claim') {
    await go();
    for (const volumeId of job.volumeIds) {
      try {
        await store.claimCapacity({
          volumeId,
          attempt: 1,
          sizeGb: 1,
          liveSince: T0,
          now: new Date().toISOString(),
          choose: chooseFirstFit,
        });
        result.claimed++;
      } catch (err) {
        if (err instanceof CinderError && err.cinderType === 'NoValidBackend') result.noValidBackend++;
        else result.errors.push(String(err));
      }
    }
  }
  await store.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

/** Spawns children for jobs; once every child is ready, tells them all to go. */
async function runChildren(jobs: ChildJob[]): Promise<ChildResult[]> {
  const children = jobs.map((job) =>
    spawn(process.execPath, ['--import', 'tsx', __filename], {
      env: { ...process.env, STORE_CHILD: JSON.stringify(job) },
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const lines = children.map((c) => createInterface({ input: c.stdout! }));
  const ready = lines.map((rl) => new Promise<void>((resolve) => rl.once('line', () => resolve())));
  const results = lines.map(
    (rl, i) =>
      new Promise<ChildResult>((resolve, reject) => {
        let last = '';
        rl.on('line', (line) => (last = line));
        children[i].on('exit', (code) =>
          code === 0 ? resolve(JSON.parse(last) as ChildResult) : reject(new Error(`child ${i} exited ${code}`)),
        );
      }),
  );
  await Promise.race([Promise.all(ready), Promise.all(results)]);
  for (const c of children) c.stdin!.write('go\n');
  return Promise.all(results);
}

if (process.env.STORE_CHILD) void runChild(JSON.parse(process.env.STORE_CHILD) as ChildJob);

export function defineConcurrencyContract(name: string, target: StoreTarget): void {
  describe(`${name}: several processes on one database`, { timeout: 120_000 }, () => {
    test('opening a fresh database at once migrates it exactly once', async () => {
      const db = await target.freshDatabase();
      const results = await runChildren([1, 2, 3, 4].map(() => ({ mode: 'open' as const, location: db.location })));
      assert.equal(results.length, 4);
      assert.deepEqual(
        results.flatMap((r) => r.errors),
        [],
      );
      const { migrations, defaultTypes } = await target.inspect(db.location);
      assert.deepEqual(
        [...migrations].sort((x, y) => x.version - y.version),
        MIGRATIONS.map((m) => ({ version: m.version })),
      );
      assert.equal(defaultTypes, 1);
    });

    test('3 processes x 20 claims of 1 GiB on a 10 GiB pool: exactly 10 succeed', async () => {
      const db = await target.freshDatabase();
      const s = await db.open();
      await s.reportPoolStats(
        'h1@lvm',
        [
          {
            backend_id: 'h1@lvm#a',
            availability_zone: 'nova',
            total_capacity_gb: 10,
            free_capacity_gb: 10,
            provisioned_capacity_gb: 0,
            reserved_percentage: 0,
            max_over_subscription_ratio: 1,
            thin_provisioning_support: false,
            thick_provisioning_support: true,
            capabilities: {},
            volume_names: [],
          },
        ],
        T0,
      );
      const jobs: ChildJob[] = [];
      for (let c = 0; c < 3; c++) {
        const volumeIds: string[] = [];
        for (let i = 0; i < 20; i++) {
          const id = `v-${c}-${i}`;
          volumeIds.push(id);
          await s.createVolume({
            id,
            request: { volume_id: id, project_id: 'p1', size: 1 },
            volume_type: 'default',
            source: { type: 'raw' },
            workflow_id: `create-volume-${id}`,
            now: T0,
          });
        }
        jobs.push({ mode: 'claim', location: db.location, volumeIds });
      }

      const results = await runChildren(jobs);
      assert.deepEqual(
        results.flatMap((r) => r.errors),
        [],
      );
      assert.equal(
        results.reduce((n, r) => n + r.claimed, 0),
        10,
      );
      assert.equal(
        results.reduce((n, r) => n + r.noValidBackend, 0),
        50,
      );
      const [pool] = await s.listPools();
      assert.deepEqual([pool.allocated_capacity_gb, pool.provisioned_capacity_gb, pool.free_capacity_gb], [10, 10, 0]);
      const claims = await s.listClaims();
      assert.equal(claims.length, 10);
      assert.equal((await s.listVolumes()).filter((v) => v.host === 'h1@lvm#a').length, 10);
      await s.close();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// delete: conditional status change, capacity and quota given back, soft delete; quota_usages

export function defineDeleteContract(name: string, target: StoreTarget): void {
  describe(`${name}: delete and quota usages`, () => {
    test('quota_usages follow reserve, commit, rollback and release, each once', async () => {
      const s = await target.open({ defaultQuotas: { volumes: 2 } });
      await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 5 }, T0);
      await s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 3 }, T0);
      await s.commitQuota('v1', T0);
      await s.commitQuota('v1', T0);
      await s.rollbackQuota('v2', T0);
      assert.deepEqual((await usage(s)).volumes, { limit: 2, in_use: 1, reserved: 0 });
      assert.deepEqual((await usage(s)).gigabytes, { limit: 1000, in_use: 5, reserved: 0 });
      // The delete gives v1's quota back once, however often it is asked.
      assert.equal(await s.releaseQuota('v1', T1), true);
      assert.equal(await s.releaseQuota('v1', T1), false);
      assert.equal(await s.releaseQuota('v2', T1), false); // rolled back: nothing in use to give back
      assert.deepEqual((await usage(s)).volumes, { limit: 2, in_use: 0, reserved: 0 });
      assert.deepEqual((await usage(s)).gigabytes, { limit: 1000, in_use: 0, reserved: 0 });
      // What was given back is usable at once: two more volumes fit the limit of 2.
      await s.reserveQuota('v3', 'p1', { volumes: 1, gigabytes: 1 }, T1);
      await s.reserveQuota('v4', 'p1', { volumes: 1, gigabytes: 1 }, T1);
      await assert.rejects(
        s.reserveQuota('v5', 'p1', { volumes: 1, gigabytes: 1 }, T1),
        (e: CinderError) => e.cinderType === 'VolumeLimitExceeded',
      );
      // Resources asked for by name are listed with their limit even without usage.
      const listed = await s.getQuotaUsage('p1', ['volumes_gold']);
      assert.deepEqual(
        listed.find((q) => q.resource === 'volumes_gold'),
        { resource: 'volumes_gold', limit: -1, in_use: 0, reserved: 0 },
      );
      await s.close();
    });

    test('usage rows are kept per project: another project is not charged', async () => {
      const s = await target.open();
      await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 5 }, T0);
      await s.commitQuota('v1', T0);
      assert.deepEqual((await usage(s, 'p2')).volumes, { limit: 10, in_use: 0, reserved: 0 });
      assert.deepEqual((await usage(s, 'p1')).volumes, { limit: 10, in_use: 1, reserved: 0 });
      await s.close();
    });

    test('conditionalUpdateVolume changes the status only from the expected ones', async () => {
      const s = await target.open();
      await s.createVolume(newVolume('v1'));
      let r = await s.conditionalUpdateVolume('v1', ['available', 'error'], { status: 'deleting' }, T1);
      assert.deepEqual([r.updated, r.volume?.status], [false, 'creating']);
      await s.updateVolume('v1', { status: 'available' }, T1);
      r = await s.conditionalUpdateVolume('v1', ['available', 'error'], { status: 'deleting' }, T1);
      assert.deepEqual([r.updated, r.volume?.status], [true, 'deleting']);
      assert.deepEqual(await s.conditionalUpdateVolume('nope', null, { status: 'deleting' }, T1), {
        volume: null,
        updated: false,
      });
      await s.close();
    });

    test('a delete gives back every active claim at once, keeps the zone it landed in, and soft-deletes', async () => {
      const s = await target.open();
      await s.reportPoolStats('h1@lvm', [report('h1@lvm#a', { availability_zone: 'zone-x' })], T0);
      await addVolume(s, 'v1', 10);
      await addVolume(s, 'v2', 4);
      await s.claimCapacity({ volumeId: 'v1', attempt: 1, sizeGb: 10, liveSince: T0, now: T0, choose: firstFit(10) });
      await s.claimCapacity({ volumeId: 'v2', attempt: 1, sizeGb: 4, liveSince: T0, now: T0, choose: firstFit(4) });
      assert.equal((await s.getVolume('v1'))?.availability_zone, 'zone-x');
      assert.equal((await pool(s, 'h1@lvm#a')).allocated_capacity_gb, 14);
      assert.equal(await s.releaseVolumeCapacity('v1', T1), 1);
      assert.equal(await s.releaseVolumeCapacity('v1', T1), 0);
      const a = await pool(s, 'h1@lvm#a');
      assert.deepEqual([a.allocated_capacity_gb, a.free_capacity_gb], [4, 96]);
      await s.updateVolume('v1', { status: 'deleted', deleted_at: T2 }, T2);
      assert.deepEqual([(await s.getVolume('v1'))?.status, (await s.getVolume('v1'))?.deleted_at], ['deleted', T2]);
      assert.deepEqual(
        (await s.listVolumes({ hide_deleted: true })).map((v) => v.id),
        ['v2'],
      );
      assert.deepEqual(
        (await s.listVolumes()).map((v) => v.id),
        ['v1', 'v2'],
      );
      assert.deepEqual(
        (await s.listVolumes({ status: 'deleted' })).map((v) => v.id),
        ['v1'],
      );
      await s.close();
    });

    test('clearFaultRules says how many it removed; volume types are listed', async () => {
      const s = await target.open();
      for (const host of ['h1@x', 'h1@x', 'h2@x'])
        await s.addFaultRule({ host, op: 'create', action: 'error', remaining: 1 });
      assert.equal(await s.clearFaultRules('h1@x'), 2);
      assert.equal(await s.clearFaultRules(), 1);
      assert.equal(await s.clearFaultRules(), 0);
      await s.putVolumeType({ name: 'ssd', extra_specs: {} });
      assert.deepEqual(
        (await s.listVolumeTypes()).map((t) => t.name),
        ['default', 'ssd'],
      );
      await s.close();
    });
  });
}
