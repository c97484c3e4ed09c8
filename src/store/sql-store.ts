/**
 * The volume database's logic, once for every SQL database it runs on (SqliteVolumeStore and
 * PostgresVolumeStore give it their connection): quotas, volumes, pools and capacity claims,
 * events, fault rules. Every read-then-write runs in a `write` transaction (the database's write
 * lock, held from the start: see sql-connection.ts); single-statement writes are atomic by
 * themselves and run outside one; several reads that must agree run in a `read` transaction.
 */
import { CinderError } from '../domain/cinder-errors';
import { splitBackendId, volumeObjectName } from '../domain/volume';
import type { Image, Snapshot, Volume, VolumeStatus, VolumeType } from '../domain/volume';
import type { FaultOp, FaultRule } from '../domain/faults';
import type { BackendState } from '../domain/pools';
import type { SqlConnection, SqlExecutor } from './sql-connection';
import {
  canonicalTime,
  encodeCapacity,
  toBackendState,
  toClaim,
  toEvent,
  toFaultRule,
  toImage,
  toPool,
  toSnapshot,
  toVolume,
  toVolumeType,
  type ClaimRecord,
  type EventRecord,
  type FaultRuleRecord,
  type PoolRecord,
  type VolumeRecord,
  type VolumeTypeRecord,
} from './sql-rows';
import type {
  CapacityClaim,
  ClaimCapacityArgs,
  ClaimResult,
  ConditionalUpdate,
  NewVolume,
  PoolRow,
  PoolStatsReport,
  QuotaResource,
  QuotaUsage,
  ServiceReport,
  VolumeEvent,
  VolumeFilter,
  VolumePatch,
  VolumeStore,
} from './volume-store';

/** Cinder's default quotas (quota_volumes, quota_gigabytes); per-type resources are unlimited. */
export const CINDER_DEFAULT_QUOTAS: Readonly<Record<QuotaResource, number>> = { volumes: 10, gigabytes: 1000 };

/** Options every SQL store takes. */
export interface SqlStoreOptions {
  /** Limits for projects without their own quota row, merged over CINDER_DEFAULT_QUOTAS; any
   *  resource named in neither is unlimited (-1). */
  defaultQuotas?: Record<QuotaResource, number>;
  /** Random source in [0, 1) for probability fault rules; Math.random by default. */
  random?: () => number;
}

type PoolUsage = Pick<BackendState, 'allocated_capacity_gb' | 'provisioned_capacity_gb' | 'free_capacity_gb'>;

const PATCHABLE_VOLUME_FIELDS = [
  'status',
  'host',
  'scheduled_at',
  'launched_at',
  'error_reason',
  'deleted_at',
] as const;

/** A pool's active claims no stats report has seen on disk yet (index capacity_claims_backend). */
const UNLANDED_CLAIMS = `SELECT volume_id, attempt, size_gb FROM capacity_claims
  WHERE backend_id = ? AND status = 'active' AND landed_at IS NULL ORDER BY volume_id`;

/** The unique index a caller can hit: one request id per project. */
const REQUEST_ID_INDEX = 'volumes_project_request';

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

/** A second create for a volume id that another create owns: refused before anything changes. */
export function volumeAlreadyExists(volumeId: string): CinderError {
  return new CinderError(
    'InvalidInput',
    `Invalid input for field 'volume_id': volume ${volumeId} already exists`,
    'volume_id',
  );
}

/** `WHERE a AND b ...` of the conditions whose value is defined ('' when none is), and their
 *  parameters: every `?` of a condition takes its value. */
function whereDefined(conditions: Array<[condition: string, value: unknown]>): { where: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  for (const [condition, value] of conditions) {
    if (value === undefined) continue;
    parts.push(condition);
    for (let i = condition.split('?').length - 1; i > 0; i--) params.push(value);
  }
  return { where: parts.length > 0 ? `WHERE ${parts.join(' AND ')}` : '', params };
}

export class SqlVolumeStore implements VolumeStore {
  private readonly defaultQuotas: Record<QuotaResource, number>;
  private readonly random: () => number;

