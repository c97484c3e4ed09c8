/** What the volume commands print: Cinder's property names for humans, plain fields for --json. */
import type { HistoryActivity, HistoryAttempt, VolumeHistory } from '../client/history';
import type { BackendInfo } from '../client/volume-service';
import type { NewVolumeRequest } from '../client/volumes';
import type { Volume, VolumeStatus } from '../domain/volume';
import type { AttemptRecord, CreateVolumeState } from '../workflows/create-volume';
import { ACTIVITY, CLEANUP, cleanupOfDelete, createVolumeWorkflowId } from '../domain/names';
import { boxTable, gib, propertyTable } from './format';

/** A volume for scripts (--json): the row's fields, the source flattened as Cinder's API shows it. */
export interface VolumeView {
  id: string;
  name: string | null;
  description: string | null;
  status: VolumeStatus;
  size: number;
  volume_type: string | null;
  availability_zone: string | null;
  /** host@backend#pool (Cinder's os-vol-host-attr:host). */
  host: string | null;
  project_id: string;
  snapshot_id: string | null;
  source_volid: string | null;
  image_id: string | null;
  metadata: Record<string, string>;
  request_id: string | null;
  workflow_id: string;
  error_reason: string | null;
  created_at: string | null;
  updated_at: string | null;
  scheduled_at: string | null;
  launched_at: string | null;
  deleted_at: string | null;
}

export function volumeView(v: Volume): VolumeView {
  return {
    id: v.id,
    name: v.name,
    description: v.description,
    status: v.status,
    size: v.size,
    volume_type: v.volume_type,
    availability_zone: v.availability_zone,
    host: v.host,
    project_id: v.project_id,
    snapshot_id: v.source.type === 'snap' ? v.source.snapshot_id : null,
    source_volid: v.source.type === 'source_vol' ? v.source.source_volid : null,
    image_id: v.source.type === 'image' ? v.source.image_id : null,
    metadata: v.metadata,
    request_id: v.request_id,
    workflow_id: v.workflow_id ?? createVolumeWorkflowId(v.id),
    error_reason: v.error_reason,
    created_at: v.created_at,
    updated_at: v.updated_at,
    scheduled_at: v.scheduled_at,
    launched_at: v.launched_at,
    deleted_at: v.deleted_at,
  };
}

/** The view of a volume whose row is not written yet (just started, or refused by the API flow). */
export function requestView(
  volumeId: string,
  r: NewVolumeRequest,
  status: VolumeStatus = 'creating',
  errorReason: string | null = null,
): VolumeView {
  return {
    id: volumeId,
    name: r.name ?? null,
    description: r.description ?? null,
    status,
    size: r.size,
    volume_type: r.volume_type ?? 'default',
    availability_zone: r.availability_zone ?? null,
    host: null,
    project_id: r.project_id,
    snapshot_id: r.snapshot_id ?? null,
    source_volid: r.source_volid ?? null,
    image_id: r.image_id ?? null,
    metadata: r.metadata ?? {},
    request_id: r.request_id ?? null,
    workflow_id: createVolumeWorkflowId(volumeId),
    error_reason: errorReason,
    created_at: null,
    updated_at: null,
    scheduled_at: null,
    launched_at: null,
    deleted_at: null,
  };
}

/** `cinder show`: the volume's properties, Cinder's names where Cinder has them. */
export function volumeTable(v: VolumeView, extra: Record<string, unknown> = {}): string {
  return propertyTable({
    id: v.id,
    name: v.name,
    description: v.description,
    status: v.status,
    size: v.size,
    volume_type: v.volume_type,
    availability_zone: v.availability_zone,
    'os-vol-host-attr:host': v.host,
    'os-vol-tenant-attr:tenant_id': v.project_id,
    snapshot_id: v.snapshot_id,
    source_volid: v.source_volid,
    ...(v.image_id ? { image_id: v.image_id } : {}),
    metadata: v.metadata,
    created_at: v.created_at,
    updated_at: v.updated_at,
    ...(v.launched_at ? { launched_at: v.launched_at } : {}),
    ...(v.deleted_at ? { deleted_at: v.deleted_at } : {}),
    ...(v.error_reason ? { error_reason: v.error_reason } : {}),
    ...(v.request_id ? { request_id: v.request_id } : {}),
    workflow_id: v.workflow_id,
    ...extra,
  });
}

