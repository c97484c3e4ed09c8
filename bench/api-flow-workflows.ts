/** Two shapes of Cinder's API flow, for bench/api-flow.bench.ts only: a chain of four local
 *  activities (what createVolume runs) and one local activity making the same four calls. */
import { proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { ApiActivities, VolumeSpec } from '../src/activities/api-activities';

type Acts = ApiActivities & { apiFlowInOne(request: unknown, workflowId: string, owner: string): Promise<VolumeSpec> };
const la = proxyLocalActivities<Acts>({ startToCloseTimeout: '10 seconds' });

export async function apiFlowChain(request: { volume_id: string }): Promise<void> {
  const owner = workflowInfo().firstExecutionRunId;
  const spec = await la.extractVolumeRequest(request, undefined);
  await la.reserveQuota(spec, owner);
  await la.createVolumeEntry(spec, workflowInfo().workflowId, owner);
  await la.commitQuota(request.volume_id, owner);
}

export async function apiFlowOne(request: { volume_id: string }): Promise<void> {
  await la.apiFlowInOne(request, workflowInfo().workflowId, workflowInfo().firstExecutionRunId);
}
