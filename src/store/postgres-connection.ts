/**
 * SqlConnection on PostgreSQL (pg), for volume services on more than one machine.
 *
 * Concurrency, across any number of processes and machines: every read-then-write runs in a
 * transaction that first takes one transaction-scoped advisory lock (the store's write lock), the
 * counterpart of SQLite's BEGIN IMMEDIATE. Writers that decide on what they read therefore run one
 * at a time and, under READ COMMITTED, each of their statements sees everything the previous lock
 * holder committed. Statements outside a transaction (the store's single-statement writes: commit
 * and rollback of quota, upserts of reference data, events) are atomic by themselves and skip the
 * lock; read transactions run in one REPEATABLE READ snapshot. Migrations take a second advisory
 * lock, so processes starting at once apply each migration exactly once.
 */
import { Pool, types as pgTypes, type PoolConfig, type QueryResultRow } from 'pg';
import { MIGRATIONS, migrationSql, type Migration } from './migrations';
import type { SqlConnection, SqlExecutor, TransactionKind } from './sql-connection';

export interface PostgresConnectionOptions {
  /** How long a writer waits for another process's lock (PostgreSQL's lock_timeout), as SQLite's
   *  busy timeout does. Default 10 s. */
  busyTimeoutMs?: number;
  /** Most connections the pool opens. Default 10. */
  maxConnections?: number;
}

/** Advisory lock keys (two-int form: this store's tag, then the lock). Advisory locks are per
 *  database, so stores on different databases of one server never wait for each other. */
const LOCK_TAG = 0x63696e64; // 'cind'
const WRITE_LOCK = 1;
const MIGRATION_LOCK = 2;

/** SQLite's INTEGER is 64-bit and better-sqlite3 reads it as a JS number: BIGINT columns (and
 *  COUNT/SUM results cast to bigint) read back as numbers here too, not pg's default strings. */
const INT8_OID = 20;
const STORE_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? (text: string) => Number(text)
      : pgTypes.getTypeParser(oid, format)) as typeof pgTypes.getTypeParser,
};

/** What both a pool and a checked-out client can run. */
interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

const numbered = new Map<string, string>();

/** The statement with its `?` placeholders numbered $1, $2, ... as PostgreSQL takes them (a `?`
 *  inside a quoted literal or name is left alone). */
function numberPlaceholders(sql: string): string {
  let out = numbered.get(sql);
  if (out === undefined) {
    let n = 0;
    let quote: string | null = null;
    out = '';
    for (const ch of sql) {
      if (quote) {
        if (ch === quote) quote = null;
      } else if (ch === "'" || ch === '"') {
        quote = ch;
      } else if (ch === '?') {
        out += `$${++n}`;
        continue;
      }
      out += ch;
    }
    numbered.set(sql, out);
  }
  return out;
}

/** An executor on a pool (each statement on its own) or on a client in a transaction. A statement
 *  without parameters goes as a simple query, so it may be a script of several (migrations). */
function executorOn(db: Queryable): SqlExecutor {
  const query = async <R>(sql: string, params: readonly unknown[] = []): Promise<R[]> =>
    params.length === 0
      ? ((await db.query(sql)).rows as R[])
      : ((await db.query(numberPlaceholders(sql), [...params])).rows as R[]);
  return {
    all: query,
    get: async <R>(sql: string, params?: readonly unknown[]) => (await query<R>(sql, params))[0],
    run: async (sql: string, params?: readonly unknown[]) => void (await query(sql, params)),
  };
}

export class PostgresConnection implements SqlConnection {
  private readonly onPool: SqlExecutor;
  private closed = false;

  /** Runs on pool (which close ends). */
  constructor(readonly pool: Pool) {
    this.onPool = executorOn(pool);
  }

  /** A pool on the database (a postgres:// or postgresql:// url, libpq's parameters allowed, or pg's
   *  pool settings), reading rows the way the store's mappers expect. Connects lazily. */
  static connect(connection: string | PoolConfig, options: PostgresConnectionOptions = {}): PostgresConnection {
    const config: PoolConfig = typeof connection === 'string' ? { connectionString: connection } : connection;
    const pool = new Pool({
      ...config,
      max: options.maxConnections ?? config.max ?? 10,
      lock_timeout: options.busyTimeoutMs ?? config.lock_timeout ?? 10_000,
      types: STORE_TYPES,
    });
    // An idle connection the server dropped (restart, admin kill) must not crash the process;
    // pg discards it and the next query opens another.
    pool.on('error', () => {});
    return new PostgresConnection(pool);
  }

  all<R>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return this.onPool.all<R>(sql, params);
  }

  get<R>(sql: string, params?: readonly unknown[]): Promise<R | undefined> {
    return this.onPool.get<R>(sql, params);
  }

  run(sql: string, params?: readonly unknown[]): Promise<void> {
    return this.onPool.run(sql, params);
  }

  /** One client of the pool: write and migrate BEGIN, then take their advisory lock and run at READ
   *  COMMITTED (PostgreSQL's default); read is REPEATABLE READ READ ONLY and takes no lock. */
  async transaction<T>(kind: TransactionKind, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    let broken: Error | undefined;
    try {
      if (kind === 'read') {
        await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      } else {
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock($1, $2)', [
          LOCK_TAG,
          kind === 'write' ? WRITE_LOCK : MIGRATION_LOCK,
        ]);
      }
      const result = await fn(executorOn(client));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        broken = rollbackErr as Error; // the connection is unusable: drop it rather than pool it
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** PostgreSQL's unique_violation, on that index. */
  isUniqueViolation(err: unknown, index: string): boolean {
    const e = err as { code?: string; constraint?: string };
    return e.code === '23505' && e.constraint === index;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/**
 * Applies the migrations not yet recorded, each in its own transaction that re-checks under an
 * advisory lock, so processes migrating the same database at once apply every migration exactly
 * once (DDL is transactional in PostgreSQL). Returns the versions applied by this call.
 */
export async function applyPostgresMigrations(
  pool: Pool,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const db = new PostgresConnection(pool); // not closed: the pool is the caller's
  // Under the lock too: concurrent CREATE TABLE IF NOT EXISTS can fail on PostgreSQL's catalog.
  await db.transaction('migrate', (tx) =>
    tx.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
  version BIGINT PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TEXT NOT NULL
)`),
  );
  const applied: number[] = [];
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  for (const m of sorted) {
    const ran = await db.transaction('migrate', async (tx) => {
      if (await tx.get('SELECT version FROM schema_migrations WHERE version = ?', [m.version])) return false;
      await tx.run(migrationSql(m, 'postgres'));
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [
        m.version,
        m.name,
        new Date().toISOString(),
      ]);
      return true;
    });
    if (ran) applied.push(m.version);
  }
  return applied;
}
