/**
 * The fuzz oracle: runs one generated case (fuzz-requests.ts) through its way in against a real
 * cluster and judges it against the start-path contract of issue 9: a clear error naming the field,
 * nothing stuck, no residue (no row except documented `error` rows, no file, no claim, no quota),
 * no victim changed, no worker crashed.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { VolumeService } from '../../src/client/volume-service';
import { unwrapCreateFailure, volumeIdForRequest, type NewVolumeRequest } from '../../src/client/volumes';
import { CINDER_ERROR_TYPES } from '../../src/domain/cinder-errors';
import { DEFAULT_REQUEST_LIMITS } from '../../src/domain/validation';
import type { Volume } from '../../src/domain/volume';
import { resolveTemporalCli } from '../../src/dev-server/temporal-cli';
import type { CapacityClaim, QuotaUsage } from '../../src/store/volume-store';
import { eventually, type Cluster } from './cluster';
import { CONFLICT, type FuzzCase, type FuzzTargets, type VictimInfo } from './fuzz-requests';
import { BIN, runProcess } from './run-process';

const GiB = 1024 ** 3;

export type ProblemKind =
  | 'crash'
  | 'stuck'
  | 'residue'
  | 'accepted-but-forbidden'
  | 'victim-changed'
  | 'unclear-error'
  | 'control-failed'
  | 'check-started'
  | 'terminal-injection';
export const PROBLEM_KINDS: readonly ProblemKind[] = [
  'crash',
  'stuck',
  'residue',
  'accepted-but-forbidden',
  'victim-changed',
  'unclear-error',
  'control-failed',
  'check-started',
  'terminal-injection',
];

export interface Problem {
  kind: ProblemKind;
  detail: string;
}

/** What happened to one case. */
export interface Outcome {
  /** The client, the start or the CLI refused it (nothing should have started). */
  clientError?: { name: string; type?: string; field?: string; message: string };
  workflowId?: string;
  volumeId?: string;
  existing?: boolean;
  /** How the workflow ended, when one ran. */
  result?: 'completed' | 'failed' | 'stuck';
  failure?: { type: string; message: string };
  stuckReason?: string;
  cli?: { code: number | null; stdout: string; stderr: string };
  /** The CLI's `--json` document: the volume's status as it printed it. */
  shownStatus?: string;
  ms: number;
}

export interface CaseVerdict {
  case: FuzzCase;
  outcome: Outcome;
  problems: Problem[];
}

export interface FuzzBounds {
  /** How long a refused create may take to fail (the contract's short bound). */
  refuseMs: number;
  /** How long a valid control may take. */
  createMs: number;
}

export const DEFAULT_BOUNDS: FuzzBounds = { refuseMs: 20_000, createMs: 90_000 };

/** Everything a case runs against: the cluster, a client, the victims and their first state. */
export interface FuzzWorld {
  c: Cluster;
  svc: VolumeService;
  targets: FuzzTargets;
  temporalCli: string | null;
  db: Database.Database | null;
  victimState: VictimSnapshot[];
  /** One create at a time per victim, so a change is blamed on the case that made it. */
  locks: Array<Promise<unknown>>;
}

// ---- victims ----

export interface VictimSnapshot {
  row: Volume | null;
  files: Array<{ file: string; size: number; mtimeMs: number }>;
  claims: CapacityClaim[];
  quota: QuotaUsage[];
  reservations: unknown[];
}

/**
 * Victims in their own projects: a plain one, one rescheduled once (its create failed on A by a
 * fault rule and moved to B), one sharing the first's project, and one that ended in `error`.
 */
