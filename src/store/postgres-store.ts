/**
 * The volume database on PostgreSQL (pg), for volume services on more than one machine. It keeps
 * SqliteVolumeStore's schema (the same migrations, PostgreSQL's variant where SQLite's SQL does not
 * run), its values and its behaviour, call for call.
 *
 * Concurrency, across any number of processes and machines: every read-then-write runs in a
 * transaction that first takes one transaction-scoped advisory lock (the store's write lock), the
 * counterpart of SQLite's BEGIN IMMEDIATE. Writers that decide on what they read therefore run one
 * at a time and, under READ COMMITTED, each of their statements sees everything the previous lock
 * holder committed. Single-statement writes (commit/rollback of quota, upserts of reference data,
 * events) are atomic by themselves and skip the lock; multi-statement reads run in one
 * REPEATABLE READ snapshot. Migrations take a second advisory lock, so processes starting at once
 * apply each migration exactly once.
 */
import { Pool, types as pgTypes, type PoolClient, type PoolConfig, type QueryResultRow } from 'pg';
import { CinderError } from '../domain/cinder-errors';
import { splitBackendId, volumeObjectName } from '../domain/volume';
import type { Image, Snapshot, Volume, VolumeSource, VolumeStatus, VolumeType } from '../domain/volume';
import type { FaultOp, FaultRule } from '../drivers/faults';
import type { BackendState } from '../scheduler/types';
import { MIGRATIONS, migrationSql, type Migration } from './migrations';
import { CINDER_DEFAULT_QUOTAS } from './sqlite-store';
import type {
  CapacityClaim,
  ClaimChoice,
  ClaimResult,
  NewVolume,
  PoolRow,
  PoolStatsReport,
  QuotaResource,
  QuotaUsage,
  VolumeEvent,
  VolumeFilter,
  VolumePatch,
  VolumeStore,
} from './volume-store';

export interface PostgresStoreOptions {
  /** Limits for projects without their own quota row, merged over CINDER_DEFAULT_QUOTAS; any
   *  resource named in neither is unlimited (-1). */
  defaultQuotas?: Record<QuotaResource, number>;
  /** Random source in [0, 1) for probability fault rules; Math.random by default. */
  random?: () => number;
  /** How long a writer waits for another process's lock (PostgreSQL's lock_timeout), as SQLite's
   *  busy timeout does. Default 10 s. */
  busyTimeoutMs?: number;
  /** Most connections the store's pool opens. Default 10. */
  maxConnections?: number;
}

/** Advisory lock keys (two-int form: this store's tag, then the lock). Advisory locks are per
 *  database, so stores on different databases of one server never wait for each other. */
const LOCK_TAG = 0x63696e64; // 'cind'
const WRITE_LOCK = 1;
const MIGRATION_LOCK = 2;

/** SQLite's INTEGER is 64-bit and better-sqlite3 reads it as a JS number: BIGINT columns (and
 *  COUNT/SUM results cast to bigint) read back as numbers here too, not pg's default strings. */
const INT8_OID = 20;
const STORE_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (text: string) => Number(text) : pgTypes.getTypeParser(oid, format)) as typeof pgTypes.getTypeParser,
};

/** What both a pool and a checked-out client can run. */
interface Db {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

async function all<R extends QueryResultRow>(db: Db, text: string, values: unknown[] = []): Promise<R[]> {
  return (await db.query<R>(text, values)).rows;
}

async function one<R extends QueryResultRow>(db: Db, text: string, values: unknown[] = []): Promise<R | undefined> {
  return (await db.query<R>(text, values)).rows[0];
}

type TransactionMode =
  /** Takes this advisory lock first, then runs at READ COMMITTED (PostgreSQL's default). */
  | { lock: number }
  /** One consistent snapshot for several reads; takes no lock. */
  | { snapshot: true };

/** Runs fn in one transaction on one client of pool; rolls back if fn (or COMMIT) throws. */
async function inTransaction<T>(pool: Pool, mode: TransactionMode, fn: (db: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    if ('lock' in mode) {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_TAG, mode.lock]);
    } else {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    }
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackErr) {
      broken = rollbackErr as Error; // the connection is unusable: drop it rather than pool it
    }
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Applies the migrations not yet recorded, each in its own transaction that re-checks under an
 * advisory lock, so processes migrating the same database at once apply every migration exactly
 * once (DDL is transactional in PostgreSQL). Returns the versions applied by this call.
 */
