import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { settingIssue } from '../domain/schema-errors';
import { isPlainObject } from '../domain/text';
import { BackendConfigError, checkBackendList, type ResolvedBackendConfig } from '../drivers/backend-config';
import {
  CONFIG_FILE_ENV,
  CONFIG_FILE_HELP,
  configFileSchema,
  listenAddressOf,
  listenAddressProblem,
  type ConfigFile,
  type VersioningConfig,
} from './config-schema';
import { demoBackends } from './demo-defaults';
import { declaredSettings, fromEnvText, helpLine, settingsTable, type DeclaredSetting } from '../domain/settings';
import { loadTemporalSettings, TemporalSettingError, type TemporalSettings } from './temporal-config';

export {
  CONFIG_FILE_ENV,
  LOG_FORMATS,
  LOG_LEVELS,
  SDK_LOG_LEVELS,
  VERSIONING_BEHAVIORS,
  type LogFormat,
  type LogLevelName,
  type SdkLogLevel,
  type VersioningBehaviorName,
  type VersioningConfig,
} from './config-schema';

/** Everything a worker or the CLI needs, after defaults, the config file and the environment: the
 *  schema's output (config-schema.ts), with what is computed from more than one setting. */
export type AppConfig = Omit<
  ConfigFile,
  'temporal' | 'database_url' | 'backends' | 'quota_volumes' | 'quota_gigabytes' | 'quota_volume_types' | 'versioning'
> & {
  /** The Temporal connection (temporal.toml profile, `temporal:` section, TEMPORAL_* variables). */
  temporal: TemporalSettings;
  /** `sqlite:<path>` (default: under data_dir) or a PostgreSQL URL. */
  database_url: string;
  backends: ResolvedBackendConfig[];
  /** Cinder's default quotas for a project without its own limits (quota_volumes, quota_gigabytes,
   *  and per volume type volumes_<type> / gigabytes_<type>); -1 is unlimited. */
  quota_defaults: Record<string, number>;
  /** Worker Versioning of the scheduler worker; absent: unversioned. */
  versioning?: VersioningConfig;
  /** Volume workers consult the fault rules (faults add) before backend operations. Off unless
   *  configured: demos and tests turn it on; production never pays for the rule lookups. */
  fault_injection: boolean;
  /** Which file the config came from, if any. */
  config_file?: string;
};

