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
    return ApplicationFailure.create({
      type: 'NoValidBackend',
      message: err.message,
      nonRetryable: true,
      details: [{ reason: err.reason }],
    });
  }
  const permanent = permanentFailureType(err);
  if (permanent) {
    // Retrying cannot fix it: fail the step now, so the create ends in 'error' with this reason
    // instead of retrying without end with its row, quota and claim held.
    return ApplicationFailure.create({
      type: permanent,
      message: (err as Error).message,
      nonRetryable: true,
      cause: err as Error,
    });
  }
  return err;
}

/**
 * The failure type of an error that no retry can fix, or null: a database constraint or data error
 * (SQLite's SQLITE_CONSTRAINT_* / SQLITE_MISMATCH, PostgreSQL's classes 22 and 23), or a TypeError,
 * RangeError or SyntaxError from the code itself.
 */
export function permanentFailureType(err: unknown): string | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (
    typeof code === 'string' &&
    (/^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG|RANGE)/.test(code) || /^2[23][0-9A-Z]{3}$/.test(code))
  )
    return 'DBError';
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError) return err.name;
  return null;
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
