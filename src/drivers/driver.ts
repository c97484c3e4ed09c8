import type { PoolStatsReport } from '../domain/pools';
import type { Image } from '../domain/volume';

/** The volume a driver acts on. */
export interface DriverVolume {
  id: string;
  size: number;
  /** host@backend#pool */
  host: string;
  /** Display name, for fault rules that target one volume. */
  name?: string | null;
}

export interface DriverSnapshot {
  id: string;
  volume_id: string;
  size: number;
  host: string;
}

/** Object names (`volume-<id>`) a stats report should look for, by pool (host@backend#pool): the
 *  claims the database has not yet seen on disk. */
export type ExpectedObjects = ReadonlyMap<string, readonly string[]>;

export interface OpOptions {
  /** Aborted when the activity is cancelled or times out: stop work and throw. */
  signal?: AbortSignal;
}

/**
 * Cinder's volume driver interface, the part a create needs. Every create is idempotent: the object
 * `volume-<id>` either exists whole afterwards or not at all (written aside, then renamed).
 */
export interface VolumeDriver {
  /** host@backend this driver serves. */
  readonly host: string;
  createVolume(volume: DriverVolume, opts?: OpOptions): Promise<void>;
  createVolumeFromSnapshot(volume: DriverVolume, snapshot: DriverSnapshot, opts?: OpOptions): Promise<void>;
  createClonedVolume(volume: DriverVolume, source: DriverVolume, opts?: OpOptions): Promise<void>;
  /** Cinder's from-image path: the volume is created first, then the image copied into it; a copy
   *  failure raises ImageCopyFailure (no reschedule: the volume exists already). */
  copyImageToVolume(volume: DriverVolume, image: Image, opts?: OpOptions): Promise<void>;
  /** Deletes `volume-<id>` and any partial write of it; absent is fine. True when something was removed. */
  deleteVolume(volume: DriverVolume, opts?: OpOptions): Promise<boolean>;
  createSnapshot(snapshot: DriverSnapshot): Promise<void>;
  volumeExists(volume: DriverVolume): Promise<boolean>;
  /** Every file in the pool (volumes, snapshots, partial writes): for leak checks. */
  listPoolFiles(pool: string): Promise<string[]>;
  /** One report per pool. Reads no file per volume: figures come from what the driver keeps and
   *  the file system's free space. volume_names lists, of `expected`'s names for the pool, those on
   *  disk (every volume of the pool when `expected` is absent). */
  getVolumeStats(expected?: ExpectedObjects): Promise<PoolStatsReport[]>;
}
