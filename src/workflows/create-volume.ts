import {
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  continueAsNew,
  setCurrentDetails,
  upsertSearchAttributes,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  startChild,
  workflowInfo,
  type ActivityOptions,
  type LocalActivityOptions,
} from '@temporalio/workflow';
import type { ApiActivities, VolumeSpec } from '../activities/api-activities';
import type { ScheduleDecision, SchedulerActivities, SchedulingPolicy } from '../activities/scheduler-activities';
import type { BackendCreateRequest, VolumeActivities } from '../activities/volume-activities';
import type { CreateOptions } from '../domain/create-options';
import {
  CANCELLED,
  CLEANUP,
  PATCH_ONE_STEP_API_FLOW,
  PATCH_THREE_FLOWS,
  cleanupOfDelete,
  cleanupWorkflowId,
  type CleanupLabel,
} from '../domain/names';
import { volumeObjectName, volumeTaskQueue } from '../domain/volume';
import type { FilterProperties } from '../scheduler/types';
import { cleanupBackendVolume } from './cleanup-volume';
import { createVolumeV1 } from './create-volume-v1';
import type { AttemptRecord, CreateVolumeInput, CreateVolumeResult, CreateVolumeState } from './create-volume-types';
import { failureInfo, type FailureInfo } from './failure-info';
import { checkCreateVolumeInput } from './input-check';
import { onFailureReschedule } from './reschedule';
import { Saga } from './saga';
import { VolumeStatus } from './search-attributes';
import { VolumeCreateState } from './volume-state';

export * from './create-volume-types';
export { createVolumeWorkflowId } from '../domain/names';
export { cleanupBackendVolume } from './cleanup-volume';

/**
 * Steps that only touch the volume database run as local activities of the scheduler worker: no
 * task-queue round trip per step, and a run of them shares one workflow task. Their timeouts fit a
 * database call: a hung call is retried after 10 s; a scheduler worker that dies mid-step costs one
 * workflow-task timeout (10 s), after which another worker replays and runs the step again (every
 * step is safe to run twice). The API flow stays a chain of Cinder's tasks rather than one
 * activity (one transaction): measured with bench/api-flow.bench.ts (60 sequential runs each,
 * local dev server), the chain costs 3 more marker events (9 vs 6) and no p50 difference (50 vs
 * 51 ms; p95 95 vs 72 ms), while each task and its revert stay visible in the UI and the history
 * reader, and the store keeps its per-step transactions (with their ownership checks).
 */
const dbStep = (summary: string, retryInitialMs = 200) =>
  proxyLocalActivities<ApiActivities & SchedulerActivities>({
    startToCloseTimeout: '10 seconds',
    retry: { initialInterval: retryInitialMs, maximumInterval: retryInitialMs * 50, backoffCoefficient: 2 },
    summary,
  } satisfies LocalActivityOptions);

/** Activities on one backend's own task queue, served only by that backend's volume worker. */
const backendStep = (host: string, summary: string, extra: ActivityOptions) =>
  proxyActivities<VolumeActivities>({ taskQueue: volumeTaskQueue(host), summary, ...extra });

/**
 * One volume create as Cinder's three flows: the API flow (validate, reserve quota, write the row,
 * commit quota), then the scheduler flow (one pass, its capacity claimed) and the manager flow (the
 * backend create) until one succeeds, onFailureReschedule says no, or the attempts run out.
 */
