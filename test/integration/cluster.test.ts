/**
 * Creates on a two-node Temporal cluster (src/dev-server/temporal-cluster.ts: PostgreSQL, two
 * temporal-server processes with every service, membership between them), two scheduler workers
 * and a volume worker per backend connected through either node, the volume database on the same
 * PostgreSQL. Each scenario runs a batch of creates with injected backend failures while one part
 * of the cluster fails, then audits the batch (test/support/invariants.ts).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { createVolumeWorkflowId } from '../../src/domain/names';
import { eventually, startCluster, type Cluster } from '../support/cluster';
import { auditBatch, describeViolations, temporalCreates } from '../support/invariants';
import { processRunning } from '../../src/dev-server/procfs';

const BATCH = 50;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(true));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(false)));
  });
}

describe('two-node Temporal cluster on PostgreSQL', { timeout: 300_000 }, () => {
  let c: Cluster;
  before(async () => {
    const started = Date.now();
    c = await startCluster({
      backends: [
        { name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 10_000 }] },
        { name: 'B', pools: [{ name: 'pool1', total_capacity_gb: 10_000 }] },
      ],
      temporalCluster: true,
    });
    process.stderr.write(
      `cluster: Temporal nodes up in ${c.temporal!.startMs} ms, with workers in ${Date.now() - started} ms\n`,
    );
  });
  after(() => c?.stop());

  const everyMember = [1, 2]
    .flatMap((n) => ['frontend', 'history', 'matching', 'worker'].map((s) => `node${n}/${s}`))
    .sort();

  /** Every service of both nodes heartbeats in cluster_membership (each service joins on its own,
   *  so within a bounded wait). */
  async function expectEveryMember(what: string): Promise<void> {
    let seen: string[] = [];
    try {
      await eventually(async () => (seen = await c.temporal!.members()).join() === everyMember.join(), 30_000, what);
    } finally {
      assert.deepEqual(seen, everyMember, what);
    }
  }

  it('both nodes are members of one cluster: every service of each heartbeats in cluster_membership', async () => {
    await expectEveryMember('every service of both nodes in cluster_membership');
  });

  /** Faults on both backends: some creates fail once and are rescheduled, a few fail everywhere;
   *  every create waits a moment on its backend, so a batch is in flight when the fault comes. */
  async function injectFaults(): Promise<void> {
    await c.store.clearFaultRules();
    for (const b of ['A', 'B']) {
      const host = c.host(b);
      await c.store.addFaultRule({ host, op: 'create', action: 'error', probability: 0.2, remaining: null });
      await c.store.addFaultRule({
        host,
        op: 'create',
        action: 'error',
        stage: 'partial_write',
        probability: 0.1,
        remaining: null,
      });
      await c.store.addFaultRule({ host, op: 'create', action: 'delay', delay_ms: 300, remaining: null });
    }
  }

  /** Starts BATCH creates in a project of their own, runs `fault` once some are on a backend, waits
   *  until every create has ended (through `reader`, a client on a node that stays up), audits. */
  async function batchThrough(label: string, reader: Client, fault: () => Promise<void>): Promise<void> {
    const started = Date.now();
    const project = `project-${c.id}-${label}`;
    await c.store.setQuotaLimit(project, 'volumes', BATCH * 2);
    await c.store.setQuotaLimit(project, 'gigabytes', BATCH * 2);
    await injectFaults();
    const handles = await Promise.all(
      Array.from({ length: BATCH }, (_, i) => c.create({ project_id: project, name: `${label}-${i}`, size: 1 })),
    );
    const ids = new Set(handles.map((h) => h.volumeId));
    await eventually(
      async () =>
        (await c.store.listEvents({ event_type: 'volume.create.start' })).filter((e) => ids.has(e.volume_id ?? ''))
          .length >= 5,
      60_000,
      `${label}: creates on a backend`,
    );
    const inFlight = (await Promise.all(handles.map((h) => c.store.getVolume(h.volumeId)))).filter(
      (v) => v?.status === 'creating',
    ).length;
    assert.ok(inFlight > 0, `${label}: the fault comes mid-batch (${inFlight} creates still creating)`);
    await fault();
    // Every workflow closed, as the surviving node tells it.
    await eventually(
      async () => {
        for (const h of handles) {
          const d = await reader.workflow.getHandle(createVolumeWorkflowId(h.volumeId)).describe();
          if (d.status.name === 'RUNNING') return false;
        }
        return true;
      },
      180_000,
      `${label}: every create of the batch to end`,
    );
    const report = await auditBatch(
      { store: c.store, pools: c.auditPools, creates: temporalCreates(reader) },
      { volumeIds: [...ids], projectIds: [project], settleMs: 10_000 },
    );
    process.stderr.write(
      `cluster ${label}: ${JSON.stringify({ ms: Date.now() - started, inFlight, outcomes: report.outcomes, errorTypes: report.errorTypes, injected: report.injectedErrors })}\n`,
    );
    assert.deepEqual(report.violations, [], describeViolations(report));
    assert.equal(report.outcomes.available + report.outcomes.error, BATCH, 'every create is available or error');
    assert.equal(report.outcomes.lost, 0);
    assert.ok(report.outcomes.available > 0, 'some creates succeed');
    const rescheduled = (await c.store.listEvents({ event_type: 'volume.create.reschedule' })).filter((e) =>
      ids.has(e.volume_id ?? ''),
    );
    assert.ok(rescheduled.length > 0, 'injected failures rescheduled some creates');
  }

  it('SIGKILL of Temporal node 1 mid-batch, then restarted: nothing lost, leaked or doubled', async () => {
    const reader = await c.clientOf(2);
    await batchThrough('kill-node1', reader, async () => {
      await c.temporal!.kill(1);
      await sleep(3000);
      await c.temporal!.restart(1);
    });
    await expectEveryMember('node 1 back in the cluster');
  });

  it('SIGKILL of Temporal node 2 mid-batch, then restarted: nothing lost, leaked or doubled', async () => {
    const reader = await c.clientOf(1);
    await batchThrough('kill-node2', reader, async () => {
      await c.temporal!.kill(2);
      await sleep(3000);
      await c.temporal!.restart(2);
    });
    await expectEveryMember('node 2 back in the cluster');
  });

  it('PostgreSQL paused (SIGSTOP) for 5 s mid-batch, then SIGCONT: nothing lost, leaked or doubled', async () => {
    const reader = await c.clientOf(1);
    await batchThrough('pause-postgres', reader, async () => {
      c.temporal!.postgres.pause();
      try {
        await sleep(5000);
      } finally {
        c.temporal!.postgres.resume();
      }
    });
  });

  it('stop() leaves no process and no port behind', async () => {
    const t = c.temporal!;
    const pids = new Map<number, string>([
      ...t.nodes.flatMap((n) => n.pids().map((pid) => [pid, `Temporal node ${n.index}`] as const)),
      [t.postgres.pid(), 'PostgreSQL'],
      ...[...c.workers.entries()].map(([key, w]) => [w.pid!, `worker ${key}`] as const),
    ]);
    const ports = [
      t.postgres.port,
      ...t.nodes.flatMap((n) => [
        n.ports.http,
        ...(['frontend', 'history', 'matching', 'worker'] as const).flatMap((s) => [
          n.ports[s].grpc,
          n.ports[s].membership,
        ]),
      ]),
    ];
    // Each node: its shell, the server and the lifeline's watcher; PostgreSQL; four workers.
    assert.ok(pids.size >= 2 * 3 + 1 + 4, `every process: ${[...pids.values()].join(', ')}`);
    assert.deepEqual(
      [...pids.keys()].filter((p) => !processRunning(p)).map((p) => pids.get(p)),
      [],
      'all running before stop()',
    );
    assert.deepEqual(await c.leakedFiles(), []);
    await c.stop();
    assert.deepEqual(
      [...pids.keys()].filter((p) => processRunning(p)).map((p) => `${pids.get(p)} (pid ${p})`),
      [],
      'no process left',
    );
    const busy: number[] = [];
    for (const p of ports) if (await portInUse(p)) busy.push(p);
    assert.deepEqual(busy, [], 'no port left');
  });
});
