/**
 * Reading a create's attempts from its event history: the recorded histories of test/histories
 * (real runs, checked against what the workflow itself returned), and histories built here event by
 * event, in the shape the server records, for paths no recording covers (continue-as-new, a
 * scheduler that gives up, a quota failure, a heartbeat timeout).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { parseVolumeHistory, type HistoryEvent, type RunHistory, type VolumeHistory } from '../../src/client/history';
import { historyText } from '../../src/cli/views';
import type { AttemptRecord, CreateVolumeResult, CreateVolumeState } from '../../src/workflows/create-volume';
import { historyFromJsonObject } from '../histories/history-json';

const HISTORIES = path.resolve(__dirname, '..', 'histories');

/** A recorded create, parsed, with the workflow's own account of its attempts (its result, or the
 *  state in its failure's details) to check the parse against. */
function recorded(name: string): { h: VolumeHistory; own: AttemptRecord[] | null; events: HistoryEvent[] } {
  const file = JSON.parse(fs.readFileSync(path.join(HISTORIES, `create-volume-${name}.json`), 'utf8')) as {
    workflow_id: string;
    history: unknown;
  };
  const events = (historyFromJsonObject(file.history).events ?? []) as HistoryEvent[];
  const h = parseVolumeHistory(file.workflow_id, [{ runId: 'recorded', events }]);
  const last = events[events.length - 1];
  const decode = (p: unknown) =>
    defaultPayloadConverter.fromPayload(p as Parameters<typeof defaultPayloadConverter.fromPayload>[0]);
  const result = last.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
  const details = last.workflowExecutionFailedEventAttributes?.failure?.applicationFailureInfo?.details?.payloads?.[0];
  const own = result
    ? (decode(result) as CreateVolumeResult).attempts
    : details
      ? (decode(details) as CreateVolumeState).attempts
      : null;
  return { h, own, events };
}

const pick = (a: { attempt: number; backend_id: string; outcome: string; error_type?: string; cleanup?: string }) => [
  a.attempt,
  a.backend_id,
  a.outcome,
  a.error_type ?? null,
  a.cleanup ?? null,
];

