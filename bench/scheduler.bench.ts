/**
 * Scheduler benchmark, shaped like OpenStack Placement's perf job: a deterministic fleet, then
 * - one pass at a time over 1,000 pools (warm-up, then 500 timed passes),
 * - 500 passes by 10 concurrent requesters sharing the pool list (each sees the others' consumption,
 *   each keeps its own retry state and reschedules a share of its volumes),
 * - one pass at a time over 10,000 pools.
 * Prints a table and writes bench/results/scheduler.json. Not a test: run `npx tsx bench/scheduler.bench.ts`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import {
  DEFAULT_MAX_ATTEMPTS,
  NoValidBackend,
  schedule,
  type BackendState,
  type FilterProperties,
  type ScheduleOptions,
} from '../src/scheduler/index';
import { generatePools, prng, requestStream } from './scheduler-fixtures';

const OPTIONS: ScheduleOptions = { maxAttempts: DEFAULT_MAX_ATTEMPTS, alternates: 2 };
const WARM_UP = 200;
const SAMPLES = 500;
const CLIENTS = 10;
/** Share of successful placements whose volume service then fails, sending the request back. */
const FAILURE_RATE = 0.15;

interface Scenario {
  scenario: string;
  pools: number;
  passes: number;
  p50_ms: number;
  p99_ms: number;
  mean_ms: number;
  passes_per_s: number;
  no_valid_backend: number;
}

/** Nearest-rank percentile of an ascending list. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summarize(scenario: string, pools: number, samples: number[], wallMs: number, noValid: number): Scenario {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    scenario,
    pools,
    passes: samples.length,
    p50_ms: round(percentile(sorted, 50)),
    p99_ms: round(percentile(sorted, 99)),
    mean_ms: round(samples.reduce((a, b) => a + b, 0) / samples.length),
    passes_per_s: Math.round(samples.length / (wallMs / 1000)),
    no_valid_backend: noValid,
  };
}

/** One pass, timed; a NoValidBackend is a legitimate outcome and counts as a pass. */
function timedPass(
  pools: readonly BackendState[],
  props: FilterProperties,
): { ms: number; result?: ReturnType<typeof schedule> } {
  const start = performance.now();
  try {
    const result = schedule(pools, props, OPTIONS);
    return { ms: performance.now() - start, result };
  } catch (error) {
    const ms = performance.now() - start;
    if (!(error instanceof NoValidBackend)) throw error;
    return { ms };
  }
}

function singlePass(label: string, pools: readonly BackendState[]): Scenario {
  const next = requestStream(7);
  for (let i = 0; i < WARM_UP; i++) timedPass(pools, next());
  const samples: number[] = [];
  let noValid = 0;
  const begin = performance.now();
  for (let i = 0; i < SAMPLES; i++) {
    const { ms, result } = timedPass(pools, next());
    samples.push(ms);
    if (!result) noValid++;
  }
  return summarize(label, pools.length, samples, performance.now() - begin, noValid);
}

/**
 * `passes` passes by CLIENTS requesters interleaved on the event loop. Each client awaits
 * setImmediate between its passes and keeps its own request and retry state; a share of its
 * placements "fail" on the volume service and come back with `exc` set, as a reschedule would.
 */
async function runClients(
  initial: readonly BackendState[],
  passes: number,
  seed: number,
): Promise<{ samples: number[]; noValid: number; wallMs: number }> {
  // The shared view of the fleet, owned by this benchmark: each pass's consumed pool replaces its
  // old stats, as the scheduler's local host state would, so passes see each other's consumption.
  const pools = [...initial];
  const slot = new Map(pools.map((p, i) => [p.backend_id, i]));
  const samples: number[] = [];
  let claimed = 0;
  let noValid = 0;

  async function client(id: number): Promise<void> {
    const next = requestStream(seed + id);
    const random = prng(seed + 500 + id);
    let props = next();
    while (claimed < passes) {
      claimed++;
      const { ms, result } = timedPass(pools, props);
      samples.push(ms);
      if (result) {
        pools[slot.get(result.backend.backend_id)!] = result.backend;
        props =
          random() < FAILURE_RATE && result.props.retry
            ? { ...result.props, retry: { ...result.props.retry, exc: 'VolumeBackendAPIException: simulated' } }
            : next();
      } else {
        noValid++;
        props = next();
      }
      await yieldToLoop();
    }
  }

  const begin = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, (_, id) => client(id)));
  return { samples, noValid, wallMs: performance.now() - begin };
}

async function concurrentPasses(label: string, pools: readonly BackendState[]): Promise<Scenario> {
  await runClients(pools, WARM_UP, 9000); // warm the rescheduling and consumed-pool paths too
  const { samples, noValid, wallMs } = await runClients(pools, SAMPLES, 1000);
  return summarize(label, pools.length, samples, wallMs, noValid);
}

function table(rows: readonly Scenario[]): string {
  const header = ['scenario', 'pools', 'passes', 'p50 ms', 'p99 ms', 'passes/s', 'NoValidBackend'];
  const cells = rows.map((r) => [
    r.scenario,
    String(r.pools),
    String(r.passes),
    r.p50_ms.toFixed(3),
    r.p99_ms.toFixed(3),
    String(r.passes_per_s),
    String(r.no_valid_backend),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    `| ${c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => `-${'-'.repeat(w)}${i === 0 ? '-' : ':'}`).join('|')}|`;
  return [line(header), rule, ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const thousand = generatePools(1_000);
  const tenThousand = generatePools(10_000);
  const rows: Scenario[] = [];
  rows.push(singlePass('single pass', thousand));
  rows.push(await concurrentPasses(`concurrency ${CLIENTS}`, thousand));
  rows.push(singlePass('single pass', tenThousand));

  console.log(table(rows));
  const out = join(__dirname, 'results');
  mkdirSync(out, { recursive: true });
  const file = join(out, 'scheduler.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        benchmark: 'scheduler',
        date: new Date().toISOString(),
        node: process.version,
        platform: `${process.platform} ${process.arch}`,
        cpu: cpus()[0]?.model ?? 'unknown',
        cores: availableParallelism(),
        options: { ...OPTIONS, warm_up: WARM_UP, samples: SAMPLES, clients: CLIENTS, failure_rate: FAILURE_RATE },
        scenarios: rows,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwritten to ${file}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
