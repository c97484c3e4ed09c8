/**
 * The volume commands of `cinder-temporal`, in Cinder's words: create, show, list, cancel,
 * backends, history. Human tables by default, `--json` for scripts; exit codes in errors.ts.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import { VolumeNotFound, VolumeService } from '../client/volume-service';
import { VolumeCreateError, type VolumeCreateHandle } from '../client/volumes';
import { loadConfig, type AppConfig } from '../config/config';
import { CinderError } from '../domain/cinder-errors';
import { escapeControl, escapeLines } from '../domain/text';
import type { CreateVolumeResult, CreateVolumeState } from '../workflows/create-volume';
import { parseCommand, parseCreateArgs, parseStatus, usageErrorFor, volumeArg } from './args';
import { runningDelete } from '../client/deletes';
import type { DeleteVolumeState } from '../workflows/delete-volume';
import { deleteCommand, deleteProgressLine } from './delete-commands';
import { CliFailure, EXIT, type Command } from './errors';
import { quotaCommands } from './quota-commands';
import {
  attemptOutcomeLine,
  backendList,
  historyText,
  progressLine,
  requestView,
  volumeList,
  volumeTable,
  volumeView,
  withType,
  type VolumeView,
} from './views';

/** Where a command writes, and what it knows of its terminal; swapped in tests. */
export interface CliIO {
  /** A line to stdout. */
  out(line: string): void;
  /** A line to stderr. */
  err(line: string): void;
  /** Raw text to the progress stream (stdout, or stderr with --json). */
  progress(text: string, json: boolean): void;
  /** Whether the progress stream is a terminal (one updating line) or not (a line per change). */
  progressIsTTY(json: boolean): boolean;
  /** The terminal's width, when known: an updating line must not wrap. */
  progressColumns(json: boolean): number | undefined;
  env: NodeJS.ProcessEnv;
}

export const processIO: CliIO = {
  out: (line) => process.stdout.write(line + '\n'),
  err: (line) => process.stderr.write(line + '\n'),
  progress: (text, json) => (json ? process.stderr : process.stdout).write(text),
  progressIsTTY: (json) => !!(json ? process.stderr : process.stdout).isTTY,
  progressColumns: (json) => (json ? process.stderr : process.stdout).columns,
  env: process.env,
};

/** How often `create --wait` asks the workflow where it stands. */
export const PROGRESS_POLL_MS = 300;
/** How long one volumeState query may take (a create whose scheduler worker is down does not answer). */
const QUERY_DEADLINE_MS = 2000;
/** How long `create` without --wait waits for the API flow to write the row. */
const ROW_WAIT_MS = 2000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const json = (v: unknown) => JSON.stringify(v, null, 2);

export class VolumeCommands {
  private svc: VolumeService | null = null;
  private config: AppConfig | null = null;

  readonly io: CliIO;

  constructor(
    io: CliIO = processIO,
    private readonly makeService: (config: AppConfig) => VolumeService = (config) => VolumeService.fromConfig(config),
  ) {
    // Stored names, reasons and metadata reach the terminal escaped, never raw (JSON escapes its own).
    this.io = { ...io, out: (line) => io.out(escapeLines(line)), err: (line) => io.err(escapeLines(line)) };
  }

  cfg(): AppConfig {
    this.config ??= loadConfig(this.io.env);
    return this.config;
  }

  service(): VolumeService {
    this.svc ??= this.makeService(this.cfg());
    return this.svc;
  }

  async close(): Promise<void> {
    await this.svc?.close();
    this.svc = null;
  }

  /** Runs a command body and always closes the connections it opened. */
  async with(fn: () => Promise<number>): Promise<number> {
    try {
      return await fn();
    } finally {
      await this.close();
    }
  }

  /** A volume by id, else by name when exactly one volume has it (as `cinder show` accepts). */
  async resolve(idOrName: string): Promise<string> {
    const svc = this.service();
    if (await svc.getVolume(idOrName)) return idOrName;
    const named = (await svc.listVolumes()).filter((v) => v.name === idOrName);
    if (named.length > 1)
      throw new CliFailure(
        `Multiple volume matches found for '${idOrName}', use an ID to be more specific.`,
        'NoUniqueMatch',
      );
    return named[0]?.id ?? idOrName;
  }

