import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CinderError } from '../../src/domain/cinder-errors';
import type { Image } from '../../src/domain/volume';
import {
  BackendConfigError,
  parseBackendConfig,
  parseBackendConfigs,
  type BackendConfig,
} from '../../src/drivers/backend-config';
import type { DriverVolume } from '../../src/drivers/driver';
import { FileVolumeDriver, GiB } from '../../src/drivers/file-driver';

const HOST = 'node1@file';
const MiB = 1024 * 1024;

let root: string;
let counter = 0;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'cinder-driver-file-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** A fresh backend with a thin and a thick pool in its own directory. */
async function newDriver(): Promise<{ driver: FileVolumeDriver; dir: string; config: BackendConfig }> {
  const dir = path.join(root, `b${++counter}`);
  await fs.mkdir(dir);
  const config: BackendConfig = {
    host: HOST,
    pools: [
      {
        name: 'thin',
        path: path.join(dir, 'thin'),
        total_capacity_gb: 10,
        reserved_percentage: 5,
        capabilities: { tier: 'gold' },
      },
      {
        name: 'thick',
        path: path.join(dir, 'thick'),
        total_capacity_gb: 10,
        thin_provisioning: false,
        availability_zone: 'az2',
      },
    ],
  };
  return { driver: new FileVolumeDriver(config), dir, config };
}

function vol(id: string, size: number, pool = 'thin', host = HOST): DriverVolume {
  return { id, size, host: `${host}#${pool}` };
}

function cinderType(type: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof CinderError, `expected CinderError(${type}), got ${String(e)}`);
    assert.equal(e.cinderType, type, e.message);
    return true;
  };
}

async function writeAt(file: string, offset: number, data: Buffer): Promise<void> {
  const fh = await fs.open(file, 'r+');
  try {
    await fh.write(data, 0, data.length, offset);
  } finally {
    await fh.close();
  }
}

async function readAt(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await fs.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, offset);
    return buf;
  } finally {
    await fh.close();
  }
}

describe('FileVolumeDriver creates', () => {
  test('createVolume makes a sparse file of exactly size GiB, nothing else left in the pool', async () => {
    const { driver, dir } = await newDriver();
    await driver.createVolume(vol('v1', 2));
    const st = await fs.stat(path.join(dir, 'thin', 'volume-v1'));
    assert.equal(st.size, 2 * GiB);
    assert.ok(st.blocks * 512 < MiB, `allocated ${st.blocks * 512} bytes, expected ~0`);
    assert.deepEqual(await driver.listPoolFiles('thin'), ['volume-v1']);
    assert.deepEqual(await driver.listPoolFiles(`${HOST}#thin`), ['volume-v1']);
    assert.equal(await driver.volumeExists(vol('v1', 2)), true);
    assert.equal(await driver.volumeExists(vol('v2', 2)), false);
  });

  test('createVolume is idempotent and does not touch a finished volume', async () => {
    const { driver, dir } = await newDriver();
    await driver.createVolume(vol('v1', 1));
    const file = path.join(dir, 'thin', 'volume-v1');
    await writeAt(file, 0, Buffer.from('keep me'));
    const before = await fs.stat(file);
    await driver.createVolume(vol('v1', 1));
    const after = await fs.stat(file);
    assert.equal(after.ino, before.ino);
    assert.equal((await readAt(file, 0, 7)).toString(), 'keep me');
    // Same id, other size: a conflict, not a silent success.
    await assert.rejects(driver.createVolume(vol('v1', 2)), cinderType('VolumeBackendAPIException'));
  });

  test('a successful create removes partial writes left by an earlier attempt that died', async () => {
    const { driver, dir } = await newDriver();
    const pool = path.join(dir, 'thin');
    await fs.mkdir(pool, { recursive: true });
    await fs.writeFile(path.join(pool, '.volume-v1.partial-0123456789abcdef'), '');
    await driver.createVolume(vol('v1', 1));
    assert.deepEqual(await driver.listPoolFiles('thin'), ['volume-v1']);
  });

  test('invalid ids, sizes, hosts and pools are refused', async () => {
    const { driver } = await newDriver();
    await assert.rejects(driver.createVolume(vol('../escape', 1)), cinderType('InvalidInput'));
    await assert.rejects(driver.createVolume(vol('v1', 0)), cinderType('InvalidInput'));
    await assert.rejects(driver.createVolume(vol('v1', 1.5)), cinderType('InvalidInput'));
    await assert.rejects(
      driver.createVolume(vol('v1', 1, 'thin', 'other@file')),
      cinderType('VolumeBackendAPIException'),
    );
    await assert.rejects(driver.createVolume(vol('v1', 1, 'nope')), cinderType('VolumeBackendAPIException'));
    await assert.rejects(driver.listPoolFiles('nope'), cinderType('VolumeBackendAPIException'));
  });
});

