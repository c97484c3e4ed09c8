/**
 * FROZEN: the create-volume workflow as it was before the three flows on local activities
 * (patch 'three-flows-local-activities'). createVolume runs it for every history recorded before
 * that change, so creates already running finish with the same commands. Never edit its commands:
 * the recorded histories in test/histories/ (recorded before the patch) replay through it.
 */
import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  continueAsNew,
  isCancellation,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { ApiActivities, VolumeSpec } from '../activities/api-activities';
import type { ScheduleDecision, SchedulerActivities } from '../activities/scheduler-activities';
import type { BackendCreateRequest, VolumeActivities } from '../activities/volume-activities';
import { isNoRescheduleType, LATER_NO_RESCHEDULE_TYPES, NO_RESCHEDULE_UNION_PATCH } from '../domain/cinder-errors';
import type { CreateOptions } from '../domain/create-options';
import { volumeObjectName, volumeTaskQueue } from '../domain/volume';
import type { FilterProperties } from '../scheduler/types';
import { failureInfo, type FailureInfo } from './failure-info';
import { checkCreateVolumeInput } from './input-check';
import { cleanupBackendVolume } from './cleanup-volume';
import type { AttemptRecord, CreateVolumeInput, CreateVolumeResult, CreateVolumeState } from './create-volume-types';
import { volumeStateQuery } from './create-volume-types';
import { Saga } from './saga';
import { BackendHost, ProjectId, ScheduleAttempt, VolumeId, VolumeStatus, VolumeType } from './search-attributes';

/** Database steps: one transaction each, which gives up after a lock wait of 10 s (SQLite's busy
 *  timeout, PostgreSQL's lock_timeout) and is retried. A start-to-close of that size makes a
 *  scheduler worker killed mid-step cost seconds, not a minute; retrying these steps is safe (each
 *  is idempotent). */
const DB_STEP_TIMEOUT = '10 seconds';

const apiActivity = (summary: string) =>
  proxyActivities<ApiActivities>({
    startToCloseTimeout: DB_STEP_TIMEOUT,
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
    summary,
  });

const schedulerActivity = (summary: string, options: CreateOptions) =>
  proxyActivities<SchedulerActivities>({
    startToCloseTimeout: DB_STEP_TIMEOUT,
    retry: {
      initialInterval: options.retry_initial_interval_ms,
      maximumInterval: options.retry_initial_interval_ms * 100,
    },
    summary,
  });

/** Activities on one backend's own task queue, served only by that backend's volume worker. */
const volumeActivity = (host: string, summary: string, extra: ActivityOptions) =>
  proxyActivities<VolumeActivities>({ taskQueue: volumeTaskQueue(host), summary, ...extra });

/**
 * One volume create, Cinder's three flows in a row: the API flow (validate, reserve quota, write the
 * row, commit quota), then scheduling passes and backend creates until one succeeds, a failure may
 * not be rescheduled, or the attempts run out. Every step that changes something registers its
 * compensation before it runs; a failed attempt is compensated before the next one is scheduled.
 */
