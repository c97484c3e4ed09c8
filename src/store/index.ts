export * from './volume-store';
export { MIGRATIONS, applyMigrations, migrationSql, type Migration, type SqlDialect } from './migrations';
export { SqliteVolumeStore, CINDER_DEFAULT_QUOTAS, type SqliteStoreOptions } from './sqlite-store';
export { PostgresVolumeStore, applyPostgresMigrations, type PostgresStoreOptions } from './postgres-store';
export { openVolumeStore, sqliteFilename, type OpenStoreOptions } from './open-store';