// Every shape: before the three flows (normal activities), the three flows (local-activity markers),
// and the one-step API flow with the finish on the volume worker.
for (const shape of ['', 'three-flows-', 'one-step-'])
  describe(`volume history from recorded histories (test/histories, ${shape || 'before the three flows'})`, () => {
    it('a failure names its type once (creates before the three flows repeated it in the message)', () => {
      const { h } = recorded(shape + 'no-reschedule');
      assert.equal(h.error?.type, 'ImageTooBig');
      assert.ok(!h.error!.message.startsWith('ImageTooBig'), h.error!.message);
      assert.match(historyText(h), /Create failed: ImageTooBig: (?!ImageTooBig)/);
    });

    it('success: one attempt, as the workflow returned it', () => {
      const { h, own } = recorded(shape + 'success');
      assert.equal(h.status, 'available');
      assert.equal(own?.length, 1);
      assert.deepEqual(h.attempts.map(pick), own!.map(pick));
      assert.equal(h.backend_id, own![0].backend_id);
      assert.deepEqual(
        h.api.steps.map((s) => [s.activity, s.status]),
        shape === 'one-step-'
          ? [['createVolumeApiFlow', 'completed']]
          : [
              ['extractVolumeRequest', 'completed'],
              ['reserveQuota', 'completed'],
              ['createVolumeEntry', 'completed'],
              ['commitQuota', 'completed'],
            ],
      );
    });

    it('reschedule: both attempts, the error, the cleanup and the reschedule, as the workflow returned them', () => {
      const { h, own } = recorded(shape + 'reschedule');
      assert.equal(h.status, 'available');
      assert.equal(own?.length, 2);
      assert.deepEqual(h.attempts.map(pick), own!.map(pick));
      const [first, second] = h.attempts;
      assert.equal(first.error_type, 'VolumeBackendAPIException');
      assert.equal(first.error, own![0].error);
      assert.deepEqual(
        first.compensations.map((c) => [c.activity, c.status]),
        [
          ['deleteVolumeOnBackend', 'completed'],
          ['releaseCapacity', 'completed'],
        ],
      );
      assert.equal(first.capacity_released, true);
      assert.match(first.rescheduled?.reason ?? '', /^VolumeBackendAPIException: /);
      assert.equal(second.outcome, 'succeeded');
      assert.deepEqual(second.retry?.backends, [first.backend_id, second.backend_id]);
      assert.match(
        historyText(h),
        /\| 1 of 3 +\| \S+ +\| failed +\| VolumeBackendAPIException \| nothing to delete; capacity given back \| yes +\|/,
      );
    });

    it('backend down: BackendUnavailable, the delete handed to a cleanup workflow, then the reschedule', () => {
      const { h, own } = recorded(shape + 'backend-down');
      assert.equal(h.status, 'available');
      assert.deepEqual(h.attempts.map(pick), own!.map(pick));
      assert.deepEqual(
        [h.attempts[0].error_type, h.attempts[0].cleanup],
        ['BackendUnavailable', 'handed to a cleanup workflow'],
      );
      assert.equal(h.cleanup_workflows.length, 1);
      assert.match(h.cleanup_workflows[0], /^cleanup-volume-.*-attempt-1$/);
      assert.ok(h.attempts[0].rescheduled);
    });

    it("no-reschedule failure: one failed attempt, compensated, not rescheduled, as in the failure's details", () => {
      const { h, own } = recorded(shape + 'no-reschedule');
      assert.equal(h.status, 'error');
      assert.equal(h.error?.type, 'ImageTooBig');
      assert.deepEqual(h.attempts.map(pick), own!.map(pick));
      assert.equal(h.attempts[0].rescheduled, null);
      assert.equal(h.attempts[0].capacity_released, true);
      assert.equal(h.scheduling_failure, null);
    });

    it('cancel: the running attempt ends Cancelled, compensated', () => {
      const { h } = recorded(shape + 'cancel');
      assert.equal(h.status, 'error');
      assert.equal(h.workflow_status, 'cancelled');
      assert.ok(h.cancel_requested_at);
      assert.deepEqual(
        h.attempts.map((a) => [a.attempt, a.outcome, a.error_type]),
        [[1, 'failed', 'Cancelled']],
      );
      assert.equal(h.attempts[0].capacity_released, true);
      assert.ok(
        h.attempts[0].compensations.some((c) => c.activity === 'deleteVolumeOnBackend' && c.status === 'completed'),
      );
    });

    it("rejected: no attempt; the API flow's failed step and the create's InvalidInput", () => {
      const { h } = recorded(shape + 'rejected');
      assert.equal(h.status, 'error');
      assert.deepEqual(h.attempts, []);
      const step = shape === 'one-step-' ? 'createVolumeApiFlow' : 'extractVolumeRequest';
      assert.deepEqual(
        h.api.steps.map((s) => [s.activity, s.status, s.error?.type]),
        [[step, 'failed', 'InvalidInput']],
      );
      assert.equal(h.error?.type, 'InvalidInput');
      assert.match(
        historyText(h),
        new RegExp(`API flow: ${step} failed: InvalidInput: Invalid input for field 'size'`),
      );
    });
  });

const VOL = '3e9b4162-58aa-5bcc-8ad7-deddf860c397';
const WF = `create-volume-${VOL}`;
const A = 'hostA@lvm#pool1';
const B = 'hostB@lvm#pool1';
const OPTIONS = { scheduler_max_attempts: 3 };
const REQUEST = { volume_id: VOL, project_id: 'p1', size: 3, name: 'resched' };

const payload = (v: unknown) => defaultPayloadConverter.toPayload(v);

