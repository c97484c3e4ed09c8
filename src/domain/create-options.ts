import type { FilterName, WeigherSpec } from '../scheduler/types';
import { CinderError } from './cinder-errors';

/**
 * How one create behaves: Cinder's scheduler settings plus the timeouts that make a down backend
 * cost bounded time. The scheduler worker's configuration gives the defaults; a request may
 * override them (tests, the CLI). The effective options are returned by the first activity, so
 * they sit in the workflow history and replay never depends on a worker's current config.
 */
export interface CreateOptions {
  /** Cinder's scheduler_max_attempts: attempts in total, the first included; 1 disables rescheduling. */
  scheduler_max_attempts: number;
  /** IgnoreAttemptedHostsFilter on (our default) or off (stock Cinder). */
  ignore_attempted_hosts: boolean;
  /** Filters in order; IgnoreAttemptedHostsFilter is added or removed by ignore_attempted_hosts. */
  scheduler_default_filters: FilterName[];
  scheduler_default_weighers: WeigherSpec[];
  /** A volume service is up when it reported within this many seconds (Cinder's service_down_time). */
  service_down_time_s: number;
  /** How long a backend create may wait for its volume worker before it counts as a backend failure. */
  backend_schedule_to_start_timeout_ms: number;
  /** A create that stops heartbeating this long is retried (the worker died). */
  create_heartbeat_timeout_ms: number;
  create_start_to_close_timeout_ms: number;
  /** Temporal retries of one activity for non-Cinder errors before the create counts as failed. */
  create_max_activity_attempts: number;
  /** First backoff of retried activities and compensations (doubles up to 100x). */
  retry_initial_interval_ms: number;
  /** How long a compensation delete waits for a down backend before it is handed to a cleanup
   *  workflow that waits as long as it takes. */
  compensation_schedule_to_start_timeout_ms: number;
  /** Upsert VolumeStatus, BackendHost... (off when the namespace lacks them). */
  upsert_search_attributes: boolean;
  /** Alternates mode (Nova's idea), off at 0: a full scheduling pass also returns this many
   *  runner-up pools, and after a reschedulable failure those are tried, in order, before a new
   *  full pass. Absent in creates started before the option existed: read it as 0. */
  scheduler_alternates: number;
}

export const DEFAULT_CREATE_OPTIONS: CreateOptions = {
  scheduler_max_attempts: 3,
  ignore_attempted_hosts: true,
  scheduler_default_filters: ['AvailabilityZoneFilter', 'CapacityFilter', 'CapabilitiesFilter', 'IgnoreAttemptedHostsFilter'],
  scheduler_default_weighers: [{ name: 'CapacityWeigher' }],
  service_down_time_s: 60,
  backend_schedule_to_start_timeout_ms: 60_000,
  create_heartbeat_timeout_ms: 30_000,
  create_start_to_close_timeout_ms: 3_600_000,
  create_max_activity_attempts: 3,
  retry_initial_interval_ms: 1_000,
  compensation_schedule_to_start_timeout_ms: 60_000,
  upsert_search_attributes: true,
  scheduler_alternates: 0,
};

const FILTER_NAMES: readonly FilterName[] = ['AvailabilityZoneFilter', 'CapacityFilter', 'CapabilitiesFilter', 'IgnoreAttemptedHostsFilter'];
const WEIGHER_NAMES = ['CapacityWeigher', 'AllocatedCapacityWeigher'];

function bad(field: string, message: string): never {
  throw new CinderError('InvalidInput', `Invalid input for field 'options.${field}': ${message}`, `options.${field}`);
}

/** Merges overrides over defaults, checking each named field. */
export function resolveCreateOptions(defaults: CreateOptions, overrides: unknown): CreateOptions {
  if (overrides === undefined || overrides === null) return { ...defaults };
  if (typeof overrides !== 'object' || Array.isArray(overrides)) bad('', 'must be an object');
  const out: CreateOptions = { ...defaults };
  for (const [key, value] of Object.entries(overrides as Record<string, unknown>)) {
    if (!(key in defaults)) bad(key, 'is not a known option');
    const current = (defaults as unknown as Record<string, unknown>)[key];
    if (key === 'scheduler_default_filters') {
      if (!Array.isArray(value) || value.some((f) => !FILTER_NAMES.includes(f as FilterName))) {
        bad(key, `must be a list of ${FILTER_NAMES.join(', ')}`);
      }
    } else if (key === 'scheduler_default_weighers') {
      if (!Array.isArray(value) || value.some((w) => !w || !WEIGHER_NAMES.includes((w as { name: string }).name))) {
        bad(key, `must be a list of { name: ${WEIGHER_NAMES.join(' | ')}, multiplier? }`);
      }
    } else if (typeof current === 'number') {
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) bad(key, 'must be a number >= 0');
      if (key === 'scheduler_max_attempts' && (!Number.isInteger(value) || value < 1)) bad(key, 'must be a whole number >= 1');
      if (key === 'scheduler_alternates' && !Number.isInteger(value)) bad(key, 'must be a whole number >= 0');
    } else if (typeof current === 'boolean' && typeof value !== 'boolean') {
      bad(key, 'must be true or false');
    }
    (out as unknown as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** The filter list a pass runs: IgnoreAttemptedHostsFilter follows ignore_attempted_hosts. */
export function effectiveFilters(options: Pick<CreateOptions, 'scheduler_default_filters' | 'ignore_attempted_hosts'>): FilterName[] {
  const rest = options.scheduler_default_filters.filter((f) => f !== 'IgnoreAttemptedHostsFilter');
  return options.ignore_attempted_hosts ? [...rest, 'IgnoreAttemptedHostsFilter'] : rest;
}
