import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, ENV_SETTINGS, loadConfig } from '../../src/config/config';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));

describe('loadConfig', () => {
  it('built-in defaults: no backends, no fault injection, SQLite under .data, Cinder defaults', () => {
    const dir = tmp();
    const c = loadConfig({}, dir);
    assert.deepEqual(c.backends, [], 'backends come only from the configuration');
    assert.equal(c.fault_injection, false, 'fault injection is off unless configured');
    assert.equal(c.connect_deadline_ms, 300_000);
    assert.equal(c.database_url, `sqlite:${path.join(dir, '.data', 'cinder.db')}`);
    assert.equal(c.temporal.address, '127.0.0.1:7233');
    assert.equal(c.create_defaults.scheduler_max_attempts, 3);
    assert.equal(c.create_defaults.ignore_attempted_hosts, true);
    assert.equal(c.scheduler_task_queue, 'cinder-scheduler');
  });
  it("the demo's defaults (npm start): two file backends under .data, fault injection on", () => {
    const dir = tmp();
    const c = loadConfig({}, dir, { demo: true });
    assert.deepEqual(
      c.backends.map((b) => b.host),
      ['hostA@lvm', 'hostB@lvm'],
    );
    assert.equal(c.backends[0].pools[0].path, path.join(dir, '.data', 'backends', 'hostA', 'pool1'));
    assert.equal(c.fault_injection, true);
    // The demo's defaults give way to the configuration.
    assert.equal(loadConfig({ CINDER_FAULT_INJECTION: 'off' }, dir, { demo: true }).fault_injection, false);
    fs.writeFileSync(
      path.join(dir, 'one.yaml'),
      'backends:\n  - host: only@lvm\n    pools: [{ name: p, path: /tmp/p, total_capacity_gb: 1 }]\n',
    );
    assert.deepEqual(
      loadConfig({ CINDER_CONFIG: 'one.yaml' }, dir, { demo: true }).backends.map((b) => b.host),
      ['only@lvm'],
    );
  });
  it('fault injection: on from the file or CINDER_FAULT_INJECTION; anything but a boolean is refused', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'on.yaml'), 'fault_injection: true\n');
    fs.writeFileSync(path.join(dir, 'bad.yaml'), 'fault_injection: sometimes\n');
    assert.equal(loadConfig({ CINDER_CONFIG: 'on.yaml' }, dir).fault_injection, true);
    assert.equal(loadConfig({ CINDER_FAULT_INJECTION: '1' }, dir).fault_injection, true);
    assert.equal(
      loadConfig({ CINDER_CONFIG: 'on.yaml', CINDER_FAULT_INJECTION: '0' }, dir).fault_injection,
      false,
      'the environment wins',
    );
    assert.throws(
      () => loadConfig({ CINDER_FAULT_INJECTION: 'maybe' }, dir),
      (e: unknown) => e instanceof ConfigError && e.setting === 'CINDER_FAULT_INJECTION',
    );
    assert.throws(
      () => loadConfig({ CINDER_CONFIG: 'bad.yaml' }, dir),
      (e: unknown) => e instanceof ConfigError && e.setting === 'fault_injection',
    );
    assert.equal(loadConfig({ CINDER_CONNECT_DEADLINE_MS: '5000' }, dir).connect_deadline_ms, 5000);
    assert.throws(
      () => loadConfig({ CINDER_CONNECT_DEADLINE_MS: 'soon' }, dir),
      (e: unknown) => e instanceof ConfigError && e.setting === 'CINDER_CONNECT_DEADLINE_MS',
    );
  });
  it('the environment overrides the file, which overrides the defaults', () => {
    const dir = tmp();
    fs.writeFileSync(
      path.join(dir, 'c.yaml'),
      'scheduler_task_queue: from-file\ncreate_defaults:\n  scheduler_max_attempts: 5\n',
    );
    const c = loadConfig(
      {
        CINDER_CONFIG: 'c.yaml',
        CINDER_SCHEDULER_MAX_ATTEMPTS: '2',
        CINDER_IGNORE_ATTEMPTED_HOSTS: 'false',
        TEMPORAL_ADDRESS: 'temporal:7233',
      },
      dir,
    );
    assert.equal(c.scheduler_task_queue, 'from-file');
    assert.equal(c.create_defaults.scheduler_max_attempts, 2);
    assert.equal(c.create_defaults.ignore_attempted_hosts, false);
    assert.equal(c.temporal.address, 'temporal:7233');
  });
  it('every mistake names its setting', () => {
    const dir = tmp();
    const fails = (env: NodeJS.ProcessEnv, setting: string, text: RegExp) =>
      assert.throws(
        () => loadConfig(env, dir),
        (e: unknown) => e instanceof ConfigError && e.setting === setting && text.test(e.message),
      );
    fails({ CINDER_SCHEDULER_MAX_ATTEMPTS: 'three' }, 'CINDER_SCHEDULER_MAX_ATTEMPTS', /whole number/);
    fails({ CINDER_IGNORE_ATTEMPTED_HOSTS: 'maybe' }, 'CINDER_IGNORE_ATTEMPTED_HOSTS', /true or false/);
    fails({ CINDER_CONFIG: 'missing.yaml' }, 'CINDER_CONFIG', /cannot read/);
    fs.writeFileSync(path.join(dir, 'typo.yaml'), 'scheduler_taskqueue: x\n');
    fails({ CINDER_CONFIG: 'typo.yaml' }, 'scheduler_taskqueue', /not a known setting/);
    fs.writeFileSync(path.join(dir, 'bad-backend.yaml'), 'backends:\n  - host: nohost\n    pools: []\n');
    assert.throws(
      () => loadConfig({ CINDER_CONFIG: 'bad-backend.yaml' }, dir),
      (e: unknown) => e instanceof ConfigError && /backends\[0\]\.host/.test(e.message),
    );
    fs.writeFileSync(path.join(dir, 'bad-opt.yaml'), 'create_defaults:\n  scheduler_max_attempts: 0\n');
    assert.throws(
      () => loadConfig({ CINDER_CONFIG: 'bad-opt.yaml' }, dir),
      (e: unknown) => e instanceof ConfigError && /scheduler_max_attempts/.test(e.message),
    );
  });
  it('every documented environment variable sets a setting', () => {
    for (const [name, s] of Object.entries(ENV_SETTINGS)) {
      assert.match(s.setting, /^[a-z_]+(\.[a-z_]+)*$/, name);
      assert.ok(s.doc.length > 10, name);
    }
  });
});
