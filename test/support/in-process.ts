/**
 * The create-volume workflow in the test process: an in-process Worker on the shared test server
 * (TEMPORAL_ADDRESS from test/run.ts) running the real workflow code with stub activities, and one
 * in-process worker per stub backend on its own task queue. Fast (no worker processes, no database),
 * so every branch of the workflow gets its own test; the multi-process integration tests show what
 * only real processes can.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import { Context } from '@temporalio/activity';
import {
  Client,
  Connection,
  type WorkflowHandleWithFirstExecutionRunId,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, TypedSearchAttributes } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { apiFlowOf, type ApiFlowTasks } from '../../src/activities/api-activities';
import type { ScheduleDecision, ScheduleRequest } from '../../src/activities/scheduler-activities';
import type { BackendCreateRequest } from '../../src/activities/volume-activities';
import { toActivityFailure } from '../../src/activities/failures';
import { DEFAULT_CREATE_OPTIONS, resolveCreateOptions, type CreateOptions } from '../../src/domain/create-options';
import { createVolumeWorkflowId } from '../../src/domain/names';
import { splitBackendId, volumeTaskQueue, type CreateVolumeRequest } from '../../src/domain/volume';
import { NoValidBackend, addRetryBackend, populateRetry } from '../../src/scheduler';
import { createVolume, type CreateVolumeInput } from '../../src/workflows/create-volume';
import { ProjectId, VolumeId, VolumeStatus, VolumeType } from '../../src/workflows/search-attributes';

/** A stub activity: the worker calls it with the decoded arguments. */
type Stub = (...args: unknown[]) => Promise<unknown>;

/** What a stub backend create does on one attempt. */
export type CreateOutcome = 'ok' | 'hang' | { type: string; message?: string };

export interface FakeScript {
  /** Live pools, best first (host@backend#pool). */
  pools: string[];
  /** The backend create's outcome by attempt (1-based); default 'ok'. */
  create?: (attempt: number, backendId: string, volumeId: string) => CreateOutcome;
  /** The API flow refuses the request with this Cinder failure (in extractVolumeRequest, or the task named by refuseAt). */
  refuse?: { type: string; message: string };
  refuseAt?: 'reserveQuota' | 'createVolumeEntry' | 'commitQuota';
  /** The volume workers are of a build before PATCH_ONE_STEP_API_FLOW: they ignore `finish`. */
  oldVolumeWorkers?: boolean;
}

/** A gate an activity waits at until the test opens it (or its activity is cancelled). */
interface Gate {
  reached: Promise<void>;
  open(): void;
  hit(): void;
  opened: Promise<void>;
}

function gate(): Gate {
  let hit!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((r) => (hit = r));
  const opened = new Promise<void>((r) => (open = r));
  return { reached, opened, hit, open };
}

/** Waits until the activity is cancelled (heartbeating, so a normal activity hears it). */
async function untilCancelled(): Promise<never> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), 200);
  try {
    await ctx.cancelled;
    throw new CancelledFailure('cancelled');
  } finally {
    clearInterval(timer);
  }
}

/** Stub activities with Cinder's shapes, recording every call. Scheduling runs the real
 *  populateRetry / addRetryBackend, so the retry state and Exceeded max attempts are Cinder's. */
export class FakeCinder {
  readonly calls: Array<{ name: string; args: unknown[] }> = [];
  private readonly gates = new Map<string, Gate>();
  private readonly hangs = new Set<string>();

  constructor(readonly script: FakeScript) {}

  /** The named activity hangs until cancelled; resolves when it is reached. */
  hang(name: string): Promise<void> {
    this.hangs.add(name);
    return this.gateOf(name).reached;
  }

  /** The named activity waits until `release` (not cancellable: e.g. a compensation). */
  hold(name: string): { reached: Promise<void>; release: () => void } {
    const g = this.gateOf(name);
    return { reached: g.reached, release: g.open };
  }

  /** Opens every gate (a test that failed while one was closed must still stop its workers). */
  releaseAll(): void {
    this.hangs.clear();
    for (const g of this.gates.values()) g.open();
  }

  /** The activities called, in order; only those of one volume when given. */
  names(volumeId?: string): string[] {
    return this.of(volumeId).map((c) => c.name);
  }

  argsOf(name: string, volumeId?: string): unknown[][] {
    return this.of(volumeId)
      .filter((c) => c.name === name)
      .map((c) => c.args);
  }

