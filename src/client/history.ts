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
import {
  ACTIVITY,
  API_FLOW_COMPENSATIONS,
  API_FLOW_STEPS,
  ATTEMPT_COMPENSATIONS,
  ATTEMPT_STEPS,
  CANCELLED,
  CLEANUP,
  LOCAL_ACTIVITY_MARKER,
  WORKFLOW_TYPE,
  cleanupOfDelete,
  createVolumeWorkflowId,
  timeoutFailure,
  volumeIdOfWorkflow,
} from '../domain/names';
import type { CreateVolumeInput } from '../workflows/create-volume';

type History = Awaited<ReturnType<WorkflowHandle['fetchHistory']>>;
export type HistoryEvent = NonNullable<History['events']>[number];
type Payload = NonNullable<
  NonNullable<NonNullable<HistoryEvent['activityTaskScheduledEventAttributes']>['input']>['payloads']
>[number];
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

export type WorkflowOutcome =
  'running' | 'completed' | 'failed' | 'cancelled' | 'terminated' | 'timed out' | 'continued as new';

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

const API_STEPS = new Set<string>(API_FLOW_STEPS);
const API_COMPENSATIONS = new Set<string>(API_FLOW_COMPENSATIONS);
const ATTEMPT_ACTIVITIES = new Set<string>([...ATTEMPT_STEPS, ...ATTEMPT_COMPENSATIONS]);
const STEP_ACTIVITIES = new Set<string>(ATTEMPT_STEPS);

/** The attempt an activity belongs to, from its arguments (a normal activity's input is in the
 *  history; a local activity's is not: then undefined, and the reader infers it). */
function attemptInArgs(name: string, args: unknown[]): number | undefined {
  if (args.length === 0) return undefined;
  const n = Number(name === ACTIVITY.releaseCapacity ? args[1] : field(args[0], 'attempt'));
  return Number.isInteger(n) ? n : undefined;
}

/** A local activity's marker as the SDK core writes it: its type and tries in `data`, its result. */
export function localActivityOf(
  ev: HistoryEvent,
  converter: PayloadConverter = defaultPayloadConverter,
): { activity: string; tries: number; result: unknown } | null {
  const m = ev.markerRecordedEventAttributes;
  if (!m || m.markerName !== LOCAL_ACTIVITY_MARKER) return null;
  const decode = (p: Payload | null | undefined): unknown => {
    try {
      return p ? converter.fromPayload(p as Parameters<PayloadConverter['fromPayload']>[0]) : undefined;
    } catch {
      return undefined;
    }
  };
  const data = decode(m.details?.data?.payloads?.[0]) as Record<string, unknown> | undefined;
  const activity = data?.activity_type ?? data?.activityType;
  if (typeof activity !== 'string') return null;
  return { activity, tries: Number(data?.attempt ?? 1) || 1, result: decode(m.details?.result?.payloads?.[0]) };
}

/** Every activity a run called, normal and local, in history order: name, summary, outcome. */
export function activityCalls(
  events: HistoryEvent[],
  converter: PayloadConverter = defaultPayloadConverter,
): Array<{
  activity: string;
  summary: string | null;
  local: boolean;
  status: HistoryActivity['status'];
  result?: unknown;
}> {
  const decodeSummary = (ev: HistoryEvent) => {
    try {
      return ev.userMetadata?.summary
        ? (converter.fromPayload(ev.userMetadata.summary as Parameters<PayloadConverter['fromPayload']>[0]) as string)
        : null;
    } catch {
      return null;
    }
  };
  const out: ReturnType<typeof activityCalls> = [];
  const byId = new Map<string, (typeof out)[number]>();
  for (const ev of events) {
    const la = localActivityOf(ev, converter);
    if (la) {
      out.push({
        activity: la.activity,
        summary: decodeSummary(ev),
        local: true,
        status: ev.markerRecordedEventAttributes!.failure ? 'failed' : 'completed',
        result: la.result,
      });
      continue;
    }
    const scheduled = ev.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const call = {
        activity: scheduled.activityType?.name ?? '?',
        summary: decodeSummary(ev),
        local: false,
        status: 'scheduled' as HistoryActivity['status'],
      };
      byId.set(String(ev.eventId), call);
      out.push(call);
      continue;
    }
    const done =
      ev.activityTaskCompletedEventAttributes ??
      ev.activityTaskFailedEventAttributes ??
      ev.activityTaskTimedOutEventAttributes ??
      ev.activityTaskCanceledEventAttributes;
    const call = done ? byId.get(String(done.scheduledEventId)) : undefined;
    if (call)
      call.status = ev.activityTaskCompletedEventAttributes
        ? 'completed'
        : ev.activityTaskFailedEventAttributes
          ? 'failed'
          : ev.activityTaskTimedOutEventAttributes
            ? 'timed out'
            : 'cancelled';
  }
  return out;
}

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
  if (f.applicationFailureInfo) {
    const type = f.applicationFailureInfo.type || 'Error';
    // Creates from before the three flows put the type in front of the message too: say it once.
    const message = f.message ?? '';
    return { type, message: message.startsWith(`${type}: `) ? message.slice(type.length + 2) : message };
  }
  if (f.timeoutFailureInfo) {
    const { type, message } = timeoutFailure(timeoutName(f.timeoutFailureInfo.timeoutType));
    return { type, message };
  }
  if (f.canceledFailureInfo) return { type: 'Cancelled', message: f.message || 'cancelled' };
  if (f.terminatedFailureInfo) return { type: 'Terminated', message: f.message || 'terminated' };
  return { type: 'Error', message: f.message ?? '' };
}