  /** The create's live state, or null when no worker answers in time. */
  private async liveState(handle: VolumeCreateHandle): Promise<CreateVolumeState | null> {
    try {
      return await this.service().client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => handle.status());
    } catch {
      return null;
    }
  }

  /** Where a running delete stands, or null when none answers in time. */
  private async deleteState(volumeId: string): Promise<DeleteVolumeState | null> {
    try {
      const h = await runningDelete(this.service().client, volumeId);
      return h ? await this.service().client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () => h.status()) : null;
    } catch {
      return null;
    }
  }

  /** When a cancel of the volume's running create was requested, from its history; else null. */
  private async cancelRequestedAt(volumeId: string): Promise<string | null> {
    try {
      return (await this.service().history(volumeId)).cancel_requested_at ?? null;
    } catch {
      return null;
    }
  }

  create = (args: string[]) =>
    this.with(async () => {
      const { request, wait, json: asJson } = parseCreateArgs(args, this.io.env);
      const svc = this.service();
      let handle;
      try {
        await svc.checkCreate(request);
        // A repeated --request-id with other parameters is refused here, naming what differs.
        handle = await svc.create(request, { check: false });
      } catch (err) {
        if (err instanceof CinderError) throw usageErrorFor(err);
        throw err;
      }
      const id = handle.volumeId;
      const said = handle.existing
        ? `Request ${request.request_id ?? id} was already made: returning volume ${id} (no new create started; workflow ${handle.workflowId}).`
        : `Started the create of volume ${id} (workflow ${handle.workflowId}).`;

      if (!wait) {
        const view = await this.startedView(handle, request);
        if (asJson) this.io.out(json({ volume: view, workflow_id: handle.workflowId, existing: handle.existing }));
        else {
          this.io.out(said);
          this.io.out(volumeTable(view));
        }
        return EXIT.OK;
      }

      if (!asJson) this.io.out(said);
      const outcome = await this.follow(handle, asJson);
      const row = await svc.getVolume(id);
      if (outcome.ok) {
        const view = row ? volumeView(row) : requestView(id, request, 'available');
        if (asJson) {
          this.io.out(
            json({
              volume: view,
              workflow_id: handle.workflowId,
              existing: handle.existing,
              outcome: 'available',
              attempts: outcome.result.attempts,
              retry: outcome.result.retry,
            }),
          );
        } else this.io.out(volumeTable(view));
        return EXIT.OK;
      }
      const e = outcome.error;
      const view: VolumeView = row ? volumeView(row) : requestView(id, request, 'error', e.message);
      if (asJson) {
        this.io.out(
          json({
            volume: view,
            workflow_id: handle.workflowId,
            existing: handle.existing,
            outcome: 'error',
            error: { type: e.type, message: e.message },
            attempts: e.state?.attempts ?? [],
          }),
        );
      } else {
        this.io.err(`ERROR: ${withType(e.type, e.message)}`);
        this.io.out(volumeTable(view));
      }
      return EXIT.FAILED;
    });

  /** The volume just after its start: its row once the API flow wrote it (a moment later), else the
   *  request with the workflow's start time as created_at, so created_at is never blank. */
  private async startedView(
    handle: VolumeCreateHandle,
    request: Parameters<typeof requestView>[1],
  ): Promise<VolumeView> {
    const svc = this.service();
    const deadline = Date.now() + ROW_WAIT_MS;
    for (;;) {
      const row = await svc.getVolume(handle.volumeId);
      if (row) return volumeView(row);
      if (Date.now() >= deadline) break;
      await sleep(100);
    }
    const view = requestView(handle.volumeId, request);
    let started: string | null = null;
    try {
      started = (await handle.handle.describe()).startTime.toISOString();
    } catch {
      started = null; // not reachable now: the row's time shows up in `show`
    }
    return { ...view, created_at: started };
  }

  /**
   * Waits for the create, showing where it stands every PROGRESS_POLL_MS: on a terminal one line
   * rewritten in place, otherwise one line per change.
   */
  private async follow(
    handle: VolumeCreateHandle,
    asJson: boolean,
  ): Promise<{ ok: true; result: CreateVolumeResult } | { ok: false; error: VolumeCreateError }> {
    const tty = this.io.progressIsTTY(asJson);
    let last = '';
    let open = false;
    let state: CreateVolumeState | null = null;
    const reported = new Set<number>();
    /** Each attempt's outcome once it has one, as its own line, read from the create's state (so an
     *  attempt that failed and was rescheduled between two polls is still reported). */
    const outcomes = (s: CreateVolumeState) => {
      for (const a of s.attempts) {
        if (a.outcome === 'running' || reported.has(a.attempt)) continue;
        reported.add(a.attempt);
        const line = `volume ${handle.volumeId}: ${attemptOutcomeLine(a, s.max_attempts)}`;
        if (tty) {
          this.io.progress(`\r\x1b[2K${line}\n`, asJson);
          open = false;
          last = '';
        } else this.io.progress(line + '\n', asJson);
      }
    };
    const show = (s: CreateVolumeState) => {
      outcomes(s);
      const line = `volume ${handle.volumeId}: ${progressLine(s)}`;
      if (line === last) return;
      last = line;
      if (tty) {
        const cols = this.io.progressColumns(asJson);
        const safe = escapeControl(line);
        this.io.progress(`\r\x1b[2K${cols && safe.length >= cols ? safe.slice(0, cols - 1) : safe}`, asJson);
        open = true;
      } else this.io.progress(escapeControl(line) + '\n', asJson);
    };
    const onSigint = () => {
      if (open) this.io.progress('\n', asJson);
      this.io.err(
        `interrupted: the create of volume ${handle.volumeId} goes on; follow it with: cinder-temporal show ${handle.volumeId}`,
      );
      process.exit(130);
    };
    process.once('SIGINT', onSigint);
    try {
      type Settled = { ok: true; result: CreateVolumeResult } | { ok: false; error: unknown };
      const settled: Promise<Settled> = handle.result().then(
        (result) => ({ ok: true as const, result }),
        (error: unknown) => ({ ok: false as const, error }),
      );
      let outcome: Settled | undefined;
      while (!outcome) {
        const tick = await Promise.race([settled, this.liveState(handle).then((s) => ({ state: s }))]);
        if ('ok' in tick) {
          outcome = tick;
          break;
        }
        if (tick.state) {
          state = tick.state;
          show(tick.state);
        }
        outcome = await Promise.race([settled, sleep(PROGRESS_POLL_MS).then(() => undefined)]);
      }
      if (outcome.ok) {
        const r = outcome.result;
        // Not seen past the API flow: ask once more, for the attempt count in force.
        if (!state?.max_attempts) state = (await this.liveState(handle)) ?? state;
        const lastAttempt = r.attempts[r.attempts.length - 1]?.attempt ?? r.retry?.num_attempts ?? 1;
        show({
          volume_id: r.volume_id,
          status: 'available',
          phase: 'done',
          attempt: lastAttempt,
          max_attempts: state?.max_attempts ?? null,
          backend_id: r.backend_id,
          retry: r.retry,
          last_error: null,
          attempts: r.attempts,
        });
        if (open) this.io.progress('\n', asJson);
        return outcome;
      }
      const error =
        outcome.error instanceof VolumeCreateError
          ? outcome.error
          : new VolumeCreateError(
              (outcome.error as Error)?.name ?? 'Error',
              (outcome.error as Error)?.message ?? String(outcome.error),
              null,
            );
      if (error.state) show(error.state);
      if (open) this.io.progress('\n', asJson);
      return { ok: false, error };
    } finally {
      process.off('SIGINT', onSigint);
    }
  }

  show = (args: string[]) =>
    this.with(async () => {
      const { values, positionals } = parseCommand(args, { json: { type: 'boolean' } }, 1);
      const asJson = values.json === true;
      const svc = this.service();
      const id = await this.resolve(volumeArg(positionals));
      const row = await svc.getVolume(id);
      if (row) {
        const view = volumeView(row);
        const live = row.status === 'creating' ? await this.liveState(svc.handle(id)) : null;
        const cancelRequestedAt = row.status === 'creating' ? await this.cancelRequestedAt(id) : null;
        const deleting = row.status === 'deleting' ? await this.deleteState(id) : null;
        const extra = {
          ...(deleting ? { delete_progress: deleteProgressLine(deleting) } : {}),
          ...(live ? { create_progress: progressLine(live) } : {}),
          ...(cancelRequestedAt
            ? { cancel_requested_at: `${cancelRequestedAt} (the create is compensating; it ends in error)` }
            : {}),
        };
        if (asJson)
          this.io.out(
            json({
              volume: view,
              progress: live,
              cancel_requested_at: cancelRequestedAt,
              ...(deleting ? { delete_progress: deleting } : {}),
            }),
          );
        else this.io.out(volumeTable(view, extra));
        return EXIT.OK;
      }
      // No row: a create the API flow refused (it leaves none) or one that has not written it yet.
      const history = await svc.history(id).catch((err: unknown) => {
        if (err instanceof VolumeNotFound)
          throw new CliFailure(`No volume with a name or ID of '${positionals[0]}' exists.`, 'VolumeNotFound');
        throw err;
      });
      const request = history.request ?? { project_id: '-', size: 0 };
      const view = requestView(
        id,
        request,
        history.status,
        history.error ? `${history.error.type}: ${history.error.message}` : null,
      );
      if (asJson) this.io.out(json({ volume: view, progress: null, row: false }));
      else {
        this.io.out(volumeTable(view));
        this.io.out(
          history.status === 'error'
            ? 'The request was refused before a volume row was written.'
            : 'The volume row is not written yet.',
        );
      }
      return history.status === 'error' ? EXIT.FAILED : EXIT.OK;
    });

  list = (args: string[]) =>
    this.with(async () => {
      const { values } = parseCommand(args, {
        status: { type: 'string' },
        backend: { type: 'string' },
        'project-id': { type: 'string' },
        all: { type: 'boolean' },
        json: { type: 'boolean' },
      });
      const volumes = await this.service().listVolumes({
        status: parseStatus(values.status),
        backend: values.backend as string | undefined,
        project_id: values['project-id'] as string | undefined,
        all: values.all === true,
      });
      const views = volumes.map(volumeView);
      this.io.out(values.json ? json(views) : volumeList(views));
      return EXIT.OK;
    });

  backends = (args: string[]) =>
    this.with(async () => {
      const { values } = parseCommand(args, { json: { type: 'boolean' } });
      const backends = await this.service().listBackends();
      const downTime = this.cfg().create_defaults.service_down_time_s;
      this.io.out(
        values.json
          ? json(backends)
          : backends.length === 0
            ? 'No pool has reported yet (is a volume worker running?).'
            : backendList(backends, downTime),
      );
      return EXIT.OK;
    });

  history = (args: string[]) =>
    this.with(async () => {
      const { values, positionals } = parseCommand(args, { json: { type: 'boolean' } }, 1);
      const arg = volumeArg(positionals);
      const id = await this.resolve(arg).catch(() => arg);
      let h;
      try {
        h = await this.service().history(id);
      } catch (err) {
        if (err instanceof VolumeNotFound)
          throw new CliFailure(`No create of a volume '${arg}' exists.`, 'VolumeNotFound');
        throw err;
      }
      this.io.out(values.json ? json(h) : historyText(h));
      return EXIT.OK;
    });

  cancel = (args: string[]) =>
    this.with(async () => {
      const { values, positionals } = parseCommand(args, { wait: { type: 'boolean' }, json: { type: 'boolean' } }, 1);
      const asJson = values.json === true;
      const svc = this.service();
      const arg = volumeArg(positionals);
      const id = await this.resolve(arg);
      const handle = svc.handle(id);
      let status: string;
      try {
        status = (await handle.handle.describe()).status.name;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError)
          throw new CliFailure(`No create of a volume '${arg}' exists.`, 'VolumeNotFound');
        throw err;
      }
      if (status !== 'RUNNING') {
        throw new CliFailure(
          `The create of volume ${id} has already ended (${status.toLowerCase()}): nothing to cancel.`,
          'InvalidVolume',
        );
      }
      const already = await this.cancelRequestedAt(id);
      if (already && !values.wait) {
        if (asJson)
          this.io.out(
            json({
              volume_id: id,
              workflow_id: handle.workflowId,
              cancel_requested: true,
              already_requested_at: already,
            }),
          );
        else
          this.io.out(
            `Cancel was already requested for the create of volume ${id} at ${already}: its compensations are running; nothing more to do.`,
          );
        return EXIT.OK;
      }
      if (!already) await svc.cancel(id);
      if (!values.wait) {
        if (asJson) this.io.out(json({ volume_id: id, workflow_id: handle.workflowId, cancel_requested: true }));
        else
          this.io.out(
            `Cancel requested for the create of volume ${id}: its steps are compensated and the volume ends in 'error'.`,
          );
        return EXIT.OK;
      }
      const outcome = await this.follow(handle, asJson);
      const row = await svc.getVolume(id);
      const view = row ? volumeView(row) : null;
      if (outcome.ok) {
        if (asJson) this.io.out(json({ volume: view, workflow_id: handle.workflowId, cancelled: false }));
        else this.io.err(`The create of volume ${id} finished (available) before the cancel took effect.`);
        return EXIT.FAILED;
      }
      if (asJson)
        this.io.out(
          json({
            volume: view,
            workflow_id: handle.workflowId,
            cancelled: true,
            error: { type: outcome.error.type, message: outcome.error.message },
          }),
        );
      else {
        this.io.out(`Create of volume ${id} cancelled: every step was compensated.`);
        if (view) this.io.out(volumeTable(view));
      }
      return EXIT.OK;
    });
}

