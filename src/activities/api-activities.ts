import { ApplicationFailure } from '@temporalio/common';
import { resolveRequestOptions, type CreateOptions } from '../domain/create-options';
import { CinderError } from '../domain/cinder-errors';
import { validateCreateRequest, volumeSourceOf } from '../domain/validation';
import { splitBackendId, type CreateVolumeRequest, type VolumeSource, type VolumeType } from '../domain/volume';
import type { ApiDeps } from './deps';
import { volumeLogger } from './context';
import { asActivity as wrap } from './failures';

/** What the API flow hands on to the scheduler: Cinder's request spec. */
export interface VolumeSpec {
  request: CreateVolumeRequest;
  volume_type: VolumeType;
  source: VolumeSource;
  /** host@backend the volume must land on (snapshot and clone sources live there). */
  resource_backend: string | null;
  quota_deltas: Record<string, number>;
  options: CreateOptions;
}

/** What createVolumeApiFlow takes: the request, its option overrides, and whose create it is. */
export interface ApiFlowArgs {
  request: unknown;
  options?: unknown;
  workflow_id: string;
  /** The create's first run id (from the workflow, never from its input). */
  owner: string;
}

/** Cinder's api-flow tasks and reverts, as createApiActivities makes them (and test fakes). */
export interface ApiFlowTasks {
  extractVolumeRequest(request: unknown, overrides?: unknown): Promise<VolumeSpec>;
  reserveQuota(spec: Pick<VolumeSpec, 'request' | 'quota_deltas'>, owner?: string): Promise<void>;
  rollbackQuota(volumeId: string, owner?: string): Promise<void>;
  createVolumeEntry(
    spec: Pick<VolumeSpec, 'request' | 'volume_type' | 'source'>,
    workflowId: string,
    owner?: string,
  ): Promise<void>;
  destroyVolumeEntry(volumeId: string, owner?: string): Promise<void>;
  commitQuota(volumeId: string, owner?: string): Promise<void>;
}

/**
 * Cinder's api flow as one step: its tasks in order, each revert registered before its task runs (a
 * task may do its work and still fail). A refusal (a failure no retry can fix: over quota, the volume
 * id taken) runs the reverts newest first, then fails the step with the refusal; any other failure
 * fails it as is, and the retry runs the whole flow again, which every task is safe for. One local
 * activity instead of four: each local activity costs a round trip between the SDK core and the
 * workflow thread, more than the database work of a task (measured in docs/deploy.md).
 */
export function apiFlowOf(tasks: ApiFlowTasks): (args: ApiFlowArgs) => Promise<VolumeSpec> {
  return async (args) => {
    const spec = await tasks.extractVolumeRequest(args.request, args.options);
    const volumeId = spec.request.volume_id;
    const reverts: Array<() => Promise<void>> = [];
    try {
      reverts.push(() => tasks.rollbackQuota(volumeId, args.owner));
      await tasks.reserveQuota({ request: spec.request, quota_deltas: spec.quota_deltas }, args.owner);
      reverts.push(() => tasks.destroyVolumeEntry(volumeId, args.owner));
      const entry = { request: spec.request, volume_type: spec.volume_type, source: spec.source };
      await tasks.createVolumeEntry(entry, args.workflow_id, args.owner);
      await tasks.commitQuota(volumeId, args.owner);
      return spec;
    } catch (err) {
      if (err instanceof ApplicationFailure && err.nonRetryable) for (const revert of reverts.reverse()) await revert();
      throw err;
    }
  };
}

/** Cinder's api flow (cinder/volume/flows/api/create_volume.py): one activity per task, and the flow
 *  of them as one (createVolumeApiFlow). */
