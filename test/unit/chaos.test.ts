/**
 * The chaos tool's own arithmetic: fault rules tried in order still fire at the asked rates, and a
 * create's history is charged to what it waited on; and `npm run chaos` refuses a bad flag, naming
 * it, before it starts anything.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HistoryEvent } from '../../src/client/history';
import { sequentialProbabilities } from '../support/chaos';
import { createWaits, type CreateWaits } from '../support/chaos-waits';
import { runProcess } from '../support/run-process';

describe('chaos: fault probabilities', () => {
  test('each rule of an op fires at its own overall rate, though the store tries them in order', () => {
    const ps = [0.01, 0.1, 0.1, 0.1, 0.05];
    const qs = sequentialProbabilities(ps);
    let notYet = 1;
    const overall = qs.map((q) => {
      const p = notYet * q;
      notYet *= 1 - q;
      return p;
    });
    overall.forEach((p, i) => assert.ok(Math.abs(p - ps[i]) < 1e-12, `rule ${i}: ${p}, asked ${ps[i]}`));
    assert.deepEqual(sequentialProbabilities([0.5, 0.5]), [0.5, 1]);
  });
});

/** An event at t ms with the given attributes. */
function ev(id: number, t: number, attrs: Partial<HistoryEvent>): HistoryEvent {
  return {
    eventId: id,
    eventTime: { seconds: Math.floor(t / 1000), nanos: (t % 1000) * 1e6 },
    ...attrs,
  } as HistoryEvent;
}

/** The stretches add up to the create's latency: no time is lost. */
function assertAllCharged(w: CreateWaits): void {
  assert.equal(
    w.waits.reduce((sum, x) => sum + x.ms, 0),
    w.totalMs,
    'every stretch is charged',
  );
}

describe('chaos: where a create waited', () => {
  test('queue waits, runs and a lost workflow task are charged to what was pending', () => {
    const events = [
      ev(1, 0, { workflowExecutionStartedEventAttributes: {} }),
      ev(2, 0, { workflowTaskScheduledEventAttributes: {} }),
      ev(3, 100, { workflowTaskStartedEventAttributes: {} }),
      ev(4, 300, { workflowTaskCompletedEventAttributes: {} }),
      ev(5, 300, { activityTaskScheduledEventAttributes: { activityType: { name: 'createVolumeFromSpec' } } }),
      ev(6, 5300, { activityTaskStartedEventAttributes: { scheduledEventId: 5 as never } }),
      ev(7, 5500, { activityTaskCompletedEventAttributes: { scheduledEventId: 5 as never } }),
      ev(8, 5500, { workflowTaskScheduledEventAttributes: {} }),
      ev(9, 5600, { workflowTaskStartedEventAttributes: {} }),
      ev(10, 15600, { workflowTaskTimedOutEventAttributes: {} }),
      ev(11, 15600, { workflowTaskScheduledEventAttributes: {} }),
      ev(12, 15700, { workflowTaskStartedEventAttributes: {} }),
      ev(13, 15800, { workflowTaskCompletedEventAttributes: {} }),
      // A task left on a killed worker's sticky queue: it times out unstarted.
      ev(14, 15800, { workflowTaskScheduledEventAttributes: {} }),
      ev(15, 20800, { workflowTaskTimedOutEventAttributes: {} }),
      // Its retries are transient: the one that completes is written 2 s later.
      ev(16, 22800, { workflowTaskScheduledEventAttributes: {} }),
      ev(17, 22900, { workflowTaskStartedEventAttributes: {} }),
      ev(18, 23000, { workflowTaskCompletedEventAttributes: {} }),
      ev(19, 23000, { workflowExecutionCompletedEventAttributes: {} }),
    ];
    const w = createWaits([{ runId: 'r1', events }]);
    assert.equal(w.totalMs, 23000);
    assert.equal(w.workflowTaskTimeouts, 2);
    assert.deepEqual(w.waits, [
      { on: 'workflow task timed out (worker or server lost)', ms: 10000 },
      { on: 'createVolumeFromSpec queued or retrying', ms: 5000 },
      { on: 'workflow task on a lost worker (sticky) timed out', ms: 5000 },
      { on: 'workflow task retried after a timeout or failure', ms: 2000 },
      { on: 'workflow task queued', ms: 400 },
      { on: 'workflow task', ms: 400 },
      { on: 'createVolumeFromSpec running', ms: 200 },
    ]);
    assertAllCharged(w);
  });

  test('a compensation overlapping the next attempt: each is charged while it is the latest pending', () => {
    const sched = (id: number, t: number, name: string) =>
      ev(id, t, { activityTaskScheduledEventAttributes: { activityType: { name } } });
    const closed = (id: number, t: number, of: number) =>
      ev(id, t, { activityTaskCompletedEventAttributes: { scheduledEventId: of as never } });
    const events = [
      sched(1, 0, 'deleteVolumeOnBackend'),
      sched(2, 0, 'createVolumeFromSpec'),
      ev(3, 1000, { activityTaskStartedEventAttributes: { scheduledEventId: 1 as never } }),
      closed(4, 1500, 1),
      ev(5, 4000, { activityTaskStartedEventAttributes: { scheduledEventId: 2 as never } }),
      closed(6, 4200, 2),
    ];
    const w = createWaits([{ runId: 'r1', events }]);
    // 0-1000: the later one (the create) queued; 1000-1500 the delete running; 1500-4000 the create queued again.
    assert.deepEqual(w.waits, [
      { on: 'createVolumeFromSpec queued or retrying', ms: 3500 },
      { on: 'deleteVolumeOnBackend running', ms: 500 },
      { on: 'createVolumeFromSpec running', ms: 200 },
    ]);
    assertAllCharged(w);
  });
});

describe('chaos: the command refuses bad flags before it starts anything', () => {
  const chaos = (args: string[]) =>
    runProcess(
      process.execPath,
      ['--import', require.resolve('tsx'), 'scripts/chaos.ts', ...args],
      process.env,
      60_000,
    );

  for (const [args, names] of [
    [['--create-fail', '1.5'], /^chaos: --create-fail: must be a probability within 0\.\.1, got "1\.5"/],
    [['--creates', '10.5'], /^chaos: --creates: must be a whole number >= 0, got "10\.5"/],
    [['--target', 'k8s'], /^chaos: --target: must be dev or cluster, got "k8s"/],
    [['--kill-every'], /^chaos: .*--kill-every/],
  ] as const) {
    test(`${args.join(' ')}: exit 2, naming the flag`, async () => {
      const r = await chaos([...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, names);
      assert.match(r.stderr, /usage: npm run chaos/);
      assert.equal(r.stdout, '');
    });
  }

  test('--help: the usage, exit 0', async () => {
    const r = await chaos(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /--kill-every S/);
  });
});
