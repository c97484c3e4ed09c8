/**
 * The volume database on SQLite (better-sqlite3): SqlVolumeStore on a SqliteConnection, for the
 * processes of one machine sharing one file (WAL, BEGIN IMMEDIATE: see sqlite-connection.ts).
 */
import type Database from 'better-sqlite3';
import { applyMigrations } from './migrations';
import { SqliteConnection, type SqliteConnectionOptions } from './sqlite-connection';
import { SqlVolumeStore, type SqlStoreOptions } from './sql-store';

export { CINDER_DEFAULT_QUOTAS } from './sql-store';

export interface SqliteStoreOptions extends SqlStoreOptions, SqliteConnectionOptions {}

export class SqliteVolumeStore extends SqlVolumeStore {
  /** The connection itself, for tests and tools. */
  readonly db: Database.Database;

  /** Opens (creating if needed) and migrates the database; ':memory:' for a private one. */
  constructor(filename: string, options: SqliteStoreOptions = {}) {
    const connection = new SqliteConnection(filename, options);
    applyMigrations(connection.db);
    super(connection, options);
    this.db = connection.db;
  }
}
