/**
 * A volume driver whose pools are directories and whose volumes are sparse files `volume-<id>`.
 * Creates write to a uniquely named partial file in the same directory and rename it into place, so
 * `volume-<id>` exists whole or not at all, and a retried create finds the finished one.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs, constants as fsConstants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { CinderError } from '../domain/cinder-errors';
import { splitBackendId, volumeObjectName, type Image } from '../domain/volume';
import type { PoolStatsReport } from '../domain/pools';
import {
  parseBackendConfig,
  type BackendConfig,
  type ResolvedBackendConfig,
  type ResolvedPoolConfig,
} from './backend-config';
import type { DriverSnapshot, DriverVolume, ExpectedObjects, OpOptions, VolumeDriver } from './driver';
import { DriverAbortError, isAbortError, throwIfAborted, type CommitHookOptions } from './op-options';
import { PoolLedger } from './pool-ledger';

export const GiB = 1024 ** 3;
/** Read size of the sparse copy (large: reading holes is cheap, calls are not). */
const CHUNK = 8 * 1024 * 1024;
/** Zero-detection granularity inside a chunk: a few non-zero bytes allocate at most this much. */
const BLOCK = 64 * 1024;
const ZEROS = Buffer.alloc(CHUNK);
const PARTIAL_TOKEN = /^[0-9a-f]{16}$/;
/** Ids become file names: no separators, no dot-only names. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const SAFE_VOLUME_OBJECT = /^volume-[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Free bytes of the file system holding dir, as `df` reports them to an unprivileged user. */
export type StatFs = (dir: string) => Promise<{ bavail: number; bsize: number }>;

export interface FileDriverOptions {
  /** The file system's free space (fs.statfs by default; tests pass their own). */
  statfs?: StatFs;
}

export function snapshotObjectName(snapshotId: string): string {
  return `snapshot-${snapshotId}`;
}

interface Located {
  pool: ResolvedPoolConfig;
  file: string;
}

function errnoCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? String((e as { code: unknown }).code) : undefined;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

export class FileVolumeDriver implements VolumeDriver {
  readonly host: string;
  readonly config: ResolvedBackendConfig;
  private readonly pools = new Map<string, ResolvedPoolConfig>();
  private readonly dirs = new Map<string, string>();
  /** Per pool name: its ledger, ready once the first scan is done. */
  private readonly ledgers = new Map<string, { ledger: PoolLedger; ready: Promise<void> }>();
  private readonly statfs: StatFs;

  constructor(config: BackendConfig, options: FileDriverOptions = {}) {
    this.statfs = options.statfs ?? ((dir) => fs.statfs(dir));
    // Validate again: a driver built from a hand-written object gets the same checks and defaults.
    this.config = parseBackendConfig(config, `backend ${String((config as { host?: unknown }).host)}`);
    this.host = this.config.host;
    for (const pool of this.config.pools) {
      this.pools.set(pool.name, pool);
      this.dirs.set(pool.name, path.resolve(pool.path));
    }
  }

  // ---- creates -------------------------------------------------------------------------------

  async createVolume(volume: DriverVolume, opts?: CommitHookOptions): Promise<void> {
    const what = `create of ${volumeObjectName(volume.id)}`;
    throwIfAborted(opts?.signal, what);
    const target = await this.target(volume, 'volume');
    const bytes = volume.size * GiB;
    if (await this.finishedAlready(target, bytes)) return;
    await this.writeAside(target, bytes, what, opts, async (fh) => {
      await fh.truncate(bytes);
    });
  }

