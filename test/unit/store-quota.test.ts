import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CinderError } from '../../src/domain/cinder-errors';
import { SqliteVolumeStore, openVolumeStore, type QuotaUsage, type VolumeStore } from '../../src/store';

const NOW = '2025-01-01T00:00:00.000Z';

async function usage(s: VolumeStore, project = 'p1'): Promise<Record<string, Omit<QuotaUsage, 'resource'>>> {
  return Object.fromEntries((await s.getQuotaUsage(project)).map(({ resource, ...u }) => [resource, u]));
}

function isQuotaError(type: string, field: string, message: RegExp | string) {
  return (err: CinderError) => {
    assert.equal(err.cinderType, type);
    assert.equal(err.field, field);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  };
}

describe('quota', () => {
  test("Cinder's defaults: 10 volumes, 1000 GiB, per-type unlimited", async () => {
    const s = await openVolumeStore('sqlite::memory:');
    assert.deepEqual(await usage(s), {
      gigabytes: { limit: 1000, in_use: 0, reserved: 0 },
      volumes: { limit: 10, in_use: 0, reserved: 0 },
    });
    await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 5, volumes_gold: 1, gigabytes_gold: 5 }, NOW);
    assert.deepEqual(await usage(s), {
      gigabytes: { limit: 1000, in_use: 0, reserved: 5 },
      gigabytes_gold: { limit: -1, in_use: 0, reserved: 5 },
      volumes: { limit: 10, in_use: 0, reserved: 1 },
      volumes_gold: { limit: -1, in_use: 0, reserved: 1 },
    });
    await s.close();
  });

  test('reserve, commit and rollback are each idempotent', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 5 }, NOW);
    await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 5 }, NOW);
    assert.deepEqual((await usage(s)).gigabytes, { limit: 1000, in_use: 0, reserved: 5 });
    await s.commitQuota('v1', NOW);
    await s.commitQuota('v1', NOW);
    assert.deepEqual((await usage(s)).gigabytes, { limit: 1000, in_use: 5, reserved: 0 });
    // A committed reservation stays: an error volume keeps its quota until deleted.
    await s.rollbackQuota('v1', NOW);
    assert.deepEqual((await usage(s)).volumes, { limit: 10, in_use: 1, reserved: 0 });

    await s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 3 }, NOW);
    await s.rollbackQuota('v2', NOW);
    await s.rollbackQuota('v2', NOW);
    await s.commitQuota('v2', NOW); // too late: rolled back stays rolled back
    // Reserving again for the same volume id is still a no-op.
    await s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 3 }, NOW);
    assert.deepEqual(await usage(s), {
      gigabytes: { limit: 1000, in_use: 5, reserved: 0 },
      volumes: { limit: 10, in_use: 1, reserved: 0 },
    });
    // Other projects are untouched.
    assert.deepEqual((await usage(s, 'p2')).gigabytes, { limit: 1000, in_use: 0, reserved: 0 });
    await s.close();
  });

  test('gigabytes exceeded: QuotaError on size, nothing reserved', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    await s.setQuotaLimit('p1', 'gigabytes', 10);
    await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 6 }, NOW);
    await s.commitQuota('v1', NOW);
    await s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 2 }, NOW);
    await assert.rejects(
      s.reserveQuota('v3', 'p1', { volumes: 1, gigabytes: 5 }, NOW),
      isQuotaError(
        'QuotaError',
        'size',
        'Requested volume or snapshot exceeds allowed gigabytes quota. Requested 5G, quota is 10G and 8G has been consumed.',
      ),
    );
    assert.deepEqual(await usage(s), {
      gigabytes: { limit: 10, in_use: 6, reserved: 2 },
      volumes: { limit: 10, in_use: 1, reserved: 1 },
    });
    // Exactly filling the quota is allowed.
    await s.reserveQuota('v3', 'p1', { volumes: 1, gigabytes: 2 }, NOW);
    assert.deepEqual((await usage(s)).gigabytes, { limit: 10, in_use: 6, reserved: 4 });
    await s.close();
  });

  test('volumes exceeded: VolumeLimitExceeded on project_id; gigabytes reported first when both are over', async () => {
    const s = await openVolumeStore('sqlite::memory:');
    await s.setQuotaLimit('p1', 'volumes', 2);
    await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 1 }, NOW);
    await s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 1 }, NOW);
    await assert.rejects(
      s.reserveQuota('v3', 'p1', { volumes: 1, gigabytes: 1 }, NOW),
      isQuotaError('VolumeLimitExceeded', 'project_id', /^Maximum number of volumes allowed \(2\) exceeded for quota 'volumes'\./),
    );
    await s.setQuotaLimit('p1', 'gigabytes', 2);
    await assert.rejects(s.reserveQuota('v3', 'p1', { volumes: 1, gigabytes: 1 }, NOW), isQuotaError('QuotaError', 'size', /gigabytes quota/));
    // Rolling one back frees its share.
    await s.rollbackQuota('v2', NOW);
    await s.reserveQuota('v3', 'p1', { volumes: 1, gigabytes: 1 }, NOW);
    await s.close();
  });

  test('per-type limits and configurable defaults', async () => {
    const s = new SqliteVolumeStore(':memory:', { defaultQuotas: { volumes: 1, gigabytes_gold: 4 } });
    await assert.rejects(
      s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 5, volumes_gold: 1, gigabytes_gold: 5 }, NOW),
      isQuotaError('QuotaError', 'size', /allowed gigabytes_gold quota\. Requested 5G, quota is 4G and 0G/),
    );
    await s.setQuotaLimit('p1', 'volumes_gold', 0);
    await assert.rejects(
      s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 1, volumes_gold: 1, gigabytes_gold: 1 }, NOW),
      isQuotaError('VolumeLimitExceeded', 'project_id', /quota 'volumes_gold'/),
    );
    await s.reserveQuota('v1', 'p1', { volumes: 1, gigabytes: 1 }, NOW);
    await assert.rejects(s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 1 }, NOW), isQuotaError('VolumeLimitExceeded', 'project_id', /\(1\)/));
    // -1 is unlimited.
    await s.setQuotaLimit('p1', 'volumes', -1);
    await s.reserveQuota('v2', 'p1', { volumes: 1, gigabytes: 1 }, NOW);
    assert.deepEqual((await usage(s)).volumes, { limit: -1, in_use: 0, reserved: 2 });
    assert.deepEqual((await usage(s)).gigabytes_gold, { limit: 4, in_use: 0, reserved: 0 });
    await s.close();
  });
});
