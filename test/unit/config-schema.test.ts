/**
 * The configuration declared once (src/config/config-schema.ts): unknown keys at every depth named
 * by their full path, the environment over the file, defaults and `--help` read from the
 * declaration, and the types inferred from the schemas.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, ENV_SETTINGS, loadConfig, SETTINGS, type AppConfig } from '../../src/config/config';
import { helpLine } from '../../src/domain/settings';
import { DEFAULT_CREATE_OPTIONS, type CreateOptions } from '../../src/domain/create-options';
import { DEFAULT_REQUEST_LIMITS } from '../../src/domain/validation';
import type { CreateVolumeRequest } from '../../src/domain/volume';
import type { BackendConfig, ResolvedBackendConfig } from '../../src/drivers/backend-config';
import { USAGE } from '../../src/worker';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-schema-'));

function configFile(dir: string, yaml: string): NodeJS.ProcessEnv {
  const file = path.join(dir, `c${fs.readdirSync(dir).length}.yaml`);
  fs.writeFileSync(file, yaml);
  return { HOME: dir, CINDER_CONFIG: file };
}

function refused(env: NodeJS.ProcessEnv, dir: string, setting: string, message: RegExp): void {
  assert.throws(
    () => loadConfig(env, dir),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.setting, setting);
      assert.match(e.message, message);
      return true;
    },
  );
}

/** The value at a dotted key of the loaded configuration. */
const at = (config: AppConfig, key: string): unknown =>
  key.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown> | undefined)?.[part], config);

