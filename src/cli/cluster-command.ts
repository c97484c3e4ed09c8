/** `cinder-temporal cluster`: starts the local two-node cluster, prints where it is, stops it all on Ctrl-C. */
import { loadConfig } from '../config/config';
import { startLocalCluster } from '../dev-server/local-cluster';
import { UsageError } from './errors';

export async function runCluster(args: string[], out: (l: string) => void, err: (l: string) => void): Promise<number> {
  let ui = false;
  let uiPort: number | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--ui') ui = true;
    else if (args[i] === '--ui-port') {
      uiPort = Number(args[++i]);
      if (!Number.isInteger(uiPort) || uiPort < 1 || uiPort > 65535)
        throw new UsageError(`--ui-port: must be a port number (1-65535), got ${args[i] ?? 'nothing'}`);
      ui = true;
    } else throw new UsageError(`unknown option ${args[i]}`);
  }
  const config = loadConfig(process.env, process.cwd(), { demo: true });
  // Handled here, not by the harness: Ctrl-C stops the workers, the UI, the nodes and PostgreSQL in order.
  let signalled: NodeJS.Signals | null = null;
  let wake: () => void = () => undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    signalled = sig;
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const started = Date.now();
  const cluster = await startLocalCluster({
    backends: config.backends,
    volumeTypes: config.volume_types,
    schedulerTaskQueue: config.scheduler_task_queue,
    ui,
    uiPort,
    progress: err,
  });
  try {
    out(`cluster up in ${((Date.now() - started) / 1000).toFixed(1)}s (folder ${cluster.dir})`);
    for (const n of cluster.temporal.nodes)
      out(`  Temporal node ${n.index}: ${n.address} (pids ${n.pids().join(' ')}, log ${n.logFile})`);
    const pg = cluster.temporal.postgres;
    out(
      `  PostgreSQL: ${pg.host}:${pg.port} (pid ${pg.pid()}; databases temporal, temporal_visibility, the volume database)`,
    );
    for (const [key, w] of cluster.workers) out(`  worker ${key}: pid ${w.pid}`);
    if (cluster.uiUrl) out(`  UI: ${cluster.uiUrl} (through node 1)`);
    out(`In another shell: . ${cluster.envFile}   then e.g. npx cinder-temporal create --size 1 --wait`);
    out('Ctrl-C stops everything.');
    if (!signalled) await new Promise<void>((resolve) => (wake = resolve));
    out(`${signalled}: stopping the workers, the Temporal nodes and PostgreSQL...`);
  } finally {
    await cluster.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  out('stopped.');
  return 0;
}