export function createApiActivities(deps: ApiDeps) {
  const tasks: ApiFlowTasks = {
    /** ExtractVolumeRequestTask: validates the request against its shape and the database. */
    async extractVolumeRequest(request: unknown, overrides?: unknown): Promise<VolumeSpec> {
      return wrap(async () => {
        const req = validateCreateRequest(request, deps.limits);
        const options = resolveRequestOptions(deps.createDefaults, overrides);
        const typeName = req.volume_type ?? 'default';
        const volumeType = await deps.store.getVolumeType(typeName);
        if (!volumeType)
          throw new CinderError(
            'VolumeTypeNotFound',
            `Volume type ${typeName} could not be found (field 'volume_type').`,
            'volume_type',
          );
        if (req.availability_zone) {
          const zones = await deps.store.listAvailabilityZones();
          if (!zones.includes(req.availability_zone)) {
            throw new CinderError(
              'InvalidAvailabilityZone',
              `Availability zone '${req.availability_zone}' is invalid (known: ${zones.join(', ') || 'none'}).`,
              'availability_zone',
            );
          }
        }
        const source = volumeSourceOf(req);
        let resourceBackend: string | null = null;
        let minSize = 0;
        if (source.type === 'snap') {
          const snap = await deps.store.getSnapshot(source.snapshot_id);
          const parent = snap ? await deps.store.getVolume(snap.volume_id) : null;
          if (!snap || snap.status !== 'available' || (parent && parent.project_id !== req.project_id)) {
            throw new CinderError(
              'SnapshotNotFound',
              `Snapshot ${source.snapshot_id} could not be found (field 'snapshot_id').`,
              'snapshot_id',
            );
          }
          resourceBackend = splitBackendId(snap.host).host;
          minSize = snap.size;
        } else if (source.type === 'source_vol') {
          const src = await deps.store.getVolume(source.source_volid);
          // Another project's volume is not there for this one (Cinder answers VolumeNotFound too).
          if (!src || src.status !== 'available' || !src.host || src.project_id !== req.project_id) {
            throw new CinderError(
              'VolumeNotFound',
              `Volume ${source.source_volid} could not be found or is not available (field 'source_volid').`,
              'source_volid',
            );
          }
          resourceBackend = splitBackendId(src.host).host;
          minSize = src.size;
        } else if (source.type === 'image') {
          const image = await deps.store.getImage(source.image_id);
          if (!image || image.status !== 'active') {
            throw new CinderError(
              'ImageNotFound',
              `Image ${source.image_id} could not be found (field 'image_id').`,
              'image_id',
            );
          }
          minSize = image.size_gb;
        }
        if (req.size < minSize) {
          throw new CinderError(
            'InvalidInput',
            `Invalid input for field 'size': ${req.size} GiB is smaller than its source (${minSize} GiB)`,
            'size',
          );
        }
        const quota_deltas: Record<string, number> = {
          volumes: 1,
          gigabytes: req.size,
          [`volumes_${volumeType.name}`]: 1,
          [`gigabytes_${volumeType.name}`]: req.size,
        };
        return {
          request: req,
          volume_type: volumeType,
          source,
          resource_backend: resourceBackend,
          quota_deltas,
          options,
        };
      });
    },

    // `owner` (the create's first run id, from the workflow, never from its input) ties every row
    // and reservation to one create: another create's are refused, and undos touch only their own.

    /** QuotaReserveTask. */
    async reserveQuota(spec: Pick<VolumeSpec, 'request' | 'quota_deltas'>, owner?: string): Promise<void> {
      return wrap(() =>
        deps.store.reserveQuota(
          spec.request.volume_id,
          spec.request.project_id,
          spec.quota_deltas,
          deps.now().toISOString(),
          owner,
        ),
      );
    },
    /** QuotaReserveTask's revert. */
    async rollbackQuota(volumeId: string, owner?: string): Promise<void> {
      return wrap(() => deps.store.rollbackQuota(volumeId, deps.now().toISOString(), owner));
    },

    /** EntryCreateTask: the volume row, status 'creating'. */
    async createVolumeEntry(
      spec: Pick<VolumeSpec, 'request' | 'volume_type' | 'source'>,
      workflowId: string,
      owner?: string,
    ): Promise<void> {
      return wrap(async () => {
        await deps.store.createVolume({
          id: spec.request.volume_id,
          request: spec.request,
          volume_type: spec.volume_type.name,
          source: spec.source,
          workflow_id: workflowId,
          ...(owner !== undefined ? { owner } : {}),
          now: deps.now().toISOString(),
        });
        volumeLogger(deps, spec.request.volume_id).info(
          { size: spec.request.size, volume_type: spec.volume_type.name },
          'volume entry created',
        );
      });
    },
    /** EntryCreateTask's revert. */
    async destroyVolumeEntry(volumeId: string, owner?: string): Promise<void> {
      return wrap(() => deps.store.destroyVolume(volumeId, owner));
    },

    /** QuotaCommitTask. */
    async commitQuota(volumeId: string, owner?: string): Promise<void> {
      return wrap(() => deps.store.commitQuota(volumeId, deps.now().toISOString(), owner));
    },
  };
  return { ...tasks, createVolumeApiFlow: apiFlowOf(tasks) };
}

export type ApiActivities = ReturnType<typeof createApiActivities>;
