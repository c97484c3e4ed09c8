/**
 * The chaos soak (`npm run chaos`, test/integration/chaos.test.ts), after Temporal's omes: N creates
 * started open loop at a fixed rate, probabilistic backend faults (the project's fault rules), a
 * random worker SIGKILLed and restarted every few seconds, the Temporal server restarted; then every
 * create awaited (bounded) and the batch audited (invariants.ts), with where the slowest waited.
 */
import { fetchRuns } from '../../src/client/history';
import { createVolume, volumeIdForRequest } from '../../src/client/volumes';
import { createVolumeWorkflowId } from '../../src/domain/names';
import type { FaultRule } from '../../src/domain/faults';
import type { ChaosTarget } from './chaos-target';
import { createWaits, type CreateWaits } from './chaos-waits';
import { rng } from './fuzz-requests';
import { auditBatch, temporalCreates, type AuditReport } from './invariants';

export interface ChaosOptions {
  creates: number;
  /** Creates started per second, whatever the earlier ones are doing (open loop). */
  rate: number;
  /** Probability that a backend create fails (split over: before the write, after it, a partial write). */
  createFail: number;
  /** Probability that a backend delete (a failed attempt's compensation) fails; it is retried. */
  deleteFail: number;
  /** Probability that a backend create is delayed by delayMs. */
  delay: number;
  delayMs: number;
  /** Probability that the volume worker SIGKILLs itself in the middle of a create. */
  exitMidCreate: number;
  /** SIGKILL a random worker every this many seconds while creates are started (0: never). */
  killEverySeconds: number;
  /** Temporal server restarts, spread over the start phase. */
  serverRestarts: number;
  /** How long every create may take to end once the last one is started. */
  finishTimeoutSeconds: number;
  /** Seed of the tool's own choices (which worker dies, volume sizes). */
  seed: number;
  /** How many of the slowest creates the report shows. */
  slowest: number;
  progress?: (line: string) => void;
}

export const DEFAULT_CHAOS: ChaosOptions = {
  creates: 100,
  rate: 10,
  createFail: 0.3,
  deleteFail: 0.05,
  delay: 0.05,
  delayMs: 2000,
  exitMidCreate: 0.01,
  killEverySeconds: 10,
  serverRestarts: 1,
  finishTimeoutSeconds: 300,
  seed: 1,
  slowest: 10,
};

export interface ChaosEvent {
  /** Seconds since the first create was due. */
  at_s: number;
  what: 'kill' | 'fault exit' | 'crash' | 'server restart';
  target: string;
  detail?: string;
}

export interface SlowCreate {
  volume_id: string;
  ms: number;
  status: string;
  /** The three largest stretches of its history. */
  waits: CreateWaits['waits'];
  workflow_task_timeouts: number;
  activity_timeouts: number;
}

