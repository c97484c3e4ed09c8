/** Runs a command to its end (the CLI, the Temporal CLI) and collects what it printed. */
import { spawn } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
/** The project's own command, as users run it. */
export const BIN = path.join(ROOT, 'bin', 'cinder-temporal.js');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** cmd with args in the project root; killed (SIGKILL) after timeoutMs. */
export function runProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** `cinder-temporal <args>`. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<Run> {
  return runProcess(process.execPath, [BIN, ...args], env, timeoutMs);
}
