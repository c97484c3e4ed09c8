import type { BackendState } from './types';

/**
 * HostManager's consume_from_volume, on a copy: the scheduler counts a request against the chosen
 * pool straight away, so a burst of requests spreads before the pool's next stats report.
 * allocated and provisioned grow by sizeGb; a numeric free capacity shrinks by it ('infinite',
 * 'unknown' and null stay as they are).
 */
export function consumeFromVolume(backend: BackendState, sizeGb: number): BackendState {
  const free = backend.free_capacity_gb;
  return {
    ...backend,
    allocated_capacity_gb: backend.allocated_capacity_gb + sizeGb,
    provisioned_capacity_gb: backend.provisioned_capacity_gb + sizeGb,
    free_capacity_gb: typeof free === 'number' ? free - sizeGb : free,
  };
}
