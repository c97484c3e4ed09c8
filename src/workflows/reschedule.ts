/**
 * Cinder's OnFailureRescheduleTask as a pure decision: after a backend create failed and was
 * compensated, may another backend try? No Temporal import, so it is tested as plain code.
 */
import { isNoRescheduleType } from '../domain/cinder-errors';
import type { Retry } from '../scheduler/types';

/** A failed attempt as Cinder names it. */
export interface AttemptFailure {
  type: string;
  message: string;
}

export type RescheduleDecision =
  /** Back to the scheduler with the failure in retry.exc, as Cinder casts it. A pass past
   *  scheduler_max_attempts then ends the create with the scheduler's own NoValidBackend. */
  | { action: 'reschedule'; retry: Retry; exc: string }
  /** The create ends in 'error' with this failure; the message names why it was not rescheduled. */
  | { action: 'error'; why: 'rescheduling disabled' | 'no-reschedule failure'; failure: AttemptFailure };

/**
 * `retry` is filter_properties['retry'] after the failed pass (absent when scheduler_max_attempts
 * is 1, which disables rescheduling). Messages never repeat the type: readers print `type: message`.
 */
export function onFailureReschedule(
  failure: AttemptFailure,
  retry: Retry | null | undefined,
  options: { scheduler_max_attempts: number },
): RescheduleDecision {
  if (!retry) {
    return {
      action: 'error',
      why: 'rescheduling disabled',
      failure: {
        type: failure.type,
        message: `${failure.message} (rescheduling is disabled: scheduler_max_attempts is ${options.scheduler_max_attempts})`,
      },
    };
  }
  if (isNoRescheduleType(failure.type)) {
    return {
      action: 'error',
      why: 'no-reschedule failure',
      failure: {
        type: failure.type,
        message: `${failure.message} (not rescheduled: ${failure.type} is a no-reschedule failure)`,
      },
    };
  }
  // Cinder's retry['exc'] is the formatted exception: the type belongs there.
  const exc = `${failure.type}: ${failure.message}`;
  return { action: 'reschedule', retry: { ...retry, exc }, exc };
}