describe('FileVolumeDriver deleteVolume', () => {
  test('removes the volume and its partial writes, only its own, and is idempotent', async () => {
    const { driver, dir } = await newDriver();
    await driver.createVolume(vol('v1', 1));
    const pool = path.join(dir, 'thin');
    await fs.writeFile(path.join(pool, '.volume-v1.partial-0123456789abcdef'), 'x');
    await fs.writeFile(path.join(pool, '.volume-v1.partial'), 'x');
    // Partials of other volumes whose ids share a prefix must survive.
    await fs.writeFile(path.join(pool, '.volume-v1.b.partial-0123456789abcdef'), 'x');
    await fs.writeFile(path.join(pool, '.volume-v1.partial-0123456789abcdef.partial-fedcba9876543210'), 'x');
    assert.equal(await driver.deleteVolume(vol('v1', 1)), true);
    assert.deepEqual(await driver.listPoolFiles('thin'), [
      '.volume-v1.b.partial-0123456789abcdef',
      '.volume-v1.partial-0123456789abcdef.partial-fedcba9876543210',
    ]);
    assert.equal(await driver.deleteVolume(vol('v1', 1)), false);
  });

  test('removes a lone partial write (a create that died) and reports it', async () => {
    const { driver, dir } = await newDriver();
    await fs.mkdir(path.join(dir, 'thin'), { recursive: true });
    await fs.writeFile(path.join(dir, 'thin', '.volume-v9.partial-00000000000000ff'), '');
    assert.equal(await driver.deleteVolume(vol('v9', 1)), true);
    assert.deepEqual(await driver.listPoolFiles('thin'), []);
  });
});

