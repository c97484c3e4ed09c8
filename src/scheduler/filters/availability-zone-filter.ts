import type { BackendFilter, FilterPreparer } from '../types';
import { passAll } from './pass-all';

/** AvailabilityZoneFilter: with no zone requested every pool passes (an empty string counts as none,
 *  as Cinder's truthiness check has it); otherwise only pools in exactly that zone. */
export const prepareAvailabilityZoneFilter: FilterPreparer = (props) => {
  const zone = props.availability_zone;
  if (!zone) return passAll;
  return (backend) => backend.availability_zone === zone;
};

export const availabilityZoneFilter: BackendFilter = (backend, props) => prepareAvailabilityZoneFilter(props)(backend);
