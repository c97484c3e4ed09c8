/** One volume backend's configuration (Cinder's per-backend section of cinder.conf), validated. */
import { resolve as resolvePath } from 'node:path';

export interface PoolConfig {
  /** Pool name: the part after '#' in host@backend#pool. */
  name: string;
  /** Directory holding the pool's volume files (created if missing). */
  path: string;
  total_capacity_gb: number;
  /** Default true. */
  thin_provisioning?: boolean;
  /** Default: the opposite of thin_provisioning. */
  thick_provisioning?: boolean;
  /** Whole percent 0..100, default 0. */
  reserved_percentage?: number;
  /** Default 20.0 (Cinder's default). */
  max_over_subscription_ratio?: number;
  /** Default: the backend's zone. */
  availability_zone?: string;
  /** Extra capabilities reported for the pool (matched by the CapabilitiesFilter). */
  capabilities?: Record<string, unknown>;
}

export interface BackendConfig {
  /** host@backend */
  host: string;
  /** Default: the part of host after '@'. */
  volume_backend_name?: string;
  /** Default 'nova'. */
  availability_zone?: string;
  /** Default 'file'. */
  storage_protocol?: string;
  /** Default 'cinder-temporal'. */
  vendor_name?: string;
  pools: PoolConfig[];
}

/** A pool with every default filled in. */
export type ResolvedPoolConfig = Required<PoolConfig>;

/** A backend with every default filled in (what parseBackendConfig returns). */
export interface ResolvedBackendConfig extends Required<Omit<BackendConfig, 'pools'>> {
  pools: ResolvedPoolConfig[];
}

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

