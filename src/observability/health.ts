/**
 * The worker process's health endpoint, for an orchestrator's probes:
 * - `GET /healthz` (liveness): 200 when every Temporal worker of the process is RUNNING (polling its
 *   task queue), 503 while starting, stopping, or when one has failed;
 * - `GET /readyz` (readiness): 200 when healthy and, for each volume role, the last pool stats
 *   report (the volume service's heartbeat the scheduler reads) succeeded recently; 503 otherwise.
 * Both answer JSON: {status, ready, roles, task_queues, polling, workers, stats_reports}.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HealthRoles {
  scheduler: boolean;
  backends: string[];
}

/** What the endpoint needs of a Temporal Worker (a real one, or a stand-in in unit tests). */
export interface PolledWorker {
  getState(): string;
  readonly options: { taskQueue: string };
}

export interface StatsReportState {
  ok: boolean;
  /** ISO time of the last successful report. */
  last_success_at: string | null;
  last_error?: string;
}

export interface HealthReport {
  status: 'starting' | 'ok' | 'failing' | 'stopping';
  ready: boolean;
  roles: HealthRoles;
  task_queues: string[];
  /** Every worker is RUNNING, i.e. polling its task queue. */
  polling: boolean;
  workers: Array<{ role: 'scheduler' | 'volume'; host?: string; task_queue: string; state: string }>;
  /** Per volume role: the pool stats report (heartbeat). */
  stats_reports: Record<string, StatsReportState>;
  /** Why it is not ready, when it is not. */
  reasons: string[];
}

/** The health of one worker process, fed by worker.ts as workers start and stats are reported. */
export class WorkerHealth {
  private readonly workers: Array<{ role: 'scheduler' | 'volume'; host?: string; worker: PolledWorker }> = [];
  private readonly reports = new Map<string, StatsReportState>();
  private startedAll = false;
  private stopping = false;
  /** The last failed try to reach the Temporal server at start, while the worker still retries. */
  private connectFailure: { attempt: number; error: string } | null = null;

  constructor(
    readonly roles: HealthRoles,
    /** A stats report older than this makes the process not ready (default: three intervals). */
    private readonly statsMaxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  addWorker(role: 'scheduler' | 'volume', worker: PolledWorker, host?: string): void {
    this.workers.push({ role, worker, ...(host ? { host } : {}) });
  }

  /** Every configured role has its worker. */
  markStarted(): void {
    this.startedAll = true;
  }

  markStopping(): void {
    this.stopping = true;
  }

  /** A try to reach the Temporal server failed (attempt, error); null once connected. */
  noteConnect(failure: { attempt: number; error: string } | null): void {
    this.connectFailure = failure;
  }

  noteStatsReport(host: string, ok: boolean, error?: unknown): void {
    const prev = this.reports.get(host);
    this.reports.set(host, {
      ok,
      last_success_at: ok ? new Date(this.now()).toISOString() : (prev?.last_success_at ?? null),
      ...(ok ? {} : { last_error: error instanceof Error ? error.message : String(error) }),
    });
  }

  report(): HealthReport {
    const workers = this.workers.map(({ role, host, worker }) => ({
      role,
      ...(host ? { host } : {}),
      task_queue: worker.options.taskQueue,
      state: worker.getState(),
    }));
    const polling = this.startedAll && workers.length > 0 && workers.every((w) => w.state === 'RUNNING');
    const status: HealthReport['status'] = this.stopping
      ? 'stopping'
      : !this.startedAll
        ? 'starting'
        : polling
          ? 'ok'
          : 'failing';
    const reasons: string[] = [];
    if (status !== 'ok') reasons.push(`status ${status}`);
    if (this.connectFailure)
      reasons.push(
        `cannot reach the Temporal server yet (try ${this.connectFailure.attempt}): ${this.connectFailure.error}`,
      );
    for (const w of workers) if (w.state !== 'RUNNING') reasons.push(`${w.task_queue}: ${w.state}`);
    const stats: Record<string, StatsReportState> = {};
    for (const host of this.roles.backends) {
      const r = this.reports.get(host) ?? { ok: false, last_success_at: null };
      stats[host] = r;
      const age = r.last_success_at ? this.now() - Date.parse(r.last_success_at) : Infinity;
      if (!r.ok) reasons.push(`${host}: last stats report failed${r.last_error ? `: ${r.last_error}` : ''}`);
      else if (age > this.statsMaxAgeMs) reasons.push(`${host}: last stats report is ${Math.round(age / 1000)} s old`);
    }
    return {
      status,
      ready: reasons.length === 0,
      roles: this.roles,
      task_queues: workers.map((w) => w.task_queue),
      polling,
      workers,
      stats_reports: stats,
      reasons,
    };
  }
}

/** Serves /healthz and /readyz; resolves with the address it listens on (port 0: a free one). */
export async function startHealthServer(
  bind: { host: string; port: number },
  health: WorkerHealth,
): Promise<{ address: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (url !== '/healthz' && url !== '/readyz') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz or /readyz\n');
      return;
    }
    const report = health.report();
    const ok = url === '/healthz' ? report.status === 'ok' : report.ready;
    res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : JSON.stringify(report) + '\n');
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.unref();
  const a = server.address() as AddressInfo;
  return {
    address: `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
