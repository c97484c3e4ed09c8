import { effectiveFilters, type CreateOptions } from '../domain/create-options';
import { splitBackendId } from '../domain/volume';
import {
  NoValidBackend,
  addRetryBackend,
  populateRetry,
  schedule,
  type BackendState,
  type FilterProperties,
  type Retry,
  type ScheduleOptions,
  type ScheduleResult,
} from '../scheduler';
import type { ActivityDeps } from './deps';
import { emitEvent, finishVolumeCreate, volumeLogger } from './context';
import { asActivity } from './failures';

export interface ScheduleRequest {
  volume_id: string;
  /** This pass's attempt number: retry.num_attempts after populateRetry, or 1 without retry. */
  attempt: number;
  filter_properties: FilterProperties;
  /** host@backend the volume must land on, for snapshot and clone sources. */
  resource_backend: string | null;
  /** What the pass reads of the create's options (creates started before the three flows pass the
   *  whole options object, a superset). */
  options: SchedulingPolicy;
  /** Alternates mode only: backend ids (best first) from an earlier full pass, each tried alone
   *  before a full pass. Absent when the mode is off. */
  preferred?: string[];
  /** The create's first run id: the row must be this create's (see VolumeStore.createVolume). */
  owner?: string;
}

/** What a step on one attempt of one create names: the volume, the attempt, the pool, the owner. */
export interface AttemptRef {
  volume_id: string;
  backend_id: string;
  attempt: number;
  owner?: string;
}

/** The create options a scheduling pass reads. */
export type SchedulingPolicy = Pick<
  CreateOptions,
  | 'scheduler_max_attempts'
  | 'ignore_attempted_hosts'
  | 'scheduler_default_filters'
  | 'scheduler_default_weighers'
  | 'service_down_time_s'
> & { scheduler_alternates?: number };

export interface ScheduleDecision {
  /** host@backend#pool */
  backend_id: string;
  /** host@backend: the volume service whose task queue gets the create. */
  host: string;
  /** filter_properties after populateRetry and addRetryBackend: the new retry state. */
  filter_properties: FilterProperties;
  /** Alternates mode only: the runner-up backend ids of this pass, best first; [] when the pool came
   *  from `preferred` or the activity was retried after its claim was made. */
  alternates?: string[];
  /** Alternates mode only: true when the pool is one of `preferred`. */
  alternate?: true;
}

/** How one pool was chosen: its pass, and whether it was one of the preferred pools. */
export interface PoolSelection {
  result: ScheduleResult;
  /** The preferred backend id that passed, or null when a full pass chose. */
  preferred: string | null;
}

/**
 * Alternates mode's choice, pure: each preferred backend id in order, that live pool alone, goes
 * through a whole scheduling pass (populateRetry with its attempt bound, every filter, consume, add
 * retry backend); the first that passes is chosen. When none does (or none is given), one full pass
 * over all the pools, asked for options.alternates runner-ups. Filters judge each pool on its own,
 * so a preferred pool that fails alone would fail in the full pass too.
 */
export function selectPool(
  pools: readonly BackendState[],
  props: FilterProperties,
  options: ScheduleOptions,
  preferred: readonly string[] = [],
): PoolSelection {
  for (const id of preferred) {
    const pool = pools.find((p) => p.backend_id === id);
    if (!pool) continue; // no longer live (or not allowed for this source)
    try {
      return { result: schedule([pool], props, { ...options, alternates: 0 }), preferred: id };
    } catch (err) {
      if (!(err instanceof NoValidBackend)) throw err;
    }
  }
  return { result: schedule(pools, props, options), preferred: null };
}

/** The attempt number a pass will have, known before it runs, so its claim can be undone by key. */
export function nextAttempt(retry: Retry | undefined, maxAttempts: number): number {
  return maxAttempts > 1 ? (retry?.num_attempts ?? 0) + 1 : 1;
}

/** Cinder's scheduler flow (cinder/scheduler/flows/create_volume.py) and the manager's reschedule
 *  hooks, as activities of the scheduler worker. */
