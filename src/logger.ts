import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogFormat, LogLevelName } from './config/config';

export type { LogFormat } from './config/config';

/** Fields that carry a secret wherever they appear in a log event (one or two levels deep). */
const SECRET_FIELDS = ['apiKey', 'api_key', 'password', 'authorization', 'metadata.authorization'];
export const REDACT_PATHS = SECRET_FIELDS.flatMap((f) => [f, `*.${f}`]);

/** Whether lines go out as JSON: always for 'json', never for 'pretty', and for 'auto' unless
 *  stdout is a terminal (a pipe, a file or a log collector gets JSON). */
export function logsAsJson(format: LogFormat, stdoutIsTty = process.stdout.isTTY === true): boolean {
  return format === 'json' || (format === 'auto' && !stdoutIsTty);
}

/**
 * The process's logger: one JSON event per line on stdout (what log collectors and the test harness
 * read), or pino-pretty's coloured lines for a person at a terminal. Level and format come from the
 * loaded configuration (log_level, log_format), not from the environment directly.
 */
export function createLogger(
  level: LogLevelName = 'info',
  bindings: Record<string, unknown> = {},
  format: LogFormat = 'auto',
): Logger {
  const options = {
    level,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '***' },
  };
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
