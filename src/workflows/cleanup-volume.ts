import { proxyActivities } from '@temporalio/workflow';
import type { BackendCreateRequest, VolumeActivities } from '../activities/volume-activities';
import { volumeObjectName, volumeTaskQueue } from '../domain/volume';

/** Deletes a failed attempt's volume on a backend that was down, however long it takes to return. */
export async function cleanupBackendVolume(
  args: BackendCreateRequest & { host: string; retry_initial_interval_ms: number },
): Promise<void> {
  await proxyActivities<VolumeActivities>({
    taskQueue: volumeTaskQueue(args.host),
    summary: `compensate: delete ${volumeObjectName(args.volume_id)} on ${args.backend_id}`,
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '10 seconds',
    retry: { initialInterval: args.retry_initial_interval_ms, maximumInterval: '5 minutes' },
  }).deleteVolumeOnBackend(args);
}
