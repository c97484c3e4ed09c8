import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogFormat = 'auto' | 'json' | 'pretty';

/** Whether lines go out as JSON: always for 'json', never for 'pretty', and for 'auto' unless
 *  stdout is a terminal (a pipe, a file or a log collector gets JSON). */
export function logsAsJson(format: LogFormat, stdoutIsTty = process.stdout.isTTY === true): boolean {
  return format === 'json' || (format === 'auto' && !stdoutIsTty);
}

/**
 * The process's logger: one JSON event per line on stdout (what log collectors and the test harness
 * read), or pino-pretty's coloured lines for a person at a terminal. `format` defaults to
 * CINDER_LOG_FORMAT, then 'auto'.
 */
export function createLogger(
  level = process.env.CINDER_LOG_LEVEL ?? 'info',
  bindings: Record<string, unknown> = {},
  format: LogFormat = (process.env.CINDER_LOG_FORMAT as LogFormat | undefined) || 'auto',
): Logger {
  const options = { level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime };
  // Through process.stdout, not pino's own fd writer: that one retries a write to a closed pipe
  // forever (EPIPE), which would freeze a worker whose parent is gone; process.stdout reports it
  // as an 'error' event instead (see onStdoutClosed).
  if (logsAsJson(format)) return pino(options, process.stdout);
  // In process and synchronous (no transport thread): a line is on the terminal when the call returns.
  const stream = pretty({
    colorize: process.stdout.isTTY === true,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,service,component',
    messageFormat: '{if component}[{component}] {end}{if volume_id}{volume_id} {end}{msg}',
  });
  return pino(options, stream);
}

/** Calls fn once when stdout's reader is gone (EPIPE): a worker then stops instead of logging into
 *  nothing or dying on the unhandled error. */
export function onStdoutClosed(fn: () => void): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') fn();
    else throw err;
  });
}
