import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { DEFAULT_CREATE_OPTIONS, resolveCreateOptions, type CreateOptions } from '../domain/create-options';
import { parseOrInvalid } from '../domain/schema-errors';
import { DEFAULT_REQUEST_LIMITS, requestLimitsSchema, type RequestLimits } from '../domain/validation';
import type { VolumeType } from '../domain/volume';
import { BackendConfigError, parseBackendConfigs, type ResolvedBackendConfig } from '../drivers/backend-config';
import { demoBackends, DEMO_VOLUME_TYPES } from './demo-defaults';
import { loadTemporalSettings, TemporalSettingError, type TemporalSettings } from './temporal-config';

/** Everything a worker or the CLI needs, after defaults, the config file and the environment. */
export interface AppConfig {
  /** The Temporal connection (temporal.toml profile, `temporal:` section, TEMPORAL_* variables). */
  temporal: TemporalSettings;
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
  /** Cinder's default quotas for a project without its own limits (quota_volumes, quota_gigabytes,
   *  and per volume type volumes_<type> / gigabytes_<type>); -1 is unlimited. */
  quota_defaults: Record<string, number>;
  /** The local dev server's web UI port (npm start, dev-server; gRPC is on temporal.address). Absent:
   *  the gRPC port + 1000. */
  dev_server: { ui_port?: number };
  /** Prebuilt workflow bundle (bundleWorkflowCode); absent: bundle at start. */
  workflow_bundle_path?: string;
  /** How long in-flight activities may run after SIGTERM. */
  shutdown_grace_ms: number;
  /** pino level of the process's own lines. */
  log_level: LogLevelName;
  /** json (one JSON object a line), pretty (pino-pretty), or auto: pretty when stdout is a terminal. */
  log_format: LogFormat;
  /** Level of the Temporal SDK's own lines (workflow logger, worker, core), routed into pino. */
  sdk_log_level: SdkLogLevel;
  /** host:port of the Prometheus endpoint (`/metrics`: the SDK's `temporal_*` and the project's
   *  `cinder_*` metrics); absent: no endpoint. Port 0 picks a free port (logged at start). */
  metrics_address?: string;
  /** host:port of the health endpoint (`/healthz`, `/readyz`); absent: none. Port 0 picks a free port. */
  health_address?: string;
  /** OpenTelemetry traces over OTLP/HTTP; absent: no traces exported. */
  tracing?: { otlp_traces_endpoint: string; service_name?: string };
  /** Worker Versioning of the scheduler worker (the one that runs workflow code); absent: unversioned. */
  versioning?: VersioningConfig;
  /** Volume workers consult the fault rules (faults add) before backend operations. Off unless
   *  configured: demos and tests turn it on; production never pays for the rule lookups. */
  fault_injection: boolean;
  /** How long a worker keeps retrying to reach the Temporal server at start before it gives up. */
  connect_deadline_ms: number;
  /** Which file the config came from, if any. */
  config_file?: string;
}

/** loadConfig's options: what only `npm start` / `demo` uses. */
export interface LoadConfigOptions {
  /** The embedded demo: its two file backends when the configuration names none, and fault
   *  injection on unless configured off. */
  demo?: boolean;
}

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const SDK_LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type SdkLogLevel = (typeof SDK_LOG_LEVELS)[number];
export const VERSIONING_BEHAVIORS = ['PINNED', 'AUTO_UPGRADE'] as const;
export type VersioningBehaviorName = (typeof VERSIONING_BEHAVIORS)[number];

export interface VersioningConfig {
  /** The Worker Deployment: one name for every build of the scheduler worker. */
  deployment_name: string;
  /** This build (an image tag, a git sha). */
  build_id: string;
  /** How workflows started on this build move between builds (default PINNED: a create finishes on
   *  the build it started on). */
  default_behavior: VersioningBehaviorName;
}

