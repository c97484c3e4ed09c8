import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CinderError } from '../../src/domain/cinder-errors';
import type { Image } from '../../src/domain/volume';
import type { DriverVolume } from '../../src/drivers/driver';
import type { FaultOp, FaultRule, FaultSource } from '../../src/domain/faults';
import { FaultInjectingDriver, FileVolumeDriver, createDriver } from '../../src/drivers/index';

const HOST = 'node1@file';

/** In-memory stand-in for the fault rules the volume database keeps. */
class MemoryFaults implements FaultSource {
  private nextId = 1;
  readonly rules: FaultRule[] = [];
  readonly asked: Array<[string, FaultOp, string | null]> = [];

  add(rule: Omit<FaultRule, 'id' | 'host' | 'remaining'> & Partial<Pick<FaultRule, 'host' | 'remaining'>>): FaultRule {
    const full: FaultRule = { id: this.nextId++, host: HOST, remaining: null, ...rule };
    this.rules.push(full);
    return full;
  }

  async takeFault(host: string, op: FaultOp, volumeName: string | null): Promise<FaultRule | null> {
    this.asked.push([host, op, volumeName]);
    for (const rule of this.rules) {
      if (rule.host !== host || rule.op !== op) continue;
      if (rule.volume_name && rule.volume_name !== volumeName) continue;
      if (rule.remaining !== null && rule.remaining <= 0) continue;
      if (rule.probability != null && Math.random() >= rule.probability) continue;
      if (rule.remaining !== null) rule.remaining -= 1;
      return { ...rule };
    }
    return null;
  }
}

class Exited extends Error {
  constructor() {
    super('worker exited');
  }
}

let root: string;
let counter = 0;

before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'cinder-driver-faults-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

function setup() {
  const dir = path.join(root, `b${++counter}`);
  const file = new FileVolumeDriver({ host: HOST, pools: [{ name: 'p', path: dir, total_capacity_gb: 10 }] });
  const faults = new MemoryFaults();
  const exits: number[] = [];
  const sleeps: number[] = [];
  const driver = new FaultInjectingDriver(file, faults, {
    exit: () => {
      exits.push(Date.now());
      throw new Exited();
    },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
  });
  return { dir, file, faults, driver, exits, sleeps };
}

function vol(id: string, name: string | null = null, size = 1): DriverVolume {
  return { id, size, host: `${HOST}#p`, name };
}

function cinder(type: string, message?: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof CinderError, `expected CinderError(${type}), got ${String(e)}`);
    assert.equal(e.cinderType, type);
    if (message !== undefined) assert.equal(e.message, message);
    return true;
  };
}

