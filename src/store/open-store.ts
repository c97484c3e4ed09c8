import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { SqliteVolumeStore, type SqliteStoreOptions } from './sqlite-store';
import type { VolumeStore } from './volume-store';

export type OpenStoreOptions = SqliteStoreOptions;

/**
 * Opens the volume database named by url and brings its schema up to date:
 * - `sqlite::memory:` (or `:memory:`): a private in-memory database;
 * - `sqlite:<path>` (also `sqlite://<path>`, so `sqlite:///abs/path` works) or a bare file path:
 *   a SQLite file, its parent directories created;
 * - `postgres://` / `postgresql://`: not built yet.
 * Async so a networked database can open behind the same call.
 */
export async function openVolumeStore(url: string, options: OpenStoreOptions = {}): Promise<VolumeStore> {
  const filename = sqliteFilename(url);
  if (filename !== ':memory:') mkdirSync(dirname(resolve(filename)), { recursive: true });
  return new SqliteVolumeStore(filename, options);
}

/** The SQLite file a store url names, ':memory:' for an in-memory one; throws for other databases. */
export function sqliteFilename(url: string): string {
  if (/^postgres(ql)?:\/\//i.test(url)) {
    throw new Error(
      `PostgreSQL volume databases are not supported yet (${redact(url)}); use a sqlite: url or a file path until PostgreSQL support lands.`,
    );
  }
  let path = url;
  if (/^sqlite:/i.test(url)) {
    path = url.slice('sqlite:'.length);
    if (path.startsWith('//')) path = path.slice(2);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new Error(`Unsupported volume database url ${redact(url)}: expected sqlite:<path>, sqlite::memory: or a file path.`);
  }
  if (path === '') throw new Error(`Volume database url ${JSON.stringify(url)} names no file.`);
  return path;
}

/** Keeps a password out of error messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}
