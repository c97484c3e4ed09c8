/**
 * Create benchmark: what a create costs next to Temporal's own floor (an empty workflow), on one
 * local dev server started as `npm start` starts it, with the real worker processes.
 *
 *   npm run bench:create                 full run (about 15-25 minutes on 2 cores)
 *   npm run bench:create -- --quick      reduced run (about 3 minutes): fewer blocks, 10 s ladder
 *   npm run bench:create -- --help       every flag
 *
 * Measures, in one run: interleaved closed-loop blocks of empty workflows and creates at 1, 10 and
 * 50 clients (throughput, p50/p95); history events and p50 of each create shape (success, one
 * reschedule, three attempts, three failing: fault rules make the failures); an open-loop arrival
 * ladder (the highest rate sustained with no growing backlog); reserveQuota and stats-report cost
 * at 0 to 100k volumes (store level, temp SQLite). Prints a table, checks issue 10's targets
 * (ratios: absolute figures on a shared machine are noisy) and writes bench/results/create.json.
 * Not a test: `npm test` never runs it.
 */
import { execSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { LOCAL_DYNAMIC_CONFIG } from '../src/dev-server/dev-server';
import { Deployment } from './create/deployment';
import {
  closedLoopBlock,
  drain,
  ladderStep,
  percentile,
  round,
  runOne,
  runShape,
  SHAPES,
  type BlockResult,
  type Kind,
  type LadderStep,
  type ShapeSample,
} from './create/load';
import { storeCosts, type StoreCost } from './create/store-costs';

const USAGE = `usage: tsx bench/create.bench.ts [flags]
  --quick                 reduced run: clients 1,10; 1 round; 3 samples per shape; ladder 5,10/s for 10 s; volumes 0,1k,10k
  --clients=1,10,50       concurrent clients of the closed-loop blocks
  --rounds=N              interleaved rounds (an empty block and a create block each) per client count (3)
  --block=N               workflows per block per client, at least 20 per block (4)
  --shape-samples=N       creates per history shape (10)
  --ladder-rates=10,15,.. open-loop arrival rates per second, tried in order until one is not sustained
  --ladder-seconds=S      how long each rate runs (60)
  --volumes=0,1000,...    volume counts of the store-cost micro-bench (0,1000,10000,100000)
  --only=a,b              run only some parts: server, blocks, shapes, ladder, store
  --server-samples=N      'server' part: one-client empty workflows and creates per server (30)
  --stock-server          blocks, shapes and ladder on Temporal's stock dynamic config instead
  --dynamic-config=K=V    one more dynamic config value on the (non-stock) server; repeatable
  --server-db=file|memory the dev server's SQLite file, as npm start (file, default) or in memory
  --out=PATH              results file (bench/results/create.json)
  --keep                  keep the temp folder (server and worker logs)`;

const PARTS = ['server', 'blocks', 'shapes', 'ladder', 'store'] as const;
type Part = (typeof PARTS)[number];

interface Settings {
  quick: boolean;
  clients: number[];
  rounds: number;
  block: number;
  shapeSamples: number;
  serverSamples: number;
  ladderRates: number[];
  ladderSeconds: number;
  volumes: number[];
  only: Set<Part>;
  stockServer: boolean;
  dynamicConfig: Record<string, unknown>;
  serverDb: 'file' | 'memory';
  out: string;
  keep: boolean;
}

function numbers(flag: string, text: string): number[] {
  const list = text.split(',').map((x) => Number(x.trim()));
  if (list.length === 0 || list.some((x) => !Number.isFinite(x) || x < 0))
    throw new Error(`--${flag} takes numbers >= 0 separated by commas, got '${text}'`);
  return list;
}

function settings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      help: { type: 'boolean' },
      'stock-server': { type: 'boolean' },
      keep: { type: 'boolean' },
      clients: { type: 'string' },
      'server-samples': { type: 'string' },
      rounds: { type: 'string' },
      block: { type: 'string' },
      'shape-samples': { type: 'string' },
      'ladder-rates': { type: 'string' },
      'ladder-seconds': { type: 'string' },
      volumes: { type: 'string' },
      only: { type: 'string' },
      'dynamic-config': { type: 'string', multiple: true },
      'server-db': { type: 'string' },
      out: { type: 'string' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const q = values.quick === true;
  const only = values.only ? values.only.split(',') : [...PARTS];
  for (const p of only)
    if (!(PARTS as readonly string[]).includes(p))
      throw new Error(`--only: unknown part '${p}' (parts: ${PARTS.join(', ')})`);
  const serverDb = values['server-db'] ?? 'file';
  if (serverDb !== 'file' && serverDb !== 'memory') throw new Error(`--server-db is file or memory, got '${serverDb}'`);
  const one = (flag: string, v: string | undefined, dflt: number) => (v === undefined ? dflt : numbers(flag, v)[0]!);
  return {
    quick: q,
    clients: numbers('clients', values.clients ?? (q ? '1,10' : '1,10,50')).filter((c) => c >= 1),
    rounds: Math.max(1, one('rounds', values.rounds, q ? 1 : 3)),
    block: Math.max(1, one('block', values.block, q ? 2 : 4)),
    shapeSamples: Math.max(1, one('shape-samples', values['shape-samples'], q ? 3 : 10)),
    serverSamples: Math.max(1, one('server-samples', values['server-samples'], q ? 10 : 30)),
    // From 5/s: on a loaded machine 10/s may already be too much, and a ladder that fails its first
    // step says nothing.
    ladderRates: numbers(
      'ladder-rates',
      values['ladder-rates'] ?? (q ? '5,10' : '5,10,15,20,25,30,35,40,50,60'),
    ).filter((r) => r > 0),
    ladderSeconds: Math.max(1, one('ladder-seconds', values['ladder-seconds'], q ? 10 : 60)),
    volumes: numbers('volumes', values.volumes ?? (q ? '0,1000,10000' : '0,1000,10000,100000')),
    only: new Set(only as Part[]),
    stockServer: values['stock-server'] === true,
    dynamicConfig: Object.fromEntries(
      (values['dynamic-config'] ?? []).map((kv) => {
        const i = kv.indexOf('=');
        if (i <= 0) throw new Error(`--dynamic-config takes key=value, got '${kv}'`);
        return [kv.slice(0, i), JSON.parse(kv.slice(i + 1))];
      }),
    ),
    serverDb,
    out: resolve(values.out ?? join(__dirname, 'results', 'create.json')),
    keep: values.keep === true,
  };
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

interface Summary {
  n: number;
  per_s: number | null;
  p50_ms: number | null;
  p95_ms: number | null;
}

function summarize(blocks: BlockResult[]): Summary {
  const lat = blocks.flatMap((b) => b.latencies).sort((a, b) => a - b);
  const wall = blocks.reduce((s, b) => s + b.wallMs, 0);
  return {
    n: lat.length,
    per_s: round((lat.length * 1000) / wall),
    p50_ms: round(percentile(lat, 50)),
    p95_ms: round(percentile(lat, 95)),
  };
}

/** Alternating order per round, so neither kind always runs on a warmer (or more loaded) system. */
async function runBlocks(d: Deployment, s: Settings) {
  const rows = [];
  for (const clients of s.clients) {
    const blocks: BlockResult[] = [];
    const perBlock = Math.max(20, clients * s.block);
    for (let r = 0; r < s.rounds; r++) {
      const order: Kind[] = r % 2 === 0 ? ['empty', 'create'] : ['create', 'empty'];
      for (const kind of order) {
        log(`blocks: ${clients} clients, round ${r + 1}/${s.rounds}, ${perBlock} ${kind}`);
        blocks.push(await closedLoopBlock(d, kind, clients, perBlock));
        await drain(d);
      }
    }
    const empty = summarize(blocks.filter((b) => b.kind === 'empty'));
    const create = summarize(blocks.filter((b) => b.kind === 'create'));
    rows.push({
      clients,
      empty,
      create,
      throughput_ratio: empty.per_s && create.per_s ? round(create.per_s / empty.per_s, 2) : null,
      p50_ratio: empty.p50_ms && create.p50_ms ? round(create.p50_ms / empty.p50_ms, 2) : null,
    });
  }
  return rows;
}

/** One create of every shape per round, interleaved, so the ratios compare like with like. */
async function runShapes(d: Deployment, s: Settings) {
  const samples = new Map<string, ShapeSample[]>(SHAPES.map((x) => [x.shape, []]));
  for (let i = 0; i < s.shapeSamples; i++) {
    log(`shapes: round ${i + 1}/${s.shapeSamples}`);
    for (const shape of SHAPES) samples.get(shape.shape)!.push(await runShape(d, shape));
  }
  const rows = SHAPES.map((shape) => {
    const got = samples.get(shape.shape)!;
    const ms = got.map((x) => x.ms).sort((a, b) => a - b);
    const events = got.map((x) => x.events).sort((a, b) => a - b);
    return {
      shape: shape.shape,
      attempts: shape.attempts,
      n: got.length,
      history_events: percentile(events, 50),
      history_events_max: events[events.length - 1],
      p50_ms: round(percentile(ms, 50)),
      p95_ms: round(percentile(ms, 95)),
    };
  });
  const success = rows[0]!.p50_ms;
  return rows.map((r) => ({ ...r, p50_ratio_to_success: success && r.p50_ms ? round(r.p50_ms / success, 2) : null }));
}

async function runLadder(d: Deployment, s: Settings) {
  const steps: LadderStep[] = [];
  for (const rate of s.ladderRates) {
    log(`ladder: ${rate} creates/s for ${s.ladderSeconds} s`);
    const step = await ladderStep(d, rate, s.ladderSeconds);
    steps.push(step);
    log(
      `  ${step.sustained ? 'sustained' : 'NOT sustained'}: p50 ${step.p50_first_ms} -> ${step.p50_last_ms} ms, backlog ${step.backlog_at_end}`,
    );
    await drain(d, 300_000);
    if (!step.sustained) break;
  }
  const passed = steps.filter((x) => x.sustained).map((x) => x.rate_per_s);
  return { seconds: s.ladderSeconds, sustained_per_s: passed.length > 0 ? Math.max(...passed) : 0, steps };
}

/**
 * What LOCAL_DYNAMIC_CONFIG buys: two deployments side by side, one on the stock dev server and one
 * on npm start's, and one client alternating between them (an empty workflow, then a create, on
 * each in turn), so both see the same machine load.
 */
async function runServerComparison(s: Settings) {
  const start = (stockServer: boolean) =>
    new Deployment({
      stockServer,
      dynamicConfig: stockServer ? undefined : s.dynamicConfig,
      serverDb: s.serverDb,
      keepDir: s.keep,
      progress: log,
    }).start();
  const stock = await start(true);
  try {
    const local = await start(false);
    try {
      const lat = {
        stock: { empty: [] as number[], create: [] as number[] },
        local: { empty: [] as number[], create: [] as number[] },
      };
      for (let i = 0; i < s.serverSamples + 3; i++) {
        if (i % 10 === 0) log(`server comparison: ${i}/${s.serverSamples + 3} (3 warm-up)`);
        const order = i % 2 === 0 ? (['stock', 'local'] as const) : (['local', 'stock'] as const);
        for (const which of order) {
          const d = which === 'stock' ? stock : local;
          for (const kind of ['empty', 'create'] as const) {
            const { ms } = await runOne(d, kind);
            if (i >= 3) lat[which][kind].push(ms);
          }
        }
      }
      const p = (xs: number[], q: number) =>
        round(
          percentile(
            [...xs].sort((a, b) => a - b),
            q,
          ),
        );
      const row = (which: 'stock' | 'local') => ({
        server: which === 'stock' ? 'stock dynamic config' : 'LOCAL_DYNAMIC_CONFIG (npm start)',
        empty_p50_ms: p(lat[which].empty, 50),
        empty_p95_ms: p(lat[which].empty, 95),
        create_p50_ms: p(lat[which].create, 50),
        create_p95_ms: p(lat[which].create, 95),
      });
      const [a, b] = [row('stock'), row('local')];
      return {
        samples: s.serverSamples,
        rows: [a, b],
        empty_p50_stock_over_local: a.empty_p50_ms && b.empty_p50_ms ? round(a.empty_p50_ms / b.empty_p50_ms, 2) : null,
        create_p50_stock_over_local:
          a.create_p50_ms && b.create_p50_ms ? round(a.create_p50_ms / b.create_p50_ms, 2) : null,
      };
    } finally {
      await local.stop();
    }
  } finally {
    await stock.stop();
  }
}

type Server = Awaited<ReturnType<typeof runServerComparison>>;
type Blocks = Awaited<ReturnType<typeof runBlocks>>;
type Shapes = Awaited<ReturnType<typeof runShapes>>;
type Ladder = Awaited<ReturnType<typeof runLadder>>;

interface Target {
  target: string;
  measured: string;
  /** null: this run did not measure it (a part left out, or a reduced run). */
  met: boolean | null;
}

/** Issue 10's targets, as ratios of this run. */
function targets(
  blocks: Blocks | null,
  shapes: Shapes | null,
  ladder: Ladder | null,
  store: StoreCost[] | null,
): Target[] {
  const out: Target[] = [];
  const at = (c: number) => blocks?.find((b) => b.clients === c);
  for (const c of [10, 50]) {
    const r = at(c)?.throughput_ratio;
    out.push({
      target: `create throughput >= 0.5x empty at ${c} clients`,
      measured: r == null ? '-' : `${r}x`,
      met: r == null ? null : r >= 0.5,
    });
  }
  const p = at(1)?.p50_ratio;
  out.push({
    target: 'p50 at 1 client <= 3x empty',
    measured: p == null ? '-' : `${p}x`,
    met: p == null ? null : p <= 3,
  });
  const ev = (shape: string) => shapes?.find((x) => x.shape === shape)?.history_events_max;
  const s1 = ev('success');
  const s3 = ev('three attempts');
  out.push({
    target: 'first-try success <= 25 history events',
    measured: s1 == null ? '-' : String(s1),
    met: s1 == null ? null : s1 <= 25,
  });
  out.push({
    target: 'three attempts <= 70 history events',
    measured: s3 == null ? '-' : String(s3),
    met: s3 == null ? null : s3 <= 70,
  });
  const rr = shapes?.find((x) => x.shape === 'one reschedule')?.p50_ratio_to_success;
  out.push({
    target: 'one reschedule <= 1.5x success (p50)',
    measured: rr == null ? '-' : `${rr}x`,
    met: rr == null ? null : rr <= 1.5,
  });
  const full = ladder && ladder.seconds >= 60;
  out.push({
    target: '>= 30 creates/s sustained for 60 s',
    measured: ladder ? `${ladder.sustained_per_s}/s for ${ladder.seconds} s` : '-',
    met: !ladder ? null : ladder.sustained_per_s >= 30 ? (full ? true : null) : false,
  });
  const top = store?.find((x) => x.volumes === 100_000);
  out.push({
    target: 'reserveQuota at 100k volumes <= 2x empty',
    measured: top ? `${top.reserve_quota_ratio_to_empty}x` : '-',
    met: top ? (top.reserve_quota_ratio_to_empty ?? Infinity) <= 2 : null,
  });
  out.push({
    target: 'stats report at 100k volumes <= 2x empty',
    measured: top ? `${top.stats_report_ratio_to_empty}x` : '-',
    met: top ? (top.stats_report_ratio_to_empty ?? Infinity) <= 2 : null,
  });
  out.push({
    target: 'creates of a SIGKILLed scheduler move on within 15 s (p99)',
    measured: 'not measured here (test/integration/process-faults.test.ts)',
    met: null,
  });
  return out;
}

function table(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '-' : String(v));
  const width = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(width[i]!))
      .join('  ')
      .trimEnd();
  return [
    line(columns),
    line(width.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join('\n');
}

function report(
  server: Server | null,
  blocks: Blocks | null,
  shapes: Shapes | null,
  ladder: Ladder | null,
  store: StoreCost[] | null,
  goals: Target[],
): string {
  const parts: string[] = [];
  if (server) {
    parts.push(table(server.rows, ['server', 'empty_p50_ms', 'empty_p95_ms', 'create_p50_ms', 'create_p95_ms']));
    parts.push(
      `stock / local p50: empty workflow ${server.empty_p50_stock_over_local}x, create ${server.create_p50_stock_over_local}x`,
    );
  }
  if (blocks) {
    parts.push(
      table(
        blocks.map((b) => ({
          clients: b.clients,
          'empty wf/s': b.empty.per_s,
          'empty p50/p95 ms': `${b.empty.p50_ms}/${b.empty.p95_ms}`,
          'create/s': b.create.per_s,
          'create p50/p95 ms': `${b.create.p50_ms}/${b.create.p95_ms}`,
          'throughput ratio': b.throughput_ratio,
          'p50 ratio': b.p50_ratio,
        })),
        ['clients', 'empty wf/s', 'empty p50/p95 ms', 'create/s', 'create p50/p95 ms', 'throughput ratio', 'p50 ratio'],
      ),
    );
  }
  if (shapes)
    parts.push(table(shapes, ['shape', 'attempts', 'n', 'history_events', 'p50_ms', 'p95_ms', 'p50_ratio_to_success']));
  if (ladder) {
    parts.push(
      table(
        ladder.steps.map((x) => ({ ...x })),
        [
          'rate_per_s',
          'seconds',
          'started',
          'completed_in_window',
          'failed',
          'p50_first_ms',
          'p50_last_ms',
          'p95_ms',
          'backlog_at_end',
          'sustained',
        ],
      ),
    );
    parts.push(`sustained: ${ladder.sustained_per_s} creates/s for ${ladder.seconds} s`);
  }
  if (store)
    parts.push(
      table(
        store.map((x) => ({ ...x })),
        [
          'volumes',
          'reserve_quota_p50_ms',
          'reserve_quota_ratio_to_empty',
          'stats_report_p50_ms',
          'stats_report_ratio_to_empty',
          'stats_first_report_ms',
        ],
      ),
    );
  parts.push(
    table(
      goals.map((g) => ({ ...g, met: g.met === null ? 'n/a' : g.met ? 'yes' : 'NO' })),
      ['target', 'measured', 'met'],
    ),
  );
  return parts.join('\n\n');
}

function gitCommit(): string | null {
  try {
    return execSync('git rev-parse --short HEAD', { cwd: __dirname, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

async function runDeploymentParts(s: Settings) {
  const d = await new Deployment({
    stockServer: s.stockServer,
    dynamicConfig: s.stockServer ? undefined : s.dynamicConfig,
    serverDb: s.serverDb,
    keepDir: s.keep,
    progress: log,
  }).start();
  try {
    log('warm-up');
    for (let i = 0; i < 5; i++) await Promise.all([runOne(d, 'empty'), runOne(d, 'create')]);
    const blocks = s.only.has('blocks') ? await runBlocks(d, s) : null;
    const shapes = s.only.has('shapes') ? await runShapes(d, s) : null;
    const ladder = s.only.has('ladder') ? await runLadder(d, s) : null;
    return { blocks, shapes, ladder };
  } finally {
    if (s.keep) log(`kept ${d.dir}`);
    await d.stop();
  }
}

async function main(): Promise<void> {
  const s = settings(process.argv.slice(2));
  process.setMaxListeners(50); // each worker process and server ties itself to this one's exit
  const load = { start: loadavg().map((x) => round(x, 2)) };
  const startedAt = new Date().toISOString();
  const commit = gitCommit(); // the code measured, even if the worktree moves during the run
  const server = s.only.has('server') ? await runServerComparison(s) : null;
  const needsDeployment = s.only.has('blocks') || s.only.has('shapes') || s.only.has('ladder');
  const { blocks, shapes, ladder } = needsDeployment
    ? await runDeploymentParts(s)
    : { blocks: null, shapes: null, ladder: null };
  const store = s.only.has('store')
    ? await storeCosts(s.volumes, { quota: s.quick ? 50 : 200, stats: s.quick ? 5 : 20 }, log)
    : null;
  const goals = targets(blocks, shapes, ladder, store);
  const results = {
    benchmark: 'create',
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    commit,
    machine: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? null,
      load_average_1_5_15: { ...load, end: loadavg().map((x) => round(x, 2)) },
    },
    mode: s.quick ? 'quick' : 'full',
    settings: { ...s, only: [...s.only], out: undefined },
    server_dynamic_config: s.stockServer ? 'stock' : { ...LOCAL_DYNAMIC_CONFIG, ...s.dynamicConfig },
    server_comparison: server,
    blocks,
    shapes,
    ladder,
    store_costs: store,
    targets: goals,
  };
  process.stdout.write(report(server, blocks, shapes, ladder, store, goals) + '\n');
  mkdirSync(dirname(s.out), { recursive: true });
  writeFileSync(s.out, JSON.stringify(results, null, 2) + '\n');
  log(`results in ${s.out}`);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench: ${err?.stack ?? err}\n`);
    process.exit(1);
  },
);
