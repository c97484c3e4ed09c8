/**
 * The PostgreSQL volume store: the whole store contract (store-contract.ts) on a throw-away server
 * (test/support/postgres.ts: one per file, each test on a database of its own), then what only
 * PostgreSQL has: urls, the advisory locks, collation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from 'pg';
import type { BackendState } from '../../src/scheduler/types';
import { MIGRATIONS, PostgresVolumeStore, openVolumeStore, type PoolStatsReport } from '../../src/store';
import { startTestPostgres, type TestPostgres } from '../support/postgres';
import { defineStoreContract, report, type StoreTarget, type StoreTestOptions } from './store-contract';

let server: TestPostgres | undefined;
before(async () => {
  server = await startTestPostgres();
});
after(async () => {
  await server?.stop();
});

function pg(): TestPostgres {
  assert.ok(server, 'the PostgreSQL test server did not start');
  return server;
}

function openAt(url: string, options?: StoreTestOptions) {
  return options ? PostgresVolumeStore.open(url, options) : openVolumeStore(url);
}

async function query<R>(url: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as R[];
  } finally {
    await c.end();
  }
}

const target: StoreTarget = {
  open: async (options) => openAt(await pg().createDatabase(), options),
  freshDatabase: async () => {
    const location = await pg().createDatabase();
    return { location, open: (options) => openAt(location, options) };
  },
  inspect: async (location) => ({
    migrations: await query<{ version: number }>(location, 'SELECT version::integer AS version FROM schema_migrations'),
    defaultTypes: (
      await query<{ n: number }>(location, "SELECT COUNT(*)::integer AS n FROM volume_types WHERE name = 'default'")
    )[0].n,
  }),
};

defineStoreContract('PostgreSQL', target);

const T0 = '2025-01-01T00:00:00.000Z';
const T1 = '2025-01-01T00:01:00.000Z';

const pgReport = (backend_id: string, availability_zone = 'nova'): PoolStatsReport =>
  report(backend_id, { availability_zone, capabilities: {} });

async function addVolume(s: PostgresVolumeStore, id: string, now = T0): Promise<void> {
  await s.createVolume({
    id,
    request: { volume_id: id, project_id: 'p1', size: 1 },
    volume_type: 'default',
    source: { type: 'raw' },
    workflow_id: `create-volume-${id}`,
    now,
  });
}

const takeFirst = (pools: BackendState[]) => ({
  backend: { ...pools[0], allocated_capacity_gb: pools[0].allocated_capacity_gb + 1 },
});

describe('PostgreSQL only', () => {
  test('postgres:// and postgresql:// urls open a migrated PostgresVolumeStore', async () => {
    const url = await pg().createDatabase();
    const a = await openVolumeStore(url);
    assert.ok(a instanceof PostgresVolumeStore);
    await a.close();
    await a.close(); // closing twice is fine
    const b = await openVolumeStore(url.replace(/^postgres:/, 'postgresql:'));
    assert.ok(b instanceof PostgresVolumeStore);
    assert.deepEqual(await b.getVolumeType('default'), { name: 'default', extra_specs: {} });
    await b.close();
    const versions = await query<{ version: number }>(
      url,
      'SELECT version::integer AS version FROM schema_migrations ORDER BY version',
    );
    assert.deepEqual(
      versions.map((v) => v.version),
      MIGRATIONS.map((m) => m.version),
    );
  });

  test('a database that cannot be opened is named without its password', async () => {
    const url = new URL(await pg().createDatabase());
    assert.ok(url.password, 'the test server uses a password');
    const password = url.password;
    url.pathname = '/no_such_database';
    await assert.rejects(openVolumeStore(url.toString()), (err: Error) => {
      assert.match(
        err.message,
        /^Could not open the PostgreSQL volume database postgres:\/\/[^:]+:\*\*\*@127\.0\.0\.1:\d+\/no_such_database: /,
      );
      assert.match(err.message, /no_such_database/);
      assert.ok(!err.message.includes(password), err.message);
      return true;
    });
    url.password = 'wrong-secret';
    await assert.rejects(openVolumeStore(url.toString()), (err: Error) => {
      assert.match(err.message, /PostgreSQL/);
      assert.doesNotMatch(err.message, /wrong-secret/);
      return true;
    });
  });

  test('stores opening a fresh database at once apply each migration once', async () => {
    const url = await pg().createDatabase();
    const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresVolumeStore.open(url)));
    await Promise.all(stores.map((s) => s.close()));
    assert.deepEqual(
      await query(url, 'SELECT version::integer AS version FROM schema_migrations ORDER BY version'),
      MIGRATIONS.map((m) => ({ version: m.version })),
    );
    assert.deepEqual(await query(url, "SELECT COUNT(*)::integer AS n FROM volume_types WHERE name = 'default'"), [
      { n: 1 },
    ]);
  });

  test('the schema keeps SQLite values: 64-bit integers, 8-byte doubles, byte-wise text', async () => {
    const url = await pg().createDatabase();
    const s = await PostgresVolumeStore.open(url);
    await s.close();
    const columns = await query<{
      table_name: string;
      column_name: string;
      data_type: string;
      collation_name: string | null;
    }>(
      url,
      `SELECT table_name, column_name, data_type, collation_name FROM information_schema.columns WHERE table_schema = 'public'`,
    );
    const types = new Set(columns.map((c) => c.data_type));
    assert.deepEqual([...types].sort(), ['bigint', 'double precision', 'text']);
    const loose = columns.filter(
      (c) => c.data_type === 'text' && c.collation_name !== 'C' && c.table_name !== 'schema_migrations',
    );
    assert.deepEqual(loose, []);
    const doubles = columns
      .filter((c) => c.data_type === 'double precision')
      .map((c) => `${c.table_name}.${c.column_name}`);
    assert.deepEqual(doubles.sort(), [
      'fault_rules.probability',
      'pools.allocated_capacity_gb',
      'pools.max_over_subscription_ratio',
      'pools.provisioned_capacity_gb',
      'pools.reserved_percentage',
    ]);
    // A size beyond 32 bits survives as a number.
    const big = await PostgresVolumeStore.open(url);
    await big.putImage({
      id: 'huge',
      name: 'huge',
      size_gb: 2 ** 40,
      disk_format: 'raw',
      status: 'active',
      path: '/x',
    });
    assert.equal((await big.getImage('huge'))?.size_gb, 2 ** 40);
    await big.close();
  });

  test('in a database whose locale sorts otherwise, order and liveness are still byte-wise', async () => {
    const s = await PostgresVolumeStore.open(await pg().createDatabase({ icuLocale: 'en-US' }));
    await s.reportPoolStats(
      'h1@lvm',
      [pgReport('h1@lvm#b', 'zone-b'), pgReport('h1@lvm#B', 'Zone-c'), pgReport('h1@lvm#a'), pgReport('h1@lvm#_x')],
      T1,
    );
    assert.deepEqual(
      (await s.listPools()).map((p) => p.backend_id),
      ['h1@lvm#B', 'h1@lvm#_x', 'h1@lvm#a', 'h1@lvm#b'],
    );
    assert.deepEqual(await s.listAvailabilityZones(), ['Zone-c', 'nova', 'zone-b']);
    for (const id of ['b', 'B', '_', 'a']) await addVolume(s, id, T1);
    assert.deepEqual(
      (await s.listVolumes()).map((v) => v.id),
      ['B', '_', 'a', 'b'],
    );
    const seen: string[][] = [];
    await s.claimCapacity({
      volumeId: 'a',
      attempt: 1,
      sizeGb: 1,
      liveSince: T1,
      now: T1,
      choose: (pools) => (seen.push(pools.map((p) => p.backend_id)), takeFirst(pools)),
    });
    assert.deepEqual(seen, [['h1@lvm#B', 'h1@lvm#_x', 'h1@lvm#a', 'h1@lvm#b']]);
    await s.close();
  });

  test("a read-then-write waits for another session's write lock, and gives up after busyTimeoutMs", async () => {
    const url = await pg().createDatabase();
    const s = await PostgresVolumeStore.open(url);
    await s.reportPoolStats('h1@lvm', [pgReport('h1@lvm#a')], T0);
    await addVolume(s, 'v1');
    await addVolume(s, 'v2');

    // Another process holding the store's write lock (the same advisory lock key).
    const other = new Client({ connectionString: url });
    await other.connect();
    await other.query('BEGIN');
    await other.query('SELECT pg_advisory_xact_lock($1, 1)', [0x63696e64]);

    const impatient = await PostgresVolumeStore.open(url, { busyTimeoutMs: 200 });
    await assert.rejects(
      impatient.claimCapacity({ volumeId: 'v2', attempt: 1, sizeGb: 1, liveSince: T0, now: T1, choose: takeFirst }),
      /lock timeout/,
    );
    await impatient.close();

    let settled = false;
    const claim = s
      .claimCapacity({ volumeId: 'v1', attempt: 1, sizeGb: 1, liveSince: T0, now: T1, choose: takeFirst })
      .finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(settled, false, 'the claim must wait for the lock');
    // Single-statement writes do not wait.
    await s.recordEvent({ event_type: 'x', volume_id: null, workflow_id: null, payload: {}, created_at: T0 });
    await other.query('COMMIT');
    assert.equal((await claim).existing, false);
    await other.end();
    assert.deepEqual(
      (await s.listClaims()).map((c) => c.volume_id),
      ['v1'],
    );
    await s.close();
  });
});
