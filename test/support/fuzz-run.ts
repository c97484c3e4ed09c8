/**
 * Runs a seeded fuzz batch against a cluster (test/integration/fuzz.test.ts, scripts/fuzz.ts):
 * victims first, then the cases a few at a time, worker health after every case, and at the end
 * the global checks (nothing running, no stray file, reservation or claim, victims unchanged).
 * Returns the figures and every problem with a reproducer.
 */
import type { Cluster } from './cluster';
import {
  clip,
  closeWorld,
  DEFAULT_BOUNDS,
  PROBLEM_KINDS,
  runCase,
  setUpWorld,
  snapshotVictim,
  victimDiff,
  type CaseVerdict,
  type FuzzBounds,
  type FuzzWorld,
  type Problem,
  type ProblemKind,
} from './fuzz-oracle';
import { FUZZ_PATHS, generateCases, type FuzzCase } from './fuzz-requests';

export interface FuzzRunOptions {
  seed: number;
  n: number;
  concurrency?: number;
  bounds?: FuzzBounds;
  /** Called after every case (progress). */
  onCase?: (v: CaseVerdict, done: number) => void;
}

type Counts = Record<ProblemKind, number> & { cases: number };

export interface FuzzReport {
  seed: number;
  n: number;
  ms: number;
  totals: Counts;
  byPath: Record<string, Counts>;
  byCategory: Record<string, Counts>;
  /** Valid controls (and repeated requests) that had to succeed, and how many did. */
  controls: { total: number; ok: number };
  /** How long refusals took (client or workflow), in ms: p50, p99, max. */
  refusalMs: { p50: number; p99: number; max: number };
  /** Problems found after the cases, not tied to one. */
  global: Problem[];
  failures: CaseVerdict[];
}

const emptyCounts = (): Counts =>
  Object.assign({ cases: 0 }, Object.fromEntries(PROBLEM_KINDS.map((k) => [k, 0])) as Record<ProblemKind, number>);

/** The coarse category: the first mutation's field (`size`, `options.retry_initial_interval_ms`),
 *  `input`, `resume`, `workflow-id`, `own:…`, `reqid`, `cli:--size`, `control`; `multi` for several. */
export function categoryGroup(k: FuzzCase): string {
  const labels = k.category.split('+');
  if (labels.length > 1) return 'multi';
  const c = labels[0];
  if (c.startsWith('own:')) return c;
  if (c.startsWith('reqid:')) return c.replace(/-(size|name|description|metadata)$/, '');
  if (c.startsWith('cli:')) return c.replace(/=.*/, '').replace(/^(cli:[a-z]+(?:-id)?).*$/, '$1');
  return c.replace(/[=:].*$/, '');
}

export async function runFuzz(c: Cluster, opts: FuzzRunOptions): Promise<FuzzReport> {
  const t0 = Date.now();
  const world = await setUpWorld(c);
  try {
    const cases = generateCases(world.targets, opts.seed, opts.n);
    const verdicts: CaseVerdict[] = [];
    const crashed = new Set<string>();
    let next = 0;
    const lane = async () => {
      while (next < cases.length) {
        const k = cases[next++];
        const v = await runCase(world, k, opts.bounds ?? DEFAULT_BOUNDS).catch((e: unknown) => ({
          case: k,
          outcome: { ms: 0 },
          problems: [{ kind: 'unclear-error' as const, detail: `the oracle failed: ${(e as Error)?.stack ?? e}` }],
        }));
        await checkWorkers(world, v, crashed);
        verdicts.push(v);
        opts.onCase?.(v, verdicts.length);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency ?? 6 }, lane));
    const global = await globalChecks(world, crashed);
    return report(opts, verdicts, global, Date.now() - t0);
  } finally {
    closeWorld(world);
  }
}

/** A worker that exited is a crash (blamed on the case that just ended); it is restarted. */
async function checkWorkers(w: FuzzWorld, v: CaseVerdict, crashed: Set<string>): Promise<void> {
  for (const [key, proc] of w.c.workers) {
    if (proc.running) continue;
    const exit = await proc.exited;
    v.problems.push({
      kind: 'crash',
      detail: `worker ${key} exited (${exit.signal ?? exit.code}); see ${w.c.dir}/${key}.log`,
    });
    crashed.add(key);
    await w.c.startWorker(key, proc.options.roles);
  }
}

