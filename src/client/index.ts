/** The cinder-temporal client library: start and follow creates, read volumes, pools and histories. */
export * from './volumes';
export * from './history';
export * from './volume-service';
export * from './deletes';
export type { DeleteVolumeInput, DeleteVolumeResult, DeleteVolumeState, DeletePhase } from '../workflows/delete-volume';
export { deleteVolumeWorkflowId, deleteStateQuery } from '../workflows/delete-volume';
export type {
  AttemptRecord,
  CreateVolumeInput,
  CreateVolumeResult,
  CreateVolumeState,
  Phase,
} from '../workflows/create-volume';
export { createVolumeWorkflowId, volumeStateQuery } from '../workflows/create-volume';