describe('FileVolumeDriver copies', () => {
  const marks: Array<[number, string]> = [
    [0, 'first bytes'],
    [5 * MiB + 3, 'middle'],
    [GiB - 4, 'end!'],
  ];

  async function sourceVolume(driver: FileVolumeDriver, dir: string, id: string): Promise<string> {
    await driver.createVolume(vol(id, 1));
    const file = path.join(dir, 'thin', `volume-${id}`);
    for (const [off, text] of marks) await writeAt(file, off, Buffer.from(text));
    return file;
  }

  test('clone copies the data sparsely into a larger volume, across pools of the backend', async () => {
    const { driver, dir } = await newDriver();
    await sourceVolume(driver, dir, 'src');
    await driver.createClonedVolume(vol('clone', 2, 'thick'), vol('src', 1));
    const file = path.join(dir, 'thick', 'volume-clone');
    const st = await fs.stat(file);
    assert.equal(st.size, 2 * GiB);
    for (const [off, text] of marks) assert.equal((await readAt(file, off, text.length)).toString(), text);
    assert.ok(st.blocks * 512 <= 2 * MiB, `clone allocated ${st.blocks * 512} bytes: zero blocks were written`);
    assert.deepEqual(await driver.listPoolFiles('thick'), ['volume-clone']);
    // Retried clone: already there, fine.
    await driver.createClonedVolume(vol('clone', 2, 'thick'), vol('src', 1));
  });

  test('from snapshot: the snapshot data, not the volume as changed after it', async () => {
    const { driver, dir } = await newDriver();
    const srcFile = await sourceVolume(driver, dir, 'src');
    const snap = { id: 's1', volume_id: 'src', size: 1, host: `${HOST}#thin` };
    await driver.createSnapshot(snap);
    await driver.createSnapshot(snap); // idempotent
    await writeAt(srcFile, 0, Buffer.from('CHANGED!!!!'));
    await driver.createVolumeFromSnapshot(vol('fromsnap', 2), snap);
    const file = path.join(dir, 'thin', 'volume-fromsnap');
    assert.equal((await fs.stat(file)).size, 2 * GiB);
    for (const [off, text] of marks) assert.equal((await readAt(file, off, text.length)).toString(), text);
    assert.deepEqual(await driver.listPoolFiles('thin'), ['snapshot-s1', 'volume-fromsnap', 'volume-src']);
  });

  test('missing sources, other backends and smaller targets raise Cinder types and leave nothing', async () => {
    const { driver, dir } = await newDriver();
    await sourceVolume(driver, dir, 'src');
    const snap = { id: 'nosnap', volume_id: 'src', size: 1, host: `${HOST}#thin` };
    await assert.rejects(driver.createVolumeFromSnapshot(vol('a', 1), snap), cinderType('SnapshotNotFound'));
    await assert.rejects(driver.createClonedVolume(vol('b', 1), vol('gone', 1)), cinderType('VolumeNotFound'));
    await assert.rejects(
      driver.createClonedVolume(vol('c', 1), vol('src', 1, 'thin', 'other@file')),
      cinderType('VolumeBackendAPIException'),
    );
    await assert.rejects(driver.createClonedVolume(vol('d', 1), vol('src', 2)), cinderType('InvalidInput'));
    // Declared size fits but the source file is bigger than the target: refused before writing.
    await fs.truncate(path.join(dir, 'thin', 'volume-src'), 2 * GiB);
    await assert.rejects(driver.createClonedVolume(vol('e', 1), vol('src', 1)), cinderType('InvalidInput'));
    await assert.rejects(
      driver.createSnapshot({ id: 's2', volume_id: 'gone', size: 1, host: `${HOST}#thin` }),
      cinderType('VolumeNotFound'),
    );
    assert.deepEqual(await driver.listPoolFiles('thin'), ['volume-src']);
  });

  test('copyImageToVolume creates the volume, then copies the image data', async () => {
    const { driver, dir } = await newDriver();
    const imageFile = path.join(dir, 'image.raw');
    const data = Buffer.alloc(3 * MiB);
    data.write('bootloader', 0);
    data.write('rootfs', 2 * MiB + 17);
    await fs.writeFile(imageFile, data);
    const image: Image = {
      id: 'img1',
      name: 'cirros',
      size_gb: 1,
      disk_format: 'raw',
      status: 'active',
      path: imageFile,
    };
    await driver.copyImageToVolume(vol('iv', 1), image);
    const file = path.join(dir, 'thin', 'volume-iv');
    assert.equal((await fs.stat(file)).size, GiB);
    assert.ok((await readAt(file, 0, 3 * MiB)).equals(data));
  });

  test('image too big is refused before anything is written; an unreadable image is ImageCopyFailure after the create', async () => {
    const { driver, dir } = await newDriver();
    const imageFile = path.join(dir, 'small.raw');
    await fs.writeFile(imageFile, 'x');
    const big: Image = { id: 'big', name: 'big', size_gb: 3, disk_format: 'raw', status: 'active', path: imageFile };
    await assert.rejects(driver.copyImageToVolume(vol('iv', 2), big), cinderType('ImageTooBig'));
    assert.equal(await driver.volumeExists(vol('iv', 2)), false);

    const missing: Image = { ...big, id: 'missing', size_gb: 1, path: path.join(dir, 'nope.raw') };
    await assert.rejects(driver.copyImageToVolume(vol('iv', 2), missing), cinderType('ImageCopyFailure'));
    assert.equal(await driver.volumeExists(vol('iv', 2)), true, 'Cinder creates, then copies: the volume exists');

    const dirImage: Image = { ...big, id: 'dir', size_gb: 1, path: dir };
    await assert.rejects(driver.copyImageToVolume(vol('iv', 2), dirImage), cinderType('ImageCopyFailure'));

    // The declared size lies: the file itself is larger than the volume.
    const liar = path.join(dir, 'liar.raw');
    await fs.writeFile(liar, '');
    await fs.truncate(liar, GiB + 1);
    const lying: Image = { ...big, id: 'liar', size_gb: 1, path: liar };
    await assert.rejects(driver.copyImageToVolume(vol('iv2', 1), lying), cinderType('ImageTooBig'));
  });
});

