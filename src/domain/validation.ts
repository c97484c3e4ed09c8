import { CinderError } from './cinder-errors';
import type { CreateVolumeRequest, VolumeSource } from './volume';

/** Limits on a create request; operators may tighten them. */
export interface RequestLimits {
  /** Largest volume in GiB (Cinder's per-volume gigabytes quota). */
  maxSizeGb: number;
  maxMetadataItems: number;
  /** Cinder limits metadata keys and values to 255 characters. */
  maxMetadataLength: number;
  maxNameLength: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxSizeGb: 1000,
  maxMetadataItems: 128,
  maxMetadataLength: 255,
  maxNameLength: 255,
};

const UUIDISH = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function invalid(field: string, message: string): never {
  throw new CinderError('InvalidInput', `Invalid input for field '${field}': ${message}`, field);
}

function optionalString(req: Record<string, unknown>, field: string, maxLength: number): void {
  const v = req[field];
  if (v === undefined || v === null) return;
  if (typeof v !== 'string') invalid(field, `must be a string, got ${typeof v}`);
  if (v.length > maxLength) invalid(field, `must be at most ${maxLength} characters`);
}

function optionalId(req: Record<string, unknown>, field: string): void {
  const v = req[field];
  if (v === undefined || v === null) return;
  if (typeof v !== 'string' || !UUIDISH.test(v)) invalid(field, 'must be an id of letters, digits, ".", "_" or "-"');
}

/**
 * The request-shape half of Cinder's ExtractVolumeRequestTask: everything that can be checked
 * without the database. Throws CinderError('InvalidInput') naming the field.
 */
export function validateCreateRequest(request: unknown, limits: RequestLimits = DEFAULT_REQUEST_LIMITS): CreateVolumeRequest {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    invalid('request', 'must be an object');
  }
  const req = request as Record<string, unknown>;
  const known = new Set([
    'volume_id', 'request_id', 'project_id', 'size', 'name', 'description', 'volume_type',
    'availability_zone', 'snapshot_id', 'source_volid', 'image_id', 'metadata',
  ]);
  for (const key of Object.keys(req)) if (!known.has(key)) invalid(key, 'is not a known field');

  if (req.volume_id === undefined) invalid('volume_id', 'is required');
  optionalId(req, 'volume_id');
  optionalId(req, 'request_id');
  if (req.project_id === undefined) invalid('project_id', 'is required');
  optionalId(req, 'project_id');

  const size = req.size;
  if (size === undefined || size === null) invalid('size', 'is required');
  if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0) {
    invalid('size', `must be a positive whole number of GiB, got ${JSON.stringify(size)}`);
  }
  if (size > limits.maxSizeGb) invalid('size', `${size} GiB exceeds the maximum of ${limits.maxSizeGb} GiB`);

  optionalString(req, 'name', limits.maxNameLength);
  optionalString(req, 'description', limits.maxNameLength);
  optionalString(req, 'volume_type', limits.maxNameLength);
  optionalString(req, 'availability_zone', limits.maxNameLength);
  optionalId(req, 'snapshot_id');
  optionalId(req, 'source_volid');
  optionalId(req, 'image_id');
  const sources = ['snapshot_id', 'source_volid', 'image_id'].filter((f) => req[f] !== undefined && req[f] !== null);
  if (sources.length > 1) invalid(sources[1], `cannot be combined with ${sources[0]}: give at most one source`);

  if (req.metadata !== undefined && req.metadata !== null) {
    const md = req.metadata;
    if (typeof md !== 'object' || Array.isArray(md)) invalid('metadata', 'must be an object of string keys and values');
    const entries = Object.entries(md as Record<string, unknown>);
    if (entries.length > limits.maxMetadataItems) {
      invalid('metadata', `has ${entries.length} items, more than the limit of ${limits.maxMetadataItems}`);
    }
    for (const [k, v] of entries) {
      if (k.length === 0 || k.length > limits.maxMetadataLength) {
        invalid(`metadata.${k}`, `key must be 1 to ${limits.maxMetadataLength} characters`);
      }
      if (typeof v !== 'string') invalid(`metadata.${k}`, 'value must be a string');
      if (v.length > limits.maxMetadataLength) invalid(`metadata.${k}`, `value must be at most ${limits.maxMetadataLength} characters`);
    }
  }
  return req as unknown as CreateVolumeRequest;
}

/** Which kind of create this is (Cinder's ExtractVolumeSpecTask). */
export function volumeSourceOf(req: CreateVolumeRequest): VolumeSource {
  if (req.snapshot_id) return { type: 'snap', snapshot_id: req.snapshot_id };
  if (req.source_volid) return { type: 'source_vol', source_volid: req.source_volid };
  if (req.image_id) return { type: 'image', image_id: req.image_id };
  return { type: 'raw' };
}