export async function createVolume(input: CreateVolumeInput): Promise<CreateVolumeResult> {
  const info = workflowInfo();
  const problem = checkCreateVolumeInput(input, info);
  if (problem) rejectInput(input, problem.field, problem.message);
  // Histories recorded before this code take the frozen path, so running creates finish unchanged.
  if (!patched(PATCH_THREE_FLOWS)) return createVolumeV1(input);
  // Creates recorded before it run the API flow task by task, and finish on the scheduler pool.
  const oneStep = patched(PATCH_ONE_STEP_API_FLOW);
  // Ties the volume's row, quota and claims to this create (stable across continue-as-new); never
  // taken from the input, so a second start on the same volume id cannot act on it.
  const owner = info.firstExecutionRunId;
  const tracker = new VolumeCreateState(input);
  const apiFlow = oneStep ? runApiFlowInOneStep : runApiFlow;
  const spec = input.resume?.spec ?? (await apiFlow(input, tracker, owner));
  const run = new CreateRun(input, spec, tracker, owner, oneStep);
  try {
    for (;;) {
      if (workflowInfo().continueAsNewSuggested && tracker.state.attempts.length > 0) {
        // Between attempts: the retry state is the whole memory a new run needs.
        await run.settleCleanups();
        await continueAsNew<typeof createVolume>({ ...input, resume: run.carry() });
      }
      const decision = await runSchedulerFlow(run);
      const failure = await runManagerFlow(run, decision);
      if (!failure) return await run.succeeded(decision);
      // Decided before the compensations run (it depends only on the failure and the retry state),
      // so the create reads 'rescheduling' while the failed attempt is cleaned up.
      const next = onFailureReschedule(failure, run.filterProperties.retry, run.options);
      await run.compensate(next.action === 'reschedule' ? 'rescheduling' : 'compensating');
      if (next.action === 'error') return await run.fail(next.failure, false);
      await run.reschedule(decision, next.retry, failure.type);
    }
  } catch (err) {
    if (!isCancellation(err)) throw err;
    await run.cancelled();
    throw err;
  }
}

/** Cinder's api flow: validate, reserve quota, write the row, commit quota. A refusal undoes what
 *  ran and leaves nothing behind (no row, no quota); the create then reads VolumeStatus="error". */
async function runApiFlow(input: CreateVolumeInput, tracker: VolumeCreateState, owner: string): Promise<VolumeSpec> {
  const saga = new Saga();
  const volumeId = input.request.volume_id;
  try {
    const spec = await dbStep('validate request').extractVolumeRequest(input.request, input.options);
    const quota = { request: spec.request, quota_deltas: spec.quota_deltas };
    await saga.run({
      name: 'QuotaReserveTask',
      run: () => dbStep(`reserve quota: ${spec.request.size} GiB`).reserveQuota(quota, owner),
      undo: () => dbStep('compensate: roll back quota reservation').rollbackQuota(volumeId, owner),
    });
    const entry = { request: spec.request, volume_type: spec.volume_type, source: spec.source };
    await saga.run({
      name: 'EntryCreateTask',
      run: () => dbStep('create volume entry').createVolumeEntry(entry, workflowInfo().workflowId, owner),
      undo: () => dbStep('compensate: destroy volume entry').destroyVolumeEntry(volumeId, owner),
    });
    await saga.run({ name: 'QuotaCommitTask', run: () => dbStep('commit quota').commitQuota(volumeId, owner) });
    // Committed: from here a failure leaves an 'error' volume that still counts, as in Cinder.
    saga.discard();
    return spec;
  } catch (err) {
    await saga.compensate();
    return apiFlowFailed(err, tracker);
  }
}

/**
 * The same flow as one local activity (createVolumeApiFlow runs the four tasks, and their reverts on
 * a refusal). A cancel waits for it (milliseconds), so the flow is never cut between two tasks: the
 * create then ends as any cancel after the API flow does, its volume in 'error'.
 */
async function runApiFlowInOneStep(
  input: CreateVolumeInput,
  tracker: VolumeCreateState,
  owner: string,
): Promise<VolumeSpec> {
  const args = { request: input.request, options: input.options, workflow_id: workflowInfo().workflowId, owner };
  try {
    return await CancellationScope.nonCancellable(() =>
      dbStep('api flow: validate, reserve quota, create entry, commit quota').createVolumeApiFlow(args),
    );
  } catch (err) {
    return apiFlowFailed(err, tracker);
  }
}

