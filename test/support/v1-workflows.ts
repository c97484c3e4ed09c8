/**
 * The build before the three flows, as a workflow bundle entry point: its createVolume is the frozen
 * body (src/workflows/create-volume-v1.ts, whose commands are that build's), so a test can start
 * creates on the old build and let the new one finish them.
 */
export { createVolumeV1 as createVolume } from '../../src/workflows/create-volume-v1';
export { cleanupBackendVolume } from '../../src/workflows/cleanup-volume';
