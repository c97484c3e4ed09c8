import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import { ConfigError, loadConfig } from '../config/config';

/** How the `cinder-temporal` command ends, for scripts. */
export const EXIT = {
  /** Done; a create with --wait ended available. */
  OK: 0,
  /** The operation failed: a create ended in error, no such volume, nothing to cancel. */
  FAILED: 1,
  /** Wrong invocation or bad input (the message names the option); nothing was started. */
  USAGE: 2,
  /** Temporal or the volume database could not be reached. */
  UNAVAILABLE: 3,
} as const;

/** A wrong invocation or bad input: printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The option at fault, e.g. '--size'. */
    readonly option?: string,
    /** Cinder's exception name when the input was refused as Cinder refuses it (InvalidInput...). */
    readonly type = 'UsageError',
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An operation that failed for a reason the user should read (no stack): exit code 1 by default. */
export class CliFailure extends Error {
  constructor(
    message: string,
    readonly type = 'Error',
    readonly exitCode: number = EXIT.FAILED,
  ) {
    super(message);
    this.name = 'CliFailure';
  }
}

/** One `cinder-temporal` command. */
export interface Command {
  summary: string;
  usage: string;
  /** Options and examples, shown by `<command> --help` after the usage. */
  help?: string;
  run: (args: string[]) => Promise<number>;
}

/** Exit code, type and text of a command's failure. */
export function describeFailure(e: unknown): { code: number; type: string; message: string; option?: string } {
  if (e instanceof UsageError)
    return { code: EXIT.USAGE, type: e.type, message: e.message, ...(e.option ? { option: e.option } : {}) };
  if (e instanceof ConfigError) return { code: EXIT.USAGE, type: 'ConfigError', message: e.message };
  if (e instanceof CliFailure) return { code: e.exitCode, type: e.type, message: e.message };
  const unreachable = unreachableService(e);
  if (unreachable) return { code: EXIT.UNAVAILABLE, type: 'ServiceUnavailable', message: unreachable };
  return { code: EXIT.FAILED, type: (e as Error)?.name ?? 'Error', message: (e as Error)?.message ?? String(e) };
}

/** The reason when e says Temporal or the volume database could not be reached. */
function unreachableService(e: unknown): string | null {
  const address = () => {
    try {
      return loadConfig().temporal.address;
    } catch {
      return process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
    }
  };
  const grpc = isGrpcServiceError(e) ? e : e instanceof ServiceError && isGrpcServiceError(e.cause) ? e.cause : null;
  if (grpc && (grpc.code === 14 || grpc.code === 4)) {
    return `cannot reach Temporal at ${address()} (${grpc.details || grpc.message}); check TEMPORAL_ADDRESS`;
  }
  const message = (e as Error)?.message ?? '';
  if (/Failed to connect before the deadline|ECONNREFUSED/.test(message))
    return `cannot reach Temporal at ${address()}: ${message}`;
  if (/^Could not open the PostgreSQL volume database/.test(message)) return message;
  return null;
}
