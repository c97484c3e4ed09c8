import { defineCapacityContract, sqliteTarget } from './store-contract';

defineCapacityContract('SQLite', sqliteTarget());
