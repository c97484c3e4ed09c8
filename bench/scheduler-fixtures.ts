/**
 * Deterministic pools and requests for the scheduler benchmark: a seeded PRNG, so every run weighs
 * the same fleet and asks the same questions.
 */
import type { BackendState, FilterProperties } from '../src/scheduler/index';

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(random: () => number, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const between = (random: () => number, low: number, high: number): number => low + random() * (high - low);

const ZONES = ['az1', 'az1', 'az2', 'az2', 'az3'] as const;
const PROTOCOLS = ['iSCSI', 'iSCSI', 'FC', 'NVMe-oF', 'ceph'] as const;
const VENDORS = ['Open Source', 'Dell', 'NetApp', 'Pure', 'HPE'] as const;
const TIERS = ['gold', 'silver', 'silver', 'bronze', 'bronze'] as const;
const DISKS = [['hdd'], ['ssd'], ['hdd', 'ssd'], ['nvme', 'ssd']] as const;

/**
 * A fleet of `count` pools, ten per backend, mixed thin (about 60%) and thick, over three zones, with
 * a spread of sizes, fill levels, reservations and capabilities; a few report 'infinite' or
 * 'unknown' capacity and a few have broken stats.
 */
export function generatePools(count: number, seed = 42): BackendState[] {
  const random = prng(seed);
  const pools: BackendState[] = [];
  for (let i = 0; i < count; i++) {
    const backend = Math.floor(i / 10);
    const host = Math.floor(backend / 2);
    const thin = random() < 0.6;
    const total = Math.round(between(random, 1_000, 100_000));
    const used = between(random, 0, 0.95);
    const ratio = thin ? pick(random, [1, 1.5, 2, 4, 10, 20]) : 1;
    const provisioned = Math.round(total * used * (thin ? between(random, 1, ratio) : 1));
    const oddity = random();
    const protocol = pick(random, PROTOCOLS);
    const vendor = pick(random, VENDORS);
    pools.push({
      backend_id: `host${host}@${vendor.toLowerCase().replace(/\s+/g, '-')}-${backend}#pool${i % 10}`,
      availability_zone: pick(random, ZONES),
      total_capacity_gb: oddity < 0.005 ? 'unknown' : total,
      free_capacity_gb:
        oddity < 0.005
          ? 'unknown'
          : oddity < 0.01
            ? 'infinite'
            : oddity < 0.013
              ? null
              : Math.round(total * (1 - used)),
      allocated_capacity_gb: provisioned,
      provisioned_capacity_gb: provisioned,
      reserved_percentage: pick(random, [0, 0, 5, 10, 20]),
      max_over_subscription_ratio: ratio,
      thin_provisioning_support: thin,
      thick_provisioning_support: !thin || random() < 0.5,
      capabilities: {
        volume_backend_name: `backend-${backend}`,
        storage_protocol: protocol,
        vendor_name: vendor,
        driver_version: `${1 + Math.floor(random() * 4)}.${Math.floor(random() * 10)}`,
        tier: pick(random, TIERS),
        QoS_support: random() < 0.5,
        compression: random() < 0.4,
        multiattach: random() < 0.3,
        disk_types: [...pick(random, DISKS)],
        replication: { enabled: random() < 0.3, targets: Math.floor(random() * 4) },
        max_iops: Math.round(between(random, 1_000, 200_000)),
      },
    });
  }
  return pools;
}

/** Volume types of varying selectivity, as an operator would define them. */
const VOLUME_TYPES: ReadonlyArray<FilterProperties['volume_type']> = [
  undefined,
  { name: 'default', extra_specs: {} },
  { name: 'gold', extra_specs: { 'capabilities:tier': 'gold', 'provisioning:type': 'thin' } },
  {
    name: 'fast',
    extra_specs: { 'capabilities:storage_protocol': '<or> NVMe-oF <or> FC', 'capabilities:disk_types': 'ssd' },
  },
  {
    name: 'replicated',
    extra_specs: { 'capabilities:replication:enabled': '<is> True', 'capabilities:replication:targets': '>= 2' },
  },
  {
    name: 'thick-compressed',
    extra_specs: { 'provisioning:type': 'thick', compression: '<is> True', 'capabilities:max_iops': '>= 20000' },
  },
  { name: 'iscsi', extra_specs: { storage_protocol: 'iSCSI', 'vendor:feature': 'ignored' } },
];

/** An endless, deterministic sequence of create requests (fresh: no retry yet). */
export function requestStream(seed: number): () => FilterProperties {
  const random = prng(seed);
  let n = 0;
  return () => {
    n++;
    const props: FilterProperties = {
      size: pick(random, [1, 5, 10, 20, 50, 100, 250, 500]),
      volume_id: `vol-${seed}-${n}`,
    };
    if (random() < 0.5) props.availability_zone = pick(random, ['az1', 'az2', 'az3']);
    const type = pick(random, VOLUME_TYPES);
    if (type) props.volume_type = type;
    return props;
  };
}
