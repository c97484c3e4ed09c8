/**
 * The Temporal connection as @temporalio/envconfig loads it: a temporal.toml profile with TLS files
 * and an API key, the variables users set before envconfig (TEMPORAL_ADDRESS, TEMPORAL_TLS_*_PATH,
 * TEMPORAL_API_KEY) and the CINDER_CONFIG `temporal:` section, checked by the connection options
 * the SDK gets (no cluster needed).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config';
import { connectionOptions } from '../../src/temporal-connection';

const PEM = {
  ca: '-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n',
  crt: '-----BEGIN CERTIFICATE-----\nCLIENT\n-----END CERTIFICATE-----\n',
  key: '-----BEGIN PRIVATE KEY-----\nKEY\n-----END PRIVATE KEY-----\n',
};

function dirWithCerts(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-envconfig-'));
  fs.writeFileSync(path.join(dir, 'ca.pem'), PEM.ca);
  fs.writeFileSync(path.join(dir, 'client.pem'), PEM.crt);
  fs.writeFileSync(path.join(dir, 'client.key'), PEM.key);
  return dir;
}

function writeToml(dir: string, text: string): string {
  const file = path.join(dir, 'temporal.toml');
  fs.writeFileSync(file, text);
  return file;
}

const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('utf8') : undefined);

type Tls = {
  clientCertPair?: { crt: Uint8Array; key: Uint8Array };
  serverRootCACertificate?: Uint8Array;
  serverNameOverride?: string;
};

function cloudToml(dir: string): string {
  return writeToml(
    dir,
    `[profile.default]
address = "127.0.0.1:1"

[profile.cloud]
address = "my-ns.a1b2c.tmprl.cloud:7233"
namespace = "my-ns.a1b2c"
api_key = "key-from-profile"

[profile.cloud.tls]
client_cert_path = "${path.join(dir, 'client.pem')}"
client_key_path = "${path.join(dir, 'client.key')}"
server_ca_cert_path = "${path.join(dir, 'ca.pem')}"
server_name = "my-ns.a1b2c.tmprl.cloud"

[profile.cloud.grpc_meta]
x-tenant = "blue"
`,
  );
}

describe('Temporal connection through @temporalio/envconfig', () => {
  it('a temporal.toml profile with TLS files and an API key becomes the SDK connection options', () => {
    const dir = dirWithCerts();
    const file = cloudToml(dir);
    const config = loadConfig({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' }, dir);
    assert.equal(config.temporal.address, 'my-ns.a1b2c.tmprl.cloud:7233');
    assert.equal(config.temporal.namespace, 'my-ns.a1b2c');
    assert.deepEqual(config.temporal.profile, { name: 'cloud', file });
    const options = connectionOptions(config);
    assert.equal(options.address, 'my-ns.a1b2c.tmprl.cloud:7233');
    assert.equal(options.apiKey, 'key-from-profile');
    assert.deepEqual(options.metadata, { 'x-tenant': 'blue' });
    const tls = options.tls as Tls;
    assert.equal(text(tls.clientCertPair?.crt), PEM.crt);
    assert.equal(text(tls.clientCertPair?.key), PEM.key);
    assert.equal(text(tls.serverRootCACertificate), PEM.ca);
    assert.equal(tls.serverNameOverride, 'my-ns.a1b2c.tmprl.cloud');
  });

  it('variables override the profile, field by field', () => {
    const dir = dirWithCerts();
    const file = cloudToml(dir);
    const config = loadConfig(
      {
        TEMPORAL_CONFIG_FILE: file,
        TEMPORAL_PROFILE: 'cloud',
        TEMPORAL_ADDRESS: 'other:7233',
        TEMPORAL_API_KEY: 'key-from-env',
        TEMPORAL_TLS_CLIENT_CERT_DATA: 'INLINE',
      },
      dir,
    );
    const options = connectionOptions(config);
    assert.equal(options.address, 'other:7233');
    assert.equal(options.apiKey, 'key-from-env');
    assert.equal(config.temporal.namespace, 'my-ns.a1b2c', "what no variable sets stays the profile's");
    const tls = options.tls as Tls;
    assert.equal(
      text(tls.clientCertPair?.crt),
      'INLINE',
      "TEMPORAL_TLS_CLIENT_CERT_DATA replaces the profile's cert path",
    );
    assert.equal(text(tls.clientCertPair?.key), PEM.key);
  });

  it('the "default" profile of the default file (~/.config/temporalio/temporal.toml) applies without any variable', () => {
    const home = dirWithCerts();
    fs.mkdirSync(path.join(home, '.config', 'temporalio'), { recursive: true });
    fs.writeFileSync(
      path.join(home, '.config', 'temporalio', 'temporal.toml'),
      '[profile.default]\naddress = "from-home:7233"\nnamespace = "ns-home"\n',
    );
    const config = loadConfig({ HOME: home }, home);
    assert.equal(config.temporal.address, 'from-home:7233');
    assert.equal(config.temporal.namespace, 'ns-home');
    assert.equal(config.temporal.profile?.name, 'default');
    // No file at all: the local defaults, no TLS.
    const bare = loadConfig({ HOME: fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-nohome-')) }, home);
    assert.equal(bare.temporal.address, '127.0.0.1:7233');
    assert.equal(bare.temporal.profile, undefined);
    assert.deepEqual(connectionOptions(bare), { address: '127.0.0.1:7233' });
  });

  it('the variables users set before envconfig keep working, with no file', () => {
    const dir = dirWithCerts();
    const env = {
      HOME: dir,
      TEMPORAL_ADDRESS: 'temporal.example:7233',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_TLS_CLIENT_CERT_PATH: 'client.pem', // relative: to the working directory
      TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'client.key'),
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(dir, 'ca.pem'),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example',
    };
    const config = loadConfig(env, dir);
    assert.equal(config.temporal.namespace, 'prod');
    const options = connectionOptions(config);
    assert.equal(options.address, 'temporal.example:7233');
    assert.equal(options.apiKey, undefined);
    const tls = options.tls as Tls;
    assert.equal(text(tls.clientCertPair?.crt), PEM.crt);
    assert.equal(text(tls.serverRootCACertificate), PEM.ca);
    assert.equal(tls.serverNameOverride, 'temporal.example');
    // An API key alone turns TLS on (Temporal Cloud); TEMPORAL_TLS=false turns it off again.
    const cloud = connectionOptions(loadConfig({ HOME: dir, TEMPORAL_ADDRESS: 'x:7233', TEMPORAL_API_KEY: 'k' }, dir));
    assert.equal(cloud.tls, true);
    assert.equal(cloud.apiKey, 'k');
    assert.equal(
      connectionOptions(loadConfig({ HOME: dir, TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' }, dir)).tls,
      false,
    );
    // An empty variable is unset, as for every other setting.
    assert.equal(loadConfig({ HOME: dir, TEMPORAL_ADDRESS: '' }, dir).temporal.address, '127.0.0.1:7233');
  });

  it('the temporal: section of CINDER_CONFIG sits between the profile and the variables', () => {
    const dir = dirWithCerts();
    const file = cloudToml(dir);
    fs.writeFileSync(
      path.join(dir, 'cinder.yaml'),
      `temporal:\n  config_file: ${file}\n  profile: cloud\n  namespace: from-yaml\n`,
    );
    const config = loadConfig({ HOME: dir, CINDER_CONFIG: 'cinder.yaml', TEMPORAL_API_KEY: 'env' }, dir);
    assert.equal(config.temporal.address, 'my-ns.a1b2c.tmprl.cloud:7233');
    assert.equal(config.temporal.namespace, 'from-yaml');
    assert.equal(connectionOptions(config).apiKey, 'env');
  });

  it('every mistake names its variable or key', () => {
    const dir = dirWithCerts();
    const file = cloudToml(dir);
    const fails = (env: NodeJS.ProcessEnv, setting: string, msg: RegExp) =>
      assert.throws(
        () => loadConfig({ HOME: dir, ...env }, dir),
        (e: unknown) => e instanceof ConfigError && e.setting === setting && msg.test(e.message),
      );
    fails(
      { TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' },
      'TEMPORAL_PROFILE',
      /no profile 'staging'.*profiles: default, cloud/,
    );
    fails({ TEMPORAL_CONFIG_FILE: path.join(dir, 'missing.toml') }, 'TEMPORAL_CONFIG_FILE', /no Temporal config file/);
    const typo = writeToml(
      fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-typo-')),
      '[profile.default.tls]\nclient_cert_pth = "x"\n',
    );
    fails({ TEMPORAL_CONFIG_FILE: typo }, 'TEMPORAL_CONFIG_FILE', /client_cert_pth/);
    fails(
      { TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'client.pem') },
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      /go together/,
    );
    fails(
      {
        TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(dir, 'nope.pem'),
        TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'client.key'),
      },
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      /no file at/,
    );
    fs.writeFileSync(path.join(dir, 'typo.yaml'), 'temporal:\n  tls:\n    client_cert_pth: x\n');
    fails({ CINDER_CONFIG: 'typo.yaml' }, 'temporal.tls.client_cert_pth', /not a known setting/);
  });
});
