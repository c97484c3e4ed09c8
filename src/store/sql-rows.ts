/**
 * The volume database's rows as both databases return them (better-sqlite3, and pg with BIGINT read
 * as a number), one interface and one mapper per table, and the encodings of values SQL has no type
 * for: capacities that may be 'infinite' or 'unknown', canonical timestamps.
 */
import type { Image, Snapshot, Volume, VolumeSource, VolumeType } from '../domain/volume';
import type { FaultOp, FaultRule } from '../domain/faults';
import type { BackendState } from '../domain/pools';
import type { CapacityClaim, PoolRow, VolumeEvent } from './volume-store';

export type Capacity = number | 'infinite' | 'unknown';

/** A volume row as stored: the volume with its source and metadata as JSON text. */
export type VolumeRecord = Omit<Volume, 'source' | 'metadata'> & { source: string; metadata: string };

export interface PoolRecord {
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

export interface ClaimRecord extends CapacityClaim {
  released_at: string | null;
}

export interface EventRecord extends Omit<VolumeEvent, 'payload'> {
  payload: string;
}

export interface FaultRuleRecord {
  id: number;
  host: string;
  op: FaultOp;
  action: FaultRule['action'];
  error_type: string | null;
  remaining: number | null;
  probability: number | null;
  delay_ms: number | null;
  volume_name: string | null;
  stage: FaultRule['stage'];
}

export interface VolumeTypeRecord {
  name: string;
  extra_specs: string;
}

export function toVolume(r: VolumeRecord): Volume {
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
    owner: r.owner ?? null,
    request_id: r.request_id,
    error_reason: r.error_reason,
    created_at: r.created_at,
    updated_at: r.updated_at,
    scheduled_at: r.scheduled_at,
    launched_at: r.launched_at,
    deleted_at: r.deleted_at ?? null,
  };
}

export function toPool(r: PoolRecord): PoolRow {
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
export function toBackendState(row: PoolRow): BackendState {
  const { host: _host, updated_at: _updatedAt, ...backend } = row;
  return backend;
}

export function toClaim(r: ClaimRecord): CapacityClaim {
  return {
    volume_id: r.volume_id,
    attempt: r.attempt,
    backend_id: r.backend_id,
    size_gb: r.size_gb,
    status: r.status,
    created_at: r.created_at,
  };
}

export function toEvent(r: EventRecord): VolumeEvent {
  return {
    id: r.id,
    event_type: r.event_type,
    volume_id: r.volume_id,
    workflow_id: r.workflow_id,
    payload: JSON.parse(r.payload) as Record<string, unknown>,
    created_at: r.created_at,
  };
}

export function toFaultRule(r: FaultRuleRecord): FaultRule {
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
    stage: r.stage ?? null,
  };
}

export function toVolumeType(r: VolumeTypeRecord): VolumeType {
  return { name: r.name, extra_specs: JSON.parse(r.extra_specs) as Record<string, string> };
}

export function toSnapshot(r: Snapshot): Snapshot {
  return { id: r.id, volume_id: r.volume_id, size: r.size, host: r.host, status: r.status };
}

export function toImage(r: Image): Image {
  return { id: r.id, name: r.name, size_gb: r.size_gb, disk_format: r.disk_format, status: r.status, path: r.path };
}

/** Capacities are TEXT so 'infinite' / 'unknown' and every double survive (String(n) round-trips). */
export function encodeCapacity(value: Capacity): string {
  return String(value);
}

export function decodeCapacity(text: string): Capacity {
  return text === 'infinite' || text === 'unknown' ? text : Number(text);
}

/** Liveness compares timestamps as text, which is only sound in one canonical ISO form. */
export function canonicalTime(time: string): string {
  const d = new Date(time);
  if (Number.isNaN(d.getTime())) throw new Error(`invalid timestamp: ${JSON.stringify(time)}`);
  return d.toISOString();
}
