import type { SearchAttributeUpdatePair } from '@temporalio/common';
import { setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { splitBackendId } from '../domain/volume';
import { volumeStateQuery, type CreateVolumeInput, type CreateVolumeState } from './create-volume-types';
import {
  BackendHost,
  ProjectId,
  ScheduleAttempt,
  SEARCH_ATTRIBUTES,
  VolumeId,
  VolumeStatus,
  VolumeType,
} from './search-attributes';

type Indexed = string | number;

/**
 * Where one create stands, changed only through `set`: the volumeState query, the UI's current
 * details and the search attributes follow every change together. A search attribute is upserted
 * only when its value changes (the start already set VolumeId, ProjectId, VolumeType and
 * VolumeStatus="creating"), and only when the namespace has them: the start carried them, or the
 * create's options say so.
 */
export class VolumeCreateState {
  readonly state: CreateVolumeState;
  /** What the run's search attributes hold now. */
  private readonly indexed = new Map<string, Indexed>();
  private upserts: boolean;
  private identity: { project_id: string; volume_type: string } | null = null;

  constructor(input: CreateVolumeInput) {
    this.state = {
      volume_id: input.request.volume_id,
      status: 'creating',
      phase: input.resume ? 'scheduling' : 'api',
      attempt: 0,
      max_attempts: input.resume?.spec.options.scheduler_max_attempts ?? null,
      backend_id: null,
      retry: input.resume?.filter_properties.retry ?? null,
      last_error: null,
      attempts: input.resume?.attempts ?? [],
    };
    setHandler(volumeStateQuery, () => this.state);
    const started = workflowInfo().typedSearchAttributes;
    for (const key of SEARCH_ATTRIBUTES) {
      const value = started.get(key as typeof VolumeId);
      if (value !== undefined) this.indexed.set(key.name, value as Indexed);
    }
    // A start that set them proves the namespace has them; the options decide once they are known.
    this.upserts = input.options?.upsert_search_attributes ?? this.indexed.has(VolumeStatus.name);
  }

  /** Once the API flow (or the carry) gave the request spec: the create's identity and options. */
  identify(identity: {
    project_id: string;
    volume_type: string;
    max_attempts: number;
    upsert_search_attributes: boolean;
  }): void {
    this.identity = { project_id: identity.project_id, volume_type: identity.volume_type };
    this.upserts = identity.upsert_search_attributes;
    this.set({ max_attempts: identity.max_attempts });
  }

  /** The one way the state changes. */
  set(patch: Partial<CreateVolumeState>): void {
    Object.assign(this.state, patch);
    this.index();
    setCurrentDetails(details(this.state));
  }

  private index(): void {
    const s = this.state;
    const wanted: Array<[typeof VolumeId | typeof ScheduleAttempt, Indexed]> = [
      [VolumeId, s.volume_id],
      [VolumeStatus, s.status],
    ];
    if (this.identity) wanted.push([ProjectId, this.identity.project_id], [VolumeType, this.identity.volume_type]);
    if (s.backend_id) wanted.push([BackendHost, splitBackendId(s.backend_id).host], [ScheduleAttempt, s.attempt]);
    const changed = wanted.filter(([key, value]) => this.indexed.get(key.name) !== value);
    if (!this.upserts || changed.length === 0) return;
    for (const [key, value] of changed) this.indexed.set(key.name, value);
    upsertSearchAttributes(changed.map(([key, value]) => ({ key, value }) as SearchAttributeUpdatePair));
  }
}

/** The UI's "current details": where the create stands and its retry state. */
export function details(state: CreateVolumeState): string {
  // Short lines first: the UI sizes this box to a few lines. "n of m", since markdown turns n/m into a fraction.
  const lines = [
    `**volume** ${state.volume_id} — **${state.status}** (${state.phase})`,
    `**attempt** ${state.attempt} of ${state.max_attempts ?? '?'}${state.backend_id ? ` on \`${state.backend_id}\`` : ''}`,
  ];
  if (state.last_error) lines.push(`**last error** ${state.last_error.type}: ${state.last_error.message}`);
  lines.push(`**retry** \`${JSON.stringify(state.retry)}\``);
  return lines.join('\n\n');
}
