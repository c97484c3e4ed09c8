import { NoValidBackend } from './errors';
import type { FilterProperties, Retry } from './types';

/** Cinder's default scheduler_max_attempts: three attempts in total, the first included. */
export const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * Cinder's _populate_retry, run at the start of every scheduling pass.
 *
 * - maxAttempts must be a whole number >= 1 (scheduler_max_attempts); anything else is a
 *   configuration error (plain Error).
 * - maxAttempts == 1 disables rescheduling: the result carries no `retry` at all.
 * - Otherwise the first pass starts {num_attempts: 1, backends: [], hosts: []} and each later pass
 *   adds 1. `exc` is dropped (Cinder logs then pops it: a caller that wants it reads it before).
 * - More attempts than allowed: NoValidBackend "Exceeded max scheduling attempts <max> for resource
 *   <volume id>".
 */
export function populateRetry(props: FilterProperties, maxAttempts: number): FilterProperties {
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new Error(`Invalid scheduler_max_attempts ${String(maxAttempts)}: it must be a whole number of at least 1`);
  }
  if (maxAttempts === 1) {
    const { retry: _disabled, ...withoutRetry } = props;
    return withoutRetry;
  }

  const previous = props.retry;
  let retry: Retry;
  if (previous) {
    const { exc: _logged, ...kept } = previous;
    retry = {
      ...kept,
      num_attempts: previous.num_attempts + 1,
      backends: [...(previous.backends ?? [])],
      hosts: [...(previous.hosts ?? [])],
    };
  } else {
    retry = { num_attempts: 1, backends: [], hosts: [] };
  }

  if (retry.num_attempts > maxAttempts) {
    throw new NoValidBackend(
      `Exceeded max scheduling attempts ${maxAttempts} for resource ${props.volume_id ?? 'unknown'}`,
    );
  }
  return { ...props, retry };
}

/** Cinder's _add_retry_backend: records the chosen pool in `backends` and `hosts`. Without a
 *  `retry` (rescheduling disabled) the properties come back unchanged (as a copy). */
export function addRetryBackend(props: FilterProperties, backendId: string): FilterProperties {
  const retry = props.retry;
  if (!retry) return { ...props };
  return {
    ...props,
    retry: {
      ...retry,
      backends: [...(retry.backends ?? []), backendId],
      hosts: [...(retry.hosts ?? []), backendId],
    },
  };
}
