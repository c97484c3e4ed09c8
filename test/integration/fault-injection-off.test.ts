/**
 * Fault injection off, as in production: volume workers configured without fault_injection never
 * look at the fault rules. Counted at the database: backend B's volume role runs in this process,
 * built by worker.ts's own volumeWorker over a store whose connection records every statement, and
 * serves real creates and a compensation delete; not one statement touches fault_rules. Backend C,
 * the same with fault injection on, shows the count is not zero by construction. Backend A is a
 * real worker process with injection off: `faults add` refuses it, and a rule forced into the
 * database does not fire. Each backend has its own zone, so a create picks its backend by zone.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import pino from 'pino';
import { loadConfig, type AppConfig } from '../../src/config/config';
import { WorkerHealth } from '../../src/observability/health';
import { SqlVolumeStore, type SqlConnection, type SqlExecutor, type TransactionKind } from '../../src/store';
import { SqliteConnection } from '../../src/store/sqlite-connection';
import { volumeWorker } from '../../src/worker';
import { eventually, expectCreateFailure, startCluster, type Cluster } from '../support/cluster';
import { runCli } from '../support/run-process';

/** A connection that records the text of every statement sent through it or its transactions. */
class CountingConnection implements SqlConnection {
  readonly statements: string[] = [];
  constructor(private readonly inner: SqlConnection) {}

  private record(target: SqlExecutor): SqlExecutor {
    return {
      all: (sql, params) => (this.statements.push(sql), target.all(sql, params)),
      get: (sql, params) => (this.statements.push(sql), target.get(sql, params)),
      run: (sql, params) => (this.statements.push(sql), target.run(sql, params)),
    };
  }
  all<R>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return this.record(this.inner).all<R>(sql, params);
  }
  get<R>(sql: string, params?: readonly unknown[]): Promise<R | undefined> {
    return this.record(this.inner).get<R>(sql, params);
  }
  run(sql: string, params?: readonly unknown[]): Promise<void> {
    return this.record(this.inner).run(sql, params);
  }
  transaction<T>(kind: TransactionKind, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.inner.transaction(kind, (tx) => fn(this.record(tx)));
  }
  isUniqueViolation(err: unknown, index: string): boolean {
    return this.inner.isUniqueViolation(err, index);
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  faultRuleStatements(): string[] {
    return this.statements.filter((s) => /fault_rules/i.test(s));
  }
}

