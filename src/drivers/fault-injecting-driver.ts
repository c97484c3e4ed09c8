/**
 * Wraps a volume driver and applies the fault rules of its backend (faults.ts) to the operations a
 * create needs, failing as real drivers fail: errors before the backend is touched, after the volume
 * is written, or after a short write; any exception name, Cinder's or not; delays, hangs, and
 * killing the worker in the middle of a create.
 */
import { promises as fs } from 'node:fs';
import { CINDER_ERROR_TYPES, CinderError } from '../domain/cinder-errors';
import { volumeObjectName, type Image } from '../domain/volume';
import type { PoolStatsReport } from '../domain/pools';
import type { DriverSnapshot, DriverVolume, ExpectedObjects, OpOptions, VolumeDriver } from './driver';
import type { FaultOp, FaultRule, FaultSource } from '../domain/faults';
import { abortableSleep, waitForAbort, type CommitHookOptions, type PendingWrite } from './op-options';

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

/** An error of its own class named `name`, as a driver's or a library's exception is: Temporal
 *  takes the failure type from the class name. */
function driverBug(name: string, message: string): Error {
  const cls = class extends Error {};
  Object.defineProperty(cls, 'name', { value: name });
  const err = new cls(message);
  err.name = name;
  return err;
}

function isAfterWrite(rule: FaultRule): boolean {
  return rule.action === 'error' && rule.stage === 'after_write';
}

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
    if (rule && isAfterWrite(rule)) {
      await this.inner.copyImageToVolume(volume, image, opts);
      throw this.injected(rule, 'copy_image', volume, ' (after copying it)');
    }
    if (rule) {
      // exit before the copy: the volume exists, its data does not.
      const proceed = await this.apply(rule, 'copy_image', volume, opts);
      if (proceed === 'exit') this.exit();
    }
    await this.inner.copyImageToVolume(volume, image, opts);
  }

  async deleteVolume(volume: DriverVolume, opts?: OpOptions): Promise<boolean> {
    const rule = await this.faults.takeFault(this.host, 'delete', volume.name ?? null);
    if (rule && isAfterWrite(rule)) {
      // The delete happened, but the driver says it failed: the retried delete finds nothing.
      await this.inner.deleteVolume(volume, opts);
      throw this.injected(rule, 'delete', volume, ' (after deleting it)');
    }
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

  private async faultedCreate(
    volume: DriverVolume,
    opts: OpOptions | undefined,
    create: (opts?: OpOptions) => Promise<void>,
  ): Promise<void> {
    const rule = await this.faults.takeFault(this.host, 'create', volume.name ?? null);
    if (rule && isAfterWrite(rule)) {
      // The driver made the volume, whole, then failed: the compensation has a real file to delete.
      await create(opts);
      throw this.injected(rule, 'create', volume, ' (after writing it)');
    }
    if (rule?.action === 'error' && rule.stage === 'partial_write')
      return this.partialCreate(rule, volume, opts, create);
    if (!rule || (await this.apply(rule, 'create', volume, opts)) !== 'exit') {
      return create(opts);
    }
    // Die mid-create: a driver that writes aside calls the hook with its partial write on disk,
    // before the rename; one without the hook finishes and we die before the create is reported.
    const hooked: CommitHookOptions = { ...opts, beforeCommit: () => this.exit() };
    await create(hooked);
    this.exit();
  }

  /** A driver that ran out of room: `volume-<id>` lands with half the bytes asked for, then it
   *  raises. A driver without the commit hook writes the volume whole before the error. */
  private async partialCreate(
    rule: FaultRule,
    volume: DriverVolume,
    opts: OpOptions | undefined,
    create: (opts?: OpOptions) => Promise<void>,
  ): Promise<void> {
    let written: PendingWrite | null = null;
    const hooked: CommitHookOptions = {
      ...opts,
      beforeCommit: async (w) => {
        written = w;
        await fs.truncate(w.path, Math.floor(w.bytes / 2));
      },
    };
    await create(hooked);
    const w = written as PendingWrite | null;
    throw this.injected(
      rule,
      'create',
      volume,
      w ? ` (after writing ${Math.floor(w.bytes / 2)} of ${w.bytes} bytes)` : ' (after writing it)',
    );
  }

  /** The error a rule raises: a CinderError for Cinder's names, else a plain error of that name, as
   *  a driver bug or a library (oslo's ProcessExecutionError) raises it. */
  private injected(rule: FaultRule, op: FaultOp, volume: DriverVolume, when = ''): Error {
    const type = rule.error_type || DEFAULT_ERROR_TYPE[op];
    const message = `Injected fault on ${this.host}: ${type} while ${VERB[op]} ${volumeObjectName(volume.id)}${when}`;
    if (CINDER_ERROR_TYPES.includes(type)) return new CinderError(type, message);
    return driverBug(type, message);
  }

  /** Applies error/delay/hang; returns 'exit' for the caller to place the crash, 'continue' else. */
  private async apply(
    rule: FaultRule,
    op: FaultOp,
    volume: DriverVolume,
    opts: OpOptions | undefined,
  ): Promise<'continue' | 'exit'> {
    switch (rule.action) {
      case 'error':
        throw this.injected(rule, op, volume);
      case 'delay':
        await this.sleep(rule.delay_ms ?? 0, opts?.signal);
        return 'continue';
      case 'hang':
        return waitForAbort(opts?.signal, `${VERB[op]} ${volumeObjectName(volume.id)} (injected hang on ${this.host})`);
      case 'exit':
        return 'exit';
      default:
        // An unknown action from the database: fail loudly rather than ignore the rule.
        throw new CinderError(
          'VolumeBackendAPIException',
          `Unknown fault action '${String((rule as { action: unknown }).action)}' in fault rule ${rule.id} on ${this.host}`,
        );
    }
  }
}