  async createVolumeFromSnapshot(
    volume: DriverVolume,
    snapshot: DriverSnapshot,
    opts?: CommitHookOptions,
  ): Promise<void> {
    const what = `create of ${volumeObjectName(volume.id)} from ${snapshotObjectName(snapshot.id)}`;
    throwIfAborted(opts?.signal, what);
    const target = await this.target(volume, 'volume');
    const bytes = volume.size * GiB;
    if (await this.finishedAlready(target, bytes)) return;
    if (volume.size < snapshot.size) {
      throw new CinderError(
        'InvalidInput',
        `Volume size ${volume.size} GiB is smaller than snapshot ${snapshot.id} (${snapshot.size} GiB)`,
        'size',
      );
    }
    this.checkSafeId(snapshot.id, 'snapshot');
    const src = await this.locate(snapshot.host, snapshotObjectName(snapshot.id), 'snapshot');
    if (!src) throw new CinderError('SnapshotNotFound', `Snapshot ${snapshot.id} could not be found on ${this.host}`);
    await this.copyInto(
      target,
      src.file,
      bytes,
      what,
      opts,
      () => new CinderError('SnapshotNotFound', `Snapshot ${snapshot.id} could not be found on ${this.host}`),
    );
  }

  async createClonedVolume(volume: DriverVolume, source: DriverVolume, opts?: CommitHookOptions): Promise<void> {
    const what = `create of ${volumeObjectName(volume.id)} from ${volumeObjectName(source.id)}`;
    throwIfAborted(opts?.signal, what);
    const target = await this.target(volume, 'volume');
    const bytes = volume.size * GiB;
    if (await this.finishedAlready(target, bytes)) return;
    if (volume.size < source.size) {
      throw new CinderError(
        'InvalidInput',
        `Volume size ${volume.size} GiB is smaller than source volume ${source.id} (${source.size} GiB)`,
        'size',
      );
    }
    this.checkSafeId(source.id, 'source volume');
    const src = await this.locate(source.host, volumeObjectName(source.id), 'source volume');
    if (!src) throw new CinderError('VolumeNotFound', `Volume ${source.id} could not be found on ${this.host}`);
    await this.copyInto(
      target,
      src.file,
      bytes,
      what,
      opts,
      () => new CinderError('VolumeNotFound', `Volume ${source.id} could not be found on ${this.host}`),
    );
  }

  async copyImageToVolume(volume: DriverVolume, image: Image, opts?: OpOptions): Promise<void> {
    const what = `copy of image ${image.id} to ${volumeObjectName(volume.id)}`;
    throwIfAborted(opts?.signal, what);
    const volumeBytes = volume.size * GiB;
    if (image.size_gb > volume.size) {
      throw new CinderError(
        'ImageTooBig',
        `Image ${image.id} is ${image.size_gb} GiB, larger than volume ${volume.id} (${volume.size} GiB)`,
      );
    }
    // Cinder creates the volume, then copies: from here on a copy failure leaves the volume behind.
    await this.createVolume(volume, { signal: opts?.signal });
    const target = await this.target(volume, 'volume');

    let src: FileHandle;
    try {
      src = await fs.open(image.path, 'r');
    } catch (e) {
      throw new CinderError(
        'ImageCopyFailure',
        `Failed to copy image ${image.id} to volume ${volume.id}: cannot open ${image.path}: ${describe(e)}`,
      );
    }
    try {
      let srcSize: number;
      try {
        const st = await src.stat();
        if (!st.isFile()) throw new Error(`${image.path} is not a regular file`);
        srcSize = st.size;
      } catch (e) {
        throw new CinderError(
          'ImageCopyFailure',
          `Failed to copy image ${image.id} to volume ${volume.id}: ${describe(e)}`,
        );
      }
      if (srcSize > volumeBytes) {
        throw new CinderError(
          'ImageTooBig',
          `Image ${image.id} holds ${srcSize} bytes, more than volume ${volume.id} (${volume.size} GiB)`,
        );
      }
      let dst: FileHandle;
      try {
        dst = await fs.open(target.file, 'r+');
      } catch (e) {
        throw new CinderError(
          'ImageCopyFailure',
          `Failed to copy image ${image.id} to volume ${volume.id}: cannot open the volume: ${describe(e)}`,
        );
      }
      try {
        // Zero blocks are skipped: the volume was created blank, and a retry rewrites the same image.
        await sparseCopy(src, dst, srcSize, opts?.signal, what);
      } catch (e) {
        if (isAbortError(e) || e instanceof CinderError) throw e;
        throw new CinderError(
          'ImageCopyFailure',
          `Failed to copy image ${image.id} to volume ${volume.id}: ${describe(e)}`,
        );
      } finally {
        await dst.close();
        // Written or not, the blocks the copy got to are allocated now.
        await this.noteFile(target.pool, target.file);
      }
    } finally {
      await src.close();
    }
  }

