/**
 * A small chaos run (the library of `npm run chaos`): 100 creates on a dev server of their own with
 * 30% backend create failures and a few other faults, a worker SIGKILLed every 8 s and the server
 * restarted once. Every create must end available or explained, with nothing lost, leaked,
 * duplicated or drifted; and the chaos must have happened (faults fired, kills, the restart), so
 * the run cannot pass by doing nothing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { formatChaosReport, runChaos } from '../support/chaos';
import { HarnessChaosTarget } from '../support/chaos-target';

describe('chaos: 100 creates through faults, kills and a server restart', { timeout: 600_000 }, () => {
  let target: HarnessChaosTarget;

  before(async () => {
    target = await HarnessChaosTarget.start('dev');
  });

  after(() => target?.stop());

  it('loses nothing, leaks nothing, duplicates nothing, and every error is explained', async (t) => {
    const r = await runChaos(target, {
      creates: 100,
      rate: 5,
      createFail: 0.3,
      deleteFail: 0.05,
      delay: 0.05,
      delayMs: 1000,
      exitMidCreate: 0.01,
      killEverySeconds: 8,
      serverRestarts: 1,
      finishTimeoutSeconds: 180,
      seed: 14,
    });
    const table = formatChaosReport(r);
    for (const line of table.split('\n')) t.diagnostic(line);
    assert.equal(r.violations, 0, table);
    const a = r.audit;
    assert.equal(a.outcomes.available + a.outcomes.error, 100, table);
    assert.ok(a.outcomes.available >= 50, `most creates end available (rescheduled past their faults): ${table}`);
    // The chaos happened.
    const created = ['create error', 'create error after write', 'create partial write'].reduce(
      (s, k) => s + (r.faults[k] ?? 0),
      0,
    );
    assert.ok(created >= 15, `create faults fired ${created} times`);
    assert.ok(
      r.events.filter((e) => e.what === 'kill').length >= 1,
      'a worker was SIGKILLed and restarted during the run',
    );
    assert.deepEqual(
      r.events.filter((e) => e.what === 'server restart').map((e) => e.what),
      ['server restart'],
    );
    assert.equal(r.start_errors.length, 0, r.start_errors.join('\n'));
    // Every error is one the chaos causes: each backend failed in turn (faults, dead workers).
    for (const type of Object.keys(a.errorTypes))
      assert.ok(['NoValidBackend', 'VolumeBackendAPIException', 'BackendUnavailable'].includes(type), table);
  });
});
