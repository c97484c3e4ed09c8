/**
 * Issue 9's own fuzz test: a few hundred seeded bad requests (and some valid controls) through the
 * client with and without its check, raw starts as the Temporal CLI sends them, the real
 * `temporal workflow start`, the `cinder-temporal create` command, and targeted starts against
 * other projects' volumes. Every case is judged by the oracle in test/support/fuzz-oracle.ts; the
 * figures must all be zero. `npm run fuzz -- --n 5000 --seed S` runs a big one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startCluster, type Cluster } from '../support/cluster';
import { FUZZ_BACKENDS } from '../support/fuzz-oracle';
import { formatReport, runFuzz, type FuzzReport } from '../support/fuzz-run';

const SEED = Number(process.env.CINDER_FUZZ_SEED ?? 9);
const N = Number(process.env.CINDER_FUZZ_N ?? 300);

describe('start-path fuzz (issue 9)', { timeout: 600_000 }, () => {
  let c: Cluster;
  let report: FuzzReport;

  before(async () => {
    c = await startCluster({ backends: FUZZ_BACKENDS });
    report = await runFuzz(c, { seed: SEED, n: N, concurrency: 6 });
  });
  after(() => c?.stopAfterLeakCheck());

  it(`${N} seeded requests (seed ${SEED}): no crash, nothing stuck, no residue, nothing forbidden accepted, no victim changed`, () => {
    const t = report.totals;
    const text = formatReport(report, c.taskQueue, 40);
    assert.equal(t.cases, N);
    assert.deepEqual(
      {
        crash: t.crash,
        stuck: t.stuck,
        residue: t.residue,
        acceptedButForbidden: t['accepted-but-forbidden'],
        victimChanged: t['victim-changed'],
      },
      { crash: 0, stuck: 0, residue: 0, acceptedButForbidden: 0, victimChanged: 0 },
      text,
    );
    assert.deepEqual(
      {
        unclear: t['unclear-error'],
        checkStarted: t['check-started'],
        controlsFailed: t['control-failed'],
        terminalInjection: t['terminal-injection'],
      },
      { unclear: 0, checkStarted: 0, controlsFailed: 0, terminalInjection: 0 },
      text,
    );
  });

  it('the run was not vacuous: every path ran, valid controls succeeded, victims were attacked', () => {
    for (const [path, counts] of Object.entries(report.byPath))
      assert.ok(counts.cases > 0, `no case took the ${path} path`);
    assert.ok(report.controls.total >= 10, `only ${report.controls.total} controls`);
    assert.equal(report.controls.ok, report.controls.total, formatReport(report, c.taskQueue, 40));
    const own = Object.entries(report.byCategory)
      .filter(([cat]) => cat.startsWith('own:'))
      .reduce((s, [, x]) => s + x.cases, 0);
    assert.ok(own >= 10, `only ${own} starts against victims' volumes`);
  });
});
