/**
 * The request-shape half of Cinder's ExtractVolumeRequestTask, as one schema: everything that can be
 * checked without the database. Used by the client's check, the CLI and the API flow's first
 * activity alike. (Not imported by workflow code: the workflow's own shape check is zod-free.)
 */
import { z } from 'zod';
import { CinderError } from './cinder-errors';
import { mustBe, parseOrInvalid, requiredAs } from './schema-errors';
import { hasControlCharacter } from './text';
import type { VolumeSource } from './volume';

export const DEFAULT_REQUEST_LIMITS: RequestLimits = {
  maxSizeGb: 1000,
  maxMetadataItems: 128,
  maxMetadataLength: 255,
  maxNameLength: 255,
};

/** Limits on a create request (request_limits in the configuration); operators may tighten them. */
export const requestLimitsSchema = z.strictObject({
  /** Largest volume in GiB (Cinder's per-volume gigabytes quota). */
  maxSizeGb: z
    .number({ error: mustBe('a whole number >= 1') })
    .int({ error: mustBe('a whole number >= 1') })
    .min(1, { error: mustBe('a whole number >= 1') }),
  maxMetadataItems: z
    .number({ error: mustBe('a whole number >= 0') })
    .int({ error: mustBe('a whole number >= 0') })
    .min(0, { error: mustBe('a whole number >= 0') }),
  /** Cinder limits metadata keys and values to 255 characters. */
  maxMetadataLength: z
    .number({ error: mustBe('a whole number >= 1') })
    .int({ error: mustBe('a whole number >= 1') })
    .min(1, { error: mustBe('a whole number >= 1') }),
  maxNameLength: z
    .number({ error: mustBe('a whole number >= 1') })
    .int({ error: mustBe('a whole number >= 1') })
    .min(1, { error: mustBe('a whole number >= 1') }),
});

export type RequestLimits = z.output<typeof requestLimitsSchema>;

const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ID_TEXT = 'an id of letters, digits, ".", "_" or "-" (at most 64 characters)';

const id = () => z.string({ error: requiredAs(ID_TEXT) }).regex(ID, { error: mustBe(ID_TEXT) });
/** Optional fields take null as absent (Cinder's API does); the parsed request leaves them out. */
const optional = <T extends z.ZodType>(schema: T) =>
  schema
    .nullish()
    .transform((v) => v ?? undefined)
    .optional();

/** Text a person reads back: bounded, and without control characters (but tab/newline if allowed). */
function text(max: number, allowTabNewline = false) {
  const what = `a string of at most ${max} characters`;
  return z
    .string({ error: mustBe(what) })
    .max(max, { error: `must be at most ${max} characters` })
    .refine((s) => !hasControlCharacter(s, allowTabNewline), {
      error: allowTabNewline
        ? 'must not contain control characters other than tab and newline'
        : 'must not contain control characters',
    });
}

function metadataSchema(limits: RequestLimits) {
  const max = limits.maxMetadataLength;
  return z
    .record(z.string(), z.unknown(), { error: mustBe('an object of string keys and values') })
    .superRefine((md, ctx) => {
      const entries = Object.entries(md);
      if (entries.length > limits.maxMetadataItems) {
        ctx.addIssue({
          code: 'custom',
          message: `has ${entries.length} items, more than the limit of ${limits.maxMetadataItems}`,
        });
        return;
      }
      for (const [k, v] of entries) {
        const fail = (message: string) => ctx.addIssue({ code: 'custom', path: [k], message });
        if (k.length === 0 || k.length > max) fail(`key must be 1 to ${max} characters`);
        else if (hasControlCharacter(k)) fail('key must not contain control characters');
        else if (typeof v !== 'string') fail('value must be a string');
        else if (v.length > max) fail(`value must be at most ${max} characters`);
        else if (hasControlCharacter(v, true))
          fail('value must not contain control characters other than tab and newline');
        else continue;
        return;
      }
    })
    .transform((md) => md as Record<string, string>); // every value was checked to be a string above
}

const SOURCE_FIELDS = ['snapshot_id', 'source_volid', 'image_id'] as const;

function buildRequestSchema(limits: RequestLimits) {
  const sizeText = 'a positive whole number of GiB';
  return z
    .strictObject(
      {
        volume_id: id(),
        request_id: optional(id()),
        project_id: id(),
        size: z
          .number({ error: requiredAs(sizeText) })
          .int({ error: mustBe(sizeText) })
          .positive({ error: mustBe(sizeText) })
          .max(limits.maxSizeGb, {
            error: (iss) => `${String(iss.input)} GiB exceeds the maximum of ${limits.maxSizeGb} GiB`,
          }),
        name: optional(text(limits.maxNameLength)),
        description: optional(text(limits.maxNameLength, true)),
        volume_type: optional(text(limits.maxNameLength)),
        availability_zone: optional(text(limits.maxNameLength)),
        snapshot_id: optional(id()),
        source_volid: optional(id()),
        image_id: optional(id()),
        metadata: optional(metadataSchema(limits)),
      },
      { error: (iss) => (iss.code === 'invalid_type' ? 'must be an object' : undefined) },
    )
    .superRefine((req, ctx) => {
      const given = SOURCE_FIELDS.filter((f) => req[f] !== undefined);
      if (given.length > 1) {
        ctx.addIssue({
          code: 'custom',
          path: [given[1]],
          message: `cannot be combined with ${given[0]}: give at most one source`,
        });
      }
    })
    .transform((req) => Object.fromEntries(Object.entries(req).filter(([, v]) => v !== undefined)) as typeof req);
}

/** What a user asks for: Cinder's create-volume request body, plus the ids the client assigns
 *  (volume_id before the workflow starts: its id is `create-volume-<volume_id>`; request_id is the
 *  caller's idempotency key: one request id, one volume). Absent optional fields are left out. */
export type CreateVolumeRequest = z.output<ReturnType<typeof buildRequestSchema>>;

const schemas = new WeakMap<RequestLimits, ReturnType<typeof buildRequestSchema>>();

/** The request schema for these limits (built once per limits object). */
export function createRequestSchema(limits: RequestLimits = DEFAULT_REQUEST_LIMITS) {
  let s = schemas.get(limits);
  if (!s) schemas.set(limits, (s = buildRequestSchema(limits)));
  return s;
}

/**
 * Checks a create request's shape and returns it without absent/null optional fields. Throws
 * CinderError('InvalidInput') naming the field: `Invalid input for field 'size': ...`.
 */
export function validateCreateRequest(
  request: unknown,
  limits: RequestLimits = DEFAULT_REQUEST_LIMITS,
): CreateVolumeRequest {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new CinderError('InvalidInput', "Invalid input for field 'request': must be an object", 'request');
  }
  return parseOrInvalid(createRequestSchema(limits), request, '');
}

/** Which kind of create this is (Cinder's ExtractVolumeSpecTask). */
export function volumeSourceOf(req: CreateVolumeRequest): VolumeSource {
  if (req.snapshot_id) return { type: 'snap', snapshot_id: req.snapshot_id };
  if (req.source_volid) return { type: 'source_vol', source_volid: req.source_volid };
  if (req.image_id) return { type: 'image', image_id: req.image_id };
  return { type: 'raw' };
}