/** Builds one run's events; ids and times increase as the server assigns them. */
class Run {
  readonly events: Array<Record<string, unknown>> = [];
  private id = 0;
  constructor(
    readonly runId: string,
    private readonly t0 = Date.parse('2026-01-01T00:00:00Z'),
  ) {}

  private add(attrs: Record<string, unknown>): number {
    this.id += 1;
    const ms = this.t0 + this.id * 100;
    this.events.push({
      eventId: this.id,
      eventTime: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 },
      ...attrs,
    });
    return this.id;
  }

  started(input: unknown, continuedExecutionRunId?: string): this {
    this.add({
      workflowExecutionStartedEventAttributes: {
        workflowType: { name: 'createVolume' },
        input: { payloads: [payload(input)] },
        ...(continuedExecutionRunId ? { continuedExecutionRunId } : {}),
      },
    });
    return this;
  }

  scheduled(name: string, args: unknown[], summary?: string): number {
    return this.add({
      activityTaskScheduledEventAttributes: { activityType: { name }, input: { payloads: args.map(payload) } },
      ...(summary ? { userMetadata: { summary: payload(summary) } } : {}),
    });
  }

  completed(scheduledEventId: number, result?: unknown, tries = 1): this {
    this.add({ activityTaskStartedEventAttributes: { scheduledEventId, attempt: tries } });
    this.add({
      activityTaskCompletedEventAttributes: {
        scheduledEventId,
        ...(result === undefined ? {} : { result: { payloads: [payload(result)] } }),
      },
    });
    return this;
  }

  /** Schedules and completes one activity. */
  ran(name: string, args: unknown[], result?: unknown, summary?: string, tries = 1): this {
    return this.completed(this.scheduled(name, args, summary), result, tries);
  }

  failed(scheduledEventId: number, type: string, message: string): this {
    this.add({ activityTaskStartedEventAttributes: { scheduledEventId, attempt: 1 } });
    this.add({
      activityTaskFailedEventAttributes: {
        scheduledEventId,
        failure: { message, applicationFailureInfo: { type, nonRetryable: true } },
      },
    });
    return this;
  }

  timedOut(scheduledEventId: number, timeoutType: number): this {
    this.add({
      activityTaskTimedOutEventAttributes: {
        scheduledEventId,
        failure: { message: 'activity timeout', timeoutFailureInfo: { timeoutType } },
      },
    });
    return this;
  }

  cancelled(scheduledEventId: number): this {
    this.add({ activityTaskCanceledEventAttributes: { scheduledEventId } });
    return this;
  }

  event(attrs: Record<string, unknown>): this {
    this.add(attrs);
    return this;
  }

  apiFlow(): this {
    return this.ran('extractVolumeRequest', [REQUEST, OPTIONS], { request: REQUEST }, 'validate request')
      .ran('reserveQuota', [{}], undefined, 'reserve quota: 3 GiB')
      .ran('createVolumeEntry', [{}, WF], undefined, 'create volume entry')
      .ran('commitQuota', [VOL], undefined, 'commit quota');
  }

  /** A scheduling pass that chose `backend`, with the retry state it returns. */
  schedule(attempt: number, backend: string, backends: string[]): this {
    const retry = { num_attempts: attempt, backends, hosts: backends };
    return this.ran(
      'scheduleCreateVolume',
      [{ volume_id: VOL, attempt, options: OPTIONS }],
      { backend_id: backend, host: backend.split('#')[0], filter_properties: { size: 3, retry } },
      `schedule attempt ${attempt}/3`,
    );
  }

  /** A backend create that fails with type, then its compensations and the reschedule. */
  failedAttempt(
    attempt: number,
    backend: string,
    type: string,
    opts: { deleted?: boolean; deleteTries?: number; reschedule?: boolean } = {},
  ): this {
    const create = this.scheduled(
      'createVolumeFromSpec',
      [{ volume_id: VOL, backend_id: backend, attempt }],
      `create volume-${VOL} on ${backend}`,
    );
    this.failed(create, type, `Injected fault: ${type}`);
    this.ran(
      'deleteVolumeOnBackend',
      [{ volume_id: VOL, backend_id: backend, attempt }],
      { deleted: opts.deleted ?? false, skipped: false },
      `compensate: delete volume-${VOL} on ${backend}`,
      opts.deleteTries ?? 1,
    );
    this.ran('releaseCapacity', [VOL, attempt], true, `compensate: give back capacity of attempt ${attempt}`);
    if (opts.reschedule !== false) {
      this.ran(
        'prepareReschedule',
        [
          {
            volume_id: VOL,
            attempt,
            backend_id: backend,
            error_type: type,
            reason: `${type}: Injected fault: ${type}`,
          },
        ],
        undefined,
        `reschedule after attempt ${attempt}`,
      );
    }
    return this;
  }

  succeededAttempt(attempt: number, backend: string): this {
    this.ran('createVolumeFromSpec', [{ volume_id: VOL, backend_id: backend, attempt }], {
      object_name: `volume-${VOL}`,
    });
    return this.ran('createVolumeOnFinish', [{ volume_id: VOL, backend_id: backend, attempt }], undefined);
  }

  completedWorkflow(backend: string): this {
    return this.event({
      workflowExecutionCompletedEventAttributes: {
        result: { payloads: [payload({ volume_id: VOL, status: 'available', backend_id: backend })] },
      },
    });
  }

  failedWorkflow(type: string, message: string): this {
    return this.event({
      workflowExecutionFailedEventAttributes: {
        failure: { message, applicationFailureInfo: { type, nonRetryable: true } },
      },
    });
  }

  get history(): RunHistory {
    return { runId: this.runId, events: this.events as unknown as HistoryEvent[] };
  }
}