describe('FileVolumeDriver abort', () => {
  test('an already aborted signal stops the create before anything is written', async () => {
    const { driver } = await newDriver();
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(driver.createVolume(vol('v1', 1), { signal: ac.signal }), { name: 'AbortError' });
    assert.deepEqual(await driver.listPoolFiles('thin'), []);
  });

  test('aborting mid-copy throws AbortError and removes the partial write', async () => {
    const { driver, dir } = await newDriver();
    await driver.createVolume(vol('src', 2));
    await writeAt(path.join(dir, 'thin', 'volume-src'), GiB + 5, Buffer.from('late data'));
    const ac = new AbortController();
    const copying = driver.createClonedVolume(vol('clone', 2), vol('src', 2), { signal: ac.signal });
    setImmediate(() => ac.abort(new Error('activity cancelled')));
    await assert.rejects(copying, (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.equal(e.name, 'AbortError');
      assert.equal((e.cause as Error).message, 'activity cancelled');
      return true;
    });
    assert.deepEqual(await driver.listPoolFiles('thin'), ['volume-src']);
  });

  test('aborting an image copy leaves the created volume (as a copy failure would)', async () => {
    const { driver, dir } = await newDriver();
    const imageFile = path.join(dir, 'img.raw');
    await fs.writeFile(imageFile, '');
    await fs.truncate(imageFile, 512 * MiB);
    const image: Image = { id: 'i', name: 'i', size_gb: 1, disk_format: 'raw', status: 'active', path: imageFile };
    const ac = new AbortController();
    const copying = driver.copyImageToVolume(vol('iv', 1), image, { signal: ac.signal });
    setTimeout(() => ac.abort(), 1);
    await assert.rejects(copying, { name: 'AbortError' });
  });
});

describe('FileVolumeDriver getVolumeStats', () => {
  test('the first report (a worker start) scans each pool once, with Cinder numbers: thin by allocated blocks, thick by provisioned size', async () => {
    const { driver, dir } = await newDriver();
    await driver.createVolume(vol('a', 1));
    await driver.createVolume(vol('b', 2));
    // 64 MiB of real data in a thin volume: 0.0625 GiB allocated.
    await writeAt(path.join(dir, 'thin', 'volume-a'), 0, Buffer.alloc(64 * MiB, 1));
    // A stray object of 100 bytes still provisions a whole GiB (ceil per file).
    await fs.writeFile(path.join(dir, 'thin', 'volume-odd'), Buffer.alloc(100, 1));
    await driver.createVolume(vol('c', 1, 'thick'));
    await driver.createVolume(vol('d', 2, 'thick'));
    // A partial write is not a provisioned volume.
    await fs.writeFile(path.join(dir, 'thick', '.volume-e.partial-0000000000000001'), '');
    await fs.truncate(path.join(dir, 'thick', '.volume-e.partial-0000000000000001'), 5 * GiB);

    const [thin, thick] = await driver.getVolumeStats();
    assert.deepEqual(thin, {
      backend_id: 'node1@file#thin',
      availability_zone: 'nova',
      total_capacity_gb: 10,
      free_capacity_gb: 9.94,
      provisioned_capacity_gb: 4,
      reserved_percentage: 5,
      max_over_subscription_ratio: 20,
      thin_provisioning_support: true,
      thick_provisioning_support: false,
      capabilities: {
        volume_backend_name: 'file',
        storage_protocol: 'file',
        vendor_name: 'cinder-temporal',
        pool_name: 'thin',
        thin_provisioning_support: true,
        thick_provisioning_support: false,
        tier: 'gold',
      },
      volume_names: ['volume-a', 'volume-b', 'volume-odd'],
    });
    assert.equal(thick.backend_id, 'node1@file#thick');
    assert.equal(thick.availability_zone, 'az2');
    assert.equal(thick.provisioned_capacity_gb, 3);
    assert.equal(thick.free_capacity_gb, 7);
    assert.equal(thick.thin_provisioning_support, false);
    assert.equal(thick.thick_provisioning_support, true);
    assert.equal(thick.reserved_percentage, 0);
    assert.deepEqual(thick.volume_names, ['volume-c', 'volume-d']);
  });

  test('empty pools report all free and are created on first use', async () => {
    const { driver, dir } = await newDriver();
    const stats = await driver.getVolumeStats();
    assert.deepEqual(
      stats.map((s) => [s.backend_id, s.free_capacity_gb, s.provisioned_capacity_gb]),
      [
        ['node1@file#thin', 10, 0],
        ['node1@file#thick', 10, 0],
      ],
    );
    assert.ok((await fs.stat(path.join(dir, 'thin'))).isDirectory());
  });
});