export interface ChaosReport {
  target: string;
  options: Omit<ChaosOptions, 'progress'>;
  started_at: string;
  ms: number;
  /** Creates whose start call failed even after retrying (the audit sees them as lost). */
  start_errors: string[];
  /** Fault rule → times it fired. */
  faults: Record<string, number>;
  events: ChaosEvent[];
  audit: AuditReport;
  /** Every violation: the audit's, and chaos-level ones (a worker that crashed or stayed down). */
  violations: number;
  problems: string[];
  latency_ms: { p50: number; p95: number; p99: number; max: number };
  /** Summed over every create: where the time went. */
  wait_totals: CreateWaits['waits'];
  slowest: SlowCreate[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** Large enough never to run out: fired = this - remaining. */
const COUNTED = 1_000_000_000;

type RuleSpec = { label: string; p: number; rule: Omit<FaultRule, 'id' | 'host' | 'remaining' | 'probability'> };

/**
 * The rules of one op, so that each fires with its own overall probability: the store tries a
 * host's rules in order, each with its own draw, so a later rule's chance is given as the share of
 * what the earlier ones left.
 */
export function sequentialProbabilities(ps: number[]): number[] {
  let left = 1;
  return ps.map((p) => {
    const q = left > 0 ? Math.min(1, p / left) : 0;
    left -= p;
    return q;
  });
}

function faultSpecs(o: ChaosOptions): RuleSpec[] {
  const third = o.createFail / 3;
  return [
    { label: 'exit mid-create', p: o.exitMidCreate, rule: { op: 'create', action: 'exit' } },
    { label: 'create error', p: third, rule: { op: 'create', action: 'error' } },
    { label: 'create error after write', p: third, rule: { op: 'create', action: 'error', stage: 'after_write' } },
    { label: 'create partial write', p: third, rule: { op: 'create', action: 'error', stage: 'partial_write' } },
    { label: 'create delay', p: o.delay, rule: { op: 'create', action: 'delay', delay_ms: o.delayMs } },
    { label: 'delete error', p: o.deleteFail / 2, rule: { op: 'delete', action: 'error' } },
    {
      label: 'delete error after delete',
      p: o.deleteFail / 2,
      rule: { op: 'delete', action: 'error', stage: 'after_write' },
    },
  ];
}

/** Adds the fault rules on every backend; returns rule id → label. */
async function addFaults(t: ChaosTarget, o: ChaosOptions): Promise<Map<number, string>> {
  const labels = new Map<number, string>();
  const specs = faultSpecs(o);
  const sum = { create: 0, delete: 0 };
  for (const s of specs) sum[s.rule.op as 'create' | 'delete'] += s.p;
  if (sum.create > 1) throw new Error(`create fault probabilities add up to ${sum.create}, more than 1`);
  for (const op of ['create', 'delete'] as const) {
    const mine = specs.filter((s) => s.rule.op === op && s.p > 0);
    const qs = sequentialProbabilities(mine.map((s) => s.p));
    for (const host of t.backendHosts) {
      for (let i = 0; i < mine.length; i++) {
        const r = await t.store.addFaultRule({ ...mine[i].rule, host, remaining: COUNTED, probability: qs[i] });
        labels.set(r.id, mine[i].label);
      }
    }
  }
  return labels;
}

async function firedFaults(t: ChaosTarget, labels: Map<number, string>): Promise<Record<string, number>> {
  const fired: Record<string, number> = {};
  for (const r of await t.store.listFaultRules()) {
    const label = labels.get(r.id);
    if (label) fired[label] = (fired[label] ?? 0) + (COUNTED - (r.remaining ?? COUNTED));
  }
  return fired;
}

/** The disruption side of a run: kills, restarts, and a watch that brings back any worker that
 *  died by itself (an exit fault), until stopped. */
class Disruptor {
  readonly events: ChaosEvent[] = [];
  private readonly busy = new Set<string>();
  private stopped = false;
  private readonly loops: Array<Promise<void>> = [];

  constructor(
    private readonly t: ChaosTarget,
    private readonly t0: number,
    private readonly random: () => number,
    private readonly progress: (line: string) => void,
  ) {}

  private note(what: ChaosEvent['what'], target: string, detail?: string): void {
    const e = { at_s: Math.round((Date.now() - this.t0) / 100) / 10, what, target, ...(detail ? { detail } : {}) };
    this.events.push(e);
    this.progress(`chaos: ${e.at_s}s ${what} ${target}${detail ? ` (${detail})` : ''}`);
  }

  /** The watch: every half second, a worker that is down and not being handled is restarted. */
  watch(): void {
    this.loops.push(
      (async () => {
        while (!this.stopped) {
          for (const key of this.t.workers()) {
            if (this.busy.has(key) || this.t.workerRunning(key)) continue;
            await this.handle(key, async () => {
              const exit = await this.t.workerExit(key);
              // A fault's exit is the worker killing itself with SIGKILL; anything else is a crash.
              this.note(exit.signal === 'SIGKILL' ? 'fault exit' : 'crash', key, `exit ${exit.signal ?? exit.code}`);
              await this.t.restartWorker(key);
            });
          }
          await sleep(500);
        }
      })(),
    );
  }

  /** Every `seconds`, SIGKILLs a random worker and starts it again. */
  killEvery(seconds: number, until: () => boolean): void {
    if (seconds <= 0) return;
    this.loops.push(
      (async () => {
        for (let next = Date.now() + seconds * 1000; !this.stopped && !until(); next += seconds * 1000) {
          await sleep(Math.max(0, next - Date.now()));
          if (this.stopped || until()) break;
          const keys = this.t.workers().filter((k) => !this.busy.has(k));
          if (keys.length === 0) continue;
          const key = keys[Math.floor(this.random() * keys.length)];
          await this.handle(key, async () => {
            await this.t.killWorker(key);
            this.note('kill', key, 'SIGKILL');
            await this.t.restartWorker(key);
          });
        }
      })(),
    );
  }

  /** Restarts the server at each of `at` (ms from t0). */
  restartServerAt(at: number[]): void {
    this.loops.push(
      (async () => {
        for (const when of at) {
          await sleep(Math.max(0, this.t0 + when - Date.now()));
          if (this.stopped) break;
          const r = await this.t.restartServer();
          this.note('server restart', r.what, `down ${r.downMs} ms`);
        }
      })(),
    );
  }

  private async handle(key: string, fn: () => Promise<void>): Promise<void> {
    this.busy.add(key);
    try {
      await fn();
    } catch (err) {
      this.note('crash', key, `could not restart: ${(err as Error).message.slice(0, 300)}`);
    } finally {
      this.busy.delete(key);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
  }
}

/** Starts create i, retrying while the server is away (a restart); null when it never started. */
async function startOne(t: ChaosTarget, project: string, i: number, size: number): Promise<string | null> {
  const deadline = Date.now() + 120_000;
  for (let delay = 200; ; delay = Math.min(delay * 2, 5000)) {
    try {
      // A request id makes the start idempotent: a retry after a lost answer finds the same create.
      await createVolume(
        t.client,
        { project_id: project, size, name: `chaos-${i}`, request_id: `chaos-${i}` },
        { taskQueue: t.taskQueue },
      );
      return null;
    } catch (err) {
      if (Date.now() > deadline) return `chaos-${i}: ${(err as Error).message.slice(0, 300)}`;
      await sleep(delay);
    }
  }
}

/** The creates, open loop: create i is started at t0 + i / rate whatever the others are doing. */
async function startCreates(
  t: ChaosTarget,
  o: ChaosOptions,
  project: string,
  t0: number,
  random: () => number,
): Promise<string[]> {
  const errors: string[] = [];
  const starts: Array<Promise<void>> = [];
  for (let i = 0; i < o.creates; i++) {
    await sleep(Math.max(0, t0 + (i * 1000) / o.rate - Date.now()));
    const size = 1 + Math.floor(random() * 3);
    starts.push(
      startOne(t, project, i, size).then((e) => {
        if (e) errors.push(e);
      }),
    );
    if ((i + 1) % Math.max(1, Math.round(o.rate * 10)) === 0) o.progress?.(`chaos: ${i + 1}/${o.creates} started`);
  }
  await Promise.all(starts);
  return errors;
}

/** Waits until nothing runs on the scheduler task queue (creates and their cleanup workflows). */
async function drain(t: ChaosTarget, o: ChaosOptions): Promise<void> {
  const deadline = Date.now() + o.finishTimeoutSeconds * 1000;
  const query = `TaskQueue = ${JSON.stringify(t.taskQueue)} AND ExecutionStatus = "Running"`;
  let last = -1;
  while (Date.now() < deadline) {
    const running = await t.client.workflow.count(query).then(
      (c) => c.count,
      () => -1,
    );
    if (running === 0) return;
    if (running !== last) o.progress?.(`chaos: ${running} workflows still running`);
    last = running;
    await sleep(1000);
  }
  o.progress?.(`chaos: still running after ${o.finishTimeoutSeconds} s; the audit counts them as lost`);
}

/** Every create's waits (its history), a few at a time. */
async function collectWaits(t: ChaosTarget, ids: string[]): Promise<Map<string, CreateWaits>> {
  const out = new Map<string, CreateWaits>();
  let next = 0;
  const lane = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      const runs = await fetchRuns(t.client, createVolumeWorkflowId(id)).catch(() => null);
      if (runs) out.set(id, createWaits(runs));
    }
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  return out;
}

function percentile(sorted: number[], q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summarizeWaits(
  waits: Map<string, CreateWaits>,
  statusOf: (id: string) => string,
  slowest: number,
): Pick<ChaosReport, 'latency_ms' | 'wait_totals' | 'slowest'> {
  const sorted = [...waits.values()].map((w) => w.totalMs).sort((a, b) => a - b);
  const totals = new Map<string, number>();
  for (const w of waits.values()) for (const x of w.waits) totals.set(x.on, (totals.get(x.on) ?? 0) + x.ms);
  const slow = [...waits]
    .sort(([, a], [, b]) => b.totalMs - a.totalMs)
    .slice(0, slowest)
    .map(([id, w]) => ({
      volume_id: id,
      ms: w.totalMs,
      status: statusOf(id),
      waits: w.waits.slice(0, 3),
      workflow_task_timeouts: w.workflowTaskTimeouts,
      activity_timeouts: w.activityTimeouts,
    }));
  return {
    latency_ms: {
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? 0,
    },
    wait_totals: [...totals].map(([on, ms]) => ({ on, ms })).sort((a, b) => b.ms - a.ms),
    slowest: slow,
  };
}

/** One chaos run against a started target; the target is left running (the caller stops it). */
export async function runChaos(t: ChaosTarget, options: Partial<ChaosOptions> = {}): Promise<ChaosReport> {
  const o: ChaosOptions = { ...DEFAULT_CHAOS, ...options };
  const progress = o.progress ?? (() => undefined);
  const random = rng(o.seed, 0);
  const project = `chaos-${o.seed}-${Date.now().toString(36)}`;
  for (const resource of ['volumes', 'gigabytes']) await t.store.setQuotaLimit(project, resource, -1);
  const labels = await addFaults(t, o);
  const startedAt = new Date();
  const t0 = Date.now() + 500;
  const window = (o.creates * 1000) / o.rate;
  const chaos = new Disruptor(t, t0, random, progress);
  let allStarted = false;
  chaos.watch();
  chaos.killEvery(o.killEverySeconds, () => allStarted);
  chaos.restartServerAt(
    Array.from({ length: o.serverRestarts }, (_, i) => ((i + 1) * window) / (o.serverRestarts + 1)),
  );
  let startErrors: string[];
  try {
    startErrors = await startCreates(t, o, project, t0, random);
    allStarted = true;
    progress(`chaos: all ${o.creates} started in ${Math.round((Date.now() - t0) / 1000)} s; waiting for them to end`);
    await drain(t, o);
  } finally {
    allStarted = true;
    await chaos.stop();
  }
  // The faults stop before the audit: a stats report or late delete must not hit one.
  const faults = await firedFaults(t, labels);
  for (const host of t.backendHosts) await t.store.clearFaultRules(host);
  const volumeIds = Array.from({ length: o.creates }, (_, i) => volumeIdForRequest(project, `chaos-${i}`));
  const audit = await auditBatch(
    { store: t.store, pools: t.pools, creates: temporalCreates(t.client) },
    { volumeIds, projectIds: [project], settleMs: 15_000 },
  );
  const lost = new Set(audit.violations.filter((v) => v.kind === 'lost').map((v) => v.volume_id));
  const rows = new Map((await t.store.listVolumes({ project_id: project })).map((v) => [v.id, v.status]));
  const waits = await collectWaits(t, volumeIds);
  const problems = chaos.events.filter((e) => e.what === 'crash').map((e) => `worker ${e.target} crashed: ${e.detail}`);
  for (const key of t.workers()) if (!t.workerRunning(key)) problems.push(`worker ${key} is down at the end`);
  const { progress: _p, ...plain } = o;
  return {
    target: t.kind,
    options: plain,
    started_at: startedAt.toISOString(),
    ms: Date.now() - startedAt.getTime(),
    start_errors: startErrors,
    faults,
    events: chaos.events,
    audit,
    violations: audit.violations.length + problems.length,
    problems,
    ...summarizeWaits(waits, (id) => (lost.has(id) ? 'lost' : (rows.get(id) ?? 'no row')), o.slowest),
  };
}

// ---- printing ----

const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function rows(pairs: Array<[string, string | number]>, head: [string, string]): string[] {
  const w = Math.max(head[0].length, ...pairs.map(([k]) => k.length));
  const v = Math.max(head[1].length, ...pairs.map(([, x]) => String(x).length));
  return [head, ...pairs].map(([k, x]) => `  ${k.padEnd(w)}  ${String(x).padStart(v)}`);
}

const CHECK_NAMES: Record<string, string> = {
  lost: 'lost',
  'leaked-file': 'leaked files',
  duplicate: 'duplicates',
  'capacity-drift': 'capacity drift',
  'quota-drift': 'quota drift',
  'unexplained-error': 'unexplained errors',
};

/** The run as a table: faults fired, disruptions, the checks, the outcome mix, latency and the
 *  slowest creates with where they waited; the violations last. */
export function formatChaosReport(r: ChaosReport, maxViolations = 30): string {
  const o = r.options;
  const count = (what: ChaosEvent['what']) => r.events.filter((e) => e.what === what);
  const killed = new Map<string, number>();
  for (const e of count('kill')) killed.set(e.target, (killed.get(e.target) ?? 0) + 1);
  const a = r.audit;
  const lines = [
    `chaos on ${r.target}: ${o.creates} creates at ${o.rate}/s, create faults ${o.createFail}, delete faults ${o.deleteFail}, delays ${o.delay} (${o.delayMs} ms), exits mid-create ${o.exitMidCreate}, a kill every ${o.killEverySeconds} s, ${o.serverRestarts} server restart(s), seed ${o.seed}: ${s1(r.ms)}`,
    `disruptions: ${count('kill').length} SIGKILLs (${[...killed].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}), ${count('fault exit').length} exits by fault, ${count('server restart').length} server restarts (${
      count('server restart')
        .map((e) => e.detail)
        .join(', ') || '-'
    }), ${count('crash').length} crashes`,
    '',
    ...rows(Object.entries(r.faults), ['fault fired', 'times']),
    '',
    ...rows(
      Object.entries(a.counts).map(([k, n]) => [CHECK_NAMES[k] ?? k, n]),
      ['check', 'count'],
    ),
    ...(r.problems.length ? rows([['worker problems', r.problems.length]], ['', '']).slice(1) : []),
    '',
    ...rows(
      [
        ['available', a.outcomes.available],
        ['error', a.outcomes.error],
        ...Object.entries(a.errorTypes).map(([k, n]): [string, number] => [`  ${k}`, n]),
        ['  naming an injected fault', a.injectedErrors],
        ['refused', a.outcomes.refused],
        ['lost', a.outcomes.lost],
      ],
      ['outcome', 'count'],
    ),
    '',
    `create latency (history): p50 ${s1(r.latency_ms.p50)}, p95 ${s1(r.latency_ms.p95)}, p99 ${s1(r.latency_ms.p99)}, max ${s1(r.latency_ms.max)}`,
    `where the time went, all creates: ${r.wait_totals
      .slice(0, 5)
      .map((w) => `${w.on} ${s1(w.ms)}`)
      .join('; ')}`,
    '',
    'slowest creates:',
    ...r.slowest.map(
      (s) =>
        `  ${s.volume_id.slice(0, 8)}  ${s1(s.ms).padStart(7)}  ${s.status.padEnd(9)}  ${s.waits.map((w) => `${w.on} ${s1(w.ms)}`).join('; ')}${s.workflow_task_timeouts ? `; ${s.workflow_task_timeouts} workflow task timeouts` : ''}${s.activity_timeouts ? `; ${s.activity_timeouts} activity timeouts` : ''}`,
    ),
  ];
  if (r.start_errors.length)
    lines.push('', `start errors (${r.start_errors.length}):`, ...r.start_errors.map((e) => `  ${e}`));
  const all = [
    ...a.violations.map((v) => `${v.kind}${v.volume_id ? ` ${v.volume_id}` : ''}: ${v.detail}`),
    ...r.problems,
  ];
  if (all.length)
    lines.push(
      '',
      `violations (${all.length}${all.length > maxViolations ? `, first ${maxViolations}` : ''}):`,
      ...all.slice(0, maxViolations).map((v) => `  ${v}`),
    );
  lines.push('', all.length === 0 ? 'no violations' : `${all.length} violations`);
  return lines.join('\n');
}