describe('volume history from built histories', () => {
  it('a rescheduled create: both attempts, their backends, the error, the cleanup and the reschedule', () => {
    const run = new Run('run-1')
      .started({ request: REQUEST })
      .apiFlow()
      .schedule(1, A, [A])
      .failedAttempt(1, A, 'VolumeBackendAPIException')
      .schedule(2, B, [A, B])
      .succeededAttempt(2, B)
      .completedWorkflow(B);
    const h = parseVolumeHistory(WF, [run.history]);

    assert.equal(h.volume_id, VOL);
    assert.equal(h.status, 'available');
    assert.equal(h.workflow_status, 'completed');
    assert.equal(h.backend_id, B);
    assert.equal(h.max_attempts, 3);
    assert.deepEqual(h.request, REQUEST);
    assert.deepEqual(
      h.api.steps.map((s) => [s.activity, s.status]),
      [
        ['extractVolumeRequest', 'completed'],
        ['reserveQuota', 'completed'],
        ['createVolumeEntry', 'completed'],
        ['commitQuota', 'completed'],
      ],
    );
    assert.deepEqual(h.api.compensations, []);
    assert.deepEqual(
      h.attempts.map((a) => [
        a.attempt,
        a.backend_id,
        a.outcome,
        a.error_type ?? null,
        a.cleanup ?? null,
        a.capacity_released ?? null,
      ]),
      [
        [1, A, 'failed', 'VolumeBackendAPIException', 'nothing to delete', true],
        [2, B, 'succeeded', null, null, null],
      ],
    );
    const [first, second] = h.attempts;
    assert.equal(first.error, 'Injected fault: VolumeBackendAPIException');
    assert.deepEqual(first.retry, { num_attempts: 1, backends: [A], hosts: [A] });
    assert.deepEqual(second.retry, { num_attempts: 2, backends: [A, B], hosts: [A, B] });
    assert.deepEqual(
      first.compensations.map((c) => [c.activity, c.status, c.result, c.summary]),
      [
        [
          'deleteVolumeOnBackend',
          'completed',
          { deleted: false, skipped: false },
          `compensate: delete volume-${VOL} on ${A}`,
        ],
        ['releaseCapacity', 'completed', true, 'compensate: give back capacity of attempt 1'],
      ],
    );
    assert.equal(first.rescheduled?.reason, 'VolumeBackendAPIException: Injected fault: VolumeBackendAPIException');
    assert.equal(second.rescheduled, null);
    assert.deepEqual(
      second.steps.map((s) => s.activity),
      ['scheduleCreateVolume', 'createVolumeFromSpec', 'createVolumeOnFinish'],
    );
    assert.ok(first.started_at && first.ended_at && first.started_at < first.ended_at);
    assert.equal(h.scheduling_failure, null);
    assert.equal(h.error, null);

    const text = historyText(h);
    assert.match(text, new RegExp(`^Volume ${VOL}: available on ${B}\n`));
    assert.match(
      text,
      new RegExp(
        `\\| 1 of 3  \\| ${A} \\| failed    \\| VolumeBackendAPIException \\| nothing to delete; capacity given back \\| yes         \\|`,
      ),
    );
    assert.match(text, new RegExp(`\\| 2 of 3  \\| ${B} \\| succeeded \\| -  `));
    assert.match(
      text,
      /compensation releaseCapacity \(compensate: give back capacity of attempt 1\): capacity given back\n/,
    );
    assert.match(text, /rescheduled: VolumeBackendAPIException: Injected fault/);
  });

  it('follows continue-as-new: attempts from every run, in order', () => {
    const run1 = new Run('run-1')
      .started({ request: REQUEST })
      .apiFlow()
      .schedule(1, A, [A])
      .failedAttempt(1, A, 'VolumeBackendAPIException', { deleted: true })
      .event({ workflowExecutionContinuedAsNewEventAttributes: { newExecutionRunId: 'run-2' } });
    const run2 = new Run('run-2', Date.parse('2026-01-01T00:01:00Z'))
      .started({ request: REQUEST, resume: { attempts: [] } }, 'run-1')
      .schedule(2, B, [A, B])
      .failedAttempt(2, B, 'VolumeDriverException', { deleteTries: 4 })
      .event({ workflowExecutionContinuedAsNewEventAttributes: { newExecutionRunId: 'run-3' } });
    const run3 = new Run('run-3', Date.parse('2026-01-01T00:02:00Z'))
      .started({ request: REQUEST, resume: { attempts: [] } }, 'run-2')
      .schedule(3, 'hostC@lvm#pool1', [A, B, 'hostC@lvm#pool1'])
      .succeededAttempt(3, 'hostC@lvm#pool1')
      .completedWorkflow('hostC@lvm#pool1');
    const h = parseVolumeHistory(WF, [run1.history, run2.history, run3.history]);
    assert.deepEqual(
      h.runs.map((r) => [r.run_id, r.outcome]),
      [
        ['run-1', 'continued as new'],
        ['run-2', 'continued as new'],
        ['run-3', 'completed'],
      ],
    );
    assert.deepEqual(
      h.attempts.map((a) => [a.attempt, a.backend_id, a.outcome, a.cleanup ?? null, a.run_id]),
      [
        [1, A, 'failed', 'deleted', 'run-1'],
        [2, B, 'failed', 'nothing to delete', 'run-2'],
        [3, 'hostC@lvm#pool1', 'succeeded', null, 'run-3'],
      ],
    );
    assert.equal(h.status, 'available');
    assert.equal(h.attempts[1].compensations[0].tries, 4);
    const text = historyText(h);
    assert.match(text, /3 runs \(continued as new 2 times\)/);
    assert.match(text, /compensation deleteVolumeOnBackend \(.*\): nothing to delete \(after 4 tries\)/);
  });

  it("attempts that run out: both failures and the scheduler's NoValidBackend", () => {
    const noValid = 'No valid backend was found. Exceeded max scheduling attempts 3 for resource ' + VOL;
    const run = new Run('run-1')
      .started({ request: REQUEST })
      .apiFlow()
      .schedule(1, A, [A])
      .failedAttempt(1, A, 'VolumeBackendAPIException')
      .schedule(2, B, [A, B])
      .failedAttempt(2, B, 'VolumeDriverException');
    const pass3 = run.scheduled(
      'scheduleCreateVolume',
      [{ volume_id: VOL, attempt: 3, options: OPTIONS }],
      'schedule attempt 3/3',
    );
    run
      .failed(pass3, 'NoValidBackend', noValid)
      .ran('releaseCapacity', [VOL, 3], false)
      .ran(
        'markVolumeError',
        [{ volume_id: VOL, reason: noValid, error_type: 'NoValidBackend', scheduling_failed: true }],
        undefined,
      )
      .failedWorkflow('NoValidBackend', noValid);
    const h = parseVolumeHistory(WF, [run.history]);
    assert.equal(h.status, 'error');
    assert.deepEqual(
      h.attempts.map((a) => [a.attempt, a.backend_id, a.outcome, a.error_type]),
      [
        [1, A, 'failed', 'VolumeBackendAPIException'],
        [2, B, 'failed', 'VolumeDriverException'],
      ],
    );
    assert.deepEqual(h.scheduling_failure, { attempt: 3, type: 'NoValidBackend', message: noValid });
    assert.deepEqual(h.error, { type: 'NoValidBackend', message: noValid });
    assert.match(historyText(h), /Scheduling pass 3: NoValidBackend: No valid backend was found/);
  });

  it('a cancelled create: the running attempt ends Cancelled, with its compensations', () => {
    const run = new Run('run-1').started({ request: REQUEST }).apiFlow().schedule(1, A, [A]);
    const create = run.scheduled('createVolumeFromSpec', [{ volume_id: VOL, backend_id: A, attempt: 1 }]);
    run
      .event({ workflowExecutionCancelRequestedEventAttributes: { cause: 'by request' } })
      .event({ activityTaskCancelRequestedEventAttributes: { scheduledEventId: create } })
      .cancelled(create)
      .ran('deleteVolumeOnBackend', [{ volume_id: VOL, backend_id: A, attempt: 1 }], { deleted: true, skipped: false })
      .ran('releaseCapacity', [VOL, 1], true)
      .ran(
        'markVolumeError',
        [{ volume_id: VOL, reason: 'cancelled', error_type: 'Cancelled', scheduling_failed: false }],
        undefined,
      )
      .event({ workflowExecutionCanceledEventAttributes: {} });
    const h = parseVolumeHistory(WF, [run.history]);
    assert.equal(h.status, 'error');
    assert.equal(h.workflow_status, 'cancelled');
    assert.ok(h.cancel_requested_at);
    assert.deepEqual(
      h.attempts.map((a) => [a.outcome, a.error_type, a.cleanup, a.capacity_released, a.rescheduled]),
      [['failed', 'Cancelled', 'deleted', true, null]],
    );
    assert.match(
      historyText(h),
      /\| 1 of 3 {2}\| hostA@lvm#pool1 \| failed {2}\| Cancelled \| deleted; capacity given back \| no {10}\|/,
    );
  });

  it('a request the API flow refused: no attempt, the failed step and its compensations', () => {
    const run = new Run('run-1').started({ request: { ...REQUEST, volume_type: 'gold' } });
    const extract = run.scheduled('extractVolumeRequest', [REQUEST], 'validate request');
    run
      .failed(extract, 'VolumeTypeNotFound', 'Volume type gold could not be found.')
      .failedWorkflow('VolumeTypeNotFound', 'Volume type gold could not be found.');
    const h = parseVolumeHistory(WF, [run.history]);
    assert.equal(h.status, 'error');
    assert.deepEqual(h.attempts, []);
    assert.deepEqual(
      h.api.steps.map((s) => [s.activity, s.status, s.error?.type]),
      [['extractVolumeRequest', 'failed', 'VolumeTypeNotFound']],
    );
    assert.equal(h.max_attempts, null);
    const text = historyText(h);
    assert.match(
      text,
      /API flow: extractVolumeRequest failed: VolumeTypeNotFound: Volume type gold could not be found\./,
    );
    assert.match(text, /Create failed: VolumeTypeNotFound/);

    const quota = new Run('run-2').started({ request: REQUEST });
    quota.ran('extractVolumeRequest', [REQUEST], {});
    const reserve = quota.scheduled('reserveQuota', [{}]);
    quota
      .failed(reserve, 'QuotaError', 'quota exceeded')
      .ran('rollbackQuota', [VOL], undefined)
      .failedWorkflow('QuotaError', 'quota exceeded');
    const q = parseVolumeHistory(WF, [quota.history]);
    assert.deepEqual(
      q.api.compensations.map((c) => [c.activity, c.status]),
      [['rollbackQuota', 'completed']],
    );
    assert.match(historyText(q), /compensation rollbackQuota: quota reservation rolled back/);
  });

  it('a backend whose worker is down: BackendUnavailable, and the delete handed to a cleanup workflow', () => {
    const run = new Run('run-1').started({ request: REQUEST }).apiFlow().schedule(1, A, [A]);
    const create = run.scheduled('createVolumeFromSpec', [{ volume_id: VOL, backend_id: A, attempt: 1 }]);
    run
      .timedOut(create, 2)
      .event({
        startChildWorkflowExecutionInitiatedEventAttributes: {
          workflowId: `cleanup-volume-${VOL}-attempt-1`,
          workflowType: { name: 'cleanupBackendVolume' },
          input: { payloads: [payload({ volume_id: VOL, backend_id: A, attempt: 1 })] },
        },
      })
      .ran('recordCleanupPending', [{ volume_id: VOL, backend_id: A, attempt: 1, reason: 'down' }], undefined)
      .ran('releaseCapacity', [VOL, 1], true)
      .ran(
        'prepareReschedule',
        [
          {
            volume_id: VOL,
            attempt: 1,
            backend_id: A,
            reason: 'BackendUnavailable: no volume service picked up the task in time',
          },
        ],
        undefined,
      )
      .schedule(2, B, [A, B]);
    const h = parseVolumeHistory(WF, [run.history]);
    assert.equal(h.status, 'creating');
    assert.equal(h.workflow_status, 'running');
    assert.deepEqual(
      h.attempts.map((a) => [a.attempt, a.outcome, a.error_type ?? null, a.cleanup ?? null]),
      [
        [1, 'failed', 'BackendUnavailable', 'handed to a cleanup workflow'],
        [2, 'running', null, null],
      ],
    );
    assert.match(h.attempts[0].error!, /no volume service picked up the task in time/);
    assert.deepEqual(h.cleanup_workflows, [`cleanup-volume-${VOL}-attempt-1`]);
    assert.match(historyText(h), /cleanup: handed to a cleanup workflow \(cleanup-volume-/);
  });

  it('a heartbeat timeout reads as a volume service that stopped answering', () => {
    const run = new Run('run-1').started({ request: REQUEST }).apiFlow().schedule(1, A, [A]);
    run.timedOut(run.scheduled('createVolumeFromSpec', [{ volume_id: VOL, backend_id: A, attempt: 1 }]), 4);
    const h = parseVolumeHistory(WF, [run.history]);
    assert.deepEqual(
      [h.attempts[0].error_type, h.attempts[0].error],
      ['BackendUnavailable', 'the volume service stopped answering (HEARTBEAT timeout)'],
    );
  });
});