/** The environment variable naming the config file (read before the others). */
export const CONFIG_FILE_ENV = 'CINDER_CONFIG';

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
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
const quota: Parser = (raw, name) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < -1)
    throw new ConfigError(name, `must be a whole number >= -1 (-1: unlimited), got '${raw}'`);
  return n;
};
const port: Parser = (raw, name) => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new ConfigError(name, `must be a port 1..65535, got '${raw}'`);
  return n;
};
const bool: Parser = (raw, name) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(name, `must be true or false, got '${raw}'`);
};

/** Every environment variable the configuration reads, and the setting it sets. The docker files
 *  are checked against this list, so a variable they set is one that is read. */
export interface EnvSetting {
  setting: string;
  parse: Parser;
  doc: string;
  /** Read by @temporalio/envconfig (temporal-config.ts), not by the loop in loadConfig. */
  envconfig?: true;
}

export const ENV_SETTINGS: Readonly<Record<string, EnvSetting>> = {
  TEMPORAL_ADDRESS: {
    setting: 'temporal.address',
    parse: str,
    envconfig: true,
    doc: 'host:port of the Temporal frontend (default 127.0.0.1:7233)',
  },
  TEMPORAL_NAMESPACE: {
    setting: 'temporal.namespace',
    parse: str,
    envconfig: true,
    doc: 'namespace (default "default")',
  },
  TEMPORAL_PROFILE: {
    setting: 'temporal.profile',
    parse: str,
    envconfig: true,
    doc: 'profile of the temporal.toml file to start from (default "default")',
  },
  TEMPORAL_CONFIG_FILE: {
    setting: 'temporal.config_file',
    parse: str,
    envconfig: true,
    doc: 'the temporal.toml file (default ~/.config/temporalio/temporal.toml, when it exists)',
  },
  TEMPORAL_TLS: {
    setting: 'temporal.tls.disabled',
    parse: str,
    envconfig: true,
    doc: 'true: TLS on, false: TLS off (the file key says the opposite: disabled)',
  },
  TEMPORAL_TLS_CLIENT_CERT_PATH: {
    setting: 'temporal.tls.client_cert_path',
    parse: str,
    envconfig: true,
    doc: 'mTLS client certificate (PEM)',
  },
  TEMPORAL_TLS_CLIENT_CERT_DATA: {
    setting: 'temporal.tls.client_cert_data',
    parse: str,
    envconfig: true,
    doc: 'mTLS client certificate, inline PEM',
  },
  TEMPORAL_TLS_CLIENT_KEY_PATH: {
    setting: 'temporal.tls.client_key_path',
    parse: str,
    envconfig: true,
    doc: 'mTLS client key (PEM)',
  },
  TEMPORAL_TLS_CLIENT_KEY_DATA: {
    setting: 'temporal.tls.client_key_data',
    parse: str,
    envconfig: true,
    doc: 'mTLS client key, inline PEM',
  },
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: {
    setting: 'temporal.tls.server_ca_cert_path',
    parse: str,
    envconfig: true,
    doc: 'CA that signed the server certificate',
  },
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: {
    setting: 'temporal.tls.server_ca_cert_data',
    parse: str,
    envconfig: true,
    doc: 'CA that signed the server certificate, inline PEM',
  },
  TEMPORAL_TLS_SERVER_NAME: {
    setting: 'temporal.tls.server_name',
    parse: str,
    envconfig: true,
    doc: 'server name to verify (SNI)',
  },
  TEMPORAL_API_KEY: {
    setting: 'temporal.api_key',
    parse: str,
    envconfig: true,
    doc: 'API key (Temporal Cloud); implies TLS',
  },
  CINDER_QUOTA_VOLUMES: {
    setting: 'quota_volumes',
    parse: quota,
    doc: "Cinder's quota_volumes: volumes per project (default 10; -1 unlimited)",
  },
  CINDER_QUOTA_GIGABYTES: {
    setting: 'quota_gigabytes',
    parse: quota,
    doc: "Cinder's quota_gigabytes: GiB per project (default 1000; -1 unlimited)",
  },
  CINDER_DEV_SERVER_PORT: {
    setting: 'dev_server.port',
    parse: port,
    doc: 'local dev server gRPC port for npm start and dev-server (default 7233; also the address the rest connects to)',
  },
  CINDER_DEV_SERVER_UI_PORT: {
    setting: 'dev_server.ui_port',
    parse: port,
    doc: 'local dev server web UI port (default: gRPC port + 1000, i.e. 8233)',
  },
  CINDER_DATABASE_URL: { setting: 'database_url', parse: str, doc: 'volume database: sqlite:<path> or postgres://...' },
  CINDER_DATA_DIR: { setting: 'data_dir', parse: str, doc: 'local state folder (default .data)' },
  CINDER_SCHEDULER_TASK_QUEUE: {
    setting: 'scheduler_task_queue',
    parse: str,
    doc: 'task queue of the scheduler pool (default cinder-scheduler)',
  },
  CINDER_SCHEDULER_MAX_ATTEMPTS: {
    setting: 'create_defaults.scheduler_max_attempts',
    parse: int,
    doc: "Cinder's scheduler_max_attempts (default 3; 1 disables rescheduling)",
  },
  CINDER_IGNORE_ATTEMPTED_HOSTS: {
    setting: 'create_defaults.ignore_attempted_hosts',
    parse: bool,
    doc: 'IgnoreAttemptedHostsFilter on (default true; stock Cinder: false)',
  },
  CINDER_SCHEDULER_ALTERNATES: {
    setting: 'create_defaults.scheduler_alternates',
    parse: int,
    doc: 'alternates mode: runner-up pools of a scheduling pass tried before a new pass (default 0: off)',
  },
  CINDER_SERVICE_DOWN_TIME: {
    setting: 'create_defaults.service_down_time_s',
    parse: int,
    doc: 'seconds after which a silent volume service is down (default 60)',
  },
  CINDER_BACKEND_SCHEDULE_TO_START_MS: {
    setting: 'create_defaults.backend_schedule_to_start_timeout_ms',
    parse: int,
    doc: 'how long a create waits for a backend worker (default 60000)',
  },
  CINDER_STATS_INTERVAL_MS: {
    setting: 'stats_interval_ms',
    parse: int,
    doc: 'pool stats report interval (default 10000)',
  },
  CINDER_WORKFLOW_BUNDLE: {
    setting: 'workflow_bundle_path',
    parse: str,
    doc: 'prebuilt workflow bundle (npm run build:bundle)',
  },
  CINDER_SHUTDOWN_GRACE_MS: {
    setting: 'shutdown_grace_ms',
    parse: int,
    doc: 'grace time for in-flight activities on SIGTERM (default 30000)',
  },
  CINDER_LOG_LEVEL: {
    setting: 'log_level',
    parse: str,
    doc: 'pino level: trace, debug, info, warn, error, fatal, silent (default info)',
  },
  CINDER_LOG_FORMAT: {
    setting: 'log_format',
    parse: str,
    doc: 'json, pretty (pino-pretty) or auto: pretty when stdout is a terminal (default auto)',
  },
  CINDER_SDK_LOG_LEVEL: {
    setting: 'sdk_log_level',
    parse: str,
    doc: 'level of the Temporal SDK lines routed into the log: TRACE, DEBUG, INFO, WARN, ERROR (default INFO)',
  },
  CINDER_METRICS_ADDRESS: {
    setting: 'metrics_address',
    parse: str,
    doc: 'host:port of the Prometheus /metrics endpoint, e.g. 0.0.0.0:9464 (default: none; port 0: any free port)',
  },
  CINDER_HEALTH_ADDRESS: {
    setting: 'health_address',
    parse: str,
    doc: 'host:port of the /healthz and /readyz endpoint, e.g. 0.0.0.0:8080 (default: none; port 0: any free port)',
  },
  TEMPORAL_DEPLOYMENT_NAME: {
    setting: 'versioning.deployment_name',
    parse: str,
    doc: 'Worker Deployment name of the scheduler worker; with TEMPORAL_WORKER_BUILD_ID turns Worker Versioning on',
  },
  TEMPORAL_WORKER_BUILD_ID: {
    setting: 'versioning.build_id',
    parse: str,
    doc: 'build id of this scheduler worker (image tag, git sha) for Worker Versioning',
  },
  OTEL_EXPORTER_OTLP_ENDPOINT: {
    setting: 'tracing.otlp_endpoint',
    parse: str,
    doc: 'OTLP/HTTP base URL (e.g. http://otel-collector:4318): traces go to <url>/v1/traces (default: no traces)',
  },
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: {
    setting: 'tracing.otlp_traces_endpoint',
    parse: str,
    doc: 'OTLP/HTTP traces URL as is (wins over OTEL_EXPORTER_OTLP_ENDPOINT)',
  },
  OTEL_SERVICE_NAME: {
    setting: 'tracing.service_name',
    parse: str,
    doc: 'service.name of the spans (default cinder-temporal-worker, or cinder-temporal-cli)',
  },
  CINDER_FAULT_INJECTION: {
    setting: 'fault_injection',
    parse: bool,
    doc: 'volume workers apply fault rules (cinder-temporal faults): for demos and drills only (default false)',
  },
  CINDER_CONNECT_DEADLINE_MS: {
    setting: 'connect_deadline_ms',
    parse: int,
    doc: 'how long a worker retries reaching the Temporal server at start before it exits (default 300000)',
  },
  CINDER_VERSIONING_BEHAVIOR: {
    setting: 'versioning.default_behavior',
    parse: str,
    doc: 'default versioning behavior of workflows: PINNED (default) or AUTO_UPGRADE',
  },
};