/** `cinder list`. */
export function volumeList(volumes: VolumeView[]): string {
  return boxTable(
    volumes.map((v) => ({
      ID: v.id,
      Status: v.status,
      Name: v.name,
      Size: v.size,
      'Volume Type': v.volume_type,
      Host: v.host,
    })),
    ['ID', 'Status', 'Name', 'Size', 'Volume Type', 'Host'],
  );
}

/** `cinder get-pools --detail`, one row per pool, with its volume service up or down. */
export function backendList(backends: BackendInfo[], serviceDownTimeS: number): string {
  return [
    boxTable(
      backends.map((b) => ({
        Pool: b.backend_id,
        Zone: b.availability_zone,
        State: b.state,
        'Total GiB': gib(b.total_capacity_gb),
        'Free GiB': gib(b.free_capacity_gb),
        'Allocated GiB': gib(b.allocated_capacity_gb),
        'Provisioned GiB': gib(b.provisioned_capacity_gb),
        'Last report': `${b.updated_at} (${Math.round(b.heartbeat_age_s)}s ago)`,
      })),
      ['Pool', 'Zone', 'State', 'Total GiB', 'Free GiB', 'Allocated GiB', 'Provisioned GiB', 'Last report'],
    ),
    `A volume service is down when its last report is older than service_down_time (${serviceDownTimeS}s).`,
  ].join('\n');
}

/** `Type: message`, said once: a message that already starts with its type (some workflow
 *  messages do, some do not) is not prefixed again, and a type repeated at its start is dropped. */
export function withType(type: string, message: string): string {
  let m = message;
  const prefix = `${type}: `;
  while (m.startsWith(prefix + prefix)) m = m.slice(prefix.length);
  return m.startsWith(prefix) || m === type ? m : `${prefix}${m}`;
}

/** One line of `create --wait` progress: status, phase, attempt n of max, backend. A failed create
 *  says it failed, where, and with which error (not "done"). */
export function progressLine(s: CreateVolumeState): string {
  const failed = s.status === 'error' && s.phase === 'done';
  const where = s.backend_id ? (s.phase === 'rescheduling' ? ` away from ${s.backend_id}` : ` on ${s.backend_id}`) : '';
  const what = failed ? 'failed' : s.phase === 'api' ? 'checking the request, reserving quota' : s.phase;
  const parts = [`${s.status}: ${what}${where}`];
  if (s.attempt > 0) parts.push(`attempt ${s.attempt} of ${s.max_attempts ?? '?'}`);
  if (s.last_error && s.status === 'creating') parts.push(`last error ${s.last_error.type}`);
  if (s.last_error && failed) parts.push(`error ${s.last_error.type}`);
  return parts.join(', ');
}

/** One line per attempt that has ended, from the create's own state: what `--wait` prints so a
 *  reschedule between two polls is still seen. */
export function attemptOutcomeLine(a: AttemptRecord, max: number | null): string {
  const head = `attempt ${a.attempt} of ${max ?? '?'} on ${a.backend_id}: ${a.outcome}`;
  if (a.outcome !== 'failed') return head;
  const detail = [a.error_type, a.cleanup].filter(Boolean).join('; ');
  return `${head}${detail ? ` (${detail})` : ''}`;
}

/** What a finished compensation did, in words. */
export function compensationResult(c: HistoryActivity): string {
  if (c.status === 'scheduled') return 'still running';
  if (c.status !== 'completed') return `${c.status}${c.error ? `: ${withType(c.error.type, c.error.message)}` : ''}`;
  const r = c.result as Record<string, unknown> | boolean | undefined;
  switch (c.activity) {
    case ACTIVITY.deleteVolumeOnBackend:
      return cleanupOfDelete((r ?? {}) as Record<string, unknown>);
    case ACTIVITY.releaseCapacity:
      return r === true ? 'capacity given back' : 'no capacity held';
    case ACTIVITY.recordCleanupPending:
      return 'recorded: the delete waits for the volume service';
    case ACTIVITY.rollbackQuota:
      return 'quota reservation rolled back';
    case ACTIVITY.destroyVolumeEntry:
      return 'volume entry destroyed';
    default:
      return r === undefined ? 'done' : JSON.stringify(r);
  }
}

