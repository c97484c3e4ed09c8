/**
 * Wraps a volume driver and applies the fault rules of its backend (faults.ts) before the operations
 * a create needs: errors, delays, hangs, and killing the worker in the middle of a create.
 */
import { CinderError } from '../domain/cinder-errors';
import { volumeObjectName, type Image } from '../domain/volume';
import type { PoolStatsReport } from '../store/volume-store';
import type { DriverSnapshot, DriverVolume, ExpectedObjects, OpOptions, VolumeDriver } from './driver';
import type { FaultOp, FaultRule, FaultSource } from './faults';
import { abortableSleep, waitForAbort, type CommitHookOptions } from './op-options';

export interface FaultInjectingOptions {
  /** Kills the worker. Default: SIGKILL to this process (no cleanup, no activity completion). */
  exit?: () => never;
  /** Sleeps for a 'delay' rule; must reject when the signal aborts. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Cinder's exception for a failed operation of each kind, when the rule names none. */
const DEFAULT_ERROR_TYPE: Record<FaultOp, string> = {
  create: 'VolumeBackendAPIException',
  delete: 'VolumeBackendAPIException',
  // A copy fault happens after the volume exists: Cinder's no-reschedule ImageCopyFailure.
  copy_image: 'ImageCopyFailure',
};

const VERB: Record<FaultOp, string> = {
  create: 'creating',
  delete: 'deleting',
  copy_image: 'copying image to',
};

export function killThisProcess(): never {
  process.kill(process.pid, 'SIGKILL');
  // SIGKILL to self is delivered before kill() returns; this is only a fallback.
  process.exit(137);
}

export class FaultInjectingDriver implements VolumeDriver {
  readonly host: string;
  private readonly exit: () => never;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(
    readonly inner: VolumeDriver,
    private readonly faults: FaultSource,
    options: FaultInjectingOptions = {},
  ) {
    this.host = inner.host;
    this.exit = options.exit ?? killThisProcess;
    this.sleep = options.sleep ?? abortableSleep;
  }

  createVolume(volume: DriverVolume, opts?: OpOptions): Promise<void> {
    return this.faultedCreate(volume, opts, (o) => this.inner.createVolume(volume, o));
  }

  createVolumeFromSnapshot(volume: DriverVolume, snapshot: DriverSnapshot, opts?: OpOptions): Promise<void> {
    return this.faultedCreate(volume, opts, (o) => this.inner.createVolumeFromSnapshot(volume, snapshot, o));
  }

  createClonedVolume(volume: DriverVolume, source: DriverVolume, opts?: OpOptions): Promise<void> {
    return this.faultedCreate(volume, opts, (o) => this.inner.createClonedVolume(volume, source, o));
  }

  /** A create fault first (nothing exists yet), then the volume is created, then a copy fault, raised
   *  with the volume in place, as Cinder's create-then-copy does. */
  async copyImageToVolume(volume: DriverVolume, image: Image, opts?: OpOptions): Promise<void> {
    await this.faultedCreate(volume, opts, (o) => this.inner.createVolume(volume, o));
    const rule = await this.faults.takeFault(this.host, 'copy_image', volume.name ?? null);
    if (rule) {
      // exit before the copy: the volume exists, its data does not.
      const proceed = await this.apply(rule, 'copy_image', volume, opts);
      if (proceed === 'exit') this.exit();
    }
    await this.inner.copyImageToVolume(volume, image, opts);
  }

  async deleteVolume(volume: DriverVolume, opts?: OpOptions): Promise<boolean> {
    const rule = await this.faults.takeFault(this.host, 'delete', volume.name ?? null);
    if (rule && (await this.apply(rule, 'delete', volume, opts)) === 'exit') this.exit();
    return this.inner.deleteVolume(volume, opts);
  }

  createSnapshot(snapshot: DriverSnapshot): Promise<void> {
    return this.inner.createSnapshot(snapshot);
  }

  volumeExists(volume: DriverVolume): Promise<boolean> {
    return this.inner.volumeExists(volume);
  }

  listPoolFiles(pool: string): Promise<string[]> {
    return this.inner.listPoolFiles(pool);
  }

  getVolumeStats(expected?: ExpectedObjects): Promise<PoolStatsReport[]> {
    return this.inner.getVolumeStats(expected);
  }

  private async faultedCreate(volume: DriverVolume, opts: OpOptions | undefined, create: (opts?: OpOptions) => Promise<void>): Promise<void> {
    const rule = await this.faults.takeFault(this.host, 'create', volume.name ?? null);
    if (!rule || (await this.apply(rule, 'create', volume, opts)) !== 'exit') {
      return create(opts);
    }
    // Die mid-create: a driver that writes aside calls the hook with its partial write on disk,
    // before the rename; one without the hook finishes and we die before the create is reported.
    const hooked: CommitHookOptions = { ...opts, beforeCommit: () => this.exit() };
    await create(hooked);
    this.exit();
  }

  /** Applies error/delay/hang; returns 'exit' for the caller to place the crash, 'continue' else. */
  private async apply(rule: FaultRule, op: FaultOp, volume: DriverVolume, opts: OpOptions | undefined): Promise<'continue' | 'exit'> {
    switch (rule.action) {
      case 'error': {
        const type = rule.error_type || DEFAULT_ERROR_TYPE[op];
        throw new CinderError(type, `Injected fault on ${this.host}: ${type} while ${VERB[op]} ${volumeObjectName(volume.id)}`);
      }
      case 'delay':
        await this.sleep(rule.delay_ms ?? 0, opts?.signal);
        return 'continue';
      case 'hang':
        return waitForAbort(opts?.signal, `${VERB[op]} ${volumeObjectName(volume.id)} (injected hang on ${this.host})`);
      case 'exit':
        return 'exit';
      default:
        // An unknown action from the database: fail loudly rather than ignore the rule.
        throw new CinderError('VolumeBackendAPIException', `Unknown fault action '${String((rule as { action: unknown }).action)}' in fault rule ${rule.id} on ${this.host}`);
    }
  }
}
