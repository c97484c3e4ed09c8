/**
 * The Temporal runtime of a worker process, installed once before any connection: its logs (the
 * SDK's, the workflows' `log` calls, and the native core's) go into the process's pino logger with
 * Cinder's ids on each line, and its metrics go to a Prometheus endpoint when one is configured.
 */
import net from 'node:net';
import { DefaultLogger, Runtime, type LogLevel } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { SdkLogLevel } from '../config/config';
import { volumeIdOfWorkflow } from '../domain/names';

export { volumeIdOfWorkflow };

/** One SDK log record as a pino call: snake_case ids added, level mapped. */
export function sdkLogFields(meta: Record<string, unknown> | undefined): Record<string, unknown> {
  const m = meta ?? {};
  const workflowId = typeof m.workflowId === 'string' ? m.workflowId : undefined;
  const volumeId = workflowId ? volumeIdOfWorkflow(workflowId) : undefined;
  return { ...m, ...(workflowId ? { workflow_id: workflowId } : {}), ...(volumeId ? { volume_id: volumeId } : {}) };
}

const PINO_METHOD: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * One SDK log record as one log event. A multi-line message (the bundler hands webpack's whole
 * report over as one INFO message) becomes one event whose lines are a field, at debug unless it is
 * a warning or an error: the worker log keeps one short line per event.
 */
export function sdkLogRecord(
  level: LogLevel,
  message: string,
  meta: Record<string, unknown> | undefined,
): { method: 'trace' | 'debug' | 'info' | 'warn' | 'error'; fields: Record<string, unknown>; message: string } {
  const fields = sdkLogFields(meta);
  const method = PINO_METHOD[level] ?? 'info';
  if (!message.includes('\n')) return { method, fields, message };
  const lines = message
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '');
  const webpack = /webpack/i.test(message);
  return {
    method: method === 'warn' || method === 'error' ? method : 'debug',
    fields: { ...fields, report: lines },
    message: webpack ? `webpack report (${lines.length} lines): ${lines[lines.length - 1] ?? ''}` : (lines[0] ?? ''),
  };
}

/** host:port with port 0 replaced by a port that is free now (the SDK's exporter needs a number). */
export async function concreteAddress(bind: { host: string; port: number }): Promise<string> {
  let port = bind.port;
  if (port === 0) {
    port = await new Promise<number>((resolve, reject) => {
      const probe = net.createServer();
      probe.once('error', reject);
      probe.listen(0, bind.host, () => {
        const p = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
  }
  return `${bind.host.includes(':') ? `[${bind.host}]` : bind.host}:${port}`;
}

export interface TelemetrySettings {
  sdkLogLevel: SdkLogLevel;
  /** Concrete host:port for the Prometheus exporter, or none. */
  metricsAddress?: string;
}

/**
 * Installs the runtime. Our own signal handling stops the workers (shutdownSignals: []). Native core
 * lines are forwarded into the same logger, at WARN and above unless the SDK level asks for more.
 */
export function installRuntime(logger: Logger, settings: TelemetrySettings): void {
  const sdkLog = logger.child({ component: 'temporal' });
  const coreLevel: LogLevel =
    settings.sdkLogLevel === 'TRACE' || settings.sdkLogLevel === 'DEBUG' || settings.sdkLogLevel === 'ERROR'
      ? settings.sdkLogLevel
      : 'WARN';
  Runtime.install({
    shutdownSignals: [],
    logger: new DefaultLogger(settings.sdkLogLevel, ({ level, message, meta }) => {
      const r = sdkLogRecord(level, message, meta as Record<string, unknown> | undefined);
      sdkLog[r.method](r.fields, r.message);
    }),
    telemetryOptions: {
      logging: { forward: {}, filter: { core: coreLevel, other: 'ERROR' } },
      ...(settings.metricsAddress ? { metrics: { prometheus: { bindAddress: settings.metricsAddress } } } : {}),
    },
  });
}