export async function applyPostgresMigrations(pool: Pool, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const locked = { lock: MIGRATION_LOCK };
  // Under the lock too: concurrent CREATE TABLE IF NOT EXISTS can fail on PostgreSQL's catalog.
  await inTransaction(pool, locked, (db) =>
    db.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
  version BIGINT PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`),
  );
  const applied: number[] = [];
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (const m of sorted) {
    const ran = await inTransaction(pool, locked, async (db) => {
      if (await one(db, 'SELECT version FROM schema_migrations WHERE version = $1', [m.version])) return false;
      await db.query(migrationSql(m, 'postgres'));
      await db.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        new Date().toISOString(),
      ]);
      return true;
    });
    if (ran) applied.push(m.version);
  }
  return applied;
}

type Capacity = number | 'infinite' | 'unknown';

// Raw rows as pg returns them (BIGINT as number): one interface and one mapper per table.
interface VolumeRecord {
  id: string;
  project_id: string;
  name: string | null;
  description: string | null;
  size: number;
  status: VolumeStatus;
  volume_type: string;
  availability_zone: string | null;
  host: string | null;
  source: string;
  metadata: string;
  workflow_id: string | null;
  request_id: string | null;
  error_reason: string | null;
  created_at: string;
  updated_at: string;
  scheduled_at: string | null;
  launched_at: string | null;
}
interface PoolRecord {
  backend_id: string;
  host: string;
  availability_zone: string;
  total_capacity_gb: string;
  free_capacity_gb: string | null;
  allocated_capacity_gb: number;
  provisioned_capacity_gb: number;
  reserved_percentage: number;
  max_over_subscription_ratio: number;
  thin_provisioning_support: number;
  thick_provisioning_support: number;
  capabilities: string;
  updated_at: string;
}
interface ClaimRecord extends CapacityClaim {
  released_at: string | null;
}
interface EventRecord extends Omit<VolumeEvent, 'payload'> {
  payload: string;
}
interface FaultRuleRecord {
  id: number;
  host: string;
  op: FaultOp;
  action: FaultRule['action'];
  error_type: string | null;
  remaining: number | null;
  probability: number | null;
  delay_ms: number | null;
  volume_name: string | null;
}
interface VolumeTypeRecord {
  name: string;
  extra_specs: string;
}

function toVolume(r: VolumeRecord): Volume {
  return {
    id: r.id,
    project_id: r.project_id,
    name: r.name,
    description: r.description,
    size: r.size,
    status: r.status,
    volume_type: r.volume_type,
    availability_zone: r.availability_zone,
    host: r.host,
    source: JSON.parse(r.source) as VolumeSource,
    metadata: JSON.parse(r.metadata) as Record<string, string>,
    workflow_id: r.workflow_id,
    request_id: r.request_id,
    error_reason: r.error_reason,
    created_at: r.created_at,
    updated_at: r.updated_at,
    scheduled_at: r.scheduled_at,
    launched_at: r.launched_at,
  };
}

function toPool(r: PoolRecord): PoolRow {
  return {
    backend_id: r.backend_id,
    host: r.host,
    availability_zone: r.availability_zone,
    total_capacity_gb: decodeCapacity(r.total_capacity_gb),
    free_capacity_gb: r.free_capacity_gb === null ? null : decodeCapacity(r.free_capacity_gb),
    allocated_capacity_gb: r.allocated_capacity_gb,
    provisioned_capacity_gb: r.provisioned_capacity_gb,
    reserved_percentage: r.reserved_percentage,
    max_over_subscription_ratio: r.max_over_subscription_ratio,
    thin_provisioning_support: r.thin_provisioning_support !== 0,
    thick_provisioning_support: r.thick_provisioning_support !== 0,
    capabilities: JSON.parse(r.capabilities) as Record<string, unknown>,
    updated_at: r.updated_at,
  };
}

/** What the scheduler sees of a pool: the row without the service's host and heartbeat. */
function toBackendState(row: PoolRow): BackendState {
  const { host: _host, updated_at: _updatedAt, ...backend } = row;
  return backend;
}

function toClaim(r: ClaimRecord): CapacityClaim {
  return {
    volume_id: r.volume_id,
    attempt: r.attempt,
    backend_id: r.backend_id,
    size_gb: r.size_gb,
    status: r.status,
    created_at: r.created_at,
  };
}

function toEvent(r: EventRecord): VolumeEvent {
  return {
    id: r.id,
    event_type: r.event_type,
    volume_id: r.volume_id,
    workflow_id: r.workflow_id,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    created_at: r.created_at,
  };
}

function toFaultRule(r: FaultRuleRecord): FaultRule {
  return {
    id: r.id,
    host: r.host,
    op: r.op,
    action: r.action,
    error_type: r.error_type,
    remaining: r.remaining,
    probability: r.probability,
    delay_ms: r.delay_ms,
    volume_name: r.volume_name,
  };
}

function toVolumeType(r: VolumeTypeRecord): VolumeType {
  return { name: r.name, extra_specs: JSON.parse(r.extra_specs) as Record<string, string> };
}

function toSnapshot(r: Snapshot): Snapshot {
  return { id: r.id, volume_id: r.volume_id, size: r.size, host: r.host, status: r.status };
}

function toImage(r: Image): Image {
  return { id: r.id, name: r.name, size_gb: r.size_gb, disk_format: r.disk_format, status: r.status, path: r.path };
}

/** Capacities are TEXT so 'infinite' / 'unknown' and every double survive (String(n) round-trips). */
function encodeCapacity(value: Capacity): string {
  return String(value);
}
function decodeCapacity(text: string): Capacity {
  return text === 'infinite' || text === 'unknown' ? text : Number(text);
}

/** Liveness compares timestamps as text, which is only sound in one canonical ISO form. */
function canonicalTime(time: string): string {
  const d = new Date(time);
  if (Number.isNaN(d.getTime())) throw new Error(`invalid timestamp: ${JSON.stringify(time)}`);
  return d.toISOString();
}

function quotaExceeded(resource: string, requested: number, limit: number, consumed: number): CinderError {
  if (resource === 'gigabytes' || resource.startsWith('gigabytes_')) {
    return new CinderError(
      'QuotaError',
      `Requested volume or snapshot exceeds allowed ${resource} quota. Requested ${requested}G, quota is ${limit}G and ${consumed}G has been consumed.`,
      'size',
    );
  }
  if (resource === 'volumes' || resource.startsWith('volumes_')) {
    return new CinderError(
      'VolumeLimitExceeded',
      `Maximum number of volumes allowed (${limit}) exceeded for quota '${resource}'. Requested ${requested}, ${consumed} already consumed.`,
      'project_id',
    );
  }
  return new CinderError(
    'QuotaError',
    `Quota exceeded for ${resource}: requested ${requested}, quota is ${limit} and ${consumed} has been consumed.`,
  );
}

/** PostgreSQL's unique_violation, and the one unique index a caller can hit (request ids). */
function isRequestIdConflict(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e.code === '23505' && e.constraint === 'volumes_project_request';
}

const PATCHABLE_VOLUME_FIELDS = ['status', 'host', 'scheduled_at', 'launched_at', 'error_reason'] as const;

export class PostgresVolumeStore implements VolumeStore {
  /** The store's own connection pool, for tests and tools; close ends it. */
  readonly pool: Pool;
  private readonly defaultQuotas: Record<QuotaResource, number>;
  private readonly random: () => number;
  private closed = false;

  /**
   * Connects to the database (a postgres:// or postgresql:// url, libpq's parameters allowed, or
   * pg's pool settings) and brings its schema up to date. The pool is closed again if that fails.
   */
  static async open(connection: string | PoolConfig, options: PostgresStoreOptions = {}): Promise<PostgresVolumeStore> {
    const store = new PostgresVolumeStore(connection, options);
    try {
      await applyPostgresMigrations(store.pool);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** Opens a pool on the database without migrating it (see open and applyPostgresMigrations). */
  constructor(connection: string | PoolConfig, options: PostgresStoreOptions = {}) {
    const config: PoolConfig = typeof connection === 'string' ? { connectionString: connection } : connection;
    this.pool = new Pool({
      ...config,
      max: options.maxConnections ?? config.max ?? 10,
      lock_timeout: options.busyTimeoutMs ?? config.lock_timeout ?? 10_000,
      types: STORE_TYPES, // the rows must read the way the mappers expect
    });
    // An idle connection the server dropped (restart, admin kill) must not crash the process;
    // pg discards it and the next query opens another.
    this.pool.on('error', () => {});
    this.defaultQuotas = { ...CINDER_DEFAULT_QUOTAS, ...options.defaultQuotas };
    this.random = options.random ?? Math.random;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }

  /** A read-then-write: one transaction holding the store's write lock from its start. */
  private write<T>(fn: (db: PoolClient) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, { lock: WRITE_LOCK }, fn);
  }

  // ---- reference data ----

  async getVolumeType(name: string): Promise<VolumeType | null> {
    const r = await one<VolumeTypeRecord>(this.pool, 'SELECT * FROM volume_types WHERE name = $1', [name]);
    return r ? toVolumeType(r) : null;
  }

  async putVolumeType(type: VolumeType): Promise<void> {
    await this.pool.query(
      'INSERT INTO volume_types (name, extra_specs) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET extra_specs = excluded.extra_specs',
      [type.name, JSON.stringify(type.extra_specs ?? {})],
    );
  }

  async listAvailabilityZones(): Promise<string[]> {
    const rows = await all<{ availability_zone: string }>(
      this.pool,
      'SELECT DISTINCT availability_zone FROM pools ORDER BY availability_zone',
    );
    return rows.map((r) => r.availability_zone);
  }

  async getSnapshot(id: string): Promise<Snapshot | null> {
    const r = await one<Snapshot>(this.pool, 'SELECT * FROM snapshots WHERE id = $1', [id]);
    return r ? toSnapshot(r) : null;
  }

  async putSnapshot(s: Snapshot): Promise<void> {
    await this.pool.query(
      `INSERT INTO snapshots (id, volume_id, size, host, status) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (id) DO UPDATE SET volume_id = excluded.volume_id, size = excluded.size, host = excluded.host, status = excluded.status`,
      [s.id, s.volume_id, s.size, s.host, s.status],
    );
  }

  async getImage(id: string): Promise<Image | null> {
    const r = await one<Image>(this.pool, 'SELECT * FROM images WHERE id = $1', [id]);
    return r ? toImage(r) : null;
  }

  async putImage(i: Image): Promise<void> {
    await this.pool.query(
      `INSERT INTO images (id, name, size_gb, disk_format, status, path) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, size_gb = excluded.size_gb, disk_format = excluded.disk_format,
         status = excluded.status, path = excluded.path`,
      [i.id, i.name, i.size_gb, i.disk_format, i.status, i.path],
    );
  }

  // ---- quotas: usage is derived from reservations, so it never drifts from them ----

  async setQuotaLimit(projectId: string, resource: QuotaResource, limit: number): Promise<void> {
    await this.pool.query(
      `INSERT INTO quota_limits (project_id, resource, hard_limit) VALUES ($1, $2, $3)
       ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`,
      [projectId, resource, limit],
    );
  }

  /** The project's own limits; quotaLimit falls back to the defaults for the rest. */
  private async projectLimits(db: Db, projectId: string): Promise<Map<QuotaResource, number>> {
    const rows = await all<{ resource: string; hard_limit: number }>(
      db,
      'SELECT resource, hard_limit FROM quota_limits WHERE project_id = $1',
      [projectId],
    );
    return new Map(rows.map((r) => [r.resource, r.hard_limit]));
  }

  private quotaLimit(limits: Map<QuotaResource, number>, resource: QuotaResource): number {
    const own = limits.get(resource);
    return own !== undefined ? own : (this.defaultQuotas[resource] ?? -1);
  }

  private async quotaUsage(db: Db, projectId: string): Promise<Map<QuotaResource, { in_use: number; reserved: number }>> {
    const rows = await all<{ resource: string; in_use: number; reserved: number }>(
      db,
      `SELECT resource,
              SUM(CASE WHEN status = 'committed' THEN delta ELSE 0 END)::bigint AS in_use,
              SUM(CASE WHEN status = 'reserved' THEN delta ELSE 0 END)::bigint AS reserved
       FROM quota_reservations WHERE project_id = $1 AND status <> 'rolled_back' GROUP BY resource`,
      [projectId],
    );
    return new Map(rows.map((r) => [r.resource, { in_use: r.in_use, reserved: r.reserved }]));
  }

  async reserveQuota(volumeId: string, projectId: string, deltas: Record<QuotaResource, number>, now: string): Promise<void> {
    await this.write(async (db) => {
      if (await one(db, 'SELECT 1 FROM quota_reservations WHERE volume_id = $1 LIMIT 1', [volumeId])) return;
      const usage = await this.quotaUsage(db, projectId);
      const limits = await this.projectLimits(db, projectId);
      // Like Cinder: every resource is checked, and the first over quota in name order is reported
      // (so gigabytes wins over volumes). A zero delta still fails on a project already over.
      const over = Object.entries(deltas)
        .map(([resource, delta]) => {
          const u = usage.get(resource);
          return { resource, delta, limit: this.quotaLimit(limits, resource), consumed: (u?.in_use ?? 0) + (u?.reserved ?? 0) };
        })
        .filter((q) => q.limit >= 0 && q.delta >= 0 && q.consumed + q.delta > q.limit)
        .sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0));
      if (over.length > 0) {
        const q = over[0];
        throw quotaExceeded(q.resource, q.delta, q.limit, q.consumed);
      }
      for (const [resource, delta] of Object.entries(deltas)) {
        await db.query(
          `INSERT INTO quota_reservations (volume_id, project_id, resource, delta, status, created_at, updated_at)
           VALUES ($1, $2, $3, $4, 'reserved', $5, $5)`,
          [volumeId, projectId, resource, delta, now],
        );
      }
    });
  }

  async commitQuota(volumeId: string, now: string): Promise<void> {
    await this.pool.query(`UPDATE quota_reservations SET status = 'committed', updated_at = $1 WHERE volume_id = $2 AND status = 'reserved'`, [
      now,
      volumeId,
    ]);
  }

  async rollbackQuota(volumeId: string, now: string): Promise<void> {
    await this.pool.query(
      `UPDATE quota_reservations SET status = 'rolled_back', updated_at = $1 WHERE volume_id = $2 AND status = 'reserved'`,
      [now, volumeId],
    );
  }

  async getQuotaUsage(projectId: string): Promise<QuotaUsage[]> {
    return inTransaction(this.pool, { snapshot: true }, async (db) => {
      const usage = await this.quotaUsage(db, projectId);
      const limits = await this.projectLimits(db, projectId);
      const resources = new Set([...Object.keys(this.defaultQuotas), ...limits.keys(), ...usage.keys()]);
      return [...resources].sort().map((resource) => ({
        resource,
        limit: this.quotaLimit(limits, resource),
        in_use: usage.get(resource)?.in_use ?? 0,
        reserved: usage.get(resource)?.reserved ?? 0,
      }));
    });
  }

  // ---- volumes ----

  private async volumeRow(db: Db, id: string): Promise<Volume | null> {
    const r = await one<VolumeRecord>(db, 'SELECT * FROM volumes WHERE id = $1', [id]);
    return r ? toVolume(r) : null;
  }

  async createVolume(v: NewVolume): Promise<Volume> {
    const req = v.request;
    try {
      return await this.write(async (db) => {
        const existing = await this.volumeRow(db, v.id);
        if (existing) return existing;
        const r = await one<VolumeRecord>(
          db,
          `INSERT INTO volumes (id, project_id, name, description, size, status, volume_type, availability_zone, host, source,
             metadata, workflow_id, request_id, error_reason, created_at, updated_at, scheduled_at, launched_at)
           VALUES ($1, $2, $3, $4, $5, 'creating', $6, $7, NULL, $8, $9, $10, $11, NULL, $12, $12, NULL, NULL)
           RETURNING *`,
          [
            v.id,
            req.project_id,
            req.name ?? null,
            req.description ?? null,
            req.size,
            v.volume_type,
            req.availability_zone ?? null,
            JSON.stringify(v.source),
            JSON.stringify(req.metadata ?? {}),
            v.workflow_id,
            req.request_id ?? null,
            v.now,
          ],
        );
        return toVolume(r!);
      });
    } catch (err) {
      if (isRequestIdConflict(err) && req.request_id) {
        const other = await this.getVolumeByRequestId(req.project_id, req.request_id);
        throw new CinderError(
          'InvalidInput',
          `Request id ${req.request_id} of project ${req.project_id} already created volume ${other?.id ?? '(unknown)'}.`,
          'request_id',
        );
      }
      throw err;
    }
  }

  async getVolume(id: string): Promise<Volume | null> {
    return this.volumeRow(this.pool, id);
  }

  async getVolumeByRequestId(projectId: string, requestId: string): Promise<Volume | null> {
    const r = await one<VolumeRecord>(this.pool, 'SELECT * FROM volumes WHERE project_id = $1 AND request_id = $2', [
      projectId,
      requestId,
    ]);
    return r ? toVolume(r) : null;
  }

  async listVolumes(filter: VolumeFilter = {}): Promise<Volume[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}::text`;
    };
    if (filter.status !== undefined) where.push(`status = ${param(filter.status)}`);
    if (filter.project_id !== undefined) where.push(`project_id = ${param(filter.project_id)}`);
    if (filter.host !== undefined) {
      // host@backend matches its pools too; substr rather than LIKE, whose _ and % would need escaping.
      const h = param(filter.host);
      where.push(`(host = ${h} OR substr(host, 1, length(${h}) + 1) = ${h} || '#')`);
    }
    const sql = `SELECT * FROM volumes ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
    return (await all<VolumeRecord>(this.pool, sql, params)).map(toVolume);
  }

  async updateVolume(id: string, patch: VolumePatch, now: string): Promise<Volume> {
    return this.write(async (db) => {
      if (!(await this.volumeRow(db, id))) throw new CinderError('VolumeNotFound', `Volume ${id} could not be found.`);
      const fields = PATCHABLE_VOLUME_FIELDS.filter((f) => patch[f] !== undefined);
      const params: unknown[] = [id, now];
      const set = ['updated_at = $2'];
      for (const f of fields) {
        params.push(patch[f]);
        set.push(`${f} = $${params.length}`);
      }
      const r = await one<VolumeRecord>(db, `UPDATE volumes SET ${set.join(', ')} WHERE id = $1 RETURNING *`, params);
      return toVolume(r!);
    });
  }

  async destroyVolume(id: string): Promise<void> {
    await this.write(async (db) => {
      // A destroyed volume holds no capacity: give back claims its saga did not release (a safety
      // net; the workflow releases them first). The claim rows stay as history.
      const active = await all<ClaimRecord>(db, `SELECT * FROM capacity_claims WHERE volume_id = $1 AND status = 'active' ORDER BY attempt`, [
        id,
      ]);
      const now = new Date().toISOString();
      for (const claim of active) await this.releaseClaim(db, toClaim(claim), now);
      await db.query('DELETE FROM volumes WHERE id = $1', [id]);
    });
  }

  // ---- pools and capacity ----

  async reportPoolStats(host: string, pools: PoolStatsReport[], now: string): Promise<void> {
    const updatedAt = canonicalTime(now);
    for (const p of pools) {
      if (splitBackendId(p.backend_id).host !== host) throw new Error(`pool ${p.backend_id} does not belong to volume service ${host}`);
    }
    await this.write(async (db) => {
      for (const p of pools) {
        const onDisk = new Set(p.volume_names);
        let allocated = 0;
        let pending = 0;
        const active = await all<ClaimRecord>(db, `SELECT * FROM capacity_claims WHERE backend_id = $1 AND status = 'active'`, [p.backend_id]);
        for (const c of active) {
          allocated += c.size_gb;
          if (!onDisk.has(volumeObjectName(c.volume_id))) pending += c.size_gb;
        }
        const free = typeof p.free_capacity_gb === 'number' ? p.free_capacity_gb - pending : p.free_capacity_gb;
        await db.query(
          `INSERT INTO pools (backend_id, host, availability_zone, total_capacity_gb, free_capacity_gb, allocated_capacity_gb,
             provisioned_capacity_gb, reserved_percentage, max_over_subscription_ratio, thin_provisioning_support,
             thick_provisioning_support, capabilities, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT (backend_id) DO UPDATE SET host = excluded.host, availability_zone = excluded.availability_zone,
             total_capacity_gb = excluded.total_capacity_gb, free_capacity_gb = excluded.free_capacity_gb,
             allocated_capacity_gb = excluded.allocated_capacity_gb, provisioned_capacity_gb = excluded.provisioned_capacity_gb,
             reserved_percentage = excluded.reserved_percentage, max_over_subscription_ratio = excluded.max_over_subscription_ratio,
             thin_provisioning_support = excluded.thin_provisioning_support,
             thick_provisioning_support = excluded.thick_provisioning_support, capabilities = excluded.capabilities,
             updated_at = excluded.updated_at`,
          [
            p.backend_id,
            host,
            p.availability_zone,
            encodeCapacity(p.total_capacity_gb),
            free === null ? null : encodeCapacity(free),
            allocated,
            p.provisioned_capacity_gb + pending,
            p.reserved_percentage,
            p.max_over_subscription_ratio,
            p.thin_provisioning_support ? 1 : 0,
            p.thick_provisioning_support ? 1 : 0,
            JSON.stringify(p.capabilities ?? {}),
            updatedAt,
          ],
        );
      }
    });
  }

  async listPools(): Promise<PoolRow[]> {
    return (await all<PoolRecord>(this.pool, 'SELECT * FROM pools ORDER BY backend_id')).map(toPool);
  }

  private async writePoolUsage(
    db: Db,
    backendId: string,
    b: Pick<BackendState, 'allocated_capacity_gb' | 'provisioned_capacity_gb' | 'free_capacity_gb'>,
  ): Promise<void> {
    await db.query('UPDATE pools SET allocated_capacity_gb = $1, provisioned_capacity_gb = $2, free_capacity_gb = $3 WHERE backend_id = $4', [
      b.allocated_capacity_gb,
      b.provisioned_capacity_gb,
      b.free_capacity_gb === null ? null : encodeCapacity(b.free_capacity_gb),
      backendId,
    ]);
  }

  private async claimRow(db: Db, volumeId: string, attempt: number): Promise<CapacityClaim | null> {
    const r = await one<ClaimRecord>(db, 'SELECT * FROM capacity_claims WHERE volume_id = $1 AND attempt = $2', [volumeId, attempt]);
    return r ? toClaim(r) : null;
  }

  async claimCapacity(args: {
    volumeId: string;
    attempt: number;
    sizeGb: number;
    liveSince: string;
    now: string;
    choose: (pools: BackendState[]) => ClaimChoice;
  }): Promise<ClaimResult> {
    const liveSince = canonicalTime(args.liveSince);
    return this.write(async (db) => {
      const existing = await this.claimRow(db, args.volumeId, args.attempt);
      if (existing) return { claim: existing, existing: true };
      if (!(await this.volumeRow(db, args.volumeId))) throw new CinderError('VolumeNotFound', `Volume ${args.volumeId} could not be found.`);

      // Read under the write lock: no other process changes these pools until this one commits.
      const live = (await all<PoolRecord>(db, 'SELECT * FROM pools WHERE updated_at >= $1 ORDER BY backend_id', [liveSince])).map((r) =>
        toBackendState(toPool(r)),
      );
      const { backend } = args.choose(live); // may throw NoValidBackend: nothing written yet
      if (!live.some((p) => p.backend_id === backend.backend_id)) {
        throw new Error(`choose returned ${backend.backend_id}, which is not one of the live pools it was given`);
      }

      const claim = await one<ClaimRecord>(
        db,
        `INSERT INTO capacity_claims (volume_id, attempt, backend_id, size_gb, status, created_at, released_at)
         VALUES ($1, $2, $3, $4, 'active', $5, NULL) RETURNING *`,
        [args.volumeId, args.attempt, backend.backend_id, args.sizeGb, args.now],
      );
      await this.writePoolUsage(db, backend.backend_id, backend);
      await db.query('UPDATE volumes SET host = $1, scheduled_at = $2, updated_at = $2 WHERE id = $3', [
        backend.backend_id,
        args.now,
        args.volumeId,
      ]);
      return { claim: toClaim(claim!), existing: false };
    });
  }

  /** Inside a write transaction: undo one active claim's consumption on its pool. Leaves the volume's
   *  host alone; the workflow clears it itself when it reschedules. */
  private async releaseClaim(db: Db, claim: CapacityClaim, now: string): Promise<boolean> {
    if (claim.status !== 'active') return false;
    const r = await one<PoolRecord>(db, 'SELECT * FROM pools WHERE backend_id = $1', [claim.backend_id]);
    if (r) {
      const pool = toPool(r);
      const s = claim.size_gb;
      await this.writePoolUsage(db, claim.backend_id, {
        // A stats report since the claim may already have recounted; never go below zero.
        allocated_capacity_gb: Math.max(0, pool.allocated_capacity_gb - s),
        provisioned_capacity_gb: Math.max(0, pool.provisioned_capacity_gb - s),
        free_capacity_gb: typeof pool.free_capacity_gb === 'number' ? pool.free_capacity_gb + s : pool.free_capacity_gb,
      });
    }
    await db.query(`UPDATE capacity_claims SET status = 'released', released_at = $1 WHERE volume_id = $2 AND attempt = $3`, [
      now,
      claim.volume_id,
      claim.attempt,
    ]);
    return true;
  }

  async releaseCapacity(volumeId: string, attempt: number, now: string): Promise<boolean> {
    return this.write(async (db) => {
      const claim = await this.claimRow(db, volumeId, attempt);
      return claim ? this.releaseClaim(db, claim, now) : false;
    });
  }

  async listClaims(volumeId?: string): Promise<CapacityClaim[]> {
    const rows =
      volumeId === undefined
        ? await all<ClaimRecord>(this.pool, 'SELECT * FROM capacity_claims ORDER BY volume_id, attempt')
        : await all<ClaimRecord>(this.pool, 'SELECT * FROM capacity_claims WHERE volume_id = $1 ORDER BY attempt', [volumeId]);
    return rows.map(toClaim);
  }

  // ---- events ----

  async recordEvent(e: Omit<VolumeEvent, 'id'>): Promise<void> {
    await this.pool.query('INSERT INTO events (event_type, volume_id, workflow_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)', [
      e.event_type,
      e.volume_id ?? null,
      e.workflow_id ?? null,
      JSON.stringify(e.payload ?? {}),
      e.created_at,
    ]);
  }

  async listEvents(filter: { volume_id?: string; event_type?: string } = {}): Promise<VolumeEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.volume_id !== undefined) {
      params.push(filter.volume_id);
      where.push(`volume_id = $${params.length}`);
    }
    if (filter.event_type !== undefined) {
      params.push(filter.event_type);
      where.push(`event_type = $${params.length}`);
    }
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return (await all<EventRecord>(this.pool, sql, params)).map(toEvent);
  }

  // ---- fault rules ----

  async addFaultRule(rule: Omit<FaultRule, 'id'>): Promise<FaultRule> {
    if (rule.remaining != null && !(Number.isInteger(rule.remaining) && rule.remaining >= 0)) {
      throw new Error(`fault rule remaining must be a whole number >= 0 or null, got ${rule.remaining}`);
    }
    if (rule.probability != null && !(rule.probability >= 0 && rule.probability <= 1)) {
      throw new Error(`fault rule probability must be within 0..1, got ${rule.probability}`);
    }
    const r = await one<FaultRuleRecord>(
      this.pool,
      `INSERT INTO fault_rules (host, op, action, error_type, remaining, probability, delay_ms, volume_name)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *`,
      [
        rule.host,
        rule.op,
        rule.action,
        rule.error_type ?? null,
        rule.remaining ?? null,
        rule.probability ?? null,
        rule.delay_ms ?? null,
        rule.volume_name ?? null,
      ],
    );
    return toFaultRule(r!);
  }

  async listFaultRules(host?: string): Promise<FaultRule[]> {
    const rows =
      host === undefined
        ? await all<FaultRuleRecord>(this.pool, 'SELECT * FROM fault_rules ORDER BY id')
        : await all<FaultRuleRecord>(this.pool, 'SELECT * FROM fault_rules WHERE host = $1 ORDER BY id', [host]);
    return rows.map(toFaultRule);
  }

  async clearFaultRules(host?: string): Promise<void> {
    if (host === undefined) await this.pool.query('DELETE FROM fault_rules');
    else await this.pool.query('DELETE FROM fault_rules WHERE host = $1', [host]);
  }

  async takeFault(host: string, op: FaultOp, volumeName: string | null): Promise<FaultRule | null> {
    return this.write(async (db) => {
      // volume_name = NULL is never true, so a targeted rule never fires for an unnamed volume.
      const candidates = await all<FaultRuleRecord>(
        db,
        `SELECT * FROM fault_rules
         WHERE host = $1 AND op = $2 AND (remaining IS NULL OR remaining > 0) AND (volume_name IS NULL OR volume_name = $3::text)
         ORDER BY id`,
        [host, op, volumeName],
      );
      for (const rule of candidates) {
        if (rule.probability != null && !(this.random() < rule.probability)) continue;
        if (rule.remaining === null) return toFaultRule(rule);
        const updated = await one<FaultRuleRecord>(db, 'UPDATE fault_rules SET remaining = remaining - 1 WHERE id = $1 RETURNING *', [rule.id]);
        // Cleared by a clearFaultRules that does not wait for the write lock: try the next rule.
        if (updated) return toFaultRule(updated);
      }
      return null;
    });
  }
}
