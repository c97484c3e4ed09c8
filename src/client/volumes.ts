import { createHash, randomUUID } from 'node:crypto';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, TypedSearchAttributes } from '@temporalio/common';
import { CinderError } from '../domain/cinder-errors';
import type { CreateOptions } from '../domain/create-options';
import type { CreateVolumeRequest } from '../domain/volume';
import { createVolumeWorkflowId } from '../domain/names';
import {
  createVolume as createVolumeWorkflow,
  volumeStateQuery,
  type CreateVolumeResult,
  type CreateVolumeState,
} from '../workflows/create-volume';
import { ProjectId, VolumeId, VolumeStatus, VolumeType } from '../workflows/search-attributes';

export interface CreateVolumeCall {
  /** Task queue of the scheduler pool (default cinder-scheduler). */
  taskQueue?: string;
  /** The existing row of a volume id (VolumeService passes the database's): a repeat is then
   *  compared with the create that owns the volume, not with whatever run came last. */
  existingVolume?: (volumeId: string) => Promise<{ owner: string | null; project_id: string } | null>;
  /** Per-request overrides of the workers' create defaults. */
  options?: Partial<CreateOptions>;
}

/** What a caller passes: the request without the ids the library assigns. */
export type NewVolumeRequest = Omit<CreateVolumeRequest, 'volume_id'> & { volume_id?: string };

/** One request id, one volume id: derived, so a retried start needs no lookup to be idempotent. */
export function volumeIdForRequest(projectId: string, requestId: string): string {
  const h = createHash('sha256').update(`${projectId}\0${requestId}`).digest('hex');
  // Shaped like a version-5 UUID, as Cinder's ids are UUIDs.
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The first run id of the create that owns a volume (its row's owner), or null when unknown. */
export type OwnerLookup = () => Promise<string | null>;

export class VolumeCreateHandle {
  constructor(
    readonly volumeId: string,
    readonly handle: WorkflowHandle,
    /** True when this call found the create already started (a repeated request id), false when it
     *  started it. */
    readonly existing = false,
    /** The owning create's first run: a later start on the same workflow id (refused, as it does
     *  not own the volume) is then never mistaken for the volume's create. */
    private readonly owner: OwnerLookup = async () => null,
  ) {}

  get workflowId(): string {
    return this.handle.workflowId;
  }

  /** The owner's chain from its first run (result follows continue-as-new), or the given handle. */
  private async ownerChain(): Promise<WorkflowHandle> {
    const first = await this.owner();
    return first
      ? this.handle.client.getHandle(this.workflowId, undefined, { firstExecutionRunId: first })
      : this.handle;
  }

  /** The run the owning create runs in now. */
  private async currentRun(): Promise<WorkflowHandle> {
    const first = await this.owner();
    return first
      ? this.handle.client.getHandle(this.workflowId, await currentRunOf(this.handle.client, this.workflowId, first))
      : this.handle;
  }

  /** Resolves with the created volume; rejects with the Cinder failure (type and message). */
  async result(): Promise<CreateVolumeResult> {
    try {
      return (await (await this.ownerChain()).result()) as CreateVolumeResult;
    } catch (err) {
      throw unwrapCreateFailure(err);
    }
  }

  /** Where the create stands: status, phase, attempt of max, backend, retry state, last error. */
  async status(): Promise<CreateVolumeState> {
    return (await this.currentRun()).query(volumeStateQuery);
  }

  async cancel(): Promise<unknown> {
    return (await this.currentRun()).cancel();
  }
}

/** The run a chain that began with firstRunId is in now, following continue-as-new. */
export async function currentRunOf(
  client: WorkflowHandle['client'],
  workflowId: string,
  firstRunId: string,
): Promise<string> {
  const seen = new Set<string>();
  for (let runId = firstRunId; !seen.has(runId);) {
    seen.add(runId);
    const run = client.getHandle(workflowId, runId);
    if ((await run.describe()).status.name !== 'CONTINUED_AS_NEW') return runId;
    const events = (await run.fetchHistory()).events ?? [];
    const next = events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
    if (!next) return runId;
    runId = next;
  }
  return firstRunId;
}

/** A failed create as Cinder would report it. */
export class VolumeCreateError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly state: CreateVolumeState | null,
  ) {
    super(message);
    this.name = type;
  }
}

