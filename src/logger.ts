import pino, { type Logger } from 'pino';

/** One JSON event per line on stdout (pretty printing is left to `pino-pretty` on a terminal). */
export function createLogger(level = process.env.CINDER_LOG_LEVEL ?? 'info', bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime });
}
