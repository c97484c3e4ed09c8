import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { CinderError } from '../domain/cinder-errors';
import { splitBackendId, volumeObjectName, type Volume } from '../domain/volume';
import type { DriverVolume } from '../drivers/driver';
import type { VolumeDeps } from './deps';
import { emitEvent, finishVolumeCreate, volumeLogger } from './context';
import { asActivity } from './failures';

export interface BackendCreateRequest {
  volume_id: string;
  /** host@backend#pool chosen by the scheduler for this attempt. */
  backend_id: string;
  attempt: number;
  /** The create's first run id; absent from creates started before owners. */
  owner?: string;
  /** Finish the create here once the volume is made (since PATCH_ONE_STEP_API_FLOW), as Cinder's
   *  c-vol does; absent, the scheduler pool finishes it. */
  finish?: boolean;
}

/** What a backend create returns; `finished` says this worker also finished the create. */
export interface BackendCreateResult {
  object_name: string;
  finished?: true;
}

/** Whether owner may act on the row (no owner given, the same owner, or a row made before owners). */
function ownedBy(volume: Volume, owner: string | undefined): boolean {
  return owner === undefined || volume.owner == null || volume.owner === owner;
}

/** Heartbeats while fn runs and aborts it when the activity is cancelled or times out, so a
 *  cancelled create stops writing before its compensation deletes what it wrote, and a worker that
 *  dies mid-operation is noticed within the heartbeat timeout (seconds). */
async function withHeartbeat<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timeout = ctx.info.heartbeatTimeoutMs ?? 10_000;
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), Math.max(100, Math.floor(timeout / 3)));
  try {
    return await fn(ctx.cancellationSignal);
  } finally {
    clearInterval(timer);
  }
}

function driverVolume(volume: Volume, backendId: string): DriverVolume {
  return { id: volume.id, size: volume.size, host: backendId, name: volume.name };
}

/** Cinder's volume manager flow (cinder/volume/flows/manager/create_volume.py) for one backend:
 *  these activities run only on that backend's task queue, served by its volume worker. */
