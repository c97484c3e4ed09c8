/**
 * The `cinder-temporal` command as a user runs it: a child process (`node bin/cinder-temporal.js`)
 * pointed at a real cluster (dev server, scheduler and volume worker processes, SQLite database)
 * through the cluster's environment. Also the Temporal CLI starting the same workflow.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { WorkflowNotFoundError } from '@temporalio/client';
import { getVolumeCreate, volumeIdForRequest } from '../../src/client/volumes';
import { resolveTemporalCli } from '../../src/dev-server/temporal-cli';
import type { CreateVolumeResult } from '../../src/workflows/create-volume';
import { eventually, startCluster, type Cluster } from '../support/cluster';
import { activityCalls } from '../../src/client/history';
import { BIN, runProcess, type Run } from '../support/run-process';
import { ACTIVITY } from '../../src/domain/names';

const run = runProcess;

/** The Property | Value rows of a `cinder show` table. */
function properties(text: string): Record<string, string> {
  const rows: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\| (\S+)\s+\| (.*?)\s*\|$/.exec(line);
    if (m && m[1] !== 'Property') rows[m[1]] = m[2];
  }
  return rows;
}

const show = (r: Run) => `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

describe('cinder-temporal CLI on a real cluster', { timeout: 600_000 }, () => {
  let c: Cluster;
  let project: string;
  let A: string;
  let B: string;
  const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    run(process.execPath, [BIN, ...args], { ...c.env, CINDER_PROJECT_ID: project, ...env });
  /** Volumes made by earlier tests that later ones read. */
  const made: Record<string, string> = {};

  before(async () => {
    // A is larger, so the CapacityWeigher picks it first.
    c = await startCluster({
      backends: [{ name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 200 }] }, { name: 'B' }],
    });
    project = `project-${c.id}`;
    await c.store.setQuotaLimit(project, 'volumes', -1);
    await c.store.setQuotaLimit(project, 'gigabytes', -1);
    A = c.pool('A').backend_id;
    B = c.pool('B').backend_id;
    // Both volume services have reported, so the zone and the pools are known to the CLI's checks.
    await eventually(async () => (await c.store.listPools()).length === 2, 30_000, 'both pools reported');
  });
  after(() => c?.stopAfterLeakCheck());

  it('--help works on every command', async () => {
    const commands = [
      'create',
      'show',
      'list',
      'cancel',
      'backends',
      'history',
      'delete',
      'quota-show',
      'quota-usage',
      'quota-update',
      'faults',
    ];
    const runs = await Promise.all(commands.map((cmd) => cli([cmd, '--help'])));
    runs.forEach((r, i) => {
      assert.equal(r.code, 0, show(r));
      assert.match(r.stdout, new RegExp(`^usage: cinder-temporal ${commands[i]} `), show(r));
    });
    assert.match(runs[0].stdout, /--request-id/);
    assert.match(runs[0].stdout, /--wait/);
  });

  it('create --wait prints one line per change (stdout not a TTY), then the property table', async () => {
    // A slow backend create, so the create is seen while it runs on A.
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'delay',
      delay_ms: 3000,
      remaining: 1,
      volume_name: 'cli-wait',
    });
    const r = await cli([
      'create',
      '--size',
      '2',
      '--name',
      'cli-wait',
      '--metadata',
      'tier=gold',
      'purpose=test',
      '--wait',
    ]);
    assert.equal(r.code, 0, show(r));
    const lines = r.stdout.split('\n');
    const started = /^Started the create of volume (\S+) \(workflow create-volume-\1\)\.$/.exec(lines[0]);
    assert.ok(started, show(r));
    const id = started[1];
    made.plain = id;
    assert.ok(!r.stdout.includes('\r'), 'no in-place updates when stdout is not a terminal');
    const progress = lines.filter((l) => l.startsWith(`volume ${id}: `));
    assert.ok(progress.includes(`volume ${id}: creating: creating on ${A}, attempt 1 of 3`), show(r));
    assert.equal(progress[progress.length - 1], `volume ${id}: available: done on ${A}, attempt 1 of 3`);
    assert.equal(new Set(progress).size, progress.length, 'a line only when something changed');
    const props = properties(r.stdout);
    assert.equal(props.id, id);
    assert.equal(props.status, 'available');
    assert.equal(props.size, '2');
    assert.equal(props.name, 'cli-wait');
    assert.equal(props['os-vol-host-attr:host'], A);
    assert.equal(props['os-vol-tenant-attr:tenant_id'], project);
    assert.deepEqual(JSON.parse(props.metadata), { tier: 'gold', purpose: 'test' });
    assert.equal(props.workflow_id, `create-volume-${id}`);
    assert.equal((await c.store.getVolume(id))?.status, 'available');
  });

  it('--json prints one JSON document, with and without --wait', async () => {
    const r = await cli(['create', '--size', '1', '--name', 'cli-json', '--json']);
    assert.equal(r.code, 0, show(r));
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.existing, false);
    assert.equal(doc.volume.name, 'cli-json');
    assert.equal(doc.volume.size, 1);
    assert.equal(doc.volume.project_id, project);
    assert.equal(doc.workflow_id, `create-volume-${doc.volume.id}`);
    const result = await getVolumeCreate(c.client, doc.volume.id).result();
    assert.equal(result.status, 'available');

    const w = await cli(['create', '--size', '1', '--name', 'cli-json-wait', '--json', '--wait']);
    assert.equal(w.code, 0, show(w));
    const done = JSON.parse(w.stdout);
    assert.equal(done.outcome, 'available');
    assert.equal(done.volume.status, 'available');
    assert.equal(done.volume.host, A);
    assert.deepEqual(
      done.attempts.map((a: { backend_id: string; outcome: string }) => [a.backend_id, a.outcome]),
      [[A, 'succeeded']],
    );
    // The progress went to stderr, keeping stdout one document.
    assert.match(w.stderr, new RegExp(`volume ${done.volume.id}: available: done on `));
  });

  it('a repeated --request-id returns the same volume, says so, and makes one workflow and one volume', async () => {
    const rid = `req-${c.id}`;
    const expected = volumeIdForRequest(project, rid);
    // Two at once: one starts the create, the other finds it.
    const [r1, r2] = await Promise.all([
      cli(['create', '--size', '1', '--name', 'cli-dup', '--request-id', rid, '--json']),
      cli(['create', '--size', '1', '--name', 'cli-dup', '--request-id', rid, '--json']),
    ]);
    assert.equal(r1.code, 0, show(r1));
    assert.equal(r2.code, 0, show(r2));
    const d1 = JSON.parse(r1.stdout);
    const d2 = JSON.parse(r2.stdout);
    assert.equal(d1.volume.id, expected);
    assert.equal(d2.volume.id, expected);
    assert.deepEqual([d1.existing, d2.existing].sort(), [false, true], 'exactly one of them started the create');
    await getVolumeCreate(c.client, expected).result();

    // Once the create has ended, the same request still returns it, and says so.
    const r3 = await cli(['create', '--size', '1', '--name', 'cli-dup', '--request-id', rid]);
    assert.equal(r3.code, 0, show(r3));
    assert.match(
      r3.stdout,
      new RegExp(`^Request ${rid} was already made: returning volume ${expected} \\(no new create started`),
      show(r3),
    );
    assert.equal(properties(r3.stdout).status, 'available');

    const rows = (await c.store.listVolumes({ project_id: project })).filter((v) => v.request_id === rid);
    assert.deepEqual(
      rows.map((v) => v.id),
      [expected],
    );
    const desc = await c.client.workflow.getHandle(`create-volume-${expected}`).describe();
    assert.equal(desc.status.name, 'COMPLETED');
    // Exactly one workflow carries this volume id, and it ran once (no second run, no second create).
    const countOf = async () => (await c.client.workflow.count(`VolumeId = "${expected}"`)).count;
    await eventually(async () => (await countOf()) >= 1, 30_000, 'the create is visible');
    assert.equal(await countOf(), 1);
    const history = await c.client.workflow.getHandle(desc.workflowId).fetchHistory();
    const entries = activityCalls(history.events ?? []).filter((a) => a.activity === ACTIVITY.createVolumeApiFlow);
    assert.equal(entries.length, 1);
  });

  it('a repeated --request-id with other parameters is refused, naming what differs, and starts nothing', async () => {
    const rid = `req-conflict-${c.id}`;
    const expected = volumeIdForRequest(project, rid);
    const first = await cli(['create', '--size', '1', '--name', 'cli-first', '--request-id', rid, '--json']);
    assert.equal(first.code, 0, show(first));
    const second = await cli(['create', '--size', '2', '--name', 'cli-first', '--request-id', rid]);
    assert.equal(second.code, 2, show(second));
    assert.match(
      second.stderr,
      new RegExp(
        `^--size: request id ${rid} was first used with other parameters \\(size: 1 then 2\\); nothing was started`,
        'm',
      ),
      show(second),
    );
    const third = await cli(['create', '--size', '1', '--name', 'other-name', '--request-id', rid]);
    assert.equal(third.code, 2, show(third));
    assert.match(third.stderr, /^--name: .*name: "cli-first" then "other-name"/m, show(third));
    await getVolumeCreate(c.client, expected).result();
    assert.equal((await c.client.workflow.count(`VolumeId = "${expected}"`)).count, 1);
    const rows = (await c.store.listVolumes({ project_id: project })).filter((v) => v.request_id === rid);
    assert.deepEqual(
      rows.map((v) => [v.id, v.size, v.name]),
      [[expected, 1, 'cli-first']],
    );
  });

  it('bad input exits 2 naming the option, and starts no workflow and writes no row', async () => {
    const badProject = `bad-${c.id}`;
    const cases: Array<{ args: string[]; message: RegExp }> = [
      { args: ['--size', '0'], message: /^--size: must be a positive whole number/m },
      { args: ['--size', 'abc'], message: /^--size: must be a positive whole number of GiB, got "abc"/m },
      { args: ['--size', '1.5'], message: /^--size: must be a positive whole number/m },
      { args: ['--name', 'no-size'], message: /^--size: is required/m },
      { args: ['--size', '1', '--metadata', 'novalue'], message: /^--metadata: expected key=value, got 'novalue'/m },
      {
        args: ['--size', '1', '--snapshot-id', 'snap-1', '--image-id', 'img-1'],
        message: /^--image-id: cannot be combined with --snapshot-id/m,
      },
      { args: ['--size', '1', '--type', 'no-such-type'], message: /^--type: .*no-such-type.*\(VolumeTypeNotFound\)/m },
      {
        args: ['--size', '1', '--availability-zone', 'nowhere'],
        message: /^--availability-zone: .*nowhere.*\(InvalidAvailabilityZone\)/m,
      },
      { args: ['--size', '1', '--name', 'x'.repeat(300)], message: /^--name: must be at most 255 characters/m },
      {
        args: ['--size', '1', '--snapshot-id', 'no-such-snapshot'],
        message: /^--snapshot-id: .*\(SnapshotNotFound\)/m,
      },
      { args: ['--size', '1', '--bogus'], message: /^--bogus: unknown option/m },
    ];
    const results: Run[] = [];
    for (let i = 0; i < cases.length; i += 3) {
      results.push(
        ...(await Promise.all(
          cases
            .slice(i, i + 3)
            .map((k, j) => cli(['create', ...k.args, '--project-id', badProject, '--request-id', `bad-${i + j}`])),
        )),
      );
    }
    for (const [i, r] of results.entries()) {
      assert.equal(r.code, 2, `${cases[i].args.join(' ')}\n${show(r)}`);
      assert.match(r.stderr, cases[i].message, `${cases[i].args.join(' ')}\n${show(r)}`);
      const wf = `create-volume-${volumeIdForRequest(badProject, `bad-${i}`)}`;
      await assert.rejects(
        c.client.workflow.getHandle(wf).describe(),
        WorkflowNotFoundError,
        `no workflow for ${cases[i].args.join(' ')}`,
      );
    }
    // --json: the error as JSON on stdout too, naming the option.
    const j = await cli(['create', '--size=-3', '--project-id', badProject, '--json']);
    assert.equal(j.code, 2, show(j));
    assert.deepEqual(JSON.parse(j.stdout).error.option, '--size');
    assert.equal(JSON.parse(j.stdout).error.type, 'InvalidInput');
    assert.deepEqual(await c.store.listVolumes({ project_id: badProject }), []);
  });

  it('show, list and backends', async () => {
    const id = made.plain;
    assert.ok(id, 'the create --wait test made a volume');
    const [byId, byName, asJson, missing] = await Promise.all([
      cli(['show', id]),
      cli(['show', 'cli-wait']),
      cli(['show', id, '--json']),
      cli(['show', 'no-such-volume']),
    ]);
    assert.equal(byId.code, 0, show(byId));
    const props = properties(byId.stdout);
    assert.equal(props.id, id);
    assert.equal(props.status, 'available');
    assert.equal(props['os-vol-host-attr:host'], A);
    assert.equal(props.volume_type, 'default');
    assert.ok(props.created_at && props.launched_at, show(byId));
    // Cinder's property layout: a boxed two-column table, properties in alphabetical order.
    assert.match(byId.stdout, /^\+-+\+-+\+\n\| Property +\| Value +\|\n\+-+\+-+\+\n/);
    const names = Object.keys(props);
    assert.deepEqual(names, [...names].sort());
    assert.equal(byName.code, 0, show(byName));
    assert.equal(properties(byName.stdout).id, id);
    assert.equal(asJson.code, 0, show(asJson));
    assert.equal(JSON.parse(asJson.stdout).volume.id, id);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, /No volume with a name or ID of 'no-such-volume' exists/);

    const [all, onA, errors, others, listJson] = await Promise.all([
      cli(['list', '--project-id', project, '--json']),
      cli(['list', '--backend', c.host('A'), '--project-id', project]),
      cli(['list', '--status', 'error', '--project-id', project, '--json']),
      cli(['list', '--project-id', 'some-other-project', '--json']),
      cli(['list', '--status', 'available', '--json']),
    ]);
    for (const r of [all, onA, errors, others, listJson]) assert.equal(r.code, 0, show(r));
    const allRows = JSON.parse(all.stdout) as Array<{ id: string; status: string; host: string }>;
    const dbRows = await c.store.listVolumes({ project_id: project });
    assert.deepEqual(allRows.map((v) => v.id).sort(), dbRows.map((v) => v.id).sort());
    assert.ok(onA.stdout.includes(id));
    assert.match(
      onA.stdout,
      /^\+-+\+-+\+-+\+-+\+-+\+-+\+\n\| ID +\| Status +\| Name +\| Size +\| Volume Type +\| Host +\|/,
    );
    for (const v of dbRows.filter((x) => x.host && !x.host.startsWith(`${c.host('A')}#`)))
      assert.ok(!onA.stdout.includes(v.id), `${v.id} on ${v.host} is not listed under A`);
    const errorRows = JSON.parse(errors.stdout) as Array<{ id: string; status: string }>;
    assert.deepEqual(
      errorRows.map((v) => v.id).sort(),
      dbRows
        .filter((v) => v.status === 'error')
        .map((v) => v.id)
        .sort(),
    );
    assert.deepEqual(JSON.parse(others.stdout), []);
    assert.ok((JSON.parse(listJson.stdout) as Array<{ id: string }>).some((v) => v.id === id));

    const [backends, backendsJson] = await Promise.all([cli(['backends']), cli(['backends', '--json'])]);
    assert.equal(backends.code, 0, show(backends));
    for (const pool of [A, B])
      assert.match(
        backends.stdout,
        new RegExp(`\\| ${pool.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +\\| nova +\\| up +\\|`),
        show(backends),
      );
    const pools = JSON.parse(backendsJson.stdout) as Array<{
      backend_id: string;
      state: string;
      total_capacity_gb: number;
      allocated_capacity_gb: number;
      provisioned_capacity_gb: number;
      free_capacity_gb: number;
    }>;
    const byPool = Object.fromEntries(pools.map((p) => [p.backend_id, p]));
    assert.equal(byPool[A].total_capacity_gb, 200);
    assert.equal(byPool[B].total_capacity_gb, 100);
    assert.equal(byPool[A].state, 'up');
    assert.equal(byPool[B].state, 'up');
    const dbPools = Object.fromEntries((await c.store.listPools()).map((p) => [p.backend_id, p]));
    assert.ok(byPool[A].allocated_capacity_gb >= 2, 'the 2 GiB volume counts on A');
    assert.equal(byPool[A].allocated_capacity_gb, dbPools[A].allocated_capacity_gb);
  });

  it('history after a rescheduled create shows both attempts, their backends, the error and the cleanup', async () => {
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: 'cli-resched',
    });
    await c.store.addFaultRule({
      host: c.host('B'),
      op: 'create',
      action: 'delay',
      delay_ms: 3000,
      remaining: 1,
      volume_name: 'cli-resched',
    });
    const r = await cli(['create', '--size', '1', '--name', 'cli-resched', '--wait']);
    assert.equal(r.code, 0, show(r));
    const id = properties(r.stdout).id;
    made.resched = id;
    assert.ok(
      r.stdout.includes(
        `volume ${id}: creating: creating on ${B}, attempt 2 of 3, last error VolumeBackendAPIException`,
      ),
      show(r),
    );
    assert.ok(r.stdout.includes(`volume ${id}: available: done on ${B}, attempt 2 of 3`), show(r));
    assert.equal(properties(r.stdout)['os-vol-host-attr:host'], B);

    const [h, hj] = await Promise.all([cli(['history', id]), cli(['history', id, '--json'])]);
    assert.equal(h.code, 0, show(h));
    const text = h.stdout;
    assert.match(text, new RegExp(`^Volume ${id}: available on ${B}`));
    const row1 = text.split('\n').find((l) => l.startsWith('| 1 of 3'));
    const row2 = text.split('\n').find((l) => l.startsWith('| 2 of 3'));
    assert.ok(row1 && row2, show(h));
    assert.match(
      row1,
      new RegExp(
        `\\| 1 of 3 +\\| ${A} +\\| failed +\\| VolumeBackendAPIException +\\| nothing to delete; capacity given back +\\| yes +\\|`,
      ),
    );
    assert.match(row2, new RegExp(`\\| 2 of 3 +\\| ${B} +\\| succeeded +\\|`));
    assert.match(text, /error: VolumeBackendAPIException: Injected fault/);
    assert.match(
      text,
      new RegExp(`compensation deleteVolumeOnBackend \\(compensate: delete volume-${id} on ${A}\\): nothing to delete`),
    );
    assert.match(
      text,
      /compensation releaseCapacity \(compensate: give back capacity of attempt 1\): capacity given back/,
    );
    assert.match(text, /rescheduled: VolumeBackendAPIException: /);

    // The JSON agrees with what the workflow itself returned.
    const doc = JSON.parse(hj.stdout);
    const result = (await c.client.workflow.getHandle(`create-volume-${id}`).result()) as CreateVolumeResult;
    const pick = (a: {
      attempt?: number;
      backend_id: string;
      outcome: string;
      error_type?: string;
      cleanup?: string;
    }) => [a.attempt, a.backend_id, a.outcome, a.error_type ?? null, a.cleanup ?? null];
    assert.deepEqual(doc.attempts.map(pick), result.attempts.map(pick));
    assert.deepEqual(doc.attempts[1].retry, result.retry);
    assert.deepEqual(
      doc.attempts[0].compensations.map((x: { activity: string; status: string; result: unknown }) => [
        x.activity,
        x.status,
        x.result,
      ]),
      [
        ['deleteVolumeOnBackend', 'completed', { deleted: false, skipped: false }],
        ['releaseCapacity', 'completed', true],
      ],
    );
    assert.equal(doc.attempts[0].rescheduled.reason.startsWith('VolumeBackendAPIException: '), true);
    assert.equal(doc.status, 'available');
  });

  it('create --wait that ends in error exits 1 with the Cinder error type; history says why', async () => {
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: 'cli-fail',
    });
    await c.store.addFaultRule({
      host: c.host('B'),
      op: 'create',
      action: 'error',
      error_type: 'VolumeDriverException',
      remaining: 1,
      volume_name: 'cli-fail',
    });
    const r = await cli(['create', '--size', '1', '--name', 'cli-fail', '--wait']);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, /^ERROR: NoValidBackend: No valid backend was found/m, show(r));
    const props = properties(r.stdout);
    assert.equal(props.status, 'error');
    assert.match(props.error_reason, /NoValidBackend|No valid backend/);
    const h = await cli(['history', props.id]);
    assert.equal(h.code, 0, show(h));
    assert.match(h.stdout, new RegExp(`\\| 1 of 3 +\\| ${A} +\\| failed +\\| VolumeBackendAPIException `));
    assert.match(h.stdout, new RegExp(`\\| 2 of 3 +\\| ${B} +\\| failed +\\| VolumeDriverException `));
    assert.match(h.stdout, /Scheduling pass 3: NoValidBackend: /);
  });

  it('cancel compensates a running create; a second cancel and an unknown volume exit 1', async () => {
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'hang',
      remaining: 1,
      volume_name: 'cli-cancel',
    });
    const r = await cli(['create', '--size', '1', '--name', 'cli-cancel', '--json']);
    assert.equal(r.code, 0, show(r));
    const id = JSON.parse(r.stdout).volume.id as string;
    const handle = getVolumeCreate(c.client, id);
    await eventually(async () => (await handle.status()).phase === 'creating', 60_000, 'the create runs on A');

    const x = await cli(['cancel', id, '--wait']);
    assert.equal(x.code, 0, show(x));
    assert.match(x.stdout, new RegExp(`Create of volume ${id} cancelled: every step was compensated`));
    assert.equal(properties(x.stdout).status, 'error');
    assert.equal((await c.store.getVolume(id))?.status, 'error');
    assert.deepEqual(c.volumeFiles(id), [], 'nothing is left on the backend');
    assert.ok(
      (await c.store.listClaims(id)).every((claim) => claim.status === 'released'),
      'the capacity was given back',
    );

    const h = await cli(['history', id]);
    assert.match(
      h.stdout,
      new RegExp(
        `\\| 1 of 3 +\\| ${A} +\\| failed +\\| Cancelled +\\| (deleted|nothing to delete); capacity given back +\\| no +\\|`,
      ),
      show(h),
    );
    assert.match(h.stdout, /Cancel requested at /);

    const [again, unknown] = await Promise.all([cli(['cancel', id]), cli(['cancel', 'no-such-volume'])]);
    assert.equal(again.code, 1, show(again));
    assert.match(again.stderr, /has already ended \(cancelled\): nothing to cancel/);
    assert.equal(unknown.code, 1, show(unknown));
    assert.match(unknown.stderr, /No create of a volume 'no-such-volume' exists/);
  });

  it('while a cancel is pending, show says so and a second cancel says it was already requested', async () => {
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'create',
      action: 'hang',
      remaining: 1,
      volume_name: 'cli-cancel-pending',
    });
    // A slow compensation keeps the cancel pending for a while.
    // (long enough for two CLI processes to start on a loaded machine).
    await c.store.addFaultRule({
      host: c.host('A'),
      op: 'delete',
      action: 'delay',
      delay_ms: 25_000,
      remaining: 1,
      volume_name: 'cli-cancel-pending',
    });
    const r = await cli(['create', '--size', '1', '--name', 'cli-cancel-pending', '--json']);
    assert.equal(r.code, 0, show(r));
    const id = JSON.parse(r.stdout).volume.id as string;
    const handle = getVolumeCreate(c.client, id);
    await eventually(async () => (await handle.status()).phase === 'creating', 60_000, 'the create runs on A');
    const first = await cli(['cancel', id]);
    assert.equal(first.code, 0, show(first));
    assert.match(first.stdout, /^Cancel requested for the create of volume /);
    await eventually(async () => (await handle.status()).phase === 'compensating', 30_000, 'the create to compensate');
    const [shown, second] = await Promise.all([cli(['show', id]), cli(['cancel', id])]);
    assert.equal(shown.code, 0, show(shown));
    assert.match(
      properties(shown.stdout).cancel_requested_at ?? '',
      /^\d{4}-\d\d-\d\dT.* \(the create is compensating; it ends in error\)$/,
      show(shown),
    );
    assert.equal(second.code, 0, show(second));
    assert.match(
      second.stdout,
      new RegExp(`^Cancel was already requested for the create of volume ${id} at \\d{4}-`),
      show(second),
    );
    await assert.rejects(handle.result());
    assert.equal((await c.store.getVolume(id))?.status, 'error');
  });

  it('create without --wait prints its created_at; availability_zone is the zone of the pool it landed in', async () => {
    const r = await cli(['create', '--size', '1', '--name', 'cli-created-at']);
    assert.equal(r.code, 0, show(r));
    const props = properties(r.stdout);
    assert.match(props.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/, show(r));
    await getVolumeCreate(c.client, props.id).result();
    const s = await cli(['show', props.id]);
    assert.equal(properties(s.stdout).availability_zone, 'nova', show(s));
  });

  it('the Temporal CLI starts the same workflow from the documented input JSON', async () => {
    const temporal = await resolveTemporalCli();
    assert.ok(temporal, 'a Temporal CLI is available (the dev server needs one too)');
    const volumeId = randomUUID();
    const input = {
      request: {
        volume_id: volumeId,
        project_id: project,
        size: 1,
        name: 'from-temporal-cli',
        metadata: { via: 'temporal-cli' },
      },
    };
    const r = await run(
      temporal.path,
      [
        'workflow',
        'start',
        '--address',
        c.address,
        '--namespace',
        'default',
        '--type',
        'createVolume',
        '--task-queue',
        c.taskQueue,
        '--workflow-id',
        `create-volume-${volumeId}`,
        '--input',
        JSON.stringify(input),
      ],
      process.env,
    );
    assert.equal(r.code, 0, show(r));
    const vol = await eventually(
      async () => {
        const v = await c.store.getVolume(volumeId);
        return v?.status === 'available' ? v : null;
      },
      60_000,
      'the volume becomes available',
    );
    assert.equal(vol.name, 'from-temporal-cli');
    assert.deepEqual(vol.metadata, { via: 'temporal-cli' });
    assert.ok(vol.host === A || vol.host === B);
    const s = await cli(['show', volumeId]);
    assert.equal(properties(s.stdout).status, 'available', show(s));
  });

  it('history reads the workflow history alone: it works with every worker stopped', async () => {
    const id = made.resched;
    assert.ok(id, 'the reschedule test made a volume');
    const before = await cli(['history', id, '--json']);
    await Promise.all([...c.workers.values()].map((w) => w.stop('SIGTERM', 10_000)));
    assert.ok([...c.workers.values()].every((w) => !w.running));
    const afterStop = await cli(['history', id, '--json']);
    assert.equal(afterStop.code, 0, show(afterStop));
    assert.deepEqual(JSON.parse(afterStop.stdout), JSON.parse(before.stdout));
  });
});
