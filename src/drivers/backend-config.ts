/** One volume backend's configuration (Cinder's per-backend section of cinder.conf), as a schema:
 *  the types are inferred from it, and every mistake names its setting path. */
import { resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { settingIssue, settingsObject } from '../domain/schema-errors';
import { setting } from '../domain/settings';

export const HOST_PATTERN = /^[^@#\s]+@[^@#\s]+$/;
export const DEFAULT_AVAILABILITY_ZONE = 'nova';
export const DEFAULT_STORAGE_PROTOCOL = 'file';
export const DEFAULT_VENDOR_NAME = 'cinder-temporal';
export const DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO = 20.0;

/** A configuration mistake; `setting` is the path of the offending setting. */
export class BackendConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
    this.name = 'BackendConfigError';
  }
}

const absent = (iss: { input?: unknown }) => iss.input === undefined || iss.input === null;
const NON_EMPTY = 'must be a non-empty string';
const nonEmpty = () =>
  z
    .string({ error: (iss) => (absent(iss) ? 'is required' : NON_EMPTY) })
    .refine((s) => s.trim() !== '', { error: NON_EMPTY });
const flag = () => z.boolean({ error: 'must be true or false' }).nullish();
const POSITIVE = 'must be a positive number';

const poolSchema = settingsObject(
  {
    name: setting(
      nonEmpty()
        .refine((n) => !n.includes('#'), { error: (iss) => `must not contain '#' (got '${String(iss.input)}')` })
        .refine((n) => !/\s/.test(n), { error: (iss) => `must not contain whitespace (got '${String(iss.input)}')` }),
      { help: "pool name: the part after '#' in `host@backend#pool`; required" },
    ),
    path: setting(nonEmpty(), {
      help: "directory holding the pool's volume files (created if missing), one per pool; required",
    }),
    total_capacity_gb: setting(z.number({ error: POSITIVE }).positive({ error: POSITIVE }), {
      help: 'capacity the pool reports, GiB; required',
    }),
    thin_provisioning: setting(flag(), { help: 'thin provisioning supported', default: 'true' }),
    thick_provisioning: setting(flag(), {
      help: 'thick provisioning supported (at least one of the two)',
      default: 'the opposite of `thin_provisioning`',
    }),
    reserved_percentage: setting(
      z
        .number({ error: 'must be a whole number from 0 to 100' })
        .int({ error: 'must be a whole number from 0 to 100' })
        .min(0, { error: 'must be a whole number from 0 to 100' })
        .max(100, { error: 'must be a whole number from 0 to 100' })
        .nullish(),
      { help: "Cinder's reserved_percentage: capacity kept free, whole percent 0..100", default: '0' },
    ),
    // Values below 1 are allowed on purpose: the CapacityFilter then fails the pool for thin requests.
    max_over_subscription_ratio: setting(z.number({ error: POSITIVE }).positive({ error: POSITIVE }).nullish(), {
      help: "Cinder's max_over_subscription_ratio for thin provisioning",
      default: String(DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO),
    }),
    availability_zone: setting(nonEmpty().nullish(), { help: "the pool's zone", default: "the backend's" }),
    capabilities: setting(
      z.record(z.string(), z.unknown(), { error: 'must be an object of capability names to values' }).nullish(),
      { help: 'extra capabilities the pool reports (matched by the CapabilitiesFilter against extra specs)' },
    ),
  },
  'must be an object',
).superRefine((p, ctx) => {
  if (p.thin_provisioning === false && p.thick_provisioning === false)
    ctx.addIssue({
      code: 'custom',
      path: ['thick_provisioning'],
      message: 'must be true when thin_provisioning is false (a pool supports at least one)',
    });
});

