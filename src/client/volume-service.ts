/**
 * The client library's front door: starts and follows creates through Temporal, reads volumes and
 * pools from the volume database, and reads a create's history from its workflow.
 */
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { storeOptions, type AppConfig } from '../config/config';
import { CinderError } from '../domain/cinder-errors';
import { DEFAULT_CREATE_OPTIONS, resolveRequestOptions, type CreateOptions } from '../domain/create-options';
import { DEFAULT_REQUEST_LIMITS, validateCreateRequest, type RequestLimits } from '../domain/validation';
import {
  DELETABLE_STATUSES,
  invalidVolumeForDelete,
  splitBackendId,
  type Volume,
  type VolumeStatus,
} from '../domain/volume';
import { openVolumeStore } from '../store';
import type { PoolRow, VolumeStore } from '../store/volume-store';
import { connectionOptions } from '../temporal-connection';
import { tracingClientInterceptors } from '../observability/tracing';
import type { CreateVolumeState } from '../workflows/create-volume';
import { runningDelete, startDeleteVolume, type VolumeDeleteHandle } from './deletes';
import { volumeHistory, type VolumeHistory } from './history';
import {
  createVolume,
  getVolumeCreate,
  volumeIdForRequest,
  type NewVolumeRequest,
  type VolumeCreateHandle,
} from './volumes';

export interface VolumeListFilter {
  status?: VolumeStatus;
  /** host@backend or host@backend#pool. */
  backend?: string;
  project_id?: string;
  /** Include soft-deleted volumes (status deleted); a status filter of 'deleted' includes them too. */
  all?: boolean;
}

/** A project's quota as `cinder quota-usage` shows it. */
export interface QuotaUsageRow {
  resource: string;
  /** -1: unlimited */
  limit: number;
  in_use: number;
  reserved: number;
}

/** What `quota-update` may set: Cinder's volumes and gigabytes, for the project or for volume types. */
export interface QuotaUpdate {
  volumes?: number;
  gigabytes?: number;
  /** Apply the values to these volume types' resources (volumes_<type>, gigabytes_<type>) instead. */
  volume_types?: string[];
}

/** One pool as `cinder get-pools --detail` would show it, with its volume service's state. */
export type BackendInfo = Omit<PoolRow, 'thick_provisioning_support' | 'capabilities'> & {
  pool: string;
  /** up when the volume service reported within service_down_time seconds (Cinder's rule). */
  state: 'up' | 'down';
  /** Seconds since the last report (the service's heartbeat). */
  heartbeat_age_s: number;
};

export interface VolumeServiceOptions {
  /** Task queue of the scheduler pool (default cinder-scheduler). */
  taskQueue?: string;
  /** Cinder's service_down_time: a volume service silent longer is down (default 60). */
  serviceDownTimeS?: number;
  requestLimits?: RequestLimits;
}

/** Where a create stands (from the workflow's query, which needs a scheduler worker). */
export type CreateStatus = CreateVolumeState;

export class VolumeNotFound extends CinderError {
  constructor(readonly volumeId: string) {
    super('VolumeNotFound', `Volume ${volumeId} could not be found.`);
  }
}

export class VolumeService {
  private store: Promise<VolumeStore> | null = null;
  private readonly openStore: () => Promise<VolumeStore>;
  /** The connection fromConfig made, closed by close(); a caller's own client is left alone. */
  private ownedConnection: Connection | null = null;

  /**
   * @param client a Temporal client (a lazy connection is fine: only creates, cancels, status and
   *   history talk to Temporal).
   * @param store the volume database, or how to open it on first use (list, show, backends).
   */
  constructor(
    readonly client: Client,
    store: VolumeStore | (() => Promise<VolumeStore>),
    readonly options: VolumeServiceOptions = {},
  ) {
    this.openStore = typeof store === 'function' ? store : async () => store;
  }

  /** From the configuration (TEMPORAL_ADDRESS, CINDER_CONFIG...): connects to Temporal and opens the
   *  database only when a call first needs them. */
  static fromConfig(config: AppConfig): VolumeService {
    const connection = Connection.lazy(connectionOptions(config));
    const client = new Client({
      connection,
      namespace: config.temporal.namespace,
      interceptors: { workflow: tracingClientInterceptors() },
    });
    const service = new VolumeService(client, () => openVolumeStore(config.database_url, storeOptions(config)), {
      taskQueue: config.scheduler_task_queue,
      serviceDownTimeS: config.create_defaults.service_down_time_s,
      requestLimits: config.request_limits,
    });
    service.ownedConnection = connection;
    return service;
  }

  db(): Promise<VolumeStore> {
    this.store ??= this.openStore();
    return this.store;
  }

