/**
 * The SQLite volume store: what only SQLite has (files, WAL, pragmas, sqlite urls), then the
 * store contract's volumes, reference data, events and fault rules suites
 * (store-contract.ts; quota, capacity and concurrency run in their own files).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS, SqliteVolumeStore, applyMigrations, openVolumeStore, sqliteFilename } from '../../src/store';
import { SqliteConnection } from '../../src/store/sqlite-connection';
import { defineBasicContract, defineOwnershipContract, sqliteTarget } from './store-contract';

const tmp = mkdtempSync(join(tmpdir(), 'store-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('migrations and opening', () => {
  test('migration 2 keeps the volumes and fills quota_usages from the reservations made before it', async () => {
    const file = join(tmp, 'upgrade.db');
    const old = new Database(file);
    applyMigrations(
      old,
      MIGRATIONS.filter((m) => m.version === 1),
    );
    old
      .prepare(
        `INSERT INTO volumes (id, project_id, size, status, volume_type, source, metadata, created_at, updated_at)
       VALUES ('v1', 'p1', 5, 'available', 'default', '{"type":"raw"}', '{}', 't', 't')`,
      )
      .run();
    const reserve = old.prepare(
      "INSERT INTO quota_reservations (volume_id, project_id, resource, delta, status, created_at, updated_at) VALUES (?, 'p1', ?, ?, ?, 't', 't')",
    );
    for (const [v, resource, delta, status] of [
      ['v1', 'volumes', 1, 'committed'],
      ['v1', 'gigabytes', 5, 'committed'],
      ['v2', 'volumes', 1, 'reserved'],
      ['v2', 'gigabytes', 2, 'reserved'],
      ['v3', 'volumes', 1, 'rolled_back'],
      ['v3', 'gigabytes', 9, 'rolled_back'],
    ] as const)
      reserve.run(v, resource, delta, status);
    old.close();
    const s = new SqliteVolumeStore(file);
    try {
      const v = await s.getVolume('v1');
      assert.deepEqual([v?.status, v?.size, v?.deleted_at], ['available', 5, null]);
      const usage = Object.fromEntries((await s.getQuotaUsage('p1')).map((q) => [q.resource, [q.in_use, q.reserved]]));
      assert.deepEqual(usage, { gigabytes: [5, 2], volumes: [1, 1] });
      // The rebuilt table has its indexes and takes the delete statuses.
      await s.updateVolume('v1', { status: 'deleted', deleted_at: 't2' }, 't2');
      const indexes = s.db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'volumes' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .all();
      assert.deepEqual(indexes, [
        { name: 'volumes_host' },
        { name: 'volumes_project_request' },
        { name: 'volumes_status' },
      ]);
    } finally {
      await s.close();
    }
  });

  test('opening the same file twice applies each migration once', async () => {
    const file = join(tmp, 'nested', 'dir', 'migrate.db');
    const a = (await openVolumeStore(`sqlite:${file}`)) as SqliteVolumeStore;
    await a.putVolumeType({ name: 'gold', extra_specs: { 'capabilities:tier': 'gold' } });
    await a.close();
    const b = (await openVolumeStore(file)) as SqliteVolumeStore;
    const versions = b.db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as Array<{
      version: number;
    }>;
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

  test('migration 5 on a database of build 1: allocation recounted from the claims, every active claim still to be seen', async () => {
    const file = join(tmp, 'upgrade-allocation.db');
    const old = new Database(file);
    applyMigrations(
      old,
      MIGRATIONS.filter((m) => m.version === 1),
    );
    const now = '2025-01-01T00:00:00.000Z';
    old.prepare(`INSERT INTO pools VALUES ('h@b#p', 'h@b', 'nova', '100', '90', 0, 0, 0, 1, 0, 1, '{}', ?)`).run(now);
    for (const [id, status] of [
      ['v1', 'active'],
      ['v2', 'active'],
      ['v3', 'released'],
    ]) {
      old
        .prepare(
          `INSERT INTO volumes (id, project_id, size, status, volume_type, source, metadata, created_at, updated_at) VALUES (?, 'p', 4, 'creating', 'default', '{}', '{}', ?, ?)`,
        )
        .run(id, now, now);
      old.prepare(`INSERT INTO capacity_claims VALUES (?, 1, 'h@b#p', 4, ?, ?, NULL)`).run(id, status, now);
    }
    old.close();
    const s = await openVolumeStore(`sqlite:${file}`);
    assert.equal((await s.listPools())[0].allocated_capacity_gb, 8);
    assert.deepEqual(Object.fromEntries(await s.pendingClaimObjects(['h@b#p'])), {
      'h@b#p': ['volume-v1', 'volume-v2'],
    });
    await s.close();
  });

  test('urls', async () => {
    assert.equal(sqliteFilename('sqlite::memory:'), ':memory:');
    assert.equal(sqliteFilename('sqlite:data/v.db'), 'data/v.db');
    assert.equal(sqliteFilename('sqlite:///var/lib/v.db'), '/var/lib/v.db');
    assert.equal(sqliteFilename('/var/lib/v.db'), '/var/lib/v.db');
    assert.ok((await openVolumeStore('sqlite::memory:')) instanceof SqliteVolumeStore);
    // PostgreSQL urls are PostgreSQL's (store-postgres.test.ts opens real ones); nothing listens on
    // port 1, and the password never shows.
    assert.throws(
      () => sqliteFilename('postgres://u:secret@db/cinder'),
      (err: Error) => {
        assert.match(err.message, /PostgreSQL/);
        assert.doesNotMatch(err.message, /secret/);
        return true;
      },
    );
    await assert.rejects(openVolumeStore('postgres://u:secret@127.0.0.1:1/cinder'), (err: Error) => {
      assert.match(
        err.message,
        /^Could not open the PostgreSQL volume database postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/cinder: /,
      );
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
    await assert.rejects(openVolumeStore('postgresql://127.0.0.1:1/cinder?password=secret'), (err: Error) => {
      assert.match(err.message, /PostgreSQL/);
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
    await assert.rejects(openVolumeStore('mysql://u:secret@db/cinder'), (err: Error) => {
      assert.match(err.message, /Unsupported volume database url/);
      assert.doesNotMatch(err.message, /secret/);
      return true;
    });
  });
});

describe('one connection, taken in turns', () => {
  test('what is asked for during a transaction waits for it, in order, and neither nests in it nor sees its rows', async () => {
    const c = new SqliteConnection(':memory:');
    await c.run('CREATE TABLE t (x INTEGER)');
    const order: string[] = [];
    const failing = c.transaction('write', async (tx) => {
      await tx.run('INSERT INTO t (x) VALUES (1)');
      await new Promise((resolve) => setTimeout(resolve, 20)); // other async work of the process runs meanwhile
      order.push('failing');
      throw new Error('boom');
    });
    const read = c.all<{ x: number }>('SELECT x FROM t ORDER BY x').then((rows) => (order.push('read'), rows));
    const outside = c.run('INSERT INTO t (x) VALUES (2)').then(() => order.push('outside'));
    const second = c.transaction('write', async (tx) => {
      await tx.run('INSERT INTO t (x) VALUES (3)');
      order.push('second');
      return (await tx.all<{ x: number }>('SELECT x FROM t ORDER BY x')).map((r) => r.x);
    });
    await assert.rejects(failing, /boom/);
    assert.deepEqual(await read, []); // not the failing transaction's uncommitted row
    await outside;
    assert.deepEqual(await second, [2, 3]);
    assert.deepEqual(order, ['failing', 'read', 'outside', 'second']);
    assert.deepEqual(await c.all('SELECT x FROM t ORDER BY x'), [{ x: 2 }, { x: 3 }]); // the rollback took only its own row
    assert.equal(c.db.inTransaction, false);
    await c.close();
  });

  test('on a free connection a statement runs at once, in the call', async () => {
    const c = new SqliteConnection(':memory:');
    c.db.exec('CREATE TABLE t (x INTEGER)');
    const done = c.run('INSERT INTO t (x) VALUES (1)');
    assert.deepEqual(c.db.prepare('SELECT x FROM t').all(), [{ x: 1 }]);
    await done;
    await c.close();
    await c.close(); // closing twice is fine
  });
});

defineBasicContract('SQLite', sqliteTarget());
defineOwnershipContract('SQLite', sqliteTarget());