/** One backend: every optional setting filled in from its default (the pools' zone from the backend's). */
export const backendConfigSchema = settingsObject(
  {
    host: setting(
      nonEmpty().refine((h) => HOST_PATTERN.test(h), {
        error: (iss) =>
          `must look like 'host@backend' (no '#', no whitespace, exactly one '@'), got '${String(iss.input)}'`,
      }),
      { help: '`host@backend`: the volume service, served by exactly one volume worker; required' },
    ),
    volume_backend_name: setting(nonEmpty().nullish(), {
      help: "Cinder's volume_backend_name (matched by extra specs)",
      default: 'the part of `host` after `@`',
    }),
    availability_zone: setting(nonEmpty().nullish(), {
      help: "the backend's zone",
      default: `\`${DEFAULT_AVAILABILITY_ZONE}\``,
    }),
    storage_protocol: setting(nonEmpty().nullish(), {
      help: 'reported capability',
      default: `\`${DEFAULT_STORAGE_PROTOCOL}\``,
    }),
    vendor_name: setting(nonEmpty().nullish(), { help: 'reported capability', default: `\`${DEFAULT_VENDOR_NAME}\`` }),
    pools: setting(
      z
        .array(poolSchema, { error: (iss) => (absent(iss) ? 'is required' : 'must be a non-empty list') })
        .min(1, { error: 'must be a non-empty list' }),
      { help: "the backend's pools, at least one" },
    ),
  },
  'must be an object',
).transform((b) => {
  const zone = b.availability_zone ?? DEFAULT_AVAILABILITY_ZONE;
  return {
    host: b.host,
    volume_backend_name: b.volume_backend_name ?? b.host.slice(b.host.indexOf('@') + 1),
    availability_zone: zone,
    storage_protocol: b.storage_protocol ?? DEFAULT_STORAGE_PROTOCOL,
    vendor_name: b.vendor_name ?? DEFAULT_VENDOR_NAME,
    pools: b.pools.map((p) => {
      const thin = p.thin_provisioning ?? true;
      return {
        name: p.name,
        path: p.path,
        total_capacity_gb: p.total_capacity_gb,
        thin_provisioning: thin,
        thick_provisioning: p.thick_provisioning ?? !thin,
        reserved_percentage: p.reserved_percentage ?? 0,
        max_over_subscription_ratio: p.max_over_subscription_ratio ?? DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO,
        availability_zone: p.availability_zone ?? zone,
        capabilities: { ...p.capabilities },
      };
    }),
  };
});

/** A backend as written in the configuration (optional settings may be left out). */
export type BackendConfig = z.input<typeof backendConfigSchema>;
export type PoolConfig = BackendConfig['pools'][number];
/** A backend with every default filled in (what parseBackendConfig returns). */
export type ResolvedBackendConfig = z.output<typeof backendConfigSchema>;
/** A pool with every default filled in. */
export type ResolvedPoolConfig = ResolvedBackendConfig['pools'][number];

function fail(setting: string, problem: string): never {
  throw new BackendConfigError(setting, `${setting} ${problem}`);
}

/**
 * Validates one backend's configuration and fills in the defaults. `where` is the setting path of
 * the backend (e.g. `backends[1]`), so errors read `backends[1].pools[0].total_capacity_gb must be a
 * positive number`. Throws BackendConfigError.
 */
export function parseBackendConfig(raw: unknown, where = 'backend'): ResolvedBackendConfig {
  const r = backendConfigSchema.safeParse(raw);
  if (!r.success) {
    const { setting, problem } = settingIssue(r.error, where);
    fail(setting, problem);
  }
  checkPools(r.data, where);
  return r.data;
}

/** What one pool's schema cannot see: a name or a directory used twice in a backend (two pools on
 *  one directory would each count the other's volumes). */
function checkPools(config: ResolvedBackendConfig, where: string): void {
  const names = new Map<string, number>();
  const paths = new Map<string, number>();
  config.pools.forEach((pool, i) => {
    const at = `${where}.pools[${i}]`;
    const sameName = names.get(pool.name);
    if (sameName !== undefined) fail(`${at}.name`, `'${pool.name}' is already used by ${where}.pools[${sameName}]`);
    names.set(pool.name, i);
    const dir = resolvePath(pool.path);
    const samePath = paths.get(dir);
    if (samePath !== undefined) fail(`${at}.path`, `'${pool.path}' is already used by ${where}.pools[${samePath}]`);
    paths.set(dir, i);
  });
}

/** Backends the schema has checked one by one (the configuration's), checked as a list: pools and
 *  hosts each used once. */
export function checkBackendList(backends: ResolvedBackendConfig[], where = 'backends'): ResolvedBackendConfig[] {
  const hosts = new Map<string, number>();
  backends.forEach((config, i) => {
    checkPools(config, `${where}[${i}]`);
    const same = hosts.get(config.host);
    if (same !== undefined) fail(`${where}[${i}].host`, `'${config.host}' is already used by ${where}[${same}]`);
    hosts.set(config.host, i);
  });
  return backends;
}

/** Validates a list of backends (`backends[i]`), each host served once. */
export function parseBackendConfigs(raw: unknown, where = 'backends'): ResolvedBackendConfig[] {
  if (!Array.isArray(raw)) fail(where, 'must be a list of backends');
  return checkBackendList(
    raw.map((b: unknown, i: number) => parseBackendConfig(b, `${where}[${i}]`)),
    where,
  );
}
