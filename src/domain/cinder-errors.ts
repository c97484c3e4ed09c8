/**
 * Cinder's exception names, used as Temporal failure types so the UI and clients see them as Cinder
 * operators know them. Pure constants: safe to import from workflow code.
 */

/** Failures after which the create must never be rescheduled (cinder-spec §4): the union of the
 *  Cinder release the design notes describe and current Cinder. Why: the volume already exists on
 *  this backend (export, copy and metadata failures after the create), or no other backend can help.
 *  Any other failure, Cinder's or not, is rescheduled: the list is a denylist. */
export const NO_RESCHEDULE_TYPES = [
  // In both lists.
  'ImageCopyFailure',
  'MetadataCopyFailure',
  'MetadataUpdateFailure',
  'VolumeNotFound',
  'SnapshotNotFound',
  'VolumeTypeNotFound',
  'ImageUnacceptable',
  'ImageTooBig',
  // Only in the design notes' release (its OnFailureRescheduleTask lists ExportFailure first).
  'ExportFailure',
  'MetadataCreateFailure',
  // Only in current Cinder.
  'ImageConversionNotAllowed',
  'InvalidSignatureImage',
  'ImageSignatureVerificationException',
] as const;
export type NoRescheduleType = (typeof NO_RESCHEDULE_TYPES)[number];

/** The types added to the list after creates were already running: a workflow honours them only
 *  behind patched(NO_RESCHEDULE_UNION_PATCH), so a create that was rescheduled on one replays so. */
export const LATER_NO_RESCHEDULE_TYPES: readonly string[] = ['ExportFailure', 'MetadataCreateFailure'];
export const NO_RESCHEDULE_UNION_PATCH = 'no-reschedule-union-export-metadata-create';

/** Failures a backend raises that another backend may not hit: reschedule. */
export const RESCHEDULABLE_TYPES = [
  'VolumeBackendAPIException',
  'VolumeDriverException',
  'BackendUnavailable',
] as const;

/** Failures of the request itself, raised by the API flow before anything is created. */
export const REQUEST_ERROR_TYPES = [
  'InvalidInput',
  'InvalidVolumeType',
  'InvalidAvailabilityZone',
  'QuotaError',
  'ImageNotFound',
  'VolumeLimitExceeded',
] as const;

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

/** A name a fault rule may raise: Cinder's or any other (a driver bug, a library's exception), as
 *  long as it is an identifier. */
export const ERROR_NAME = /^[A-Za-z_][A-Za-z0-9_.]{0,99}$/;

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
