/**
 * What SqlVolumeStore needs of a database, so that its logic is written once for SQLite and
 * PostgreSQL: statements with `?` placeholders (the PostgreSQL connection numbers them $1, $2, ...),
 * and transactions of three kinds. sqlite-connection.ts and postgres-connection.ts implement it.
 *
 * The SQL the store sends is the common ground of both databases: upserts with ON CONFLICT ...
 * DO UPDATE SET x = excluded.x, RETURNING, CAST(? AS TEXT) where PostgreSQL cannot infer a
 * parameter's type, CAST(SUM(...) AS BIGINT) where it would return numeric. What differs in the
 * schema (column types, collation, identity columns) is in the migrations' per-dialect variants.
 */

/** Runs statements: the connection itself, or the transaction a callback was given. */
export interface SqlExecutor {
  /** Every row of a query (a SELECT, or a write with RETURNING). */
  all<R>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** The first row of a query, undefined when there is none. */
  get<R>(sql: string, params?: readonly unknown[]): Promise<R | undefined>;
  /** A statement whose rows, if any, are not wanted. */
  run(sql: string, params?: readonly unknown[]): Promise<void>;
}

/**
 * - `write`: a read-then-write. Holds the database's write lock from its start (SQLite's BEGIN
 *   IMMEDIATE; PostgreSQL's store-wide advisory lock), so writers that decide on what they read run
 *   one at a time, across processes.
 * - `read`: several reads in one consistent snapshot; takes no write lock.
 * - `migrate`: like `write`, on the migrations' own lock (PostgreSQL; SQLite has only the one).
 */
export type TransactionKind = 'write' | 'read' | 'migrate';

export interface SqlConnection extends SqlExecutor {
  /** Runs fn in one transaction of that kind: commits what it did when it resolves, rolls all of it
   *  back when it throws. fn must run its statements on tx, never on the connection itself (on
   *  SQLite that would wait for the transaction it is part of), and start no other transaction. */
  transaction<T>(kind: TransactionKind, fn: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Whether err is a violation of the unique index of that name. */
  isUniqueViolation(err: unknown, index: string): boolean;
  /** Waits for what is under way, then closes; closing twice is fine. */
  close(): Promise<void>;
}