export async function setUpWorld(c: Cluster): Promise<FuzzWorld> {
  const prefix = `fz${c.id}`;
  const svc = new VolumeService(c.client, c.store, { taskQueue: c.taskQueue });
  await eventually(async () => (await c.store.listPools()).length >= c.backends.length, 30_000, 'every pool reported');
  const specs: Array<{ request: VictimInfo['request']; faults: string[]; status: VictimInfo['status'] }> = [
    {
      request: {
        project_id: `${prefix}-victims-a`,
        size: 2,
        name: 'victim-0',
        request_id: 'victim-req-0',
        description: 'the plain victim',
        metadata: { tier: 'gold' },
      },
      faults: [],
      status: 'available',
    },
    {
      request: { project_id: `${prefix}-victims-b`, size: 1, name: 'victim-1', request_id: 'victim-req-1' },
      faults: ['A'],
      status: 'available',
    },
    {
      request: { project_id: `${prefix}-victims-a`, size: 1, name: 'victim-2', request_id: 'victim-req-2' },
      faults: [],
      status: 'available',
    },
    {
      request: { project_id: `${prefix}-victims-c`, size: 1, name: 'victim-3', request_id: 'victim-req-3' },
      faults: ['A', 'B'],
      status: 'error',
    },
  ];
  const victims: VictimInfo[] = [];
  for (const s of specs) {
    for (const b of s.faults) {
      await c.store.addFaultRule({
        host: c.host(b),
        op: 'create',
        action: 'error',
        error_type: 'VolumeBackendAPIException',
        remaining: 1,
        volume_name: s.request.name,
      });
    }
    const h = await svc.create(s.request as NewVolumeRequest);
    const ended = await h.result().then(
      () => 'available' as const,
      () => 'error' as const,
    );
    if (ended !== s.status) throw new Error(`victim ${s.request.name} ended ${ended}, expected ${s.status}`);
    victims.push({
      volumeId: h.volumeId,
      projectId: s.request.project_id as string,
      workflowId: h.workflowId,
      request: s.request,
      status: s.status,
    });
  }
  const v1 = await c.store.getVolume(victims[1].volumeId);
  if (v1?.host !== c.pool('B').backend_id) throw new Error(`the rescheduled victim is on ${v1?.host}, expected B`);
  const db = c.databaseUrl.startsWith('sqlite:')
    ? new Database(c.dbPath, { readonly: true, fileMustExist: true })
    : null;
  const world: FuzzWorld = {
    c,
    svc,
    targets: { prefix, victims, maxSizeGb: DEFAULT_REQUEST_LIMITS.maxSizeGb },
    temporalCli: (await resolveTemporalCli())?.path ?? null,
    db,
    victimState: [],
    locks: victims.map(() => Promise.resolve()),
  };
  for (let i = 0; i < victims.length; i++) world.victimState.push(await snapshotVictim(world, i));
  return world;
}

export function closeWorld(w: FuzzWorld): void {
  w.db?.close();
}

/** Active quota reservations of one volume, as the database holds them (SQLite only). */
function reservationsOf(w: FuzzWorld, volumeId: string): unknown[] {
  if (!w.db) return [];
  return w.db.prepare('SELECT * FROM quota_reservations WHERE volume_id = ? ORDER BY resource').all(volumeId);
}

function filesOf(w: FuzzWorld, volumeId: string): VictimSnapshot['files'] {
  return w.c.volumeFiles(volumeId).map((f) => {
    const [backendId, file] = [f.slice(0, f.lastIndexOf('/')), f.slice(f.lastIndexOf('/') + 1)];
    const b = w.c.backends.find((x) => x.pools.some((p) => p.backend_id === backendId))!;
    const pool = b.pools.find((p) => p.backend_id === backendId)!;
    const st = fs.statSync(path.join(pool.path, file));
    return { file: f, size: st.size, mtimeMs: st.mtimeMs };
  });
}

export async function snapshotVictim(w: FuzzWorld, i: number): Promise<VictimSnapshot> {
  const v = w.targets.victims[i];
  return {
    row: await w.c.store.getVolume(v.volumeId),
    files: filesOf(w, v.volumeId),
    claims: await w.c.store.listClaims(v.volumeId),
    quota: await w.c.store.getQuotaUsage(v.projectId),
    reservations: reservationsOf(w, v.volumeId),
  };
}

/** What differs between two snapshots, as short lines (the row field by field). */
export function victimDiff(a: VictimSnapshot, b: VictimSnapshot): string[] {
  const out: string[] = [];
  for (const key of Object.keys(a) as Array<keyof VictimSnapshot>) {
    if (key === 'row' && a.row && b.row) {
      const ra = a.row as unknown as Record<string, unknown>;
      const rb = b.row as unknown as Record<string, unknown>;
      for (const f of Object.keys(ra)) {
        if (JSON.stringify(ra[f]) !== JSON.stringify(rb[f]))
          out.push(`row.${f}: ${clip(JSON.stringify(ra[f]) ?? '', 120)} -> ${clip(JSON.stringify(rb[f]) ?? '', 120)}`);
      }
      continue;
    }
    const x = JSON.stringify(a[key]);
    const y = JSON.stringify(b[key]);
    if (x !== y) out.push(`${key}: ${clip(x, 300)} -> ${clip(y, 300)}`);
  }
  return out;
}

