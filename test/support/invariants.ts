/**
 * The audit of a finished batch of creates (the chaos tool, the cluster tests): lost creates, leaked
 * files, duplicates, capacity drift, quota drift, and the outcome mix with every `error` explained.
 * It reads only what a deployment keeps (the volume database, the pool directories, the Temporal
 * server), so it runs the same against the dev server and a real cluster.
 */
import fs from 'node:fs';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { unwrapCreateFailure } from '../../src/client/volumes';
import { CINDER_ERROR_TYPES, REQUEST_ERROR_TYPES } from '../../src/domain/cinder-errors';
import { createVolumeWorkflowId } from '../../src/domain/names';
import type { Volume, VolumeStatus } from '../../src/domain/volume';
import type { VolumeStore } from '../../src/store/volume-store';

export interface AuditPool {
  /** host@backend#pool */
  backend_id: string;
  /** The pool's directory (the file driver's `path`). */
  path: string;
}

/** How a create's workflow stands, as the Temporal server says. */
export interface CreateEnd {
  status: 'missing' | 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed out';
  /** The create's failure (Cinder's exception name and message) when it failed. */
  failure?: { type: string; message: string };
}

/** One createVolume workflow run as visibility lists it. */
export interface CreateRun {
  workflowId: string;
  runId: string;
  volumeId: string | null;
  continuedAsNew: boolean;
}

/** What the audit asks the Temporal server: behind an interface so its counting is testable with
 *  hand-made outcomes; temporalCreates() is the real one. */
export interface CreateLookup {
  end(workflowId: string): Promise<CreateEnd>;
  /** Every createVolume run of these projects (ProjectId search attribute). */
  runsOf(projectIds: string[]): Promise<CreateRun[]>;
}

export interface AuditWorld {
  store: VolumeStore;
  pools: AuditPool[];
  creates: CreateLookup;
}

export interface AuditBatch {
  /** Every volume id the batch started a create for. */
  volumeIds: string[];
  /** The batch's projects: any other row, workflow or quota there is the batch's doing. */
  projectIds: string[];
  /** How long provisioned capacity may take to catch up (the volume services report every few
   *  seconds); default 0: read once. */
  settleMs?: number;
}

export const VIOLATION_KINDS = [
  'lost',
  'leaked-file',
  'duplicate',
  'capacity-drift',
  'quota-drift',
  'unexplained-error',
] as const;
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

export interface Violation {
  kind: ViolationKind;
  volume_id?: string;
  detail: string;
}

export interface AuditReport {
  creates: number;
  outcomes: { available: number; error: number; refused: number; lost: number };
  /** Failure type of each `error` (and refused) create → how many; `injected` counts the errors whose
   *  chain of failures names an injected fault. */
  errorTypes: Record<string, number>;
  injectedErrors: number;
  counts: Record<ViolationKind, number>;
  violations: Violation[];
}

/** Statuses whose row owns its `volume-<id>` file at rest (a failed delete keeps it). */
export const AT_REST_OWNERS: readonly VolumeStatus[] = ['available', 'deleting', 'error_deleting'];
/** Statuses whose capacity claim stays active at rest. */
const HOLDS_CAPACITY: readonly VolumeStatus[] = ['available', 'deleting', 'error_deleting'];
const EPS = 1e-6;

/** The volume ids a pool file belongs to: `volume-<id>`, its partial writes `.volume-<id>.partial…`. */
export function volumeIdOfFile(file: string): string | null {
  if (file.startsWith('volume-')) return file.slice('volume-'.length);
  const m = /^\.volume-(.+)\.partial/.exec(file);
  return m ? m[1] : null;
}

function poolFiles(pool: AuditPool): string[] {
  return fs.existsSync(pool.path) ? fs.readdirSync(pool.path).sort() : [];
}

/**
 * Every file in the pools that no row owns, as `backend_id/file`: a `volume-<id>` whose row is on
 * that pool in one of `owners`, or a `snapshot-<id>` with its snapshot row. Partial writes are
 * always leaks (a finished or failed write removes its own).
 */