/** A refused (or cancelled) API flow: the create reads VolumeStatus="error" with the reason. */
function apiFlowFailed(err: unknown, tracker: VolumeCreateState): never {
  const f = isCancellation(err) ? CANCELLED : failureInfo(err);
  tracker.set({ status: 'error', phase: 'done', last_error: { type: f.type, message: f.message } });
  if (isCancellation(err)) throw err;
  throw ApplicationFailure.create({ type: f.type, message: f.message, nonRetryable: true, details: [tracker.state] });
}

/** Cinder's scheduler flow: one filter-scheduler pass, its capacity claimed atomically. A pass that
 *  finds no pool (or is past scheduler_max_attempts) ends the create with NoValidBackend. */
async function runSchedulerFlow(run: CreateRun): Promise<ScheduleDecision> {
  const max = run.options.scheduler_max_attempts;
  const attempt = max > 1 ? (run.filterProperties.retry?.num_attempts ?? 0) + 1 : 1;
  run.saga = new Saga();
  // A pass past the last attempt only says so: the state never reads "attempt 4 of 3".
  run.tracker.set({ attempt: Math.min(attempt, max), phase: 'scheduling', backend_id: null });
  const preferred = run.alternatesMode && run.alternates.length > 0 ? run.alternates : null;
  const summary =
    attempt > max
      ? `schedule: attempts used up (${max} of ${max})`
      : `schedule attempt ${attempt}/${max}${preferred ? ' (alternates first)' : ''}`;
  let decision: ScheduleDecision;
  try {
    // The claim's undo is keyed by attempt, so it is safe to register first.
    decision = await run.saga.run({
      name: 'ScheduleCreateVolumeTask',
      run: () =>
        run.db(summary).scheduleCreateVolume({
          volume_id: run.volumeId,
          attempt,
          filter_properties: run.filterProperties,
          resource_backend: run.spec.resource_backend,
          options: run.policy,
          ...(preferred ? { preferred } : {}),
          owner: run.owner,
        }),
      undo: () =>
        run
          .db(`compensate: give back capacity of attempt ${attempt}`)
          .releaseCapacity(run.volumeId, attempt, run.owner),
    });
  } catch (err) {
    if (isCancellation(err)) throw err;
    await run.saga.compensate();
    const f = failureInfo(err);
    if (f.type === 'NoValidBackend') f.message = withAttemptHistory(f.message, run.tracker.state.attempts);
    return await run.fail(f, true);
  }
  run.chose(decision, attempt);
  return decision;
}

/** Cinder's volume manager flow on the chosen backend's own queue: create, then finish. Returns the
 *  failure of an attempt that did not make the volume; its compensations are still to run. */
async function runManagerFlow(run: CreateRun, decision: ScheduleDecision): Promise<FailureInfo | null> {
  const { options, record } = run;
  const req: BackendCreateRequest = {
    volume_id: run.volumeId,
    backend_id: decision.backend_id,
    attempt: record!.attempt,
    owner: run.owner,
  };
  const objectName = volumeObjectName(run.volumeId);
  let failure: FailureInfo | null = null;
  const summary = `create ${objectName} on ${decision.backend_id}${run.oneStep ? ' and finish it' : ''}`;
  try {
    const created = await run.saga.run({
      name: 'CreateVolumeFromSpecTask',
      run: () =>
        backendStep(decision.host, summary, {
          scheduleToStartTimeout: options.backend_schedule_to_start_timeout_ms,
          startToCloseTimeout: options.create_start_to_close_timeout_ms,
          heartbeatTimeout: options.create_heartbeat_timeout_ms,
          // Wait until a cancelled create has stopped writing before deleting what it wrote.
          cancellationType: 'WAIT_CANCELLATION_COMPLETED',
          retry: {
            initialInterval: options.retry_initial_interval_ms,
            maximumAttempts: options.create_max_activity_attempts,
          },
        }).createVolumeFromSpec(run.oneStep ? { ...req, finish: true } : req),
      undo: () => run.cleanUp(record!, deleteOnFailedBackend(run, decision, req, failure)),
    });
    // Cinder's c-vol finishes the create it made; a volume worker of an older build leaves it to us.
    if (!created.finished) await run.db(`finish ${objectName}: available`).createVolumeOnFinish(req);
    return null;
  } catch (err) {
    if (isCancellation(err)) throw err;
    failure = failureInfo(err);
    Object.assign(record!, { outcome: 'failed', error_type: failure.type, error: failure.message });
    run.tracker.set({ last_error: { type: failure.type, message: failure.message } });
    return failure;
  }
}