/** loadConfig's options: what only `npm start` / `demo` uses. */
export interface LoadConfigOptions {
  /** The embedded demo: its two file backends when the configuration names none, and fault
   *  injection on unless configured off. */
  demo?: boolean;
}

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting}: ${message}`);
    this.name = 'ConfigError';
  }
}

/** Every declared setting, in the order of the schema. */
export const SETTINGS: readonly DeclaredSetting[] = declaredSettings(configFileSchema);

/** Every environment variable the configuration reads, and the setting it sets (from the
 *  declaration). The docker files are checked against this list, so a variable they set is read. */
export interface EnvSetting {
  setting: string;
  doc: string;
  /** Read by @temporalio/envconfig (temporal-config.ts), not by the loop in loadConfig. */
  envconfig?: true;
}

export const ENV_SETTINGS: Readonly<Record<string, EnvSetting>> = Object.fromEntries(
  SETTINGS.filter((s) => s.env).map((s) => [
    s.env!,
    { setting: s.key, doc: helpLine(s), ...(s.envconfig ? { envconfig: true as const } : {}) },
  ]),
);

/** docs/deploy.md's table of every setting (npm run docs:config writes it; a test compares). */
export function configDocsTable(): string {
  return settingsTable(SETTINGS, { env: CONFIG_FILE_ENV, help: CONFIG_FILE_HELP });
}

/** The environment variable that sets a setting (the setting itself if none does). */
export function envNameOf(setting: string): string {
  return SETTINGS.find((s) => s.key === setting)?.env ?? setting;
}

function setPath(target: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    if (!isPlainObject(node[part])) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]] = value;
}

/** YAML writes a key left empty as null: such a key counts as left out (lists keep their items). */
function withoutNulls(value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === null) continue;
    out[k] = isPlainObject(v) ? withoutNulls(v) : v;
  }
  return out;
}

function readFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(CONFIG_FILE_ENV, `cannot read ${file}: ${(err as Error).message}`);
  }
  const parsed: unknown = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text);
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed)) throw new ConfigError(file, 'must be a mapping of settings');
  return withoutNulls(parsed);
}

/** Sets each variable's value into the file's settings (the environment wins); returns which
 *  setting came from which variable, so a mistake in it is named by the variable. */
function applyEnv(raw: Record<string, unknown>, env: NodeJS.ProcessEnv): Map<string, string> {
  const fromEnv = new Map<string, string>();
  for (const s of SETTINGS) {
    const value = s.env && !s.envconfig ? env[s.env] : undefined;
    if (value === undefined || value === '') continue;
    setPath(raw, s.key, fromEnvText(s.kind, value));
    fromEnv.set(s.key, s.env!);
  }
  return fromEnv;
}

/** A listen address as host and port (worker.ts binds it); throws ConfigError naming the setting. */
export function parseListenAddress(setting: string, value: unknown): { host: string; port: number } | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const address = listenAddressOf(String(value));
  if (!address) throw new ConfigError(setting, listenAddressProblem(value));
  return address;
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

/** What every store this configuration opens is given: the default quotas. */
export function storeOptions(config: Pick<AppConfig, 'quota_defaults'>): { defaultQuotas: Record<string, number> } {
  return { defaultQuotas: config.quota_defaults };
}

/** The connection: a dev server port chosen on purpose (CINDER_DEV_SERVER_PORT, dev_server.port)
 *  is where the rest connects, unless an address is given (TEMPORAL_ADDRESS, temporal.address). */
function temporalOf(c: ConfigFile, raw: Record<string, unknown>, env: NodeJS.ProcessEnv, cwd: string) {
  const portChosen = isPlainObject(raw.dev_server) && raw.dev_server.port !== undefined;
  const section =
    portChosen && !env.TEMPORAL_ADDRESS && c.temporal?.address === undefined
      ? { ...c.temporal, address: `127.0.0.1:${c.dev_server.port}` }
      : c.temporal;
  try {
    return loadTemporalSettings(env, section, cwd);
  } catch (err) {
    if (err instanceof TemporalSettingError) throw new ConfigError(err.setting, err.message);
    throw err;
  }
}

/** Both halves of a Worker Deployment version, or neither. The missing one is named the way its
 *  partner was given: by variable, or by file key. */
function versioningOf(v: ConfigFile['versioning'], named: (setting: string) => string): VersioningConfig | undefined {
  if (!v || (!v.deployment_name && !v.build_id)) return undefined;
  const missing = (setting: string, partner: string) => (named(partner) !== partner ? envNameOf(setting) : setting);
  if (!v.deployment_name)
    throw new ConfigError(
      missing('versioning.deployment_name', 'versioning.build_id'),
      `is required with a build id (${named('versioning.build_id')} is set)`,
    );
  if (!v.build_id)
    throw new ConfigError(
      missing('versioning.build_id', 'versioning.deployment_name'),
      `is required with a deployment name (${named('versioning.deployment_name')} is set)`,
    );
  if (v.deployment_name.includes('.'))
    throw new ConfigError(named('versioning.deployment_name'), `may not contain '.', got '${v.deployment_name}'`);
  return { deployment_name: v.deployment_name, build_id: v.build_id, default_behavior: v.default_behavior };
}

/** quota_volumes, quota_gigabytes and quota_volume_types as the store's default limits: Cinder's
 *  resource names (volumes, gigabytes, volumes_<type>, gigabytes_<type>), -1 unlimited. */
function quotaDefaults(c: ConfigFile): Record<string, number> {
  const out: Record<string, number> = { volumes: c.quota_volumes, gigabytes: c.quota_gigabytes };
  for (const [type, q] of Object.entries(c.quota_volume_types)) {
    if (q.volumes !== undefined) out[`volumes_${type}`] = q.volumes;
    if (q.gigabytes !== undefined) out[`gigabytes_${type}`] = q.gigabytes;
  }
  return out;
}

function backendsOf(c: ConfigFile, dataDir: string, demo: boolean): ResolvedBackendConfig[] {
  if (c.backends === undefined) return demo ? demoBackends(dataDir) : [];
  try {
    return checkBackendList(c.backends, 'backends');
  } catch (err) {
    if (err instanceof BackendConfigError)
      throw new ConfigError(err.setting, err.message.slice(err.setting.length + 1));
    throw err;
  }
}

/**
 * Loads the configuration: built-in defaults, then the file named by CINDER_CONFIG (YAML or JSON),
 * then the environment. Every mistake names its setting: the variable it came from, or the full
 * path of its file key (an unknown key too). Backends come only from the configuration, except for
 * the demo (options.demo), which falls back on two file backends under data_dir.
 */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
  options: LoadConfigOptions = {},
): AppConfig {
  const file = env[CONFIG_FILE_ENV] ? path.resolve(cwd, env[CONFIG_FILE_ENV]!) : undefined;
  const raw: Record<string, unknown> = file ? readFile(file) : {};
  const fromEnv = applyEnv(raw, env);
  const named = (setting: string) => fromEnv.get(setting) ?? setting;
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) {
    const { setting, problem } = settingIssue(parsed.error, '');
    throw new ConfigError(named(setting), problem);
  }
  const c = parsed.data;
  const temporal = temporalOf(c, raw, env, cwd);
  const dataDir = path.resolve(cwd, c.data_dir);
  const versioning = versioningOf(c.versioning, named);
  const {
    database_url,
    workflow_bundle_path,
    fault_injection,
    quota_volumes: _qv,
    quota_gigabytes: _qg,
    quota_volume_types: _qt,
    versioning: _v,
    tracing,
    ...rest
  } = c;
  return {
    ...rest,
    temporal,
    data_dir: dataDir,
    database_url: database_url ?? `sqlite:${path.join(dataDir, 'cinder.db')}`,
    backends: backendsOf(c, dataDir, options.demo ?? false),
    quota_defaults: quotaDefaults(c),
    ...(workflow_bundle_path ? { workflow_bundle_path: path.resolve(cwd, workflow_bundle_path) } : {}),
    ...(versioning ? { versioning } : {}),
    ...(tracing ? { tracing } : {}),
    fault_injection: fault_injection ?? options.demo ?? false,
    ...(file ? { config_file: file } : {}),
  };
}
