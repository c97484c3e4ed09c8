import { defineDeleteContract, defineQuotaContract, sqliteTarget } from './store-contract';

defineQuotaContract('SQLite', sqliteTarget());
defineDeleteContract('SQLite', sqliteTarget());