  async createSnapshot(snapshot: DriverSnapshot): Promise<void> {
    const what = `create of ${snapshotObjectName(snapshot.id)}`;
    this.checkSafeId(snapshot.id, 'snapshot');
    this.checkSafeId(snapshot.volume_id, 'volume');
    const pool = this.poolOf(snapshot.host, 'snapshot');
    const target: Located = { pool, file: path.join(this.dirOf(pool), snapshotObjectName(snapshot.id)) };
    await fs.mkdir(path.dirname(target.file), { recursive: true });
    const bytes = snapshot.size * GiB;
    if (await this.finishedAlready(target, bytes)) return;
    // The snapshot lives next to its volume in Cinder; look in the snapshot's pool first, then any.
    const src = await this.locate(snapshot.host, volumeObjectName(snapshot.volume_id), 'volume');
    if (!src)
      throw new CinderError('VolumeNotFound', `Volume ${snapshot.volume_id} could not be found on ${this.host}`);
    await this.copyInto(
      target,
      src.file,
      bytes,
      what,
      undefined,
      () => new CinderError('VolumeNotFound', `Volume ${snapshot.volume_id} could not be found on ${this.host}`),
    );
  }

  // ---- delete, queries -----------------------------------------------------------------------

  async deleteVolume(volume: DriverVolume, opts?: OpOptions): Promise<boolean> {
    throwIfAborted(opts?.signal, `delete of ${volumeObjectName(volume.id)}`);
    const target = await this.target(volume, 'volume');
    const dir = path.dirname(target.file);
    const name = path.basename(target.file);
    let removed = false;
    // Partials first: a create still running elsewhere then fails its rename instead of landing
    // its volume after this delete.
    for (const entry of await fs.readdir(dir)) {
      if (!isPartialOf(entry, name)) continue;
      removed = (await unlinkIfPresent(path.join(dir, entry))) || removed;
      this.forgetFile(target.pool, entry);
    }
    removed = (await unlinkIfPresent(target.file)) || removed;
    this.forgetFile(target.pool, name);
    return removed;
  }

  async volumeExists(volume: DriverVolume): Promise<boolean> {
    const target = await this.target(volume, 'volume');
    return (await statFile(target.file)) !== null;
  }

  /** Accepts a pool name or a full backend id host@backend#pool. */
  async listPoolFiles(pool: string): Promise<string[]> {
    const p = pool.includes('#') ? this.poolOf(pool, 'pool') : this.pools.get(pool);
    if (!p) throw new CinderError('VolumeBackendAPIException', `Pool '${pool}' is not configured on ${this.host}`);
    const dir = this.dirOf(p);
    await fs.mkdir(dir, { recursive: true });
    return (await fs.readdir(dir)).sort();
  }

  /**
   * One report per pool, from the pool's ledger (no file is read) and the file system's free space.
   * volume_names: of `expected`'s names for the pool, those on disk (each checked in the ledger,
   * then on disk, so a file another process wrote counts too); every volume without `expected`.
   */
  async getVolumeStats(expected?: ExpectedObjects): Promise<PoolStatsReport[]> {
    const reports: PoolStatsReport[] = [];
    for (const pool of this.config.pools)
      reports.push(await this.poolStats(pool, expected?.get(`${this.host}#${pool.name}`)));
    return reports;
  }

