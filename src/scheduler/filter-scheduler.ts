/**
 * Cinder's FilterScheduler, one pass: populate retry → keep the pools that pass every filter, in
 * order → weigh → choose the heaviest → consume its capacity locally → add retry backend.
 */
import { NoValidBackend } from './errors';
import { DEFAULT_FILTERS, FILTER_PREPARERS } from './filters/index';
import { consumeFromVolume } from './host-manager';
import { addRetryBackend, populateRetry } from './retry';
import type { BackendState, FilterName, FilterProperties, ScheduleOptions, ScheduleResult } from './types';
import { DEFAULT_WEIGHERS, computeWeights, rankedIndices } from './weighers';

/** The reason when there is nothing to filter at all. */
export const NO_POOLS_REASON = 'No pools are reported by any live volume service';

/** How many candidates one filter removed in a pass. */
export interface FilterTally {
  filter: FilterName;
  removed: number;
}

/**
 * The reason when the filters removed every pool: which filter removed the last ones, and the tally
 * of every filter that ran, in order (filters after the emptying one do not run). E.g.
 *   No pool passed the filters for volume v1 (size 10 GiB): CapacityFilter removed the last 2 of 5
 *   pools (AvailabilityZoneFilter removed 3, CapacityFilter removed 2)
 * A request without a volume id reads "for the request (size 10 GiB)".
 */
export function noPoolPassedReason(
  props: FilterProperties,
  poolCount: number,
  tallies: readonly FilterTally[],
): string {
  const subject = props.volume_id ? `volume ${props.volume_id}` : 'the request';
  const last = tallies[tallies.length - 1];
  const tally = tallies.map((t) => `${t.filter} removed ${t.removed}`).join(', ');
  const pools = `${poolCount} pool${poolCount === 1 ? '' : 's'}`;
  const culprit = last ? `${last.filter} removed the last ${last.removed} of ${pools}` : pools;
  return `No pool passed the filters for ${subject} (size ${props.size} GiB): ${culprit} (${tally})`;
}

/**
 * One whole scheduling pass over the pools of the live volume services. Throws NoValidBackend when
 * the attempts are used up, when there are no pools, or when no pool passes the filters.
 * Inputs are not modified; the chosen pool comes back consumed as a new object.
 */
export function schedule(
  backends: readonly BackendState[],
  props: FilterProperties,
  options: ScheduleOptions,
): ScheduleResult {
  const scheduling = populateRetry(props, options.maxAttempts);
  if (backends.length === 0) throw new NoValidBackend(NO_POOLS_REASON);

  let candidates: readonly BackendState[] = backends;
  const tallies: FilterTally[] = [];
  for (const name of options.filters ?? DEFAULT_FILTERS) {
    const prepare = Object.prototype.hasOwnProperty.call(FILTER_PREPARERS, name) ? FILTER_PREPARERS[name] : undefined;
    if (!prepare) throw new Error(`Unknown scheduler filter ${String(name)}`);
    const passes = prepare(scheduling);
    const kept: BackendState[] = [];
    for (const backend of candidates) if (passes(backend)) kept.push(backend);
    tallies.push({ filter: name, removed: candidates.length - kept.length });
    if (kept.length === 0) {
      throw new NoValidBackend(noPoolPassedReason(scheduling, backends.length, tallies));
    }
    candidates = kept;
  }

  const alternates = Math.max(0, Math.floor(options.alternates ?? 0)) || 0;
  const weights = computeWeights(candidates, scheduling, options.weighers ?? DEFAULT_WEIGHERS);
  const [top, ...runnersUp] = rankedIndices(weights, 1 + alternates);
  const chosen = candidates[top!]!;
  return {
    backend: consumeFromVolume(chosen, scheduling.size),
    props: addRetryBackend(scheduling, chosen.backend_id),
    alternates: runnersUp.map((i) => candidates[i]!),
  };
}
