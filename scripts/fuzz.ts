/**
 * `npm run fuzz -- --n 5000 --seed S [--concurrency 8] [--json out.json]`: a big seeded bad-input
 * run (issue 9) against a cluster of its own (a Temporal dev server unless TEMPORAL_ADDRESS is set,
 * a scheduler worker and two volume workers), printing the figures by path and category and every
 * failure with a reproducer. Exits 1 when any problem was found.
 */
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import { startCluster } from '../test/support/cluster';
import { formatReport, headline, runFuzz } from '../test/support/fuzz-run';
import { FUZZ_BACKENDS } from '../test/support/fuzz-oracle';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      n: { type: 'string', default: '5000' },
      seed: { type: 'string', default: '1' },
      concurrency: { type: 'string', default: '8' },
      json: { type: 'string' },
      failures: { type: 'string', default: '200' },
    },
    strict: true,
  });
  const num = (name: string, v: string | undefined) => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < 0) throw new Error(`--${name}: a whole number, got ${JSON.stringify(v)}`);
    return x;
  };
  const n = num('n', values.n);
  const seed = num('seed', values.seed);
  const concurrency = Math.max(1, num('concurrency', values.concurrency));
  const c = await startCluster({ backends: FUZZ_BACKENDS });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void c.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    process.stderr.write(`fuzz: seed ${seed}, ${n} requests, ${concurrency} at a time, cluster ${c.id} (${c.dir})\n`);
    let bad = 0;
    const report = await runFuzz(c, {
      seed,
      n,
      concurrency,
      onCase: (v, done) => {
        if (v.problems.length > 0) bad++;
        if (done % 100 === 0 || done === n) process.stderr.write(`fuzz: ${done}/${n} done, ${bad} with problems\n`);
      },
    });
    process.stdout.write(formatReport(report, c.taskQueue, num('failures', values.failures)) + '\n');
    if (values.json) fs.writeFileSync(values.json, JSON.stringify(report, null, 2));
    process.stderr.write(`fuzz: ${headline(report)}\n`);
    const t = report.totals;
    const problems = Object.entries(t)
      .filter(([k]) => k !== 'cases')
      .reduce((s, [, x]) => s + x, 0);
    return problems === 0 && report.controls.ok === report.controls.total ? 0 : 1;
  } finally {
    await c.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`fuzz: ${err?.stack ?? err}\n`);
    process.exit(2);
  },
);
