/**
 * The operator's rough edges, without a cluster: the type said once, each attempt's outcome line,
 * fault rules that are used up and cleared, the webpack report as one event, quota defaults and the
 * dev server's ports from the configuration, the UI-links note, quota tables.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { uiLinksNote } from '../../src/cli/demo';
import { deleteProgressLine } from '../../src/cli/delete-commands';
import { faultCommands, liveFaultRules } from '../../src/cli/fault-commands';
import { quotaShowTable, quotaUsageTable } from '../../src/cli/quota-commands';
import { attemptOutcomeLine, historyText, withType } from '../../src/cli/views';
import type { VolumeHistory } from '../../src/client/history';
import { ConfigError, devServerPorts, loadConfig } from '../../src/config/config';
import type { FaultRule } from '../../src/domain/faults';
import { sdkLogRecord } from '../../src/observability/telemetry';
import { openVolumeStore } from '../../src/store';

describe('the type is said once', () => {
  it('withType adds the type only when the message does not start with it', () => {
    assert.equal(withType('ImageCopyFailure', 'copy failed'), 'ImageCopyFailure: copy failed');
    assert.equal(
      withType('ImageCopyFailure', 'ImageCopyFailure: copy failed (not rescheduled)'),
      'ImageCopyFailure: copy failed (not rescheduled)',
    );
    assert.equal(
      withType('ImageCopyFailure', 'ImageCopyFailure: ImageCopyFailure: copy failed'),
      'ImageCopyFailure: copy failed',
    );
    // Another type at the start is part of the text: kept, and prefixed.
    assert.equal(
      withType('NoValidBackend', 'VolumeBackendAPIException: x'),
      'NoValidBackend: VolumeBackendAPIException: x',
    );
  });

  it("history's error lines do not repeat the type whichever form the workflow message has", () => {
    const h = {
      volume_id: 'v1',
      workflow_id: 'create-volume-v1',
      status: 'error',
      backend_id: 'h@b#p',
      max_attempts: 3,
      runs: [{}],
      request: null,
      api: { steps: [], compensations: [] },
      attempts: [
        {
          attempt: 1,
          backend_id: 'h@b#p',
          outcome: 'failed',
          error_type: 'ImageCopyFailure',
          error: 'ImageCopyFailure: copy failed',
          compensations: [],
          rescheduled: null,
        },
      ],
      scheduling_failure: null,
      cancel_requested_at: null,
      cleanup_workflows: [],
      error: {
        type: 'ImageCopyFailure',
        message: 'ImageCopyFailure: copy failed (not rescheduled: ImageCopyFailure is a no-reschedule failure)',
      },
    } as unknown as VolumeHistory;
    const text = historyText(h);
    assert.doesNotMatch(text, /ImageCopyFailure: ImageCopyFailure/);
    assert.match(text, /^ {2}error: ImageCopyFailure: copy failed$/m);
    assert.match(text, /^Create failed: ImageCopyFailure: copy failed \(not rescheduled/m);
  });
});

describe("each attempt's outcome", () => {
  it('a failed attempt says its error and what happened to its volume', () => {
    assert.equal(
      attemptOutcomeLine(
        {
          attempt: 1,
          backend_id: 'hA@lvm#p',
          outcome: 'failed',
          error_type: 'VolumeBackendAPIException',
          cleanup: 'nothing to delete',
        },
        3,
      ),
      'attempt 1 of 3 on hA@lvm#p: failed (VolumeBackendAPIException; nothing to delete)',
    );
    assert.equal(
      attemptOutcomeLine({ attempt: 2, backend_id: 'hB@lvm#p', outcome: 'succeeded' }, 3),
      'attempt 2 of 3 on hB@lvm#p: succeeded',
    );
  });

  it('a delete reads its phase', () => {
    assert.equal(
      deleteProgressLine({
        volume_id: 'v',
        status: 'deleting',
        phase: 'waiting for the volume service',
        backend_id: 'h@b#p',
        create_cancelled: false,
        last_error: { type: 'BackendUnavailable', message: 'the volume service of h@b is down' },
      }),
      'deleting: waiting for the volume service (h@b#p), the volume service of h@b is down',
    );
  });
});

describe('faults', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-cli-'));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const rule = (id: number, remaining: number | null): FaultRule => ({
    id,
    host: 'h@b',
    op: 'create',
    action: 'error',
    remaining,
  });

  it('list leaves out used-up rules unless --all', () => {
    const rules = [rule(1, 0), rule(2, 1), rule(3, null)];
    assert.deepEqual(
      liveFaultRules(rules).map((r) => r.id),
      [2, 3],
    );
    assert.deepEqual(
      liveFaultRules(rules, true).map((r) => r.id),
      [1, 2, 3],
    );
  });

  it('clear says how many rules it removed; list shows what may still fire', async () => {
    const url = `sqlite:${path.join(dir, 'cinder.db')}`;
    const saved = process.env.CINDER_DATABASE_URL;
    process.env.CINDER_DATABASE_URL = url;
    try {
      const store = await openVolumeStore(url);
      await store.addFaultRule({ host: 'hostA@lvm', op: 'create', action: 'error', remaining: 1 });
      await store.addFaultRule({ host: 'hostA@lvm', op: 'create', action: 'error', remaining: 1 });
      await store.addFaultRule({ host: 'hostB@lvm', op: 'delete', action: 'error', remaining: null });
      assert.ok(await store.takeFault('hostA@lvm', 'create', null)); // one rule of A used up
      await store.close();
      const lines: string[] = [];
      const { faults } = faultCommands((l) => lines.push(l));
      assert.equal(await faults.run(['list', '--json']), 0);
      assert.deepEqual(
        (JSON.parse(lines.pop()!) as FaultRule[]).map((r) => [r.host, r.remaining]),
        [
          ['hostA@lvm', 1],
          ['hostB@lvm', null],
        ],
      );
      assert.equal(await faults.run(['list', '--all', '--json']), 0);
      assert.equal((JSON.parse(lines.pop()!) as FaultRule[]).length, 3);
      assert.equal(await faults.run(['clear', '--backend', 'hostA@lvm']), 0);
      assert.equal(lines.pop(), 'cleared 2 fault rules of hostA@lvm');
      assert.equal(await faults.run(['clear']), 0);
      assert.equal(lines.pop(), 'cleared 1 fault rule');
    } finally {
      if (saved === undefined) delete process.env.CINDER_DATABASE_URL;
      else process.env.CINDER_DATABASE_URL = saved;
    }
  });
});

describe('worker log', () => {
  it("webpack's report is one debug event with its lines as a field, not one huge info line", () => {
    const report =
      'asset workflow-bundle-1.js 1.2 MiB [emitted]\nruntime modules 1 KiB\nwebpack 5.99 compiled successfully in 900 ms\n';
    const r = sdkLogRecord('INFO', report, { sdkComponent: 'worker' });
    assert.equal(r.method, 'debug');
    assert.deepEqual(r.fields.report, [
      'asset workflow-bundle-1.js 1.2 MiB [emitted]',
      'runtime modules 1 KiB',
      'webpack 5.99 compiled successfully in 900 ms',
    ]);
    assert.ok(!r.message.includes('\n'));
    assert.match(r.message, /^webpack report \(3 lines\): webpack 5\.99 compiled successfully/);
    // A multi-line error stays an error; a one-line message is untouched.
    assert.equal(sdkLogRecord('ERROR', 'ERROR in x\nModule not found', undefined).method, 'error');
    assert.deepEqual(sdkLogRecord('INFO', 'Workflow bundle created', { size: '1MB' }), {
      method: 'info',
      fields: { size: '1MB' },
      message: 'Workflow bundle created',
    });
  });
});

describe('configuration', () => {
  it("quota defaults: Cinder's quota_volumes and quota_gigabytes, per volume type, -1 unlimited", () => {
    assert.deepEqual(loadConfig({}).quota_defaults, { volumes: 10, gigabytes: 1000 });
    assert.deepEqual(loadConfig({ CINDER_QUOTA_VOLUMES: '-1', CINDER_QUOTA_GIGABYTES: '50' }).quota_defaults, {
      volumes: -1,
      gigabytes: 50,
    });
    assert.throws(
      () => loadConfig({ CINDER_QUOTA_VOLUMES: '-2' }),
      (e: unknown) => e instanceof ConfigError && /^CINDER_QUOTA_VOLUMES: must be a whole number >= -1/.test(e.message),
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quota-config-'));
    try {
      const file = path.join(dir, 'c.yaml');
      fs.writeFileSync(file, 'quota_volumes: 20\nquota_volume_types:\n  ssd: { volumes: 5, gigabytes: 100 }\n');
      assert.deepEqual(loadConfig({ CINDER_CONFIG: file }).quota_defaults, {
        volumes: 20,
        gigabytes: 1000,
        volumes_ssd: 5,
        gigabytes_ssd: 100,
      });
      fs.writeFileSync(file, 'quota_volume_types:\n  ssd: { snapshots: 5 }\n');
      assert.throws(
        () => loadConfig({ CINDER_CONFIG: file }),
        /quota_volume_types\.ssd\.snapshots: is not a known setting/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('one way to move both dev server ports, for npm start and dev-server alike', () => {
    assert.deepEqual(devServerPorts(loadConfig({})), { ip: '127.0.0.1', port: 7233, uiPort: 8233 });
    const moved = loadConfig({ CINDER_DEV_SERVER_PORT: '7300', CINDER_DEV_SERVER_UI_PORT: '8400' });
    assert.deepEqual(devServerPorts(moved), { ip: '127.0.0.1', port: 7300, uiPort: 8400 });
    // The workers and the CLI connect to it too.
    assert.equal(moved.temporal.address, '127.0.0.1:7300');
    assert.deepEqual(devServerPorts(loadConfig({ CINDER_DEV_SERVER_PORT: '7300' })), {
      ip: '127.0.0.1',
      port: 7300,
      uiPort: 8300,
    });
    assert.throws(() => loadConfig({ CINDER_DEV_SERVER_PORT: '70000' }), /CINDER_DEV_SERVER_PORT: must be a port/);
  });
});

describe('npm start', () => {
  it('says that the UI links die with the server it started, and how to keep them', () => {
    assert.match(uiLinksNote('cache') ?? '', /stops when this command exits.*npx cinder-temporal dev-server/);
    assert.equal(uiLinksNote('reused'), null, 'a server it reused keeps running');
    assert.equal(uiLinksNote(null), null, 'a cluster of its own (TEMPORAL_ADDRESS)');
  });
});

describe('quota tables', () => {
  it("are cinder quota-show's and quota-usage's", () => {
    const rows = [
      { resource: 'gigabytes', limit: 1000, in_use: 3, reserved: 1 },
      { resource: 'volumes', limit: -1, in_use: 2, reserved: 0 },
    ];
    assert.equal(quotaShowTable(rows).split('\n')[3], '| gigabytes | 1000  |');
    assert.deepEqual(quotaUsageTable(rows).split('\n').slice(1, 5), [
      '| Type      | In_use | Reserved | Limit |',
      '+-----------+--------+----------+-------+',
      '| gigabytes | 3      | 1        | 1000  |',
      '| volumes   | 2      | 0        | -1    |',
    ]);
  });
});
