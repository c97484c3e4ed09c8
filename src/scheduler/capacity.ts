/**
 * The capacity arithmetic CapacityFilter and CapacityWeigher share (spec section 3), in one place.
 */
import type { BackendState, FilterProperties } from './types';

/** The figures Cinder derives from a pool's stats for one request. */
export interface CapacityFactors {
  /** floor(total × reserved_percentage / 100) */
  reserved: number;
  /** total − reserved */
  available: number;
  /** Thin provisioning applies: the request wants thin and the pool supports it. */
  thin: boolean;
  /** The over-subscription ratio that counts: the pool's when `thin`, else 1. */
  ratio: number;
  /** available × ratio when `thin`, else available; rounded to 2 decimals. */
  totalAvailable: number;
  /** total_available − provisioned when `thin`, else min(free, available − provisioned); rounded to
   *  2 decimals. */
  virtualFree: number;
}

/** Thin provisioning is wanted unless the volume type's extra spec `provisioning:type` is exactly
 *  'thick' (Cinder compares the string as is). */
export function wantsThinProvisioning(props: FilterProperties): boolean {
  return props.volume_type?.extra_specs?.['provisioning:type'] !== 'thick';
}

/**
 * The capacity factors of a pool for a request that wants thin (or thick) provisioning, or undefined
 * when the pool's total or free capacity is not a number ('infinite', 'unknown', or null).
 *
 * `reserved` is computed as (total × pct) / 100, the spec's order of operations: for whole-number
 * stats it is exact, whereas total × (pct / 100) gives e.g. floor(100 × 0.29) = 28 instead of 29.
 */
export function capacityFactors(backend: BackendState, thinWanted: boolean): CapacityFactors | undefined {
  const total = backend.total_capacity_gb;
  const free = backend.free_capacity_gb;
  if (typeof total !== 'number' || typeof free !== 'number') return undefined;

  const reserved = Math.floor((total * backend.reserved_percentage) / 100);
  const available = total - reserved;
  const provisioned = backend.provisioned_capacity_gb;
  if (thinWanted && backend.thin_provisioning_support) {
    const ratio = backend.max_over_subscription_ratio;
    const totalAvailable = available * ratio;
    return {
      reserved,
      available,
      thin: true,
      ratio,
      totalAvailable: roundCapacity(totalAvailable),
      virtualFree: roundCapacity(totalAvailable - provisioned),
    };
  }
  return {
    reserved,
    available,
    thin: false,
    ratio: 1,
    totalAvailable: roundCapacity(available),
    virtualFree: roundCapacity(Math.min(free, available - provisioned)),
  };
}

/** The pool's virtual free capacity in GiB for a thin (default) or thick request; undefined when
 *  its total or free capacity is 'infinite', 'unknown' or null. */
export function virtualFreeCapacity(backend: BackendState, thinWanted = true): number | undefined {
  return capacityFactors(backend, thinWanted)?.virtualFree;
}

/**
 * Python's round(x, 2), which Cinder applies: the hundredth nearest to the exact binary value of x,
 * exact ties to even. (Math.round(x * 100) / 100 differs: it rounds ties up, and the product's own
 * rounding can move a value across the half-way point.)
 */
export function roundCapacity(x: number): number {
  if (!Number.isFinite(x)) return x;
  const scaled = x * 100;
  const whole = Math.floor(scaled);
  const frac = scaled - whole;
  // The product is off the exact x·100 by at most half an ulp; unless it lands within that of a
  // half-way point, the nearest hundredth is unambiguous.
  const doubt = Math.abs(scaled) * 2.3e-16 + 1e-300;
  if (Math.abs(frac - 0.5) > doubt && Math.abs(scaled) < 2 ** 52) {
    return (frac < 0.5 ? whole : whole + 1) / 100 + 0;
  }
  // An exact tie needs x·100 = k + 0.5, which a double can only hold when 8x is an odd integer.
  const eighths = x * 8;
  if (Number.isInteger(eighths) && eighths % 2 !== 0 && Math.abs(scaled) < 2 ** 52) {
    return (whole % 2 === 0 ? whole : whole + 1) / 100 + 0;
  }
  // No tie: toFixed rounds the exact binary value to the nearest hundredth.
  return Number(x.toFixed(2)) + 0;
}
