import type { BackendConfig } from './backend-config';
import type { VolumeDriver } from './driver';
import { FaultInjectingDriver, type FaultInjectingOptions } from './fault-injecting-driver';
import type { FaultSource } from '../domain/faults';
import { FileVolumeDriver } from './file-driver';

export * from './backend-config';
export type * from './driver';
export type * from '../domain/faults';
export * from './file-driver';
export * from './fault-injecting-driver';
export * from './op-options';

/** The driver of one backend: the file driver, wrapped in fault injection when a source is given. */
export function createDriver(
  config: BackendConfig,
  faults?: FaultSource,
  faultOptions?: FaultInjectingOptions,
): VolumeDriver {
  const file = new FileVolumeDriver(config); // validates the config
  return faults ? new FaultInjectingDriver(file, faults, faultOptions) : file;
}