/** The environment variable that sets a setting (the setting itself if none does). */
export function envNameOf(setting: string): string {
  return Object.entries(ENV_SETTINGS).find(([, s]) => s.setting === setting)?.[0] ?? setting;
}

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
  'temporal',
  'database_url',
  'data_dir',
  'scheduler_task_queue',
  'create_defaults',
  'request_limits',
  'stats_interval_ms',
  'backends',
  'volume_types',
  'workflow_bundle_path',
  'shutdown_grace_ms',
  'log_level',
  'log_format',
  'sdk_log_level',
  'metrics_address',
  'health_address',
  'versioning',
  'fault_injection',
  'connect_deadline_ms',
  'tracing',
  'quota_volumes',
  'quota_gigabytes',
  'quota_volume_types',
  'dev_server',
]);
const TRACING_KEYS = ['otlp_endpoint', 'otlp_traces_endpoint', 'service_name'];

/** Traces are on when an OTLP endpoint is set: the traces URL as given, or the base URL with
 *  /v1/traces appended (the OpenTelemetry spec's rule for OTEL_EXPORTER_OTLP_ENDPOINT). */
function tracingConfig(raw: unknown): AppConfig['tracing'] {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError('tracing', `must be a mapping of ${TRACING_KEYS.join(', ')}`);
  const t = raw as Record<string, unknown>;
  for (const key of Object.keys(t)) {
    if (!TRACING_KEYS.includes(key))
      throw new ConfigError(`tracing.${key}`, `is not a known setting (known: ${TRACING_KEYS.join(', ')})`);
  }
  const base = t.otlp_endpoint ? String(t.otlp_endpoint).replace(/\/+$/, '') : undefined;
  const url = t.otlp_traces_endpoint ? String(t.otlp_traces_endpoint) : base ? `${base}/v1/traces` : undefined;
  if (!url) return undefined;
  return { otlp_traces_endpoint: url, ...(t.service_name ? { service_name: String(t.service_name) } : {}) };
}
const VERSIONING_KEYS = ['deployment_name', 'build_id', 'default_behavior'];

