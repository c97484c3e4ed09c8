/**
 * The scheduler's data shapes. Wire data (retry state, pool stats, filter properties) keeps Cinder's
 * snake_case keys because it travels in workflow history and an operator reads it there as they know
 * it from Cinder. The public shapes match /work/shared/scheduler-contract.d.ts exactly.
 */
import type { BackendState, FilterName, WeigherSpec } from '../domain/pools';

// Defined in domain/ (the store and the drivers use them too); part of the scheduler's contract.
export type { BackendState, FilterName, WeigherName, WeigherSpec } from '../domain/pools';

/** Cinder's filter_properties['retry']. */
export interface Retry {
  num_attempts: number;
  /** 'host@backend#pool' of each attempt so far, oldest first. */
  backends: string[];
  /** The same list, kept as Cinder keeps it for compatibility. */
  hosts: string[];
  /** The previous attempt's error as text, when there was one. */
  exc?: string;
}

/** What one scheduling request carries. */
export interface FilterProperties {
  /** Requested size in GiB. */
  size: number;
  volume_id?: string;
  /** When set, only pools in this zone pass AvailabilityZoneFilter. */
  availability_zone?: string;
  volume_type?: { name?: string; extra_specs?: Record<string, string> };
  retry?: Retry;
}

export type BackendFilter = (backend: BackendState, props: FilterProperties) => boolean;

/**
 * A filter with the per-request work (parsing extra specs, building the attempted set, reading the
 * provisioning type) already done, so a pass over many pools does it once. Every BackendFilter is
 * defined through one of these, so both forms behave identically.
 */
export type PreparedFilter = (backend: BackendState) => boolean;
export type FilterPreparer = (props: FilterProperties) => PreparedFilter;

export interface ScheduleOptions {
  maxAttempts: number;
  /** Default: all four filters in FilterName order. */
  filters?: readonly FilterName[];
  /** Default: [{ name: 'CapacityWeigher' }]. */
  weighers?: readonly WeigherSpec[];
  /** How many runner-up pools to return as alternates (Nova's idea); default 0. */
  alternates?: number;
}

export interface ScheduleResult {
  /** The chosen pool, after consumeFromVolume. */
  backend: BackendState;
  /** props after populateRetry and addRetryBackend. */
  props: FilterProperties;
  /** Runner-up pools, best first, not consumed. */
  alternates: BackendState[];
}
