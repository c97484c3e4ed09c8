import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

/** The worker entry point, run through tsx so no build step is needed locally. */
const WORKER_ENTRY = path.resolve(__dirname, '..', 'worker.ts');
const TSX_LOADER = require.resolve('tsx');

export interface WorkerProcessOptions {
  /** Roles, as worker.ts takes them: ['scheduler'], ['volume', '--backend', 'hostA@lvm'], ['all']. */
  roles: string[];
  env: NodeJS.ProcessEnv;
  /** Every log line of the worker is appended here. */
  logFile?: string;
  /** Called with each parsed JSON log line. */
  onLog?: (line: Record<string, unknown>) => void;
  readyTimeoutMs?: number;
}

/** A worker in its own process, as it runs in production; tied to its parent by an IPC channel,
 *  so it shuts down when the parent dies. */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly lines: Array<Record<string, unknown>> = [];

  constructor(readonly options: WorkerProcessOptions) {
    this.child = spawn(process.execPath, ['--import', TSX_LOADER, WORKER_ENTRY, ...options.roles], {
      // JSON lines whatever the user's CINDER_LOG_FORMAT: readiness is read from them.
      env: { ...options.env, CINDER_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    // If this process exits first, the worker goes too (it also watches the IPC channel).
    const killOnExit = () => this.child.kill('SIGTERM');
    process.on('exit', killOnExit);
    this.child.once('exit', () => process.off('exit', killOnExit));
    const log = options.logFile ? fs.createWriteStream(options.logFile, { flags: 'a' }) : null;
    this.exited = new Promise((resolve) => this.child.once('exit', (code, signal) => { log?.end(); resolve({ code, signal }); }));
    let stderr = '';
    this.child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      log?.write(d);
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${options.roles.join(' ')} not ready in time; stderr: ${stderr}`)), options.readyTimeoutMs ?? 60_000);
      this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`worker ${options.roles.join(' ')} exited (${signal ?? code}) before it was ready: ${stderr}`));
      });
      readline.createInterface({ input: this.child.stdout! }).on('line', (text) => {
        log?.write(text + '\n');
        let line: Record<string, unknown>;
        try {
          line = JSON.parse(text);
        } catch {
          return;
        }
        this.lines.push(line);
        options.onLog?.(line);
        if (line.event === 'worker.running') {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    this.ready.catch(() => undefined);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Log lines seen so far (JSON). */
  logs(): ReadonlyArray<Record<string, unknown>> {
    return this.lines;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends signal (SIGTERM: graceful) and waits for the exit; SIGKILL after graceMs. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000) {
    if (this.running) {
      this.child.kill(signal);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      try {
        return await this.exited;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exited;
  }
}