describe('the configuration schema', () => {
  const POOL = '{ name: p0, path: /tmp/p0, total_capacity_gb: 10 }';
  const unknownKeys: Array<[string, string]> = [
    ['scheduler_taskqueue: x', 'scheduler_taskqueue'],
    ['temporal: { adress: x }', 'temporal.adress'],
    ['temporal: { tls: { client_cert_pth: x } }', 'temporal.tls.client_cert_pth'],
    ['create_defaults: { scheduler_max_attempt: 2 }', 'create_defaults.scheduler_max_attempt'],
    ['request_limits: { maxSizeGB: 5 }', 'request_limits.maxSizeGB'],
    [`backends: [{ host: a@b, pools: [${POOL}], zone: x }]`, 'backends[0].zone'],
    [
      `backends: [{ host: a@b, pools: [${POOL}, { name: p1, path: /tmp/p1, total_capacity_gb: 1, nmae: x }] }]`,
      'backends[0].pools[1].nmae',
    ],
    ['volume_types: [{ name: ssd, extra_spec: {} }]', 'volume_types[0].extra_spec'],
    ['quota_volume_types: { ssd: { gb: 2 } }', 'quota_volume_types.ssd.gb'],
    ['dev_server: { prt: 1 }', 'dev_server.prt'],
    ['versioning: { build: x }', 'versioning.build'],
    ['tracing: { endpoint: x }', 'tracing.endpoint'],
  ];
  for (const [yaml, key] of unknownKeys) {
    it(`refuses an unknown key with its full path: ${key}`, () => {
      const dir = tmp();
      refused(configFile(dir, `${yaml}\n`), dir, key, /: is not a known setting \(known: [a-zA-Z_, ]+\)$/);
    });
  }

  it('a variable wins over the file key it sets; an empty variable is unset', () => {
    const dir = tmp();
    const file = configFile(
      dir,
      'stats_interval_ms: 2000\ncreate_defaults: { scheduler_max_attempts: 5, service_down_time_s: 30 }\n' +
        'log_level: warn\nfault_injection: true\nquota_volumes: 3\n',
    );
    const c = loadConfig(
      { ...file, CINDER_STATS_INTERVAL_MS: '500', CINDER_SCHEDULER_MAX_ATTEMPTS: '2', CINDER_LOG_LEVEL: 'DEBUG' },
      dir,
    );
    assert.equal(c.stats_interval_ms, 500);
    assert.equal(c.create_defaults.scheduler_max_attempts, 2);
    assert.equal(c.create_defaults.service_down_time_s, 30, 'what no variable sets stays the file value');
    assert.equal(c.log_level, 'debug');
    assert.equal(c.quota_defaults.volumes, 3);
    const empty = loadConfig({ ...file, CINDER_FAULT_INJECTION: '', CINDER_QUOTA_VOLUMES: '' }, dir);
    assert.equal(empty.fault_injection, true);
    assert.equal(empty.quota_defaults.volumes, 3);
    assert.equal(loadConfig({ ...file, CINDER_FAULT_INJECTION: 'off' }, dir).fault_injection, false);
  });

  it('a bad value is named by the variable it came from, or by the file key', () => {
    const dir = tmp();
    refused({ HOME: dir, CINDER_SCHEDULER_MAX_ATTEMPTS: '0' }, dir, 'CINDER_SCHEDULER_MAX_ATTEMPTS', /from 1 to 10/);
    refused(
      configFile(dir, 'create_defaults: { scheduler_max_attempts: 0 }\n'),
      dir,
      'create_defaults.scheduler_max_attempts',
      /must be a whole number from 1 to 10, got 0$/,
    );
    refused({ HOME: dir, CINDER_DEV_SERVER_PORT: '99999' }, dir, 'CINDER_DEV_SERVER_PORT', /a port 1\.\.65535/);
    refused({ HOME: dir, CINDER_STATS_INTERVAL_MS: 'soon' }, dir, 'CINDER_STATS_INTERVAL_MS', /whole number >= 0/);
    refused(
      configFile(dir, 'create_defaults: { scheduler_default_filters: [CapacityFilter, Bogus] }\n'),
      dir,
      'create_defaults.scheduler_default_filters[1]',
      /must be one of AvailabilityZoneFilter/,
    );
    refused(
      configFile(dir, `backends: [{ host: nohost, pools: [{ name: p, path: /tmp/p, total_capacity_gb: 1 }] }]\n`),
      dir,
      'backends[0].host',
      /^backends\[0\]\.host: must look like 'host@backend'/,
    );
  });

  it('a key left empty in YAML (null) counts as left out', () => {
    const dir = tmp();
    const c = loadConfig(configFile(dir, 'log_level:\ncreate_defaults:\n  scheduler_max_attempts:\n'), dir);
    assert.equal(c.log_level, 'info');
    assert.equal(c.create_defaults.scheduler_max_attempts, DEFAULT_CREATE_OPTIONS.scheduler_max_attempts);
  });

  it('with nothing configured, every setting is its declared default', () => {
    const dir = tmp();
    const c = loadConfig({ HOME: dir }, dir);
    const withDefault = SETTINGS.filter((s) => 'defaultValue' in s);
    assert.ok(withDefault.length > 20, `${withDefault.length} settings declare a default`);
    // Where AppConfig holds a setting under another name: Cinder's quota resource names.
    const held: Record<string, string> = {
      quota_volumes: 'quota_defaults.volumes',
      quota_gigabytes: 'quota_defaults.gigabytes',
    };
    for (const s of withDefault) {
      if (s.key.includes('[]')) continue; // a key of list items: no item exists unless configured
      if (s.key === 'quota_volume_types') continue; // folded into quota_defaults, checked below
      if (s.key.startsWith('versioning.')) continue; // a section absent unless configured, checked below
      const expected = s.key === 'data_dir' ? path.resolve(dir, String(s.defaultValue)) : s.defaultValue;
      assert.deepEqual(at(c, held[s.key] ?? s.key), expected, s.key);
    }
    assert.deepEqual(c.create_defaults, DEFAULT_CREATE_OPTIONS);
    assert.deepEqual(c.request_limits, DEFAULT_REQUEST_LIMITS);
    assert.deepEqual(c.quota_defaults, { volumes: 10, gigabytes: 1000 });
    const versioned = loadConfig({ HOME: dir, TEMPORAL_DEPLOYMENT_NAME: 'd', TEMPORAL_WORKER_BUILD_ID: 'b' }, dir);
    assert.equal(
      versioned.versioning?.default_behavior,
      SETTINGS.find((s) => s.key === 'versioning.default_behavior')?.defaultValue,
    );
  });

  it('ENV_SETTINGS and --help come from the declaration', () => {
    const declared = SETTINGS.filter((s) => s.env);
    assert.deepEqual(
      Object.keys(ENV_SETTINGS),
      declared.map((s) => s.env),
    );
    for (const s of declared) {
      assert.equal(ENV_SETTINGS[s.env!].setting, s.key);
      assert.ok(USAGE.includes(`${s.env!.padEnd(36)} ${helpLine(s)}\n`), `--help shows ${s.env}: ${helpLine(s)}`);
      assert.ok(!helpLine(s).includes('`'), 'no markdown in --help');
    }
    assert.match(helpLine(SETTINGS.find((s) => s.key === 'log_level')!), /\(default "info"\)$/);
  });

  it('each variable is declared once, each key once', () => {
    const envs = SETTINGS.flatMap((s) => (s.env ? [s.env] : []));
    assert.equal(new Set(envs).size, envs.length);
    const keys = SETTINGS.map((s) => s.key);
    assert.equal(new Set(keys).size, keys.length);
  });
});

// The types are inferred from the schemas; these fail to compile (npm test typechecks) when an
// inferred type drifts from the shape callers use.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const requestShape: Same<
  CreateVolumeRequest,
  {
    volume_id: string;
    request_id?: string;
    project_id: string;
    size: number;
    name?: string;
    description?: string;
    volume_type?: string;
    availability_zone?: string;
    snapshot_id?: string;
    source_volid?: string;
    image_id?: string;
    metadata?: Record<string, string>;
  }
> = true;
const optionKeys: Same<keyof CreateOptions, keyof typeof DEFAULT_CREATE_OPTIONS> = true;
const backendInput: Same<BackendConfig['pools'][number]['total_capacity_gb'], number> = true;
const resolvedPool: Same<ResolvedBackendConfig['pools'][number]['thick_provisioning'], boolean> = true;
void [requestShape, optionKeys, backendInput, resolvedPool];