  async close(): Promise<void> {
    const store = this.store;
    this.store = null;
    await Promise.all([
      store?.then((s) => s.close()).catch(() => undefined),
      this.ownedConnection?.close().catch(() => undefined),
    ]);
  }

  /** The volume id a request will get: the request's own, derived from its request id, or none yet. */
  volumeIdFor(request: NewVolumeRequest): string | undefined {
    return (
      request.volume_id ?? (request.request_id ? volumeIdForRequest(request.project_id, request.request_id) : undefined)
    );
  }

  /**
   * Checks the request's shape (validateCreateRequest) and, against the volume database, what
   * Cinder's API checks before it answers: the volume type, the zone and the source exist. Throws
   * CinderError naming the field; nothing is started.
   */
  async checkCreate(request: NewVolumeRequest): Promise<void> {
    validateCreateRequest(
      { volume_id: 'to-be-assigned', ...request },
      this.options.requestLimits ?? DEFAULT_REQUEST_LIMITS,
    );
    const store = await this.db();
    const typeName = request.volume_type ?? 'default';
    if (!(await store.getVolumeType(typeName))) {
      throw new CinderError('VolumeTypeNotFound', `Volume type ${typeName} could not be found.`, 'volume_type');
    }
    if (request.availability_zone) {
      const zones = await store.listAvailabilityZones();
      if (!zones.includes(request.availability_zone)) {
        throw new CinderError(
          'InvalidAvailabilityZone',
          `Availability zone '${request.availability_zone}' is invalid (known: ${zones.join(', ') || 'none'}).`,
          'availability_zone',
        );
      }
    }
    if (request.snapshot_id) {
      const snap = await store.getSnapshot(request.snapshot_id);
      const parent = snap ? await store.getVolume(snap.volume_id) : null;
      if (!snap || snap.status !== 'available' || (parent && parent.project_id !== request.project_id))
        throw new CinderError('SnapshotNotFound', `Snapshot ${request.snapshot_id} could not be found.`, 'snapshot_id');
    }
    if (request.source_volid) {
      const src = await store.getVolume(request.source_volid);
      if (!src || src.status !== 'available' || src.project_id !== request.project_id) {
        throw new CinderError(
          'VolumeNotFound',
          `Volume ${request.source_volid} could not be found or is not available.`,
          'source_volid',
        );
      }
    }
    if (request.image_id) {
      const image = await store.getImage(request.image_id);
      if (!image || image.status !== 'active')
        throw new CinderError('ImageNotFound', `Image ${request.image_id} could not be found.`, 'image_id');
    }
  }

  /** Starts a create (idempotent with a request id). With `check` (default), checkCreate runs first. */
  async create(
    request: NewVolumeRequest,
    call: { options?: Partial<CreateOptions>; check?: boolean } = {},
  ): Promise<VolumeCreateHandle> {
    if (call.check !== false) {
      await this.checkCreate(request);
      // The same rules the workers apply: bounds, no unknown keys, no operator-only options.
      if (call.options !== undefined) resolveRequestOptions(DEFAULT_CREATE_OPTIONS, call.options);
    }
    return createVolume(this.client, request, {
      taskQueue: this.options.taskQueue,
      ...(call.options ? { options: call.options } : {}),
      existingVolume: async (id) => {
        const v = await (await this.db()).getVolume(id);
        return v ? { owner: v.owner ?? null, project_id: v.project_id } : null;
      },
    });
  }

  /** A handle on the create of an existing volume (result, status, cancel). */
  handle(volumeId: string): VolumeCreateHandle {
    return getVolumeCreate(this.client, volumeId, () => this.ownerOf(volumeId));
  }

  /** The first run id of the create that owns the volume's row (null: no row, or one from before owners). */
  private async ownerOf(volumeId: string): Promise<string | null> {
    return (await (await this.db()).getVolume(volumeId))?.owner ?? null;
  }

  /** The create's live state (needs a scheduler worker to answer the query). */
  status(volumeId: string): Promise<CreateStatus> {
    return this.handle(volumeId).status();
  }

  /** Requests cancellation of a running create: the workflow compensates every step and sets the
   *  volume to error. Throws VolumeNotFound when there is no such create. */
  async cancel(volumeId: string): Promise<void> {
    try {
      await this.handle(volumeId).cancel();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new VolumeNotFound(volumeId);
      throw err;
    }
  }

