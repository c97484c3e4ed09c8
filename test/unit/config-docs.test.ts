/**
 * The docs agree with the configuration's declaration: docs/deploy.md's table is the one
 * `npm run docs:config` writes from it, and every variable README.md and docs/*.md name is one the
 * code reads.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CONFIG_FILE_ENV, configDocsTable, ENV_SETTINGS } from '../../src/config/config';
import { tableIn } from '../../src/domain/settings';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

/** Variables the docs name that are not configuration settings, each read by the code that says so. */
const NOT_SETTINGS: Record<string, string> = {
  CINDER_PROJECT_ID: 'src/cli/args.ts',
  CINDER_TEST_POSTGRES_URL: 'test/support/postgres.ts',
  TEMPORAL_CLI_PATH: 'src/dev-server/temporal-cli.ts',
  TEMPORAL_SERVER_PATH: 'src/dev-server/temporal-server.ts',
  TEMPORAL_SQL_TOOL_PATH: 'src/dev-server/temporal-server.ts',
  TEMPORAL_UI_SERVER_PATH: 'src/dev-server/temporal-server.ts',
  TEMPORAL_SCHEMA_DIR: 'src/dev-server/temporal-server.ts',
  // Read by the OTLP exporter itself.
  OTEL_EXPORTER_OTLP_HEADERS:
    'node_modules/@opentelemetry/otlp-exporter-base/build/src/configuration/otlp-http-env-configuration.js',
};
/** Families of variables the docs name by prefix (`TEMPORAL_TLS_*`, `TEMPORAL_GRPC_META_<NAME>`). */
const PREFIXES = ['TEMPORAL_TLS_', 'TEMPORAL_GRPC_META_'];

describe('the configuration docs', () => {
  it("docs/deploy.md's table is the declaration's (npm run docs:config rewrites it)", () => {
    const table = tableIn(read('docs/deploy.md'));
    assert.ok(table, 'docs/deploy.md has the config-table markers');
    assert.equal(table, configDocsTable(), 'docs/deploy.md is out of date: run npm run docs:config');
  });

  it('every variable README.md and docs/*.md name is declared, or read elsewhere on purpose', () => {
    const docs = [
      'README.md',
      ...fs
        .readdirSync(path.join(ROOT, 'docs'))
        .filter((f) => f.endsWith('.md'))
        .map((f) => `docs/${f}`),
    ];
    for (const doc of docs) {
      for (const [name] of read(doc).matchAll(/\b(?:CINDER|TEMPORAL|OTEL)_[A-Z0-9_]+/g)) {
        if (ENV_SETTINGS[name] || name === CONFIG_FILE_ENV || PREFIXES.includes(name)) continue;
        assert.ok(NOT_SETTINGS[name], `${doc} names ${name}, which the configuration does not declare`);
      }
    }
    for (const [name, file] of Object.entries(NOT_SETTINGS))
      assert.ok(read(file).includes(name), `${file} reads ${name}`);
  });
});
