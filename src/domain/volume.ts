/** Request and volume shapes. Wire data keeps Cinder's snake_case keys. */

/** Cinder's statuses of a volume row: the create's, then the delete's (`deleted` is a soft delete:
 *  the row stays, with deleted_at, and lists hide it). */
export type VolumeStatus = 'creating' | 'available' | 'error' | 'deleting' | 'error_deleting' | 'deleted';

/** The statuses Cinder deletes from without --force. */
export const DELETABLE_STATUSES: readonly VolumeStatus[] = ['available', 'error', 'error_deleting'];

/** Cinder's InvalidVolume text for a delete refused by status (cinder/volume/api.py delete). */
export function invalidVolumeForDelete(status: VolumeStatus): string {
  return (
    `Invalid volume: Volume status must be ${DELETABLE_STATUSES.join(' or ')} and must not be migrating, attached, belong to a group, ` +
    `have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer. (status: ${status}; --force deletes anyway)`
  );
}

/** The create request's type is inferred from its schema (validation.ts); a type-only export, so
 *  workflow code that imports it never loads zod. */
export type { CreateVolumeRequest } from './validation';

/** How the backend builds the volume (Cinder's ExtractVolumeSpecTask kinds). */
export type VolumeSource =
  | { type: 'raw' }
  | { type: 'snap'; snapshot_id: string }
  | { type: 'source_vol'; source_volid: string }
  | { type: 'image'; image_id: string };

/** A volume row in the volume database. */
export interface Volume {
  id: string;
  project_id: string;
  name: string | null;
  description: string | null;
  size: number;
  status: VolumeStatus;
  volume_type: string;
  availability_zone: string | null;
  /** host@backend#pool once scheduled. */
  host: string | null;
  source: VolumeSource;
  metadata: Record<string, string>;
  workflow_id: string | null;
  /** The create that owns the row: its workflow's first run id (null on rows made before owners). */
  owner?: string | null;
  request_id: string | null;
  error_reason: string | null;
  created_at: string;
  updated_at: string;
  scheduled_at: string | null;
  launched_at: string | null;
  /** When the delete finished (status `deleted`). */
  deleted_at: string | null;
}

export interface VolumeType {
  name: string;
  extra_specs: Record<string, string>;
}

export interface Snapshot {
  id: string;
  volume_id: string;
  size: number;
  /** host@backend#pool holding the snapshot. */
  host: string;
  status: 'available' | 'error';
}

export interface Image {
  id: string;
  name: string;
  /** Virtual size in GiB (what the volume must at least hold). */
  size_gb: number;
  disk_format: string;
  status: 'active' | 'queued' | 'deleted';
  /** Path of the image file (stand-in for Glance's store). */
  path: string;
}

/** 'host@backend#pool' → { host: 'host@backend', pool: 'pool' } (Cinder's extract_host). */
export function splitBackendId(backendId: string): { host: string; pool: string } {
  const i = backendId.indexOf('#');
  if (i < 0) return { host: backendId, pool: '_pool0' };
  return { host: backendId.slice(0, i), pool: backendId.slice(i + 1) };
}

/** The backend object name of a volume, as Cinder's volume_name_template does it. */
export function volumeObjectName(volumeId: string): string {
  return `volume-${volumeId}`;
}

/** Task queue of one backend's volume service: Cinder casts to the host's own topic. */
export function volumeTaskQueue(host: string): string {
  return `cinder-volume.${host}`;
}