  /**
   * Cinder's volume API delete: refuses a volume that is not available, error or error_deleting
   * (InvalidVolume) unless force, then starts (or joins) the delete workflow `delete-volume-<id>`.
   * Throws VolumeNotFound when there is no such volume, or it is deleted already.
   */
  async delete(volumeId: string, call: { force?: boolean } = {}): Promise<VolumeDeleteHandle> {
    const volume = await this.getVolume(volumeId);
    if (!volume || volume.status === 'deleted') throw new VolumeNotFound(volumeId);
    const running = await runningDelete(this.client, volumeId);
    if (running) return running;
    if (!call.force && !DELETABLE_STATUSES.includes(volume.status))
      throw new CinderError('InvalidVolume', invalidVolumeForDelete(volume.status));
    return startDeleteVolume(this.client, volume, { taskQueue: this.options.taskQueue, force: call.force === true });
  }

  /** The project's limits, in use and reserved, for volumes, gigabytes and every volume type's. */
  async quotaUsage(projectId: string): Promise<QuotaUsageRow[]> {
    const store = await this.db();
    const types = await store.listVolumeTypes();
    return store.getQuotaUsage(
      projectId,
      types.flatMap((t) => [`volumes_${t.name}`, `gigabytes_${t.name}`]),
    );
  }

  /**
   * Cinder's quota-update: sets the project's limits (-1 unlimited). A limit below what is in use and
   * reserved is refused (Cinder's message) unless force; an unknown volume type is refused. Returns
   * the quota as it is afterwards.
   */
  async updateQuota(projectId: string, update: QuotaUpdate, call: { force?: boolean } = {}): Promise<QuotaUsageRow[]> {
    const store = await this.db();
    for (const [key, value] of Object.entries({ volumes: update.volumes, gigabytes: update.gigabytes })) {
      if (value === undefined) continue;
      if (!Number.isInteger(value))
        throw new CinderError('InvalidInput', `Invalid input received: ${key} must be an integer.`, key);
      if (value < -1) throw new CinderError('InvalidInput', `Invalid input received: ${key} must be >= -1.`, key);
    }
    for (const t of update.volume_types ?? []) {
      if (!(await store.getVolumeType(t)))
        throw new CinderError(
          'VolumeTypeNotFoundByName',
          `Volume type with name ${t} could not be found.`,
          'volume_type',
        );
    }
    const suffixes =
      update.volume_types && update.volume_types.length > 0 ? update.volume_types.map((t) => `_${t}`) : [''];
    const limits: Array<[string, number]> = [];
    for (const suffix of suffixes) {
      if (update.volumes !== undefined) limits.push([`volumes${suffix}`, update.volumes]);
      if (update.gigabytes !== undefined) limits.push([`gigabytes${suffix}`, update.gigabytes]);
    }
    if (!call.force) {
      const usage = new Map((await this.quotaUsage(projectId)).map((q) => [q.resource, q]));
      for (const [resource, limit] of limits) {
        const used = (usage.get(resource)?.in_use ?? 0) + (usage.get(resource)?.reserved ?? 0);
        if (limit !== -1 && limit < used) {
          throw new CinderError(
            'InvalidInput',
            `Quota ${resource} limit must be equal or greater than existing resources. Current usage is ${used} and the requested limit is ${limit}.`,
            resource.startsWith('gigabytes') ? 'gigabytes' : 'volumes',
          );
        }
      }
    }
    for (const [resource, limit] of limits) await store.setQuotaLimit(projectId, resource, limit);
    return this.quotaUsage(projectId);
  }

  async getVolume(id: string): Promise<Volume | null> {
    return (await this.db()).getVolume(id);
  }

  async listVolumes(filter: VolumeListFilter = {}): Promise<Volume[]> {
    return (await this.db()).listVolumes({
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.backend ? { host: filter.backend } : {}),
      ...(filter.project_id ? { project_id: filter.project_id } : {}),
      ...(filter.all || filter.status === 'deleted' ? {} : { hide_deleted: true }),
    });
  }

  /** Every pool with its stats and whether its volume service is up. */
  async listBackends(now: Date = new Date()): Promise<BackendInfo[]> {
    const pools = await (await this.db()).listPools();
    return pools.map((p) => backendInfo(p, now, this.options.serviceDownTimeS ?? 60));
  }

  /** The create's attempts from its workflow history (no worker needed). Throws VolumeNotFound. */
  async history(volumeId: string): Promise<VolumeHistory> {
    try {
      return await volumeHistory(this.client, volumeId, undefined, (await this.ownerOf(volumeId)) ?? undefined);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new VolumeNotFound(volumeId);
      throw err;
    }
  }
}

export function backendInfo(p: PoolRow, now: Date, serviceDownTimeS: number): BackendInfo {
  const { thick_provisioning_support: _thick, capabilities: _caps, ...shown } = p;
  const age = Math.max(0, (now.getTime() - Date.parse(p.updated_at)) / 1000);
  return {
    ...shown,
    pool: splitBackendId(p.backend_id).pool,
    state: age <= serviceDownTimeS ? 'up' : 'down',
    heartbeat_age_s: Math.round(age * 10) / 10,
  };
}