async function globalChecks(w: FuzzWorld, crashed: Set<string>): Promise<Problem[]> {
  const out: Problem[] = [];
  const c = w.c;
  // Nothing still running on the test's task queue (stuck creates were terminated by their case).
  // Visibility may lag a termination: each one listed is described to be sure.
  for await (const wf of c.client.workflow.list({
    query: `TaskQueue = "${c.taskQueue}" AND ExecutionStatus = "Running"`,
  })) {
    const d = await c.client.workflow.getHandle(wf.workflowId, wf.runId).describe();
    if (d.status.name === 'RUNNING')
      out.push({ kind: 'stuck', detail: `${wf.workflowId} (${wf.type}) still running after every case ended` });
  }
  for (const f of await c.leakedFiles())
    out.push({ kind: 'residue', detail: `file ${f} belongs to no existing volume` });
  const volumes = new Map((await c.store.listVolumes()).map((v) => [v.id, v]));
  for (const claim of await c.store.listClaims()) {
    const v = volumes.get(claim.volume_id);
    if (claim.status === 'active' && v?.status !== 'available')
      out.push({
        kind: 'residue',
        detail: `active claim of ${claim.volume_id} on ${claim.backend_id} (volume ${v?.status ?? 'absent'})`,
      });
  }
  if (w.db) {
    const held = w.db
      .prepare(`SELECT volume_id, project_id, resource, status FROM quota_reservations WHERE status <> 'rolled_back'`)
      .all() as Array<{ volume_id: string; project_id: string; resource: string; status: string }>;
    for (const r of held) {
      if (r.status === 'reserved' || !volumes.has(r.volume_id))
        out.push({
          kind: 'residue',
          detail: `quota reservation ${r.resource} ${r.status} of ${r.volume_id} (project ${r.project_id}) without its volume`,
        });
    }
  }
  for (const key of c.workers.keys())
    if (!c.worker(key).running) out.push({ kind: 'crash', detail: `worker ${key} is not running at the end` });
  if (crashed.size > 0)
    out.push({ kind: 'crash', detail: `workers that crashed during the run: ${[...crashed].join(', ')}` });
  // The victims, once more, against their state before any case ran.
  for (let i = 0; i < w.targets.victims.length; i++) {
    const diff = victimDiff(w.victimState[i], await snapshotVictim(w, i));
    if (diff.length > 0)
      out.push({ kind: 'victim-changed', detail: `victim ${i} differs at the end: ${diff.join(' | ')}` });
  }
  return out;
}

function report(opts: FuzzRunOptions, verdicts: CaseVerdict[], global: Problem[], ms: number): FuzzReport {
  const totals = emptyCounts();
  const byPath: Record<string, Counts> = Object.fromEntries(FUZZ_PATHS.map((p) => [p, emptyCounts()]));
  const byCategory: Record<string, Counts> = {};
  const controls = { total: 0, ok: 0 };
  verdicts.sort((a, b) => a.case.index - b.case.index);
  for (const v of verdicts) {
    const group = categoryGroup(v.case);
    const cat = (byCategory[group] ??= emptyCounts());
    for (const counts of [totals, byPath[v.case.path], cat]) {
      counts.cases++;
      // A case counts once per kind of problem it shows.
      for (const kind of new Set(v.problems.map((p) => p.kind))) counts[kind]++;
    }
    if (v.case.expect.kind === 'valid' || v.case.expect.kind === 'same') {
      controls.total++;
      if (!v.problems.some((p) => p.kind === 'control-failed')) controls.ok++;
    }
  }
  for (const p of global) totals[p.kind]++;
  const refusals = verdicts
    .filter((v) => v.outcome.clientError || v.outcome.result === 'failed')
    .map((v) => v.outcome.ms)
    .sort((a, b) => a - b);
  const at = (q: number) => refusals[Math.min(refusals.length - 1, Math.floor(q * refusals.length))] ?? 0;
  const refusalMs = { p50: at(0.5), p99: at(0.99), max: refusals[refusals.length - 1] ?? 0 };
  return {
    seed: opts.seed,
    n: opts.n,
    ms,
    totals,
    byPath,
    byCategory,
    controls,
    refusalMs,
    global,
    failures: verdicts.filter((v) => v.problems.length > 0),
  };
}

