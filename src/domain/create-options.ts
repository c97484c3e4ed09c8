import { z } from 'zod';
import type { FilterName } from './pools';
import { CinderError } from './cinder-errors';
import { mustBe, parseOrInvalid } from './schema-errors';
import { isPlainObject } from './text';

export const DEFAULT_CREATE_OPTIONS: CreateOptions = {
  scheduler_max_attempts: 3,
  ignore_attempted_hosts: true,
  scheduler_default_filters: [
    'AvailabilityZoneFilter',
    'CapacityFilter',
    'CapabilitiesFilter',
    'IgnoreAttemptedHostsFilter',
  ],
  scheduler_default_weighers: [{ name: 'CapacityWeigher' }],
  service_down_time_s: 60,
  backend_schedule_to_start_timeout_ms: 60_000,
  create_heartbeat_timeout_ms: 10_000,
  create_start_to_close_timeout_ms: 3_600_000,
  create_max_activity_attempts: 3,
  retry_initial_interval_ms: 1_000,
  compensation_schedule_to_start_timeout_ms: 60_000,
  upsert_search_attributes: true,
  scheduler_alternates: 0,
};

const FILTER_NAMES = [
  'AvailabilityZoneFilter',
  'CapacityFilter',
  'CapabilitiesFilter',
  'IgnoreAttemptedHostsFilter',
] as const;
const WEIGHER_NAMES = ['CapacityWeigher', 'AllocatedCapacityWeigher'] as const;

/** The range of each whole-number option (docs/cli.md's table is checked against it by a test). */
export const OPTION_BOUNDS = {
  scheduler_max_attempts: [1, 10],
  service_down_time_s: [1, 86_400],
  backend_schedule_to_start_timeout_ms: [100, 86_400_000],
  create_heartbeat_timeout_ms: [100, 3_600_000],
  create_start_to_close_timeout_ms: [1_000, 7 * 86_400_000],
  create_max_activity_attempts: [1, 100],
  retry_initial_interval_ms: [10, 600_000],
  compensation_schedule_to_start_timeout_ms: [100, 86_400_000],
  scheduler_alternates: [0, 10],
} as const;

const whole = (key: keyof typeof OPTION_BOUNDS) => {
  const [min, max] = OPTION_BOUNDS[key];
  const what = `a whole number from ${min} to ${max}`;
  return z
    .number({ error: mustBe(what) })
    .int({ error: mustBe(what) })
    .min(min, { error: mustBe(what) })
    .max(max, { error: mustBe(what) });
};
const flag = () => z.boolean({ error: mustBe('true or false') });

/**
 * Every option's rule, once: the configuration's create_defaults and a request's options are both
 * checked against it, and CreateOptions is inferred from it. Bounds keep a create finite: no zero or
 * astronomically long timeouts.
 */
const OPTION_RULES = {
  /** Cinder's scheduler_max_attempts: attempts in total, the first included; 1 disables rescheduling. */
  scheduler_max_attempts: whole('scheduler_max_attempts'),
  /** IgnoreAttemptedHostsFilter on (our default) or off (stock Cinder). */
  ignore_attempted_hosts: flag(),
  /** Filters in order; IgnoreAttemptedHostsFilter is added or removed by ignore_attempted_hosts. */
  scheduler_default_filters: z
    .array(z.enum(FILTER_NAMES, { error: mustBe(`one of ${FILTER_NAMES.join(', ')}`) }), {
      error: mustBe(`a list of ${FILTER_NAMES.join(', ')}`),
    })
    .refine((l) => new Set(l).size === l.length, { error: 'must not name a filter twice' }),
  scheduler_default_weighers: z.array(
    z.strictObject(
      {
        name: z.enum(WEIGHER_NAMES, { error: mustBe(`one of ${WEIGHER_NAMES.join(', ')}`) }),
        multiplier: z
          .number({ error: mustBe('a number') })
          .finite({ error: mustBe('a finite number') })
          .optional(),
      },
      { error: mustBe(`{ name: ${WEIGHER_NAMES.join(' | ')}, multiplier? }`) },
    ),
    { error: mustBe(`a list of { name: ${WEIGHER_NAMES.join(' | ')}, multiplier? }`) },
  ),
  /** A volume service is up when it reported within this many seconds (Cinder's service_down_time). */
  service_down_time_s: whole('service_down_time_s'),
  /** How long a backend create may wait for its volume worker before it counts as a backend failure. */
  backend_schedule_to_start_timeout_ms: whole('backend_schedule_to_start_timeout_ms'),
  /** A backend create or delete that stops heartbeating this long is retried (the worker died). */
  create_heartbeat_timeout_ms: whole('create_heartbeat_timeout_ms'),
  create_start_to_close_timeout_ms: whole('create_start_to_close_timeout_ms'),
  /** Temporal retries of one activity for non-Cinder errors before the create counts as failed. */
  create_max_activity_attempts: whole('create_max_activity_attempts'),
  /** First backoff of retried activities and compensations (doubles up to 100x). */
  retry_initial_interval_ms: whole('retry_initial_interval_ms'),
  /** How long a compensation delete waits for a down backend before it is handed to a cleanup
   *  workflow that waits as long as it takes. */
  compensation_schedule_to_start_timeout_ms: whole('compensation_schedule_to_start_timeout_ms'),
  /** Upsert VolumeStatus, BackendHost... (off when the namespace lacks them). */
  upsert_search_attributes: flag(),
  /** Alternates mode (Nova's idea), off at 0: a full scheduling pass also returns this many
   *  runner-up pools, and after a reschedulable failure those are tried, in order, before a new
   *  full pass. Absent in creates started before the option existed: read it as 0. */
  scheduler_alternates: whole('scheduler_alternates'),
};

