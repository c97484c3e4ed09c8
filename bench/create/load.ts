/**
 * The load shapes of the create bench: closed-loop blocks (c clients, each starting its next
 * workflow when the last one finished), history shapes made with fault rules, and an open-loop
 * arrival ladder. Everything here talks to a running Deployment through the client library.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { createVolume, VolumeCreateError } from '../../src/client/volumes';
import { BACKENDS, EMPTY_TASK_QUEUE, PROJECT, type Deployment } from './deployment';

export type Kind = 'empty' | 'create';

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export const round = (x: number, digits = 1) =>
  Number.isFinite(x) ? Math.round(x * 10 ** digits) / 10 ** digits : null;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let seq = 0;
const uniqueName = (prefix: string) => `${prefix}-${randomBytes(3).toString('hex')}-${++seq}`;

/** One workflow of the kind, start to result; returns its latency in ms (throws if it failed). */
export async function runOne(
  d: Deployment,
  kind: Kind,
  name = uniqueName(kind),
): Promise<{ ms: number; workflowId: string }> {
  const t0 = performance.now();
  if (kind === 'empty') {
    const workflowId = `bench-empty-${name}`;
    await d.client.workflow.execute('emptyWorkflow', { taskQueue: EMPTY_TASK_QUEUE, workflowId });
    return { ms: performance.now() - t0, workflowId };
  }
  const h = await createVolume(d.client, { project_id: PROJECT, name, size: 1 }, { taskQueue: d.taskQueue });
  await h.result();
  return { ms: performance.now() - t0, workflowId: h.workflowId };
}

export interface BlockResult {
  kind: Kind;
  clients: number;
  latencies: number[];
  wallMs: number;
}

/** `clients` concurrent clients run `total` workflows of one kind between them. */
export async function closedLoopBlock(d: Deployment, kind: Kind, clients: number, total: number): Promise<BlockResult> {
  const latencies: number[] = [];
  let started = 0;
  const t0 = performance.now();
  const client = async () => {
    while (started < total) {
      started++;
      latencies.push((await runOne(d, kind)).ms);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { kind, clients, latencies, wallMs: performance.now() - t0 };
}

/** The create shapes: how many of the backends (in the order the scheduler tries them) fail first. */
export const SHAPES = [
  { shape: 'success', failing: 0, attempts: 1, succeeds: true },
  { shape: 'one reschedule', failing: 1, attempts: 2, succeeds: true },
  { shape: 'three attempts', failing: 2, attempts: 3, succeeds: true },
  { shape: 'three failing', failing: 3, attempts: 3, succeeds: false },
] as const;
export type ShapeName = (typeof SHAPES)[number]['shape'];

export interface ShapeSample {
  ms: number;
  events: number;
  attempts: number;
}

/** One create of the shape: fault rules (one create error each, on this volume's name) on the first
 *  `failing` backends; checks it took the attempts the shape says. */
export async function runShape(d: Deployment, s: (typeof SHAPES)[number]): Promise<ShapeSample> {
  const name = uniqueName(`shape${s.failing}`);
  for (const b of BACKENDS.slice(0, s.failing)) {
    await d.store.addFaultRule({
      host: d.host(b.name),
      op: 'create',
      action: 'error',
      error_type: 'VolumeBackendAPIException',
      remaining: 1,
      volume_name: name,
    });
  }
  const t0 = performance.now();
  const h = await createVolume(d.client, { project_id: PROJECT, name, size: 1 }, { taskQueue: d.taskQueue });
  let attempts: number;
  try {
    attempts = (await h.result()).attempts.length;
    if (!s.succeeds) throw new Error(`shape '${s.shape}': create ${h.volumeId} succeeded, expected it to fail`);
  } catch (err) {
    if (!(err instanceof VolumeCreateError) || s.succeeds) throw err;
    attempts = err.state?.attempts.length ?? NaN;
  }
  const ms = performance.now() - t0;
  if (attempts !== s.attempts)
    throw new Error(`shape '${s.shape}': create ${h.volumeId} took ${attempts} attempts, expected ${s.attempts}`);
  const history = await d.client.workflow.getHandle(h.workflowId).fetchHistory();
  return { ms, events: history.events?.length ?? 0, attempts };
}

export interface LadderStep {
  rate_per_s: number;
  seconds: number;
  started: number;
  completed_in_window: number;
  failed: number;
  /** p50 latency of the first and the last fifth of the arrivals. */
  p50_first_ms: number | null;
  p50_last_ms: number | null;
  p95_ms: number | null;
  /** In flight when arrivals stopped. */
  backlog_at_end: number;
  sustained: boolean;
}

/**
 * Creates arrive at `rate` a second for `seconds`, whatever the completions do (open loop). The rate
 * is sustained when the last fifth of arrivals is served about as fast as the first fifth (no
 * growing queue), at least 95% of the arrivals finished by the end of the window plus their first
 * latency, and none failed.
 */
export async function ladderStep(d: Deployment, rate: number, seconds: number): Promise<LadderStep> {
  const total = Math.round(rate * seconds);
  const results: Array<{ i: number; ms: number; ok: boolean; doneAt: number }> = [];
  const pending: Array<Promise<void>> = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(
      runOne(d, 'create').then(
        (r) => void results.push({ i, ms: r.ms, ok: true, doneAt: performance.now() }),
        () => void results.push({ i, ms: performance.now() - due, ok: false, doneAt: performance.now() }),
      ),
    );
  }
  const windowEnd = performance.now();
  const backlog = total - results.length;
  await Promise.all(pending);
  const ok = results.filter((r) => r.ok);
  const fifth = Math.max(1, Math.floor(total / 5));
  const p50Of = (from: number, to: number) =>
    percentile(
      ok
        .filter((r) => r.i >= from && r.i < to)
        .map((r) => r.ms)
        .sort((a, b) => a - b),
      50,
    );
  const first = p50Of(0, fifth);
  const last = p50Of(total - fifth, total);
  const grace = Number.isFinite(first) ? 2 * first : 1000;
  const completedInWindow = results.filter((r) => r.doneAt <= windowEnd + grace).length;
  const failed = results.length - ok.length;
  return {
    rate_per_s: rate,
    seconds,
    started: total,
    completed_in_window: completedInWindow,
    failed,
    p50_first_ms: round(first),
    p50_last_ms: round(last),
    p95_ms: round(
      percentile(
        ok.map((r) => r.ms).sort((a, b) => a - b),
        95,
      ),
    ),
    backlog_at_end: backlog,
    sustained: failed === 0 && last <= 1.5 * first + 100 && completedInWindow >= 0.95 * total,
  };
}

/** Waits until nothing of the bench project is still creating (between phases). */
export async function drain(d: Deployment, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await d.store.listVolumes({ project_id: PROJECT, status: 'creating' })).length === 0) return;
    await sleep(500);
  }
}
