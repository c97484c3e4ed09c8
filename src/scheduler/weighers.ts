/**
 * Cinder's weighers: each weigher scores every candidate, the scores are normalized over the
 * candidates to 0..1, multiplied by the weigher's multiplier and summed; the highest total wins.
 */
import { capacityFactors, wantsThinProvisioning } from './capacity';
import type { BackendState, FilterProperties, WeigherName, WeigherSpec } from './types';

/** Cinder's default weigher list: CapacityWeigher alone. */
export const DEFAULT_WEIGHERS: readonly WeigherSpec[] = Object.freeze([
  Object.freeze({ name: 'CapacityWeigher' as const }),
]);

/** capacity_weight_multiplier 1.0 (spread onto the freest pool) and
 *  allocated_capacity_weight_multiplier -1.0 (least allocated first). */
export const DEFAULT_MULTIPLIERS: Readonly<Record<WeigherName, number>> = Object.freeze({
  CapacityWeigher: 1.0,
  AllocatedCapacityWeigher: -1.0,
});

type RawWeigher = (backends: readonly BackendState[], props: FilterProperties, multiplier: number) => Float64Array;

/**
 * CapacityWeigher: the pool's virtual free capacity (thick when the volume type asks for thick).
 * A pool whose free or total capacity is 'infinite' or 'unknown' (or null) has no figure: it weighs
 * −1 under a positive multiplier, and under a zero or negative one the largest finite weight + 1, so
 * it still sorts as "most free". When no candidate has a finite figure they all weigh the same (0),
 * where Cinder's code would crash.
 */
const capacityWeigher: RawWeigher = (backends, props, multiplier) => {
  const thinWanted = wantsThinProvisioning(props);
  const raw = new Float64Array(backends.length);
  let unbounded = false;
  let largest = -Infinity;
  for (let i = 0; i < backends.length; i++) {
    const free = capacityFactors(backends[i]!, thinWanted)?.virtualFree;
    if (free === undefined || !Number.isFinite(free)) {
      raw[i] = NaN;
      unbounded = true;
    } else {
      raw[i] = free;
      if (free > largest) largest = free;
    }
  }
  if (unbounded) {
    const stand = multiplier > 0 ? -1 : largest === -Infinity ? 0 : largest + 1;
    for (let i = 0; i < raw.length; i++) if (Number.isNaN(raw[i])) raw[i] = stand;
  }
  return raw;
};

/** AllocatedCapacityWeigher: the GiB already allocated on the pool. */
const allocatedCapacityWeigher: RawWeigher = (backends) => {
  const raw = new Float64Array(backends.length);
  for (let i = 0; i < backends.length; i++) raw[i] = backends[i]!.allocated_capacity_gb;
  return raw;
};

const RAW_WEIGHERS: Readonly<Record<WeigherName, RawWeigher>> = Object.freeze({
  CapacityWeigher: capacityWeigher,
  AllocatedCapacityWeigher: allocatedCapacityWeigher,
});

/** The summed, normalized, multiplied weight of each backend, in input order. */
export function computeWeights(
  backends: readonly BackendState[],
  props: FilterProperties,
  weighers: readonly WeigherSpec[],
): Float64Array {
  const totals = new Float64Array(backends.length);
  for (const spec of weighers) {
    const weigh = Object.prototype.hasOwnProperty.call(RAW_WEIGHERS, spec.name) ? RAW_WEIGHERS[spec.name] : undefined;
    if (!weigh) throw new Error(`Unknown scheduler weigher ${String(spec.name)}`);
    const multiplier = spec.multiplier ?? DEFAULT_MULTIPLIERS[spec.name];
    addNormalized(totals, weigh(backends, props, multiplier), multiplier);
  }
  return totals;
}

/** totals += multiplier × (raw − min) / (max − min); nothing when all raw weights are equal. */
function addNormalized(totals: Float64Array, raw: Float64Array, multiplier: number): void {
  if (raw.length === 0) return;
  let min = raw[0]!;
  let max = raw[0]!;
  for (let i = 1; i < raw.length; i++) {
    const w = raw[i]!;
    if (w < min) min = w;
    if (w > max) max = w;
  }
  const range = max - min;
  if (!(range > 0)) return;
  for (let i = 0; i < raw.length; i++) totals[i] += multiplier * ((raw[i]! - min) / range);
}

/** Whether candidate a ranks before candidate b: heavier first, then earlier in input order. */
function ranksBefore(weights: Float64Array, a: number, b: number): boolean {
  return weights[a]! > weights[b]! || (weights[a] === weights[b] && a < b);
}

/**
 * The indices of the `count` best-ranked candidates, best first (heavier first, ties in input order):
 * the same order as a full stable sort, without sorting every candidate when only a few are wanted.
 */
export function rankedIndices(weights: Float64Array, count = weights.length): number[] {
  const n = weights.length;
  const k = Math.min(Math.max(0, Math.floor(count)), n);
  if (k === 0) return [];
  if (k > 16) {
    const all = Array.from({ length: n }, (_, i) => i);
    all.sort((a, b) => weights[b]! - weights[a]! || a - b);
    return all.slice(0, k);
  }
  // Keep the k best seen so far, best first; a later candidate only displaces on a strictly
  // heavier weight, which keeps ties in input order.
  const best: number[] = [];
  for (let i = 0; i < n; i++) {
    if (best.length === k) {
      if (!ranksBefore(weights, i, best[k - 1]!)) continue;
      best.pop();
    }
    let at = best.length;
    while (at > 0 && ranksBefore(weights, i, best[at - 1]!)) at--;
    best.splice(at, 0, i);
  }
  return best;
}

/** Weighs the candidates with the given weighers and returns them best first; ties keep input
 *  order. */
export function weighBackends(
  backends: readonly BackendState[],
  props: FilterProperties,
  weighers: readonly WeigherSpec[],
): Array<{ backend: BackendState; weight: number }> {
  const weights = computeWeights(backends, props, weighers);
  return rankedIndices(weights).map((i) => ({ backend: backends[i]!, weight: weights[i]! }));
}