export function createSchedulerActivities(deps: ActivityDeps) {
  return {
    /** ScheduleCreateVolumeTask: one filter-scheduler pass, its capacity claimed atomically in the
     *  database. A retried activity finds its claim and returns the same decision. */
    async scheduleCreateVolume(req: ScheduleRequest): Promise<ScheduleDecision> {
      return asActivity(async () => {
        const log = volumeLogger(deps, req.volume_id);
        const retry = req.filter_properties.retry;
        if (retry?.exc) {
          const last = retry.backends[retry.backends.length - 1];
          log.warn(
            { last_backend: last, exc: retry.exc },
            `Error scheduling ${req.volume_id} from last vol-service: ${last} : ${retry.exc}`,
          );
        }
        const wanted = req.options.scheduler_alternates ?? 0;
        const preferred = req.preferred ?? [];
        const alternatesMode = wanted > 0 || preferred.length > 0;
        const options: ScheduleOptions = {
          maxAttempts: req.options.scheduler_max_attempts,
          filters: effectiveFilters(req.options),
          weighers: req.options.scheduler_default_weighers,
          ...(wanted > 0 ? { alternates: wanted } : {}),
        };
        const now = deps.now();
        const liveSince = new Date(now.getTime() - req.options.service_down_time_s * 1000).toISOString();
        let decided: { props: FilterProperties; alternates: string[]; alternate: boolean } | null = null;
        const { claim, existing } = await deps.store.claimCapacity({
          volumeId: req.volume_id,
          attempt: req.attempt,
          sizeGb: req.filter_properties.size,
          ...(req.owner !== undefined ? { owner: req.owner } : {}),
          liveSince,
          now: now.toISOString(),
          choose: (pools: BackendState[]) => {
            // Snapshots and clones are made by the backend that holds their source.
            const candidates = req.resource_backend
              ? pools.filter((p) => splitBackendId(p.backend_id).host === req.resource_backend)
              : pools;
            const selection = selectPool(candidates, req.filter_properties, options, preferred);
            decided = {
              props: selection.result.props,
              alternates: selection.result.alternates.map((b) => b.backend_id),
              alternate: selection.preferred !== null,
            };
            return { backend: selection.result.backend };
          },
        });
        const chosen = decided as { props: FilterProperties; alternates: string[]; alternate: boolean } | null;
        const filterProperties =
          existing || !chosen
            ? addRetryBackend(populateRetry(req.filter_properties, options.maxAttempts), claim.backend_id)
            : chosen.props;
        const host = splitBackendId(claim.backend_id).host;
        // A retried activity finds its claim: a pool chosen from `preferred` passed alone, so a full
        // pass never picks one of them, and the claim's pool says how it was chosen.
        const alternate = existing || !chosen ? preferred.includes(claim.backend_id) : chosen.alternate;
        const alternates = existing || !chosen ? [] : chosen.alternates;
        log.info(
          {
            backend_id: claim.backend_id,
            attempt: req.attempt,
            retry: filterProperties.retry ?? null,
            repeated: existing,
            ...(alternatesMode
              ? { alternate, alternates, ...(req.preferred ? { preferred: req.preferred } : {}) }
              : {}),
          },
          `scheduled volume ${req.volume_id} to ${claim.backend_id}${alternate ? ' (alternate)' : ''}`,
        );
        const decision: ScheduleDecision = { backend_id: claim.backend_id, host, filter_properties: filterProperties };
        if (alternatesMode) {
          decision.alternates = alternates;
          if (alternate) decision.alternate = true;
        }
        return decision;
      });
    },

    /** Cinder's CreateVolumeOnFinishTask("create.end") on the scheduler pool: for creates from before
     *  PATCH_ONE_STEP_API_FLOW, and for a volume worker too old to finish its own create. */
    async createVolumeOnFinish(req: AttemptRef): Promise<void> {
      return asActivity(() => finishVolumeCreate(deps, req));
    },

    /** Gives back the capacity an attempt claimed (no-op if it claimed none or gave it back). */
    async releaseCapacity(volumeId: string, attempt: number, owner?: string): Promise<boolean> {
      return asActivity(async () => {
        const released = await deps.store.releaseCapacity(volumeId, attempt, deps.now().toISOString(), owner);
        if (released) volumeLogger(deps, volumeId).info({ attempt }, `gave back capacity of attempt ${attempt}`);
        return released;
      });
    },

    /** OnFailureRescheduleTask's pre-reschedule and reschedule halves: clear host, stamp
     *  scheduled_at, log Cinder's line and record the reschedule. The status stays 'creating'. */
    async prepareReschedule(args: AttemptRef & { error_type: string; reason: string }): Promise<void> {
      return asActivity(async () => {
        const now = deps.now().toISOString();
        await deps.store.updateVolume(args.volume_id, { host: null, scheduled_at: now }, now, args.owner);
        volumeLogger(deps, args.volume_id).warn(
          { attempt: args.attempt, backend_id: args.backend_id, error_type: args.error_type },
          `Volume ${args.volume_id}: re-scheduling create_volume attempt ${args.attempt} due to ${args.reason}`,
        );
        await emitEvent(
          deps,
          'volume.create.reschedule',
          args.volume_id,
          {
            attempt: args.attempt,
            backend_id: args.backend_id,
            error_type: args.error_type,
            reason: args.reason,
          },
          'warn',
        );
      });
    },

    /** Sets the volume to 'error' with the reason the user reads; a scheduling failure also emits
     *  Cinder's scheduler.create_volume error notification. */
    async markVolumeError(args: {
      volume_id: string;
      reason: string;
      error_type: string;
      scheduling_failed: boolean;
      owner?: string;
    }): Promise<void> {
      return asActivity(async () => {
        const now = deps.now().toISOString();
        await deps.store.updateVolume(args.volume_id, { status: 'error', error_reason: args.reason }, now, args.owner);
        if (args.scheduling_failed) {
          await emitEvent(
            deps,
            'scheduler.create_volume',
            args.volume_id,
            { state: 'error', error_type: args.error_type, reason: args.reason },
            'error',
          );
        } else {
          await emitEvent(
            deps,
            'volume.create.error',
            args.volume_id,
            { error_type: args.error_type, reason: args.reason },
            'error',
          );
        }
      });
    },

    /** Records a compensation the workflow could not finish in place (a down backend): visible, never swallowed. */
    async recordCleanupPending(args: {
      volume_id: string;
      backend_id: string;
      attempt: number;
      reason: string;
    }): Promise<void> {
      return asActivity(() => emitEvent(deps, 'volume.cleanup.pending', args.volume_id, args, 'warn'));
    },
  };
}

export type SchedulerActivities = ReturnType<typeof createSchedulerActivities>;