export function unwrapCreateFailure(err: unknown): unknown {
  if (err instanceof WorkflowFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure) {
      const state = (cause.details?.[0] ?? null) as CreateVolumeState | null;
      return new VolumeCreateError(cause.type ?? 'Error', cause.message, state);
    }
    if (cause) return new VolumeCreateError(cause.name, cause.message, null);
  }
  return err;
}

/**
 * Starts a create. With a request id the start is idempotent: the volume id is derived from it and
 * the workflow id from that, and a start that finds the workflow running or finished returns it.
 */
export async function createVolume(
  client: Client,
  request: NewVolumeRequest,
  call: CreateVolumeCall = {},
): Promise<VolumeCreateHandle> {
  // The ids name the workflow: a non-string one ([1], Infinity) must not stand for another's.
  for (const field of ['volume_id', 'request_id', 'project_id'] as const) {
    const v = (request as unknown as Record<string, unknown> | null)?.[field];
    if ((v !== undefined || field === 'project_id') && (typeof v !== 'string' || v === '')) {
      throw new CinderError(
        'InvalidInput',
        `Invalid input for field '${field}': must be a string${v === undefined ? ' (it is required)' : ''}`,
        field,
      );
    }
  }
  const volumeId =
    request.volume_id ??
    (request.request_id ? volumeIdForRequest(request.project_id, request.request_id) : randomUUID());
  const full: CreateVolumeRequest = { ...request, volume_id: volumeId };
  const workflowId = createVolumeWorkflowId(volumeId);
  // Marks the start this call makes: if the workflow found afterwards carries another token, an
  // earlier start with the same volume id won (USE_EXISTING returns the running create).
  const startToken = randomUUID();
  const source = request.snapshot_id
    ? ` from snapshot ${request.snapshot_id}`
    : request.source_volid
      ? ` clone of ${request.source_volid}`
      : request.image_id
        ? ` from image ${request.image_id}`
        : '';
  const searchAttributes = new TypedSearchAttributes([
    { key: VolumeId, value: volumeId },
    { key: ProjectId, value: request.project_id },
    { key: VolumeType, value: request.volume_type ?? 'default' },
    { key: VolumeStatus, value: 'creating' },
  ]);
  const start = (typedSearchAttributes: TypedSearchAttributes | undefined) =>
    // By the workflow's function, so its name and argument types are checked at compile time.
    client.workflow.start(createVolumeWorkflow, {
      workflowId,
      taskQueue: call.taskQueue ?? 'cinder-scheduler',
      args: [{ request: full, ...(call.options ? { options: call.options } : {}) }],
      // A request id names one volume: a second start must not make a second one, even after the first ended.
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      memo: { [START_TOKEN_MEMO]: startToken, [REQUEST_MEMO]: requestParameters(full) },
      staticSummary: `create volume ${request.name ?? volumeId}: ${request.size} GiB${request.volume_type ? ` ${request.volume_type}` : ''}${source}`,
      staticDetails: [
        `**volume** ${volumeId}`,
        `**project** ${request.project_id}`,
        `**size** ${request.size} GiB, **type** ${request.volume_type ?? 'default'}${request.availability_zone ? `, **zone** ${request.availability_zone}` : ''}`,
        request.request_id ? `**request id** ${request.request_id}` : '',
        '```json\n' + JSON.stringify(full, null, 2) + '\n```',
      ]
        .filter(Boolean)
        .join('\n\n'),
      ...(typedSearchAttributes ? { typedSearchAttributes } : {}),
    });
  try {
    let handle;
    try {
      handle = await start(searchAttributes);
    } catch (err) {
      // A namespace without the project's search attributes (docs/temporal-ui.md registers them)
      // still takes the create: the workers then skip upserting them too.
      if (!isUnknownSearchAttribute(err)) throw err;
      handle = await start(undefined);
    }
    // A random volume id cannot collide; a given one (request id or volume id) may name a create
    // that is already running, which USE_EXISTING hands back without saying so.
    const mayExist = request.volume_id !== undefined || request.request_id !== undefined;
    if (!mayExist) return new VolumeCreateHandle(volumeId, handle, false);
    const memo = await startMemo(client.workflow.getHandle(workflowId, handle.firstExecutionRunId));
    if (memo[START_TOKEN_MEMO] === startToken) return new VolumeCreateHandle(volumeId, handle, false);
    return await existingCreate(client, full, handle, call);
  } catch (err) {
    if ((err as Error).name === 'WorkflowExecutionAlreadyStartedError') {
      return existingCreate(client, full, client.workflow.getHandle(workflowId), call);
    }
    throw err;
  }
}

