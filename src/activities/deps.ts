import type { Logger } from 'pino';
import type { CreateOptions } from '../domain/create-options';
import type { RequestLimits } from '../domain/validation';
import type { VolumeDriver } from '../drivers/driver';
import type { VolumeStore } from '../store/volume-store';

/** What activities act on, injected so tests swap one real dependency for another. */
export interface ActivityDeps {
  store: VolumeStore;
  logger: Logger;
  /** Wall clock; a test may pin it. */
  now: () => Date;
}

export interface ApiDeps extends ActivityDeps {
  limits: RequestLimits;
  /** Defaults for each create; requests may override them. */
  createDefaults: CreateOptions;
}

export interface VolumeDeps extends ActivityDeps {
  /** The driver of the one backend (host@backend) this volume worker serves. */
  driver: VolumeDriver;
}