describe('FileVolumeDriver stats kept as volumes come and go', () => {
  /** Every file operation the driver's module makes through fs.promises, counted while fn runs. */
  async function countingFsCalls<T>(fn: () => Promise<T>): Promise<{ result: T; calls: Record<string, number> }> {
    const calls: Record<string, number> = {};
    const originals = new Map<string, unknown>();
    const fsp = fs as unknown as Record<string, unknown>; // the same object the driver calls through
    for (const name of ['stat', 'lstat', 'readdir', 'open']) {
      const original = fsp[name] as (...a: unknown[]) => unknown;
      originals.set(name, original);
      fsp[name] = (...a: unknown[]) => {
        calls[name] = (calls[name] ?? 0) + 1;
        return original(...a);
      };
    }
    try {
      return { result: await fn(), calls };
    } finally {
      for (const [name, original] of originals) fsp[name] = original;
    }
  }

  test('a running driver reports what a restarted one scans, after creates, copies, snapshots and deletes', async () => {
    const { driver, dir, config } = await newDriver();
    await driver.createVolume(vol('before', 1)); // written before any report: the first scan finds it
    const first = await driver.getVolumeStats();
    assert.deepEqual(
      first.map((r) => r.provisioned_capacity_gb),
      [1, 0],
    );

    await driver.createVolume(vol('a', 2));
    await driver.createVolume(vol('t', 3, 'thick'));
    const imageFile = path.join(dir, 'image.raw');
    await fs.writeFile(imageFile, Buffer.alloc(8 * MiB, 7));
    await driver.copyImageToVolume(vol('img', 1), {
      id: 'i1',
      name: 'i',
      size_gb: 1,
      disk_format: 'raw',
      status: 'active',
      path: imageFile,
    });
    await driver.createSnapshot({ id: 's1', volume_id: 'img', size: 1, host: `${HOST}#thin` });
    await driver.createVolumeFromSnapshot(vol('fromsnap', 2), {
      id: 's1',
      volume_id: 'img',
      size: 1,
      host: `${HOST}#thin`,
    });
    await driver.createClonedVolume(vol('clone', 4, 'thick'), vol('t', 3, 'thick'));
    await assert.rejects(
      driver.createVolume(vol('crashed', 1), {
        beforeCommit: async () => {
          throw new Error('simulated crash');
        },
      }),
      /simulated crash/,
    );
    assert.equal(await driver.deleteVolume(vol('a', 2)), true);
    assert.equal(await driver.deleteVolume(vol('before', 1)), true);

    const running = await driver.getVolumeStats();
    const restarted = await new FileVolumeDriver(config).getVolumeStats();
    assert.deepEqual(running, restarted);
    const [thin, thick] = running;
    assert.deepEqual(thin.volume_names, ['volume-fromsnap', 'volume-img']);
    assert.equal(thin.provisioned_capacity_gb, 3);
    // 8 MiB of image data in volume-img, copied into snapshot-s1 and volume-fromsnap: 24 MiB used.
    assert.equal(thin.free_capacity_gb, round2(10 - (24 * MiB) / GiB));
    assert.deepEqual(thick.volume_names, ['volume-clone', 'volume-t']);
    assert.equal(thick.provisioned_capacity_gb, 7);
    assert.equal(thick.free_capacity_gb, 3);
  });

  test('a report reads no volume file: only the expected names the driver has not seen are looked for', async () => {
    const { driver, dir } = await newDriver();
    for (let i = 0; i < 30; i++) await driver.createVolume(vol(`v${i}`, 1));
    await driver.getVolumeStats(); // the start: one scan
    // Another process wrote volume-other; volume-inflight is a claim whose create has not landed.
    await fs.writeFile(path.join(dir, 'thin', 'volume-other'), '');
    await fs.truncate(path.join(dir, 'thin', 'volume-other'), GiB);
    const expected = new Map([[`${HOST}#thin`, ['volume-v3', 'volume-inflight', 'volume-other', 'volume-../../etc']]]);
    const { result, calls } = await countingFsCalls(() => driver.getVolumeStats(expected));
    assert.deepEqual(result[0].volume_names, ['volume-v3', 'volume-other']);
    assert.deepEqual(result[1].volume_names, []);
    assert.deepEqual(calls, { stat: 2 }); // volume-inflight and volume-other; the unsafe name is never looked up
    assert.equal(result[0].provisioned_capacity_gb, 31); // volume-other is counted from now on
    const again = await countingFsCalls(() => driver.getVolumeStats(new Map([[`${HOST}#thin`, ['volume-other']]])));
    assert.deepEqual(again.calls, {});
  });

  test('free space is never more than the file system has left', async () => {
    const dir = path.join(root, `b${++counter}`);
    const driver = new FileVolumeDriver(
      { host: HOST, pools: [{ name: 'p', path: path.join(dir, 'p'), total_capacity_gb: 100 }] },
      { statfs: async () => ({ bavail: 3 * 1024 * 1024, bsize: 1024 }) }, // 3 GiB left
    );
    await driver.createVolume(vol('x', 1, 'p'));
    const [p] = await driver.getVolumeStats();
    assert.equal(p.free_capacity_gb, 3);
    assert.equal(p.provisioned_capacity_gb, 1);
    const broken = new FileVolumeDriver(
      { host: HOST, pools: [{ name: 'p', path: path.join(dir, 'p'), total_capacity_gb: 100 }] },
      {
        statfs: async () => {
          throw new Error('EIO');
        },
      },
    );
    assert.equal((await broken.getVolumeStats())[0].free_capacity_gb, null);
  });
});

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