/**
 * The create that already has this volume id, if this request may have it: the volume's own
 * project, and the parameters the owning create was started with (its first run's memo; a later
 * start on the same workflow id does not own the volume and is never compared with).
 */
async function existingCreate(
  client: Client,
  req: CreateVolumeRequest,
  found: WorkflowHandle,
  call: CreateVolumeCall,
): Promise<VolumeCreateHandle> {
  const row = (await call.existingVolume?.(req.volume_id)) ?? null;
  if (row && row.project_id !== req.project_id) {
    throw new CinderError(
      'InvalidInput',
      `Invalid input for field 'volume_id': volume ${req.volume_id} already exists`,
      'volume_id',
    );
  }
  const owner = row?.owner ?? null;
  const first = owner ? client.workflow.getHandle(found.workflowId, owner) : found;
  assertSameRequest(req, (await startMemo(first))[REQUEST_MEMO]);
  // The handle itself is the owner's chain too, so even its raw result() is the volume's create.
  const chain = owner ? client.workflow.getHandle(found.workflowId, undefined, { firstExecutionRunId: owner }) : found;
  return new VolumeCreateHandle(req.volume_id, chain, true, async () => owner);
}

/** Memo key holding the parameters the create was started with, to tell a repeat from a conflict. */
export const REQUEST_MEMO = 'cinder_request';

/** The parameters that make one volume what it is: every request field but the assigned id. */
function requestParameters(req: CreateVolumeRequest): Record<string, unknown> {
  const { volume_id: _id, ...params } = req;
  return params;
}

const canonical = (v: unknown): string =>
  v && typeof v === 'object' && !Array.isArray(v)
    ? `{${Object.keys(v)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
        .join(',')}}`
    : JSON.stringify(v ?? null);

/**
 * A repeated request id must repeat the request: the same one gets the same volume, another one is
 * refused, naming the fields that differ. A create started without the memo (before it existed, or
 * by a raw start) cannot be compared and is returned as it is.
 */
function assertSameRequest(req: CreateVolumeRequest, first: unknown): void {
  if (!first || typeof first !== 'object') return;
  const now = requestParameters(req);
  const before = first as Record<string, unknown>;
  const fields = [...new Set([...Object.keys(before), ...Object.keys(now)])].sort();
  const differ = fields.filter((f) => canonical(before[f]) !== canonical(now[f]));
  if (differ.length === 0) return;
  const what = differ.map((f) => `${f}: ${canonical(before[f])} then ${canonical(now[f])}`).join('; ');
  const key = req.request_id !== undefined ? `request id ${req.request_id}` : `volume id ${req.volume_id}`;
  throw new CinderError(
    'InvalidInput',
    `Invalid input for field '${differ[0]}': ${key} was first used with other parameters (${what}); nothing was started`,
    differ[0],
  );
}

/** Memo key holding the token of the start call that created the workflow. */
export const START_TOKEN_MEMO = 'cinder_start_token';

export function isUnknownSearchAttribute(err: unknown): boolean {
  const text = `${(err as Error)?.message ?? ''} ${String((err as { cause?: unknown })?.cause ?? '')}`;
  return /search attribute/i.test(text) && /(not defined|unknown|invalid)/i.test(text);
}

/** The memo of the run a start returned (its own, or the one it found). */
async function startMemo(handle: WorkflowHandle): Promise<Record<string, unknown>> {
  return (await handle.describe()).memo ?? {};
}

/** A handle on the create of an existing volume. */
export function getVolumeCreate(client: Client, volumeId: string, owner?: OwnerLookup): VolumeCreateHandle {
  return new VolumeCreateHandle(volumeId, client.workflow.getHandle(createVolumeWorkflowId(volumeId)), true, owner);
}