/**
 * The failed attempt's delete of `volume-<id>`, retried until it succeeds. A backend whose worker is
 * down cannot delete now: the delete goes to a cleanup workflow that waits for it, recorded as an
 * event, so the reschedule does not stall and nothing is silently left behind.
 */
async function deleteOnFailedBackend(
  run: CreateRun,
  decision: ScheduleDecision,
  req: BackendCreateRequest,
  failure: FailureInfo | null,
): Promise<CleanupLabel> {
  const { options } = run;
  const objectName = volumeObjectName(req.volume_id);
  if (!failure?.backend_unavailable) {
    try {
      const res = await backendStep(decision.host, `compensate: delete ${objectName} on ${decision.backend_id}`, {
        scheduleToStartTimeout: options.compensation_schedule_to_start_timeout_ms,
        startToCloseTimeout: '5 minutes',
        // The delete heartbeats: a worker killed mid-delete is noticed in seconds, not at start-to-close.
        heartbeatTimeout: options.create_heartbeat_timeout_ms,
        retry: {
          initialInterval: options.retry_initial_interval_ms,
          maximumInterval: options.retry_initial_interval_ms * 100,
        },
      }).deleteVolumeOnBackend(req);
      return cleanupOfDelete(res);
    } catch (err) {
      if (!failureInfo(err).backend_unavailable) throw err;
    }
  }
  await startChild(cleanupBackendVolume, {
    workflowId: cleanupWorkflowId(req.volume_id, req.attempt),
    args: [{ ...req, host: decision.host, retry_initial_interval_ms: options.retry_initial_interval_ms }],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    staticSummary: `delete ${objectName} on ${decision.backend_id} once its volume service is back`,
  });
  await run.db('record pending cleanup').recordCleanupPending({
    volume_id: req.volume_id,
    backend_id: req.backend_id,
    attempt: req.attempt,
    reason: `the volume service of ${decision.host} is down; ${objectName} will be deleted when it is back`,
  });
  return CLEANUP.handedOff;
}

/** One run's memory between the flows: the spec, the retry state, the current attempt. */
class CreateRun {
  readonly volumeId: string;
  readonly options: CreateOptions;
  /** What a scheduling pass needs of the options, not the whole object. */
  readonly policy: SchedulingPolicy;
  /** Alternates mode (scheduler_alternates > 0; absent in creates started before it existed). */
  readonly alternatesMode: boolean;
  filterProperties: FilterProperties;
  alternates: string[];
  saga = new Saga();
  record: AttemptRecord | null = null;
  /** Deletes of failed attempts still running while the next attempt goes on (see compensate). */
  private cleanups: Promise<void>[] = [];
  private overlapCleanup = false;

