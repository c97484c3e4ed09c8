/**
 * Every branch of the create-volume workflow, run in the test process with stub activities
 * (test/support/in-process.ts) on the shared test server: success, reschedule, each no-reschedule
 * type, max attempts, rescheduling disabled, IgnoreAttemptedHostsFilter off, alternates, an API
 * refusal, a backend whose worker is down, cancellation in each phase, continue-as-new.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import { activityCalls, parseVolumeHistory } from '../../src/client/history';
import { NO_RESCHEDULE_TYPES } from '../../src/domain/cinder-errors';
import { freePort, startDevServer, type RunningDevServer } from '../../src/dev-server/dev-server';
import type { createVolume, CreateVolumeState } from '../../src/workflows/create-volume';
import { FakeCinder, startInProcess, stubPools, type FakeScript, type InProcessCluster } from '../support/in-process';

type Handle = WorkflowHandleWithFirstExecutionRunId<typeof createVolume>;

/** Runs fn against workers for a fresh fake. */
async function withFake<T>(
  script: FakeScript,
  fn: (c: InProcessCluster, fake: FakeCinder) => Promise<T>,
  address?: string,
): Promise<T> {
  const fake = new FakeCinder(script);
  const c = await startInProcess(fake, address);
  try {
    return await fn(c, fake);
  } finally {
    await c.stop();
  }
}

async function failureOf(
  h: Handle,
): Promise<{ type: string; message: string; state: CreateVolumeState | null; cancelled: boolean }> {
  try {
    await h.result();
  } catch (err) {
    assert.ok(err instanceof WorkflowFailedError, String(err));
    const cause = err.cause;
    if (cause instanceof CancelledFailure)
      return { type: 'Cancelled', message: cause.message, state: null, cancelled: true };
    assert.ok(cause instanceof ApplicationFailure, String(cause));
    return {
      type: cause.type ?? '',
      message: cause.message,
      state: (cause.details?.[0] ?? null) as CreateVolumeState | null,
      cancelled: false,
    };
  }
  assert.fail('the create succeeded');
}

