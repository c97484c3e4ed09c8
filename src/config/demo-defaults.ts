import path from 'node:path';
import type { VolumeType } from '../domain/volume';
import { parseBackendConfigs, type ResolvedBackendConfig } from '../drivers/backend-config';

/** The embedded defaults: two file backends under the data folder, so `npm start` needs no config.
 *  hostA is larger, so the CapacityWeigher tries it first (the demo makes it fail once). */
export function demoBackends(dataDir: string): ResolvedBackendConfig[] {
  return parseBackendConfigs(
    [
      {
        host: 'hostA@lvm',
        pools: [
          {
            name: 'pool1',
            path: path.join(dataDir, 'backends', 'hostA', 'pool1'),
            total_capacity_gb: 200,
            capabilities: { storage_tier: 'hdd' },
          },
        ],
      },
      {
        host: 'hostB@lvm',
        pools: [
          {
            name: 'pool1',
            path: path.join(dataDir, 'backends', 'hostB', 'pool1'),
            total_capacity_gb: 100,
            capabilities: { storage_tier: 'ssd' },
          },
        ],
      },
    ],
    'backends',
  );
}

export const DEMO_VOLUME_TYPES: VolumeType[] = [
  { name: 'default', extra_specs: {} },
  { name: 'ssd', extra_specs: { 'capabilities:storage_tier': 'ssd' } },
  { name: 'thick', extra_specs: { 'provisioning:type': 'thick' } },
];