  private of(volumeId?: string) {
    if (volumeId === undefined) return this.calls;
    return this.calls.filter(
      ({ args: [a] }) =>
        a === volumeId || (typeof a === 'object' && a !== null && (a as { volume_id?: string }).volume_id === volumeId),
    );
  }

  private gateOf(name: string): Gate {
    let g = this.gates.get(name);
    if (!g) this.gates.set(name, (g = gate()));
    return g;
  }

  private async enter(name: string, args: unknown[]): Promise<void> {
    this.calls.push({ name, args });
    const g = this.gates.get(name);
    if (!g) return;
    g.hit();
    if (this.hangs.has(name)) await untilCancelled();
    await g.opened;
  }

  /** The scheduler worker's activities (run as local activities by the workflow). */
  schedulerActivities(): Record<string, Stub> {
    // Each stub takes what the real activity takes (typed below), called with the decoded arguments.
    const step =
      <A extends unknown[]>(name: string, fn: (...args: A) => unknown): Stub =>
      async (...args: unknown[]) => {
        await this.enter(name, args);
        try {
          return await fn(...(args as A));
        } catch (err) {
          throw toActivityFailure(err);
        }
      };
    const tasks = {
      extractVolumeRequest: step(
        'extractVolumeRequest',
        (request: CreateVolumeRequest, overrides?: Partial<CreateOptions>) => {
          if (this.script.refuse && !this.script.refuseAt)
            throw ApplicationFailure.create({ ...this.script.refuse, nonRetryable: true });
          const options = resolveCreateOptions(
            {
              ...DEFAULT_CREATE_OPTIONS,
              retry_initial_interval_ms: 50,
              backend_schedule_to_start_timeout_ms: 3000,
              compensation_schedule_to_start_timeout_ms: 3000,
              create_heartbeat_timeout_ms: 2000,
            },
            overrides,
          );
          const typeName = request.volume_type ?? 'default';
          return {
            request,
            volume_type: { name: typeName, extra_specs: {} },
            source: { type: 'raw' },
            resource_backend: null,
            quota_deltas: { volumes: 1, gigabytes: request.size },
            options,
          };
        },
      ),
      reserveQuota: step('reserveQuota', () => this.refuseAt('reserveQuota')),
      rollbackQuota: step('rollbackQuota', () => undefined),
      createVolumeEntry: step('createVolumeEntry', () => this.refuseAt('createVolumeEntry')),
      destroyVolumeEntry: step('destroyVolumeEntry', () => undefined),
      commitQuota: step('commitQuota', () => this.refuseAt('commitQuota')),
    };
    return {
      ...tasks,
      // The real composition over the stub tasks: the calls show each task, as in the real worker.
      createVolumeApiFlow: apiFlowOf(tasks as unknown as ApiFlowTasks) as Stub,
      scheduleCreateVolume: step('scheduleCreateVolume', (req: ScheduleRequest) => this.schedule(req)),
      releaseCapacity: step('releaseCapacity', () => true),
      createVolumeOnFinish: step('createVolumeOnFinish', () => undefined),
      prepareReschedule: step('prepareReschedule', () => undefined),
      markVolumeError: step('markVolumeError', () => undefined),
      recordCleanupPending: step('recordCleanupPending', () => undefined),
    };
  }

  /** One backend's activities, on its own task queue. */
  backendActivities(): Record<string, Stub> {
    return {
      createVolumeFromSpec: async (...args: unknown[]) => {
        const req = args[0] as BackendCreateRequest;
        await this.enter('createVolumeFromSpec', [req]);
        const outcome = this.script.create?.(req.attempt, req.backend_id, req.volume_id) ?? 'ok';
        if (outcome === 'hang') return untilCancelled();
        if (outcome !== 'ok')
          throw ApplicationFailure.create({
            type: outcome.type,
            message: outcome.message ?? `${outcome.type} on ${req.backend_id}`,
            nonRetryable: true,
          });
        if (!req.finish || this.script.oldVolumeWorkers) return { object_name: `volume-${req.volume_id}` };
        return { object_name: `volume-${req.volume_id}`, finished: true };
      },
      deleteVolumeOnBackend: async (...args: unknown[]) => {
        const req = args[0] as BackendCreateRequest;
        await this.enter('deleteVolumeOnBackend', [req]);
        return { deleted: false, skipped: false };
      },
    };
  }

  private refuseAt(task: NonNullable<FakeScript['refuseAt']>): void {
    if (this.script.refuse && this.script.refuseAt === task)
      throw ApplicationFailure.create({ ...this.script.refuse, nonRetryable: true });
  }

