/**
 * Shapes shared by the scheduler, the drivers and the store (kept here so each imports downward):
 * a pool's state as its volume service reports it and the scheduler reads it, and the names of the
 * scheduler's filters and weighers that create options choose. Wire data: Cinder's snake_case keys.
 */

/** One pool as the scheduler sees it: the latest stats its volume service reported. */
export interface BackendState {
  /** 'host@backend#pool' */
  backend_id: string;
  availability_zone: string;
  total_capacity_gb: number | 'infinite' | 'unknown';
  /** null means the stats collection is broken: CapacityFilter fails the pool. */
  free_capacity_gb: number | 'infinite' | 'unknown' | null;
  allocated_capacity_gb: number;
  provisioned_capacity_gb: number;
  /** 0..100 */
  reserved_percentage: number;
  max_over_subscription_ratio: number;
  thin_provisioning_support: boolean;
  thick_provisioning_support: boolean;
  /** Everything the pool reports (volume_backend_name, storage_protocol, vendor_name, any extra
   *  capability, nested objects allowed); CapabilitiesFilter matches extra specs against it. */
  capabilities: Record<string, unknown>;
}

/** One pool's stats as its volume driver measured them (the store adds allocation and pending claims). */
export type PoolStatsReport = Omit<BackendState, 'allocated_capacity_gb'> & {
  /** Backend object names present in the pool (`volume-<id>`): at least those of the store's
   *  pendingClaimObjects that are on disk, so claims not yet on disk count. */
  volume_names: string[];
};

export type FilterName =
  'AvailabilityZoneFilter' | 'CapacityFilter' | 'CapabilitiesFilter' | 'IgnoreAttemptedHostsFilter';

export type WeigherName = 'CapacityWeigher' | 'AllocatedCapacityWeigher';

export interface WeigherSpec {
  name: WeigherName;
  /** Defaults: CapacityWeigher 1.0, AllocatedCapacityWeigher -1.0 (Cinder's). */
  multiplier?: number;
}