function oneOf<T extends string>(
  setting: string,
  value: unknown,
  allowed: readonly T[],
  fallback: T,
  normalize = (v: string) => v,
): T {
  if (value === undefined || value === null || value === '') return fallback;
  const v = normalize(String(value));
  if (!(allowed as readonly string[]).includes(v))
    throw new ConfigError(setting, `must be one of ${allowed.join(', ')}, got '${String(value)}'`);
  return v as T;
}

/** A listen address: host:port (IPv6 in brackets), port 0..65535; a bare port means all interfaces. */
export function parseListenAddress(setting: string, value: unknown): { host: string; port: number } | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const text = String(value).trim();
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):)?(\d{1,5})$/.exec(text);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535)
    throw new ConfigError(setting, `must be host:port (e.g. 0.0.0.0:9464) or a port, got '${text}'`);
  return { host: (m[1] ?? '0.0.0.0').replace(/^\[(.*)\]$/, '$1'), port };
}

function formatListenAddress(a: { host: string; port: number }): string {
  return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

function versioningConfig(raw: unknown, named: (setting: string) => string): VersioningConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError('versioning', 'must be a mapping of deployment_name, build_id, default_behavior');
  const v = raw as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!VERSIONING_KEYS.includes(key))
      throw new ConfigError(`versioning.${key}`, `is not a known setting (known: ${VERSIONING_KEYS.join(', ')})`);
  }
  const name = v.deployment_name === undefined || v.deployment_name === '' ? undefined : String(v.deployment_name);
  const build = v.build_id === undefined || v.build_id === '' ? undefined : String(v.build_id);
  const behavior = () =>
    oneOf(named('versioning.default_behavior'), v.default_behavior, VERSIONING_BEHAVIORS, 'PINNED', (s) =>
      s.toUpperCase().replace(/-/g, '_'),
    );
  if (!name && !build) {
    behavior();
    return undefined;
  }
  // The missing one is named the way its partner was given: by variable, or by file key.
  const missing = (setting: string, partner: string) => (named(partner) !== partner ? envNameOf(setting) : setting);
  if (!name)
    throw new ConfigError(
      missing('versioning.deployment_name', 'versioning.build_id'),
      `is required with a build id (${named('versioning.build_id')} is set)`,
    );
  if (!build)
    throw new ConfigError(
      missing('versioning.build_id', 'versioning.deployment_name'),
      `is required with a deployment name (${named('versioning.deployment_name')} is set)`,
    );
  if (name.includes('.'))
    throw new ConfigError(named('versioning.deployment_name'), `may not contain '.', got '${name}'`);
  return { deployment_name: name, build_id: build, default_behavior: behavior() };
}