  private schedule(req: ScheduleRequest): ScheduleDecision {
    const props = populateRetry(req.filter_properties, req.options.scheduler_max_attempts);
    const tried = props.retry?.backends ?? [];
    const live = this.script.pools.filter((p) => !req.options.ignore_attempted_hosts || !tried.includes(p));
    const preferred = (req.preferred ?? []).find((p) => live.includes(p));
    const chosen = preferred ?? live[0];
    if (!chosen) throw new NoValidBackend('No weighed backends available');
    const decision: ScheduleDecision = {
      backend_id: chosen,
      host: splitBackendId(chosen).host,
      filter_properties: addRetryBackend(props, chosen),
    };
    const wanted = req.options.scheduler_alternates ?? 0;
    if (wanted > 0 || (req.preferred ?? []).length > 0) {
      decision.alternates = preferred ? [] : live.filter((p) => p !== chosen).slice(0, wanted);
      if (preferred) decision.alternate = true;
    }
    return decision;
  }
}

export interface InProcessCluster {
  client: Client;
  taskQueue: string;
  /** Starts a create as the client library does (search attributes set at start). */
  start(
    request?: Partial<CreateVolumeRequest>,
    options?: Partial<CreateOptions>,
    extra?: Partial<WorkflowStartOptions>,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<typeof createVolume>>;
  stop(): Promise<void>;
}

let runtimeInstalled = false;

export interface InProcessOptions {
  /** Workflow code: the bundle npm test built (or src/workflows), or another workflows file. */
  workflowsPath?: string;
  /** Reuse a task queue (e.g. a second build taking over the first one's creates). */
  taskQueue?: string;
  /** Run the stub backends' workers too (default true). */
  backends?: boolean;
}

/** Workers for the fake on a fresh task queue, and one per stub backend on its own queue. */
export async function startInProcess(
  fake: FakeCinder,
  address = process.env.TEMPORAL_ADDRESS,
  opts: InProcessOptions = {},
): Promise<InProcessCluster> {
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: run through test/run.ts');
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
    runtimeInstalled = true;
  }
  const id = randomBytes(3).toString('hex');
  const taskQueue = opts.taskQueue ?? `inproc-${id}`;
  const connection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection });
  const bundle = process.env.CINDER_WORKFLOW_BUNDLE;
  const code: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = opts.workflowsPath
    ? { workflowsPath: opts.workflowsPath }
    : bundle && fs.existsSync(bundle)
      ? { workflowBundle: { codePath: bundle } }
      : { workflowsPath: require.resolve('../../src/workflows') };
  const hosts = opts.backends === false ? [] : [...new Set(fake.script.pools.map((p) => splitBackendId(p).host))];
  const workers = await Promise.all([
    Worker.create({ connection, taskQueue, ...code, activities: fake.schedulerActivities() }),
    ...hosts.map((h) =>
      Worker.create({ connection, taskQueue: volumeTaskQueue(h), activities: fake.backendActivities() }),
    ),
  ]);
  const running = workers.map((w) => w.run());
  return {
    client,
    taskQueue,
    async start(request = {}, options, extra = {}) {
      const volumeId = request.volume_id ?? randomUUID();
      const full: CreateVolumeRequest = {
        volume_id: volumeId,
        project_id: `p-${id}`,
        size: 1,
        ...request,
      } as CreateVolumeRequest;
      const input: CreateVolumeInput = { request: full, ...(options ? { options } : {}) };
      return client.workflow.start(createVolume, {
        ...(extra as Omit<WorkflowStartOptions, 'args' | 'workflowId' | 'taskQueue'>),
        workflowId: createVolumeWorkflowId(volumeId),
        taskQueue,
        args: [input],
        typedSearchAttributes: new TypedSearchAttributes([
          { key: VolumeId, value: volumeId },
          { key: ProjectId, value: full.project_id },
          { key: VolumeType, value: full.volume_type ?? 'default' },
          { key: VolumeStatus, value: 'creating' },
        ]),
      });
    },
    async stop() {
      fake.releaseAll();
      workers.forEach((w) => w.shutdown());
      await Promise.allSettled(running);
      await connection.close();
      await clientConnection.close();
    },
  };
}

/** Backend ids of n stub backends, unique to this process, one pool each. */
export function stubPools(n: number): string[] {
  const id = randomBytes(3).toString('hex');
  return Array.from({ length: n }, (_, i) => `host${String.fromCharCode(65 + i)}-${id}@lvm#pool1`);
}
