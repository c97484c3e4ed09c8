import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { CinderError } from '../domain/cinder-errors';
import { NoValidBackend } from '../scheduler';

/**
 * Turns what plain code throws into what Temporal should see: a Cinder error becomes a
 * non-retryable ApplicationFailure whose type is Cinder's exception name (the workflow decides
 * what to do with it); anything else is rethrown as is, so Temporal retries it.
 */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof CinderError) {
    return ApplicationFailure.create({
      type: err.cinderType,
      message: err.message,
      nonRetryable: true,
      details: err.field ? [{ field: err.field }] : [],
    });
  }
  if (err instanceof NoValidBackend) {
    return ApplicationFailure.create({ type: 'NoValidBackend', message: err.message, nonRetryable: true, details: [{ reason: err.reason }] });
  }
  return err;
}

/** Runs fn, converting its failure. */
export async function asActivity<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CancelledFailure) throw err;
    throw toActivityFailure(err);
  }
}