async function eventually(pred: () => boolean | Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) assert.fail('condition never held');
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Polls the volumeState query until pred holds (the state a `--wait` client would read). */
async function eventuallyState(h: Handle, pred: (s: CreateVolumeState) => boolean): Promise<CreateVolumeState> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const s = await h.query<CreateVolumeState>('volumeState');
    if (pred(s)) return s;
    if (Date.now() > deadline) assert.fail(`state never matched: ${JSON.stringify(s)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function events(h: Handle) {
  return (await h.fetchHistory()).events ?? [];
}

/** The project's search attributes each upsert in the history set, by name (the SDK's own
 *  TemporalChangeVersion, upserted with the patch marker, left out). */
async function upserts(h: Handle): Promise<Array<Record<string, unknown>>> {
  return (await events(h)).flatMap((e) => {
    const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
    if (!fields) return [];
    const ours = Object.entries(fields).filter(([k]) => k !== 'TemporalChangeVersion');
    return ours.length === 0
      ? []
      : [Object.fromEntries(ours.map(([k, p]) => [k, defaultPayloadConverter.fromPayload(p as never)]))];
  });
}

describe('createVolume in process: every branch', { timeout: 300_000 }, () => {
  it('a first-try success: the three flows in order, at most 25 events, no upsert repeating the start', async () => {
    const [A, B] = stubPools(2);
    await withFake({ pools: [A, B] }, async (c, fake) => {
      const h = await c.start();
      const r = await h.result();
      assert.equal(r.backend_id, A);
      assert.deepEqual(fake.names(), [
        'extractVolumeRequest',
        'reserveQuota',
        'createVolumeEntry',
        'commitQuota',
        'scheduleCreateVolume',
        'createVolumeFromSpec',
      ]);
      // The volume worker finishes the create it made (Cinder's c-vol does).
      assert.equal((fake.argsOf('createVolumeFromSpec')[0][0] as { finish?: boolean }).finish, true);
      const evs = await events(h);
      assert.ok(evs.length <= 25, `a first-try success takes ${evs.length} events`);
      // Database steps are local activities (markers): the API flow as one; only the backend create is a task.
      const calls = activityCalls(evs);
      assert.deepEqual(
        calls.filter((x) => x.local).map((x) => x.activity),
        ['createVolumeApiFlow', 'scheduleCreateVolume'],
      );
      assert.deepEqual(
        calls.filter((x) => !x.local).map((x) => x.activity),
        ['createVolumeFromSpec'],
      );
      assert.ok(
        calls.every((x) => x.summary),
        'every step has a summary',
      );
      assert.deepEqual(await upserts(h), [
        { BackendHost: A.split('#')[0], ScheduleAttempt: 1 },
        { VolumeStatus: 'available' },
      ]);
      // Inputs carry what the step needs: the scheduling pass gets the policy, not every option.
      const [[req]] = fake.argsOf('scheduleCreateVolume') as Array<[{ options: Record<string, unknown> }]>;
      assert.deepEqual(Object.keys(req.options).sort(), [
        'ignore_attempted_hosts',
        'scheduler_default_filters',
        'scheduler_default_weighers',
        'scheduler_max_attempts',
        'service_down_time_s',
      ]);
      const [[quota]] = fake.argsOf('reserveQuota') as Array<[Record<string, unknown>]>;
      assert.deepEqual(Object.keys(quota).sort(), ['quota_deltas', 'request']);
    });
  });

  it("a reschedule: compensation, Cinder's retry state, success on the next backend; the history reader sees both attempts", async () => {
    const [A, B] = stubPools(2);
    await withFake(
      {
        pools: [A, B],
        create: (n) => (n === 1 ? { type: 'VolumeBackendAPIException', message: 'disk on fire' } : 'ok'),
      },
      async (c, fake) => {
        const h = await c.start();
        const r = await h.result();
        assert.equal(r.backend_id, B);
        assert.deepEqual(r.retry, { num_attempts: 2, backends: [A, B], hosts: [A, B] });
        assert.deepEqual(
          r.attempts.map((a) => [a.attempt, a.backend_id, a.outcome, a.error_type ?? null, a.cleanup ?? null]),
          [
            [1, A, 'failed', 'VolumeBackendAPIException', 'nothing to delete'],
            [2, B, 'succeeded', null, null],
          ],
        );
        const [[resched]] = fake.argsOf('prepareReschedule') as Array<[{ attempt: number; reason: string }]>;
        assert.deepEqual([resched.attempt, resched.reason], [1, 'VolumeBackendAPIException: disk on fire']);
        const evs = await events(h);
        const history = parseVolumeHistory(h.workflowId, [{ runId: h.firstExecutionRunId, events: evs }]);
        assert.deepEqual(
          history.attempts.map((a) => [
            a.attempt,
            a.backend_id,
            a.outcome,
            a.cleanup,
            a.capacity_released,
            a.rescheduled?.reason,
          ]),
          [
            [1, A, 'failed', 'nothing to delete', true, 'VolumeBackendAPIException: disk on fire'],
            [2, B, 'succeeded', undefined, undefined, undefined],
          ],
        );
        assert.equal(history.max_attempts, 3);
        assert.deepEqual(
          history.attempts[0].compensations.map((x) => x.activity),
          ['deleteVolumeOnBackend', 'releaseCapacity'],
        );
      },
    );
  });

  it('reads "rescheduling" while a failed attempt is cleaned up before the next pass, and "compensating" before an error', async () => {
    const [A, B] = stubPools(2);
    const fake = new FakeCinder({
      pools: [A, B],
      create: (n, _b, id) =>
        n === 1
          ? { type: id.startsWith('e') ? 'ImageCopyFailure' : 'VolumeBackendAPIException', message: 'failed' }
          : 'ok',
    });
    const c = await startInProcess(fake);
    try {
      const held = fake.hold('deleteVolumeOnBackend');
      // IgnoreAttemptedHostsFilter off: the next pass may take the same pool, so the delete comes first.
      const h = await c.start({ volume_id: `r${randomUUID().slice(1)}` }, { ignore_attempted_hosts: false });
      await held.reached;
      const s = await eventuallyState(h, (x) => x.phase === 'rescheduling');
      assert.deepEqual(
        [s.status, s.attempt, s.max_attempts, s.backend_id, s.last_error?.type],
        ['creating', 1, 3, A, 'VolumeBackendAPIException'],
      );
      assert.match(
        (await h.query<{ currentDetails: string }>('__temporal_workflow_metadata')).currentDetails,
        /\*\*creating\*\* \(rescheduling\)/,
      );
      const e = await c.start({ volume_id: `e${randomUUID().slice(1)}` });
      const se = await eventuallyState(e, (x) => x.phase === 'compensating');
      assert.equal(se.last_error?.type, 'ImageCopyFailure');
      held.release();
      assert.equal((await h.result()).backend_id, A, 'the same pool, after its delete');
      assert.equal((await failureOf(e)).type, 'ImageCopyFailure');
    } finally {
      await c.stop();
    }
  });

  it("a reschedule overlaps the failed attempt's delete with the next attempt, and ends only after it", async () => {
    const [A, B] = stubPools(2);
    const fake = new FakeCinder({
      pools: [A, B],
      create: (n) => (n === 1 ? { type: 'VolumeBackendAPIException' } : 'ok'),
    });
    const c = await startInProcess(fake);
    try {
      const held = fake.hold('deleteVolumeOnBackend');
      const h = await c.start();
      await held.reached;
      // The next pass and the create on B run while A's delete is still held (the capacity of A
      // was given back at once: the next pass cannot choose A with IgnoreAttemptedHostsFilter on).
      const s = await eventuallyState(h, (x) => x.attempts.length === 2);
      assert.deepEqual(
        s.attempts.map((a) => [a.backend_id, a.cleanup ?? null]),
        [
          [A, null],
          [B, null],
        ],
      );
      assert.equal(s.attempts[0].outcome, 'failed');
      assert.ok(['running', 'succeeded'].includes(s.attempts[1].outcome), s.attempts[1].outcome);
      // The second create (which also finishes) completed: the only completed task while A's delete is held.
      await eventually(async () => (await events(h)).some((e) => e.activityTaskCompletedEventAttributes));
      assert.equal((await h.describe()).status.name, 'RUNNING', 'not done while a delete runs');
      assert.equal((await h.query<CreateVolumeState>('volumeState')).status, 'creating');
      held.release();
      const r = await h.result();
      assert.deepEqual(
        r.attempts.map((a) => [a.backend_id, a.outcome, a.cleanup ?? null]),
        [
          [A, 'failed', 'nothing to delete'],
          [B, 'succeeded', null],
        ],
      );
    } finally {
      await c.stop();
    }
  });

  it('each no-reschedule type ends the create after one attempt, its message naming the type once', async () => {
    const pools = stubPools(2);
    const typeOf = new Map<string, string>();
    await withFake(
      {
        pools,
        create: (_n, _b, volumeId) => ({ type: typeOf.get(volumeId)!, message: `${typeOf.get(volumeId)} happened` }),
      },
      async (c, fake) => {
        const runs = await Promise.all(
          NO_RESCHEDULE_TYPES.map(async (type) => {
            const volumeId = randomUUID();
            typeOf.set(volumeId, type);
            return { type, volumeId, h: await c.start({ volume_id: volumeId }) };
          }),
        );
        for (const { type, volumeId, h } of runs) {
          const f = await failureOf(h);
          assert.equal(f.type, type);
          assert.equal(f.message, `${type} happened (not rescheduled: ${type} is a no-reschedule failure)`);
          assert.equal(f.state?.attempts.length, 1, type);
          assert.equal(f.state?.status, 'error');
          assert.deepEqual(f.state?.last_error, { type, message: f.message });
          assert.equal(fake.argsOf('scheduleCreateVolume', volumeId).length, 1, `${type}: one pass`);
          assert.deepEqual(
            fake.names(volumeId).slice(-4),
            ['createVolumeFromSpec', 'deleteVolumeOnBackend', 'releaseCapacity', 'markVolumeError'],
            type,
          );
          const [[marked]] = fake.argsOf('markVolumeError', volumeId) as Array<
            [{ error_type: string; scheduling_failed: boolean; reason: string }]
          >;
          assert.deepEqual([marked.error_type, marked.scheduling_failed, marked.reason], [type, false, f.message]);
          assert.deepEqual((await upserts(h)).at(-1), { VolumeStatus: 'error' });
        }
      },
    );
  });

  it('max attempts: three failures, then the scheduler\'s Exceeded max scheduling attempts; never "attempt 4 of 3"', async () => {
    const pools = stubPools(3);
    await withFake({ pools, create: () => ({ type: 'VolumeDriverException', message: 'no' }) }, async (c, fake) => {
      const h = await c.start();
      const f = await failureOf(h);
      assert.equal(f.type, 'NoValidBackend');
      assert.ok(
        f.message.startsWith(
          `No valid backend was found. Exceeded max scheduling attempts 3 for resource ${h.workflowId.slice('create-volume-'.length)}. Attempts: #1 on ${pools[0]}: VolumeDriverException: no`,
        ),
        f.message,
      );
      assert.equal(f.state?.attempt, 3);
      assert.equal(f.state?.max_attempts, 3);
      assert.equal(
        fake.argsOf('scheduleCreateVolume').length,
        4,
        'three passes and the one that gives up, as in Cinder',
      );
      assert.equal(fake.argsOf('prepareReschedule').length, 3);
      const [[marked]] = fake.argsOf('markVolumeError') as Array<[{ scheduling_failed: boolean }]>;
      assert.equal(marked.scheduling_failed, true);
      const evs = await events(h);
      const summaries = activityCalls(evs)
        .filter((x) => x.activity === 'scheduleCreateVolume')
        .map((x) => x.summary);
      assert.deepEqual(summaries, [
        'schedule attempt 1/3',
        'schedule attempt 2/3',
        'schedule attempt 3/3',
        'schedule: attempts used up (3 of 3)',
      ]);
      const history = parseVolumeHistory(h.workflowId, [{ runId: h.firstExecutionRunId, events: evs }]);
      assert.deepEqual(
        history.attempts.map((a) => a.backend_id),
        pools,
      );
      assert.equal(history.scheduling_failure?.type, 'NoValidBackend');
    });
  });

  it('three attempts take at most 70 events', async () => {
    const pools = stubPools(3);
    await withFake({ pools, create: (n) => (n < 3 ? { type: 'VolumeBackendAPIException' } : 'ok') }, async (c) => {
      const h = await c.start();
      assert.equal((await h.result()).backend_id, pools[2]);
      const n = (await events(h)).length;
      assert.ok(n <= 70, `three attempts take ${n} events`);
    });
  });

  it('scheduler_max_attempts 1 disables rescheduling: one attempt, no retry state, the setting named once', async () => {
    const pools = stubPools(2);
    await withFake(
      { pools, create: () => ({ type: 'VolumeBackendAPIException', message: 'boom' }) },
      async (c, fake) => {
        const f = await failureOf(await c.start({}, { scheduler_max_attempts: 1 }));
        assert.equal(f.type, 'VolumeBackendAPIException');
        assert.equal(f.message, 'boom (rescheduling is disabled: scheduler_max_attempts is 1)');
        assert.equal(f.state?.retry, null);
        assert.equal(fake.argsOf('prepareReschedule').length, 0);
      },
    );
  });

  it('IgnoreAttemptedHostsFilter off: the policy says so and the retry lands on the same pool', async () => {
    const [A, B] = stubPools(2);
    await withFake(
      { pools: [A, B], create: (n) => (n === 1 ? { type: 'VolumeBackendAPIException' } : 'ok') },
      async (c, fake) => {
        const r = await (await c.start({}, { ignore_attempted_hosts: false })).result();
        assert.equal(r.backend_id, A);
        assert.deepEqual(r.retry, { num_attempts: 2, backends: [A, A], hosts: [A, A] });
        const passes = fake.argsOf('scheduleCreateVolume') as Array<[{ options: { ignore_attempted_hosts: boolean } }]>;
        assert.deepEqual(
          passes.map(([p]) => p.options.ignore_attempted_hosts),
          [false, false],
        );
      },
    );
  });

  it("alternates: the next pass is offered the first pass's runner-ups, the failed pool left out", async () => {
    const [A, B, C] = stubPools(3);
    await withFake(
      { pools: [A, B, C], create: (n) => (n === 1 ? { type: 'VolumeBackendAPIException' } : 'ok') },
      async (c, fake) => {
        const r = await (await c.start({}, { scheduler_alternates: 2 })).result();
        assert.equal(r.backend_id, B);
        assert.equal(r.attempts[1].alternate, true);
        const passes = fake.argsOf('scheduleCreateVolume') as Array<
          [{ preferred?: string[]; options: { scheduler_alternates?: number } }]
        >;
        assert.deepEqual(
          passes.map(([p]) => p.preferred),
          [undefined, [B, C]],
        );
        assert.deepEqual(
          passes.map(([p]) => p.options.scheduler_alternates),
          [2, 2],
        );
      },
    );
  });

  it('an API refusal leaves nothing, reads VolumeStatus="error" and reaches the current details', async () => {
    const pools = stubPools(1);
    await withFake(
      {
        pools,
        refuse: {
          type: 'InvalidInput',
          message: "Invalid input for field 'size': must be a positive whole number of GiB, got 0",
        },
      },
      async (c, fake) => {
        const h = await c.start();
        const f = await failureOf(h);
        assert.equal(f.type, 'InvalidInput');
        assert.equal(f.state?.status, 'error');
        assert.deepEqual(fake.names(), ['extractVolumeRequest']);
        assert.deepEqual(await upserts(h), [{ VolumeStatus: 'error' }]);
        assert.deepEqual(f.state?.last_error, { type: 'InvalidInput', message: f.message });
        // The current details (the UI's) say so too: the metadata query answers from the worker.
        const meta = await h.query<{ currentDetails: string }>('__temporal_workflow_metadata');
        assert.match(meta.currentDetails, /\*\*error\*\* \(done\)/);
        assert.ok(meta.currentDetails.includes(`**last error** InvalidInput: ${f.message}`), meta.currentDetails);
      },
    );
  });

  it('cancelled while the API flow runs: the flow is not cut between tasks; it ends, then the create is cancelled', async () => {
    const pools = stubPools(1);
    const fake = new FakeCinder({ pools });
    const c = await startInProcess(fake);
    try {
      const held = fake.hold('createVolumeEntry');
      const h = await c.start({}, {}, { workflowTaskTimeout: '2 seconds' });
      await held.reached;
      await h.cancel();
      // The workflow hears of the cancel at the next workflow task (the local activity's task
      // heartbeats): wait until one completed after the request, with the flow still held.
      await eventually(async () => {
        const evs = await events(h);
        const asked = evs.findIndex((e) => e.workflowExecutionCancelRequestedEventAttributes);
        return asked >= 0 && evs.slice(asked).some((e) => e.workflowTaskCompletedEventAttributes);
      });
      assert.deepEqual(
        fake.names(),
        ['extractVolumeRequest', 'reserveQuota', 'createVolumeEntry'],
        'nothing undone yet',
      );
      held.release();
      const f = await failureOf(h);
      assert.equal(f.cancelled, true);
      // Committed, then marked 'error' as any cancel after the API flow: no attempt was scheduled.
      assert.deepEqual(fake.names(), [
        'extractVolumeRequest',
        'reserveQuota',
        'createVolumeEntry',
        'commitQuota',
        'releaseCapacity',
        'markVolumeError',
      ]);
      const [[marked]] = fake.argsOf('markVolumeError') as Array<[{ error_type: string }]>;
      assert.equal(marked.error_type, 'Cancelled');
    } finally {
      await c.stop();
    }
  });

  for (const at of ['reserveQuota', 'createVolumeEntry', 'commitQuota'] as const) {
    it(`refused at ${at}: the API flow reverts what ran, newest first, and leaves the create in error`, async () => {
      const pools = stubPools(1);
      const refuse = { type: 'QuotaError', message: `refused at ${at}` };
      await withFake({ pools, refuse, refuseAt: at }, async (c, fake) => {
        const h = await c.start();
        const f = await failureOf(h);
        assert.equal(f.type, 'QuotaError');
        assert.equal(f.state?.status, 'error');
        const ran = ['extractVolumeRequest', 'reserveQuota', 'createVolumeEntry', 'commitQuota'];
        const upTo = ran.slice(0, ran.indexOf(at) + 1);
        const reverts = at === 'reserveQuota' ? ['rollbackQuota'] : ['destroyVolumeEntry', 'rollbackQuota'];
        assert.deepEqual(fake.names(), [...upTo, ...reverts]);
      });
    });
  }

  it('a volume worker of an older build ignores finish: the scheduler pool finishes the create', async () => {
    const [A] = stubPools(1);
    await withFake({ pools: [A], oldVolumeWorkers: true }, async (c, fake) => {
      const r = await (await c.start()).result();
      assert.equal(r.status, 'available');
      assert.deepEqual(fake.names().slice(-2), ['createVolumeFromSpec', 'createVolumeOnFinish']);
    });
  });

  describe('cancellation in each phase compensates what ran and marks the volume', () => {
    const cases: Array<{
      phase: string;
      at: string;
      create?: FakeScript['create'];
      options?: Record<string, unknown>;
      expectTail: string[];
    }> = [
      {
        phase: 'scheduling',
        at: 'scheduleCreateVolume',
        expectTail: ['scheduleCreateVolume', 'releaseCapacity', 'markVolumeError'],
      },
      {
        phase: 'creating',
        at: 'createVolumeFromSpec',
        create: () => 'hang',
        expectTail: ['createVolumeFromSpec', 'deleteVolumeOnBackend', 'releaseCapacity', 'markVolumeError'],
      },
      // IgnoreAttemptedHostsFilter off: the delete is done before the reschedule (on, it overlaps).
      {
        phase: 'rescheduling',
        at: 'prepareReschedule',
        create: () => ({ type: 'VolumeBackendAPIException' }),
        options: { ignore_attempted_hosts: false },
        expectTail: ['releaseCapacity', 'prepareReschedule', 'markVolumeError'],
      },
    ];
    for (const k of cases) {
      it(`while ${k.phase}`, async () => {
        const pools = stubPools(2);
        const fake = new FakeCinder({ pools, ...(k.create ? { create: k.create } : {}) });
        const c = await startInProcess(fake);
        try {
          const reached = fake.hang(k.at);
          const h = await c.start({}, k.options ?? {}, { workflowTaskTimeout: '2 seconds' });
          await reached;
          await h.cancel();
          const f = await failureOf(h);
          assert.equal(f.cancelled, true, k.phase);
          const names = fake.names();
          assert.deepEqual(names.slice(-k.expectTail.length), k.expectTail, `${k.phase}: ${names.join(', ')}`);
          const [[marked]] = fake.argsOf('markVolumeError') as Array<[{ error_type: string }]>;
          assert.equal(marked.error_type, 'Cancelled');
        } finally {
          await c.stop();
        }
      });
    }

    it('while compensating: the compensations finish, then the create stops', async () => {
      const pools = stubPools(2);
      const fake = new FakeCinder({ pools, create: () => ({ type: 'VolumeBackendAPIException' }) });
      const c = await startInProcess(fake);
      try {
        const held = fake.hold('deleteVolumeOnBackend');
        // Off, the delete is awaited before the next pass (on, it overlaps the next attempt).
        const h = await c.start({}, { ignore_attempted_hosts: false }, { workflowTaskTimeout: '2 seconds' });
        await held.reached;
        await h.cancel();
        await new Promise((r) => setTimeout(r, 500));
        held.release();
        const f = await failureOf(h);
        assert.equal(f.cancelled, true);
        const names = fake.names();
        assert.deepEqual(
          names.slice(-3),
          ['deleteVolumeOnBackend', 'releaseCapacity', 'markVolumeError'],
          names.join(', '),
        );
        assert.equal(fake.argsOf('createVolumeFromSpec').length, 1, 'no second attempt after the cancel');
      } finally {
        await c.stop();
      }
    });
  });

  it('a backend whose worker is down: the delete goes to a cleanup workflow, recorded, and the create moves on', async () => {
    const [A, B] = stubPools(2);
    const downHost = `down-${A.split('@')[0]}@lvm`;
    const down = `${downHost}#pool1`;
    // `down`'s queue has no worker: the create's schedule-to-start timeout fires.
    await withFake({ pools: [A, B] }, async (c, fake) => {
      (fake.script as FakeScript).pools = [down, B];
      const h = await c.start({}, { backend_schedule_to_start_timeout_ms: 1000 });
      const r = await h.result();
      assert.equal(r.backend_id, B);
      assert.equal(r.attempts[0].cleanup, 'handed to a cleanup workflow');
      assert.equal(r.attempts[0].error_type, 'BackendUnavailable');
      const [[pending]] = fake.argsOf('recordCleanupPending') as Array<[{ attempt: number; backend_id: string }]>;
      assert.deepEqual([pending.attempt, pending.backend_id], [1, down]);
      const cleanup = c.client.workflow.getHandle(`cleanup-volume-${r.volume_id}-attempt-1`);
      assert.equal((await cleanup.describe()).status.name, 'RUNNING', 'the cleanup waits for the backend');
      await cleanup.terminate('test done');
    });
  });
});

describe('createVolume in process: continue-as-new', { timeout: 180_000 }, () => {
  let server: RunningDevServer;
  before(async () => {
    server = await startDevServer({
      port: await freePort(),
      ui: false,
      dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 20 },
      reuseExisting: false,
    });
  });
  after(() => server?.stop());

  it('continues as new between attempts with the retry state, and never repeats the API flow', async () => {
    const pools = stubPools(3);
    await withFake(
      { pools, create: (n) => (n < 3 ? { type: 'VolumeBackendAPIException' } : 'ok') },
      async (c, fake) => {
        const h = await c.start();
        const r = await h.result();
        assert.equal(r.backend_id, pools[2]);
        assert.deepEqual(r.retry, { num_attempts: 3, backends: pools, hosts: pools });
        assert.deepEqual(
          r.attempts.map((a) => a.outcome),
          ['failed', 'failed', 'succeeded'],
        );
        assert.equal(fake.argsOf('extractVolumeRequest').length, 1, 'the API flow ran once');
        const desc = await c.client.workflow.getHandle(h.workflowId).describe();
        assert.notEqual(desc.runId, h.firstExecutionRunId, 'a later run finished the create');
      },
      server.address,
    );
  });
});
