/**
 * The configuration, declared once: the schema of the CINDER_CONFIG file, each setting with its
 * type, bounds, default, environment variable and help text (settings.ts). AppConfig, the list of
 * variables, the known keys and the docs table (docs/deploy.md) all come from here.
 */
import { z } from 'zod';
import { createOptionsSchema, DEFAULT_CREATE_OPTIONS, type CreateOptions } from '../domain/create-options';
import { mustBe, settingsObject } from '../domain/schema-errors';
import { DEFAULT_REQUEST_LIMITS, requestLimitsSchema, type RequestLimits } from '../domain/validation';
import { backendConfigSchema } from '../drivers/backend-config';
import { DEMO_VOLUME_TYPES } from './demo-defaults';
import { setting, type SettingMeta } from '../domain/settings';
import { temporalSectionSchema } from './temporal-config';

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['auto', 'json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const SDK_LOG_LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type SdkLogLevel = (typeof SDK_LOG_LEVELS)[number];
export const VERSIONING_BEHAVIORS = ['PINNED', 'AUTO_UPGRADE'] as const;
export type VersioningBehaviorName = (typeof VERSIONING_BEHAVIORS)[number];

/** The environment variable naming the config file (read before the others). */
export const CONFIG_FILE_ENV = 'CINDER_CONFIG';
export const CONFIG_FILE_HELP = 'the configuration file (YAML or JSON), read first';

const whole = (min: number, what = `a whole number >= ${min}`) =>
  z
    .number({ error: mustBe(what) })
    .int({ error: mustBe(what) })
    .min(min, { error: mustBe(what) });
const port = () => whole(1, 'a port 1..65535').max(65535, { error: mustBe('a port 1..65535') });
const quota = () => whole(-1, 'a whole number >= -1 (-1: unlimited)');
const text = () => z.string({ error: mustBe('a non-empty string') }).min(1, { error: mustBe('a non-empty string') });
const flag = () => z.boolean({ error: mustBe('true or false') });

/** One of a few names, compared after normalize (log levels in any case). */
function oneOf<const T extends readonly string[]>(values: T, normalize: (v: string) => string) {
  const problem = (v: unknown) => `must be one of ${values.join(', ')}, got '${String(v)}'`;
  return z.string({ error: (iss) => problem(iss.input) }).transform((v, ctx): T[number] => {
    const n = normalize(v);
    if (values.includes(n)) return n;
    ctx.addIssue({ code: 'custom', message: problem(v) });
    return z.NEVER;
  });
}

/** A listen address: host:port (IPv6 in brackets), port 0..65535; a bare port means all interfaces. */
export function listenAddressOf(value: string): { host: string; port: number } | undefined {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):)?(\d{1,5})$/.exec(value.trim());
  if (!m || Number(m[2]) > 65535) return undefined;
  return { host: (m[1] ?? '0.0.0.0').replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}
export const listenAddressProblem = (value: unknown) =>
  `must be host:port (e.g. 0.0.0.0:9464) or a port, got '${String(value).trim()}'`;

