/** Helpers shared by the drivers: abort handling and the commit hook used to simulate crashes. */
import type { OpOptions } from './driver';

/** Thrown when `opts.signal` aborts an operation. `cause` is the signal's reason. */
export class DriverAbortError extends Error {
  constructor(what: string, reason?: unknown) {
    super(`${what} aborted`, reason === undefined ? undefined : { cause: reason });
    this.name = 'AbortError';
  }
}

/** True for DriverAbortError and for the platform's own AbortError (DOMException, timers). */
export function isAbortError(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError';
}

export function throwIfAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new DriverAbortError(what, signal.reason);
}

/** Sleeps ms; rejects with DriverAbortError as soon as the signal aborts. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new DriverAbortError('sleep', signal.reason));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new DriverAbortError('sleep', signal?.reason));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves never; rejects with DriverAbortError when the signal aborts (a hung backend call). */
export function waitForAbort(signal: AbortSignal | undefined, what: string): Promise<never> {
  return new Promise<never>((_resolve, reject) => {
    if (!signal) return; // nothing can end it: hang for good, as the fault asks
    if (signal.aborted) return reject(new DriverAbortError(what, signal.reason));
    signal.addEventListener('abort', () => reject(new DriverAbortError(what, signal.reason)), { once: true });
  });
}

/** The write a create has made aside, about to be renamed into place as `volume-<id>`. */
export interface PendingWrite {
  /** The partial file. */
  path: string;
  /** The size the create was asked for. */
  bytes: number;
}

/**
 * OpOptions plus a hook a driver may call once a create's data is written aside, just before it is
 * renamed into place. The fault injector uses it to kill the worker mid-create (a hook that throws
 * stands for a crash at that point, so the driver leaves the partial write where it is) and to cut
 * the write short (a partial write that still lands). Drivers without a commit step ignore it.
 */
export interface CommitHookOptions extends OpOptions {
  beforeCommit?: (write: PendingWrite) => void | Promise<void>;
}
