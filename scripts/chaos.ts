/**
 * `npm run chaos -- --creates 1000 --rate 10 --create-fail 0.3 --kill-every 10 --server-restarts 1`:
 * the project's soak tool (test/support/chaos.ts) on a deployment of its own: the local dev server
 * (`--target dev`) or the two-node Temporal cluster on PostgreSQL (`--target cluster`). Prints a table, writes JSON with --json, exits 1 on any violation, 2 on bad flags.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildWorkflowBundle } from '../src/build-bundle';
import { DEFAULT_CHAOS, formatChaosReport, runChaos, type ChaosOptions } from '../test/support/chaos';
import { HarnessChaosTarget, type ChaosTarget } from '../test/support/chaos-target';

const HELP = `usage: npm run chaos -- [flags]

  --creates N            creates to start (default ${DEFAULT_CHAOS.creates})
  --rate R               creates started per second, open loop (default ${DEFAULT_CHAOS.rate})
  --create-fail P        probability a backend create fails (default ${DEFAULT_CHAOS.createFail})
  --delete-fail P        probability a backend delete fails (default ${DEFAULT_CHAOS.deleteFail})
  --delay P              probability a backend create is delayed (default ${DEFAULT_CHAOS.delay})
  --delay-ms MS          how long a delay lasts (default ${DEFAULT_CHAOS.delayMs})
  --exit-mid-create P    probability the volume worker dies mid-create (default ${DEFAULT_CHAOS.exitMidCreate})
  --kill-every S         SIGKILL a random worker every S seconds, 0 never (default ${DEFAULT_CHAOS.killEverySeconds})
  --server-restarts N    Temporal server restarts during the run (default ${DEFAULT_CHAOS.serverRestarts})
  --finish-timeout S     how long the creates may take to end after the last start (default ${DEFAULT_CHAOS.finishTimeoutSeconds})
  --seed N               seed of the kills and sizes (default ${DEFAULT_CHAOS.seed})
  --slowest N            slowest creates to show (default ${DEFAULT_CHAOS.slowest})
  --target dev|cluster   dev (default): a dev server of its own in a file, restarted whole;
                         cluster: two Temporal nodes on PostgreSQL, a restart kills one node in turn
                         (both: 2 scheduler workers, 2 backends with a volume worker each)
  --json FILE            also write the full report as JSON
  --keep                 keep the run's folder (logs, databases)
`;

class UsageError extends Error {}

function parse(argv: string[]): {
  chaos: Partial<ChaosOptions>;
  json?: string;
  target: 'dev' | 'cluster';
  keep: boolean;
} {
  const flags = {
    creates: ['creates', 'int'],
    rate: ['rate', 'positive'],
    'create-fail': ['createFail', 'p'],
    'delete-fail': ['deleteFail', 'p'],
    delay: ['delay', 'p'],
    'delay-ms': ['delayMs', 'int'],
    'exit-mid-create': ['exitMidCreate', 'p'],
    'kill-every': ['killEverySeconds', 'number'],
    'server-restarts': ['serverRestarts', 'int'],
    'finish-timeout': ['finishTimeoutSeconds', 'positive'],
    seed: ['seed', 'int'],
    slowest: ['slowest', 'int'],
  } as const;
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(flags).map((k) => [k, { type: 'string' as const }])),
      json: { type: 'string' },
      target: { type: 'string', default: 'dev' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help) throw new UsageError(HELP);
  const chaos: Record<string, number> = {};
  for (const [flag, [key, kind]] of Object.entries(flags)) {
    const raw = (values as Record<string, unknown>)[flag];
    if (raw === undefined) continue;
    const x = Number(raw);
    const ok =
      Number.isFinite(x) &&
      (kind === 'int'
        ? Number.isInteger(x) && x >= 0
        : kind === 'p'
          ? x >= 0 && x <= 1
          : kind === 'positive'
            ? x > 0
            : x >= 0);
    const want = {
      int: 'a whole number >= 0',
      p: 'a probability within 0..1',
      positive: 'a number > 0',
      number: 'a number >= 0',
    }[kind];
    if (!ok) throw new UsageError(`--${flag}: must be ${want}, got ${JSON.stringify(raw)}`);
    chaos[key] = x;
  }
  if (chaos.creates === 0) throw new UsageError('--creates: must be at least 1');
  if (values.target !== 'dev' && values.target !== 'cluster')
    throw new UsageError(`--target: must be dev or cluster, got ${JSON.stringify(values.target)}`);
  return { chaos, json: values.json as string | undefined, target: values.target, keep: !!values.keep };
}

async function main(): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(process.argv.slice(2));
  } catch (err) {
    const help = err instanceof UsageError && err.message === HELP;
    process.stderr.write(help ? HELP : `chaos: ${(err as Error).message}\n${HELP}`);
    return help ? 0 : 2;
  }
  if (args.keep) process.env.KEEP_TEST_DIRS = '1';
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  // One workflow bundle for every worker start: a restarted scheduler then takes seconds, not a build.
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-chaos-'));
  process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
  process.env.CINDER_WORKFLOW_BUNDLE ??= (await buildWorkflowBundle(path.join(work, 'workflow-bundle.js'))).file;
  const target: ChaosTarget = await HarnessChaosTarget.start(args.target);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void target.stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    progress(
      `chaos: target ${target.kind} at ${target.addresses().join(', ')}, workers ${target.workers().join(', ')}, folder ${target.dir}`,
    );
    const report = await runChaos(target, { ...args.chaos, progress });
    process.stdout.write(formatChaosReport(report) + '\n');
    if (args.json) fs.writeFileSync(args.json, JSON.stringify(report, null, 2));
    return report.violations === 0 ? 0 : 1;
  } finally {
    await target.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`chaos: ${err?.stack ?? err}\n`);
    process.exit(2);
  },
);