const listenAddress = () =>
  z.union([z.string(), z.number()], { error: (iss) => listenAddressProblem(iss.input) }).transform((v, ctx) => {
    if (v === '') return undefined;
    const a = listenAddressOf(String(v));
    if (a) return `${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
    ctx.addIssue({ code: 'custom', message: listenAddressProblem(v) });
    return z.NEVER;
  });

/** The create options an operator may set by variable too. */
const OPTION_SETTINGS: Partial<Record<keyof CreateOptions, SettingMeta>> = {
  scheduler_max_attempts: {
    env: 'CINDER_SCHEDULER_MAX_ATTEMPTS',
    help: "Cinder's scheduler_max_attempts; 1 disables rescheduling",
  },
  ignore_attempted_hosts: {
    env: 'CINDER_IGNORE_ATTEMPTED_HOSTS',
    help: 'IgnoreAttemptedHostsFilter on (stock Cinder: off)',
  },
  scheduler_alternates: {
    env: 'CINDER_SCHEDULER_ALTERNATES',
    help: 'alternates mode: runner-up pools of a scheduling pass tried before a new pass (0: off; see below)',
  },
  service_down_time_s: {
    env: 'CINDER_SERVICE_DOWN_TIME',
    help: 'seconds after which a silent volume service is down',
  },
  backend_schedule_to_start_timeout_ms: {
    env: 'CINDER_BACKEND_SCHEDULE_TO_START_MS',
    help: 'how long a create waits for a backend worker, ms',
  },
};

type Defaulted<S extends Record<string, z.ZodType>> = { [K in keyof S]: z.ZodDefault<S[K]> };

/** create_defaults: every create option, each defaulting to the built-in one. */
function createDefaultsSchema() {
  const shape = createOptionsSchema.shape;
  const fields = Object.fromEntries(
    Object.entries(shape).map(([key, rule]) => {
      const withDefault = (rule as z.ZodType).default(DEFAULT_CREATE_OPTIONS[key as keyof CreateOptions]);
      const meta = OPTION_SETTINGS[key as keyof CreateOptions];
      return [key, meta ? setting(withDefault, meta) : withDefault];
    }),
  ) as Defaulted<typeof shape>;
  return settingsObject(fields).prefault({});
}

const LIMIT_HELP: Record<keyof RequestLimits, string> = {
  maxSizeGb: 'largest volume of one create, GiB',
  maxMetadataItems: 'metadata items of one create',
  maxMetadataLength: 'characters of a metadata key or value',
  maxNameLength: 'characters of a name, description, volume type or zone',
};

function requestLimitsSettings() {
  const shape = requestLimitsSchema.shape;
  const fields = Object.fromEntries(
    Object.entries(shape).map(([key, rule]) => [
      key,
      setting(rule.default(DEFAULT_REQUEST_LIMITS[key as keyof RequestLimits]), {
        help: LIMIT_HELP[key as keyof RequestLimits],
      }),
    ]),
  ) as Defaulted<typeof shape>;
  return settingsObject(fields).prefault({});
}

const volumeTypeSchema = settingsObject(
  {
    name: setting(text(), { help: 'volume type name; required' }),
    extra_specs: setting(
      z
        .record(z.string(), z.string({ error: mustBe('a string') }), { error: mustBe('a mapping of strings') })
        .default({}),
      { help: "Cinder's extra specs, e.g. `capabilities:storage_tier: ssd`, `provisioning:type: thick`" },
    ),
  },
  'must be a mapping { name, extra_specs }',
);

const versioningSchema = settingsObject({
  deployment_name: setting(text().optional(), {
    env: 'TEMPORAL_DEPLOYMENT_NAME',
    help: 'Worker Deployment name of the scheduler worker; with `TEMPORAL_WORKER_BUILD_ID` turns Worker Versioning on',
  }),
  build_id: setting(text().optional(), {
    env: 'TEMPORAL_WORKER_BUILD_ID',
    help: 'build id of this scheduler worker (image tag, git sha) for Worker Versioning',
  }),
  default_behavior: setting(oneOf(VERSIONING_BEHAVIORS, (v) => v.toUpperCase().replace(/-/g, '_')).default('PINNED'), {
    env: 'CINDER_VERSIONING_BEHAVIOR',
    help: 'default versioning behavior of workflows: `PINNED` or `AUTO_UPGRADE`',
  }),
});

/** Traces are on when an OTLP endpoint is set: the traces URL as given, or the base URL with
 *  /v1/traces appended (the OpenTelemetry spec's rule for OTEL_EXPORTER_OTLP_ENDPOINT). */
const tracingSchema = settingsObject({
  otlp_endpoint: setting(text().optional(), {
    env: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    help: 'OTLP/HTTP base URL (e.g. `http://otel-collector:4318`): traces go to `<url>/v1/traces`',
    default: 'none: no traces',
  }),
  otlp_traces_endpoint: setting(text().optional(), {
    env: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
    help: 'OTLP/HTTP traces URL as is (wins over `OTEL_EXPORTER_OTLP_ENDPOINT`)',
  }),
  service_name: setting(text().optional(), {
    env: 'OTEL_SERVICE_NAME',
    help: '`service.name` of the spans',
    default: '`cinder-temporal-worker`, or `cinder-temporal-cli`',
  }),
})
  .optional()
  .transform((t) => {
    const base = t?.otlp_endpoint?.replace(/\/+$/, '');
    const url = t?.otlp_traces_endpoint ?? (base ? `${base}/v1/traces` : undefined);
    if (!url) return undefined;
    return { otlp_traces_endpoint: url, ...(t?.service_name ? { service_name: t.service_name } : {}) };
  });

