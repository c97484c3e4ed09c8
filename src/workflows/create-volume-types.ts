/** The create-volume workflow's contract: its input, its state (the volumeState query), its
 *  result. Shared by both code paths (create-volume.ts and the frozen create-volume-v1.ts). */
import { defineQuery } from '@temporalio/workflow';
import type { VolumeSpec } from '../activities/api-activities';
import type { CleanupLabel } from '../domain/names';
import type { CreateOptions } from '../domain/create-options';
import type { CreateVolumeRequest } from '../domain/volume';
import type { FilterProperties, Retry } from '../scheduler/types';
import type { CompensationRecord } from './saga';

export interface CreateVolumeInput {
  request: CreateVolumeRequest;
  /** Per-request overrides of the scheduler worker's defaults (see CreateOptions). */
  options?: Partial<CreateOptions>;
  /** Carried through continue-as-new: the API flow is done and the retry state goes on. */
  resume?: {
    spec: VolumeSpec;
    filter_properties: FilterProperties;
    attempts: AttemptRecord[];
    /** Alternates mode only: the alternates of the last full pass not tried yet, best first. */
    alternates?: string[];
  };
}

export interface AttemptRecord {
  attempt: number;
  backend_id: string;
  outcome: 'running' | 'succeeded' | 'failed';
  error_type?: string;
  error?: string;
  /** What the compensations did, newest first. */
  compensations?: CompensationRecord[];
  /** What happened to `volume-<id>` on this backend after a failure. */
  cleanup?: CleanupLabel;
  /** Alternates mode only: the pool was an alternate of an earlier full pass, not a new pass's choice. */
  alternate?: true;
}

export type Phase = 'api' | 'scheduling' | 'creating' | 'compensating' | 'rescheduling' | 'done';

export interface CreateVolumeState {
  volume_id: string;
  status: 'creating' | 'available' | 'error';
  phase: Phase;
  /** The attempt in progress (1-based) and the most there may be. */
  attempt: number;
  max_attempts: number | null;
  backend_id: string | null;
  /** Cinder's filter_properties['retry'] as it stands. */
  retry: Retry | null;
  last_error: { type: string; message: string } | null;
  attempts: AttemptRecord[];
}

export interface CreateVolumeResult {
  volume_id: string;
  status: 'available';
  backend_id: string;
  attempts: AttemptRecord[];
  retry: Retry | null;
}

export const volumeStateQuery = defineQuery<CreateVolumeState>('volumeState');