// ---- printing ----

/** The headline figures of the issue, in its words. */
export function headline(r: FuzzReport): string {
  const t = r.totals;
  return `${t.cases} requests (seed ${r.seed}) in ${(r.ms / 1000).toFixed(0)} s: ${t.crash} crashes, ${t.stuck} stuck, ${t.residue} residue, ${t['accepted-but-forbidden']} accepted-but-forbidden, ${t['victim-changed']} changes to another project's volume; ${t['unclear-error']} unclear errors, ${t['check-started']} refused by the check after starting, ${t['terminal-injection']} raw control characters printed, controls ${r.controls.ok}/${r.controls.total} ok`;
}

function table(rows: Array<[string, Counts]>): string[] {
  const cols: Array<[string, (c: Counts) => number]> = [
    ['cases', (c) => c.cases],
    ...PROBLEM_KINDS.map((k): [string, (c: Counts) => number] => [k, (c) => c[k]]),
  ];
  const width = Math.max(8, ...rows.map(([n]) => n.length));
  const head = ['', ...cols.map(([n]) => n)];
  const lines = [[head[0].padEnd(width), ...head.slice(1).map((h) => h.padStart(Math.max(5, h.length)))].join('  ')];
  for (const [name, c] of rows)
    lines.push([name.padEnd(width), ...cols.map(([h, f]) => String(f(c)).padStart(Math.max(5, h.length)))].join('  '));
  return lines;
}

/** How to send the case again, by hand. */
export function reproducer(v: CaseVerdict, taskQueue: string): string {
  const k = v.case;
  const j = (x: unknown) => clip(JSON.stringify(x) ?? 'undefined', 600);
  switch (k.path) {
    case 'check':
    case 'nocheck':
      return `VolumeService.create(${j(k.request)}, { check: ${k.path === 'check'}${k.options !== undefined ? `, options: ${j(k.options)}` : ''} })`;
    case 'raw':
      return `client.workflow.start('createVolume', { workflowId: ${j(k.workflowId)}, taskQueue: '${taskQueue}', args: ${j(k.args)}${k.allowDuplicate ? ", workflowIdReusePolicy: 'ALLOW_DUPLICATE'" : ''} })`;
    case 'tcli':
      return `temporal workflow start --type createVolume --task-queue ${taskQueue} --workflow-id ${j(k.workflowId)}${k.allowDuplicate ? ' --id-reuse-policy AllowDuplicate' : ''}${(k.args ?? []).map((a) => ` --input ${j(JSON.stringify(a))}`).join('')}`;
    case 'cli':
      return `cinder-temporal ${k.argv!.map((a) => clip(JSON.stringify(a), 120)).join(' ')}`;
  }
}

export function formatReport(r: FuzzReport, taskQueue: string, maxFailures = 60): string {
  const lines = [
    headline(r),
    `refusals took p50 ${r.refusalMs.p50} ms, p99 ${r.refusalMs.p99} ms, max ${r.refusalMs.max} ms`,
    '',
    'by path:',
    ...table(Object.entries(r.byPath)),
    '',
    'by category:',
  ];
  const cats = Object.entries(r.byCategory).sort(([a], [b]) => a.localeCompare(b));
  lines.push(...table(cats));
  if (r.global.length > 0) lines.push('', 'after the run:', ...r.global.map((p) => `  ${p.kind}: ${p.detail}`));
  if (r.failures.length > 0) {
    lines.push(
      '',
      `failures (${r.failures.length}${r.failures.length > maxFailures ? `, first ${maxFailures}` : ''}):`,
    );
    for (const v of r.failures.slice(0, maxFailures)) {
      lines.push(
        `#${v.case.index} ${v.case.path} ${v.case.category} (expected ${v.case.expect.kind}${'fields' in v.case.expect ? ` ${v.case.expect.fields.join('|')}` : ''})`,
      );
      for (const p of v.problems) lines.push(`    ${p.kind}: ${p.detail}`);
      lines.push(`    outcome: ${clip(JSON.stringify({ ...v.outcome, cli: undefined }), 400)}`);
      lines.push(`    repro: ${reproducer(v, taskQueue)}`);
    }
  }
  return lines.join('\n');
}
