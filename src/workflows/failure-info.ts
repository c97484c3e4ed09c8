import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TimeoutFailure } from '@temporalio/workflow';
import { timeoutFailure } from '../domain/names';

/** A failure as Cinder names it: its exception type and its text. */
export interface FailureInfo {
  type: string;
  message: string;
  /** The backend's volume service never picked the task up (its worker is down). */
  backend_unavailable: boolean;
}

/** Reads the Cinder exception name out of an activity or child failure; any other error still
 *  yields a type (its name), because the reschedule decision must be taken on any error. */
export function failureInfo(err: unknown): FailureInfo {
  let cause: unknown = err;
  while ((cause instanceof ActivityFailure || cause instanceof ChildWorkflowFailure) && cause.cause)
    cause = cause.cause;
  if (cause instanceof ApplicationFailure) {
    return { type: cause.type ?? 'Error', message: cause.message, backend_unavailable: false };
  }
  if (cause instanceof TimeoutFailure) return timeoutFailure(cause.timeoutType ?? 'UNSPECIFIED');
  if (cause instanceof Error)
    return { type: cause.name || 'Error', message: cause.message, backend_unavailable: false };
  return { type: 'Error', message: String(cause), backend_unavailable: false };
}
