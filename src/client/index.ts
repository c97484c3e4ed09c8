/** The cinder-temporal client library: start and follow creates, read volumes, pools and histories. */
export * from './volumes';
export * from './history';
export * from './volume-service';
export type { AttemptRecord, CreateVolumeInput, CreateVolumeResult, CreateVolumeState, Phase } from '../workflows/create-volume';
export { createVolumeWorkflowId, volumeStateQuery } from '../workflows/create-volume';
