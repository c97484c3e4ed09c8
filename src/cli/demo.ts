/**
 * `npm start`: the main job on embedded defaults. Starts (or reuses) the local Temporal dev server,
 * starts the workers as Cinder runs its services (a scheduler pool, one volume worker per backend),
 * runs a few creates, one of them rescheduled after a backend failure, prints what happened with
 * the UI link of each workflow, and stops everything it started.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { VolumeService } from '../client/volume-service';
import { createVolume, VolumeCreateError, type NewVolumeRequest } from '../client/volumes';
import { devServerPorts, loadConfig, storeOptions } from '../config/config';
import { startDevServer, type RunningDevServer } from '../dev-server/dev-server';
import { WorkerProcess } from '../dev-server/worker-process';
import { openVolumeStore } from '../store';
import { connectionOptions } from '../temporal-connection';
import { tracingClientInterceptors } from '../observability/tracing';
import { table } from './format';

interface DemoCase {
  title: string;
  request: Omit<NewVolumeRequest, 'project_id'>;
  /** A fault to inject first on the named backend (by index in the config). */
  fault?: { backend: number; error_type: string; stage?: 'after_write' };
}

/** What becomes of the UI links when the demo exits: a server it started stops with it. */
export function uiLinksNote(origin: RunningDevServer['origin'] | null): string | null {
  if (origin === null || origin === 'reused') return null;
  return (
    'Note: the dev server stops when this command exits, and the UI links above with it. To keep them, ' +
    'run `npx cinder-temporal dev-server` in another terminal first: npm start then reuses that server.'
  );
}

