/**
 * The Temporal connection settings, loaded by Temporal's own `@temporalio/envconfig` the way the
 * Temporal CLI and the samples load them: a `temporal.toml` profile (TEMPORAL_CONFIG_FILE, else
 * ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE, else "default"), then the `temporal:`
 * section of CINDER_CONFIG, then the TEMPORAL_* variables (TEMPORAL_ADDRESS, TEMPORAL_TLS_*_PATH
 * and *_DATA, TEMPORAL_API_KEY, TEMPORAL_GRPC_META_*, ...).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  fromTomlProfile,
  loadClientConfig,
  loadClientConfigProfile,
  type ClientConfigProfile,
  type ClientConfigTLS,
  type ConfigDataSource,
} from '@temporalio/envconfig';
import { z } from 'zod';
import { mustBe, settingsObject } from '../domain/schema-errors';
import { setting } from '../domain/settings';

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

export interface TemporalSettings {
  address: string;
  namespace: string;
  api_key?: string;
  tls?: ClientConfigTLS;
  /** gRPC metadata sent with every call (temporal.toml `grpc_meta`, TEMPORAL_GRPC_META_<NAME>). */
  grpc_meta?: Record<string, string>;
  /** The temporal.toml profile the settings started from, when one was found. */
  profile?: { name: string; file: string };
}

/** A setting's mistake, named by the variable or key it came from (config.ts wraps it). */
export class TemporalSettingError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
    this.name = 'TemporalSettingError';
  }
}

const text = () => z.string({ error: mustBe('a string') });

/** The keys of a temporal.toml profile, as the `temporal:` section of CINDER_CONFIG takes them too,
 *  each with the TEMPORAL_* variable envconfig reads for it. Unknown keys are refused with their path. */
export const temporalSectionSchema = settingsObject({
  address: setting(text().optional(), {
    env: 'TEMPORAL_ADDRESS',
    envconfig: true,
    help: 'host:port of the Temporal frontend',
    default: `\`${DEFAULT_TEMPORAL_ADDRESS}\``,
  }),
  namespace: setting(text().optional(), {
    env: 'TEMPORAL_NAMESPACE',
    envconfig: true,
    help: 'namespace',
    default: `\`${DEFAULT_TEMPORAL_NAMESPACE}\``,
  }),
  profile: setting(text().optional(), {
    env: 'TEMPORAL_PROFILE',
    envconfig: true,
    help: 'profile of the `temporal.toml` file to start from',
    default: '`default`',
  }),
  config_file: setting(text().optional(), {
    env: 'TEMPORAL_CONFIG_FILE',
    envconfig: true,
    help: 'the `temporal.toml` file',
    default: '`~/.config/temporalio/temporal.toml`, when it exists',
  }),
  api_key: setting(text().optional(), {
    env: 'TEMPORAL_API_KEY',
    envconfig: true,
    help: 'API key (Temporal Cloud); implies TLS',
  }),
  tls: settingsObject({
    disabled: setting(z.boolean({ error: mustBe('true or false') }).optional(), {
      env: 'TEMPORAL_TLS',
      envconfig: true,
      help: '`true`: TLS on, `false`: TLS off (the file key says the opposite: `disabled`)',
    }),
    server_name: setting(text().optional(), {
      env: 'TEMPORAL_TLS_SERVER_NAME',
      envconfig: true,
      help: 'server name to verify (SNI)',
    }),
    client_cert_path: setting(text().optional(), {
      env: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
      envconfig: true,
      help: 'mTLS client certificate (PEM)',
    }),
    client_cert_data: setting(text().optional(), {
      env: 'TEMPORAL_TLS_CLIENT_CERT_DATA',
      envconfig: true,
      help: 'mTLS client certificate, inline PEM',
    }),
    client_key_path: setting(text().optional(), {
      env: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
      envconfig: true,
      help: 'mTLS client key (PEM)',
    }),
    client_key_data: setting(text().optional(), {
      env: 'TEMPORAL_TLS_CLIENT_KEY_DATA',
      envconfig: true,
      help: 'mTLS client key, inline PEM',
    }),
    server_ca_cert_path: setting(text().optional(), {
      env: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      envconfig: true,
      help: 'CA that signed the server certificate',
    }),
    server_ca_cert_data: setting(text().optional(), {
      env: 'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
      envconfig: true,
      help: 'CA that signed the server certificate, inline PEM',
    }),
  }).optional(),
  grpc_meta: setting(z.record(z.string(), text(), { error: mustBe('a mapping of header to value') }).optional(), {
    help: 'gRPC metadata sent with every call (`TEMPORAL_GRPC_META_<NAME>` for one header)',
  }),
});
export type TemporalSection = z.output<typeof temporalSectionSchema>;

const TLS_ENV: Record<string, string> = {
  client_cert_path: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  client_cert_data: 'TEMPORAL_TLS_CLIENT_CERT_DATA',
  client_key_path: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
  client_key_data: 'TEMPORAL_TLS_CLIENT_KEY_DATA',
  server_ca_cert_path: 'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  server_ca_cert_data: 'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
};

/** Profile fields set later win; TLS and gRPC metadata merge key by key. */
function overlay(base: ClientConfigProfile, top: ClientConfigProfile): ClientConfigProfile {
  const out: ClientConfigProfile = { ...base };
  if (top.address !== undefined) out.address = top.address;
  if (top.namespace !== undefined) out.namespace = top.namespace;
  if (top.apiKey !== undefined) out.apiKey = top.apiKey;
  if (top.tls) out.tls = { ...base.tls, ...top.tls };
  if (top.grpcMeta) out.grpcMeta = { ...base.grpcMeta, ...top.grpcMeta };
  return out;
}

