import { defineQuotaContract, sqliteTarget } from './store-contract';

defineQuotaContract('SQLite', sqliteTarget());
