/**
 * The dev server's SQLite file (npm start's): WAL with synchronous=NORMAL (LOCAL_SQLITE_PRAGMAS),
 * which still keeps every commit when the server process is killed outright; the stock settings
 * keep SQLite's rollback journal.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import Database from 'better-sqlite3';
import { freePort, sqlitePragmaArgs, startDevServer, type RunningDevServer } from '../../src/dev-server/dev-server';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cinder-devdb-'));
const journalMode = (file: string) => {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.pragma('journal_mode', { simple: true });
  } finally {
    db.close();
  }
};

async function start(dbFilename: string, stockDynamicConfig = false): Promise<RunningDevServer> {
  return startDevServer({ port: await freePort(), ui: false, reuseExisting: false, dbFilename, stockDynamicConfig });
}

describe('dev server database file', { timeout: 120_000 }, () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('adds the pragmas only for a file on the local settings', () => {
    assert.deepEqual(sqlitePragmaArgs({}), []);
    assert.deepEqual(sqlitePragmaArgs({ dbFilename: 'x.db', stockDynamicConfig: true }), []);
    assert.deepEqual(sqlitePragmaArgs({ dbFilename: 'x.db' }), [
      '--sqlite-pragma',
      'journal_mode=wal',
      '--sqlite-pragma',
      'synchronous=normal',
    ]);
  });

  it('runs in WAL mode and keeps a started workflow across a SIGKILL of the server', async () => {
    const file = path.join(dir, 'local.db');
    let server = await start(file);
    const workflowId = `devdb-${process.pid}`;
    try {
      const connection = await Connection.connect({ address: server.address });
      try {
        // No worker polls this queue: the workflow stays open, recorded only in the server's file.
        await new Client({ connection }).workflow.start('nobodyRunsThis', { taskQueue: 'devdb-none', workflowId });
      } finally {
        await connection.close();
      }
      assert.equal(journalMode(file), 'wal');
      process.kill(server.pid!, 'SIGKILL');
      await server.stop();
      server = await start(file);
      const again = await Connection.connect({ address: server.address });
      try {
        const d = await new Client({ connection: again }).workflow.getHandle(workflowId).describe();
        assert.equal(d.status.name, 'RUNNING');
      } finally {
        await again.close();
      }
    } finally {
      await server.stop();
    }
  });

  it("keeps SQLite's rollback journal on the stock settings", async () => {
    const file = path.join(dir, 'stock.db');
    const server = await start(file, true);
    await server.stop();
    assert.equal(journalMode(file), 'delete');
  });
});
