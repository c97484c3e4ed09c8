import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { createVolume } from '../../src/client/volumes';
import { freePort, waitForServer } from '../../src/dev-server/dev-server';
import { resolveTemporalCli } from '../../src/dev-server/temporal-cli';

describe('client on a namespace without the search attributes', { timeout: 120_000 }, () => {
  let server: ChildProcess;
  let connection: Connection;
  before(async () => {
    const cli = await resolveTemporalCli();
    assert.ok(cli, 'a Temporal CLI is available (npm test builds or finds one)');
    const port = await freePort();
    // A bare dev server, as a real cluster whose operator has not registered them yet.
    server = spawn(
      cli.path,
      ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--headless', '--log-level', 'never'],
      { stdio: 'ignore' },
    );
    await waitForServer(`127.0.0.1:${port}`, 'default', 60_000);
    connection = await Connection.connect({ address: `127.0.0.1:${port}` });
  });
  after(async () => {
    await connection?.close();
    server?.kill('SIGTERM');
  });

  it('still starts the create, without search attributes', async () => {
    const client = new Client({ connection });
    const handle = await createVolume(
      client,
      { project_id: 'p1', size: 1, request_id: 'r-1' },
      { taskQueue: 'nobody-polls' },
    );
    const described = await handle.handle.describe();
    assert.equal(described.status.name, 'RUNNING');
    assert.equal(described.workflowId, `create-volume-${handle.volumeId}`);
    assert.deepEqual(described.typedSearchAttributes.getAll(), []);
    // The same request id still maps to the same create.
    const again = await createVolume(
      client,
      { project_id: 'p1', size: 1, request_id: 'r-1' },
      { taskQueue: 'nobody-polls' },
    );
    assert.equal(again.volumeId, handle.volumeId);
    assert.equal(again.existing, true);
    await handle.handle.terminate('test done');
  });
});
