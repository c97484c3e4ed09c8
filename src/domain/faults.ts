/** Fault injection for demos and tests: rules per backend, kept in the volume database so a
 *  counted fault survives a worker restart and tests can change faults without restarting. */

export type FaultOp = 'create' | 'delete' | 'copy_image';
export type FaultStage = 'after_write' | 'partial_write';

export interface FaultRule {
  id: number;
  /** host@backend */
  host: string;
  op: FaultOp;
  /** error: raise error_type; delay: sleep delay_ms then go on; hang: never return (until aborted);
   *  exit: SIGKILL the worker process in the middle of the operation (after a partial write). */
  action: 'error' | 'delay' | 'hang' | 'exit';
  /** Exception name raised by an 'error' rule; default VolumeBackendAPIException (ImageCopyFailure
   *  for copy_image). One of Cinder's names is raised as that Cinder error; any other name (a driver
   *  bug: ProcessExecutionError, Error) as a plain error of that name, which Temporal retries. */
  error_type?: string | null;
  /** When an 'error' rule raises: before the operation touches the backend (null, the default);
   *  after_write: the operation completes, then raises (the volume exists, whole); partial_write
   *  (creates only): `volume-<id>` is left smaller than asked, then it raises. */
  stage?: FaultStage | null;
  /** How many more times the rule fires; null: every time. */
  remaining: number | null;
  /** Fires with this probability (0..1) when set. */
  probability?: number | null;
  delay_ms?: number | null;
  /** Only for volumes with this display name, when set. */
  volume_name?: string | null;
}

export interface FaultSource {
  takeFault(host: string, op: FaultOp, volumeName: string | null): Promise<FaultRule | null>;
}