/** Every option, as the configuration's create_defaults (all optional) and a resolved create hold them. */
export const createOptionsSchema = z.strictObject(OPTION_RULES);

/**
 * How one create behaves: Cinder's scheduler settings plus the timeouts that make a down backend
 * cost bounded time. The scheduler worker's configuration gives the defaults; a request may
 * override them (tests, the CLI). The effective options are returned by the first activity, so
 * they sit in the workflow history and replay never depends on a worker's current config.
 */
export type CreateOptions = z.output<typeof createOptionsSchema>;

/**
 * Options only an operator may set (configuration, not a request): they change what the scheduler
 * checks, or which backends count as alive, so a caller could otherwise switch off CapacityFilter.
 */
export const OPERATOR_ONLY_OPTIONS: readonly (keyof CreateOptions)[] = [
  'scheduler_default_filters',
  'scheduler_default_weighers',
  'ignore_attempted_hosts',
  'service_down_time_s',
];

const operatorSchema = createOptionsSchema.partial();
const requestSchema = createOptionsSchema
  .omit(
    Object.fromEntries(OPERATOR_ONLY_OPTIONS.map((k) => [k, true])) as {
      [K in (typeof OPERATOR_ONLY_OPTIONS)[number]]: true;
    },
  )
  .partial();

function checkOverrides(overrides: unknown, scope: 'operator' | 'request', root: string): Partial<CreateOptions> {
  if (overrides === undefined || overrides === null) return {};
  if (!isPlainObject(overrides)) {
    throw new CinderError('InvalidInput', `Invalid input for field '${root}': must be an object`, root);
  }
  if (scope === 'request') {
    const key = OPERATOR_ONLY_OPTIONS.find((k) => Object.hasOwn(overrides, k));
    if (key) {
      throw new CinderError(
        'InvalidInput',
        `Invalid input for field '${root}.${key}': is set by the operator (create_defaults), not per request`,
        `${root}.${key}`,
      );
    }
  }
  // An option is named as a whole (options.scheduler_default_filters), not by its list index.
  return parseOrInvalid(
    scope === 'request' ? requestSchema : operatorSchema,
    overrides,
    root,
    1,
  ) as Partial<CreateOptions>;
}

/** The configuration's create_defaults merged over the built-in defaults; every option may be set. */
export function resolveCreateOptions(defaults: CreateOptions, overrides: unknown, root = 'options'): CreateOptions {
  return { ...defaults, ...checkOverrides(overrides, 'operator', root) };
}

/** A request's options merged over the worker's defaults: operator-only options are refused. */
export function resolveRequestOptions(defaults: CreateOptions, overrides: unknown): CreateOptions {
  return { ...defaults, ...checkOverrides(overrides, 'request', 'options') };
}

/** The filter list a pass runs: IgnoreAttemptedHostsFilter follows ignore_attempted_hosts. */
export function effectiveFilters(
  options: Pick<CreateOptions, 'scheduler_default_filters' | 'ignore_attempted_hosts'>,
): FilterName[] {
  const rest = options.scheduler_default_filters.filter((f) => f !== 'IgnoreAttemptedHostsFilter');
  return options.ignore_attempted_hosts ? [...rest, 'IgnoreAttemptedHostsFilter'] : rest;
}
