import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ApplicationFailure } from '@temporalio/common';
import { asActivity, permanentFailureType } from '../../src/activities/failures';

describe('activity failures that no retry can fix are non-retryable', () => {
  it('a real SQLite NOT NULL violation becomes a non-retryable DBError', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (x TEXT NOT NULL)');
    const err = await asActivity(async () => db.prepare('INSERT INTO t (x) VALUES (?)').run(null)).catch(
      (e: unknown) => e,
    );
    db.close();
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'DBError');
    assert.equal(err.nonRetryable, true);
    assert.match(err.message, /NOT NULL/);
  });
  it('PostgreSQL integrity and data errors, TypeErrors and RangeErrors are permanent; a lost connection is not', () => {
    assert.equal(permanentFailureType(Object.assign(new Error('null value'), { code: '23502' })), 'DBError');
    assert.equal(permanentFailureType(Object.assign(new Error('bad text'), { code: '22P02' })), 'DBError');
    assert.equal(permanentFailureType(new TypeError("Cannot read properties of null (reading 'size')")), 'TypeError');
    assert.equal(permanentFailureType(new RangeError('Invalid time value')), 'RangeError');
    assert.equal(
      permanentFailureType(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
      null,
    );
    assert.equal(permanentFailureType(Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })), null);
    assert.equal(permanentFailureType(new Error('plain')), null);
  });
});
