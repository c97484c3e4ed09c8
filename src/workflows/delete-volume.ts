import {
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  getExternalWorkflowHandle,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BeginDelete, DeleteActivities, DeleteTarget } from '../activities/delete-activities';
import type { VolumeActivities } from '../activities/volume-activities';
import { volumeObjectName, volumeTaskQueue } from '../domain/volume';
import { createVolumeWorkflowId } from './create-volume';
import { failureInfo, type FailureInfo } from './failure-info';
import { BackendHost, VolumeStatus } from './search-attributes';

export interface DeleteVolumeInput {
  volume_id: string;
  /** Cinder's force delete: any status; a volume still `creating` has its create cancelled first. */
  force?: boolean;
}

export type DeletePhase =
  | 'checking'
  | 'cancelling the create'
  | 'deleting on the backend'
  | 'waiting for the volume service'
  | 'giving back capacity and quota'
  | 'done';

export interface DeleteVolumeState {
  volume_id: string;
  status: 'deleting' | 'deleted' | 'error_deleting';
  phase: DeletePhase;
  backend_id: string | null;
  /** The create was still running and was cancelled first. */
  create_cancelled: boolean;
  last_error: { type: string; message: string } | null;
}

export interface DeleteVolumeResult {
  volume_id: string;
  status: 'deleted';
  backend_id: string | null;
  /** False when `volume-<id>` was already gone (or the volume never reached a backend). */
  deleted_on_backend: boolean;
  capacity_claims_released: number;
  quota_released: boolean;
  create_cancelled: boolean;
  deleted_at: string | null;
}

export const deleteStateQuery = defineQuery<DeleteVolumeState>('deleteState');

/** One delete per volume: a second request while one runs is the same workflow. */
export const deleteVolumeWorkflowId = (volumeId: string) => `delete-volume-${volumeId}`;

const db = (summary: string) =>
  proxyActivities<DeleteActivities>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
    summary,
  });

/**
 * Cinder's delete as a saga: `deleting` (the API's conditional update), the driver's delete on the
 * volume's own backend queue, then its capacity claim and quota given back, and the row soft-deleted
 * (`deleted`, deleted_at). A volume still `creating` (force only) has its create cancelled first, and
 * the delete waits for that create's compensations. The one undo that makes sense is the status: a
 * failed delete leaves `error_deleting` with its reason, as Cinder does. A down volume service is
 * waited for, said in the volume's events and the workflow's details: never a silent leak.
 */
export async function deleteVolume(input: DeleteVolumeInput): Promise<DeleteVolumeResult> {
  const volumeId = checkDeleteInput(input);
  const state: DeleteVolumeState = {
    volume_id: volumeId,
    status: 'deleting',
    phase: 'checking',
    backend_id: null,
    create_cancelled: false,
    last_error: null,
  };
  setHandler(deleteStateQuery, () => state);
  const show = () => showDeleteDetails(state);
  show();

  let begin: BeginDelete;
  try {
    begin = await db('check volume status: deleting').beginDeleteVolume({
      volume_id: volumeId,
      force: input.force === true,
    });
    if (begin.needs_cancel) begin = await cancelCreateFirst(volumeId, state, show);
  } catch (err) {
    // Refused before anything changed (InvalidVolume, VolumeNotFound): the volume is as it was.
    const f = failureInfo(err);
    state.last_error = { type: f.type, message: f.message };
    state.phase = 'done';
    show();
    throw ApplicationFailure.create({ type: f.type, message: f.message, nonRetryable: true, details: [state] });
  }
  const target = begin.target;
  const result: DeleteVolumeResult = {
    volume_id: volumeId,
    status: 'deleted',
    backend_id: target?.backend_id ?? null,
    deleted_on_backend: false,
    capacity_claims_released: 0,
    quota_released: false,
    create_cancelled: state.create_cancelled,
    deleted_at: null,
  };
  if (!target) {
    // The cancelled create's API flow destroyed its row: nothing is left to delete.
    state.status = 'deleted';
    state.phase = 'done';
    show();
    return result;
  }
  state.backend_id = target.backend_id;
  // A namespace without the project's search attributes: the worker said so (as for creates).
  const upsert = (attrs: Parameters<typeof upsertSearchAttributes>[0]) => {
    if (begin.options.upsert_search_attributes) upsertSearchAttributes(attrs);
  };
  upsert([
    ...(target.host ? [{ key: BackendHost, value: target.host }] : []),
    { key: VolumeStatus, value: 'deleting' },
  ]);
  show();

  try {
    if (target.host && target.backend_id) {
      state.phase = 'deleting on the backend';
      show();
      result.deleted_on_backend = await deleteOnBackend(target, begin.options, state, show);
    }
    state.phase = 'giving back capacity and quota';
    show();
    result.capacity_claims_released = await db('give back capacity').releaseVolumeCapacity(volumeId);
    result.quota_released = await db(`give back quota: 1 volume, ${target.size} GiB`).releaseVolumeQuota(volumeId);
    result.deleted_at = await db('soft-delete volume row: deleted').finishDeleteVolume({
      volume_id: volumeId,
      backend_id: target.backend_id,
      deleted_on_backend: result.deleted_on_backend,
    });
  } catch (err) {
    const f: FailureInfo = isCancellation(err)
      ? { type: 'Cancelled', message: 'Delete cancelled by request before it finished', backend_unavailable: false }
      : failureInfo(err);
    state.status = 'error_deleting';
    state.phase = 'done';
    state.last_error = { type: f.type, message: f.message };
    await CancellationScope.nonCancellable(() =>
      db('mark volume error_deleting').markDeleteError({
        volume_id: volumeId,
        error_type: f.type,
        reason: `${f.type}: ${f.message}`,
      }),
    );
    upsert([{ key: VolumeStatus, value: 'error_deleting' }]);
    show();
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.create({ type: f.type, message: f.message, nonRetryable: true, details: [state] });
  }
  state.status = 'deleted';
  state.phase = 'done';
  upsert([{ key: VolumeStatus, value: 'deleted' }]);
  show();
  return result;
}

