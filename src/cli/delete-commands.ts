/**
 * `cinder-temporal delete`: Cinder's `cinder delete <volume> [<volume> ...]`, with the same output
 * and exit codes, plus --wait (follow each delete to its end), --force (Cinder's force-delete) and
 * --json.
 */
import { VolumeNotFound } from '../client/volume-service';
import { VolumeDeleteError, type VolumeDeleteHandle } from '../client/deletes';
import { CinderError } from '../domain/cinder-errors';
import type { DeleteVolumeResult, DeleteVolumeState } from '../workflows/delete-volume';
import { parseCommand } from './args';
import { CliFailure, EXIT, UsageError, type Command } from './errors';
import type { VolumeCommands } from './volume-commands';
import { withType } from './views';

const POLL_MS = 300;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface DeleteOutcome {
  volume: string;
  volume_id?: string;
  accepted: boolean;
  workflow_id?: string;
  /** A delete of this volume was already running: this request joined it. */
  existing?: boolean;
  error?: { type: string; message: string };
  outcome?: 'deleted' | 'error_deleting';
  result?: DeleteVolumeResult;
}

/** One line of delete progress. */
export function deleteProgressLine(s: DeleteVolumeState): string {
  return `${s.status}: ${s.phase}${s.backend_id ? ` (${s.backend_id})` : ''}${s.last_error && s.status === 'deleting' ? `, ${s.last_error.message}` : ''}`;
}

export function deleteCommand(c: VolumeCommands): Command {
  const run = (args: string[]) =>
    c.with(async () => {
      const { values, positionals } = parseCommand(
        args,
        { wait: { type: 'boolean' }, force: { type: 'boolean' }, json: { type: 'boolean' } },
        Infinity,
      );
      if (positionals.length === 0) throw new UsageError('<volume>: at least one volume id (or name) is required');
      const asJson = values.json === true;
      const svc = c.service();
      const outcomes: DeleteOutcome[] = [];
      const handles: Array<[DeleteOutcome, VolumeDeleteHandle]> = [];
      for (const arg of positionals) {
        const o: DeleteOutcome = { volume: arg, accepted: false };
        outcomes.push(o);
        try {
          const id = await c.resolve(arg);
          const h = await svc.delete(id, { force: values.force === true });
          Object.assign(o, { volume_id: id, accepted: true, workflow_id: h.workflowId, existing: h.existing });
          handles.push([o, h]);
          if (!asJson) c.io.out(`Request to delete volume ${arg} has been accepted.`);
        } catch (err) {
          if (!(err instanceof CinderError || err instanceof CliFailure)) throw err;
          const message =
            err instanceof VolumeNotFound ? `No volume with a name or ID of '${arg}' exists.` : err.message;
          o.error = { type: err instanceof CinderError ? err.cinderType : err.type, message };
          if (!asJson) c.io.out(`Delete for volume ${arg} failed: ${message}`);
        }
      }
      if (values.wait) for (const [o, h] of handles) await follow(c, o, h, asJson);
      if (asJson) c.io.out(JSON.stringify({ deletes: outcomes }, null, 2));
      if (handles.length === 0)
        throw new CliFailure('Unable to delete any of the specified volumes.', outcomes[0]?.error?.type ?? 'Error');
      return values.wait && outcomes.some((o) => o.outcome !== 'deleted') ? EXIT.FAILED : EXIT.OK;
    });
  return {
    summary: 'delete volumes (cinder delete): <volume> [<volume> ...] [--wait] [--force] [--json]',
    usage: 'cinder-temporal delete <volume id or name> [<volume> ...] [--wait] [--force] [--json]',
    help: [
      'Starts the delete-volume workflow (id delete-volume-<volume id>) of each volume: status deleting, the',
      "driver's delete on the volume's backend, its capacity and quota given back, the row soft-deleted",
      '(status deleted; list hides it). A second delete of a volume being deleted joins the running one.',
      'A volume that is not available, error or error_deleting is refused (InvalidVolume) unless --force;',
      'with --force a volume still creating has its create cancelled (and compensated) first.',
      '',
      '  --wait    follow each delete until it ends (deleted, or error_deleting with the reason)',
      "  --force   delete whatever the status (Cinder's force-delete)",
      '  --json    one JSON document {deletes: [...]} on stdout',
      '',
      'Exit: 0 when at least one delete was accepted (with --wait: every one ended deleted); 1 when none',
      'could be requested (or, with --wait, one ended in error_deleting); 2 bad usage; 3 Temporal or the',
      'volume database unreachable.',
    ].join('\n'),
    run,
  };
}

/** Waits for one delete, printing its phase as it changes. */
async function follow(c: VolumeCommands, o: DeleteOutcome, h: VolumeDeleteHandle, asJson: boolean): Promise<void> {
  const settled = h.result().then(
    (result) => ({ ok: true as const, result }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  let last = '';
  for (;;) {
    const tick = await Promise.race([settled, sleep(POLL_MS).then(() => null)]);
    if (tick) {
      if (tick.ok) {
        Object.assign(o, { outcome: 'deleted', result: tick.result });
        if (!asJson)
          c.io.out(
            `Volume ${h.volumeId} deleted${tick.result.deleted_on_backend ? '' : ' (nothing was left on the backend)'}.`,
          );
        return;
      }
      if (!(tick.error instanceof VolumeDeleteError)) throw tick.error;
      Object.assign(o, { outcome: 'error_deleting', error: { type: tick.error.type, message: tick.error.message } });
      if (!asJson)
        c.io.err(`ERROR: delete of volume ${h.volumeId} failed: ${withType(tick.error.type, tick.error.message)}`);
      return;
    }
    const state = await h.status().catch(() => null);
    const line = state ? `volume ${h.volumeId}: ${deleteProgressLine(state)}` : '';
    if (line && line !== last) {
      last = line;
      c.io.progress(line + '\n', asJson);
    }
  }
}