/** quota_volumes, quota_gigabytes and quota_volume_types ({ <type>: { volumes, gigabytes } }) as
 *  the store's default limits: Cinder's resource names, -1 unlimited. */
function quotaDefaults(raw: Record<string, unknown>, named: (setting: string) => string): Record<string, number> {
  const limit = (setting: string, value: unknown, fallback: number): number => {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < -1) {
      throw new ConfigError(
        named(setting),
        `must be a whole number >= -1 (-1: unlimited), got ${JSON.stringify(value)}`,
      );
    }
    return value;
  };
  const out: Record<string, number> = {
    volumes: limit('quota_volumes', raw.quota_volumes, 10),
    gigabytes: limit('quota_gigabytes', raw.quota_gigabytes, 1000),
  };
  const perType = raw.quota_volume_types ?? {};
  if (typeof perType !== 'object' || Array.isArray(perType))
    throw new ConfigError('quota_volume_types', 'must be a mapping of volume type to { volumes, gigabytes }');
  for (const [type, q] of Object.entries(perType as Record<string, unknown>)) {
    if (typeof q !== 'object' || q === null || Array.isArray(q))
      throw new ConfigError(`quota_volume_types.${type}`, 'must be a mapping { volumes, gigabytes }');
    for (const [key, value] of Object.entries(q)) {
      if (key !== 'volumes' && key !== 'gigabytes')
        throw new ConfigError(
          `quota_volume_types.${type}.${key}`,
          'is not a known setting (known: volumes, gigabytes)',
        );
      out[`${key}_${type}`] = limit(`quota_volume_types.${type}.${key}`, value, -1);
    }
  }
  return out;
}

