/**
 * A create's story attempt by attempt, read from the workflow's event history alone: which backend
 * each attempt went to, how it ended, what its compensations did and whether it was rescheduled.
 * Needs only the Temporal server (no worker, no volume database): the history is the record.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter, type PayloadConverter } from '@temporalio/common';
import type { CreateOptions } from '../domain/create-options';
import type { CreateVolumeRequest } from '../domain/volume';
import type { Retry } from '../scheduler/types';
import { createVolumeWorkflowId, type CreateVolumeInput } from '../workflows/create-volume';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
export type HistoryEvent = NonNullable<History['events']>[number];
type Payload = NonNullable<NonNullable<NonNullable<HistoryEvent['activityTaskScheduledEventAttributes']>['input']>['payloads']>[number];
type Failure = NonNullable<NonNullable<HistoryEvent['activityTaskFailedEventAttributes']>['failure']>;

/** One workflow run's events (a create continues as new between attempts when its history grows). */
export interface RunHistory {
  runId: string;
  events: HistoryEvent[];
}

export interface HistoryError {
  /** Cinder's exception name (the failure type), or BackendUnavailable for a timeout. */
  type: string;
  message: string;
}

/** One activity as the history recorded it. */
export interface HistoryActivity {
  activity: string;
  /** The summary the workflow gave it (what the UI shows), e.g. "compensate: delete volume-… on …". */
  summary: string | null;
  status: 'scheduled' | 'completed' | 'failed' | 'timed out' | 'cancelled';
  /** How many times it ran (Temporal retries); 0 while no try has finished. */
  tries: number;
  result?: unknown;
  error?: HistoryError;
  run_id: string;
  scheduled_at: string | null;
  closed_at: string | null;
}

export interface HistoryAttempt {
  /** Cinder's retry.num_attempts for this pass (1-based). */
  attempt: number;
  /** host@backend#pool the scheduler chose. */
  backend_id: string;
  outcome: 'running' | 'succeeded' | 'failed';
  error_type?: string;
  error?: string;
  /** filter_properties['retry'] after this pass chose its backend. */
  retry: Retry | null;
  /** What happened to `volume-<id>` on this backend after the failure (the workflow's words). */
  cleanup?: string;
  /** Whether this attempt's capacity claim was given back. */
  capacity_released?: boolean;
  /** The compensation activities run for this attempt, in the order they ran, with their results. */
  compensations: HistoryActivity[];
  /** Set when a new scheduling pass followed this failure (Cinder's reschedule). */
  rescheduled: { reason: string; at: string | null } | null;
  /** Schedule, backend create and finish activities of this attempt. */
  steps: HistoryActivity[];
  run_id: string;
  started_at: string | null;
  ended_at: string | null;
}

export type WorkflowOutcome = 'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed out' | 'continued as new';

export interface VolumeHistory {
  volume_id: string;
  workflow_id: string;
  /** How the create stands according to its history. */
  status: 'creating' | 'available' | 'error';
  workflow_status: WorkflowOutcome;
  /** Where the volume ended up (available only). */
  backend_id: string | null;
  request: CreateVolumeRequest | null;
  /** Per-request option overrides the start carried. */
  options: Partial<CreateOptions> | null;
  /** scheduler_max_attempts in force (known once a pass was scheduled). */
  max_attempts: number | null;
  runs: Array<{ run_id: string; started_at: string | null; closed_at: string | null; outcome: WorkflowOutcome }>;
  /** Cinder's API flow (validate, quota, volume entry) and its compensations when it failed. */
  api: { steps: HistoryActivity[]; compensations: HistoryActivity[] };
  attempts: HistoryAttempt[];
  /** A scheduling pass that found no backend (NoValidBackend), which ends the create. */
  scheduling_failure: (HistoryError & { attempt: number }) | null;
  /** The create's final failure, as the workflow reported it. */
  error: HistoryError | null;
  cancel_requested_at: string | null;
  /** Child workflows started to delete a failed attempt's volume once its backend is back. */
  cleanup_workflows: string[];
}

