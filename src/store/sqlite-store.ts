/**
 * The volume database on SQLite (better-sqlite3). Several processes on one machine (the scheduler
 * worker and the volume workers) share one file: WAL lets readers run beside the single writer, and
 * every read-then-write runs in BEGIN IMMEDIATE, which takes the write lock before the read, so two
 * processes never decide on the same stale row.
 */
import Database from 'better-sqlite3';
import { CinderError } from '../domain/cinder-errors';
import { splitBackendId, volumeObjectName } from '../domain/volume';
import type { Image, Snapshot, Volume, VolumeSource, VolumeStatus, VolumeType } from '../domain/volume';
import type { FaultOp, FaultRule } from '../drivers/faults';
import type { BackendState } from '../scheduler/types';
import { applyMigrations } from './migrations';
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

/** Cinder's default quotas (quota_volumes, quota_gigabytes); per-type resources are unlimited. */
export const CINDER_DEFAULT_QUOTAS: Readonly<Record<QuotaResource, number>> = { volumes: 10, gigabytes: 1000 };

export interface SqliteStoreOptions {
  /** Limits for projects without their own quota row, merged over CINDER_DEFAULT_QUOTAS; any
   *  resource named in neither is unlimited (-1). */
  defaultQuotas?: Record<QuotaResource, number>;
  /** Random source in [0, 1) for probability fault rules; Math.random by default. */
  random?: () => number;
  /** SQLite busy timeout: how long a writer waits for another process's lock. Default 10 s. */
  busyTimeoutMs?: number;
}

type Capacity = number | 'infinite' | 'unknown';

// Raw rows as SQLite returns them: one interface and one mapper per table.
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
type ClaimRecord = CapacityClaim;
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
  return { ...r };
}

