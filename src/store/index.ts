export * from './volume-store';
export { MIGRATIONS, applyMigrations, type Migration } from './migrations';
export { SqliteVolumeStore, CINDER_DEFAULT_QUOTAS, type SqliteStoreOptions } from './sqlite-store';
export { openVolumeStore, sqliteFilename, type OpenStoreOptions } from './open-store';
