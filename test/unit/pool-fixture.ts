import type { BackendState } from '../../src/scheduler/index';

/** A thick 100 GiB pool with round numbers and nothing allocated; each test overrides what it is about. */
export function thickPool(overrides: Partial<BackendState> = {}): BackendState {
  return {
    backend_id: 'host1@lvm#pool1',
    availability_zone: 'az1',
    total_capacity_gb: 100,
    free_capacity_gb: 100,
    allocated_capacity_gb: 0,
    provisioned_capacity_gb: 0,
    reserved_percentage: 0,
    max_over_subscription_ratio: 1,
    thin_provisioning_support: false,
    thick_provisioning_support: true,
    capabilities: {},
    ...overrides,
  };
}
