/**
 * The names that the workflow, the history reader, metrics, views and telemetry all share: workflow
 * types and ids, activity names and their roles, the cleanup labels and the failure mapping. Pure
 * constants and functions: safe to import from workflow code.
 */

/** Workflow types the scheduler worker registers. */
export const WORKFLOW_TYPE = {
  createVolume: 'createVolume',
  cleanupBackendVolume: 'cleanupBackendVolume',
  deleteVolume: 'deleteVolume',
} as const;

const CREATE_PREFIX = 'create-volume-';
const DELETE_PREFIX = 'delete-volume-';

/** One volume, one create: the workflow id is derived from the volume id. */
export function createVolumeWorkflowId(volumeId: string): string {
  return `${CREATE_PREFIX}${volumeId}`;
}

/** The cleanup child that deletes a failed attempt's volume once its backend is back. */
export function cleanupWorkflowId(volumeId: string, attempt: number): string {
  return `cleanup-volume-${volumeId}-attempt-${attempt}`;
}

/** One volume, one delete (src/workflows/delete-volume.ts). */
export function deleteVolumeWorkflowId(volumeId: string): string {
  return `${DELETE_PREFIX}${volumeId}`;
}

/** The volume id in a workflow id this project makes (create, delete or cleanup), or undefined. */
export function volumeIdOfWorkflow(workflowId: string): string | undefined {
  if (workflowId.startsWith(CREATE_PREFIX)) return workflowId.slice(CREATE_PREFIX.length);
  if (workflowId.startsWith(DELETE_PREFIX)) return workflowId.slice(DELETE_PREFIX.length);
  return /^cleanup-volume-(.+)-attempt-\d+$/.exec(workflowId)?.[1];
}

/** Every activity, by name. Where each runs: API and scheduler steps are local activities of the
 *  scheduler worker (since the three-flows change; normal activities on its queue before), backend
 *  steps are normal activities on that backend's own task queue. */
export const ACTIVITY = {
  /** The whole API flow in one local activity (since PATCH_ONE_STEP_API_FLOW). */
  createVolumeApiFlow: 'createVolumeApiFlow',
  extractVolumeRequest: 'extractVolumeRequest',
  reserveQuota: 'reserveQuota',
  rollbackQuota: 'rollbackQuota',
  createVolumeEntry: 'createVolumeEntry',
  destroyVolumeEntry: 'destroyVolumeEntry',
  commitQuota: 'commitQuota',
  scheduleCreateVolume: 'scheduleCreateVolume',
  releaseCapacity: 'releaseCapacity',
  createVolumeOnFinish: 'createVolumeOnFinish',
  prepareReschedule: 'prepareReschedule',
  markVolumeError: 'markVolumeError',
  recordCleanupPending: 'recordCleanupPending',
  createVolumeFromSpec: 'createVolumeFromSpec',
  deleteVolumeOnBackend: 'deleteVolumeOnBackend',
  // The delete workflow's (src/workflows/delete-volume.ts).
  beginDeleteVolume: 'beginDeleteVolume',
  awaitCreateEnded: 'awaitCreateEnded',
  releaseVolumeCapacity: 'releaseVolumeCapacity',
  releaseVolumeQuota: 'releaseVolumeQuota',
  finishDeleteVolume: 'finishDeleteVolume',
  markDeleteError: 'markDeleteError',
  recordDeleteWaiting: 'recordDeleteWaiting',
  deleteVolume: 'deleteVolume',
} as const;
export type ActivityName = (typeof ACTIVITY)[keyof typeof ACTIVITY];