  private async poolStats(pool: ResolvedPoolConfig, expected: readonly string[] | undefined): Promise<PoolStatsReport> {
    const capabilities: Record<string, unknown> = {
      volume_backend_name: this.config.volume_backend_name,
      storage_protocol: this.config.storage_protocol,
      vendor_name: this.config.vendor_name,
      pool_name: pool.name,
      thin_provisioning_support: pool.thin_provisioning,
      thick_provisioning_support: pool.thick_provisioning,
      ...pool.capabilities,
    };
    const report: PoolStatsReport = {
      backend_id: `${this.host}#${pool.name}`,
      availability_zone: pool.availability_zone,
      total_capacity_gb: pool.total_capacity_gb,
      free_capacity_gb: null,
      provisioned_capacity_gb: 0,
      reserved_percentage: pool.reserved_percentage,
      max_over_subscription_ratio: pool.max_over_subscription_ratio,
      thin_provisioning_support: pool.thin_provisioning,
      thick_provisioning_support: pool.thick_provisioning,
      capabilities,
      volume_names: [],
    };
    try {
      const ledger = await this.ledgerOf(pool);
      report.volume_names =
        expected === undefined ? ledger.volumeNames() : await this.presentOf(pool, ledger, expected);
      const { bavail, bsize } = await this.statfs(this.dirOf(pool));
      // Thin free space is what the files really occupy; thick is what they provision. Either way
      // never more than the file system has left (Cinder's NFS driver reads df the same way).
      const own = pool.thin_provisioning
        ? pool.total_capacity_gb - ledger.allocatedBytes / GiB
        : pool.total_capacity_gb - ledger.provisionedGb;
      report.provisioned_capacity_gb = ledger.provisionedGb;
      report.free_capacity_gb = Math.max(0, round2(Math.min(own, (bavail * bsize) / GiB)));
    } catch {
      // Unreadable pool: free null makes the CapacityFilter skip it (Cinder's "stats broken").
      report.free_capacity_gb = null;
      report.volume_names = [];
    }
    return report;
  }

  /** The names among `names` whose volume file is in the pool. */
  private async presentOf(pool: ResolvedPoolConfig, ledger: PoolLedger, names: readonly string[]): Promise<string[]> {
    const present: string[] = [];
    for (const name of names) {
      if (ledger.hasVolume(name)) present.push(name);
      else if (SAFE_VOLUME_OBJECT.test(name)) {
        const st = await statFile(path.join(this.dirOf(pool), name));
        if (st) {
          ledger.note(name, st);
          present.push(name);
        }
      }
    }
    return present;
  }

  /** The pool's ledger; the first call scans the pool directory once (a worker's start). */
  private ledgerOf(pool: ResolvedPoolConfig): Promise<PoolLedger> {
    let state = this.ledgers.get(pool.name);
    if (!state) {
      const ledger = new PoolLedger();
      const ready = this.scan(pool, ledger);
      const created = { ledger, ready };
      state = created;
      this.ledgers.set(pool.name, created);
      // A failed scan is tried again by the next report.
      ready.catch(() => this.ledgers.get(pool.name) === created && this.ledgers.delete(pool.name));
    }
    const { ledger, ready } = state;
    return ready.then(() => ledger);
  }

  private async scan(pool: ResolvedPoolConfig, ledger: PoolLedger): Promise<void> {
    const dir = this.dirOf(pool);
    await fs.mkdir(dir, { recursive: true });
    for (const entry of await fs.readdir(dir)) ledger.scanned(entry, await statFile(path.join(dir, entry)));
    ledger.scanDone();
  }

  /** After this driver wrote a file: its facts into the pool's ledger (if a report built one). */
  private async noteFile(pool: ResolvedPoolConfig, file: string): Promise<void> {
    const state = this.ledgers.get(pool.name);
    if (!state) return;
    try {
      state.ledger.note(path.basename(file), await statFile(file));
    } catch {
      // Unknown state of this file: the next report scans the pool again.
      if (this.ledgers.get(pool.name) === state) this.ledgers.delete(pool.name);
    }
  }

  /** After this driver removed a file (or found it absent). */
  private forgetFile(pool: ResolvedPoolConfig, name: string): void {
    this.ledgers.get(pool.name)?.ledger.note(name, null);
  }

  // ---- internals -----------------------------------------------------------------------------

  private checkSafeId(id: string, what: string): void {
    if (typeof id !== 'string' || !SAFE_ID.test(id)) {
      throw new CinderError(
        'InvalidInput',
        `Invalid ${what} id '${String(id)}': letters, digits, '.', '_' and '-' only`,
      );
    }
  }

  private dirOf(pool: ResolvedPoolConfig): string {
    return this.dirs.get(pool.name) ?? path.resolve(pool.path);
  }

