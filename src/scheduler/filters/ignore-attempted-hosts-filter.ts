import type { BackendFilter, FilterPreparer } from '../types';
import { passAll } from './pass-all';

/**
 * IgnoreAttemptedHostsFilter (Cinder registers it as RetryFilter): without a `retry` every pool
 * passes; otherwise the pools whose whole 'host@backend#pool' id is in retry.backends fail, so another
 * pool of the same backend still passes. Like Cinder, falls back to `hosts` if `backends` is absent.
 */
export const prepareIgnoreAttemptedHostsFilter: FilterPreparer = (props) => {
  const retry = props.retry;
  if (!retry) return passAll;
  const attempted = new Set<string>(retry.backends ?? retry.hosts ?? []);
  if (attempted.size === 0) return passAll;
  return (backend) => !attempted.has(backend.backend_id);
};

export const ignoreAttemptedHostsFilter: BackendFilter = (backend, props) =>
  prepareIgnoreAttemptedHostsFilter(props)(backend);