/** The command table entries (see main.ts). */
export function volumeCommands(io: CliIO = processIO): Record<string, Command> {
  const c = new VolumeCommands(io);
  return {
    create: {
      summary: 'create a volume (cinder create): --size N [--name] [--type] ... [--wait] [--json]',
      usage:
        'cinder-temporal create --size <GiB> [--name <name>] [--description <text>] [--type <volume type>] ' +
        '[--availability-zone <zone>] [--snapshot-id <id> | --source-volid <id> | --image-id <id>] ' +
        '[--metadata <key=value> ...] [--request-id <id>] [--project-id <id>] [--wait] [--json]',
      help: [
        'Starts the create-volume workflow (id create-volume-<volume id>) on the scheduler task queue.',
        'The request is checked first (size, type, zone, source, metadata): bad input starts nothing, exit 2.',
        '',
        '  --size <GiB>              size in whole GiB (or give it as the one argument: create 10)',
        '  --name, --description     display name and description',
        '  --type <name>             volume type (also --volume-type); the default type when absent',
        '  --availability-zone <az>  only pools in this zone',
        '  --snapshot-id, --source-volid, --image-id   the source: at most one',
        '  --metadata k=v [k=v ...]  metadata; repeat --metadata or list the pairs after it',
        '  --request-id <id>         idempotency key: the same id (and project) always names the same volume;',
        '                            repeating the create returns that volume and starts nothing',
        '  --project-id <id>         default: $CINDER_PROJECT_ID, else admin',
        '  --wait                    follow the create (phase, attempt n of max, backend) until it ends',
        '  --json                    one JSON document on stdout (progress, if any, goes to stderr)',
        '',
        'Exit: 0 started (or, with --wait, available); 1 the create ended in error; 2 bad input; 3 Temporal or',
        'the volume database unreachable.',
      ].join('\n'),
      run: c.create,
    },
    show: {
      summary: "show a volume's properties (cinder show), with the create's progress while creating",
      usage: 'cinder-temporal show <volume id or name> [--json]',
      help: 'Exit: 0 found; 1 no such volume (or its create was refused before a row was written).',
      run: c.show,
    },
    list: {
      summary: 'list volumes (cinder list) [--status] [--backend] [--project-id] [--all]',
      usage:
        'cinder-temporal list [--status <status>] [--backend host@backend[#pool]] [--project-id <id>] [--all] [--json]',
      help: [
        "Every project's volumes unless --project-id is given; --backend matches host@backend or host@backend#pool.",
        'Statuses: creating, available, error, deleting, error_deleting, deleted. Deleted volumes are hidden',
        'unless --all (or --status deleted) is given.',
      ].join('\n'),
      run: c.list,
    },
    delete: deleteCommand(c),
    cancel: {
      summary: 'cancel a running create: every step is compensated, the volume ends in error',
      usage: 'cinder-temporal cancel <volume id or name> [--wait] [--json]',
      help: [
        '  --wait   wait until the compensations have run and the create has ended',
        'Exit: 0 cancel requested (with --wait: the create ended cancelled); 1 no such create, or it had already ended.',
      ].join('\n'),
      run: c.cancel,
    },
    backends: {
      summary: 'list pools: total, free, allocated, provisioned GiB, volume service up or down',
      usage: 'cinder-temporal backends [--json]',
      help: "A pool's volume service is down when its last stats report is older than service_down_time.",
      run: c.backends,
    },
    history: {
      summary: 'a create attempt by attempt from its workflow history: backend, outcome, error, cleanup',
      usage: 'cinder-temporal history <volume id or name> [--json]',
      help: 'Reads only the workflow history (every run, across continue-as-new): no worker needs to run.',
      run: c.history,
    },
    ...quotaCommands(c),
  };
}