  /** The configured pool named by host@backend#pool; the backend must be this one. */
  private poolOf(backendId: string, what: string): ResolvedPoolConfig {
    const { host, pool } = splitBackendId(backendId ?? '');
    if (host !== this.host) {
      throw new CinderError(
        'VolumeBackendAPIException',
        `The ${what} is on '${backendId}', not on this backend ${this.host}`,
      );
    }
    // Without '#', Cinder names the default pool '_pool0'; a single-pool backend takes it as its pool.
    const found =
      this.pools.get(pool) ??
      (backendId.includes('#') || this.config.pools.length !== 1 ? undefined : this.config.pools[0]);
    if (!found) {
      throw new CinderError(
        'VolumeBackendAPIException',
        `Pool '${pool}' of '${backendId}' is not configured on ${this.host}`,
      );
    }
    return found;
  }

  /** Where `volume-<id>` of this volume lives; makes sure the pool directory exists. */
  private async target(volume: DriverVolume, what: string): Promise<Located> {
    this.checkSafeId(volume.id, what);
    if (!Number.isInteger(volume.size) || volume.size <= 0) {
      throw new CinderError(
        'InvalidInput',
        `Invalid size ${volume.size} for volume ${volume.id}: a positive whole number of GiB`,
        'size',
      );
    }
    const pool = this.poolOf(volume.host, what);
    const dir = this.dirOf(pool);
    await fs.mkdir(dir, { recursive: true });
    return { pool, file: path.join(dir, volumeObjectName(volume.id)) };
  }

  /** Finds `name` in the pool of backendId, then in the other pools; the backend must be this one. */
  private async locate(backendId: string, name: string, what: string): Promise<Located | null> {
    const { host, pool } = splitBackendId(backendId ?? '');
    if (host !== this.host) {
      throw new CinderError(
        'VolumeBackendAPIException',
        `The ${what} ${name} is on '${backendId}', not on this backend ${this.host}: cross-backend copies are not supported`,
      );
    }
    const first = this.pools.get(pool);
    const order = first ? [first, ...this.config.pools.filter((p) => p !== first)] : this.config.pools;
    for (const p of order) {
      const file = path.join(this.dirOf(p), name);
      if (await statFile(file)) return { pool: p, file };
    }
    return null;
  }

  /** True when the object is already complete (a retried create); throws if it differs. */
  private async finishedAlready(target: Located, bytes: number): Promise<boolean> {
    const st = await statFile(target.file);
    if (!st) return false;
    if (st.size === bytes) return true;
    throw new CinderError(
      'VolumeBackendAPIException',
      `${path.basename(target.file)} already exists in pool ${target.pool.name} of ${this.host} with ${st.size} bytes, not the ${bytes} asked for`,
    );
  }

  /** Copies src into a new object of `bytes`, sparse-aware; src may not exceed bytes. */
  private async copyInto(
    target: Located,
    srcFile: string,
    bytes: number,
    what: string,
    opts: CommitHookOptions | undefined,
    missing: () => Error,
  ): Promise<void> {
    let src: FileHandle;
    try {
      src = await fs.open(srcFile, 'r');
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw missing();
      throw new CinderError('VolumeBackendAPIException', `Cannot open ${srcFile} on ${this.host}: ${describe(e)}`);
    }
    try {
      const srcSize = (await src.stat()).size;
      if (srcSize > bytes) {
        throw new CinderError(
          'InvalidInput',
          `${path.basename(srcFile)} holds ${srcSize} bytes, more than the ${bytes} of ${path.basename(target.file)}`,
          'size',
        );
      }
      await this.writeAside(target, bytes, what, opts, async (fh) => {
        await sparseCopy(src, fh, srcSize, opts?.signal, what);
        await fh.truncate(bytes);
      });
    } finally {
      await src.close();
    }
  }