const A = ACTIVITY;
/** Cinder's API flow, in order: its tasks, or (since PATCH_ONE_STEP_API_FLOW) the one step running them. */
export const API_FLOW_STEPS: readonly ActivityName[] = [
  A.createVolumeApiFlow,
  A.extractVolumeRequest,
  A.reserveQuota,
  A.createVolumeEntry,
  A.commitQuota,
];
/** The API flow's reverts. */
export const API_FLOW_COMPENSATIONS: readonly ActivityName[] = [A.rollbackQuota, A.destroyVolumeEntry];
/** One attempt's steps: the scheduling pass, the backend create, the finish (since
 *  PATCH_ONE_STEP_API_FLOW run by the backend create itself, unless its volume worker is older). */
export const ATTEMPT_STEPS: readonly ActivityName[] = [
  A.scheduleCreateVolume,
  A.createVolumeFromSpec,
  A.createVolumeOnFinish,
];
/** One attempt's compensations (recordCleanupPending stands for a delete handed to a cleanup workflow). */
export const ATTEMPT_COMPENSATIONS: readonly ActivityName[] = [
  A.releaseCapacity,
  A.deleteVolumeOnBackend,
  A.recordCleanupPending,
];
/** Undo steps that retry until they succeed: each failed try is worth a metric. */
export const COMPENSATION_ACTIVITIES: readonly ActivityName[] = [
  A.rollbackQuota,
  A.destroyVolumeEntry,
  A.releaseCapacity,
  A.deleteVolumeOnBackend,
];
/** Activities that run on a backend's own task queue (everything else runs on the scheduler worker). */
export const BACKEND_ACTIVITIES: readonly ActivityName[] = [
  A.createVolumeFromSpec,
  A.deleteVolumeOnBackend,
  A.deleteVolume,
];

/** What happened to `volume-<id>` on a failed attempt's backend. */
export const CLEANUP = {
  deleted: 'deleted',
  nothingToDelete: 'nothing to delete',
  skipped: 'skipped: a later attempt owns the pool',
  handedOff: 'handed to a cleanup workflow',
} as const;
export type CleanupLabel = (typeof CLEANUP)[keyof typeof CLEANUP];

/** The cleanup label a deleteVolumeOnBackend result stands for. */
export function cleanupOfDelete(result: { deleted?: unknown; skipped?: unknown } | null | undefined): CleanupLabel {
  return result?.skipped ? CLEANUP.skipped : result?.deleted ? CLEANUP.deleted : CLEANUP.nothingToDelete;
}

/** The failure type a backend that never answered gets (not one of Cinder's: Cinder has no timeouts). */
export const BACKEND_UNAVAILABLE = 'BackendUnavailable';

/** A cancelled create, as the workflow and the history reader report it. */
export const CANCELLED = {
  type: 'Cancelled',
  message: 'Create cancelled by request; every step was compensated',
} as const;

/** Cinder's name for an activity timeout: a schedule-to-start timeout means no volume service took
 *  the task (its worker is down), any other that the one that took it stopped answering. */
export function timeoutFailure(timeoutType: string): { type: string; message: string; backend_unavailable: boolean } {
  const notStarted = timeoutType === 'SCHEDULE_TO_START';
  return {
    type: BACKEND_UNAVAILABLE,
    message: notStarted
      ? 'no volume service picked up the task in time (its worker is down or overloaded)'
      : `the volume service stopped answering (${timeoutType} timeout)`,
    backend_unavailable: notStarted,
  };
}

/** The marker a local activity leaves in the history (the SDK core's name). */
export const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

/** The patch that moved createVolume to the three flows on local activities; histories recorded
 *  before it take the frozen path (src/workflows/create-volume-v1.ts). */
export const PATCH_THREE_FLOWS = 'three-flows-local-activities';

/**
 * The patch after it: the API flow is one local activity (createVolumeApiFlow, which runs Cinder's
 * four tasks and, on a refusal, their reverts), and the volume worker finishes the create it made
 * (Cinder's CreateVolumeOnFinishTask runs in c-vol too). Three local activities and one workflow
 * activation fewer per create; histories recorded before it keep the step-per-task shape.
 */
export const PATCH_ONE_STEP_API_FLOW = 'api-flow-one-step-finish-on-backend';