/** The CINDER_CONFIG file, and the variables set into it: every setting once. */
export const configFileSchema = settingsObject({
  temporal: setting(temporalSectionSchema.optional(), {
    help: 'the Temporal connection: the keys of a `temporal.toml` profile (see above)',
  }),
  database_url: setting(text().optional(), {
    env: 'CINDER_DATABASE_URL',
    help: 'volume database: `sqlite:<path>` or `postgres://user:pass@host:5432/db`',
    default: '`sqlite:<data_dir>/cinder.db`',
  }),
  data_dir: setting(text().default('.data'), {
    env: 'CINDER_DATA_DIR',
    help: "local state folder: the dev server's database, the default SQLite file, demo pools",
  }),
  scheduler_task_queue: setting(text().default('cinder-scheduler'), {
    env: 'CINDER_SCHEDULER_TASK_QUEUE',
    help: 'task queue of the scheduler pool',
  }),
  create_defaults: setting(createDefaultsSchema(), {
    help: "defaults of every create: any create option of [cli.md](cli.md) (Cinder's scheduler options, timeouts)",
  }),
  request_limits: setting(requestLimitsSettings(), { help: 'limits on a create request' }),
  stats_interval_ms: setting(whole(0).default(10_000), {
    env: 'CINDER_STATS_INTERVAL_MS',
    help: 'how often a volume worker reports pool stats and its heartbeat, ms',
  }),
  backends: setting(z.array(backendConfigSchema, { error: mustBe('a list of backends') }).optional(), {
    help: "the volume backends (Cinder's per-backend sections), keys in the rows below",
    default: 'none (`npm start`: two file backends under `data_dir`)',
  }),
  volume_types: setting(
    z.array(volumeTypeSchema, { error: mustBe('a list of { name, extra_specs }') }).default(DEMO_VOLUME_TYPES),
    {
      help: 'volume types: `{ name, extra_specs }`',
      default: DEMO_VOLUME_TYPES.map((t) => `\`${t.name}\``).join(', '),
    },
  ),
  quota_volumes: setting(quota().default(10), {
    env: 'CINDER_QUOTA_VOLUMES',
    help: "Cinder's quota_volumes: volumes per project without its own limit (-1: unlimited)",
  }),
  quota_gigabytes: setting(quota().default(1000), {
    env: 'CINDER_QUOTA_GIGABYTES',
    help: "Cinder's quota_gigabytes: GiB per project without its own limit (-1: unlimited)",
  }),
  quota_volume_types: setting(
    z
      .record(
        z.string(),
        settingsObject(
          { volumes: quota().optional(), gigabytes: quota().optional() },
          'must be a mapping { volumes, gigabytes }',
        ),
        { error: mustBe('a mapping of volume type to { volumes, gigabytes }') },
      )
      .default({}),
    { help: 'per volume type `{ volumes, gigabytes }`; a type not named is unlimited' },
  ),
  dev_server: setting(
    settingsObject({
      port: setting(port().default(7233), {
        env: 'CINDER_DEV_SERVER_PORT',
        help: "the local dev server's gRPC port, for `npm start` and `dev-server` alike; without `TEMPORAL_ADDRESS` the workers and the CLI connect there too",
      }),
      ui_port: setting(port().optional(), {
        env: 'CINDER_DEV_SERVER_UI_PORT',
        help: "the local dev server's web UI port",
        default: 'the gRPC port + 1000, 8233',
      }),
    }).prefault({}),
    { help: 'the local dev server of `npm start` and `dev-server`' },
  ),
  workflow_bundle_path: setting(z.string({ error: mustBe('a path') }).optional(), {
    env: 'CINDER_WORKFLOW_BUNDLE',
    help: 'prebuilt workflow bundle (`npm run build:bundle`); must exist when set',
    default: 'none: bundled at start',
  }),
  shutdown_grace_ms: setting(whole(0).default(30_000), {
    env: 'CINDER_SHUTDOWN_GRACE_MS',
    help: 'grace time for in-flight activities on SIGTERM, ms',
  }),
  log_level: setting(oneOf(LOG_LEVELS, (v) => v.toLowerCase()).default('info'), {
    env: 'CINDER_LOG_LEVEL',
    help: `pino level: ${LOG_LEVELS.join(', ')}`,
  }),
  log_format: setting(oneOf(LOG_FORMATS, (v) => v.toLowerCase()).default('auto'), {
    env: 'CINDER_LOG_FORMAT',
    help: '`json`, `pretty` (pino-pretty) or `auto`: pretty when stdout is a terminal',
  }),
  sdk_log_level: setting(oneOf(SDK_LOG_LEVELS, (v) => v.toUpperCase()).default('INFO'), {
    env: 'CINDER_SDK_LOG_LEVEL',
    help: `level of the Temporal SDK lines routed into the log: ${SDK_LOG_LEVELS.join(', ')}`,
  }),
  metrics_address: setting(listenAddress().optional(), {
    env: 'CINDER_METRICS_ADDRESS',
    help: 'host:port of the Prometheus `/metrics` endpoint, e.g. `0.0.0.0:9464` (port 0: any free port, logged)',
    default: 'none',
  }),
  health_address: setting(listenAddress().optional(), {
    env: 'CINDER_HEALTH_ADDRESS',
    help: 'host:port of `/healthz` and `/readyz`, e.g. `0.0.0.0:8080` (port 0: any free port, logged)',
    default: 'none',
  }),
  versioning: setting(versioningSchema.optional(), {
    help: 'Worker Versioning of the scheduler worker (the one that runs workflow code)',
    default: 'none: unversioned',
  }),
  tracing: setting(tracingSchema.optional(), { help: 'OpenTelemetry traces over OTLP/HTTP' }),
  fault_injection: setting(flag().optional(), {
    env: 'CINDER_FAULT_INJECTION',
    help: 'volume workers apply fault rules (`cinder-temporal faults`): demos and drills only (see below)',
    default: 'false (`npm start`: true)',
  }),
  connect_deadline_ms: setting(whole(0).default(300_000), {
    env: 'CINDER_CONNECT_DEADLINE_MS',
    help: 'how long a worker retries reaching the Temporal server at start before it exits 1, ms',
  }),
});

/** The file and variables after the schema: defaults in, names checked (loadConfig finishes it). */
export type ConfigFile = z.output<typeof configFileSchema>;
export type VersioningConfig = Required<z.output<typeof versioningSchema>>;
