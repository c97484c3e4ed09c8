/** Every workflow the scheduler worker registers (the bundle's entry point). */
export { createVolume } from './create-volume';
export { cleanupBackendVolume } from './cleanup-volume';
export { deleteVolume } from './delete-volume';