function devServerConfig(raw: unknown): { port: number; ui_port?: number } {
  if (raw === undefined || raw === null) return { port: 7233 };
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError('dev_server', 'must be a mapping { port, ui_port }');
  const d = raw as Record<string, unknown>;
  for (const key of Object.keys(d))
    if (key !== 'port' && key !== 'ui_port')
      throw new ConfigError(`dev_server.${key}`, 'is not a known setting (known: port, ui_port)');
  const check = (key: string, v: unknown, fallback: number) => {
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535)
      throw new ConfigError(`dev_server.${key}`, `must be a port 1..65535, got ${JSON.stringify(v)}`);
    return v;
  };
  const p = check('port', d.port, 7233);
  return { port: p, ...(d.ui_port !== undefined ? { ui_port: check('ui_port', d.ui_port, p + 1000) } : {}) };
}

/** Where `npm start` and `dev-server` run the local dev server: temporal.address (by default
 *  127.0.0.1 on dev_server.port, CINDER_DEV_SERVER_PORT) and the UI on dev_server.ui_port
 *  (CINDER_DEV_SERVER_UI_PORT), else the gRPC port + 1000. One setting moves both commands. */
export function devServerPorts(config: Pick<AppConfig, 'temporal' | 'dev_server'>): {
  ip: string;
  port: number;
  uiPort: number;
} {
  const m = /^(.*):(\d+)$/.exec(config.temporal.address);
  if (!m)
    throw new ConfigError(
      'temporal.address',
      `must be host:port for the local dev server, got '${config.temporal.address}'`,
    );
  const port = Number(m[2]);
  return { ip: m[1].replace(/^\[(.*)\]$/, '$1'), port, uiPort: config.dev_server.ui_port ?? port + 1000 };
}

/** The `temporal:` section as loadTemporalSettings reads it. A dev server port chosen on purpose
 *  (CINDER_DEV_SERVER_PORT, dev_server.port) is where the rest connects, unless an address is given
 *  (TEMPORAL_ADDRESS, temporal.address). */
function temporalSectionFor(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): unknown {
  const section = raw.temporal;
  const devPort = (raw.dev_server as { port?: unknown } | undefined)?.port;
  if (devPort === undefined || env.TEMPORAL_ADDRESS) return section;
  if (section !== undefined && (typeof section !== 'object' || section === null || 'address' in section))
    return section;
  return { ...(section as object | undefined), address: `127.0.0.1:${devServerConfig(raw.dev_server).port}` };
}

/** What every store this configuration opens is given: the default quotas. */
export function storeOptions(config: Pick<AppConfig, 'quota_defaults'>): { defaultQuotas: Record<string, number> } {
  return { defaultQuotas: config.quota_defaults };
}

