import type { BackendFilter, FilterPreparer } from '../types';
import { compileExtraSpec, type ExtraSpecMatcher } from './extra-spec-ops';
import { passAll } from './pass-all';

/** One extra spec that CapabilitiesFilter checks: where to find the capability, what it must match. */
interface CapabilityRequirement {
  path: readonly string[];
  matches: ExtraSpecMatcher;
}

/**
 * The extra specs of the request's volume type that name a capability. A key is split on ':'; a key
 * with a scope other than 'capabilities' ('provisioning:type', 'vendor:x', ...) is not ours and is
 * skipped; a leading 'capabilities' is dropped; the remaining parts walk nested capability objects.
 */
function capabilityRequirements(extraSpecs: Record<string, string> | undefined | null): CapabilityRequirement[] {
  const requirements: CapabilityRequirement[] = [];
  if (!extraSpecs) return requirements;
  for (const [key, requirement] of Object.entries(extraSpecs)) {
    const scope = key.split(':');
    if (scope.length > 1 && scope[0] !== 'capabilities') continue;
    const path = scope[0] === 'capabilities' ? scope.slice(1) : scope;
    requirements.push({ path, matches: compileExtraSpec(requirement) });
  }
  return requirements;
}

const MISSING: unique symbol = Symbol('missing capability');

/** Walks `path` into nested capability objects; MISSING when a step is absent or the value at a step
 *  is not an object (Cinder's lookup raises there and fails the pool). Only own keys count, so
 *  'constructor' or '__proto__' never find an object's prototype machinery. */
function lookUp(capabilities: unknown, path: readonly string[]): unknown {
  let value: unknown = capabilities;
  for (const part of path) {
    if (
      value === null ||
      typeof value !== 'object' ||
      Array.isArray(value) ||
      !Object.prototype.hasOwnProperty.call(value, part)
    ) {
      return MISSING;
    }
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * CapabilitiesFilter: with no volume type or no extra specs every pool passes. Otherwise every
 * capability-scoped extra spec must be satisfied: a missing capability fails the pool, a list-valued
 * capability is satisfied when any element matches (an empty list never does).
 */
export const prepareCapabilitiesFilter: FilterPreparer = (props) => {
  const requirements = capabilityRequirements(props.volume_type?.extra_specs);
  if (requirements.length === 0) return passAll;
  return (backend) => {
    for (const { path, matches } of requirements) {
      const value = lookUp(backend.capabilities, path);
      if (value === MISSING) return false;
      const satisfied = Array.isArray(value) ? value.some(matches) : matches(value);
      if (!satisfied) return false;
    }
    return true;
  };
};

export const capabilitiesFilter: BackendFilter = (backend, props) => prepareCapabilitiesFilter(props)(backend);
