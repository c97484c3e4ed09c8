import { WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, TypedSearchAttributes } from '@temporalio/common';
import type { Volume } from '../domain/volume';
import {
  deleteStateQuery,
  deleteVolume,
  deleteVolumeWorkflowId,
  type DeleteVolumeResult,
  type DeleteVolumeState,
} from '../workflows/delete-volume';
import { ProjectId, VolumeId, VolumeType } from '../workflows/search-attributes';
import { isUnknownSearchAttribute } from './volumes';

/** A delete that failed, as Cinder reports it: its type (InvalidVolume, VolumeBackendAPIException...). */
export class VolumeDeleteError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly state: DeleteVolumeState | null,
  ) {
    super(message);
    this.name = type;
  }
}

export class VolumeDeleteHandle {
  constructor(
    readonly volumeId: string,
    readonly handle: WorkflowHandle<typeof deleteVolume>,
    /** True when a delete of this volume was already running: this call joined it. */
    readonly existing: boolean,
  ) {}

  get workflowId(): string {
    return this.handle.workflowId;
  }

  /** Resolves when the volume is `deleted`; rejects with VolumeDeleteError (error_deleting, refused). */
  async result(): Promise<DeleteVolumeResult> {
    try {
      return await this.handle.result();
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const cause = err.cause;
        if (cause instanceof ApplicationFailure)
          throw new VolumeDeleteError(
            cause.type ?? 'Error',
            cause.message,
            (cause.details?.[0] ?? null) as DeleteVolumeState | null,
          );
        if (cause) throw new VolumeDeleteError(cause.name, cause.message, null);
      }
      throw err;
    }
  }

  /** Where the delete stands (needs a scheduler worker to answer). */
  status(): Promise<DeleteVolumeState> {
    return this.handle.query(deleteStateQuery);
  }
}

/** The running delete of a volume, or null when none runs. */
export async function runningDelete(client: Client, volumeId: string): Promise<VolumeDeleteHandle | null> {
  const handle = client.workflow.getHandle<typeof deleteVolume>(deleteVolumeWorkflowId(volumeId));
  try {
    const d = await handle.describe();
    return d.status.name === 'RUNNING' ? new VolumeDeleteHandle(volumeId, handle, true) : null;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/**
 * Starts the delete of a volume (workflow `delete-volume-<id>`). While one runs, a second start is
 * the same workflow (USE_EXISTING); once it ended, a new delete may run (an error_deleting volume is
 * deleted again). The caller has checked the status; the workflow checks it again, atomically.
 */
export async function startDeleteVolume(
  client: Client,
  volume: Volume,
  call: { taskQueue?: string; force?: boolean } = {},
): Promise<VolumeDeleteHandle> {
  const workflowId = deleteVolumeWorkflowId(volume.id);
  const start = (typedSearchAttributes: TypedSearchAttributes | undefined) =>
    client.workflow.start(deleteVolume, {
      workflowId,
      taskQueue: call.taskQueue ?? 'cinder-scheduler',
      args: [{ volume_id: volume.id, ...(call.force ? { force: true } : {}) }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      staticSummary: `delete volume ${volume.name ?? volume.id}: ${volume.size} GiB${volume.host ? ` on ${volume.host}` : ''}${call.force ? ' (force)' : ''}`,
      staticDetails: [
        `**volume** ${volume.id}`,
        `**project** ${volume.project_id}`,
        `**status before** ${volume.status}${call.force ? ', **force**' : ''}`,
        `**size** ${volume.size} GiB, **type** ${volume.volume_type}${volume.host ? `, **host** ${volume.host}` : ''}`,
      ].join('\n\n'),
      ...(typedSearchAttributes ? { typedSearchAttributes } : {}),
    });
  const attrs = new TypedSearchAttributes([
    { key: VolumeId, value: volume.id },
    { key: ProjectId, value: volume.project_id },
    { key: VolumeType, value: volume.volume_type },
  ]);
  let handle;
  try {
    handle = await start(attrs);
  } catch (err) {
    if (!isUnknownSearchAttribute(err)) throw err;
    handle = await start(undefined);
  }
  return new VolumeDeleteHandle(volume.id, handle, false);
}