describe('FaultInjectingDriver', () => {
  test('without rules it delegates, asking once per create with the display name', async () => {
    const { driver, file, faults } = setup();
    assert.equal(driver.host, HOST);
    await driver.createVolume(vol('a', 'web'));
    assert.equal(await file.volumeExists(vol('a')), true);
    assert.deepEqual(faults.asked, [[HOST, 'create', 'web']]);
    assert.equal((await driver.getVolumeStats()).length, 1);
    assert.deepEqual(await driver.listPoolFiles('p'), ['volume-a']);
  });

  test('a counted error rule fails that many creates, then creates go through', async () => {
    const { driver, faults, file } = setup();
    faults.add({ op: 'create', action: 'error', remaining: 2 });
    const expected = `Injected fault on ${HOST}: VolumeBackendAPIException while creating volume-a`;
    await assert.rejects(driver.createVolume(vol('a')), cinder('VolumeBackendAPIException', expected));
    await assert.rejects(driver.createVolume(vol('a')), cinder('VolumeBackendAPIException', expected));
    assert.equal(await file.volumeExists(vol('a')), false, 'an error fault fails before the backend is touched');
    await driver.createVolume(vol('a'));
    assert.equal(await file.volumeExists(vol('a')), true);
    assert.equal(faults.rules[0]!.remaining, 0);
  });

  test('error_type is raised as given; volume_name rules hit only that volume', async () => {
    const { driver, faults } = setup();
    faults.add({ op: 'create', action: 'error', error_type: 'VolumeDriverException', volume_name: 'victim' });
    await driver.createVolume(vol('a', 'bystander'));
    await assert.rejects(driver.createVolume(vol('b', 'victim')), cinder('VolumeDriverException'));
    await assert.rejects(
      driver.createVolume(vol('c', 'victim')),
      cinder('VolumeDriverException'),
      'remaining null: every time',
    );
  });

  test('clone and from-snapshot creates ask for create faults too', async () => {
    const { driver, faults, file } = setup();
    await file.createVolume(vol('src'));
    faults.add({ op: 'create', action: 'error', error_type: 'BackendUnavailable', remaining: 2 });
    await assert.rejects(driver.createClonedVolume(vol('c'), vol('src')), cinder('BackendUnavailable'));
    await assert.rejects(
      driver.createVolumeFromSnapshot(vol('s1'), { id: 's', volume_id: 'src', size: 1, host: `${HOST}#p` }),
      cinder('BackendUnavailable'),
    );
    await driver.createClonedVolume(vol('c'), vol('src'));
    assert.equal(await file.volumeExists(vol('c')), true);
  });

  test('delete faults: VolumeBackendAPIException by default, and the volume stays', async () => {
    const { driver, faults, file } = setup();
    await driver.createVolume(vol('a'));
    faults.add({ op: 'delete', action: 'error', remaining: 1 });
    await assert.rejects(
      driver.deleteVolume(vol('a')),
      cinder(
        'VolumeBackendAPIException',
        `Injected fault on ${HOST}: VolumeBackendAPIException while deleting volume-a`,
      ),
    );
    assert.equal(await file.volumeExists(vol('a')), true);
    assert.equal(await driver.deleteVolume(vol('a')), true);
    assert.equal(await file.volumeExists(vol('a')), false);
  });

  test('a copy_image fault is raised after the volume exists, as ImageCopyFailure', async () => {
    const { driver, faults, file, dir } = setup();
    const imageFile = path.join(root, `img${counter}.raw`);
    await fs.writeFile(imageFile, 'image data');
    const image: Image = { id: 'i', name: 'i', size_gb: 1, disk_format: 'raw', status: 'active', path: imageFile };
    faults.add({ op: 'copy_image', action: 'error', remaining: 1 });
    await assert.rejects(
      driver.copyImageToVolume(vol('a', 'img-vol'), image),
      cinder('ImageCopyFailure', `Injected fault on ${HOST}: ImageCopyFailure while copying image to volume-a`),
    );
    assert.equal(await file.volumeExists(vol('a')), true);
    assert.deepEqual(
      faults.asked.map(([, op]) => op),
      ['create', 'copy_image'],
    );
    // The retry copies into the existing volume.
    await driver.copyImageToVolume(vol('a', 'img-vol'), image);
    const fh = await fs.open(path.join(dir, 'volume-a'), 'r');
    const head = Buffer.alloc(10);
    await fh.read(head, 0, 10, 0);
    await fh.close();
    assert.equal(head.toString(), 'image data');
  });

  test('a create fault on the image path fails before the volume exists', async () => {
    const { driver, faults, file } = setup();
    const image: Image = { id: 'i', name: 'i', size_gb: 1, disk_format: 'raw', status: 'active', path: '/nonexistent' };
    faults.add({ op: 'create', action: 'error', remaining: 1 });
    await assert.rejects(driver.copyImageToVolume(vol('a'), image), cinder('VolumeBackendAPIException'));
    assert.equal(await file.volumeExists(vol('a')), false);
  });

  test('delay sleeps delay_ms, then the operation goes on', async () => {
    const { driver, faults, sleeps, file } = setup();
    faults.add({ op: 'create', action: 'delay', delay_ms: 1500, remaining: 1 });
    await driver.createVolume(vol('a'));
    assert.deepEqual(sleeps, [1500]);
    assert.equal(await file.volumeExists(vol('a')), true);
  });

  test('the default sleep of a delay is abortable', async () => {
    const dir = path.join(root, `b${++counter}`);
    const faults = new MemoryFaults();
    faults.add({ op: 'create', action: 'delay', delay_ms: 60_000 });
    const driver = createDriver({ host: HOST, pools: [{ name: 'p', path: dir, total_capacity_gb: 1 }] }, faults);
    const ac = new AbortController();
    const started = Date.now();
    const creating = driver.createVolume(vol('a'), { signal: ac.signal });
    setTimeout(() => ac.abort(), 20);
    await assert.rejects(creating, { name: 'AbortError' });
    assert.ok(Date.now() - started < 5000);
    assert.equal(await driver.volumeExists(vol('a')), false);
  });

  test('hang never returns until the signal aborts, then throws AbortError', async () => {
    const { driver, faults, file } = setup();
    faults.add({ op: 'create', action: 'hang', remaining: 1 });
    const ac = new AbortController();
    let settled = false;
    const creating = driver.createVolume(vol('a'), { signal: ac.signal }).finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(settled, false);
    ac.abort(new Error('start-to-close timeout'));
    await assert.rejects(creating, { name: 'AbortError' });
    assert.equal(await file.volumeExists(vol('a')), false);
  });

  test('exit on create dies mid-create: partial write on disk, no volume; a retry finishes and cleans up', async () => {
    const { driver, faults, file, exits } = setup();
    faults.add({ op: 'create', action: 'exit', remaining: 1 });
    await assert.rejects(driver.createVolume(vol('a')), Exited);
    assert.equal(exits.length, 1);
    const files = await driver.listPoolFiles('p');
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^\.volume-a\.partial-[0-9a-f]{16}$/);
    assert.equal(await file.volumeExists(vol('a')), false);
    // The worker restarts and the activity is retried.
    await driver.createVolume(vol('a'));
    assert.deepEqual(await driver.listPoolFiles('p'), ['volume-a']);
  });

  test('exit on create with a clone also leaves only a partial; delete removes it', async () => {
    const { driver, faults, file, exits } = setup();
    await file.createVolume(vol('src'));
    faults.add({ op: 'create', action: 'exit', remaining: 1 });
    await assert.rejects(driver.createClonedVolume(vol('c'), vol('src')), Exited);
    assert.equal(exits.length, 1);
    assert.equal(await file.volumeExists(vol('c')), false);
    assert.equal(await driver.deleteVolume(vol('c')), true);
    assert.deepEqual(await driver.listPoolFiles('p'), ['volume-src']);
  });

  test('exit on create when the volume is already complete: dies before reporting', async () => {
    const { driver, faults, file, exits } = setup();
    await file.createVolume(vol('a'));
    faults.add({ op: 'create', action: 'exit', remaining: 1 });
    await assert.rejects(driver.createVolume(vol('a')), Exited);
    assert.equal(exits.length, 1);
    assert.deepEqual(await driver.listPoolFiles('p'), ['volume-a']);
  });

  test('exit on copy_image dies with the volume created; exit on delete dies before deleting', async () => {
    const { driver, faults, file, exits } = setup();
    const image: Image = { id: 'i', name: 'i', size_gb: 1, disk_format: 'raw', status: 'active', path: '/nonexistent' };
    faults.add({ op: 'copy_image', action: 'exit', remaining: 1 });
    await assert.rejects(driver.copyImageToVolume(vol('a'), image), Exited);
    assert.equal(await file.volumeExists(vol('a')), true);
    faults.add({ op: 'delete', action: 'exit', remaining: 1 });
    await assert.rejects(driver.deleteVolume(vol('a')), Exited);
    assert.equal(await file.volumeExists(vol('a')), true);
    assert.equal(exits.length, 2);
  });

  test('after_write: the volume is created whole, then the error; a retry finds the volume done', async () => {
    const { driver, faults, dir } = setup();
    faults.add({ op: 'create', action: 'error', error_type: 'ExportFailure', stage: 'after_write', remaining: 1 });
    await assert.rejects(
      driver.createVolume(vol('a', null, 2)),
      cinder('ExportFailure', `Injected fault on ${HOST}: ExportFailure while creating volume-a (after writing it)`),
    );
    assert.equal((await fs.stat(path.join(dir, 'volume-a'))).size, 2 * 1024 ** 3, 'the volume is there, whole');
    await driver.createVolume(vol('a', null, 2));
    assert.equal(await driver.deleteVolume(vol('a', null, 2)), true, 'a real file to delete');
  });

  test('partial_write: volume-<id> lands smaller than asked, then the error; a retry refuses the short file', async () => {
    const { driver, faults, dir } = setup();
    faults.add({ op: 'create', action: 'error', stage: 'partial_write', remaining: 1 });
    const bytes = 1024 ** 3;
    await assert.rejects(
      driver.createVolume(vol('a')),
      cinder(
        'VolumeBackendAPIException',
        `Injected fault on ${HOST}: VolumeBackendAPIException while creating volume-a (after writing ${bytes / 2} of ${bytes} bytes)`,
      ),
    );
    assert.deepEqual(
      await fs.readdir(dir),
      ['volume-a'],
      'the short write landed under the real name, no partial beside it',
    );
    assert.equal((await fs.stat(path.join(dir, 'volume-a'))).size, bytes / 2);
    await assert.rejects(
      driver.createVolume(vol('a')),
      cinder(
        'VolumeBackendAPIException',
        `volume-a already exists in pool p of ${HOST} with ${bytes / 2} bytes, not the ${bytes} asked for`,
      ),
    );
    assert.equal(await driver.deleteVolume(vol('a')), true);
    assert.deepEqual(await fs.readdir(dir), []);
  });

  test("any exception name: Cinder's are CinderErrors, others plain errors of that name (a driver bug)", async () => {
    const { driver, faults } = setup();
    faults.add({ op: 'create', action: 'error', error_type: 'MetadataCreateFailure', volume_name: 'm' });
    faults.add({ op: 'create', action: 'error', error_type: 'ProcessExecutionError', volume_name: 'p' });
    faults.add({ op: 'create', action: 'error', error_type: 'Error', volume_name: 'e', stage: 'after_write' });
    await assert.rejects(driver.createVolume(vol('m', 'm')), cinder('MetadataCreateFailure'));
    for (const [id, type] of [
      ['p', 'ProcessExecutionError'],
      ['e', 'Error'],
    ]) {
      await assert.rejects(driver.createVolume(vol(id, id)), (e: unknown) => {
        assert.ok(e instanceof Error && !(e instanceof CinderError), `${type}: a plain error, not a CinderError`);
        assert.equal(e.name, type);
        assert.equal(e.constructor.name, type, 'its own class: Temporal names the failure after it');
        assert.match(e.message, new RegExp(`^Injected fault on ${HOST}: ${type} while creating volume-${id}`));
        return true;
      });
    }
  });

  test('after_write on copy_image and delete: the copy is done / the volume is gone, then the error', async () => {
    const { driver, faults, file, dir } = setup();
    const imageFile = path.join(root, `img-aw${counter}.raw`);
    await fs.writeFile(imageFile, 'image data');
    const image: Image = { id: 'i', name: 'i', size_gb: 1, disk_format: 'raw', status: 'active', path: imageFile };
    faults.add({ op: 'copy_image', action: 'error', stage: 'after_write', remaining: 1 });
    await assert.rejects(driver.copyImageToVolume(vol('a'), image), cinder('ImageCopyFailure'));
    const head = Buffer.alloc(10);
    const fh = await fs.open(path.join(dir, 'volume-a'), 'r');
    await fh.read(head, 0, 10, 0);
    await fh.close();
    assert.equal(head.toString(), 'image data', 'the image was copied before the error');
    faults.add({ op: 'delete', action: 'error', stage: 'after_write', remaining: 1 });
    await assert.rejects(driver.deleteVolume(vol('a')), cinder('VolumeBackendAPIException'));
    assert.equal(await file.volumeExists(vol('a')), false, 'deleted, though it said it failed');
    assert.equal(await driver.deleteVolume(vol('a')), false, 'the retried delete finds nothing');
  });

  test('createDriver wraps in fault injection only when given a fault source', () => {
    const config = { host: HOST, pools: [{ name: 'p', path: path.join(root, 'cd'), total_capacity_gb: 1 }] };
    assert.ok(createDriver(config) instanceof FileVolumeDriver);
    assert.ok(createDriver(config, new MemoryFaults()) instanceof FaultInjectingDriver);
  });
});
