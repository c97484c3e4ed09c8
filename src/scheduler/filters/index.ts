import type { BackendFilter, FilterName, FilterPreparer } from '../types';
import { availabilityZoneFilter, prepareAvailabilityZoneFilter } from './availability-zone-filter';
import { capabilitiesFilter, prepareCapabilitiesFilter } from './capabilities-filter';
import { capacityFilter, prepareCapacityFilter } from './capacity-filter';
import { ignoreAttemptedHostsFilter, prepareIgnoreAttemptedHostsFilter } from './ignore-attempted-hosts-filter';

/** The filters by their Cinder names. */
export const FILTERS: Readonly<Record<FilterName, BackendFilter>> = Object.freeze({
  AvailabilityZoneFilter: availabilityZoneFilter,
  CapacityFilter: capacityFilter,
  CapabilitiesFilter: capabilitiesFilter,
  IgnoreAttemptedHostsFilter: ignoreAttemptedHostsFilter,
});

/** The same filters with their per-request work split off, for passes over many pools. */
export const FILTER_PREPARERS: Readonly<Record<FilterName, FilterPreparer>> = Object.freeze({
  AvailabilityZoneFilter: prepareAvailabilityZoneFilter,
  CapacityFilter: prepareCapacityFilter,
  CapabilitiesFilter: prepareCapabilitiesFilter,
  IgnoreAttemptedHostsFilter: prepareIgnoreAttemptedHostsFilter,
});

/** All four filters, in FilterName order. IgnoreAttemptedHostsFilter is on by default here (stock
 *  Cinder leaves it off and may pick the pool that just failed). */
export const DEFAULT_FILTERS: readonly FilterName[] = Object.freeze([
  'AvailabilityZoneFilter',
  'CapacityFilter',
  'CapabilitiesFilter',
  'IgnoreAttemptedHostsFilter',
] as const);

export { matchExtraSpec, compileExtraSpec, type ExtraSpecMatcher } from './extra-spec-ops';
export { hasCapacityFor } from './capacity-filter';
