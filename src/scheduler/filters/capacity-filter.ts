import { capacityFactors, wantsThinProvisioning } from '../capacity';
import type { BackendFilter, BackendState, FilterPreparer } from '../types';
import { passAll } from './pass-all';

/**
 * CapacityFilter: does the pool have room for `sizeGb` more GiB? (spec section 3)
 *
 * - A zero-size request passes; a null free capacity (broken stats) fails.
 * - Free 'infinite'/'unknown' passes; total 'infinite'/'unknown' passes only with no reservation;
 *   a total of 0 or less fails.
 * - Thin applies (wanted and supported): the ratio must be at least 1, (provisioned + size) /
 *   total_available must not exceed it, and virtual free must cover the size. A total_available of 0
 *   (e.g. reserved_percentage 100) fails the pool instead of dividing by zero.
 * - Otherwise virtual free (min(free, available − provisioned)) must cover the size.
 */
export function hasCapacityFor(backend: BackendState, sizeGb: number, thinWanted: boolean): boolean {
  if (sizeGb === 0) return true;
  const free = backend.free_capacity_gb;
  if (free === null || free === undefined) return false;
  if (free === 'infinite' || free === 'unknown') return true;
  const total = backend.total_capacity_gb;
  if (total === 'infinite' || total === 'unknown') return backend.reserved_percentage === 0;
  if (!(total > 0)) return false;

  const factors = capacityFactors(backend, thinWanted);
  if (!factors) return false;
  if (factors.thin) {
    if (!(factors.ratio >= 1)) return false;
    if (!(factors.totalAvailable > 0)) return false;
    const provisionedRatio = (backend.provisioned_capacity_gb + sizeGb) / factors.totalAvailable;
    if (provisionedRatio > factors.ratio) return false;
  }
  return factors.virtualFree >= sizeGb;
}

export const prepareCapacityFilter: FilterPreparer = (props) => {
  const sizeGb = props.size;
  if (sizeGb === 0) return passAll;
  const thinWanted = wantsThinProvisioning(props);
  return (backend) => hasCapacityFor(backend, sizeGb, thinWanted);
};

export const capacityFilter: BackendFilter = (backend, props) => prepareCapacityFilter(props)(backend);