/** The volume id of a well-formed input whose workflow id is `delete-volume-<id>`; else InvalidInput. */
function checkDeleteInput(input: DeleteVolumeInput): string {
  if (typeof input?.volume_id !== 'string' || input.volume_id === '') {
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      message: "Invalid input for field 'volume_id': a volume id is required",
      nonRetryable: true,
    });
  }
  if (input.force !== undefined && typeof input.force !== 'boolean') {
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      message: "Invalid input for field 'force': must be true or false",
      nonRetryable: true,
    });
  }
  const expected = deleteVolumeWorkflowId(input.volume_id);
  if (workflowInfo().workflowId !== expected) {
    throw ApplicationFailure.create({
      type: 'InvalidInput',
      message: `the workflow id must be ${expected} (one delete per volume), got ${workflowInfo().workflowId}`,
      nonRetryable: true,
    });
  }
  return input.volume_id;
}

/** A volume still `creating`: cancel its create, wait until its compensations have run, then take
 *  the volume over. A create no longer running (it ended meanwhile, or was terminated) is not
 *  waited for. */
async function cancelCreateFirst(volumeId: string, state: DeleteVolumeState, show: () => void): Promise<BeginDelete> {
  state.phase = 'cancelling the create';
  show();
  let running = true;
  try {
    await getExternalWorkflowHandle(createVolumeWorkflowId(volumeId)).cancel();
    state.create_cancelled = true;
  } catch {
    running = false;
  }
  if (running) {
    await proxyActivities<DeleteActivities>({
      startToCloseTimeout: '30 seconds',
      retry: { initialInterval: '500 milliseconds', backoffCoefficient: 1.5, maximumInterval: '5 seconds' },
      summary: 'wait for the cancelled create to compensate',
    }).awaitCreateEnded(volumeId);
  }
  return db('check volume status: deleting').beginDeleteVolume({
    volume_id: volumeId,
    force: true,
    allow_missing: true,
  });
}

/**
 * The driver's delete on the volume's own backend queue. A volume service that does not pick it up
 * within backend_schedule_to_start_timeout_ms is down: that is recorded, and the delete then waits
 * for the service however long it takes, so it completes when the worker is back.
 */
async function deleteOnBackend(
  target: DeleteTarget,
  options: BeginDelete['options'],
  state: DeleteVolumeState,
  show: () => void,
): Promise<boolean> {
  const host = target.host!;
  const req = { volume_id: target.volume_id, backend_id: target.backend_id! };
  const summary = `delete ${volumeObjectName(target.volume_id)} on ${target.backend_id}`;
  const activity = (scheduleToStartTimeout?: number) =>
    proxyActivities<VolumeActivities>({
      taskQueue: volumeTaskQueue(host),
      summary,
      startToCloseTimeout: '10 minutes',
      heartbeatTimeout: '30 seconds',
      ...(scheduleToStartTimeout ? { scheduleToStartTimeout } : {}),
      // A driver error (a Cinder type) fails at once; anything else is retried a few times.
      retry: { initialInterval: options.retry_initial_interval_ms, maximumAttempts: 3 },
    }).deleteVolume(req);
  try {
    return (await activity(options.backend_schedule_to_start_timeout_ms)).deleted;
  } catch (err) {
    if (isCancellation(err) || !failureInfo(err).backend_unavailable) throw err;
  }
  state.phase = 'waiting for the volume service';
  state.last_error = {
    type: 'BackendUnavailable',
    message: `the volume service of ${host} is down; the delete waits for it`,
  };
  show();
  await db('record: delete waits for the volume service').recordDeleteWaiting({ volume_id: target.volume_id, host });
  const deleted = (await activity()).deleted;
  state.last_error = null;
  return deleted;
}

/** The UI's current details of a delete. */
function showDeleteDetails(s: DeleteVolumeState): void {
  const lines = [`**volume** ${s.volume_id} — **${s.status}** (${s.phase})`];
  if (s.backend_id) lines.push(`**backend** \`${s.backend_id}\``);
  if (s.create_cancelled) lines.push('**create** cancelled first');
  if (s.last_error) lines.push(`**last error** ${s.last_error.type}: ${s.last_error.message}`);
  setCurrentDetails(lines.join('\n\n'));
}
