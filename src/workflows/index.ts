/** Every workflow the scheduler worker registers (the bundle's entry point). */
export { createVolume, cleanupBackendVolume } from './create-volume';
export { deleteVolume } from './delete-volume';