  /** A store on a connection to a migrated database; close closes the connection. */
  constructor(
    protected readonly sql: SqlConnection,
    options: SqlStoreOptions = {},
  ) {
    this.defaultQuotas = { ...CINDER_DEFAULT_QUOTAS, ...options.defaultQuotas };
    this.random = options.random ?? Math.random;
  }

  close(): Promise<void> {
    return this.sql.close();
  }

  /** A read-then-write: one transaction holding the write lock from its start. */
  private write<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.sql.transaction('write', fn);
  }

  // ---- reference data ----

  async getVolumeType(name: string): Promise<VolumeType | null> {
    const r = await this.sql.get<VolumeTypeRecord>('SELECT * FROM volume_types WHERE name = ?', [name]);
    return r ? toVolumeType(r) : null;
  }

  async listVolumeTypes(): Promise<VolumeType[]> {
    return (await this.sql.all<VolumeTypeRecord>('SELECT * FROM volume_types ORDER BY name')).map(toVolumeType);
  }

  async putVolumeType(type: VolumeType): Promise<void> {
    await this.sql.run(
      'INSERT INTO volume_types (name, extra_specs) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET extra_specs = excluded.extra_specs',
      [type.name, JSON.stringify(type.extra_specs ?? {})],
    );
  }

  async listAvailabilityZones(): Promise<string[]> {
    const rows = await this.sql.all<{ availability_zone: string }>(
      'SELECT DISTINCT availability_zone FROM pools ORDER BY availability_zone',
    );
    return rows.map((r) => r.availability_zone);
  }

  async getSnapshot(id: string): Promise<Snapshot | null> {
    const r = await this.sql.get<Snapshot>('SELECT * FROM snapshots WHERE id = ?', [id]);
    return r ? toSnapshot(r) : null;
  }

  async putSnapshot(s: Snapshot): Promise<void> {
    await this.sql.run(
      `INSERT INTO snapshots (id, volume_id, size, host, status) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET volume_id = excluded.volume_id, size = excluded.size, host = excluded.host, status = excluded.status`,
      [s.id, s.volume_id, s.size, s.host, s.status],
    );
  }

  async getImage(id: string): Promise<Image | null> {
    const r = await this.sql.get<Image>('SELECT * FROM images WHERE id = ?', [id]);
    return r ? toImage(r) : null;
  }

  async putImage(i: Image): Promise<void> {
    await this.sql.run(
      `INSERT INTO images (id, name, size_gb, disk_format, status, path) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET name = excluded.name, size_gb = excluded.size_gb, disk_format = excluded.disk_format,
         status = excluded.status, path = excluded.path`,
      [i.id, i.name, i.size_gb, i.disk_format, i.status, i.path],
    );
  }

  // ---- quotas: Cinder's quota_usages row per (project, resource), changed in the same transaction
  // as the reservation rows, so a reservation costs the same however many volumes a project has ----

  async setQuotaLimit(projectId: string, resource: QuotaResource, limit: number): Promise<void> {
    await this.sql.run(
      `INSERT INTO quota_limits (project_id, resource, hard_limit) VALUES (?, ?, ?)
       ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded.hard_limit`,
      [projectId, resource, limit],
    );
  }

  /** The project's own limits; quotaLimit falls back to the defaults for the rest. */
  private async projectLimits(db: SqlExecutor, projectId: string): Promise<Map<QuotaResource, number>> {
    const rows = await db.all<{ resource: string; hard_limit: number }>(
      'SELECT resource, hard_limit FROM quota_limits WHERE project_id = ?',
      [projectId],
    );
    return new Map(rows.map((r) => [r.resource, r.hard_limit]));
  }

  private quotaLimit(limits: Map<QuotaResource, number>, resource: QuotaResource): number {
    const own = limits.get(resource);
    return own !== undefined ? own : (this.defaultQuotas[resource] ?? -1);
  }

  private async quotaUsage(
    db: SqlExecutor,
    projectId: string,
  ): Promise<Map<QuotaResource, { in_use: number; reserved: number }>> {
    const rows = await db.all<{ resource: string; in_use: number; reserved: number }>(
      'SELECT resource, in_use, reserved FROM quota_usages WHERE project_id = ?',
      [projectId],
    );
    return new Map(rows.map((r) => [r.resource, { in_use: r.in_use, reserved: r.reserved }]));
  }

  /** Adds to a usage row (creating it at zero first); in use and reserved never go below zero. */
  private async addUsage(
    tx: SqlExecutor,
    projectId: string,
    resource: string,
    inUse: number,
    reserved: number,
  ): Promise<void> {
    await tx.run(
      `INSERT INTO quota_usages (project_id, resource, in_use, reserved) VALUES (?, ?, 0, 0)
       ON CONFLICT (project_id, resource) DO NOTHING`,
      [projectId, resource],
    );
    // CASE rather than max(): SQLite's two-argument max() is GREATEST() in PostgreSQL.
    await tx.run(
      `UPDATE quota_usages
       SET in_use = CASE WHEN in_use + ? < 0 THEN 0 ELSE in_use + ? END,
           reserved = CASE WHEN reserved + ? < 0 THEN 0 ELSE reserved + ? END
       WHERE project_id = ? AND resource = ?`,
      [inUse, inUse, reserved, reserved, projectId, resource],
    );
  }

  async reserveQuota(
    volumeId: string,
    projectId: string,
    deltas: Record<QuotaResource, number>,
    now: string,
    owner?: string,
  ): Promise<void> {
    await this.write(async (tx) => {
      const held = await tx.all<{ project_id: string; owner: string | null }>(
        'SELECT project_id, owner FROM quota_reservations WHERE volume_id = ?',
        [volumeId],
      );
      if (held.length > 0) {
        // A retried activity finds its own reservation; any other create's is not its to reuse.
        const mine = held.every(
          (r) => r.project_id === projectId && (owner === undefined || r.owner === owner || r.owner === null),
        );
        if (
          !mine ||
          (owner !== undefined &&
            held.some((r) => r.owner === null) &&
            !(await this.ownedRow(tx, volumeId, owner, false)).ok)
        ) {
          throw volumeAlreadyExists(volumeId);
        }
        return;
      }
      const row = await this.volumeRow(tx, volumeId);
      if (row && owner !== undefined && row.owner !== owner) throw volumeAlreadyExists(volumeId);
      const usage = await this.quotaUsage(tx, projectId);
      const limits = await this.projectLimits(tx, projectId);
      // Like Cinder: every resource is checked, and the first over quota in name order is reported
      // (so gigabytes wins over volumes). A zero delta still fails on a project already over.
      const over = Object.entries(deltas)
        .map(([resource, delta]) => {
          const u = usage.get(resource);
          return {
            resource,
            delta,
            limit: this.quotaLimit(limits, resource),
            consumed: (u?.in_use ?? 0) + (u?.reserved ?? 0),
          };
        })
        .filter((q) => q.limit >= 0 && q.delta >= 0 && q.consumed + q.delta > q.limit)
        .sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0));
      if (over.length > 0) {
        const q = over[0];
        throw quotaExceeded(q.resource, q.delta, q.limit, q.consumed);
      }
      for (const [resource, delta] of Object.entries(deltas)) {
        await tx.run(
          `INSERT INTO quota_reservations (volume_id, project_id, resource, delta, status, created_at, updated_at, owner)
           VALUES (?, ?, ?, ?, 'reserved', ?, ?, ?)`,
          [volumeId, projectId, resource, delta, now, now, owner ?? null],
        );
        // Cinder counts only positive deltas as reserved.
        if (delta > 0) await this.addUsage(tx, projectId, resource, 0, delta);
      }
    });
  }

  async commitQuota(volumeId: string, now: string, owner?: string): Promise<void> {
    // Commit runs after the owner's own row was written, so a pre-owner reservation is its own.
    await this.settleQuota(volumeId, 'committed', now, owner, true);
  }

  async rollbackQuota(volumeId: string, now: string, owner?: string): Promise<void> {
    // Strictly the owner's: a refused create's undo never touches the reservation it collided with.
    await this.settleQuota(volumeId, 'rolled_back', now, owner, false);
  }

  /** Moves a reservation not yet committed or rolled back to status, and its usage with it; a
   *  settled one stays as it is. With an owner, only that owner's reservation (and, if adoptLegacy,
   *  one made before owners). */
  private async settleQuota(
    volumeId: string,
    status: 'committed' | 'rolled_back',
    now: string,
    owner: string | undefined,
    adoptLegacy: boolean,
  ): Promise<void> {
    const mine = owner === undefined ? '' : adoptLegacy ? ' AND (owner = ? OR owner IS NULL)' : ' AND owner = ?';
    await this.write(async (tx) => {
      const settled = await tx.all<{ project_id: string; resource: string; delta: number }>(
        `UPDATE quota_reservations SET status = ?, updated_at = ? WHERE volume_id = ? AND status = 'reserved'${mine}
         RETURNING project_id, resource, delta`,
        owner === undefined ? [status, now, volumeId] : [status, now, volumeId, owner],
      );
      for (const r of settled) {
        const reserved = r.delta > 0 ? -r.delta : 0;
        await this.addUsage(tx, r.project_id, r.resource, status === 'committed' ? r.delta : 0, reserved);
      }
    });
  }

  async releaseQuota(volumeId: string, now: string): Promise<boolean> {
    return this.write(async (tx) => {
      const released = await tx.all<{ project_id: string; resource: string; delta: number }>(
        `UPDATE quota_reservations SET released_at = ?, updated_at = ? WHERE volume_id = ? AND status = 'committed' AND released_at IS NULL
         RETURNING project_id, resource, delta`,
        [now, now, volumeId],
      );
      for (const r of released) await this.addUsage(tx, r.project_id, r.resource, -r.delta, 0);
      return released.length > 0;
    });
  }

  async getQuotaUsage(projectId: string, resources: QuotaResource[] = []): Promise<QuotaUsage[]> {
    return this.sql.transaction('read', async (tx) => {
      const usage = await this.quotaUsage(tx, projectId);
      const limits = await this.projectLimits(tx, projectId);
      const all = new Set([...Object.keys(this.defaultQuotas), ...limits.keys(), ...usage.keys(), ...resources]);
      return [...all].sort().map((resource) => ({
        resource,
        limit: this.quotaLimit(limits, resource),
        in_use: usage.get(resource)?.in_use ?? 0,
        reserved: usage.get(resource)?.reserved ?? 0,
      }));
    });
  }

  // ---- volumes ----

  private async volumeRow(db: SqlExecutor, id: string): Promise<Volume | null> {
    const r = await db.get<VolumeRecord>('SELECT * FROM volumes WHERE id = ?', [id]);
    return r ? toVolume(r) : null;
  }

  /**
   * Inside a write transaction: the row, and whether `owner` may act on it. No owner (an activity
   * scheduled before owners existed) acts as before. A row made before owners is taken over by the
   * first owner that touches it while it is still 'creating' (when adopt is set, it is recorded).
   */
  private async ownedRow(
    tx: SqlExecutor,
    id: string,
    owner: string | undefined,
    adopt = true,
  ): Promise<{ row: Volume | null; ok: boolean }> {
    const row = await this.volumeRow(tx, id);
    if (!row || owner === undefined || row.owner === owner) return { row, ok: true };
    if (row.owner === null && row.status === 'creating') {
      if (adopt) await tx.run('UPDATE volumes SET owner = ? WHERE id = ? AND owner IS NULL', [owner, id]);
      return { row: { ...row, owner }, ok: true };
    }
    return { row, ok: false };
  }

  async createVolume(v: NewVolume): Promise<Volume> {
    const req = v.request;
    try {
      return await this.write(async (tx) => {
        const { row: existing, ok } = await this.ownedRow(tx, v.id, v.owner);
        if (existing && (!ok || existing.project_id !== req.project_id)) throw volumeAlreadyExists(v.id);
        if (existing) return existing;
        const r = await tx.get<VolumeRecord>(
          `INSERT INTO volumes (id, project_id, name, description, size, status, volume_type, availability_zone, host, source,
             metadata, workflow_id, request_id, error_reason, created_at, updated_at, scheduled_at, launched_at, owner)
           VALUES (?, ?, ?, ?, ?, 'creating', ?, ?, NULL, ?, ?, ?, ?, NULL, ?, ?, NULL, NULL, ?)
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
            v.now,
            v.owner ?? null,
          ],
        );
        return toVolume(r!);
      });
    } catch (err) {
      if (this.sql.isUniqueViolation(err, REQUEST_ID_INDEX) && req.request_id) {
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
    return this.volumeRow(this.sql, id);
  }

  async getVolumeByRequestId(projectId: string, requestId: string): Promise<Volume | null> {
    const r = await this.sql.get<VolumeRecord>('SELECT * FROM volumes WHERE project_id = ? AND request_id = ?', [
      projectId,
      requestId,
    ]);
    return r ? toVolume(r) : null;
  }

  async listVolumes(filter: VolumeFilter = {}): Promise<Volume[]> {
    const { where, params } = whereDefined([
      ['status = ?', filter.status],
      ["status <> 'deleted'", filter.hide_deleted ? true : undefined],
      ['project_id = ?', filter.project_id],
      // host@backend matches its pools too; substr rather than LIKE, whose _ and % would need escaping.
      ["(host = ? OR substr(host, 1, length(CAST(? AS TEXT)) + 1) = CAST(? AS TEXT) || '#')", filter.host],
    ]);
    const rows = await this.sql.all<VolumeRecord>(`SELECT * FROM volumes ${where} ORDER BY created_at, id`, params);
    return rows.map(toVolume);
  }

  async updateVolume(id: string, patch: VolumePatch, now: string, owner?: string): Promise<Volume> {
    return this.write(async (tx) => {
      const { row, ok } = await this.ownedRow(tx, id, owner);
      if (!row) throw new CinderError('VolumeNotFound', `Volume ${id} could not be found.`);
      if (!ok) throw volumeAlreadyExists(id);
      const fields = PATCHABLE_VOLUME_FIELDS.filter((f) => patch[f] !== undefined);
      const set = [...fields.map((f) => `${f} = ?`), 'updated_at = ?'].join(', ');
      const r = await tx.get<VolumeRecord>(`UPDATE volumes SET ${set} WHERE id = ? RETURNING *`, [
        ...fields.map((f) => patch[f]),
        now,
        id,
      ]);
      return toVolume(r!);
    });
  }

  async conditionalUpdateVolume(
    id: string,
    expected: readonly VolumeStatus[] | null,
    patch: VolumePatch,
    now: string,
  ): Promise<ConditionalUpdate> {
    return this.write(async (tx) => {
      const current = await this.volumeRow(tx, id);
      if (!current) return { volume: null, updated: false };
      if (expected && !expected.includes(current.status)) return { volume: current, updated: false };
      const fields = PATCHABLE_VOLUME_FIELDS.filter((f) => patch[f] !== undefined);
      const set = [...fields.map((f) => `${f} = ?`), 'updated_at = ?'].join(', ');
      const r = await tx.get<VolumeRecord>(`UPDATE volumes SET ${set} WHERE id = ? RETURNING *`, [
        ...fields.map((f) => patch[f]),
        now,
        id,
      ]);
      return { volume: toVolume(r!), updated: true };
    });
  }

  async destroyVolume(id: string, owner?: string): Promise<void> {
    await this.write(async (tx) => {
      if (!(await this.ownedRow(tx, id, owner, false)).ok) return; // another create's row: not ours to undo
      // A destroyed volume holds no capacity: give back claims its saga did not release (a safety
      // net; the workflow releases them first). The claim rows stay as history.
      const active = await tx.all<ClaimRecord>(
        `SELECT * FROM capacity_claims WHERE volume_id = ? AND status = 'active' ORDER BY attempt`,
        [id],
      );
      const now = new Date().toISOString();
      for (const claim of active) await this.releaseClaim(tx, toClaim(claim), now);
      await tx.run('DELETE FROM volumes WHERE id = ?', [id]);
    });
  }

  // ---- pools and capacity ----

  async pendingClaimObjects(backendIds: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const backendId of backendIds) {
      const rows = await this.sql.all<{ volume_id: string }>(UNLANDED_CLAIMS, [backendId]);
      out.set(
        backendId,
        rows.map((r) => volumeObjectName(r.volume_id)),
      );
    }
    return out;
  }

  async reportPoolStats(host: string, pools: PoolStatsReport[], now: string, service?: ServiceReport): Promise<void> {
    const updatedAt = canonicalTime(now);
    for (const p of pools) {
      if (splitBackendId(p.backend_id).host !== host)
        throw new Error(`pool ${p.backend_id} does not belong to volume service ${host}`);
    }
    await this.write(async (tx) => {
      for (const p of pools) {
        const pending = await this.landClaims(tx, p, updatedAt);
        // Claims and releases keep allocated; a new pool row starts from its active claims.
        const allocated = (await tx.get('SELECT 1 FROM pools WHERE backend_id = ?', [p.backend_id]))
          ? 0
          : Number(
              (await tx.get<{ s: number }>(
                `SELECT COALESCE(SUM(size_gb), 0) AS s FROM capacity_claims WHERE backend_id = ? AND status = 'active'`,
                [p.backend_id],
              ))!.s,
            );
        const free = typeof p.free_capacity_gb === 'number' ? p.free_capacity_gb - pending : p.free_capacity_gb;
        await tx.run(
          `INSERT INTO pools (backend_id, host, availability_zone, total_capacity_gb, free_capacity_gb, allocated_capacity_gb,
             provisioned_capacity_gb, reserved_percentage, max_over_subscription_ratio, thin_provisioning_support,
             thick_provisioning_support, capabilities, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (backend_id) DO UPDATE SET host = excluded.host, availability_zone = excluded.availability_zone,
             total_capacity_gb = excluded.total_capacity_gb, free_capacity_gb = excluded.free_capacity_gb,
             provisioned_capacity_gb = excluded.provisioned_capacity_gb,
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
      if (service)
        await tx.run('UPDATE pools SET fault_injection = ? WHERE host = ?', [service.fault_injection ? 1 : 0, host]);
    });
  }

  /** Marks the pool's active claims whose volume the report saw on disk; returns the GiB of those
   *  still not there (in-flight creates), which the report's figures do not include yet. Reads only
   *  the claims not seen before, so the cost follows the creates in flight, not the volumes. */
  private async landClaims(tx: SqlExecutor, p: PoolStatsReport, now: string): Promise<number> {
    const onDisk = new Set(p.volume_names);
    let pending = 0;
    for (const c of await tx.all<{ volume_id: string; attempt: number; size_gb: number }>(UNLANDED_CLAIMS, [
      p.backend_id,
    ])) {
      // By primary key: usually a few in-flight creates; all of them once, after migration 5.
      if (onDisk.has(volumeObjectName(c.volume_id)))
        await tx.run('UPDATE capacity_claims SET landed_at = ? WHERE volume_id = ? AND attempt = ?', [
          now,
          c.volume_id,
          c.attempt,
        ]);
      else pending += c.size_gb;
    }
    return pending;
  }

  async getServiceFaultInjection(host: string): Promise<boolean | null> {
    const row = await this.sql.get<{ fault_injection: number | null }>(
      'SELECT fault_injection FROM pools WHERE host = ? ORDER BY updated_at DESC LIMIT 1',
      [host],
    );
    return row?.fault_injection == null ? null : Number(row.fault_injection) !== 0;
  }

  async listPools(): Promise<PoolRow[]> {
    return (await this.sql.all<PoolRecord>('SELECT * FROM pools ORDER BY backend_id')).map(toPool);
  }

  private async writePoolUsage(tx: SqlExecutor, backendId: string, b: PoolUsage): Promise<void> {
    await tx.run(
      'UPDATE pools SET allocated_capacity_gb = ?, provisioned_capacity_gb = ?, free_capacity_gb = ? WHERE backend_id = ?',
      [
        b.allocated_capacity_gb,
        b.provisioned_capacity_gb,
        b.free_capacity_gb === null ? null : encodeCapacity(b.free_capacity_gb),
        backendId,
      ],
    );
  }

  private async claimRow(db: SqlExecutor, volumeId: string, attempt: number): Promise<CapacityClaim | null> {
    const r = await db.get<ClaimRecord>('SELECT * FROM capacity_claims WHERE volume_id = ? AND attempt = ?', [
      volumeId,
      attempt,
    ]);
    return r ? toClaim(r) : null;
  }

  async claimCapacity(args: ClaimCapacityArgs): Promise<ClaimResult> {
    const liveSince = canonicalTime(args.liveSince);
    return this.write(async (tx) => {
      const { row, ok } = await this.ownedRow(tx, args.volumeId, args.owner);
      if (row && !ok) throw volumeAlreadyExists(args.volumeId);
      const existing = await this.claimRow(tx, args.volumeId, args.attempt);
      if (existing) return { claim: existing, existing: true };
      if (!row) throw new CinderError('VolumeNotFound', `Volume ${args.volumeId} could not be found.`);

      // Read under the write lock: no other process changes these pools until this one commits.
      const live = (
        await tx.all<PoolRecord>('SELECT * FROM pools WHERE updated_at >= ? ORDER BY backend_id', [liveSince])
      ).map((r) => toBackendState(toPool(r)));
      const { backend } = args.choose(live); // may throw NoValidBackend: nothing written yet
      if (!live.some((p) => p.backend_id === backend.backend_id)) {
        throw new Error(`choose returned ${backend.backend_id}, which is not one of the live pools it was given`);
      }

      const claim = await tx.get<ClaimRecord>(
        `INSERT INTO capacity_claims (volume_id, attempt, backend_id, size_gb, status, created_at, released_at)
         VALUES (?, ?, ?, ?, 'active', ?, NULL) RETURNING *`,
        [args.volumeId, args.attempt, backend.backend_id, args.sizeGb, args.now],
      );
      await this.writePoolUsage(tx, backend.backend_id, backend);
      // The zone is the chosen pool's: the one asked for (AvailabilityZoneFilter kept only its pools),
      // or, when none was, the one the volume lands in, as Cinder records it.
      await tx.run(
        'UPDATE volumes SET host = ?, availability_zone = ?, scheduled_at = ?, updated_at = ? WHERE id = ?',
        [backend.backend_id, backend.availability_zone, args.now, args.now, args.volumeId],
      );
      return { claim: toClaim(claim!), existing: false };
    });
  }

  /** Inside a write transaction: undo one active claim's consumption on its pool. Leaves the volume's
   *  host alone; the workflow clears it itself when it reschedules. */
  private async releaseClaim(tx: SqlExecutor, claim: CapacityClaim, now: string): Promise<boolean> {
    if (claim.status !== 'active') return false;
    const r = await tx.get<PoolRecord>('SELECT * FROM pools WHERE backend_id = ?', [claim.backend_id]);
    if (r) {
      const pool = toPool(r);
      const s = claim.size_gb;
      await this.writePoolUsage(tx, claim.backend_id, {
        // A stats report since the claim may already have recounted; never go below zero.
        allocated_capacity_gb: Math.max(0, pool.allocated_capacity_gb - s),
        provisioned_capacity_gb: Math.max(0, pool.provisioned_capacity_gb - s),
        free_capacity_gb: typeof pool.free_capacity_gb === 'number' ? pool.free_capacity_gb + s : pool.free_capacity_gb,
      });
    }
    await tx.run(
      `UPDATE capacity_claims SET status = 'released', released_at = ? WHERE volume_id = ? AND attempt = ?`,
      [now, claim.volume_id, claim.attempt],
    );
    return true;
  }

  async releaseVolumeCapacity(volumeId: string, now: string): Promise<number> {
    return this.write(async (tx) => {
      const active = await tx.all<ClaimRecord>(
        `SELECT * FROM capacity_claims WHERE volume_id = ? AND status = 'active' ORDER BY attempt`,
        [volumeId],
      );
      for (const claim of active) await this.releaseClaim(tx, toClaim(claim), now);
      return active.length;
    });
  }

  async releaseCapacity(volumeId: string, attempt: number, now: string, owner?: string): Promise<boolean> {
    return this.write(async (tx) => {
      if (!(await this.ownedRow(tx, volumeId, owner, false)).ok) return false;
      const claim = await this.claimRow(tx, volumeId, attempt);
      return claim ? this.releaseClaim(tx, claim, now) : false;
    });
  }

  async listClaims(volumeId?: string): Promise<CapacityClaim[]> {
    const { where, params } = whereDefined([['volume_id = ?', volumeId]]);
    const rows = await this.sql.all<ClaimRecord>(
      `SELECT * FROM capacity_claims ${where} ORDER BY volume_id, attempt`,
      params,
    );
    return rows.map(toClaim);
  }

  // ---- events ----

  async recordEvent(e: Omit<VolumeEvent, 'id'>): Promise<void> {
    await this.sql.run(
      'INSERT INTO events (event_type, volume_id, workflow_id, payload, created_at) VALUES (?, ?, ?, ?, ?)',
      [e.event_type, e.volume_id ?? null, e.workflow_id ?? null, JSON.stringify(e.payload ?? {}), e.created_at],
    );
  }

  async listEvents(filter: { volume_id?: string; event_type?: string } = {}): Promise<VolumeEvent[]> {
    const { where, params } = whereDefined([
      ['volume_id = ?', filter.volume_id],
      ['event_type = ?', filter.event_type],
    ]);
    return (await this.sql.all<EventRecord>(`SELECT * FROM events ${where} ORDER BY id`, params)).map(toEvent);
  }

  // ---- fault rules ----

  async addFaultRule(rule: Omit<FaultRule, 'id'>): Promise<FaultRule> {
    if (rule.remaining != null && !(Number.isInteger(rule.remaining) && rule.remaining >= 0)) {
      throw new Error(`fault rule remaining must be a whole number >= 0 or null, got ${rule.remaining}`);
    }
    if (rule.probability != null && !(rule.probability >= 0 && rule.probability <= 1)) {
      throw new Error(`fault rule probability must be within 0..1, got ${rule.probability}`);
    }
    const r = await this.sql.get<FaultRuleRecord>(
      `INSERT INTO fault_rules (host, op, action, error_type, remaining, probability, delay_ms, volume_name, stage)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
      [
        rule.host,
        rule.op,
        rule.action,
        rule.error_type ?? null,
        rule.remaining ?? null,
        rule.probability ?? null,
        rule.delay_ms ?? null,
        rule.volume_name ?? null,
        rule.stage ?? null,
      ],
    );
    return toFaultRule(r!);
  }

  async listFaultRules(host?: string): Promise<FaultRule[]> {
    const { where, params } = whereDefined([['host = ?', host]]);
    return (await this.sql.all<FaultRuleRecord>(`SELECT * FROM fault_rules ${where} ORDER BY id`, params)).map(
      toFaultRule,
    );
  }

  async clearFaultRules(host?: string): Promise<number> {
    const { where, params } = whereDefined([['host = ?', host]]);
    return (await this.sql.all<{ id: number }>(`DELETE FROM fault_rules ${where} RETURNING id`, params)).length;
  }

  async takeFault(host: string, op: FaultOp, volumeName: string | null): Promise<FaultRule | null> {
    return this.write(async (tx) => {
      // volume_name = NULL is never true, so a targeted rule never fires for an unnamed volume.
      const candidates = await tx.all<FaultRuleRecord>(
        `SELECT * FROM fault_rules
         WHERE host = ? AND op = ? AND (remaining IS NULL OR remaining > 0) AND (volume_name IS NULL OR volume_name = CAST(? AS TEXT))
         ORDER BY id`,
        [host, op, volumeName],
      );
      for (const rule of candidates) {
        if (rule.probability != null && !(this.random() < rule.probability)) continue;
        if (rule.remaining === null) return toFaultRule(rule);
        const updated = await tx.get<FaultRuleRecord>(
          'UPDATE fault_rules SET remaining = remaining - 1 WHERE id = ? RETURNING *',
          [rule.id],
        );
        // Cleared by a clearFaultRules that does not wait for the write lock (PostgreSQL): try the next rule.
        if (updated) return toFaultRule(updated);
      }
      return null;
    });
  }
}
