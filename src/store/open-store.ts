import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { redactUrl as redact, scrubSecrets } from '../domain/secrets';
import { PostgresVolumeStore, type PostgresStoreOptions } from './postgres-store';
import { SqliteVolumeStore, type SqliteStoreOptions } from './sqlite-store';
import type { VolumeStore } from './volume-store';

/** Options for either database; each store reads the ones it knows. */
export type OpenStoreOptions = SqliteStoreOptions & PostgresStoreOptions;

/**
 * Opens the volume database named by url and brings its schema up to date:
 * - `sqlite::memory:` (or `:memory:`): a private in-memory database;
 * - `sqlite:<path>` (also `sqlite://<path>`, so `sqlite:///abs/path` works) or a bare file path:
 *   a SQLite file, its parent directories created;
 * - `postgres://` / `postgresql://` (libpq's url form, e.g. `postgres://user:pass@host:5432/cinder`):
 *   a PostgreSQL database, which must exist; the store creates its tables.
 * Errors never show the url's password.
 * Async so a networked database can open behind the same call.
 */
export async function openVolumeStore(url: string, options: OpenStoreOptions = {}): Promise<VolumeStore> {
  if (isPostgresUrl(url)) {
    try {
      return await PostgresVolumeStore.open(url, options);
    } catch (err) {
      const message = scrubSecrets(err instanceof Error ? err.message : String(err), [], url);
      throw new Error(`Could not open the PostgreSQL volume database ${redact(url)}: ${message}`, { cause: err });
    }
  }
  const filename = sqliteFilename(url);
  if (filename !== ':memory:') mkdirSync(dirname(resolve(filename)), { recursive: true });
  return new SqliteVolumeStore(filename, options);
}

function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/** The SQLite file a store url names, ':memory:' for an in-memory one; throws for other databases. */
export function sqliteFilename(url: string): string {
  if (isPostgresUrl(url)) {
    throw new Error(`${redact(url)} names a PostgreSQL database, not a SQLite file; open it with openVolumeStore.`);
  }
  let path = url;
  if (/^sqlite:/i.test(url)) {
    path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new Error(
      `Unsupported volume database url ${redact(url)}: expected sqlite:<path>, sqlite::memory:, postgres://... or a file path.`,
    );
  }
  if (path === '') throw new Error(`Volume database url ${JSON.stringify(url)} names no file.`);
  return path;
}