  /**
   * Writes the object under a unique partial name, then renames it into place. On failure the
   * partial is removed, except when the commit hook threw (a simulated crash leaves it, as a real
   * one would; deleteVolume cleans it up).
   */
  private async writeAside(
    target: Located,
    bytes: number,
    what: string,
    opts: CommitHookOptions | undefined,
    fill: (fh: FileHandle) => Promise<void>,
  ): Promise<void> {
    const dir = path.dirname(target.file);
    const name = path.basename(target.file);
    const partial = path.join(dir, partialName(name, randomBytes(8).toString('hex')));
    let keepPartial = false;
    try {
      const fh = await fs.open(partial, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_RDWR, 0o644);
      try {
        await fill(fh);
      } finally {
        await fh.close();
      }
      throwIfAborted(opts?.signal, what);
      if (opts?.beforeCommit) {
        try {
          await opts.beforeCommit({ path: partial, bytes });
        } catch (e) {
          keepPartial = true;
          await this.noteFile(target.pool, partial);
          throw e;
        }
      }
      try {
        await fs.rename(partial, target.file);
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT') throw e;
        // Our partial was removed under us: either a concurrent create of the same volume finished
        // (and cleaned up), or a delete ran. Only the first counts as success.
        if ((await statFile(target.file))?.size === bytes) return this.noteFile(target.pool, target.file);
        throw new CinderError(
          'VolumeBackendAPIException',
          `${what} on ${this.host} was interrupted: its partial write was removed (volume deleted meanwhile?)`,
        );
      }
    } catch (e) {
      if (!keepPartial) await unlinkIfPresent(partial).catch(() => false);
      if (e instanceof CinderError || isAbortError(e) || keepPartial) throw e;
      throw new CinderError('VolumeBackendAPIException', `${what} failed on ${this.host}: ${describe(e)}`);
    }
    await this.noteFile(target.pool, target.file);
    // Partials left by an earlier attempt that died mid-create would leak: the create is done now.
    for (const entry of await fs.readdir(dir).catch(() => [] as string[])) {
      if (!isPartialOf(entry, name)) continue;
      await unlinkIfPresent(path.join(dir, entry)).catch(() => false);
      this.forgetFile(target.pool, entry);
    }
  }
}

/** `.volume-<id>.partial-<16 hex>`: hidden, and exactly attributable to one object name. */
function partialName(objectName: string, token: string): string {
  return `.${objectName}.partial-${token}`;
}

function isPartialOf(entry: string, objectName: string): boolean {
  if (entry === `.${objectName}.partial`) return true; // the plain form, should anything write it
  const prefix = `.${objectName}.partial-`;
  return entry.startsWith(prefix) && PARTIAL_TOKEN.test(entry.slice(prefix.length));
}

async function statFile(file: string): Promise<import('node:fs').Stats | null> {
  try {
    const st = await fs.stat(file);
    return st.isFile() ? st : null;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return null;
    throw e;
  }
}

async function unlinkIfPresent(file: string): Promise<boolean> {
  try {
    await fs.unlink(file);
    return true;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  }
}

/**
 * Copies the first `size` bytes of src into dst at the same offsets, skipping all-zero blocks so
 * holes stay holes (dst must start as an empty or sparse file). Checks the signal between chunks.
 */
export async function sparseCopy(
  src: FileHandle,
  dst: FileHandle,
  size: number,
  signal: AbortSignal | undefined,
  what: string,
): Promise<void> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = 0;
  while (pos < size) {
    if (signal?.aborted) throw new DriverAbortError(what, signal.reason);
    const want = Math.min(CHUNK, size - pos);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await src.read(buf, got, want - got, pos + got);
      if (bytesRead === 0) break; // source shrank under us: copy what is there
      got += bytesRead;
    }
    // Mostly holes: one compare skips the whole chunk.
    if (buf.subarray(0, got).equals(ZEROS.subarray(0, got))) {
      if (got < want) break;
      pos += got;
      continue;
    }
    for (let off = 0; off < got; off += BLOCK) {
      const end = Math.min(off + BLOCK, got);
      const block = buf.subarray(off, end);
      if (block.equals(ZEROS.subarray(0, end - off))) continue;
      let written = 0;
      while (written < block.length) {
        const { bytesWritten } = await dst.write(block, written, block.length - written, pos + off + written);
        written += bytesWritten;
      }
    }
    if (got < want) break;
    pos += got;
  }
}
