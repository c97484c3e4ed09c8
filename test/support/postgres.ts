/**
 * PostgreSQL for tests: a throw-away server of our own (src/dev-server/postgres.ts), or, with
 * CINDER_TEST_POSTGRES_URL set (a superuser, or a role with CREATEDB), no server: each database is
 * created on that server with a random name and dropped by stop().
 */
import { adminOf, startLocalPostgres, type PostgresDatabases } from '../../src/dev-server/postgres';

export { findPostgresBinDir, type DatabaseOptions } from '../../src/dev-server/postgres';

export type TestPostgres = PostgresDatabases;

export async function startTestPostgres(): Promise<TestPostgres> {
  const external = process.env.CINDER_TEST_POSTGRES_URL;
  return external ? useExternalServer(external) : startLocalPostgres();
}

async function useExternalServer(serverUrl: string): Promise<TestPostgres> {
  const admin = adminOf(serverUrl);
  const url = await admin.createDatabase();
  return { url, createDatabase: admin.createDatabase, stop: admin.dropAll };
}