export async function runDemo(out: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<number> {
  // The demo's own defaults: its two file backends when none are configured, fault injection on.
  const config = loadConfig(process.env, process.cwd(), { demo: true });
  const run = randomBytes(2).toString('hex');
  const logDir = path.join(config.data_dir, 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  let server: RunningDevServer | null = null;
  const workers: WorkerProcess[] = [];
  let stopping = false;
  const stopAll = async () => {
    if (stopping) return;
    stopping = true;
    await Promise.all(workers.map((w) => w.stop('SIGTERM', 15_000)));
    await server?.stop();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    out(`\n${sig}: stopping the workers${server ? ' and the dev server' : ''}...`);
    void stopAll().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    // A cluster named by the environment or a chosen temporal.toml profile is used, not started.
    const named = process.env.TEMPORAL_ADDRESS || process.env.TEMPORAL_PROFILE || process.env.TEMPORAL_CONFIG_FILE;
    if (!named) {
      const { ip, port, uiPort } = devServerPorts(config);
      server = await startDevServer({
        ip,
        port,
        uiPort,
        dbFilename: path.join(config.data_dir, 'temporal.db'),
        logFile: path.join(logDir, 'temporal-server.log'),
        progress: out,
      });
    } else {
      const from = config.temporal.profile
        ? `profile ${config.temporal.profile.name} of ${config.temporal.profile.file}`
        : 'TEMPORAL_ADDRESS';
      out(`using the Temporal cluster at ${config.temporal.address} (${from})`);
    }
    const uiUrl = server?.uiUrl ?? process.env.TEMPORAL_UI_URL ?? null;
    const env = { ...process.env, TEMPORAL_ADDRESS: config.temporal.address };
    const roles: string[][] = [['scheduler'], ...config.backends.map((b) => ['volume', '--backend', b.host])];
    const workerArgs = (r: string[]) => ['--demo', ...r];
    out(
      `starting ${roles.length} workers: scheduler, ${config.backends.map((b) => `volume ${b.host}`).join(', ')} (logs in ${logDir})`,
    );
    for (const r of roles) {
      workers.push(
        new WorkerProcess({
          roles: workerArgs(r),
          env,
          logFile: path.join(logDir, `worker-${r[r.length - 1].replace(/[@#]/g, '_')}.log`),
        }),
      );
    }
    await Promise.all(workers.map((w) => w.ready));

    const store = await openVolumeStore(config.database_url, storeOptions(config));
    const connection = await Connection.connect(connectionOptions(config));
    const client = new Client({
      connection,
      namespace: config.temporal.namespace,
      interceptors: { workflow: tracingClientInterceptors() },
    });
    const project = 'demo';
    // The demo project may create as many volumes as it likes, run after run: set as an operator
    // does, through `quota-update`'s own path (VolumeService.updateQuota), not the database.
    await new VolumeService(client, store, { taskQueue: config.scheduler_task_queue }).updateQuota(project, {
      volumes: -1,
      gigabytes: -1,
    });
    out(
      `quota of project ${project}: unlimited (as: npx cinder-temporal quota-update ${project} --volumes -1 --gigabytes -1)`,
    );

    const first = config.backends[0]?.host;
    const cases: DemoCase[] = [
      { title: 'plain create', request: { name: `demo-${run}-plain`, size: 1 } },
      {
        title: `${first} fails, rescheduled`,
        request: { name: `demo-${run}-resched`, size: 2 },
        // The driver writes the volume, then fails: the compensation deletes a real file.
        fault: { backend: 0, error_type: 'VolumeBackendAPIException', stage: 'after_write' },
      },
      { title: 'type ssd (capabilities)', request: { name: `demo-${run}-ssd`, size: 1, volume_type: 'ssd' } },
      { title: 'bad input', request: { name: `demo-${run}-bad`, size: 0 } },
    ];
    const rows: Array<Record<string, unknown>> = [];
    for (const c of cases) {
      if (c.fault) {
        await store.addFaultRule({
          host: config.backends[c.fault.backend].host,
          op: 'create',
          action: 'error',
          error_type: c.fault.error_type,
          stage: c.fault.stage ?? null,
          remaining: 1,
          volume_name: c.request.name ?? null,
        });
      }
      const handle = await createVolume(
        client,
        { ...c.request, project_id: project },
        { taskQueue: config.scheduler_task_queue },
      );
      let status: string;
      let backend = '-';
      let attempts = '';
      try {
        const result = await handle.result();
        status = result.status;
        backend = result.backend_id;
        attempts = result.attempts
          .map(
            (a) =>
              `#${a.attempt} ${a.backend_id} ${a.outcome}${a.error_type ? ` (${a.error_type}; ${a.cleanup ?? 'no cleanup'})` : ''}`,
          )
          .join(' -> ');
      } catch (err) {
        if (!(err instanceof VolumeCreateError)) throw err;
        status = `error: ${err.type}`;
        attempts = err.message;
      }
      rows.push({ case: c.title, volume: handle.volumeId.slice(0, 8), status, backend, attempts });
      out(`- ${c.title}: ${status}${backend !== '-' ? ` on ${backend}` : ''}`);
      out(`  ${attempts}`);
      if (uiUrl)
        out(`  ${uiUrl}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(handle.workflowId)}`);
    }
    out('');
    out(table(rows, ['case', 'volume', 'status', 'backend']));
    out('');
    if (uiUrl)
      out(
        `Temporal UI: ${uiUrl}  (try the queries ScheduleAttempt > 1, the rescheduled create, or BackendHost="${first}")`,
      );
    const note = uiLinksNote(server?.origin ?? null);
    if (note && uiUrl) out(note);
    await connection.close();
    await store.close();
    const rescheduled = rows[1];
    const ok =
      rows[0].status === 'available' &&
      rescheduled.status === 'available' &&
      rescheduled.backend !== '-' &&
      !String(rescheduled.backend).startsWith(`${first}#`);
    out(
      ok
        ? "demo finished: the failing backend's create was rescheduled and completed elsewhere"
        : 'demo finished with unexpected results (see above)',
    );
    return ok ? 0 : 1;
  } catch (err) {
    if (stopping) return 130; // interrupted: the signal handler reports and exits
    throw err;
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
