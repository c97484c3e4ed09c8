/**
 * The project's own Prometheus metrics, on the same endpoint as the SDK's `temporal_*` ones: they
 * are made with the Temporal runtime's metric meter, so one exporter serves both.
 *
 * Outcomes are observed from the worker side, without touching workflow or activity code: an
 * activity interceptor sees each activity's arguments and how it ended. The saga's decisions are
 * visible there because each ends in a distinctive activity: `createVolumeOnFinish`, or a
 * `createVolumeFromSpec` asked to finish (available),
 * `markVolumeError` (error, with Cinder's type), `prepareReschedule` (a reschedule), a non-retryable
 * failure of an API-flow activity (the request was rejected), and failed attempts of compensation
 * activities. Counts are per attempt that completed, so a process that dies between finishing an
 * activity and reporting it may count that activity twice when it is retried: the counters are
 * at-least-once, which is what rates and alerts need.
 */
import type { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { MetricCounter, MetricGauge, MetricMeter } from '@temporalio/common';
import type { ActivityExecuteInput, ActivityInterceptorsFactory } from '@temporalio/worker';
import { isNoRescheduleType } from '../domain/cinder-errors';
import { ACTIVITY, API_FLOW_STEPS, COMPENSATION_ACTIVITIES as COMPENSATIONS } from '../domain/names';
import type { PoolRow } from '../store/volume-store';

/** Every metric name the project defines (the SDK's own are `temporal_*`). */
export const CINDER_METRICS = {
  creates: 'cinder_volume_creates_total',
  reschedules: 'cinder_volume_reschedules_total',
  noRescheduleFailures: 'cinder_volume_no_reschedule_failures_total',
  backendCreateFailures: 'cinder_backend_create_failures_total',
  compensationFailures: 'cinder_compensation_failures_total',
  poolTotal: 'cinder_pool_total_capacity_gb',
  poolFree: 'cinder_pool_free_capacity_gb',
  poolAllocated: 'cinder_pool_allocated_capacity_gb',
  poolProvisioned: 'cinder_pool_provisioned_capacity_gb',
  statsReports: 'cinder_pool_stats_reports_total',
  statsLastReport: 'cinder_pool_stats_last_report_timestamp_seconds',
} as const;

/** The API flow's activities: a non-retryable failure of one ends the create before a volume row
 *  counts (runApiFlow rethrows it), so it is a rejected create. */
const API_FLOW_ACTIVITIES = new Set<string>(API_FLOW_STEPS);
/** Compensations (a saga step's undo): each failed attempt is counted; they retry until done. */
const COMPENSATION_ACTIVITIES = new Set<string>(COMPENSATIONS);

export interface CinderMetrics {
  readonly creates: MetricCounter;
  readonly reschedules: MetricCounter;
  readonly noRescheduleFailures: MetricCounter;
  readonly backendCreateFailures: MetricCounter;
  readonly compensationFailures: MetricCounter;
  readonly poolTotal: MetricGauge;
  readonly poolFree: MetricGauge;
  readonly poolAllocated: MetricGauge;
  readonly poolProvisioned: MetricGauge;
  readonly statsReports: MetricCounter;
  readonly statsLastReport: MetricGauge;
}

export function createCinderMetrics(meter: MetricMeter): CinderMetrics {
  const M = CINDER_METRICS;
  return {
    creates: meter.createCounter(
      M.creates,
      '1',
      'Volume creates that ended, by outcome (available, error, cancelled, rejected) and Cinder error type',
    ),
    reschedules: meter.createCounter(
      M.reschedules,
      '1',
      'Creates sent back to the scheduler after a backend failed, by failed host and error type',
    ),
    noRescheduleFailures: meter.createCounter(
      M.noRescheduleFailures,
      '1',
      'Creates ended in error by a no-reschedule failure type (ImageCopyFailure, ...)',
    ),
    backendCreateFailures: meter.createCounter(
      M.backendCreateFailures,
      '1',
      'Failed backend create attempts (createVolumeFromSpec), by host and error type',
    ),
    compensationFailures: meter.createCounter(
      M.compensationFailures,
      '1',
      'Failed attempts of compensation activities (retried until they succeed), by activity and error type',
    ),
    poolTotal: meter.createGauge(
      M.poolTotal,
      'float',
      'GiB',
      "Pool total capacity from the volume service's last stats report",
    ),
    poolFree: meter.createGauge(
      M.poolFree,
      'float',
      'GiB',
      'Pool free capacity (after claims) from the last stats report',
    ),
    poolAllocated: meter.createGauge(
      M.poolAllocated,
      'float',
      'GiB',
      'Capacity allocated to volumes and active claims on the pool',
    ),
    poolProvisioned: meter.createGauge(M.poolProvisioned, 'float', 'GiB', 'Capacity provisioned on the pool'),
    statsReports: meter.createCounter(
      M.statsReports,
      '1',
      'Pool stats reports (the volume service heartbeat), by host and outcome',
    ),
    statsLastReport: meter.createGauge(
      M.statsLastReport,
      'float',
      's',
      'Unix time of the last successful pool stats report, by host',
    ),
  };
}

/** Cinder's name for a failure: the ApplicationFailure type, 'Cancelled', or the error's class. */
export function failureType(err: unknown): string {
  if (err instanceof ApplicationFailure) return err.type ?? 'Error';
  if (err instanceof CancelledFailure) return 'Cancelled';
  if (err instanceof Error) return err.name || 'Error';
  return 'Error';
}

function hostOf(backendId: unknown): string {
  return typeof backendId === 'string' ? backendId.split('#')[0] : 'unknown';
}

/** What one activity's end says about the creates. Pure: the interceptor feeds it. */
export function recordActivityOutcome(
  metrics: CinderMetrics,
  activityType: string,
  args: readonly unknown[],
  outcome: { ok: true } | { ok: false; err: unknown },
): void {
  const arg = (args[0] ?? {}) as Record<string, unknown>;
  if (outcome.ok) {
    switch (activityType) {
      case ACTIVITY.createVolumeFromSpec:
        // Since PATCH_ONE_STEP_API_FLOW the volume worker finishes the create it made.
        if (arg.finish === true) metrics.creates.add(1, { outcome: 'available' });
        return;
      case ACTIVITY.createVolumeOnFinish:
        metrics.creates.add(1, { outcome: 'available' });
        return;
      case ACTIVITY.markVolumeError: {
        const type = String(arg.error_type ?? 'Error');
        metrics.creates.add(1, { outcome: type === 'Cancelled' ? 'cancelled' : 'error', error_type: type });
        if (!arg.scheduling_failed && isNoRescheduleType(type))
          metrics.noRescheduleFailures.add(1, { error_type: type });
        return;
      }
      case ACTIVITY.prepareReschedule:
        metrics.reschedules.add(1, { host: hostOf(arg.backend_id), error_type: String(arg.error_type ?? 'Error') });
        return;
      default:
        return;
    }
  }
  const type = failureType(outcome.err);
  if (activityType === ACTIVITY.createVolumeFromSpec) {
    metrics.backendCreateFailures.add(1, { host: hostOf(arg.backend_id), error_type: type });
  } else if (COMPENSATION_ACTIVITIES.has(activityType)) {
    metrics.compensationFailures.add(1, { activity: activityType, error_type: type });
  } else if (
    API_FLOW_ACTIVITIES.has(activityType) &&
    outcome.err instanceof ApplicationFailure &&
    outcome.err.nonRetryable
  ) {
    metrics.creates.add(1, { outcome: 'rejected', error_type: type });
  }
}

/** An activity interceptor that observes every activity's end for the metrics above; it never
 *  changes a result or a failure. */
export function metricsInterceptor(metrics: CinderMetrics): ActivityInterceptorsFactory {
  return (ctx: Context) => ({
    inbound: {
      async execute(input: ActivityExecuteInput, next) {
        const type = ctx.info.activityType;
        let result: unknown;
        try {
          result = await next(input);
        } catch (err) {
          safely(() => recordActivityOutcome(metrics, type, input.args, { ok: false, err }));
          throw err;
        }
        safely(() => recordActivityOutcome(metrics, type, input.args, { ok: true }));
        return result;
      },
    },
  });
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A metric must never fail an activity.
  }
}

/** Sets the capacity gauges of one volume service's pools from their rows (numbers only:
 *  'infinite' and 'unknown' have no gauge value, so the series is left as it was). Labelled by
 *  host (host@backend) and pool, not by the whole backend id: the exporter escapes its '#'. */
export function recordPoolCapacity(metrics: CinderMetrics, pools: readonly PoolRow[]): void {
  for (const p of pools) {
    const [host, pool = ''] = p.backend_id.split('#');
    const tags = { host, pool };
    if (typeof p.total_capacity_gb === 'number') metrics.poolTotal.set(p.total_capacity_gb, tags);
    if (typeof p.free_capacity_gb === 'number') metrics.poolFree.set(p.free_capacity_gb, tags);
    metrics.poolAllocated.set(p.allocated_capacity_gb, tags);
    metrics.poolProvisioned.set(p.provisioned_capacity_gb, tags);
  }
}
