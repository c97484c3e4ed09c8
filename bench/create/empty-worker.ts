/**
 * The empty-workflow worker of bench/create.bench.ts, in its own process as the create workers are:
 * `tsx bench/create/empty-worker.ts <task queue>` with TEMPORAL_ADDRESS set. Prints one JSON line
 * {"event":"worker.running"} when polling; stops on SIGTERM or when its parent goes.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';

async function main(): Promise<void> {
  const taskQueue = process.argv[2];
  if (!taskQueue) throw new Error('usage: empty-worker.ts <task queue>');
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: [] });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const worker = await Worker.create({ connection, taskQueue, workflowsPath: require.resolve('./empty-workflow') });
  // Nothing to finish here: a stop that takes long (a long poll) need not be waited for.
  const stop = () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('disconnect', stop);
  const running = worker.run();
  process.stdout.write(JSON.stringify({ event: 'worker.running', task_queue: taskQueue }) + '\n');
  await running;
  await connection.close();
}

main().catch((err) => {
  process.stderr.write(`empty worker: ${err?.stack ?? err}\n`);
  process.exit(1);
});
