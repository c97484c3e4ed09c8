import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { ActivityDeps } from './deps';

/** The workflow id of the running activity, or null outside one (unit use). */
export function currentWorkflowId(): string | null {
  try {
    return Context.current().info.workflowExecution?.workflowId ?? null;
  } catch {
    return null;
  }
}

/** A logger whose every line carries the volume id and the workflow id. */
export function volumeLogger(deps: ActivityDeps, volumeId: string): Logger {
  let activity: string | undefined;
  try {
    activity = Context.current().info.activityType;
  } catch {
    activity = undefined;
  }
  return deps.logger.child({
    volume_id: volumeId,
    workflow_id: currentWorkflowId(),
    ...(activity ? { activity } : {}),
  });
}

/** Cinder's notifications: one pino line with event_type, and one row in the events table. */
export async function emitEvent(
  deps: ActivityDeps,
  eventType: string,
  volumeId: string,
  payload: Record<string, unknown> = {},
  level: 'info' | 'warn' | 'error' = 'info',
): Promise<void> {
  const workflowId = currentWorkflowId();
  await deps.store.recordEvent({
    event_type: eventType,
    volume_id: volumeId,
    workflow_id: workflowId,
    payload,
    created_at: deps.now().toISOString(),
  });
  volumeLogger(deps, volumeId)[level]({ event_type: eventType, ...payload }, eventType);
}

/** Cinder's CreateVolumeOnFinishTask("create.end"): status 'available', launched_at, the host. Run by
 *  the volume worker that made the volume, or by the scheduler pool when that worker is older. */
export async function finishVolumeCreate(
  deps: ActivityDeps,
  req: { volume_id: string; backend_id: string; attempt: number; owner?: string },
): Promise<void> {
  const now = deps.now().toISOString();
  await deps.store.updateVolume(
    req.volume_id,
    { status: 'available', launched_at: now, host: req.backend_id, error_reason: null },
    now,
    req.owner,
  );
  await emitEvent(deps, 'volume.create.end', req.volume_id, { backend_id: req.backend_id, attempt: req.attempt });
}