const API_STEPS = new Set(['extractVolumeRequest', 'reserveQuota', 'createVolumeEntry', 'commitQuota']);
const API_COMPENSATIONS = new Set(['rollbackQuota', 'destroyVolumeEntry']);
/** Attempt activities and where each one's attempt number sits in its arguments. */
const ATTEMPT_STEPS: Record<string, (args: unknown[]) => unknown> = {
  scheduleCreateVolume: (a) => field(a[0], 'attempt'),
  createVolumeFromSpec: (a) => field(a[0], 'attempt'),
  createVolumeOnFinish: (a) => field(a[0], 'attempt'),
};
const ATTEMPT_COMPENSATIONS: Record<string, (args: unknown[]) => unknown> = {
  releaseCapacity: (a) => a[1],
  deleteVolumeOnBackend: (a) => field(a[0], 'attempt'),
  recordCleanupPending: (a) => field(a[0], 'attempt'),
};

function field(obj: unknown, key: string): unknown {
  return obj && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
}

function timestamp(t: HistoryEvent['eventTime']): string | null {
  if (!t || t.seconds === null || t.seconds === undefined) return null;
  const ms = Number(String(t.seconds)) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

const TIMEOUT_TYPES: Record<string, string> = {
  '1': 'START_TO_CLOSE',
  '2': 'SCHEDULE_TO_START',
  '3': 'SCHEDULE_TO_CLOSE',
  '4': 'HEARTBEAT',
};

function timeoutName(t: unknown): string {
  const s = String(t ?? '');
  return TIMEOUT_TYPES[s] ?? s.replace(/^TIMEOUT_TYPE_/, '');
}

/** Cinder's name for a failure, read as the workflow reads it (see workflows/failure-info.ts). */
export function failureError(failure: Failure | null | undefined): HistoryError {
  let f = failure;
  // Activity and child-workflow wrappers carry the real failure as their cause.
  while (f && (f.activityFailureInfo || f.childWorkflowExecutionFailureInfo) && f.cause) f = f.cause;
  if (!f) return { type: 'Error', message: 'unknown failure' };
  if (f.applicationFailureInfo) return { type: f.applicationFailureInfo.type || 'Error', message: f.message ?? '' };
  if (f.timeoutFailureInfo) {
    const kind = timeoutName(f.timeoutFailureInfo.timeoutType);
    return {
      type: 'BackendUnavailable',
      message: kind === 'SCHEDULE_TO_START'
        ? 'no volume service picked up the task in time (its worker is down or overloaded)'
        : `the volume service stopped answering (${kind} timeout)`,
    };
  }
  if (f.canceledFailureInfo) return { type: 'Cancelled', message: f.message || 'cancelled' };
  if (f.terminatedFailureInfo) return { type: 'Terminated', message: f.message || 'terminated' };
  return { type: 'Error', message: f.message ?? '' };
}

/**
 * Reads the attempts out of a create's runs (oldest first). Payloads are decoded with `converter`
 * (the SDK's default unless the cluster's clients use another).
 */
export function parseVolumeHistory(workflowId: string, runs: RunHistory[], converter: PayloadConverter = defaultPayloadConverter): VolumeHistory {
  const decode = (p: Payload | null | undefined): unknown => {
    if (!p) return undefined;
    try {
      return converter.fromPayload(p as Parameters<PayloadConverter['fromPayload']>[0]);
    } catch {
      return undefined;
    }
  };
  const decodeAll = (payloads: Payload[] | null | undefined): unknown[] => (payloads ?? []).map(decode);

  const out: VolumeHistory = {
    volume_id: workflowId.replace(/^create-volume-/, ''),
    workflow_id: workflowId,
    status: 'creating',
    workflow_status: 'running',
    backend_id: null,
    request: null,
    options: null,
    max_attempts: null,
    runs: [],
    api: { steps: [], compensations: [] },
    attempts: [],
    scheduling_failure: null,
    error: null,
    cancel_requested_at: null,
    cleanup_workflows: [],
  };
  const attempts = new Map<number, HistoryAttempt>();
  const scheduleFailures = new Map<number, HistoryError>();
  const attemptOf = (n: number, runId: string, at: string | null): HistoryAttempt => {
    let a = attempts.get(n);
    if (!a) {
      a = { attempt: n, backend_id: '', outcome: 'running', retry: null, compensations: [], rescheduled: null, steps: [], run_id: runId, started_at: at, ended_at: null };
      attempts.set(n, a);
    }
    return a;
  };

  for (const run of runs) {
    const calls = new Map<string, { call: HistoryActivity; args: unknown[] }>();
    const runInfo: VolumeHistory['runs'][number] = { run_id: run.runId, started_at: null, closed_at: null, outcome: 'running' };
    out.runs.push(runInfo);
    for (const ev of run.events) {
      const at = timestamp(ev.eventTime);
      const started = ev.workflowExecutionStartedEventAttributes;
      if (started) {
        runInfo.started_at = at;
        const input = decode(started.input?.payloads?.[0]) as CreateVolumeInput | undefined;
        if (input?.request && !out.request) {
          out.request = input.request;
          out.volume_id = input.request.volume_id ?? out.volume_id;
        }
        if (input?.options && !out.options) out.options = input.options;
        continue;
      }
      const scheduled = ev.activityTaskScheduledEventAttributes;
      if (scheduled) {
        const call: HistoryActivity = {
          activity: scheduled.activityType?.name ?? '?',
          summary: (decode(ev.userMetadata?.summary) as string | undefined) ?? null,
          status: 'scheduled',
          tries: 0,
          run_id: run.runId,
          scheduled_at: at,
          closed_at: null,
        };
        const args = decodeAll(scheduled.input?.payloads);
        calls.set(String(ev.eventId), { call, args });
        const name = call.activity;
        if (API_STEPS.has(name)) out.api.steps.push(call);
        else if (API_COMPENSATIONS.has(name)) out.api.compensations.push(call);
        else if (ATTEMPT_STEPS[name]) {
          const n = Number(ATTEMPT_STEPS[name](args));
          if (Number.isInteger(n)) attemptOf(n, run.runId, at).steps.push(call);
          if (name === 'scheduleCreateVolume') {
            const max = field(field(args[0], 'options'), 'scheduler_max_attempts');
            if (typeof max === 'number') out.max_attempts = max;
          }
        } else if (ATTEMPT_COMPENSATIONS[name]) {
          const n = Number(ATTEMPT_COMPENSATIONS[name](args));
          if (Number.isInteger(n)) attemptOf(n, run.runId, at).compensations.push(call);
        } else if (name === 'prepareReschedule') {
          const n = Number(field(args[0], 'attempt'));
          if (Number.isInteger(n)) attemptOf(n, run.runId, at).rescheduled = { reason: String(field(args[0], 'reason') ?? ''), at };
        }
        continue;
      }
      const done = ev.activityTaskCompletedEventAttributes ?? ev.activityTaskFailedEventAttributes ?? ev.activityTaskTimedOutEventAttributes ?? ev.activityTaskCanceledEventAttributes;
      if (done) {
        const entry = calls.get(String(done.scheduledEventId));
        if (!entry) continue;
        const { call, args } = entry;
        call.closed_at = at;
        if (ev.activityTaskCompletedEventAttributes) {
          call.status = 'completed';
          call.result = decode(ev.activityTaskCompletedEventAttributes.result?.payloads?.[0]);
        } else if (ev.activityTaskFailedEventAttributes) {
          call.status = 'failed';
          call.error = failureError(ev.activityTaskFailedEventAttributes.failure);
        } else if (ev.activityTaskTimedOutEventAttributes) {
          call.status = 'timed out';
          call.error = failureError(ev.activityTaskTimedOutEventAttributes.failure);
        } else {
          call.status = 'cancelled';
          call.error = { type: 'Cancelled', message: 'Create cancelled by request' };
        }
        applyOutcome(call, args);
        continue;
      }
      const started2 = ev.activityTaskStartedEventAttributes;
      if (started2) {
        const entry = calls.get(String(started2.scheduledEventId));
        if (entry) entry.call.tries = Math.max(entry.call.tries, started2.attempt ?? 1);
        continue;
      }
      const child = ev.startChildWorkflowExecutionInitiatedEventAttributes;
      if (child) {
        if (child.workflowType?.name === 'cleanupBackendVolume') {
          const args = decodeAll(child.input?.payloads);
          const n = Number(field(args[0], 'attempt'));
          if (child.workflowId) out.cleanup_workflows.push(child.workflowId);
          if (Number.isInteger(n)) attemptOf(n, run.runId, at).cleanup = 'handed to a cleanup workflow';
        }
        continue;
      }
      if (ev.workflowExecutionCancelRequestedEventAttributes) {
        out.cancel_requested_at ??= at;
        continue;
      }
      const close = closeOutcome(ev);
      if (close) {
        runInfo.closed_at = at;
        runInfo.outcome = close;
        out.workflow_status = close;
        if (ev.workflowExecutionCompletedEventAttributes) {
          const result = decode(ev.workflowExecutionCompletedEventAttributes.result?.payloads?.[0]);
          const backend = field(result, 'backend_id');
          if (typeof backend === 'string') out.backend_id = backend;
        } else if (ev.workflowExecutionFailedEventAttributes) {
          out.error = failureError(ev.workflowExecutionFailedEventAttributes.failure);
        } else if (ev.workflowExecutionCanceledEventAttributes) {
          out.error = { type: 'Cancelled', message: 'Create cancelled by request; every step was compensated' };
        } else if (ev.workflowExecutionTerminatedEventAttributes) {
          const reason = ev.workflowExecutionTerminatedEventAttributes.reason;
          out.error = { type: 'Terminated', message: reason ? `terminated: ${reason}` : 'terminated' };
        } else if (ev.workflowExecutionTimedOutEventAttributes) {
          out.error = { type: 'TimedOut', message: 'the workflow timed out' };
        }
      }
    }
  }

  /** What a finished activity tells about its attempt. */
  function applyOutcome(call: HistoryActivity, args: unknown[]): void {
    const name = call.activity;
    const stepAttempt = ATTEMPT_STEPS[name] ? Number(ATTEMPT_STEPS[name](args)) : NaN;
    const compAttempt = ATTEMPT_COMPENSATIONS[name] ? Number(ATTEMPT_COMPENSATIONS[name](args)) : NaN;
    const a = attempts.get(Number.isInteger(stepAttempt) ? stepAttempt : compAttempt);
    if (!a) return;
    const fail = (e: HistoryError) => {
      if (a.outcome === 'failed') return;
      a.outcome = 'failed';
      a.error_type = e.type;
      a.error = e.message;
      a.ended_at = call.closed_at;
    };
    switch (name) {
      case 'scheduleCreateVolume':
        if (call.status === 'completed') {
          a.backend_id = String(field(call.result, 'backend_id') ?? '');
          a.retry = (field(field(call.result, 'filter_properties'), 'retry') as Retry | undefined) ?? null;
        } else if (call.error) {
          scheduleFailures.set(a.attempt, call.error);
        }
        break;
      case 'createVolumeFromSpec':
        if (call.status !== 'completed' && call.error) fail(call.error);
        break;
      case 'createVolumeOnFinish':
        if (call.status === 'completed') {
          a.outcome = 'succeeded';
          a.ended_at = call.closed_at;
        } else if (call.error) fail(call.error);
        break;
      case 'deleteVolumeOnBackend':
        if (call.status === 'completed') {
          a.cleanup = field(call.result, 'skipped') ? 'skipped: a later attempt owns the pool' : field(call.result, 'deleted') ? 'deleted' : 'nothing to delete';
        } else if (call.error) {
          a.cleanup = `delete failed: ${call.error.type}: ${call.error.message}`;
        }
        break;
      case 'releaseCapacity':
        if (call.status === 'completed') a.capacity_released = call.result === true;
        break;
    }
  }

  for (const a of attempts.values()) {
    if (!a.backend_id) continue; // a pass that found no backend is not an attempt on one
    // A delete still running, or the create stopped without its own failure (cancel, terminate).
    if (a.cleanup === undefined && a.compensations.some((c) => c.activity === 'deleteVolumeOnBackend' && c.status === 'scheduled')) {
      a.cleanup = 'delete in progress';
    }
    if (a.outcome === 'running' && out.workflow_status !== 'running' && out.workflow_status !== 'continued as new') {
      a.outcome = 'failed';
      a.error_type = out.cancel_requested_at ? 'Cancelled' : (out.error?.type ?? 'Error');
      a.error = out.cancel_requested_at ? 'Create cancelled by request; every step was compensated' : (out.error?.message ?? 'the create ended');
      a.ended_at = out.runs[out.runs.length - 1]?.closed_at ?? null;
    }
    out.attempts.push(a);
  }
  out.attempts.sort((x, y) => x.attempt - y.attempt);
  const failedPass = [...scheduleFailures.entries()].sort((x, y) => y[0] - x[0])[0];
  if (failedPass) out.scheduling_failure = { attempt: failedPass[0], ...failedPass[1] };
  out.status = out.workflow_status === 'completed' ? 'available' : out.workflow_status === 'running' || out.workflow_status === 'continued as new' ? 'creating' : 'error';
  return out;
}

function closeOutcome(ev: HistoryEvent): WorkflowOutcome | null {
  if (ev.workflowExecutionCompletedEventAttributes) return 'completed';
  if (ev.workflowExecutionFailedEventAttributes) return 'failed';
  if (ev.workflowExecutionCanceledEventAttributes) return 'cancelled';
  if (ev.workflowExecutionTerminatedEventAttributes) return 'terminated';
  if (ev.workflowExecutionTimedOutEventAttributes) return 'timed out';
  if (ev.workflowExecutionContinuedAsNewEventAttributes) return 'continued as new';
  return null;
}

/**
 * Every run of one workflow, oldest first: the latest run (describe), then back along each run's
 * `continuedExecutionRunId` to the first. Uses no visibility query, so it is exact at once.
 */
export async function fetchRuns(client: Client, workflowId: string, firstRunId?: string): Promise<RunHistory[]> {
  if (firstRunId) return fetchChain(client, workflowId, firstRunId);
  const latest = await client.workflow.getHandle(workflowId).describe();
  const runs: RunHistory[] = [];
  const seen = new Set<string>();
  for (let runId: string | undefined = latest.runId; runId && !seen.has(runId); ) {
    seen.add(runId);
    const history: History = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const events: HistoryEvent[] = history.events ?? [];
    runs.unshift({ runId, events });
    runId = events[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId || undefined;
  }
  return runs;
}

/** The runs of the chain that began with firstRunId, oldest first, following continue-as-new
 *  forward: a later start on the same workflow id is not part of it. */
async function fetchChain(client: Client, workflowId: string, firstRunId: string): Promise<RunHistory[]> {
  const runs: RunHistory[] = [];
  const seen = new Set<string>();
  for (let runId: string | undefined = firstRunId; runId && !seen.has(runId); ) {
    seen.add(runId);
    const events: HistoryEvent[] = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    runs.push({ runId, events });
    runId = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId || undefined;
  }
  return runs;
}

/** The create of one volume, attempt by attempt, from its workflow history. Throws the SDK's
 *  WorkflowNotFoundError when no create of that volume exists. With firstRunId (the volume row's
 *  owner), the history is that create's even when a later start reused the workflow id. */
export async function volumeHistory(
  client: Client,
  volumeId: string,
  converter: PayloadConverter = defaultPayloadConverter,
  firstRunId?: string,
): Promise<VolumeHistory> {
  const workflowId = createVolumeWorkflowId(volumeId);
  return parseVolumeHistory(workflowId, await fetchRuns(client, workflowId, firstRunId), converter);
}
