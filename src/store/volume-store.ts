import type { BackendState, PoolStatsReport } from '../domain/pools';
import type {
  CreateVolumeRequest,
  Image,
  Snapshot,
  Volume,
  VolumeSource,
  VolumeStatus,
  VolumeType,
} from '../domain/volume';
import type { FaultRule, FaultOp } from '../domain/faults';

export type { PoolStatsReport } from '../domain/pools';

/** What a volume service says about itself with its stats report. */
export interface ServiceReport {
  /** The service consults fault rules (fault_injection on in its configuration). */
  fault_injection: boolean;
}

/** A pool row: the latest stats plus the heartbeat of the volume service that reported them. */
export interface PoolRow extends BackendState {
  /** host@backend (the volume service). */
  host: string;
  /** ISO time of the last report: the service's heartbeat. */
  updated_at: string;
}

/** Capacity held by one scheduling attempt of one volume on one pool. */
export interface CapacityClaim {
  volume_id: string;
  /** 1-based scheduling attempt (retry.num_attempts, or 1 when rescheduling is off). */
  attempt: number;
  backend_id: string;
  size_gb: number;
  status: 'active' | 'released';
  created_at: string;
}

/** What the scheduler chose inside the claim transaction: the pure core's answer. */
export interface ClaimChoice {
  /** The chosen pool after consumeFromVolume: its allocated/provisioned/free are written back. */
  backend: BackendState;
}

/** What claimCapacity is asked: the volume's scheduling attempt, its size, which pools count as live
 *  (updated at or after liveSince), the time to record, and the scheduler's choice. */
export interface ClaimCapacityArgs {
  volumeId: string;
  attempt: number;
  sizeGb: number;
  /** The creating workflow's first run id (see createVolume). */
  owner?: string;
  liveSince: string;
  now: string;
  /** Pure and synchronous: called inside the claim transaction with the live pools. */
  choose: (pools: BackendState[]) => ClaimChoice;
}

export interface ClaimResult {
  claim: CapacityClaim;
  /** True when the claim for this (volume, attempt) already existed: a retried activity. */
  existing: boolean;
}

export interface VolumeEvent {
  id: number;
  event_type: string;
  volume_id: string | null;
  workflow_id: string | null;
  payload: Record<string, unknown>;
  created_at: string;
}

export type QuotaResource = string; // 'volumes', 'gigabytes', 'volumes_<type>', 'gigabytes_<type>'

export interface QuotaUsage {
  resource: QuotaResource;
  /** -1: unlimited */
  limit: number;
  in_use: number;
  reserved: number;
}

export interface NewVolume {
  id: string;
  request: CreateVolumeRequest;
  volume_type: string;
  source: VolumeSource;
  workflow_id: string;
  /** The creating workflow's first run id; absent from creates started before owners. */
  owner?: string;
  now: string;
}

export interface VolumePatch {
  status?: VolumeStatus;
  host?: string | null;
  scheduled_at?: string | null;
  launched_at?: string | null;
  error_reason?: string | null;
  deleted_at?: string | null;
}

/** What conditionalUpdateVolume found: the row after the update, or as it was when its status was
 *  not one expected (updated false); volume null when there is no such row. */
export interface ConditionalUpdate {
  volume: Volume | null;
  updated: boolean;
}

export interface VolumeFilter {
  status?: VolumeStatus;
  /** Matches host@backend or host@backend#pool. */
  host?: string;
  project_id?: string;
  /** Leave out soft-deleted volumes (status 'deleted'). */
  hide_deleted?: boolean;
}

/**
 * The volume database (Cinder's DB): volumes, pools with stats and heartbeats, capacity claims,
 * quotas with reservations, events, reference data, fault rules. Every write is idempotent where a
 * retried activity may repeat it. Async so a networked database fits behind the same interface.
 */
export interface VolumeStore {
  close(): Promise<void>;

  // reference data
  getVolumeType(name: string): Promise<VolumeType | null>;
  listVolumeTypes(): Promise<VolumeType[]>;
  putVolumeType(type: VolumeType): Promise<void>;
  /** Zones any volume service has reported (live or not). */
  listAvailabilityZones(): Promise<string[]>;
  getSnapshot(id: string): Promise<Snapshot | null>;
  putSnapshot(snapshot: Snapshot): Promise<void>;
  getImage(id: string): Promise<Image | null>;
  putImage(image: Image): Promise<void>;

