/**
 * SqlConnection on SQLite (better-sqlite3). Several processes on one machine (the scheduler worker
 * and the volume workers) share one file: WAL lets readers run beside the single writer, and every
 * read-then-write runs in BEGIN IMMEDIATE, which takes the write lock before the read, so two
 * processes never decide on the same stale row.
 *
 * Within one process, better-sqlite3 has one connection and is synchronous, but a transaction of
 * SqlConnection is an async callback: between its statements other async work of the process runs.
 * So the connection is taken in turns (first come, first served): a transaction holds it from BEGIN
 * to COMMIT or ROLLBACK, and any statement or transaction asked for meanwhile waits for its turn
 * rather than nesting in, or reading the uncommitted rows of, a transaction it is no part of. When
 * the connection is free, a statement (or a transaction's BEGIN and first statements) runs at once,
 * in the call, as it did when the store was synchronous.
 */
import Database from 'better-sqlite3';
import type { SqlConnection, SqlExecutor, TransactionKind } from './sql-connection';

export interface SqliteConnectionOptions {
  /** SQLite busy timeout: how long a writer waits for another process's lock. Default 10 s. */
  busyTimeoutMs?: number;
}

export class SqliteConnection implements SqlConnection {
  /** The database itself, for tests and tools: what runs on it directly takes no turn. */
  readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement<unknown[], unknown>>();
  /** Statements of the transaction holding the turn: they run at once. */
  private readonly inTurn: SqlExecutor;
  /** Whether a statement or transaction holds the turn; the ones waiting for it, in order. */
  private busy = false;
  private readonly waiting: Array<() => void> = [];

  /** Opens (creating if needed) the file, ':memory:' for a private database; WAL, foreign keys on. */
  constructor(filename: string, options: SqliteConnectionOptions = {}) {
    this.db = new Database(filename, { timeout: options.busyTimeoutMs ?? 10_000 });
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes in WAL mode; only an OS crash may lose the last commits.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.inTurn = {
      all: async <R>(sql: string, params: readonly unknown[] = []) => this.prepare<R>(sql).all(...params),
      get: async <R>(sql: string, params: readonly unknown[] = []) => this.prepare<R>(sql).get(...params),
      run: async (sql: string, params: readonly unknown[] = []) => void this.prepare(sql).run(...params),
    };
  }

  all<R>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.inOwnTurn(() => this.prepare<R>(sql).all(...params));
  }

  get<R>(sql: string, params: readonly unknown[] = []): Promise<R | undefined> {
    return this.inOwnTurn(() => this.prepare<R>(sql).get(...params));
  }

  run(sql: string, params: readonly unknown[] = []): Promise<void> {
    return this.inOwnTurn(() => void this.prepare(sql).run(...params));
  }

  /** write and migrate: BEGIN IMMEDIATE (the write lock, waiting up to the busy timeout for another
   *  process's); read: BEGIN (deferred), whose first read fixes the snapshot. */
  async transaction<T>(kind: TransactionKind, fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    if (!this.enter()) await this.nextTurn();
    try {
      this.prepare(kind === 'read' ? 'BEGIN' : 'BEGIN IMMEDIATE').run();
      try {
        const result = await fn(this.inTurn);
        this.prepare('COMMIT').run();
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.prepare('ROLLBACK').run();
        throw err;
      }
    } finally {
      this.leave();
    }
  }

  /** SQLite's error names the columns, not the index: any UNIQUE violation counts (a primary key's
   *  is SQLITE_CONSTRAINT_PRIMARYKEY, not this). */
  isUniqueViolation(err: unknown, _index: string): boolean {
    return (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE';
  }

  close(): Promise<void> {
    return this.inOwnTurn(() => {
      if (this.db.open) this.db.close();
    });
  }

  private prepare<R = unknown>(sql: string): Database.Statement<unknown[], R> {
    let stmt = this.statements.get(sql);
    if (!stmt) {
      stmt = this.db.prepare(sql);
      this.statements.set(sql, stmt);
    }
    return stmt as Database.Statement<unknown[], R>;
  }

  /** Runs op (synchronous) in a turn of its own: now when the connection is free, else after the
   *  statements and transactions that asked before. */
  private async inOwnTurn<T>(op: () => T): Promise<T> {
    if (!this.enter()) await this.nextTurn();
    try {
      return op();
    } finally {
      this.leave();
    }
  }

  /** Takes the turn if the connection is free. */
  private enter(): boolean {
    if (this.busy) return false;
    this.busy = true;
    return true;
  }

  /** Resolves when the turn is handed to this caller (busy stays set). */
  private nextTurn(): Promise<void> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Hands the turn to the next caller waiting, or frees the connection. */
  private leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.busy = false;
  }
}