function wrap<T>(setting: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TemporalSettingError) throw err;
    throw new TemporalSettingError(setting, (err as Error).message);
  }
}

/** A relative certificate path is relative to the working directory the config was loaded in. */
function resolveSource(source: ConfigDataSource | undefined, cwd: string): ConfigDataSource | undefined {
  return source && 'path' in source ? { path: path.resolve(cwd, source.path) } : source;
}

/**
 * The connection settings from a temporal.toml profile, the config file's `temporal:` section and
 * the environment, in that order. Empty variables count as unset (as for every other setting).
 */
export function loadTemporalSettings(
  env: NodeJS.ProcessEnv,
  section: TemporalSection | undefined,
  cwd: string,
): TemporalSettings {
  const own = section ?? {};
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') vars[k] = v;

  const fileSetting = vars.TEMPORAL_CONFIG_FILE ? 'TEMPORAL_CONFIG_FILE' : 'temporal.config_file';
  const explicitFile = vars.TEMPORAL_CONFIG_FILE ?? own.config_file;
  const file = explicitFile ? path.resolve(cwd, explicitFile) : undefined;
  // envconfig quietly ignores a missing file; one named on purpose must exist.
  if (file && !fs.existsSync(file)) throw new TemporalSettingError(fileSetting, `no Temporal config file at ${file}`);
  const profileSetting = vars.TEMPORAL_PROFILE ? 'TEMPORAL_PROFILE' : 'temporal.profile';
  const profileName = vars.TEMPORAL_PROFILE ?? own.profile;

  // The file, strictly: a typo such as client_cert_pth is refused, not ignored.
  const fileConfig = wrap(file ? fileSetting : 'temporal.toml', () =>
    loadClientConfig({
      ...(file ? { configSource: { path: file } } : {}),
      configFileStrict: true,
      overrideEnvVars: vars,
    }),
  );
  const fromFile = fileConfig.profiles[profileName ?? 'default'];
  if (!fromFile && profileName) {
    const known = Object.keys(fileConfig.profiles);
    throw new TemporalSettingError(
      profileSetting,
      `no profile '${profileName}' in ${file ?? 'the default temporal.toml'} (profiles: ${known.join(', ') || 'none'})`,
    );
  }
  const { profile: _p, config_file: _f, ...fields } = own;
  const fromSection = wrap('temporal.tls', () => fromTomlProfile(fields as Parameters<typeof fromTomlProfile>[0]));
  // The variables alone, read by envconfig itself (its names, TEMPORAL_TLS, TEMPORAL_GRPC_META_*).
  const fromEnv = wrap('TEMPORAL_TLS', () => loadClientConfigProfile({ disableFile: true, overrideEnvVars: vars }));
  const merged = overlay(overlay(fromFile ?? {}, fromSection), fromEnv);
  const profile = fromFile
    ? { name: profileName ?? 'default', file: file ?? defaultFileOf(vars) ?? 'temporal.toml' }
    : undefined;
  return settingsOf(merged, cwd, vars, profile);
}

function settingsOf(
  p: ClientConfigProfile,
  cwd: string,
  vars: Record<string, string>,
  profile: TemporalSettings['profile'],
): TemporalSettings {
  const tls = p.tls
    ? {
        ...p.tls,
        ...(p.tls.clientCert ? { clientCert: resolveSource(p.tls.clientCert, cwd) } : {}),
        ...(p.tls.clientKey ? { clientKey: resolveSource(p.tls.clientKey, cwd) } : {}),
        ...(p.tls.serverCACert ? { serverCACert: resolveSource(p.tls.serverCACert, cwd) } : {}),
      }
    : undefined;
  if (tls && !tls.disabled && !!tls.clientCert !== !!tls.clientKey) {
    const fromVar = vars.TEMPORAL_TLS_CLIENT_CERT_PATH || vars.TEMPORAL_TLS_CLIENT_KEY_PATH;
    throw new TemporalSettingError(
      fromVar ? TLS_ENV.client_cert_path : 'temporal.tls',
      'a client certificate and its key go together (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH, or *_DATA)',
    );
  }
  const sources = [
    ['client_cert', tls?.clientCert],
    ['client_key', tls?.clientKey],
    ['server_ca_cert', tls?.serverCACert],
  ] as const;
  for (const [key, source] of sources) {
    if (source && 'path' in source && !fs.existsSync(source.path)) {
      const envName = TLS_ENV[`${key}_path`];
      throw new TemporalSettingError(vars[envName] ? envName : `temporal.tls.${key}_path`, `no file at ${source.path}`);
    }
  }
  return {
    address: p.address ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: p.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
    ...(p.apiKey ? { api_key: p.apiKey } : {}),
    ...(tls ? { tls } : {}),
    ...(p.grpcMeta && Object.keys(p.grpcMeta).length > 0 ? { grpc_meta: p.grpcMeta } : {}),
    ...(profile ? { profile } : {}),
  };
}

/** Where envconfig looks when no file is named (Linux: $XDG_CONFIG_HOME or ~/.config). */
function defaultFileOf(vars: Record<string, string>): string | undefined {
  const xdg = vars.XDG_CONFIG_HOME;
  const dir = xdg && path.isAbsolute(xdg) ? xdg : vars.HOME ? path.join(vars.HOME, '.config') : undefined;
  return dir ? path.join(dir, 'temporalio', 'temporal.toml') : undefined;
}