  constructor(
    input: CreateVolumeInput,
    readonly spec: VolumeSpec,
    readonly tracker: VolumeCreateState,
    /** The create's first run id (see createVolume). */
    readonly owner: string,
    /** Since PATCH_ONE_STEP_API_FLOW: the volume worker finishes the create it made. */
    readonly oneStep = false,
  ) {
    const o = spec.options;
    this.volumeId = input.request.volume_id;
    this.options = o;
    this.policy = {
      scheduler_max_attempts: o.scheduler_max_attempts,
      ignore_attempted_hosts: o.ignore_attempted_hosts,
      scheduler_default_filters: o.scheduler_default_filters,
      scheduler_default_weighers: o.scheduler_default_weighers,
      service_down_time_s: o.service_down_time_s,
      ...(o.scheduler_alternates ? { scheduler_alternates: o.scheduler_alternates } : {}),
    };
    this.alternatesMode = (o.scheduler_alternates ?? 0) > 0;
    this.alternates = this.alternatesMode ? (input.resume?.alternates ?? []) : [];
    this.filterProperties = input.resume?.filter_properties ?? {
      size: spec.request.size,
      volume_id: this.volumeId,
      ...(spec.request.availability_zone ? { availability_zone: spec.request.availability_zone } : {}),
      volume_type: { name: spec.volume_type.name, extra_specs: spec.volume_type.extra_specs },
    };
    tracker.identify({
      project_id: spec.request.project_id,
      volume_type: spec.volume_type.name,
      max_attempts: o.scheduler_max_attempts,
      upsert_search_attributes: o.upsert_search_attributes,
    });
  }

  /** A database step on the scheduler worker, with this create's backoff. */
  db(summary: string) {
    return dbStep(summary, this.options.retry_initial_interval_ms);
  }

  /** What continue-as-new carries (the same shape as the frozen path's, which continues into this one). */
  carry(): NonNullable<CreateVolumeInput['resume']> {
    const { spec, filterProperties, alternates, alternatesMode } = this;
    return {
      spec,
      filter_properties: filterProperties,
      attempts: this.tracker.state.attempts,
      ...(alternatesMode ? { alternates } : {}),
    };
  }

  /** The scheduler chose a pool: a new attempt on it. */
  chose(decision: ScheduleDecision, attempt: number): void {
    this.filterProperties = decision.filter_properties;
    const record: AttemptRecord = { attempt, backend_id: decision.backend_id, outcome: 'running' };
    if (this.alternatesMode) {
      if (decision.alternate) record.alternate = true;
      // A full pass's alternates replace the list; a pool taken from the list leaves it as it is.
      else this.alternates = decision.alternates ?? [];
    }
    this.record = record;
    const attempts = [...this.tracker.state.attempts, record];
    this.tracker.set({
      attempts,
      retry: this.filterProperties.retry ?? null,
      backend_id: decision.backend_id,
      attempt,
      phase: 'creating',
    });
  }

  async succeeded(decision: ScheduleDecision): Promise<CreateVolumeResult> {
    this.record!.outcome = 'succeeded';
    await this.settleCleanups();
    const s = this.tracker.state;
    this.tracker.set({ status: 'available', phase: 'done' });
    return {
      volume_id: this.volumeId,
      status: 'available',
      backend_id: decision.backend_id,
      attempts: s.attempts,
      retry: s.retry,
    };
  }

  /**
   * Undoes the failed attempt (delete on its backend, capacity back), newest step first. Before a
   * reschedule with IgnoreAttemptedHostsFilter on, the next pass cannot choose the failed pool, so
   * the delete runs on that backend while the next pass and create go on (Cinder too re-casts to
   * the scheduler first): a reschedule then costs one backend round trip, not two. The create ends
   * only after every such delete has finished. Off, the next pass may choose the same pool, whose
   * volume must be gone first, so the delete is awaited.
   */
  async compensate(phase: 'compensating' | 'rescheduling'): Promise<void> {
    this.tracker.set({ phase });
    this.overlapCleanup = phase === 'rescheduling' && this.options.ignore_attempted_hosts;
    try {
      this.record!.compensations = await this.saga.compensate();
    } finally {
      this.overlapCleanup = false;
    }
    this.tracker.set({ attempts: this.tracker.state.attempts });
  }

  /** The failed attempt's delete, awaited now or, when it may overlap the next attempt, later. */
  cleanUp(record: AttemptRecord, deleting: Promise<CleanupLabel>): Promise<void> {
    const done = deleting.then((label) => {
      record.cleanup = label;
      this.tracker.set({ attempts: this.tracker.state.attempts });
    });
    if (!this.overlapCleanup) return done;
    this.cleanups.push(
      done.catch((err) => {
        // A delete that failed for good (it retries without end, so only a bug): on its own record.
        const entry = record.compensations?.find((c) => c.name === 'CreateVolumeFromSpecTask');
        if (entry) Object.assign(entry, { ok: false, error: err instanceof Error ? err.message : String(err) });
      }),
    );
    return Promise.resolve();
  }

