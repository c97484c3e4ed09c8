/**
 * The one redaction function (src/domain/secrets.ts), the logger's censored fields, and the bounded
 * ring of parsed log lines a WorkerProcess keeps.
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import pino from 'pino';
import { LogRing } from '../../src/dev-server/worker-process';
import { redactUrl, scrubSecrets, urlSecrets } from '../../src/domain/secrets';
import { REDACT_PATHS } from '../../src/logger';

describe('redactUrl / scrubSecrets', () => {
  it('hides user:password@ and password= in every URL form, keeping the rest readable', () => {
    assert.equal(redactUrl('postgres://cinder:s3cret@db:5432/cinder'), 'postgres://cinder:***@db:5432/cinder');
    assert.equal(
      redactUrl('postgres://cinder@db/cinder?sslmode=require&password=s3cret'),
      'postgres://cinder@db/cinder?sslmode=require&password=***',
    );
    assert.equal(
      redactUrl('postgres://db/cinder?PASSWORD=a&password=b'),
      'postgres://db/cinder?PASSWORD=***&password=***',
    );
    assert.equal(redactUrl('sqlite:/var/lib/cinder/cinder.db'), 'sqlite:/var/lib/cinder/cinder.db');
    assert.equal(redactUrl('postgres://cinder@db/cinder'), 'postgres://cinder@db/cinder');
  });
  it('scrubs a driver message that quotes the URL or the decoded password, and named secrets', () => {
    const url = 'postgres://u:p%40ss@db/x';
    assert.deepEqual(urlSecrets(url), ['p%40ss', 'p@ss']);
    const msg = `connect to ${url} failed: password "p@ss" rejected; key k-123`;
    assert.equal(
      scrubSecrets(msg, ['k-123'], url),
      'connect to postgres://u:***@db/x failed: password "***" rejected; key ***',
    );
  });
});

describe('logger redaction', () => {
  it('censors apiKey, api_key, password and authorization fields', () => {
    const lines: string[] = [];
    const sink = new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) });
    const log = pino({ redact: { paths: REDACT_PATHS, censor: '***' } }, sink);
    log.info({ apiKey: 'k1', conn: { api_key: 'k2', metadata: { authorization: 'Bearer k3' } }, password: 'k4' }, 'x');
    const text = lines.join('');
    for (const secret of ['k1', 'k2', 'k3', 'k4']) assert.ok(!text.includes(secret), `${secret} in ${text}`);
  });
});

describe('LogRing', () => {
  it('keeps the newest lines only, oldest first', () => {
    const ring = new LogRing(3);
    assert.deepEqual(ring.toArray(), []);
    for (let i = 1; i <= 2; i++) ring.push({ i });
    assert.deepEqual(ring.toArray(), [{ i: 1 }, { i: 2 }]);
    for (let i = 3; i <= 10_000; i++) ring.push({ i });
    assert.deepEqual(ring.toArray(), [{ i: 9998 }, { i: 9999 }, { i: 10_000 }]);
    assert.throws(() => new LogRing(0), RangeError);
  });
});