/**
 * Loads the configuration: built-in defaults, then the file named by CINDER_CONFIG (YAML or JSON),
 * then the environment. Every mistake names its setting. Backends come only from the configuration,
 * except for the demo (options.demo), which falls back on two file backends under data_dir.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
  options: LoadConfigOptions = {},
): AppConfig {
  const file = env[CONFIG_FILE_ENV] ? path.resolve(cwd, env[CONFIG_FILE_ENV]!) : undefined;
  const raw: Record<string, unknown> = file ? readFile(file) : {};
  for (const key of Object.keys(raw)) {
    if (!KNOWN_KEYS.has(key))
      throw new ConfigError(key, `is not a known setting (known: ${[...KNOWN_KEYS].join(', ')})`);
  }
  // A value from the environment is named by its variable in errors, one from the file by its key.
  const fromEnv = new Map<string, string>();
  for (const [name, { setting, parse, envconfig }] of Object.entries(ENV_SETTINGS)) {
    const value = envconfig ? undefined : env[name];
    if (value !== undefined && value !== '') {
      setPath(raw, setting, parse(value, name));
      fromEnv.set(setting, name);
    }
  }
  const named = (setting: string) => fromEnv.get(setting) ?? setting;
  const dataDir = path.resolve(cwd, String(raw.data_dir ?? '.data'));
  let temporal: TemporalSettings;
  try {
    temporal = loadTemporalSettings(env, temporalSectionFor(raw, env), cwd);
  } catch (err) {
    if (err instanceof TemporalSettingError) throw new ConfigError(err.setting, err.message);
    throw err;
  }

  let createDefaults: CreateOptions;
  try {
    createDefaults = resolveCreateOptions(DEFAULT_CREATE_OPTIONS, raw.create_defaults, 'create_defaults');
  } catch (err) {
    throw new ConfigError('create_defaults', (err as Error).message.replace("field 'create_defaults.", "field '"));
  }
  let requestLimits: Partial<RequestLimits>;
  try {
    requestLimits = parseOrInvalid(requestLimitsSchema.partial(), raw.request_limits ?? {}, 'request_limits');
  } catch (err) {
    throw new ConfigError((err as { field?: string }).field ?? 'request_limits', (err as Error).message);
  }
  let backends: ResolvedBackendConfig[];
  try {
    backends =
      raw.backends === undefined
        ? options.demo
          ? demoBackends(dataDir)
          : []
        : parseBackendConfigs(raw.backends, 'backends');
  } catch (err) {
    if (err instanceof BackendConfigError) throw new ConfigError(err.setting, err.message);
    throw err;
  }
  const num = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(key, 'must be a number >= 0');
    return v;
  };
  const faultInjection = raw.fault_injection ?? options.demo ?? false;
  if (typeof faultInjection !== 'boolean')
    throw new ConfigError(named('fault_injection'), `must be true or false, got '${String(faultInjection)}'`);
  const metricsAddress = parseListenAddress(named('metrics_address'), raw.metrics_address);
  const healthAddress = parseListenAddress(named('health_address'), raw.health_address);
  const versioning = versioningConfig(raw.versioning, named);
  const tracing = tracingConfig(raw.tracing);
  const volumeTypes = (raw.volume_types ?? DEMO_VOLUME_TYPES) as VolumeType[];
  if (!Array.isArray(volumeTypes) || volumeTypes.some((t) => typeof t?.name !== 'string')) {
    throw new ConfigError('volume_types', 'must be a list of { name, extra_specs }');
  }
  const devServer = devServerConfig(raw.dev_server);
  return {
    temporal,
    database_url: String(raw.database_url ?? `sqlite:${path.join(dataDir, 'cinder.db')}`),
    data_dir: dataDir,
    scheduler_task_queue: String(raw.scheduler_task_queue ?? 'cinder-scheduler'),
    create_defaults: createDefaults,
    request_limits: { ...DEFAULT_REQUEST_LIMITS, ...requestLimits },
    stats_interval_ms: num('stats_interval_ms', 10_000),
    backends,
    volume_types: volumeTypes.map((t) => ({ name: t.name, extra_specs: t.extra_specs ?? {} })),
    quota_defaults: quotaDefaults(raw, named),
    dev_server: devServer.ui_port !== undefined ? { ui_port: devServer.ui_port } : {},
    ...(raw.workflow_bundle_path ? { workflow_bundle_path: path.resolve(cwd, String(raw.workflow_bundle_path)) } : {}),
    shutdown_grace_ms: num('shutdown_grace_ms', 30_000),
    log_level: oneOf(named('log_level'), raw.log_level, LOG_LEVELS, 'info', (v) => v.toLowerCase()),
    log_format: oneOf(named('log_format'), raw.log_format, LOG_FORMATS, 'auto', (v) => v.toLowerCase()),
    sdk_log_level: oneOf(named('sdk_log_level'), raw.sdk_log_level, SDK_LOG_LEVELS, 'INFO', (v) => v.toUpperCase()),
    ...(metricsAddress ? { metrics_address: formatListenAddress(metricsAddress) } : {}),
    ...(healthAddress ? { health_address: formatListenAddress(healthAddress) } : {}),
    ...(versioning ? { versioning } : {}),
    ...(tracing ? { tracing } : {}),
    fault_injection: faultInjection,
    connect_deadline_ms: num('connect_deadline_ms', 300_000),
    ...(file ? { config_file: file } : {}),
  };
}
