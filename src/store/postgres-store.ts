/**
 * The volume database on PostgreSQL (pg), for volume services on more than one machine:
 * SqlVolumeStore on a PostgresConnection (advisory locks: see postgres-connection.ts). It keeps
 * SqliteVolumeStore's schema (the same migrations, PostgreSQL's variant where SQLite's SQL does not
 * run), its values and its behaviour, call for call.
 */
import type { Pool, PoolConfig } from 'pg';
import { PostgresConnection, applyPostgresMigrations, type PostgresConnectionOptions } from './postgres-connection';
import { SqlVolumeStore, type SqlStoreOptions } from './sql-store';

export { applyPostgresMigrations } from './postgres-connection';

export interface PostgresStoreOptions extends SqlStoreOptions, PostgresConnectionOptions {}

export class PostgresVolumeStore extends SqlVolumeStore {
  /** The store's own connection pool, for tests and tools; close ends it. */
  readonly pool: Pool;

  /**
   * Connects to the database (a postgres:// or postgresql:// url, libpq's parameters allowed, or
   * pg's pool settings) and brings its schema up to date. The pool is closed again if that fails.
   */
  static async open(connection: string | PoolConfig, options: PostgresStoreOptions = {}): Promise<PostgresVolumeStore> {
    const store = new PostgresVolumeStore(connection, options);
    try {
      await applyPostgresMigrations(store.pool);
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  /** Opens a pool on the database without migrating it (see open and applyPostgresMigrations). */
  constructor(connection: string | PoolConfig, options: PostgresStoreOptions = {}) {
    const db = PostgresConnection.connect(connection, options);
    super(db, options);
    this.pool = db.pool;
  }
}