function tries(c: HistoryActivity): string {
  return c.tries > 1 ? ` (after ${c.tries} tries)` : '';
}

function attemptCleanup(a: HistoryAttempt): string {
  const parts: string[] = [];
  if (a.cleanup) parts.push(a.cleanup);
  if (a.capacity_released !== undefined) parts.push(a.capacity_released ? 'capacity given back' : 'no capacity held');
  return parts.join('; ');
}

/** `history`: a table of attempts, then each failed attempt's error and compensations. */
export function historyText(h: VolumeHistory): string {
  const max = h.max_attempts ?? '?';
  const head = [
    `Volume ${h.volume_id}: ${h.status}${h.backend_id ? ` on ${h.backend_id}` : ''}` +
      `${h.error ? ` (${h.error.type})` : ''}`,
    `workflow ${h.workflow_id}, ${h.runs.length} run${h.runs.length === 1 ? '' : 's'}` +
      `${h.runs.length > 1 ? ` (continued as new ${h.runs.length - 1} time${h.runs.length === 2 ? '' : 's'})` : ''}` +
      `${h.request ? `; request: ${h.request.size} GiB${h.request.volume_type ? ` ${h.request.volume_type}` : ''}${h.request.name ? `, name ${h.request.name}` : ''}` : ''}`,
  ];
  const lines = [...head, ''];
  const apiFailed = h.api.steps.find((s) => s.status !== 'completed' && s.status !== 'scheduled');
  if (apiFailed || h.api.compensations.length > 0) {
    lines.push(
      `API flow: ${apiFailed ? `${apiFailed.activity} ${apiFailed.status}: ${withType(apiFailed.error?.type ?? 'Error', apiFailed.error?.message ?? '')}` : 'ok'}`,
    );
    for (const c of h.api.compensations)
      lines.push(`  compensation ${c.activity}: ${compensationResult(c)}${tries(c)}`);
    lines.push('');
  }
  if (h.attempts.length > 0) {
    lines.push(
      boxTable(
        h.attempts.map((a) => ({
          Attempt: `${a.attempt} of ${max}`,
          Backend: a.backend_id,
          Outcome: a.outcome,
          Error: a.error_type ?? '',
          Cleanup: attemptCleanup(a),
          Rescheduled: a.rescheduled ? 'yes' : a.outcome === 'failed' ? 'no' : '',
        })),
        ['Attempt', 'Backend', 'Outcome', 'Error', 'Cleanup', 'Rescheduled'],
      ),
    );
  } else if (!apiFailed) {
    lines.push('No attempt on a backend yet.');
  }
  for (const a of h.attempts) {
    if (a.outcome !== 'failed' && a.compensations.length === 0) continue;
    lines.push('', `Attempt ${a.attempt} on ${a.backend_id}: ${a.outcome}${a.ended_at ? ` at ${a.ended_at}` : ''}`);
    if (a.error_type) lines.push(`  error: ${withType(a.error_type, a.error ?? '')}`);
    for (const c of a.compensations) {
      lines.push(
        `  compensation ${c.activity}${c.summary ? ` (${c.summary})` : ''}: ${compensationResult(c)}${tries(c)}`,
      );
    }
    if (a.cleanup === CLEANUP.handedOff)
      lines.push(`  cleanup: handed to a cleanup workflow (${h.cleanup_workflows.join(', ')})`);
    if (a.rescheduled) lines.push(`  rescheduled: ${a.rescheduled.reason}`);
  }
  if (h.scheduling_failure) {
    lines.push(
      '',
      `Scheduling pass ${h.scheduling_failure.attempt}: ${withType(h.scheduling_failure.type, h.scheduling_failure.message)}`,
    );
  }
  if (h.cancel_requested_at) lines.push('', `Cancel requested at ${h.cancel_requested_at}.`);
  if (h.error && !h.scheduling_failure) lines.push('', `Create failed: ${withType(h.error.type, h.error.message)}`);
  return lines.join('\n');
}