// ---- running a case ----

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function clip(s: string, n = 200): string {
  return s.length <= n ? s : `${s.slice(0, n)}…(${s.length} chars)`;
}

function describeError(e: unknown): NonNullable<Outcome['clientError']> {
  const err = e as { name?: string; cinderType?: string; field?: string; message?: string };
  return {
    name: err?.name ?? 'Error',
    ...(err?.cinderType ? { type: err.cinderType } : {}),
    ...(err?.field ? { field: err.field } : {}),
    message: String(err?.message ?? e),
  };
}

/** Why a workflow has not ended: failing workflow tasks, or an activity retried again and again. */
async function whyRunning(handle: WorkflowHandle): Promise<{ reason: string; failing: boolean }> {
  try {
    const d = await handle.describe();
    const pending = (d.raw.pendingActivities ?? []).map(
      (a) =>
        `${a.activityType?.name} attempt ${a.attempt}${a.lastFailure?.message ? `: ${clip(a.lastFailure.message, 160)}` : ''}`,
    );
    const history = await handle.fetchHistory();
    const wft = (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes);
    const lastWft = wft[wft.length - 1]?.workflowTaskFailedEventAttributes?.failure?.message;
    const failing = wft.length > 0 || (d.raw.pendingActivities ?? []).some((a) => (a.attempt ?? 1) > 1);
    const reason = [
      wft.length > 0 ? `${wft.length} failed workflow tasks (${clip(lastWft ?? '', 160)})` : '',
      ...pending,
    ]
      .filter(Boolean)
      .join('; ');
    return { reason: reason || 'running, no failure recorded', failing };
  } catch (e) {
    return { reason: `describe failed: ${(e as Error).message}`, failing: true };
  }
}

/** Waits for the workflow within the bound; a slow one that is not failing gets the bound again.
 *  A stuck one is terminated so it stops consuming the workers. */