export async function leakedFiles(
  store: VolumeStore,
  pools: AuditPool[],
  owners: readonly VolumeStatus[] = AT_REST_OWNERS,
): Promise<string[]> {
  const byId = new Map((await store.listVolumes()).map((v) => [v.id, v]));
  const leaks: string[] = [];
  for (const p of pools) {
    for (const f of poolFiles(p)) {
      if (f.startsWith('volume-')) {
        const v = byId.get(f.slice('volume-'.length));
        if (v && v.host === p.backend_id && owners.includes(v.status)) continue;
      } else if (f.startsWith('snapshot-') && (await store.getSnapshot(f.slice('snapshot-'.length)))) continue;
      leaks.push(`${p.backend_id}/${f}`);
    }
  }
  return leaks;
}

/** The real lookup: describe and result of each create, visibility for the runs. */
export function temporalCreates(client: Client): CreateLookup {
  return {
    async end(workflowId) {
      const handle = client.workflow.getHandle(workflowId);
      let status: string;
      try {
        status = (await handle.describe()).status.name;
      } catch (e) {
        if (e instanceof WorkflowNotFoundError) return { status: 'missing' };
        throw e;
      }
      if (status === 'RUNNING') return { status: 'running' };
      if (status === 'TERMINATED') return { status: 'terminated' };
      if (status === 'TIMED_OUT') return { status: 'timed out' };
      try {
        await handle.result();
        return { status: 'completed' };
      } catch (e) {
        const f = unwrapCreateFailure(e) as { type?: string; name?: string; message?: string };
        return {
          status: status === 'CANCELLED' ? 'cancelled' : 'failed',
          failure: { type: f.type ?? f.name ?? 'Error', message: String(f.message ?? e) },
        };
      }
    },
    async runsOf(projectIds) {
      const runs: CreateRun[] = [];
      for (const p of projectIds) {
        const query = `WorkflowType = "createVolume" AND ProjectId = ${JSON.stringify(p)}`;
        for await (const wf of client.workflow.list({ query })) {
          const id = wf.searchAttributes?.VolumeId;
          runs.push({
            workflowId: wf.workflowId,
            runId: wf.runId,
            volumeId: Array.isArray(id) && typeof id[0] === 'string' ? id[0] : null,
            continuedAsNew: wf.status.name === 'CONTINUED_AS_NEW',
          });
        }
      }
      return runs;
    },
  };
}

/** Runs every check of the batch; the report counts each violation once. */
export async function auditBatch(world: AuditWorld, batch: AuditBatch): Promise<AuditReport> {
  const violations: Violation[] = [];
  const add = (kind: ViolationKind, detail: string, volume_id?: string) =>
    violations.push({ kind, detail, ...(volume_id ? { volume_id } : {}) });
  const volumes = await world.store.listVolumes();
  const outcome = await checkCreates(world, batch, volumes, add);
  await checkDuplicates(world, batch, volumes, add);
  for (const f of await leakedFiles(world.store, world.pools))
    add(
      'leaked-file',
      `${f} belongs to no ${AT_REST_OWNERS.join(' / ')} volume on that pool`,
      volumeIdOfFile(f.slice(f.lastIndexOf('/') + 1)) ?? undefined,
    );
  await checkCapacity(world, volumes, add, batch.settleMs ?? 0);
  await checkQuota(world, batch, volumes, add);
  const counts = Object.fromEntries(VIOLATION_KINDS.map((k) => [k, 0])) as Record<ViolationKind, number>;
  for (const v of violations) counts[v.kind]++;
  return { creates: batch.volumeIds.length, ...outcome, counts, violations };
}

type Add = (kind: ViolationKind, detail: string, volumeId?: string) => void;

/** Lost creates (workflow missing or not closed, row missing or not final, the two disagreeing)
 *  and the outcome mix, every `error` with a reason and a Cinder failure type. */
