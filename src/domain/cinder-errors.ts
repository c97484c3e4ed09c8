/**
 * Cinder's exception names, used as Temporal failure types so the UI and clients see them as Cinder
 * operators know them. Pure constants: safe to import from workflow code.
 */

/** Failures after which the create must never be rescheduled (cinder-spec §4). Why: the volume
 *  already exists on this backend (copy failures after create), or no other backend can help. */
export const NO_RESCHEDULE_TYPES = [
  'ImageCopyFailure',
  'MetadataCopyFailure',
  'MetadataUpdateFailure',
  'VolumeNotFound',
  'SnapshotNotFound',
  'VolumeTypeNotFound',
  'ImageConversionNotAllowed',
  'ImageUnacceptable',
  'ImageTooBig',
  'InvalidSignatureImage',
  'ImageSignatureVerificationException',
] as const;
export type NoRescheduleType = (typeof NO_RESCHEDULE_TYPES)[number];

/** Failures a backend raises that another backend may not hit: reschedule. */
export const RESCHEDULABLE_TYPES = ['VolumeBackendAPIException', 'VolumeDriverException', 'BackendUnavailable'] as const;

/** Failures of the request itself, raised by the API flow before anything is created. */
export const REQUEST_ERROR_TYPES = ['InvalidInput', 'InvalidVolumeType', 'InvalidAvailabilityZone', 'QuotaError', 'ImageNotFound', 'VolumeLimitExceeded'] as const;

/** The scheduler's failure when no pool can take the request. */
export const NO_VALID_BACKEND = 'NoValidBackend';

/** Every Cinder exception name this project raises as a failure type. */
export const CINDER_ERROR_TYPES: readonly string[] = [
  ...NO_RESCHEDULE_TYPES,
  ...RESCHEDULABLE_TYPES,
  ...REQUEST_ERROR_TYPES,
  NO_VALID_BACKEND,
];

export function isNoRescheduleType(type: string | undefined | null): type is NoRescheduleType {
  return !!type && (NO_RESCHEDULE_TYPES as readonly string[]).includes(type);
}

/**
 * An error carrying a Cinder exception name. Activities convert it to an ApplicationFailure whose
 * `type` is `cinderType`; plain code (drivers, store, validation) throws it without Temporal imports.
 */
export class CinderError extends Error {
  constructor(
    readonly cinderType: string,
    message: string,
    /** The request field at fault, for request errors. */
    readonly field?: string,
  ) {
    super(message);
    this.name = cinderType;
  }
}
