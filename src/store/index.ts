export * from './volume-store';
export { MIGRATIONS, applyMigrations, migrationSql, type Migration, type SqlDialect } from './migrations';
export { SqlVolumeStore, CINDER_DEFAULT_QUOTAS, type SqlStoreOptions } from './sql-store';
export type { SqlConnection, SqlExecutor, TransactionKind } from './sql-connection';
export { SqliteVolumeStore, type SqliteStoreOptions } from './sqlite-store';
export { PostgresVolumeStore, applyPostgresMigrations, type PostgresStoreOptions } from './postgres-store';
export { openVolumeStore, sqliteFilename, type OpenStoreOptions } from './open-store';