describe('fault injection off: no fault-rule query, faults add refused', { timeout: 300_000 }, () => {
  let c: Cluster;
  let connection: NativeConnection;
  const inProcess: Array<{
    worker: Worker;
    run: Promise<void>;
    stop(): void;
    counted: CountingConnection;
    store: SqlVolumeStore;
  }> = [];

  async function startInProcess(name: string, config: AppConfig) {
    const counted = new CountingConnection(new SqliteConnection(c.dbPath));
    const store = new SqlVolumeStore(counted);
    const health = new WorkerHealth({ scheduler: false, backends: [c.host(name)] }, 5000);
    const logger = pino({ level: 'warn' });
    const { worker, reporter } = await volumeWorker(config, c.host(name), connection, store, logger, {
      metrics: null,
      health,
    });
    const entry = { worker, run: worker.run(), stop: () => reporter.stop(), counted, store };
    inProcess.push(entry);
    return entry;
  }

  before(async () => {
    c = await startCluster({
      backends: [
        { name: 'A', availability_zone: 'zone-a' },
        { name: 'B', availability_zone: 'zone-b' },
        { name: 'C', availability_zone: 'zone-c' },
      ],
      faultInjection: false,
      startVolumeWorkers: false,
    });
    await c.startVolumeWorker('A');
    // The in-process workers' SDK lines: warnings only, so the test output stays readable.
    Runtime.install({ logger: new DefaultLogger('WARN') });
    connection = await NativeConnection.connect({ address: c.address });
  });

  after(async () => {
    for (const p of inProcess) {
      p.stop();
      p.worker.shutdown();
      await p.run;
      await p.store.close();
    }
    await connection?.close();
    await c?.stopAfterLeakCheck();
  });

  const cli = (args: string[]) => runCli(args, c.env);

  it('a create and a compensation delete with fault injection off run no fault-rule statement', async () => {
    const config = loadConfig({ CINDER_CONFIG: c.configFile, TEMPORAL_ADDRESS: c.address });
    assert.equal(config.fault_injection, false, "the cluster's configuration has fault injection off");
    const b = await startInProcess('B', config);
    await eventually(
      async () => (await c.store.listPools()).some((p) => p.host === c.host('B')),
      30_000,
      "B's pools reported",
    );
    // A rule that would fail every create on B, if anything read it.
    await c.store.addFaultRule({ host: c.host('B'), op: 'create', action: 'error', remaining: null });
    const before = b.counted.statements.length;

    const ok = await c.create({ name: 'off-plain', size: 1, availability_zone: 'zone-b' });
    assert.equal((await ok.result()).backend_id, c.pool('B').backend_id);
    // An image whose file is gone: the volume is created, the copy fails (ImageCopyFailure, no
    // reschedule), and the compensation deletes the volume on B.
    const imageId = `image-gone-${c.id}`;
    await c.store.putImage({
      id: imageId,
      name: 'gone',
      size_gb: 1,
      disk_format: 'raw',
      status: 'active',
      path: path.join(c.dir, 'no-such-image.raw'),
    });
    const failed = await c.create({ name: 'off-copy-fails', size: 1, availability_zone: 'zone-b', image_id: imageId });
    const err = await expectCreateFailure(failed, 'ImageCopyFailure');
    assert.equal(err.state!.attempts[0].cleanup, 'deleted', 'the delete ran on B');

    const during = b.counted.statements.slice(before);
    assert.ok(
      during.some((s) => /INSERT INTO events/i.test(s)),
      'the volume role wrote its events through the counted connection',
    );
    assert.deepEqual(b.counted.faultRuleStatements(), [], 'not one statement on fault_rules');
    assert.equal(await c.store.getServiceFaultInjection(c.host('B')), false, 'B reports fault injection off');
  });

  it('the same create with fault injection on does query the fault rules (the count can fail)', async () => {
    const config = {
      ...loadConfig({ CINDER_CONFIG: c.configFile, TEMPORAL_ADDRESS: c.address }),
      fault_injection: true,
    };
    const cc = await startInProcess('C', config);
    await eventually(
      async () => (await c.store.listPools()).some((p) => p.host === c.host('C')),
      30_000,
      "C's pools reported",
    );
    const h = await c.create({ name: 'on-plain', size: 1, availability_zone: 'zone-c' });
    assert.equal((await h.result()).backend_id, c.pool('C').backend_id);
    assert.ok(
      cc.counted.faultRuleStatements().length >= 1,
      `fault rules consulted: ${cc.counted.faultRuleStatements().length}`,
    );
    assert.equal(await c.store.getServiceFaultInjection(c.host('C')), true);
  });

  it('faults add against a backend whose worker has injection off says so and adds nothing; --force adds a rule that never fires', async () => {
    const A = c.host('A');
    await eventually(
      async () => (await c.store.getServiceFaultInjection(A)) === false,
      30_000,
      'A reported fault injection off',
    );
    const rulesBefore = await c.store.listFaultRules(A);
    const refused = await cli(['faults', 'add', '--backend', A, '--error', 'VolumeBackendAPIException']);
    assert.equal(refused.code, 1, `${refused.stdout}${refused.stderr}`);
    assert.match(refused.stderr, new RegExp(`fault injection is off on ${A.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(refused.stderr, /CINDER_FAULT_INJECTION=1/);
    assert.deepEqual(await c.store.listFaultRules(A), rulesBefore, 'no rule added');

    const forced = await cli([
      'faults',
      'add',
      '--backend',
      A,
      '--error',
      'VolumeBackendAPIException',
      '--volume-name',
      'forced',
      '--times',
      '1',
      '--force',
    ]);
    assert.equal(forced.code, 0, forced.stderr);
    const h = await c.create({ name: 'forced', size: 1, availability_zone: 'zone-a' });
    const result = await h.result();
    assert.deepEqual(
      result.attempts.map((a) => [a.backend_id, a.outcome]),
      [[c.pool('A').backend_id, 'succeeded']],
      'the rule did not fire',
    );
    assert.equal((await c.store.listFaultRules(A)).find((r) => r.volume_name === 'forced')?.remaining, 1);
  });
});
