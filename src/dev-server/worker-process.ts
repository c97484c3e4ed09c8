import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';

/** How to start the worker next to this module: compiled (dist/, plain node) or, in a checkout run
 *  through tsx, from the TypeScript sources with tsx (a dev dependency, resolved only then). */
export function workerCommand(moduleFile = __filename): string[] {
  const fromSource = moduleFile.endsWith('.ts');
  const entry = path.resolve(path.dirname(moduleFile), '..', fromSource ? 'worker.ts' : 'worker.js');
  return fromSource ? ['--import', require.resolve('tsx'), entry] : [entry];
}

/** The last `capacity` parsed log lines, oldest first: a long-lived parent keeps bounded memory. */
export class LogRing {
  private readonly items: Array<Record<string, unknown>> = [];
  private next = 0;
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be a whole number >= 1, got ${capacity}`);
  }
  push(line: Record<string, unknown>): void {
    if (this.items.length < this.capacity) this.items.push(line);
    else this.items[this.next] = line;
    this.next = (this.next + 1) % this.capacity;
  }
  toArray(): Array<Record<string, unknown>> {
    return this.items.length < this.capacity
      ? [...this.items]
      : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}

export const DEFAULT_KEEP_LOG_LINES = 2000;

export interface WorkerProcessOptions {
  /** Roles, as worker.ts takes them: ['scheduler'], ['volume', '--backend', 'hostA@lvm'], ['all']. */
  roles: string[];
  env: NodeJS.ProcessEnv;
  /** Every log line of the worker is appended here. */
  logFile?: string;
  /** Called with each parsed JSON log line. */
  onLog?: (line: Record<string, unknown>) => void;
  readyTimeoutMs?: number;
  /** How many parsed log lines logs() keeps (the newest; default 2000). The log file keeps all. */
  keepLogLines?: number;
}

/** A worker in its own process, as it runs in production; tied to its parent by an IPC channel,
 *  so it shuts down when the parent dies. */
export class WorkerProcess {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly lines: LogRing;
  /** The worker.running line, kept even after the ring has moved past it. */
  private runningLine: Record<string, unknown> | null = null;

  constructor(readonly options: WorkerProcessOptions) {
    this.lines = new LogRing(options.keepLogLines ?? DEFAULT_KEEP_LOG_LINES);
    this.child = spawn(process.execPath, [...workerCommand(), ...options.roles], {
      // JSON lines whatever the user's CINDER_LOG_FORMAT: readiness is read from them.
      env: { ...options.env, CINDER_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    // If this process exits first, the worker goes too (it also watches the IPC channel).
    const killOnExit = () => this.child.kill('SIGTERM');
    process.on('exit', killOnExit);
    this.child.once('exit', () => process.off('exit', killOnExit));
    const log = options.logFile ? fs.createWriteStream(options.logFile, { flags: 'a' }) : null;
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code, signal) => {
        log?.end();
        resolve({ code, signal });
      }),
    );
    let stderr = '';
    this.child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      log?.write(d);
    });
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`worker ${options.roles.join(' ')} not ready in time; stderr: ${stderr}`)),
        options.readyTimeoutMs ?? 60_000,
      );
      void this.exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(
          new Error(`worker ${options.roles.join(' ')} exited (${signal ?? code}) before it was ready: ${stderr}`),
        );
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
          this.runningLine = line;
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

  /** The newest log lines seen (JSON, at most keepLogLines), with the worker.running line first
   *  when the ring has dropped it. */
  logs(): ReadonlyArray<Record<string, unknown>> {
    const kept = this.lines.toArray();
    return this.runningLine && !kept.includes(this.runningLine) ? [this.runningLine, ...kept] : kept;
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