describe('parseBackendConfig', () => {
  const pool = { name: 'p0', path: '/tmp/x', total_capacity_gb: 100 };

  test('fills in the defaults', () => {
    const c = parseBackendConfig({ host: 'node1@lvm', pools: [pool] });
    assert.deepEqual(c, {
      host: 'node1@lvm',
      volume_backend_name: 'lvm',
      availability_zone: 'nova',
      storage_protocol: 'file',
      vendor_name: 'cinder-temporal',
      pools: [
        {
          name: 'p0',
          path: '/tmp/x',
          total_capacity_gb: 100,
          thin_provisioning: true,
          thick_provisioning: false,
          reserved_percentage: 0,
          max_over_subscription_ratio: 20,
          availability_zone: 'nova',
          capabilities: {},
        },
      ],
    });
    const thick = parseBackendConfig({
      host: 'n@b',
      availability_zone: 'az9',
      pools: [{ ...pool, thin_provisioning: false }],
    });
    assert.equal(thick.pools[0]!.thick_provisioning, true);
    assert.equal(thick.pools[0]!.availability_zone, 'az9');
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', 42, /^backends\[1\] must be an object$/],
    ['host missing', { pools: [pool] }, /^backends\[1\]\.host is required$/],
    ['host without @', { host: 'node1', pools: [pool] }, /^backends\[1\]\.host must look like 'host@backend'/],
    ['host with #', { host: 'n@b#p', pools: [pool] }, /^backends\[1\]\.host must look like/],
    ['host with two @', { host: 'a@b@c', pools: [pool] }, /^backends\[1\]\.host must look like/],
    ['no pools', { host: 'n@b', pools: [] }, /^backends\[1\]\.pools must be a non-empty list$/],
    ['unknown key', { host: 'n@b', pools: [pool], reserved: 1 }, /^backends\[1\]\.reserved is not a known setting/],
    [
      'total 0',
      { host: 'n@b', pools: [{ ...pool, total_capacity_gb: 0 }] },
      /^backends\[1\]\.pools\[0\]\.total_capacity_gb must be a positive number$/,
    ],
    [
      'total string',
      { host: 'n@b', pools: [pool, { ...pool, name: 'p1', path: '/tmp/y', total_capacity_gb: '5' }] },
      /^backends\[1\]\.pools\[1\]\.total_capacity_gb must be a positive number$/,
    ],
    [
      'pool name #',
      { host: 'n@b', pools: [{ ...pool, name: 'a#b' }] },
      /^backends\[1\]\.pools\[0\]\.name must not contain '#'/,
    ],
    [
      'duplicate pool',
      { host: 'n@b', pools: [pool, { ...pool, path: '/tmp/y' }] },
      /^backends\[1\]\.pools\[1\]\.name 'p0' is already used by backends\[1\]\.pools\[0\]$/,
    ],
    [
      'duplicate path',
      { host: 'n@b', pools: [pool, { ...pool, name: 'p1', path: '/tmp/x/' }] },
      /^backends\[1\]\.pools\[1\]\.path '\/tmp\/x\/' is already used/,
    ],
    [
      'reserved 101',
      { host: 'n@b', pools: [{ ...pool, reserved_percentage: 101 }] },
      /^backends\[1\]\.pools\[0\]\.reserved_percentage must be a whole number from 0 to 100$/,
    ],
    [
      'ratio 0',
      { host: 'n@b', pools: [{ ...pool, max_over_subscription_ratio: 0 }] },
      /^backends\[1\]\.pools\[0\]\.max_over_subscription_ratio must be a positive number$/,
    ],
    [
      'neither thin nor thick',
      { host: 'n@b', pools: [{ ...pool, thin_provisioning: false, thick_provisioning: false }] },
      /^backends\[1\]\.pools\[0\]\.thick_provisioning must be true/,
    ],
    [
      'thin not boolean',
      { host: 'n@b', pools: [{ ...pool, thin_provisioning: 'yes' }] },
      /^backends\[1\]\.pools\[0\]\.thin_provisioning must be true or false$/,
    ],
    [
      'capabilities list',
      { host: 'n@b', pools: [{ ...pool, capabilities: ['x'] }] },
      /^backends\[1\]\.pools\[0\]\.capabilities must be an object/,
    ],
    [
      'empty path',
      { host: 'n@b', pools: [{ ...pool, path: '' }] },
      /^backends\[1\]\.pools\[0\]\.path must be a non-empty string$/,
    ],
    [
      'zone number',
      { host: 'n@b', availability_zone: 3, pools: [pool] },
      /^backends\[1\]\.availability_zone must be a non-empty string$/,
    ],
  ];
  for (const [name, raw, message] of bad) {
    test(`rejects ${name}, naming the setting`, () => {
      assert.throws(
        () => parseBackendConfig(raw, 'backends[1]'),
        (e: unknown) => {
          assert.ok(e instanceof BackendConfigError);
          assert.match(e.message, message);
          assert.ok(e.message.startsWith(e.setting), `${e.message} starts with ${e.setting}`);
          return true;
        },
      );
    });
  }

  test('parseBackendConfigs refuses a host served twice', () => {
    assert.throws(
      () =>
        parseBackendConfigs([
          { host: 'n@b', pools: [pool] },
          { host: 'n@b', pools: [{ ...pool, path: '/tmp/z' }] },
        ]),
      { message: "backends[1].host 'n@b' is already used by backends[0]" },
    );
  });

  test('the driver validates a hand-written config too', () => {
    assert.throws(() => new FileVolumeDriver({ host: 'bad', pools: [pool] }), BackendConfigError);
  });
});