async function checkCreates(
  world: AuditWorld,
  batch: AuditBatch,
  volumes: Volume[],
  add: Add,
): Promise<Pick<AuditReport, 'outcomes' | 'errorTypes' | 'injectedErrors'>> {
  const rows = new Map(volumes.map((v) => [v.id, v]));
  const outcomes = { available: 0, error: 0, refused: 0, lost: 0 };
  const errorTypes: Record<string, number> = {};
  let injectedErrors = 0;
  for (const id of batch.volumeIds) {
    const end = await world.creates.end(createVolumeWorkflowId(id));
    const row = rows.get(id) ?? null;
    const lost = lostReason(end, row);
    if (lost) {
      outcomes.lost++;
      add('lost', lost, id);
      continue;
    }
    if (end.status === 'completed') {
      outcomes.available++;
      continue;
    }
    const f = end.failure!;
    errorTypes[f.type] = (errorTypes[f.type] ?? 0) + 1;
    if (!row) {
      outcomes.refused++;
      continue;
    }
    outcomes.error++;
    const injected = /Injected fault/.test(`${f.message} ${row.error_reason ?? ''}`);
    if (injected) injectedErrors++;
    if (!row.error_reason?.trim()) add('unexplained-error', `error row without error_reason (${f.type})`, id);
    else if (!CINDER_ERROR_TYPES.includes(f.type) && !injected && end.status !== 'cancelled')
      add('unexplained-error', `failed with ${f.type}, not a Cinder failure type: ${f.message.slice(0, 200)}`, id);
  }
  return { outcomes, errorTypes, injectedErrors };
}

/** Why a create counts as lost, or null when it ended and its row agrees. */
function lostReason(end: CreateEnd, row: Volume | null): string | null {
  if (end.status === 'missing') return 'no create workflow';
  if (end.status === 'running') return `workflow still running (row ${row?.status ?? 'missing'})`;
  if (end.status === 'terminated' || end.status === 'timed out') return `workflow ${end.status}`;
  if (end.status === 'completed') {
    if (!row) return 'workflow completed but the volume row is missing';
    if (row.status !== 'available') return `workflow completed but the row is ${row.status}`;
    if (!row.host) return 'available row without a host';
    return null;
  }
  // A request refused by the API flow leaves no row (Cinder's quota and input errors).
  if (!row)
    return REQUEST_ERROR_TYPES.includes(end.failure!.type as never)
      ? null
      : `workflow ${end.status} (${end.failure!.type}) but the volume row is missing`;
  if (row.status !== 'error') return `workflow ${end.status} (${end.failure!.type}) but the row is ${row.status}`;
  return null;
}

/** More than one file, row or workflow for one volume or one request of the batch. */
async function checkDuplicates(world: AuditWorld, batch: AuditBatch, volumes: Volume[], add: Add): Promise<void> {
  const files = new Map<string, string[]>();
  for (const p of world.pools) {
    for (const f of poolFiles(p)) {
      const id = volumeIdOfFile(f);
      if (id) files.set(id, [...(files.get(id) ?? []), `${p.backend_id}/${f}`]);
    }
  }
  for (const [id, list] of files) if (list.length > 1) add('duplicate', `${list.length} files: ${list.join(', ')}`, id);

  const ours = new Set(batch.volumeIds);
  const projects = new Set(batch.projectIds);
  const byName = new Map<string, Volume[]>();
  for (const v of volumes) {
    if (!projects.has(v.project_id)) continue;
    if (!ours.has(v.id))
      add('duplicate', `row ${v.id} (${v.status}, name ${v.name}) was not started by the batch`, v.id);
    if (v.name !== null) {
      const key = `${v.project_id}/${v.name}`;
      byName.set(key, [...(byName.get(key) ?? []), v]);
    }
  }
  for (const [key, list] of byName)
    if (list.length > 1) add('duplicate', `${list.length} rows named ${key}: ${list.map((v) => v.id).join(', ')}`);

  const chains = new Map<string, Set<string>>();
  for (const r of await world.creates.runsOf(batch.projectIds)) {
    const id = r.volumeId ?? '(none)';
    if (!ours.has(id))
      add('duplicate', `workflow ${r.workflowId} run ${r.runId} (volume ${id}) was not started by the batch`);
    // A run that continued as new is part of a chain, not a second create.
    if (!r.continuedAsNew) chains.set(id, (chains.get(id) ?? new Set()).add(`${r.workflowId}/${r.runId}`));
  }
  for (const [id, set] of chains)
    if (set.size > 1) add('duplicate', `${set.size} create workflows: ${[...set].join(', ')}`, id);
}