export const HOST_PATTERN = /^[^@#\s]+@[^@#\s]+$/;
export const DEFAULT_AVAILABILITY_ZONE = 'nova';
export const DEFAULT_STORAGE_PROTOCOL = 'file';
export const DEFAULT_VENDOR_NAME = 'cinder-temporal';
export const DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO = 20.0;

const BACKEND_KEYS = new Set([
  'host',
  'volume_backend_name',
  'availability_zone',
  'storage_protocol',
  'vendor_name',
  'pools',
]);
const POOL_KEYS = new Set([
  'name',
  'path',
  'total_capacity_gb',
  'thin_provisioning',
  'thick_provisioning',
  'reserved_percentage',
  'max_over_subscription_ratio',
  'availability_zone',
  'capabilities',
]);

function fail(setting: string, problem: string): never {
  throw new BackendConfigError(setting, `${setting} ${problem}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function objectAt(v: unknown, setting: string, known: Set<string>): Record<string, unknown> {
  if (!isPlainObject(v)) fail(setting, 'must be an object');
  // Unknown keys are almost always typos of an optional setting that would otherwise silently default.
  for (const key of Object.keys(v)) {
    if (!known.has(key)) fail(`${setting}.${key}`, `is not a known setting (known: ${[...known].join(', ')})`);
  }
  return v;
}

function requiredString(o: Record<string, unknown>, key: string, at: string): string {
  const v = o[key];
  if (v === undefined || v === null) fail(`${at}.${key}`, 'is required');
  if (typeof v !== 'string' || v.trim() === '') fail(`${at}.${key}`, 'must be a non-empty string');
  return v;
}

function optionalString(o: Record<string, unknown>, key: string, at: string, dflt: string): string {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'string' || v.trim() === '') fail(`${at}.${key}`, 'must be a non-empty string');
  return v;
}

function optionalBoolean(o: Record<string, unknown>, key: string, at: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail(`${at}.${key}`, 'must be true or false');
  return v;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function parsePool(raw: unknown, at: string, backendZone: string): ResolvedPoolConfig {
  const o = objectAt(raw, at, POOL_KEYS);
  const name = requiredString(o, 'name', at);
  if (name.includes('#')) fail(`${at}.name`, `must not contain '#' (got '${name}')`);
  if (/\s/.test(name)) fail(`${at}.name`, `must not contain whitespace (got '${name}')`);
  const path = requiredString(o, 'path', at);

  const total = o.total_capacity_gb;
  if (!isFiniteNumber(total) || total <= 0) fail(`${at}.total_capacity_gb`, 'must be a positive number');

  const thin = optionalBoolean(o, 'thin_provisioning', at, true);
  const thick = optionalBoolean(o, 'thick_provisioning', at, !thin);
  if (!thin && !thick)
    fail(`${at}.thick_provisioning`, 'must be true when thin_provisioning is false (a pool supports at least one)');

  let reserved = 0;
  if (o.reserved_percentage !== undefined && o.reserved_percentage !== null) {
    const r = o.reserved_percentage;
    // Cinder's reserved_percentage is an integer option in 0..100.
    if (!isFiniteNumber(r) || !Number.isInteger(r) || r < 0 || r > 100) {
      fail(`${at}.reserved_percentage`, 'must be a whole number from 0 to 100');
    }
    reserved = r;
  }

  let ratio = DEFAULT_MAX_OVER_SUBSCRIPTION_RATIO;
  if (o.max_over_subscription_ratio !== undefined && o.max_over_subscription_ratio !== null) {
    const m = o.max_over_subscription_ratio;
    // Values below 1 are allowed on purpose: the CapacityFilter then fails the pool for thin requests.
    if (!isFiniteNumber(m) || m <= 0) fail(`${at}.max_over_subscription_ratio`, 'must be a positive number');
    ratio = m;
  }

  const zone = optionalString(o, 'availability_zone', at, backendZone);

  let capabilities: Record<string, unknown> = {};
  if (o.capabilities !== undefined && o.capabilities !== null) {
    if (!isPlainObject(o.capabilities)) fail(`${at}.capabilities`, 'must be an object of capability names to values');
    capabilities = { ...o.capabilities };
  }

  return {
    name,
    path,
    total_capacity_gb: total,
    thin_provisioning: thin,
    thick_provisioning: thick,
    reserved_percentage: reserved,
    max_over_subscription_ratio: ratio,
    availability_zone: zone,
    capabilities,
  };
}

/**
 * Validates one backend's configuration and fills in the defaults. `where` is the setting path of
 * the backend (e.g. `backends[1]`), so errors read `backends[1].pools[0].total_capacity_gb must be a
 * positive number`. Throws BackendConfigError.
 */
export function parseBackendConfig(raw: unknown, where = 'backend'): ResolvedBackendConfig {
  const o = objectAt(raw, where, BACKEND_KEYS);
  const host = requiredString(o, 'host', where);
  if (!HOST_PATTERN.test(host)) {
    fail(`${where}.host`, `must look like 'host@backend' (no '#', no whitespace, exactly one '@'), got '${host}'`);
  }
  const backendName = host.slice(host.indexOf('@') + 1);
  const volume_backend_name = optionalString(o, 'volume_backend_name', where, backendName);
  const availability_zone = optionalString(o, 'availability_zone', where, DEFAULT_AVAILABILITY_ZONE);
  const storage_protocol = optionalString(o, 'storage_protocol', where, DEFAULT_STORAGE_PROTOCOL);
  const vendor_name = optionalString(o, 'vendor_name', where, DEFAULT_VENDOR_NAME);

  if (o.pools === undefined || o.pools === null) fail(`${where}.pools`, 'is required');
  if (!Array.isArray(o.pools) || o.pools.length === 0) fail(`${where}.pools`, 'must be a non-empty list');

  const pools: ResolvedPoolConfig[] = [];
  const names = new Map<string, number>();
  const paths = new Map<string, number>();
  o.pools.forEach((p: unknown, i: number) => {
    const at = `${where}.pools[${i}]`;
    const pool = parsePool(p, at, availability_zone);
    const sameName = names.get(pool.name);
    if (sameName !== undefined) fail(`${at}.name`, `'${pool.name}' is already used by ${where}.pools[${sameName}]`);
    names.set(pool.name, i);
    // Two pools on one directory would each count the other's volumes.
    const samePath = paths.get(normalizeDir(pool.path));
    if (samePath !== undefined) fail(`${at}.path`, `'${pool.path}' is already used by ${where}.pools[${samePath}]`);
    paths.set(normalizeDir(pool.path), i);
    pools.push(pool);
  });

  return { host, volume_backend_name, availability_zone, storage_protocol, vendor_name, pools };
}

/** Validates a list of backends (`backends[i]`), each host served once. */
export function parseBackendConfigs(raw: unknown, where = 'backends'): ResolvedBackendConfig[] {
  if (!Array.isArray(raw)) fail(where, 'must be a list of backends');
  const hosts = new Map<string, number>();
  return raw.map((b: unknown, i: number) => {
    const config = parseBackendConfig(b, `${where}[${i}]`);
    const same = hosts.get(config.host);
    if (same !== undefined) fail(`${where}[${i}].host`, `'${config.host}' is already used by ${where}[${same}]`);
    hosts.set(config.host, i);
    return config;
  });
}

function normalizeDir(p: string): string {
  return resolvePath(p);
}