/**
 * Reads the attempts out of a create's runs (oldest first). Payloads are decoded with `converter`
 * (the SDK's default unless the cluster's clients use another).
 */
export function parseVolumeHistory(
  workflowId: string,
  runs: RunHistory[],
  converter: PayloadConverter = defaultPayloadConverter,
): VolumeHistory {
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
    volume_id: volumeIdOfWorkflow(workflowId) ?? workflowId,
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
      a = {
        attempt: n,
        backend_id: '',
        outcome: 'running',
        retry: null,
        compensations: [],
        rescheduled: null,
        steps: [],
        run_id: runId,
        started_at: at,
        ended_at: null,
      };
      attempts.set(n, a);
    }
    return a;
  };

  /** The latest scheduling pass's attempt number: where a local activity (no input in the
   *  history) belongs. Passes are sequential, across runs too. */
  let pass = 0;
  /** Files a call under the API flow or its attempt; returns the attempt number, if any. */
  const register = (call: HistoryActivity, args: unknown[], runId: string, at: string | null): number | undefined => {
    const name = call.activity;
    if (API_STEPS.has(name)) out.api.steps.push(call);
    else if (API_COMPENSATIONS.has(name)) out.api.compensations.push(call);
    const specStep = name === ACTIVITY.extractVolumeRequest || name === ACTIVITY.createVolumeApiFlow;
    if (specStep || name === ACTIVITY.scheduleCreateVolume) {
      const options = specStep ? field(call.result, 'options') : field(args[0], 'options');
      const max = field(options, 'scheduler_max_attempts');
      if (typeof max === 'number') out.max_attempts = max;
    }
    if (!ATTEMPT_ACTIVITIES.has(name) && name !== ACTIVITY.prepareReschedule) return undefined;
    let n = attemptInArgs(name, args);
    if (n === undefined && name === ACTIVITY.scheduleCreateVolume) {
      const retry = field(field(call.result, 'filter_properties'), 'retry');
      n = call.status === 'completed' ? Number(field(retry, 'num_attempts') ?? pass + 1) : pass + 1;
    }
    n ??= pass;
    if (name === ACTIVITY.scheduleCreateVolume) pass = n;
    if (!Number.isInteger(n) || n < 1) return undefined;
    const a = attemptOf(n, runId, at);
    if (name === ACTIVITY.prepareReschedule) {
      const reason = field(args[0], 'reason') ?? (a.error_type ? `${a.error_type}: ${a.error ?? ''}` : '');
      a.rescheduled = { reason: String(reason), at };
    } else if (STEP_ACTIVITIES.has(name)) a.steps.push(call);
    else a.compensations.push(call);
    return n;
  };

  for (const run of runs) {
    const calls = new Map<string, { call: HistoryActivity; args: unknown[]; attempt: number | undefined }>();
    const runInfo: VolumeHistory['runs'][number] = {
      run_id: run.runId,
      started_at: null,
      closed_at: null,
      outcome: 'running',
    };
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
        const carried = input?.resume?.spec?.options?.scheduler_max_attempts;
        if (typeof carried === 'number') out.max_attempts = carried;
        continue;
      }
      const local = localActivityOf(ev, converter);
      if (local) {
        // A local activity: one marker when it is done (its tries included), no input recorded.
        const failure = ev.markerRecordedEventAttributes!.failure;
        const call: HistoryActivity = {
          activity: local.activity,
          summary: (decode(ev.userMetadata?.summary) as string | undefined) ?? null,
          status: failure
            ? failure.canceledFailureInfo || failure.cause?.canceledFailureInfo
              ? 'cancelled'
              : 'failed'
            : 'completed',
          tries: local.tries,
          ...(failure ? { error: failureError(failure) } : { result: local.result }),
          run_id: run.runId,
          scheduled_at: at,
          closed_at: at,
        };
        const n = register(call, [], run.runId, at);
        applyOutcome(call, n);
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
        calls.set(String(ev.eventId), { call, args, attempt: register(call, args, run.runId, at) });
        continue;
      }
      const done =
        ev.activityTaskCompletedEventAttributes ??
        ev.activityTaskFailedEventAttributes ??
        ev.activityTaskTimedOutEventAttributes ??
        ev.activityTaskCanceledEventAttributes;
      if (done) {
        const entry = calls.get(String(done.scheduledEventId));
        if (!entry) continue;
        const { call, attempt } = entry;
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
        applyOutcome(call, attempt);
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
        if (child.workflowType?.name === WORKFLOW_TYPE.cleanupBackendVolume) {
          const args = decodeAll(child.input?.payloads);
          const n = Number(field(args[0], 'attempt'));
          if (child.workflowId) out.cleanup_workflows.push(child.workflowId);
          if (Number.isInteger(n)) attemptOf(n, run.runId, at).cleanup = CLEANUP.handedOff;
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
          out.error = { ...CANCELLED };
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
  function applyOutcome(call: HistoryActivity, attempt: number | undefined): void {
    const name = call.activity;
    const a = attempt === undefined ? undefined : attempts.get(attempt);
    if (!a) return;
    const succeed = () => {
      a.outcome = 'succeeded';
      a.ended_at = call.closed_at;
    };
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
        // Since PATCH_ONE_STEP_API_FLOW the volume worker finishes the create it made.
        if (call.status === 'completed' && field(call.result, 'finished') === true) succeed();
        else if (call.status !== 'completed' && call.error) fail(call.error);
        break;
      case 'createVolumeOnFinish':
        if (call.status === 'completed') succeed();
        else if (call.error) fail(call.error);
        break;
      case 'deleteVolumeOnBackend':
        if (call.status === 'completed') {
          a.cleanup = cleanupOfDelete(call.result as Parameters<typeof cleanupOfDelete>[0]);
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
    if (
      a.cleanup === undefined &&
      a.compensations.some((c) => c.activity === 'deleteVolumeOnBackend' && c.status === 'scheduled')
    ) {
      a.cleanup = 'delete in progress';
    }
    if (a.outcome === 'running' && out.workflow_status !== 'running' && out.workflow_status !== 'continued as new') {
      a.outcome = 'failed';
      a.error_type = out.cancel_requested_at ? CANCELLED.type : (out.error?.type ?? 'Error');
      a.error = out.cancel_requested_at ? CANCELLED.message : (out.error?.message ?? 'the create ended');
      a.ended_at = out.runs[out.runs.length - 1]?.closed_at ?? null;
    }
    out.attempts.push(a);
  }
  out.attempts.sort((x, y) => x.attempt - y.attempt);
  const failedPass = [...scheduleFailures.entries()].sort((x, y) => y[0] - x[0])[0];
  if (failedPass) out.scheduling_failure = { attempt: failedPass[0], ...failedPass[1] };
  out.status =
    out.workflow_status === 'completed'
      ? 'available'
      : out.workflow_status === 'running' || out.workflow_status === 'continued as new'
        ? 'creating'
        : 'error';
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
  for (let runId: string | undefined = latest.runId; runId && !seen.has(runId);) {
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
  for (let runId: string | undefined = firstRunId; runId && !seen.has(runId);) {
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
