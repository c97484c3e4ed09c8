import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { DEFAULT_CREATE_OPTIONS, resolveCreateOptions, type CreateOptions } from '../domain/create-options';
import { DEFAULT_REQUEST_LIMITS, type RequestLimits } from '../domain/validation';
import type { VolumeType } from '../domain/volume';
import { BackendConfigError, parseBackendConfigs, type ResolvedBackendConfig } from '../drivers/backend-config';
import { demoBackends, DEMO_VOLUME_TYPES } from './demo-defaults';

/** Everything a worker or the CLI needs, after defaults, the config file and the environment. */
export interface AppConfig {
  temporal: {
    address: string;
    namespace: string;
    /** mTLS client certificate and key (Temporal Cloud, self-hosted with TLS). */
    tls?: { client_cert_path?: string; client_key_path?: string; server_ca_cert_path?: string; server_name?: string };
    api_key?: string;
  };
  /** `sqlite:<path>` (default) or a PostgreSQL URL. */
  database_url: string;
  /** Where local state lives: the dev server's db, the default SQLite file, demo pools. */
  data_dir: string;
  scheduler_task_queue: string;
  /** Defaults for every create (Cinder's scheduler options and our timeouts). */
  create_defaults: CreateOptions;
  request_limits: RequestLimits;
  /** How often a volume worker reports pool stats and its heartbeat. */
  stats_interval_ms: number;
  backends: ResolvedBackendConfig[];
  volume_types: VolumeType[];
  /** Prebuilt workflow bundle (bundleWorkflowCode); absent: bundle at start. */
  workflow_bundle_path?: string;
  /** How long in-flight activities may run after SIGTERM. */
  shutdown_grace_ms: number;
  log_level: string;
  /** Which file the config came from, if any. */
  config_file?: string;
}