export function createVolumeActivities(deps: VolumeDeps) {
  const { driver, store } = deps;

  /** ExtractVolumeRefTask: the row must still exist and be scheduled here. */
  async function loadVolume(req: BackendCreateRequest): Promise<Volume> {
    const volume = await store.getVolume(req.volume_id);
    if (!volume) throw new CinderError('VolumeNotFound', `Volume ${req.volume_id} could not be found.`);
    if (!ownedBy(volume, req.owner))
      throw new CinderError(
        'InvalidInput',
        `Invalid input for field 'volume_id': volume ${req.volume_id} already exists`,
        'volume_id',
      );
    if (splitBackendId(req.backend_id).host !== driver.host) {
      throw new CinderError(
        'VolumeBackendAPIException',
        `volume worker of ${driver.host} got a create for ${req.backend_id}`,
      );
    }
    return volume;
  }

  return {
    /** ExtractVolumeRefTask + NotifyVolumeActionTask("create.start") + CreateVolumeFromSpecTask, and
     *  CreateVolumeOnFinishTask when asked. A retry after the finish makes and finishes nothing new. */
    async createVolumeFromSpec(req: BackendCreateRequest): Promise<BackendCreateResult> {
      return asActivity(async () => {
        const volume = await loadVolume(req);
        const log = volumeLogger(deps, volume.id);
        const target = driverVolume(volume, req.backend_id);
        await emitEvent(deps, 'volume.create.start', volume.id, {
          backend_id: req.backend_id,
          attempt: req.attempt,
          size: volume.size,
        });
        await withHeartbeat(async (signal) => {
          const source = volume.source;
          switch (source.type) {
            case 'raw':
              return driver.createVolume(target, { signal });
            case 'snap': {
              const snap = await store.getSnapshot(source.snapshot_id);
              if (!snap)
                throw new CinderError('SnapshotNotFound', `Snapshot ${source.snapshot_id} could not be found.`);
              return driver.createVolumeFromSnapshot(target, snap, { signal });
            }
            case 'source_vol': {
              const src = await store.getVolume(source.source_volid);
              if (!src || !src.host)
                throw new CinderError('VolumeNotFound', `Volume ${source.source_volid} could not be found.`);
              return driver.createClonedVolume(target, driverVolume(src, src.host), { signal });
            }
            case 'image': {
              const image = await store.getImage(source.image_id);
              if (!image)
                throw new CinderError('ImageUnacceptable', `Image ${source.image_id} is no longer available.`);
              return driver.copyImageToVolume(target, image, { signal });
            }
          }
        });
        const objectName = volumeObjectName(volume.id);
        log.info(
          { backend_id: req.backend_id, attempt: req.attempt, object_name: objectName },
          `created ${objectName} on ${req.backend_id}`,
        );
        if (!req.finish) return { object_name: objectName };
        await finishVolumeCreate(deps, req);
        return { object_name: objectName, finished: true };
      });
    },

    /** The volume manager's delete_volume: the driver deletes `volume-<id>` on this backend, and
     *  "already gone" is success. Heartbeats, so a cancelled delete stops at once. A driver error
     *  keeps Cinder's type and fails the delete (the volume goes to error_deleting). */
    async deleteVolume(req: { volume_id: string; backend_id: string }): Promise<{ deleted: boolean }> {
      return asActivity(async () => {
        if (splitBackendId(req.backend_id).host !== driver.host) {
          throw new CinderError(
            'VolumeBackendAPIException',
            `volume worker of ${driver.host} got a delete for ${req.backend_id}`,
          );
        }
        const volume = await store.getVolume(req.volume_id);
        const deleted = await withHeartbeat((signal) =>
          driver.deleteVolume(
            { id: req.volume_id, size: volume?.size ?? 1, host: req.backend_id, name: volume?.name },
            { signal },
          ),
        );
        volumeLogger(deps, req.volume_id).info(
          { backend_id: req.backend_id, deleted },
          `deleted ${volumeObjectName(req.volume_id)} on ${req.backend_id}${deleted ? '' : ' (already gone)'}`,
        );
        return { deleted };
      });
    },

    /** The failed attempt's compensation: delete `volume-<id>` on this backend, even if it may not
     *  exist. Skipped when a later attempt of the same volume holds this very pool, so a late
     *  delete never removes the new attempt's volume (a bug Cinder has, spec §7). */
    async deleteVolumeOnBackend(req: BackendCreateRequest): Promise<{ deleted: boolean; skipped: boolean }> {
      return asActivity(async () => {
        const log = volumeLogger(deps, req.volume_id);
        const claims = await store.listClaims(req.volume_id);
        const newer = claims.find(
          (c) => c.attempt > req.attempt && c.backend_id === req.backend_id && c.status === 'active',
        );
        if (newer) {
          log.info(
            { backend_id: req.backend_id, attempt: req.attempt, newer_attempt: newer.attempt },
            'delete skipped: a later attempt owns this pool',
          );
          return { deleted: false, skipped: true };
        }
        const volume = await store.getVolume(req.volume_id);
        if (volume && !ownedBy(volume, req.owner)) {
          log.warn(
            { backend_id: req.backend_id, attempt: req.attempt },
            'delete skipped: the volume belongs to another create',
          );
          return { deleted: false, skipped: true };
        }
        let deleted: boolean;
        try {
          // The name lets fault rules that target one volume match its delete too. A delete does not
          // depend on the size, but the driver refuses a size below 1: a row gone meanwhile must not
          // turn the cleanup into an endless InvalidInput.
          deleted = await withHeartbeat((signal) =>
            driver.deleteVolume(
              { id: req.volume_id, size: volume?.size ?? 1, host: req.backend_id, name: volume?.name },
              { signal },
            ),
          );
        } catch (err) {
          // A compensation never gives up on a backend error: keep Cinder's type, but let Temporal
          // retry it (a non-retryable CinderError would leave the volume behind after one try).
          if (err instanceof CinderError)
            throw ApplicationFailure.create({ type: err.cinderType, message: err.message, nonRetryable: false });
          throw err;
        }
        log.info(
          { backend_id: req.backend_id, attempt: req.attempt, deleted },
          `compensation: delete ${volumeObjectName(req.volume_id)} on ${req.backend_id}`,
        );
        await emitEvent(deps, 'volume.delete.end', req.volume_id, {
          backend_id: req.backend_id,
          attempt: req.attempt,
          deleted,
          reason: 'create compensation',
        });
        return { deleted, skipped: false };
      });
    },
  };
}

export type VolumeActivities = ReturnType<typeof createVolumeActivities>;