export async function createVolumeV1(input: CreateVolumeInput): Promise<CreateVolumeResult> {
  const info = workflowInfo();
  const problem = checkCreateVolumeInput(input, info);
  if (problem) rejectInput(input, problem.field, problem.message);
  const volumeId = input.request.volume_id;
  // Ties the volume's row, quota and claims to this create (stable across continue-as-new); never
  // taken from the input, so a second start on the same volume id cannot act on it.
  const owner = info.firstExecutionRunId;
  const state: CreateVolumeState = {
    volume_id: volumeId,
    status: 'creating',
    phase: 'api',
    attempt: 0,
    max_attempts: null,
    backend_id: null,
    retry: input.resume?.filter_properties.retry ?? null,
    last_error: null,
    attempts: input.resume?.attempts ?? [],
  };
  setHandler(volumeStateQuery, () => state);

  const spec = input.resume?.spec ?? (await runApiFlow(input, state, owner));
  const options = spec.options;
  state.max_attempts = options.scheduler_max_attempts;
  const sched = (summary: string) => schedulerActivity(summary, options);
  const upsert = (attrs: Parameters<typeof upsertSearchAttributes>[0]) => {
    if (options.upsert_search_attributes) upsertSearchAttributes(attrs);
  };
  upsert([
    { key: VolumeId, value: volumeId },
    { key: ProjectId, value: spec.request.project_id },
    { key: VolumeType, value: spec.volume_type.name },
    { key: VolumeStatus, value: 'creating' },
  ]);
  showDetails(state);

  let filterProperties: FilterProperties = input.resume?.filter_properties ?? {
    size: spec.request.size,
    volume_id: volumeId,
    ...(spec.request.availability_zone ? { availability_zone: spec.request.availability_zone } : {}),
    volume_type: { name: spec.volume_type.name, extra_specs: spec.volume_type.extra_specs },
  };
  let attemptSaga = new Saga();
  // Alternates mode (scheduler_alternates > 0; absent in creates started before it existed): the
  // alternates of the last full pass not tried yet, best first, offered to the next pass. Off, no
  // command and no activity input differs from a create without the mode.
  const alternatesMode = (options.scheduler_alternates ?? 0) > 0;
  let alternates: string[] = alternatesMode ? (input.resume?.alternates ?? []) : [];

  /** Sets the volume to 'error' with the reason the user reads. */
  const markError = async (f: FailureInfo, schedulingFailed: boolean): Promise<void> => {
    state.status = 'error';
    state.phase = 'done';
    state.last_error = { type: f.type, message: f.message };
    await CancellationScope.nonCancellable(() =>
      sched('mark volume error').markVolumeError({
        volume_id: volumeId,
        reason: f.message,
        error_type: f.type,
        scheduling_failed: schedulingFailed,
        owner,
      }),
    );
    upsert([{ key: VolumeStatus, value: 'error' }]);
    showDetails(state);
  };
  /** Ends the create in 'error'; the workflow fails with Cinder's exception name as its type. */
  const fail = async (f: FailureInfo, schedulingFailed: boolean): Promise<never> => {
    await markError(f, schedulingFailed);
    throw ApplicationFailure.create({ type: f.type, message: f.message, nonRetryable: true, details: [state] });
  };

  try {
    for (;;) {
      if (workflowInfo().continueAsNewSuggested && state.attempts.length > 0) {
        // Between attempts: the retry state is the whole memory a new run needs.
        await continueAsNew<typeof createVolumeV1>({
          ...input,
          resume: {
            spec,
            filter_properties: filterProperties,
            attempts: state.attempts,
            ...(alternatesMode ? { alternates } : {}),
          },
        });
      }
      const attempt = options.scheduler_max_attempts > 1 ? (filterProperties.retry?.num_attempts ?? 0) + 1 : 1;
      state.attempt = attempt;
      state.phase = 'scheduling';
      state.backend_id = null;
      showDetails(state);
      attemptSaga = new Saga();

      // Cinder's scheduler flow. The claim's undo is keyed by attempt, so it is safe to register first.
      // In alternates mode, the last full pass's untried alternates are tried first, each alone.
      const preferred = alternatesMode && alternates.length > 0 ? alternates : null;
      let decision: ScheduleDecision;
      try {
        decision = await attemptSaga.run({
          name: 'ScheduleCreateVolumeTask',
          run: () =>
            sched(
              `schedule attempt ${attempt}/${options.scheduler_max_attempts}${preferred ? ' (alternates first)' : ''}`,
            ).scheduleCreateVolume({
              volume_id: volumeId,
              attempt,
              filter_properties: filterProperties,
              resource_backend: spec.resource_backend,
              options,
              ...(preferred ? { preferred } : {}),
              owner,
            }),
          undo: () =>
            sched(`compensate: give back capacity of attempt ${attempt}`).releaseCapacity(volumeId, attempt, owner),
        });
      } catch (err) {
        if (isCancellation(err)) throw err;
        await attemptSaga.compensate();
        const f = failureInfo(err);
        if (f.type === 'NoValidBackend') f.message = withAttemptHistory(f.message, state.attempts);
        return await fail(f, true);
      }
      filterProperties = decision.filter_properties;
      state.retry = filterProperties.retry ?? null;
      state.backend_id = decision.backend_id;
      state.phase = 'creating';
      const record: AttemptRecord = { attempt, backend_id: decision.backend_id, outcome: 'running' };
      if (alternatesMode) {
        if (decision.alternate) record.alternate = true;
        // A full pass's alternates replace the list; a pool taken from the list leaves it as it is.
        else alternates = decision.alternates ?? [];
      }
      state.attempts.push(record);
      upsert([
        { key: BackendHost, value: decision.host },
        { key: ScheduleAttempt, value: attempt },
      ]);
      showDetails(state);

      // Cinder's volume manager flow, on the chosen backend's own queue.
      const req: BackendCreateRequest = { volume_id: volumeId, backend_id: decision.backend_id, attempt, owner };
      const objectName = volumeObjectName(volumeId);
      let createFailure: FailureInfo | null = null;
      try {
        await attemptSaga.run({
          name: 'CreateVolumeFromSpecTask',
          run: () =>
            volumeActivity(decision.host, `create ${objectName} on ${decision.backend_id}`, {
              scheduleToStartTimeout: options.backend_schedule_to_start_timeout_ms,
              startToCloseTimeout: options.create_start_to_close_timeout_ms,
              heartbeatTimeout: options.create_heartbeat_timeout_ms,
              // Wait until a cancelled create has stopped writing before deleting what it wrote.
              cancellationType: 'WAIT_CANCELLATION_COMPLETED',
              retry: {
                initialInterval: options.retry_initial_interval_ms,
                maximumAttempts: options.create_max_activity_attempts,
              },
            }).createVolumeFromSpec(req),
          undo: async () => {
            record.cleanup = await deleteOnFailedBackend(decision, req, options, createFailure);
          },
        });
        await sched(`finish ${objectName}: available`).createVolumeOnFinish(req);
      } catch (err) {
        if (isCancellation(err)) throw err;
        createFailure = failureInfo(err);
        record.outcome = 'failed';
        record.error_type = createFailure.type;
        record.error = createFailure.message;
        state.last_error = { type: createFailure.type, message: createFailure.message };
        state.phase = 'compensating';
        showDetails(state);
        record.compensations = await attemptSaga.compensate();

        // Cinder's OnFailureRescheduleTask: decide whether another backend may try.
        const f = createFailure;
        if (!filterProperties.retry) {
          return await fail(
            { ...f, message: `${f.type}: ${f.message} (rescheduling is disabled: scheduler_max_attempts is 1)` },
            false,
          );
        }
        // The types added later stop a reschedule only in creates that reach this point with them.
        if (
          isNoRescheduleType(f.type) &&
          (!LATER_NO_RESCHEDULE_TYPES.includes(f.type) || patched(NO_RESCHEDULE_UNION_PATCH))
        ) {
          return await fail(
            { ...f, message: `${f.type}: ${f.message} (not rescheduled: ${f.type} is a no-reschedule failure)` },
            false,
          );
        }
        state.phase = 'rescheduling';
        if (alternatesMode) alternates = alternates.filter((id) => id !== decision.backend_id);
        const exc = `${f.type}: ${f.message}`;
        filterProperties = { ...filterProperties, retry: { ...filterProperties.retry, exc } };
        state.retry = filterProperties.retry ?? null;
        await sched(`reschedule after attempt ${attempt}`).prepareReschedule({
          volume_id: volumeId,
          attempt: filterProperties.retry!.num_attempts,
          backend_id: decision.backend_id,
          error_type: f.type,
          reason: exc,
          owner,
        });
        continue;
      }

      record.outcome = 'succeeded';
      state.status = 'available';
      state.phase = 'done';
      upsert([{ key: VolumeStatus, value: 'available' }]);
      showDetails(state);
      return {
        volume_id: volumeId,
        status: 'available',
        backend_id: decision.backend_id,
        attempts: state.attempts,
        retry: state.retry,
      };
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    // Cancelled: undo what the current attempt did, then say so on the volume.
    state.phase = 'compensating';
    const records = await attemptSaga.compensate();
    const current = state.attempts[state.attempts.length - 1];
    if (current && current.outcome === 'running') {
      current.outcome = 'failed';
      current.error_type = 'Cancelled';
      current.compensations = records;
    }
    await markError(
      {
        type: 'Cancelled',
        message: 'Create cancelled by request; every step was compensated',
        backend_unavailable: false,
      },
      false,
    );
    throw err;
  }
}

/** Cinder's api flow: validate, reserve quota, write the row, commit quota. A failure here undoes
 *  what ran and leaves nothing behind (no row, no quota). */
async function runApiFlow(input: CreateVolumeInput, state: CreateVolumeState, owner: string): Promise<VolumeSpec> {
  const saga = new Saga();
  const volumeId = input.request.volume_id;
  try {
    const spec = await apiActivity('validate request').extractVolumeRequest(input.request, input.options);
    await saga.run({
      name: 'QuotaReserveTask',
      run: () => apiActivity(`reserve quota: ${spec.request.size} GiB`).reserveQuota(spec, owner),
      undo: () => apiActivity('compensate: roll back quota reservation').rollbackQuota(volumeId, owner),
    });
    await saga.run({
      name: 'EntryCreateTask',
      run: () => apiActivity('create volume entry').createVolumeEntry(spec, workflowInfo().workflowId, owner),
      undo: () => apiActivity('compensate: destroy volume entry').destroyVolumeEntry(volumeId, owner),
    });
    await saga.run({ name: 'QuotaCommitTask', run: () => apiActivity('commit quota').commitQuota(volumeId, owner) });
    // Committed: from here a failure leaves an 'error' volume that still counts, as in Cinder.
    saga.discard();
    return spec;
  } catch (err) {
    await saga.compensate();
    state.status = 'error';
    state.phase = 'done';
    const f = failureInfo(err);
    state.last_error = { type: f.type, message: f.message };
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.create({ type: f.type, message: f.message, nonRetryable: true, details: [state] });
  }
}

/** Fails the run on input that cannot be used, before any step has run: nothing to undo. */
function rejectInput(input: unknown, field: string, message: string): never {
  const request = (input as { request?: { volume_id?: unknown } } | null)?.request;
  const volumeId = typeof request?.volume_id === 'string' ? request.volume_id : '';
  const state: CreateVolumeState = {
    volume_id: volumeId,
    status: 'error',
    phase: 'done',
    attempt: 0,
    max_attempts: null,
    backend_id: null,
    retry: null,
    last_error: { type: 'InvalidInput', message },
    attempts: [],
  };
  setCurrentDetails(`**refused** InvalidInput: ${message}`);
  throw ApplicationFailure.create({ type: 'InvalidInput', message, nonRetryable: true, details: [state, { field }] });
}

/**
 * The failed attempt's delete of `volume-<id>`, retried until it succeeds. A backend whose worker is
 * down cannot delete now: the delete goes to a cleanup workflow that waits for it, recorded as an
 * event, so the reschedule does not stall and nothing is silently left behind.
 */
async function deleteOnFailedBackend(
  decision: ScheduleDecision,
  req: BackendCreateRequest,
  options: CreateOptions,
  failure: FailureInfo | null,
): Promise<NonNullable<AttemptRecord['cleanup']>> {
  const objectName = volumeObjectName(req.volume_id);
  if (!failure?.backend_unavailable) {
    try {
      const res = await volumeActivity(decision.host, `compensate: delete ${objectName} on ${decision.backend_id}`, {
        scheduleToStartTimeout: options.compensation_schedule_to_start_timeout_ms,
        startToCloseTimeout: '5 minutes',
        // The delete heartbeats: a worker killed mid-delete is noticed in seconds, not at start-to-close.
        heartbeatTimeout: options.create_heartbeat_timeout_ms,
        retry: {
          initialInterval: options.retry_initial_interval_ms,
          maximumInterval: options.retry_initial_interval_ms * 100,
        },
      }).deleteVolumeOnBackend(req);
      return res.skipped ? 'skipped: a later attempt owns the pool' : res.deleted ? 'deleted' : 'nothing to delete';
    } catch (err) {
      if (!failureInfo(err).backend_unavailable) throw err;
    }
  }
  await startChild(cleanupBackendVolume, {
    workflowId: `cleanup-${objectName}-attempt-${req.attempt}`,
    args: [{ ...req, host: decision.host, retry_initial_interval_ms: options.retry_initial_interval_ms }],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    staticSummary: `delete ${objectName} on ${decision.backend_id} once its volume service is back`,
  });
  await schedulerActivity('record pending cleanup', options).recordCleanupPending({
    volume_id: req.volume_id,
    backend_id: req.backend_id,
    attempt: req.attempt,
    reason: `the volume service of ${decision.host} is down; ${objectName} will be deleted when it is back`,
  });
  return 'handed to a cleanup workflow';
}

/** Keeps the first failures visible when the scheduler gives up (Cinder loses them, spec §7). */
function withAttemptHistory(message: string, attempts: AttemptRecord[]): string {
  const failed = attempts.filter((a) => a.outcome === 'failed');
  if (failed.length === 0) return message;
  return `${message}. Attempts: ${failed.map((a) => `#${a.attempt} on ${a.backend_id}: ${a.error_type}: ${a.error}`).join('; ')}`;
}

/** The UI's "current details": where the create stands and its retry state. */
function showDetails(state: CreateVolumeState): void {
  // Short lines first: the UI sizes this box to a few lines. "n of m", since markdown turns n/m into a fraction.
  const lines = [
    `**volume** ${state.volume_id} — **${state.status}** (${state.phase})`,
    `**attempt** ${state.attempt} of ${state.max_attempts ?? '?'}${state.backend_id ? ` on \`${state.backend_id}\`` : ''}`,
  ];
  if (state.last_error) lines.push(`**last error** ${state.last_error.type}: ${state.last_error.message}`);
  lines.push(`**retry** \`${JSON.stringify(state.retry)}\``);
  setCurrentDetails(lines.join('\n\n'));
}