export class ConfigError extends Error {
  constructor(readonly setting: string, message: string) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

type Parser = (raw: string, name: string) => unknown;
const str: Parser = (raw) => raw;
const int: Parser = (raw, name) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(name, `must be a whole number >= 0, got '${raw}'`);
  return n;
};
const bool: Parser = (raw, name) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got '${raw}'`);
};

/** Every environment variable the configuration reads, and the setting it sets. The docker files
 *  are checked against this list, so a variable they set is one that is read. */
export const ENV_SETTINGS: Readonly<Record<string, { setting: string; parse: Parser; doc: string }>> = {
  TEMPORAL_ADDRESS: { setting: 'temporal.address', parse: str, doc: 'host:port of the Temporal frontend (default 127.0.0.1:7233)' },
  TEMPORAL_NAMESPACE: { setting: 'temporal.namespace', parse: str, doc: 'namespace (default "default")' },
  TEMPORAL_TLS_CLIENT_CERT_PATH: { setting: 'temporal.tls.client_cert_path', parse: str, doc: 'mTLS client certificate (PEM)' },
  TEMPORAL_TLS_CLIENT_KEY_PATH: { setting: 'temporal.tls.client_key_path', parse: str, doc: 'mTLS client key (PEM)' },
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: { setting: 'temporal.tls.server_ca_cert_path', parse: str, doc: 'CA that signed the server certificate' },
  TEMPORAL_TLS_SERVER_NAME: { setting: 'temporal.tls.server_name', parse: str, doc: 'server name to verify (SNI)' },
  TEMPORAL_API_KEY: { setting: 'temporal.api_key', parse: str, doc: 'API key (Temporal Cloud); implies TLS' },
  CINDER_DATABASE_URL: { setting: 'database_url', parse: str, doc: 'volume database: sqlite:<path> or postgres://...' },
  CINDER_DATA_DIR: { setting: 'data_dir', parse: str, doc: 'local state folder (default .data)' },
  CINDER_SCHEDULER_TASK_QUEUE: { setting: 'scheduler_task_queue', parse: str, doc: 'task queue of the scheduler pool (default cinder-scheduler)' },
  CINDER_SCHEDULER_MAX_ATTEMPTS: { setting: 'create_defaults.scheduler_max_attempts', parse: int, doc: "Cinder's scheduler_max_attempts (default 3; 1 disables rescheduling)" },
  CINDER_IGNORE_ATTEMPTED_HOSTS: { setting: 'create_defaults.ignore_attempted_hosts', parse: bool, doc: 'IgnoreAttemptedHostsFilter on (default true; stock Cinder: false)' },
  CINDER_SERVICE_DOWN_TIME: { setting: 'create_defaults.service_down_time_s', parse: int, doc: 'seconds after which a silent volume service is down (default 60)' },
  CINDER_BACKEND_SCHEDULE_TO_START_MS: { setting: 'create_defaults.backend_schedule_to_start_timeout_ms', parse: int, doc: 'how long a create waits for a backend worker (default 60000)' },
  CINDER_STATS_INTERVAL_MS: { setting: 'stats_interval_ms', parse: int, doc: 'pool stats report interval (default 10000)' },
  CINDER_WORKFLOW_BUNDLE: { setting: 'workflow_bundle_path', parse: str, doc: 'prebuilt workflow bundle (npm run build:bundle)' },
  CINDER_SHUTDOWN_GRACE_MS: { setting: 'shutdown_grace_ms', parse: int, doc: 'grace time for in-flight activities on SIGTERM (default 30000)' },
  CINDER_LOG_LEVEL: { setting: 'log_level', parse: str, doc: 'pino level (default info)' },
};

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (typeof node[part] !== 'object' || node[part] === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

function readFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('CINDER_CONFIG', `cannot read ${file}: ${(err as Error).message}`);
  }
  const parsed: unknown = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(file, 'must be a mapping of settings');
  return parsed as Record<string, unknown>;
}

const KNOWN_KEYS = new Set([
  'temporal', 'database_url', 'data_dir', 'scheduler_task_queue', 'create_defaults', 'request_limits',
  'stats_interval_ms', 'backends', 'volume_types', 'workflow_bundle_path', 'shutdown_grace_ms', 'log_level',
]);

/**
 * Loads the configuration: embedded defaults (a local demo with two file backends under data_dir),
 * then the file named by CINDER_CONFIG (YAML or JSON), then the environment. Every mistake names its
 * setting.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): AppConfig {
  const file = env.CINDER_CONFIG ? path.resolve(cwd, env.CINDER_CONFIG) : undefined;
  const raw: Record<string, unknown> = file ? readFile(file) : {};
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key)) throw new ConfigError(key, `is not a known setting (known: ${[...KNOWN_KEYS].join(', ')})`);
  }
  for (const [name, { setting, parse }] of Object.entries(ENV_SETTINGS)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(raw, setting, parse(value, name));
  }
  const dataDir = path.resolve(cwd, String(raw.data_dir ?? '.data'));
  const temporalRaw = (raw.temporal ?? {}) as AppConfig['temporal'];

  let createDefaults: CreateOptions;
  try {
    createDefaults = resolveCreateOptions(DEFAULT_CREATE_OPTIONS, raw.create_defaults);
  } catch (err) {
    throw new ConfigError('create_defaults', (err as Error).message.replace("field 'options.", "field '"));
  }
  let backends: ResolvedBackendConfig[];
  try {
    backends = raw.backends === undefined ? demoBackends(dataDir) : parseBackendConfigs(raw.backends, 'backends');
  } catch (err) {
    if (err instanceof BackendConfigError) throw new ConfigError(err.setting, err.message);
    throw err;
  }
  const num = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(key, 'must be a number >= 0');
    return v;
  };
  const volumeTypes = (raw.volume_types ?? DEMO_VOLUME_TYPES) as VolumeType[];
  if (!Array.isArray(volumeTypes) || volumeTypes.some((t) => typeof t?.name !== 'string')) {
    throw new ConfigError('volume_types', 'must be a list of { name, extra_specs }');
  }
  return {
    temporal: {
      address: temporalRaw.address ?? '127.0.0.1:7233',
      namespace: temporalRaw.namespace ?? 'default',
      ...(temporalRaw.tls ? { tls: temporalRaw.tls } : {}),
      ...(temporalRaw.api_key ? { api_key: temporalRaw.api_key } : {}),
    },
    database_url: String(raw.database_url ?? `sqlite:${path.join(dataDir, 'cinder.db')}`),
    data_dir: dataDir,
    scheduler_task_queue: String(raw.scheduler_task_queue ?? 'cinder-scheduler'),
    create_defaults: createDefaults,
    request_limits: { ...DEFAULT_REQUEST_LIMITS, ...((raw.request_limits ?? {}) as Partial<RequestLimits>) },
    stats_interval_ms: num('stats_interval_ms', 10_000),
    backends,
    volume_types: volumeTypes.map((t) => ({ name: t.name, extra_specs: t.extra_specs ?? {} })),
    ...(raw.workflow_bundle_path ? { workflow_bundle_path: path.resolve(cwd, String(raw.workflow_bundle_path)) } : {}),
    shutdown_grace_ms: num('shutdown_grace_ms', 30_000),
    log_level: String(raw.log_level ?? 'info'),
    ...(file ? { config_file: file } : {}),
  };
}