/** Each pool's allocated counter = its active claims = the volumes that hold capacity there; each
 *  such volume one active claim on its host, no other volume any; provisioned = those volumes'
 *  sizes once the services have reported (waits up to settleMs for it). */
async function checkCapacity(world: AuditWorld, volumes: Volume[], add: Add, settleMs: number): Promise<void> {
  const rows = new Map(volumes.map((v) => [v.id, v]));
  const claims = (await world.store.listClaims()).filter((c) => c.status === 'active');
  const claimed = new Map<string, number>();
  const perVolume = new Map<string, string[]>();
  for (const c of claims) {
    claimed.set(c.backend_id, (claimed.get(c.backend_id) ?? 0) + c.size_gb);
    perVolume.set(c.volume_id, [...(perVolume.get(c.volume_id) ?? []), c.backend_id]);
  }
  const held = new Map<string, number>();
  for (const v of volumes) {
    const on = perVolume.get(v.id) ?? [];
    if (HOLDS_CAPACITY.includes(v.status) && v.host) {
      held.set(v.host, (held.get(v.host) ?? 0) + v.size);
      if (on.length !== 1 || on[0] !== v.host)
        add('capacity-drift', `${v.status} on ${v.host} with active claims on [${on.join(', ')}]`, v.id);
    } else if (on.length > 0) add('capacity-drift', `${v.status} volume still claims [${on.join(', ')}]`, v.id);
  }
  for (const id of perVolume.keys())
    if (!rows.has(id))
      add('capacity-drift', `active claim of a volume with no row on [${perVolume.get(id)!.join(', ')}]`, id);

  const deadline = Date.now() + settleMs;
  for (;;) {
    const pools = await world.store.listPools();
    const drift: string[] = [];
    const provisioned: string[] = [];
    for (const p of pools) {
      const want = held.get(p.backend_id) ?? 0;
      const claim = claimed.get(p.backend_id) ?? 0;
      if (Math.abs(p.allocated_capacity_gb - claim) > EPS || Math.abs(claim - want) > EPS)
        drift.push(
          `${p.backend_id}: allocated_capacity_gb ${p.allocated_capacity_gb}, active claims ${claim} GiB, volumes ${want} GiB`,
        );
      if (Math.abs(p.provisioned_capacity_gb - want) > EPS)
        provisioned.push(`${p.backend_id}: provisioned_capacity_gb ${p.provisioned_capacity_gb}, volumes ${want} GiB`);
    }
    if (provisioned.length === 0 || Date.now() >= deadline) {
      for (const d of [...drift, ...provisioned]) add('capacity-drift', d);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Each project's quota_usages: in use = its rows that are not deleted (Cinder keeps an error
 *  volume's quota until it is deleted), per resource and volume type; nothing reserved at rest. */
async function checkQuota(world: AuditWorld, batch: AuditBatch, volumes: Volume[], add: Add): Promise<void> {
  for (const project of batch.projectIds) {
    const want = new Map<string, number>();
    const bump = (k: string, n: number) => want.set(k, (want.get(k) ?? 0) + n);
    for (const v of volumes) {
      if (v.project_id !== project || v.status === 'deleted') continue;
      for (const suffix of ['', `_${v.volume_type}`]) {
        bump(`volumes${suffix}`, 1);
        bump(`gigabytes${suffix}`, v.size);
      }
    }
    const usage = await world.store.getQuotaUsage(project, [...want.keys()]);
    for (const u of usage) {
      const expected = want.get(u.resource) ?? 0;
      if (u.in_use !== expected || u.reserved !== 0)
        add(
          'quota-drift',
          `project ${project} ${u.resource}: in_use ${u.in_use} (volumes say ${expected}), reserved ${u.reserved}`,
        );
    }
  }
}

/** One line per kind, for a test's failure message. */
export function describeViolations(r: AuditReport, max = 20): string {
  return r.violations
    .slice(0, max)
    .map((v) => `${v.kind}${v.volume_id ? ` ${v.volume_id}` : ''}: ${v.detail}`)
    .join('\n');
}