  /** Waits for the deletes still running (not cancellable: they were started as compensations). */
  async settleCleanups(): Promise<void> {
    const running = this.cleanups;
    this.cleanups = [];
    if (running.length > 0) await CancellationScope.nonCancellable(() => Promise.all(running));
  }

  /** OnFailureRescheduleTask's reschedule half: back to the scheduler with the failure in retry.exc. */
  async reschedule(
    decision: ScheduleDecision,
    retry: NonNullable<FilterProperties['retry']>,
    errorType: string,
  ): Promise<void> {
    if (this.alternatesMode) this.alternates = this.alternates.filter((id) => id !== decision.backend_id);
    this.filterProperties = { ...this.filterProperties, retry };
    this.tracker.set({ retry });
    await this.db(`reschedule after attempt ${retry.num_attempts}`).prepareReschedule({
      volume_id: this.volumeId,
      attempt: retry.num_attempts,
      backend_id: decision.backend_id,
      error_type: errorType,
      reason: retry.exc!,
      owner: this.owner,
    });
  }

  /** Sets the volume to 'error' with the reason the user reads. */
  async markError(f: Pick<FailureInfo, 'type' | 'message'>, schedulingFailed: boolean): Promise<void> {
    this.tracker.set({ status: 'error', phase: 'done', last_error: { type: f.type, message: f.message } });
    await CancellationScope.nonCancellable(() =>
      this.db('mark volume error').markVolumeError({
        volume_id: this.volumeId,
        reason: f.message,
        error_type: f.type,
        scheduling_failed: schedulingFailed,
        owner: this.owner,
      }),
    );
  }

  /** Ends the create in 'error'; the workflow fails with Cinder's exception name as its type. */
  async fail(f: Pick<FailureInfo, 'type' | 'message'>, schedulingFailed: boolean): Promise<never> {
    await this.settleCleanups();
    await this.markError(f, schedulingFailed);
    throw ApplicationFailure.create({
      type: f.type,
      message: f.message,
      nonRetryable: true,
      details: [this.tracker.state],
    });
  }

  /** Cancelled: undo what the current attempt did, then say so on the volume. */
  async cancelled(): Promise<void> {
    this.tracker.set({ phase: 'compensating' });
    const records = await this.saga.compensate();
    await this.settleCleanups();
    const current = this.record;
    if (current && current.outcome === 'running')
      Object.assign(current, {
        outcome: 'failed',
        error_type: CANCELLED.type,
        error: CANCELLED.message,
        compensations: records,
      });
    await this.markError(CANCELLED, false);
  }
}

/** Fails the run on input that cannot be used, before any step has run: nothing to undo. A start
 *  that set VolumeStatus="creating" is set to "error", so the README's query finds it. */
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
  // Behind the patch: refusals recorded before it replay without the upsert.
  if (workflowInfo().typedSearchAttributes.get(VolumeStatus) !== undefined && patched(PATCH_THREE_FLOWS)) {
    upsertSearchAttributes([{ key: VolumeStatus, value: 'error' }]);
  }
  throw ApplicationFailure.create({ type: 'InvalidInput', message, nonRetryable: true, details: [state, { field }] });
}

/** Keeps the first failures visible when the scheduler gives up (Cinder loses them, spec §7). */
function withAttemptHistory(message: string, attempts: AttemptRecord[]): string {
  const failed = attempts.filter((a) => a.outcome === 'failed');
  if (failed.length === 0) return message;
  return `${message}. Attempts: ${failed.map((a) => `#${a.attempt} on ${a.backend_id}: ${a.error_type}: ${a.error}`).join('; ')}`;
}