function toVolumeType(r: VolumeTypeRecord): VolumeType {
  return { name: r.name, extra_specs: JSON.parse(r.extra_specs) as Record<string, string> };
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

const PATCHABLE_VOLUME_FIELDS = ['status', 'host', 'scheduled_at', 'launched_at', 'error_reason'] as const;

export class SqliteVolumeStore implements VolumeStore {
  /** The connection itself, for tests and tools. */
  readonly db: Database.Database;
  private readonly defaultQuotas: Record<QuotaResource, number>;
  private readonly random: () => number;
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();

  /** Opens (creating if needed) and migrates the database; ':memory:' for a private one. */
  constructor(filename: string, options: SqliteStoreOptions = {}) {
    this.db = new Database(filename, { timeout: options.busyTimeoutMs ?? 10_000 });
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes in WAL mode; only an OS crash may lose the last commits.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    applyMigrations(this.db);
    this.defaultQuotas = { ...CINDER_DEFAULT_QUOTAS, ...options.defaultQuotas };
    this.random = options.random ?? Math.random;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  private sql<R = unknown>(source: string): Database.Statement<unknown[], R> {
    let stmt = this.statements.get(source);
    if (!stmt) {
      stmt = this.db.prepare(source);
      this.statements.set(source, stmt);
    }
    return stmt as Database.Statement<unknown[], R>;
  }

  /** Runs fn holding the write lock from the start (BEGIN IMMEDIATE). */
  private immediate<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  // ---- reference data ----

  async getVolumeType(name: string): Promise<VolumeType | null> {
    const r = this.sql<VolumeTypeRecord>('SELECT * FROM volume_types WHERE name = ?').get(name);
    return r ? toVolumeType(r) : null;
  }

  async putVolumeType(type: VolumeType): Promise<void> {
    this.sql(
      'INSERT INTO volume_types (name, extra_specs) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET extra_specs = excluded.extra_specs',
    ).run(type.name, JSON.stringify(type.extra_specs ?? {}));
  }

  async listAvailabilityZones(): Promise<string[]> {
    return this.sql<{ availability_zone: string }>('SELECT DISTINCT availability_zone FROM pools ORDER BY availability_zone')
      .all()
      .map((r) => r.availability_zone);
  }

  async getSnapshot(id: string): Promise<Snapshot | null> {
    return this.sql<Snapshot>('SELECT * FROM snapshots WHERE id = ?').get(id) ?? null;
  }

  async putSnapshot(s: Snapshot): Promise<void> {
    this.sql(
      `INSERT INTO snapshots (id, volume_id, size, host, status) VALUES (@id, @volume_id, @size, @host, @status)
       ON CONFLICT (id) DO UPDATE SET volume_id = excluded.volume_id, size = excluded.size, host = excluded.host, status = excluded.status`,
    ).run({ id: s.id, volume_id: s.volume_id, size: s.size, host: s.host, status: s.status });
  }

  async getImage(id: string): Promise<Image | null> {
    return this.sql<Image>('SELECT * FROM images WHERE id = ?').get(id) ?? null;
  }

  async putImage(i: Image): Promise<void> {
    this.sql(
      `INSERT INTO images (id, name, size_gb, disk_format, status, path) VALUES (@id, @name, @size_gb, @disk_format, @status, @path)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, size_gb = excluded.size_gb, disk_format = excluded.disk_format,
         status = excluded.status, path = excluded.path`,
    ).run({ id: i.id, name: i.name, size_gb: i.size_gb, disk_format: i.disk_format, status: i.status, path: i.path });
  }

  // ---- quotas: usage is derived from reservations, so it never drifts from them ----

  async setQuotaLimit(projectId: string, resource: QuotaResource, limit: number): Promise<void> {
    this.sql(
      `INSERT INTO quota_limits (project_id, resource, hard_limit) VALUES (?, ?, ?)
       ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`,
    ).run(projectId, resource, limit);
  }

  private quotaLimit(projectId: string, resource: QuotaResource): number {
    const r = this.sql<{ hard_limit: number }>('SELECT hard_limit FROM quota_limits WHERE project_id = ? AND resource = ?').get(
      projectId,
      resource,
    );
    return r ? r.hard_limit : (this.defaultQuotas[resource] ?? -1);
  }

  private quotaUsage(projectId: string): Map<QuotaResource, { in_use: number; reserved: number }> {
    const rows = this.sql<{ resource: string; in_use: number; reserved: number }>(
      `SELECT resource,
              SUM(CASE WHEN status = 'committed' THEN delta ELSE 0 END) AS in_use,
              SUM(CASE WHEN status = 'reserved' THEN delta ELSE 0 END) AS reserved
       FROM quota_reservations WHERE project_id = ? AND status <> 'rolled_back' GROUP BY resource`,
    ).all(projectId);
    return new Map(rows.map((r) => [r.resource, { in_use: r.in_use, reserved: r.reserved }]));
  }

  async reserveQuota(volumeId: string, projectId: string, deltas: Record<QuotaResource, number>, now: string): Promise<void> {
    this.immediate(() => {
      if (this.sql('SELECT 1 FROM quota_reservations WHERE volume_id = ? LIMIT 1').get(volumeId)) return;
      const usage = this.quotaUsage(projectId);
      // Like Cinder: every resource is checked, and the first over quota in name order is reported
      // (so gigabytes wins over volumes). A zero delta still fails on a project already over.
      const over = Object.entries(deltas)
        .map(([resource, delta]) => {
          const u = usage.get(resource);
          return { resource, delta, limit: this.quotaLimit(projectId, resource), consumed: (u?.in_use ?? 0) + (u?.reserved ?? 0) };
        })
        .filter((q) => q.limit >= 0 && q.delta >= 0 && q.consumed + q.delta > q.limit)
        .sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0));
      if (over.length > 0) {
        const q = over[0];
        throw quotaExceeded(q.resource, q.delta, q.limit, q.consumed);
      }
      const insert = this.sql(
        `INSERT INTO quota_reservations (volume_id, project_id, resource, delta, status, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'reserved', ?, ?)`,
      );
      for (const [resource, delta] of Object.entries(deltas)) insert.run(volumeId, projectId, resource, delta, now, now);
    });
  }

  async commitQuota(volumeId: string, now: string): Promise<void> {
    this.sql(`UPDATE quota_reservations SET status = 'committed', updated_at = ? WHERE volume_id = ? AND status = 'reserved'`).run(
      now,
      volumeId,
    );
  }

  async rollbackQuota(volumeId: string, now: string): Promise<void> {
    this.sql(`UPDATE quota_reservations SET status = 'rolled_back', updated_at = ? WHERE volume_id = ? AND status = 'reserved'`).run(
      now,
      volumeId,
    );
  }

  async getQuotaUsage(projectId: string): Promise<QuotaUsage[]> {
    return this.db.transaction(() => {
      const usage = this.quotaUsage(projectId);
      const limited = this.sql<{ resource: string }>('SELECT resource FROM quota_limits WHERE project_id = ?').all(projectId);
      const resources = new Set([...Object.keys(this.defaultQuotas), ...limited.map((r) => r.resource), ...usage.keys()]);
      return [...resources].sort().map((resource) => ({
        resource,
        limit: this.quotaLimit(projectId, resource),
        in_use: usage.get(resource)?.in_use ?? 0,
        reserved: usage.get(resource)?.reserved ?? 0,
      }));
    })();
  }

  // ---- volumes ----

  private volumeRow(id: string): Volume | null {
    const r = this.sql<VolumeRecord>('SELECT * FROM volumes WHERE id = ?').get(id);
    return r ? toVolume(r) : null;
  }

  async createVolume(v: NewVolume): Promise<Volume> {
    const req = v.request;
    try {
      return this.immediate(() => {
        const existing = this.volumeRow(v.id);
        if (existing) return existing;
        this.sql(
          `INSERT INTO volumes (id, project_id, name, description, size, status, volume_type, availability_zone, host, source,
             metadata, workflow_id, request_id, error_reason, created_at, updated_at, scheduled_at, launched_at)
           VALUES (@id, @project_id, @name, @description, @size, 'creating', @volume_type, @availability_zone, NULL, @source,
             @metadata, @workflow_id, @request_id, NULL, @now, @now, NULL, NULL)`,
        ).run({
          id: v.id,
          project_id: req.project_id,
          name: req.name ?? null,
          description: req.description ?? null,
          size: req.size,
          volume_type: v.volume_type,
          availability_zone: req.availability_zone ?? null,
          source: JSON.stringify(v.source),
          metadata: JSON.stringify(req.metadata ?? {}),
          workflow_id: v.workflow_id,
          request_id: req.request_id ?? null,
          now: v.now,
        });
        return this.volumeRow(v.id)!;
      });
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' && req.request_id) {
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
    return this.volumeRow(id);
  }

  async getVolumeByRequestId(projectId: string, requestId: string): Promise<Volume | null> {
    const r = this.sql<VolumeRecord>('SELECT * FROM volumes WHERE project_id = ? AND request_id = ?').get(projectId, requestId);
    return r ? toVolume(r) : null;
  }

  async listVolumes(filter: VolumeFilter = {}): Promise<Volume[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.status !== undefined) {
      where.push('status = ?');
      params.push(filter.status);
    }
    if (filter.project_id !== undefined) {
      where.push('project_id = ?');
      params.push(filter.project_id);
    }
    if (filter.host !== undefined) {
      // host@backend matches its pools too; substr rather than LIKE, whose _ and % would need escaping.
      where.push("(host = ? OR substr(host, 1, length(?) + 1) = ? || '#')");
      params.push(filter.host, filter.host, filter.host);
    }
    const sql = `SELECT * FROM volumes ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`;
    return this.sql<VolumeRecord>(sql)
      .all(...params)
      .map(toVolume);
  }

  async updateVolume(id: string, patch: VolumePatch, now: string): Promise<Volume> {
    return this.immediate(() => {
      if (!this.volumeRow(id)) throw new CinderError('VolumeNotFound', `Volume ${id} could not be found.`);
      const fields = PATCHABLE_VOLUME_FIELDS.filter((f) => patch[f] !== undefined);
      const set = [...fields.map((f) => `${f} = @${f}`), 'updated_at = @now'].join(', ');
      const params: Record<string, unknown> = { id, now };
      for (const f of fields) params[f] = patch[f];
      this.sql(`UPDATE volumes SET ${set} WHERE id = @id`).run(params);
      return this.volumeRow(id)!;
    });
  }

  async destroyVolume(id: string): Promise<void> {
    this.immediate(() => {
      // A destroyed volume holds no capacity: give back claims its saga did not release (a safety
      // net; the workflow releases them first). The claim rows stay as history.
      const active = this.sql<ClaimRecord>(`SELECT * FROM capacity_claims WHERE volume_id = ? AND status = 'active'`).all(id);
      const now = new Date().toISOString();
      for (const claim of active) this.releaseClaim(toClaim(claim), now);
      this.sql('DELETE FROM volumes WHERE id = ?').run(id);
    });
  }

  // ---- pools and capacity ----

  async reportPoolStats(host: string, pools: PoolStatsReport[], now: string): Promise<void> {
    const updatedAt = canonicalTime(now);
    for (const p of pools) {
      if (splitBackendId(p.backend_id).host !== host) throw new Error(`pool ${p.backend_id} does not belong to volume service ${host}`);
    }
    this.immediate(() => {
      const activeClaims = this.sql<ClaimRecord>(`SELECT * FROM capacity_claims WHERE backend_id = ? AND status = 'active'`);
      const upsert = this.sql(
        `INSERT INTO pools (backend_id, host, availability_zone, total_capacity_gb, free_capacity_gb, allocated_capacity_gb,
           provisioned_capacity_gb, reserved_percentage, max_over_subscription_ratio, thin_provisioning_support,
           thick_provisioning_support, capabilities, updated_at)
         VALUES (@backend_id, @host, @availability_zone, @total_capacity_gb, @free_capacity_gb, @allocated_capacity_gb,
           @provisioned_capacity_gb, @reserved_percentage, @max_over_subscription_ratio, @thin_provisioning_support,
           @thick_provisioning_support, @capabilities, @updated_at)
         ON CONFLICT (backend_id) DO UPDATE SET host = excluded.host, availability_zone = excluded.availability_zone,
           total_capacity_gb = excluded.total_capacity_gb, free_capacity_gb = excluded.free_capacity_gb,
           allocated_capacity_gb = excluded.allocated_capacity_gb, provisioned_capacity_gb = excluded.provisioned_capacity_gb,
           reserved_percentage = excluded.reserved_percentage, max_over_subscription_ratio = excluded.max_over_subscription_ratio,
           thin_provisioning_support = excluded.thin_provisioning_support,
           thick_provisioning_support = excluded.thick_provisioning_support, capabilities = excluded.capabilities,
           updated_at = excluded.updated_at`,
      );
      for (const p of pools) {
        const onDisk = new Set(p.volume_names);
        let allocated = 0;
        let pending = 0;
        for (const c of activeClaims.all(p.backend_id)) {
          allocated += c.size_gb;
          if (!onDisk.has(volumeObjectName(c.volume_id))) pending += c.size_gb;
        }
        const free = typeof p.free_capacity_gb === 'number' ? p.free_capacity_gb - pending : p.free_capacity_gb;
        upsert.run({
          backend_id: p.backend_id,
          host,
          availability_zone: p.availability_zone,
          total_capacity_gb: encodeCapacity(p.total_capacity_gb),
          free_capacity_gb: free === null ? null : encodeCapacity(free),
          allocated_capacity_gb: allocated,
          provisioned_capacity_gb: p.provisioned_capacity_gb + pending,
          reserved_percentage: p.reserved_percentage,
          max_over_subscription_ratio: p.max_over_subscription_ratio,
          thin_provisioning_support: p.thin_provisioning_support ? 1 : 0,
          thick_provisioning_support: p.thick_provisioning_support ? 1 : 0,
          capabilities: JSON.stringify(p.capabilities ?? {}),
          updated_at: updatedAt,
        });
      }
    });
  }

  async listPools(): Promise<PoolRow[]> {
    return this.sql<PoolRecord>('SELECT * FROM pools ORDER BY backend_id').all().map(toPool);
  }

  private writePoolUsage(backendId: string, b: Pick<BackendState, 'allocated_capacity_gb' | 'provisioned_capacity_gb' | 'free_capacity_gb'>): void {
    this.sql('UPDATE pools SET allocated_capacity_gb = ?, provisioned_capacity_gb = ?, free_capacity_gb = ? WHERE backend_id = ?').run(
      b.allocated_capacity_gb,
      b.provisioned_capacity_gb,
      b.free_capacity_gb === null ? null : encodeCapacity(b.free_capacity_gb),
      backendId,
    );
  }

  private claimRow(volumeId: string, attempt: number): CapacityClaim | null {
    const r = this.sql<ClaimRecord>('SELECT * FROM capacity_claims WHERE volume_id = ? AND attempt = ?').get(volumeId, attempt);
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
    return this.immediate(() => {
      const existing = this.claimRow(args.volumeId, args.attempt);
      if (existing) return { claim: existing, existing: true };
      if (!this.volumeRow(args.volumeId)) throw new CinderError('VolumeNotFound', `Volume ${args.volumeId} could not be found.`);

      const live = this.sql<PoolRecord>('SELECT * FROM pools WHERE updated_at >= ? ORDER BY backend_id')
        .all(liveSince)
        .map((r) => toBackendState(toPool(r)));
      const { backend } = args.choose(live); // may throw NoValidBackend: nothing written yet
      if (!live.some((p) => p.backend_id === backend.backend_id)) {
        throw new Error(`choose returned ${backend.backend_id}, which is not one of the live pools it was given`);
      }

      this.sql(
        `INSERT INTO capacity_claims (volume_id, attempt, backend_id, size_gb, status, created_at, released_at)
         VALUES (?, ?, ?, ?, 'active', ?, NULL)`,
      ).run(args.volumeId, args.attempt, backend.backend_id, args.sizeGb, args.now);
      this.writePoolUsage(backend.backend_id, backend);
      this.sql('UPDATE volumes SET host = ?, scheduled_at = ?, updated_at = ? WHERE id = ?').run(
        backend.backend_id,
        args.now,
        args.now,
        args.volumeId,
      );
      return { claim: this.claimRow(args.volumeId, args.attempt)!, existing: false };
    });
  }

  /** Inside a write transaction: undo one active claim's consumption on its pool. Leaves the volume's
   *  host alone; the workflow clears it itself when it reschedules. */
  private releaseClaim(claim: CapacityClaim, now: string): boolean {
    if (claim.status !== 'active') return false;
    const r = this.sql<PoolRecord>('SELECT * FROM pools WHERE backend_id = ?').get(claim.backend_id);
    if (r) {
      const pool = toPool(r);
      const s = claim.size_gb;
      this.writePoolUsage(claim.backend_id, {
        // A stats report since the claim may already have recounted; never go below zero.
        allocated_capacity_gb: Math.max(0, pool.allocated_capacity_gb - s),
        provisioned_capacity_gb: Math.max(0, pool.provisioned_capacity_gb - s),
        free_capacity_gb: typeof pool.free_capacity_gb === 'number' ? pool.free_capacity_gb + s : pool.free_capacity_gb,
      });
    }
    this.sql(`UPDATE capacity_claims SET status = 'released', released_at = ? WHERE volume_id = ? AND attempt = ?`).run(
      now,
      claim.volume_id,
      claim.attempt,
    );
    return true;
  }

  async releaseCapacity(volumeId: string, attempt: number, now: string): Promise<boolean> {
    return this.immediate(() => {
      const claim = this.claimRow(volumeId, attempt);
      return claim ? this.releaseClaim(claim, now) : false;
    });
  }

  async listClaims(volumeId?: string): Promise<CapacityClaim[]> {
    const rows =
      volumeId === undefined
        ? this.sql<ClaimRecord>('SELECT * FROM capacity_claims ORDER BY volume_id, attempt').all()
        : this.sql<ClaimRecord>('SELECT * FROM capacity_claims WHERE volume_id = ? ORDER BY attempt').all(volumeId);
    return rows.map(toClaim);
  }

  // ---- events ----

  async recordEvent(e: Omit<VolumeEvent, 'id'>): Promise<void> {
    this.sql('INSERT INTO events (event_type, volume_id, workflow_id, payload, created_at) VALUES (?, ?, ?, ?, ?)').run(
      e.event_type,
      e.volume_id ?? null,
      e.workflow_id ?? null,
      JSON.stringify(e.payload ?? {}),
      e.created_at,
    );
  }

  async listEvents(filter: { volume_id?: string; event_type?: string } = {}): Promise<VolumeEvent[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.volume_id !== undefined) {
      where.push('volume_id = ?');
      params.push(filter.volume_id);
    }
    if (filter.event_type !== undefined) {
      where.push('event_type = ?');
      params.push(filter.event_type);
    }
    const sql = `SELECT * FROM events ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return this.sql<EventRecord>(sql)
      .all(...params)
      .map(toEvent);
  }

  // ---- fault rules ----

  async addFaultRule(rule: Omit<FaultRule, 'id'>): Promise<FaultRule> {
    if (rule.remaining != null && !(Number.isInteger(rule.remaining) && rule.remaining >= 0)) {
      throw new Error(`fault rule remaining must be a whole number >= 0 or null, got ${rule.remaining}`);
    }
    if (rule.probability != null && !(rule.probability >= 0 && rule.probability <= 1)) {
      throw new Error(`fault rule probability must be within 0..1, got ${rule.probability}`);
    }
    const r = this.sql<FaultRuleRecord>(
      `INSERT INTO fault_rules (host, op, action, error_type, remaining, probability, delay_ms, volume_name)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    ).get(
      rule.host,
      rule.op,
      rule.action,
      rule.error_type ?? null,
      rule.remaining ?? null,
      rule.probability ?? null,
      rule.delay_ms ?? null,
      rule.volume_name ?? null,
    )!;
    return toFaultRule(r);
  }

  async listFaultRules(host?: string): Promise<FaultRule[]> {
    const rows =
      host === undefined
        ? this.sql<FaultRuleRecord>('SELECT * FROM fault_rules ORDER BY id').all()
        : this.sql<FaultRuleRecord>('SELECT * FROM fault_rules WHERE host = ? ORDER BY id').all(host);
    return rows.map(toFaultRule);
  }

  async clearFaultRules(host?: string): Promise<void> {
    if (host === undefined) this.sql('DELETE FROM fault_rules').run();
    else this.sql('DELETE FROM fault_rules WHERE host = ?').run(host);
  }

  async takeFault(host: string, op: FaultOp, volumeName: string | null): Promise<FaultRule | null> {
    return this.immediate(() => {
      // volume_name = NULL is never true, so a targeted rule never fires for an unnamed volume.
      const candidates = this.sql<FaultRuleRecord>(
        `SELECT * FROM fault_rules
         WHERE host = ? AND op = ? AND (remaining IS NULL OR remaining > 0) AND (volume_name IS NULL OR volume_name = ?)
         ORDER BY id`,
      ).all(host, op, volumeName);
      for (const rule of candidates) {
        if (rule.probability != null && !(this.random() < rule.probability)) continue;
        if (rule.remaining === null) return toFaultRule(rule);
        const updated = this.sql<FaultRuleRecord>('UPDATE fault_rules SET remaining = remaining - 1 WHERE id = ? RETURNING *').get(rule.id)!;
        return toFaultRule(updated);
      }
      return null;
    });
  }
}
