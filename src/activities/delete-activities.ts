import { ApplicationFailure } from '@temporalio/common';
import { CinderError } from '../domain/cinder-errors';
import { DELETABLE_STATUSES, invalidVolumeForDelete, splitBackendId, type VolumeStatus } from '../domain/volume';
import type { ApiDeps } from './deps';
import { emitEvent, volumeLogger } from './context';
import { asActivity } from './failures';

/** What the delete acts on, read when it began. */
export interface DeleteTarget {
  volume_id: string;
  project_id: string;
  name: string | null;
  size: number;
  /** host@backend#pool, null when the volume never landed on a backend. */
  backend_id: string | null;
  /** host@backend: whose task queue gets the driver's delete. */
  host: string | null;
  status_before: VolumeStatus;
}

export interface BeginDelete {
  /** Null when the row is gone (a cancelled create's API flow destroyed it). */
  target: DeleteTarget | null;
  /** The volume is still `creating`: cancel its create and wait for it first. */
  needs_cancel: boolean;
  /** The scheduler worker's timeouts, so a delete uses the same as a create. */
  options: {
    backend_schedule_to_start_timeout_ms: number;
    retry_initial_interval_ms: number;
    upsert_search_attributes: boolean;
  };
}

/** Cinder's delete as scheduler-worker activities: the API's conditional status change, then the
 *  database steps after the driver's delete. Each one is safe to run twice. */
export function createDeleteActivities(deps: ApiDeps) {
  const now = () => deps.now().toISOString();
  const options = () => ({
    backend_schedule_to_start_timeout_ms: deps.createDefaults.backend_schedule_to_start_timeout_ms,
    retry_initial_interval_ms: deps.createDefaults.retry_initial_interval_ms,
    upsert_search_attributes: deps.createDefaults.upsert_search_attributes,
  });

  return {
    /** volume API delete(): `deleting` if the status allows it (any status with force); a volume
     *  still `creating` is left as it is, for the workflow to cancel its create first. With
     *  allow_missing (after that cancel), a row the create's compensation destroyed is no error. */
    async beginDeleteVolume(args: {
      volume_id: string;
      force: boolean;
      allow_missing?: boolean;
    }): Promise<BeginDelete> {
      return asActivity(async () => {
        const current = await deps.store.getVolume(args.volume_id);
        if (!current || current.status === 'deleted') {
          if (args.allow_missing) return { target: null, needs_cancel: false, options: options() };
          throw new CinderError('VolumeNotFound', `Volume ${args.volume_id} could not be found.`);
        }
        if (!args.force && ![...DELETABLE_STATUSES, 'deleting'].includes(current.status)) {
          throw new CinderError('InvalidVolume', invalidVolumeForDelete(current.status));
        }
        if (current.status === 'creating') return { target: null, needs_cancel: true, options: options() };
        const res = await deps.store.conditionalUpdateVolume(args.volume_id, null, { status: 'deleting' }, now());
        const v = res.volume!;
        const target: DeleteTarget = {
          volume_id: v.id,
          project_id: v.project_id,
          name: v.name,
          size: v.size,
          backend_id: v.host,
          host: v.host ? splitBackendId(v.host).host : null,
          status_before: current.status,
        };
        if (current.status !== 'deleting') {
          await emitEvent(deps, 'volume.delete.start', v.id, {
            status_before: current.status,
            backend_id: v.host,
            size: v.size,
            force: args.force,
          });
        }
        return { target, needs_cancel: false, options: options() };
      });
    },

    /** Waits (by failing retryably) until a cancelled create has compensated and left `creating`. */
    async awaitCreateEnded(volumeId: string): Promise<VolumeStatus | null> {
      const v = await deps.store.getVolume(volumeId);
      if (v?.status === 'creating') {
        throw ApplicationFailure.retryable(`the create of ${volumeId} is still compensating`, 'CreateStillRunning');
      }
      return v?.status ?? null;
    },

    /** Gives back every capacity claim the volume still holds: usable by the next create at once. */
    async releaseVolumeCapacity(volumeId: string): Promise<number> {
      return asActivity(async () => {
        const released = await deps.store.releaseVolumeCapacity(volumeId, now());
        if (released > 0)
          volumeLogger(deps, volumeId).info({ claims: released }, `gave back the capacity of ${volumeId}`);
        return released;
      });
    },

    /** Cinder's QUOTAS.reserve(-1 volume, -size GiB) + commit, once per volume. */
    async releaseVolumeQuota(volumeId: string): Promise<boolean> {
      return asActivity(() => deps.store.releaseQuota(volumeId, now()));
    },

    /** The row's soft delete: status `deleted`, deleted_at; emits volume.delete.end. */
    async finishDeleteVolume(args: {
      volume_id: string;
      backend_id: string | null;
      deleted_on_backend: boolean;
    }): Promise<string> {
      return asActivity(async () => {
        const at = now();
        const v = await deps.store.getVolume(args.volume_id);
        if (v?.status === 'deleted') return v.deleted_at ?? at;
        await deps.store.updateVolume(args.volume_id, { status: 'deleted', deleted_at: at }, at);
        await emitEvent(deps, 'volume.delete.end', args.volume_id, {
          backend_id: args.backend_id,
          deleted_on_backend: args.deleted_on_backend,
        });
        return at;
      });
    },

    /** A delete that failed: `error_deleting` with its reason, as Cinder leaves it. */
    async markDeleteError(args: { volume_id: string; error_type: string; reason: string }): Promise<void> {
      return asActivity(async () => {
        await deps.store.conditionalUpdateVolume(
          args.volume_id,
          ['deleting'],
          { status: 'error_deleting', error_reason: args.reason },
          now(),
        );
        await emitEvent(
          deps,
          'volume.delete.error',
          args.volume_id,
          { error_type: args.error_type, reason: args.reason },
          'error',
        );
      });
    },

    /** A delete whose volume service is down waits for it: said once, visibly. */
    async recordDeleteWaiting(args: { volume_id: string; host: string }): Promise<void> {
      return asActivity(() =>
        emitEvent(
          deps,
          'volume.delete.waiting',
          args.volume_id,
          { host: args.host, reason: `the volume service of ${args.host} is down; the delete waits for it` },
          'warn',
        ),
      );
    },
  };
}

export type DeleteActivities = ReturnType<typeof createDeleteActivities>;