  // quotas: reservations keyed by volume id, so each transition is idempotent
  setQuotaLimit(projectId: string, resource: QuotaResource, limit: number): Promise<void>;
  /** Reserves every delta or none; throws CinderError('VolumeLimitExceeded' for volumes*, 'QuotaError'
   *  otherwise) naming the resource, its limit, usage and the request. Repeating it is a no-op. */
  reserveQuota(
    volumeId: string,
    projectId: string,
    deltas: Record<QuotaResource, number>,
    now: string,
    owner?: string,
  ): Promise<void>;
  commitQuota(volumeId: string, now: string, owner?: string): Promise<void>;
  /** Undoes a reservation not yet committed; a committed one is left alone (Cinder keeps an error
   *  volume's quota until it is deleted). */
  rollbackQuota(volumeId: string, now: string, owner?: string): Promise<void>;
  /** Gives back the quota of a volume's committed reservation (its delete): in use goes down by its
   *  deltas, once; false when there was nothing (left) to give back. */
  releaseQuota(volumeId: string, now: string): Promise<boolean>;
  /** Limit, in use and reserved of every resource with a default, a limit or a usage row, plus
   *  `resources` (e.g. each volume type's). Read from the project's usage rows, not summed. */
  getQuotaUsage(projectId: string, resources?: QuotaResource[]): Promise<QuotaUsage[]>;

  // volumes
  /** Inserts with status 'creating'; if the row exists and is the same owner's (a retried activity)
   *  returns it unchanged; another owner's row: CinderError('InvalidInput', already exists).
   *
   *  Owners: every call that takes `owner` acts only on rows of that owner. A row without one (made
   *  before owners) is taken over by the first owner that touches it while it is still 'creating';
   *  once settled it belongs to nobody new. Without `owner` (an activity scheduled before owners
   *  existed) the call acts as before. */
  createVolume(volume: NewVolume): Promise<Volume>;
  getVolume(id: string): Promise<Volume | null>;
  getVolumeByRequestId(projectId: string, requestId: string): Promise<Volume | null>;
  listVolumes(filter?: VolumeFilter): Promise<Volume[]>;
  /** Throws CinderError('VolumeNotFound') when there is no such row. */
  updateVolume(id: string, patch: VolumePatch, now: string, owner?: string): Promise<Volume>;
  /** Cinder's conditional_update: patches the row only if its status is one of expected (any status
   *  when expected is null), in one transaction. A delete acts on the row by volume id, whoever made it. */
  conditionalUpdateVolume(
    id: string,
    expected: readonly VolumeStatus[] | null,
    patch: VolumePatch,
    now: string,
  ): Promise<ConditionalUpdate>;
  /** Deletes the row (undo of the entry create); absent, or another owner's, is left alone. */
  destroyVolume(id: string, owner?: string): Promise<void>;

  // pools and capacity
  /** Object names (`volume-<id>`) of the active claims on each pool that no stats report has seen
   *  on disk yet: what the next report's driver should look for. */
  pendingClaimObjects(backendIds: string[]): Promise<Map<string, string[]>>;
  /** Upserts the pools of one volume service and refreshes its heartbeat. allocated_capacity_gb is
   *  the sum of active claims on the pool (kept by claim and release). An active claim whose object
   *  is in volume_names is marked seen on disk for good; one not seen yet is added to provisioned
   *  and taken off a numeric free, so a report never forgets an in-flight create. Reads only the
   *  claims not seen yet: the cost does not grow with the volumes. */
  reportPoolStats(host: string, pools: PoolStatsReport[], now: string, service?: ServiceReport): Promise<void>;
  /** Whether the volume service of host said, in its last stats report, that it injects faults;
   *  null when it never reported or did not say. */
  getServiceFaultInjection(host: string): Promise<boolean | null>;
  listPools(): Promise<PoolRow[]>;
  /** Atomically (one transaction, serialized across processes): if a claim for (volumeId, attempt)
   *  exists, return it; else pass the pools updated at or after liveSince to choose (pure, sync),
   *  insert an active claim on the chosen pool, write its consumed stats back, and set the volume's
   *  host and scheduled_at. choose may throw (NoValidBackend): nothing is written then. */
  claimCapacity(args: ClaimCapacityArgs): Promise<ClaimResult>;
  /** Gives back an active claim's capacity (allocated, provisioned, numeric free) and marks it
   *  released; releasing a released or missing claim is a no-op. Returns whether it released. */
  releaseCapacity(volumeId: string, attempt: number, now: string, owner?: string): Promise<boolean>;
  listClaims(volumeId?: string): Promise<CapacityClaim[]>;
  /** Gives back every active claim of the volume (its delete); returns how many it released. */
  releaseVolumeCapacity(volumeId: string, now: string): Promise<number>;

  // events (Cinder notifications)
  recordEvent(event: Omit<VolumeEvent, 'id'>): Promise<void>;
  listEvents(filter?: { volume_id?: string; event_type?: string }): Promise<VolumeEvent[]>;

  // fault injection rules (demo and test aid, per backend)
  addFaultRule(rule: Omit<FaultRule, 'id'>): Promise<FaultRule>;
  listFaultRules(host?: string): Promise<FaultRule[]>;
  /** Removes the rules (of host); returns how many it removed. */
  clearFaultRules(host?: string): Promise<number>;
  /** The first rule of host for op (and volume name, when the rule names one) that fires now:
   *  atomically decrements a counted rule; a probability rule fires when random < probability. */
  takeFault(host: string, op: FaultOp, volumeName: string | null): Promise<FaultRule | null>;
}
