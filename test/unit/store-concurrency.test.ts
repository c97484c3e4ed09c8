/**
 * Several processes sharing one SQLite file (better-sqlite3 is synchronous, so only separate
 * processes really race): the contract's concurrency suite, which spawns store-contract.ts as its
 * child processes.
 */
import { defineConcurrencyContract, sqliteTarget } from './store-contract';

defineConcurrencyContract('SQLite', sqliteTarget());
