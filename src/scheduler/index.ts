/**
 * The pure scheduler core: Cinder's filter scheduler (retry state, filters, weighers, capacity
 * bookkeeping) without Temporal, I/O, clock or randomness. Contract: shared/scheduler-contract.d.ts.
 */
export type {
  BackendFilter,
  BackendState,
  FilterName,
  FilterPreparer,
  FilterProperties,
  PreparedFilter,
  Retry,
  ScheduleOptions,
  ScheduleResult,
  WeigherName,
  WeigherSpec,
} from './types';
export { NoValidBackend } from './errors';
export { DEFAULT_MAX_ATTEMPTS, addRetryBackend, populateRetry } from './retry';
export {
  DEFAULT_FILTERS,
  FILTERS,
  FILTER_PREPARERS,
  compileExtraSpec,
  hasCapacityFor,
  matchExtraSpec,
  type ExtraSpecMatcher,
} from './filters/index';
export {
  capacityFactors,
  roundCapacity,
  virtualFreeCapacity,
  wantsThinProvisioning,
  type CapacityFactors,
} from './capacity';
export { DEFAULT_MULTIPLIERS, DEFAULT_WEIGHERS, computeWeights, weighBackends } from './weighers';
export { consumeFromVolume } from './host-manager';
export { NO_POOLS_REASON, noPoolPassedReason, schedule, type FilterTally } from './filter-scheduler';