async function awaitWorkflow(
  handle: WorkflowHandle,
  boundMs: number,
): Promise<Pick<Outcome, 'result' | 'failure' | 'stuckReason'>> {
  const settled = handle.result().then(
    () => ({ ok: true as const }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  let r = await Promise.race([settled, sleep(boundMs).then(() => null)]);
  if (!r) {
    const why = await whyRunning(handle);
    if (!why.failing) r = await Promise.race([settled, sleep(boundMs).then(() => null)]);
    if (!r) {
      const again = await whyRunning(handle);
      await handle.terminate('fuzz: still running past its bound').catch(() => undefined);
      return { result: 'stuck', stuckReason: again.reason };
    }
  }
  if (r.ok) return { result: 'completed' };
  const f = unwrapCreateFailure(r.e) as { type?: string; name?: string; message?: string };
  return { result: 'failed', failure: { type: f.type ?? f.name ?? 'Error', message: String(f.message ?? r.e) } };
}

/** The volume id a case's create has or would have. */
export function volumeIdOf(k: FuzzCase, out?: Outcome): string | null {
  const v = k.volumeId as unknown;
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && 'requestId' in v) {
    const { project, requestId } = v as { project: string; requestId: string };
    return volumeIdForRequest(project, requestId);
  }
  if (out?.volumeId) return out.volumeId;
  const req = k.request;
  if (req && typeof req.project_id === 'string' && typeof req.request_id === 'string')
    return volumeIdForRequest(req.project_id, req.request_id);
  return null;
}

async function execute(w: FuzzWorld, k: FuzzCase, bounds: FuzzBounds): Promise<Outcome> {
  const t0 = Date.now();
  const bound =
    k.expect.kind === 'valid' || k.expect.kind === 'may-fail' || k.expect.kind === 'either' || k.expect.kind === 'same'
      ? bounds.createMs
      : bounds.refuseMs;
  const out: Outcome = { ms: 0 };
  const client = w.c.client;
  let handle: WorkflowHandle | null = null;
  try {
    if (k.path === 'check' || k.path === 'nocheck') {
      const opts = k.options !== undefined ? { options: k.options as never } : {};
      const h = await w.svc.create(k.request as unknown as NewVolumeRequest, { check: k.path === 'check', ...opts });
      Object.assign(out, { workflowId: h.workflowId, volumeId: h.volumeId, existing: h.existing });
      handle = h.handle;
    } else if (k.path === 'raw') {
      handle = await client.workflow.start('createVolume', {
        workflowId: k.workflowId!,
        taskQueue: w.c.taskQueue,
        args: k.args as [never],
        ...(k.allowDuplicate ? { workflowIdReusePolicy: 'ALLOW_DUPLICATE' as const } : {}),
      });
      out.workflowId = k.workflowId;
    } else if (k.path === 'tcli') {
      if (!w.temporalCli) throw new Error('no Temporal CLI');
      const inputs = (k.args ?? []).flatMap((a) => ['--input', JSON.stringify(a)]);
      const r = await runProcess(
        w.temporalCli,
        [
          'workflow',
          'start',
          '--address',
          w.c.address,
          '--namespace',
          'default',
          '--type',
          'createVolume',
          '--task-queue',
          w.c.taskQueue,
          '--workflow-id',
          k.workflowId!,
          ...(k.allowDuplicate ? ['--id-reuse-policy', 'AllowDuplicate'] : []),
          ...inputs,
        ],
        process.env,
        60_000,
      );
      out.cli = r;
      if (r.code !== 0)
        throw Object.assign(new Error(clip(r.stderr.trim() || r.stdout.trim(), 400)), {
          name: 'TemporalCliStartFailed',
        });
      out.workflowId = k.workflowId;
      handle = client.workflow.getHandle(k.workflowId!);
    } else {
      const r = await runProcess(process.execPath, [BIN, ...k.argv!], w.c.env, 120_000);
      out.cli = r;
      if (r.code !== 0) throw Object.assign(new Error(clip(r.stderr.trim(), 400)), { name: `exit ${r.code}` });
      const doc = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as {
        volume: { id: string; status: string };
        workflow_id: string;
        existing: boolean;
      };
      Object.assign(out, {
        workflowId: doc.workflow_id,
        volumeId: doc.volume.id,
        existing: doc.existing,
        shownStatus: doc.volume.status,
      });
      handle = client.workflow.getHandle(doc.workflow_id);
    }
  } catch (e) {
    out.clientError = describeError(e);
  }
  if (handle) Object.assign(out, await awaitWorkflow(handle, bound));
  out.ms = Date.now() - t0;
  return out;
}

/** Runs one case (one at a time per victim) and judges it. */
export async function runCase(w: FuzzWorld, k: FuzzCase, bounds: FuzzBounds = DEFAULT_BOUNDS): Promise<CaseVerdict> {
  const v = k.victim;
  if (v === undefined) return runUnlocked(w, k, bounds);
  const previous = w.locks[v];
  let release!: () => void;
  w.locks[v] = new Promise<void>((r) => (release = r));
  await previous;
  try {
    return await runUnlocked(w, k, bounds);
  } finally {
    release();
  }
}

async function latestRunId(w: FuzzWorld, workflowId: string): Promise<string | null> {
  try {
    return (await w.c.client.workflow.getHandle(workflowId).describe()).runId;
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return null;
    throw e;
  }
}

async function runUnlocked(w: FuzzWorld, k: FuzzCase, bounds: FuzzBounds): Promise<CaseVerdict> {
  if (k.zeroQuota && typeof k.projectId === 'string') {
    await w.c.store.setQuotaLimit(k.projectId, 'volumes', 0);
    await w.c.store.setQuotaLimit(k.projectId, 'gigabytes', 0);
  }
  const victim = k.victim !== undefined ? w.targets.victims[k.victim] : null;
  const runBefore = victim ? await latestRunId(w, victim.workflowId) : null;
  const outcome = await execute(w, k, bounds);
  const problems = await judge(w, k, outcome, runBefore);
  return { case: k, outcome, problems };
}

// ---- judging ----

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether an error names one of the fields (`Invalid input for field 'size'`, `.field`). */
export function namesField(err: { message: string; field?: string }, fields: string[]): boolean {
  return fields.some((f) => {
    if (f === CONFLICT) return /first used with other parameters/.test(err.message);
    if (err.field && (err.field === f || err.field.startsWith(`${f}.`) || err.field === `request.${f}`)) return true;
    if (/^workflow[ _]?id$/i.test(f) && /workflow[ _-]?id/i.test(err.message)) return true;
    return new RegExp(`['"\`](?:request\\.|input\\.)?${escape(f)}(?:['"\`.\\[]|$)`).test(err.message);
  });
}

const isCinderType = (t: string | undefined) => !!t && CINDER_ERROR_TYPES.includes(t);
/** A refusal by the Temporal server itself at the start (e.g. a workflow id over its length limit). */
const isServerRefusal = (e: Outcome['clientError']) =>
  (!!e && /ServiceError|TemporalCliStartFailed|WorkflowExecutionAlreadyStarted/.test(e.name)) ||
  /INVALID_ARGUMENT|length|too long|exceeds/i.test(e?.message ?? '');

/** The refusal as one error: the client's, or the workflow's failure. */
function refusalOf(
  out: Outcome,
): { type?: string; field?: string; message: string; where: 'client' | 'workflow' } | null {
  if (out.clientError) return { ...out.clientError, where: 'client' };
  if (out.result === 'failed' && out.failure) return { ...out.failure, where: 'workflow' };
  return null;
}

async function judge(w: FuzzWorld, k: FuzzCase, out: Outcome, runBefore: string | null): Promise<Problem[]> {
  const problems: Problem[] = [];
  const add = (kind: ProblemKind, detail: string) => problems.push({ kind, detail });
  const e = k.expect;
  if (out.result === 'stuck') add('stuck', `still running after its bound: ${out.stuckReason}`);
  const refusal = refusalOf(out);
  const volumeId = volumeIdOf(k, out);

  if (e.kind === 'refuse' || e.kind === 'either') {
    if (out.result === 'completed') {
      if (e.kind === 'refuse')
        add('accepted-but-forbidden', `the create completed; expected a refusal naming ${e.fields.join(' or ')}`);
    } else if (refusal) {
      judgeRefusal(
        k,
        out,
        refusal,
        e.kind === 'refuse' ? e : { fields: e.fields, types: [...CINDER_ERROR_TYPES] },
        add,
      );
    }
    if (k.path === 'check' && out.workflowId && !out.existing && e.kind === 'refuse')
      add('check-started', `the check let a bad request start ${out.workflowId}`);
    if (k.path === 'cli' && e.kind === 'refuse' && volumeId && (await latestRunId(w, `create-volume-${volumeId}`)))
      add('check-started', `the CLI refused but started create-volume-${volumeId}`);
    if (e.kind === 'refuse' && out.workflowId && /^(workflow-id|resume)=/.test(k.category))
      await checkNoStepRan(w, out.workflowId, add);
    const accepted = out.result === 'completed' || (out.result === 'failed' && e.kind === 'either');
    await checkResidue(w, k, out, volumeId, accepted ? 'after-api' : 'none', add);
  } else if (e.kind === 'valid' || e.kind === 'may-fail') {
    if (out.result === 'completed') await checkCreated(w, k, out, volumeId, add);
    else if (e.kind === 'valid')
      add(
        'control-failed',
        `a valid request did not succeed: ${refusal ? `${refusal.type ?? ''} ${clip(refusal.message, 300)}` : out.result}`,
      );
    else if (refusal && refusal.where === 'workflow' && !isCinderType(refusal.type))
      add('unclear-error', `failed with ${refusal.type}: ${clip(refusal.message)}`);
    if (out.result !== 'completed') await checkResidue(w, k, out, volumeId, 'after-api', add);
  } else {
    await judgeTargeted(w, k, out, runBefore, add);
  }
  if (k.victim !== undefined) await checkVictim(w, k.victim, add);
  return problems;
}

/** The victim's row, files, claims, quota and reservations as they were before any case. */
async function checkVictim(w: FuzzWorld, i: number, add: (kind: ProblemKind, detail: string) => void): Promise<void> {
  const victim = w.targets.victims[i];
  const diff = victimDiff(w.victimState[i], await snapshotVictim(w, i));
  if (diff.length > 0) {
    add('victim-changed', `victim ${i} (${victim.volumeId}, project ${victim.projectId}) changed: ${diff.join(' | ')}`);
    // Blame the next change on the case that makes it.
    w.victimState[i] = await snapshotVictim(w, i);
  }
}

function judgeRefusal(
  k: FuzzCase,
  out: Outcome,
  refusal: NonNullable<ReturnType<typeof refusalOf>>,
  e: { fields: string[]; types?: string[] },
  add: (kind: ProblemKind, detail: string) => void,
): void {
  if (k.path === 'cli') {
    const first = (out.cli?.stderr ?? '').split('\n')[0];
    if (out.cli?.code !== 2) add('unclear-error', `the CLI exited ${out.cli?.code}, expected 2: ${clip(first)}`);
    else if (!e.fields.some((opt) => first.startsWith(opt)))
      add('unclear-error', `the CLI's message does not begin with ${e.fields.join(' or ')}: ${clip(first)}`);
    return;
  }
  if (refusal.where === 'client' && !refusal.type) {
    if (!isServerRefusal(out.clientError))
      add('unclear-error', `the client threw ${refusal.field ?? ''}${out.clientError?.name}: ${clip(refusal.message)}`);
    return;
  }
  const types = e.types ?? ['InvalidInput'];
  if (!isCinderType(refusal.type) || !types.includes(refusal.type!)) {
    add('unclear-error', `refused with ${refusal.type} (expected ${types.join(' | ')}): ${clip(refusal.message)}`);
  } else if (refusal.type === 'InvalidInput' && !namesField(refusal, e.fields)) {
    add('unclear-error', `the error does not name ${e.fields.join(' or ')}: ${clip(refusal.message)}`);
  } else if (k.path === 'check' && refusal.where === 'client' && !refusal.field) {
    add('unclear-error', `the check's ${refusal.type} has no .field: ${clip(refusal.message)}`);
  }
}

/** A start refused by the workflow's own input check (workflow id, carry) ran no activity at all. */
async function checkNoStepRan(
  w: FuzzWorld,
  workflowId: string,
  add: (kind: ProblemKind, detail: string) => void,
): Promise<void> {
  let events;
  try {
    events = (await w.c.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  } catch (e) {
    if (e instanceof WorkflowNotFoundError) return;
    throw e;
  }
  const steps = events.flatMap((ev) =>
    ev.activityTaskScheduledEventAttributes?.activityType?.name
      ? [ev.activityTaskScheduledEventAttributes.activityType.name]
      : [],
  );
  if (steps.length > 0) add('accepted-but-forbidden', `steps ran before the start was refused: ${steps.join(', ')}`);
}

/** Residue of a refused or failed create: `none` allows nothing at all; `after-api` allows the
 *  documented `error` row with its committed quota (the create passed the API flow). */
async function checkResidue(
  w: FuzzWorld,
  k: FuzzCase,
  out: Outcome,
  volumeId: string | null,
  allowed: 'none' | 'after-api',
  add: (kind: ProblemKind, detail: string) => void,
): Promise<void> {
  if (out.result === 'completed') return;
  const found: string[] = [];
  let row: Volume | null = null;
  if (volumeId) {
    row = await w.c.store.getVolume(volumeId);
    if (row && !(allowed === 'after-api' && row.status === 'error' && row.error_reason))
      found.push(`volume row ${row.status}${row.error_reason ? '' : ' without error_reason'}`);
    const files = w.c.volumeFiles(volumeId);
    if (files.length > 0) found.push(`files ${files.join(', ')}`);
    const claims = (await w.c.store.listClaims(volumeId)).filter((x) => x.status === 'active');
    if (claims.length > 0) found.push(`active claims on ${claims.map((x) => x.backend_id).join(', ')}`);
    const held = (reservationsOf(w, volumeId) as Array<{ status: string; resource: string }>).filter(
      (x) => x.status === 'reserved' || (x.status === 'committed' && !row),
    );
    if (held.length > 0) found.push(`quota reservations ${held.map((x) => `${x.resource}:${x.status}`).join(', ')}`);
  }
  if (typeof k.projectId === 'string') {
    const stray = (await w.c.store.listVolumes({ project_id: k.projectId })).filter((v) => v.id !== volumeId);
    if (stray.length > 0)
      found.push(`other rows in the project: ${stray.map((v) => `${v.id} ${v.status}`).join(', ')}`);
    const size = row?.status === 'error' ? row.size : 0;
    const usage = await w.c.store.getQuotaUsage(k.projectId);
    const wrong = usage.filter(
      (u) =>
        u.reserved !== 0 || u.in_use !== (u.resource.startsWith('gigabytes') ? size : row?.status === 'error' ? 1 : 0),
    );
    if (wrong.length > 0)
      found.push(`quota ${wrong.map((u) => `${u.resource} in_use ${u.in_use} reserved ${u.reserved}`).join(', ')}`);
  }
  if (found.length > 0) add('residue', found.join('; '));
}

/** A create that succeeded: its row, file, claim and quota agree. */
async function checkCreated(
  w: FuzzWorld,
  k: FuzzCase,
  out: Outcome,
  volumeId: string | null,
  add: (kind: ProblemKind, detail: string) => void,
): Promise<void> {
  const row = volumeId ? await w.c.store.getVolume(volumeId) : null;
  if (!row || row.status !== 'available' || !row.host) {
    add('control-failed', `completed, but the row is ${row ? `${row.status} on ${row.host}` : 'missing'}`);
    return;
  }
  const problems: string[] = [];
  const files = filesOf(w, row.id);
  if (files.length !== 1 || !files[0].file.startsWith(`${row.host}/`) || files[0].size !== row.size * GiB)
    problems.push(`files ${JSON.stringify(files)} for ${row.size} GiB on ${row.host}`);
  const claims = (await w.c.store.listClaims(row.id)).filter((x) => x.status === 'active');
  if (claims.length !== 1 || claims[0].backend_id !== row.host)
    problems.push(`active claims ${JSON.stringify(claims.map((x) => x.backend_id))}`);
  if (typeof k.projectId === 'string' && k.projectId === row.project_id && k.victim === undefined) {
    const g = (await w.c.store.getQuotaUsage(row.project_id)).find((u) => u.resource === 'gigabytes');
    if (g?.in_use !== row.size || g.reserved !== 0)
      problems.push(`gigabytes quota ${JSON.stringify(g)} for ${row.size} GiB`);
  }
  if (problems.length > 0) add('residue', `available volume inconsistent: ${problems.join('; ')}`);
  const asked = requestOf(k);
  if (asked && k.victim === undefined) {
    const wanted = {
      project_id: asked.project_id,
      size: asked.size,
      name: asked.name ?? null,
      description: asked.description ?? null,
      metadata: asked.metadata ?? {},
    };
    const stored = {
      project_id: row.project_id,
      size: row.size,
      name: row.name,
      description: row.description,
      metadata: row.metadata,
    };
    if (JSON.stringify(wanted) !== JSON.stringify(stored))
      add('control-failed', `stored ${clip(JSON.stringify(stored), 300)}, asked ${clip(JSON.stringify(wanted), 300)}`);
  }
  await checkShownEscaped(w, row, add);
}

/** The request a case sent (client or raw start), when it was an object. */
function requestOf(k: FuzzCase): Record<string, unknown> | null {
  const input = k.args?.[0] as { request?: unknown } | undefined;
  const req = k.request ?? (input && typeof input === 'object' ? input.request : undefined);
  return req && typeof req === 'object' && !Array.isArray(req) ? (req as Record<string, unknown>) : null;
}

/** Any control character but the line break, raw. */
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

/** A stored text with control characters (a description's tab or newline...) is shown escaped by
 *  `cinder-temporal show` and `list`, never raw. */
async function checkShownEscaped(
  w: FuzzWorld,
  row: Volume,
  add: (kind: ProblemKind, detail: string) => void,
): Promise<void> {
  const texts = [row.name ?? '', row.description ?? '', ...Object.entries(row.metadata).flat()];
  if (!texts.some((t) => /[\u0000-\u001f\u007f-\u009f]/.test(t))) return;
  for (const argv of [
    ['show', row.id],
    ['list', '--project-id', row.project_id],
  ]) {
    const r = await runProcess(process.execPath, [BIN, ...argv], w.c.env, 60_000);
    const raw = `${r.stdout}${r.stderr}`.split('\n').find((l) => RAW_CONTROL.test(l));
    if (r.code !== 0) add('terminal-injection', `cinder-temporal ${argv[0]} exited ${r.code}: ${clip(r.stderr)}`);
    else if (raw !== undefined)
      add(
        'terminal-injection',
        `cinder-temporal ${argv[0]} printed a raw control character: ${JSON.stringify(clip(raw, 160))}`,
      );
  }
}

/** Starts aimed at a victim: ownership, request-id conflicts, a repeated request. */
async function judgeTargeted(
  w: FuzzWorld,
  k: FuzzCase,
  out: Outcome,
  runBefore: string | null,
  add: (kind: ProblemKind, detail: string) => void,
): Promise<void> {
  const e = k.expect as Extract<FuzzCase['expect'], { victim: number }>;
  const victim = w.targets.victims[e.victim];
  const refusal = refusalOf(out);
  const runAfter = await latestRunId(w, victim.workflowId);
  if (e.kind === 'own') {
    if (out.existing && out.volumeId === victim.volumeId)
      add(
        'accepted-but-forbidden',
        `the client handed back the victim's volume ${victim.volumeId} (project ${victim.projectId}) to another request`,
      );
    else if (out.result === 'completed')
      add('accepted-but-forbidden', `a second workflow on the victim's volume completed`);
    else if (
      refusal &&
      !(
        /already exists|first used with other parameters/i.test(refusal.message) ||
        namesField(refusal, ['resume', 'workflow id']) ||
        isServerRefusal(out.clientError)
      )
    ) {
      add(
        'unclear-error',
        `refused with ${refusal.type ?? out.clientError?.name}: ${clip(refusal.message)} (expected 'volume ${victim.volumeId} already exists')`,
      );
    } else if (refusal && refusal.where === 'workflow' && refusal.type !== 'InvalidInput')
      add('unclear-error', `refused with ${refusal.type}, expected InvalidInput: ${clip(refusal.message)}`);
    if (typeof k.projectId === 'string' && k.projectId !== victim.projectId)
      await checkResidue(w, { ...k, volumeId: null }, out, null, 'none', add);
  } else if (e.kind === 'conflict') {
    if (!refusal || refusal.where !== 'client')
      add(
        'accepted-but-forbidden',
        `the request id ${victim.request.request_id} with another ${e.fields.join(', ')} was not refused${out.existing ? ': the first volume was returned' : ''}`,
      );
    else if (!new RegExp(e.fields.map((f) => escape(f.replace(/^--/, ''))).join('|')).test(refusal.message))
      add('unclear-error', `the conflict does not name ${e.fields.join(', ')}: ${clip(refusal.message)}`);
    if (runAfter !== runBefore)
      add('accepted-but-forbidden', `a conflicting request started a new run of ${victim.workflowId}`);
  } else {
    // The CLI shows the volume's row; the client hands back a create whose result is the volume's.
    const ended =
      k.path === 'cli'
        ? out.shownStatus === victim.status
        : victim.status === 'available'
          ? out.result === 'completed'
          : out.result === 'failed';
    const ok = out.existing === true && out.volumeId === victim.volumeId && ended;
    if (!ok)
      add(
        'control-failed',
        `the same request did not return the victim's ${victim.status} volume: ${JSON.stringify({ existing: out.existing, volumeId: out.volumeId, result: out.result, shown: out.shownStatus, error: refusal?.message && clip(refusal.message) })}`,
      );
    if (runAfter !== runBefore)
      add('accepted-but-forbidden', `repeating the request started a new run of ${victim.workflowId}`);
  }
}

/** The fuzz cluster: A larger than B (the CapacityWeigher tries A first, so a fault on A
 *  reschedules to B), both roomy enough for every control of a 5,000-request run. */
export const FUZZ_BACKENDS = [
  { name: 'A', pools: [{ name: 'pool1', total_capacity_gb: 3000 }] },
  { name: 'B', pools: [{ name: 'pool1', total_capacity_gb: 2000 }] },
];
