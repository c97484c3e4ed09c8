/**
 * The create command's behaviour without a cluster: live progress on a terminal (one line rewritten
 * in place) and off one (a line per change), the final table or error, and bad input that starts
 * nothing. The Temporal side is a stand-in handle; the volume database is a real in-memory SQLite.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { UsageError } from '../../src/cli/errors';
import { VolumeCommands, type CliIO } from '../../src/cli/volume-commands';
import { VolumeService } from '../../src/client/volume-service';
import {
  VolumeCreateError,
  VolumeCreateHandle,
  volumeIdForRequest,
  type NewVolumeRequest,
} from '../../src/client/volumes';
import type { CreateOptions } from '../../src/domain/create-options';
import { SqliteVolumeStore } from '../../src/store';
import type { VolumeStore } from '../../src/store/volume-store';
import type { CreateVolumeResult, CreateVolumeState } from '../../src/workflows/create-volume';

const A = 'hostA@lvm#pool1';
const B = 'hostB@lvm#pool1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function states(id: string): CreateVolumeState[] {
  const s = (over: Partial<CreateVolumeState>): CreateVolumeState => ({
    volume_id: id,
    status: 'creating',
    phase: 'api',
    attempt: 0,
    max_attempts: null,
    backend_id: null,
    retry: null,
    last_error: null,
    attempts: [],
    ...over,
  });
  const err = { type: 'VolumeBackendAPIException', message: 'boom' };
  return [
    s({}),
    s({ phase: 'scheduling', attempt: 1, max_attempts: 3 }),
    s({ phase: 'creating', attempt: 1, max_attempts: 3, backend_id: A }),
    s({ phase: 'creating', attempt: 1, max_attempts: 3, backend_id: A }),
    s({ phase: 'compensating', attempt: 1, max_attempts: 3, backend_id: A, last_error: err }),
    s({ phase: 'creating', attempt: 2, max_attempts: 3, backend_id: B, last_error: err }),
  ];
}

/** A create that reports `seen` states to successive queries, then ends with `end`. */
class ScriptedCreate extends VolumeCreateHandle {
  private polls = 0;
  constructor(
    id: string,
    private readonly seen: CreateVolumeState[],
    private readonly end: CreateVolumeResult | VolumeCreateError,
    existing = false,
  ) {
    super(id, { workflowId: `create-volume-${id}` } as unknown as WorkflowHandle, existing);
  }
  override async status(): Promise<CreateVolumeState> {
    return this.seen[Math.min(this.polls++, this.seen.length - 1)];
  }
  override async result(): Promise<CreateVolumeResult> {
    while (this.polls < this.seen.length) await sleep(20);
    if (this.end instanceof VolumeCreateError) throw this.end;
    return this.end;
  }
}

class ScriptedService extends VolumeService {
  readonly started: NewVolumeRequest[] = [];
  constructor(
    store: VolumeStore,
    private readonly script: (request: NewVolumeRequest, id: string) => VolumeCreateHandle,
  ) {
    // A lazy connection to nowhere: nothing here may talk to Temporal.
    super(new Client({ connection: Connection.lazy({ address: '127.0.0.1:9' }) }), store);
  }
  override async create(
    request: NewVolumeRequest,
    call: { options?: Partial<CreateOptions>; check?: boolean } = {},
  ): Promise<VolumeCreateHandle> {
    if (call.check !== false) await this.checkCreate(request);
    this.started.push(request);
    const id = request.request_id
      ? volumeIdForRequest(request.project_id, request.request_id)
      : `vol-${this.started.length}`;
    return this.script(request, id);
  }
  override async close(): Promise<void> {}
}

function capture(tty: boolean) {
  const io = {
    stdout: [] as string[],
    stderr: [] as string[],
    progressed: [] as Array<{ text: string; json: boolean }>,
    out(line: string) {
      io.stdout.push(line);
    },
    err(line: string) {
      io.stderr.push(line);
    },
    progress(text: string, json: boolean) {
      io.progressed.push({ text, json });
    },
    progressIsTTY: () => tty,
    progressColumns: () => 70,
    env: { CINDER_PROJECT_ID: 'p1' } as NodeJS.ProcessEnv,
  };
  return io satisfies CliIO;
}

const success = (id: string): CreateVolumeResult => ({
  volume_id: id,
  status: 'available',
  backend_id: B,
  retry: { num_attempts: 2, backends: [A, B], hosts: [A, B] },
  attempts: [
    { attempt: 1, backend_id: A, outcome: 'failed', error_type: 'VolumeBackendAPIException' },
    { attempt: 2, backend_id: B, outcome: 'succeeded' },
  ],
});

describe('create command', { timeout: 60_000 }, () => {
  let store: SqliteVolumeStore;
  before(async () => {
    store = new SqliteVolumeStore(':memory:');
    await store.putVolumeType({ name: 'default', extra_specs: {} });
  });
  after(() => store.close());

  it('on a terminal: one line rewritten in place (never wider than the terminal), then the table', async () => {
    const svc = new ScriptedService(store, (_r, id) => new ScriptedCreate(id, states(id), success(id)));
    const io = capture(true);
    const code = await new VolumeCommands(io, () => svc).create(['--size', '1', '--name', 'n', '--wait']);
    assert.equal(code, 0);
    const all = io.progressed.map((p) => p.text).join('');
    // Each attempt's outcome is a line of its own, printed over the updating line.
    const outcomes = [
      `volume vol-1: attempt 1 of 3 on ${A}: failed (VolumeBackendAPIException)`,
      `volume vol-1: attempt 2 of 3 on ${B}: succeeded`,
    ];
    for (const o of outcomes) assert.ok(all.includes(`\r\x1b[2K${o}\n`), `outcome line ${o} in ${JSON.stringify(all)}`);
    const text = outcomes.reduce((t, o) => t.replace(`\r\x1b[2K${o}\n`, ''), all);
    assert.ok(text.endsWith('\n'), 'the line is closed at the end');
    const frames = text.slice(0, -1).split('\r\x1b[2K').slice(1);
    assert.equal(text.slice(0, -1).indexOf('\n'), -1, 'no new line while it runs');
    assert.ok(frames.length >= 4, `frames: ${JSON.stringify(frames)}`);
    for (const f of frames) assert.ok(f.length <= 69, `fits 70 columns: ${f}`);
    assert.equal(frames[0], 'volume vol-1: creating: checking the request, reserving quota');
    assert.equal(frames[frames.length - 1], `volume vol-1: available: done on ${B}, attempt 2 of 3`.slice(0, 69));
    assert.ok(
      io.progressed.every((p) => p.json === false),
      'progress goes to stdout',
    );
    assert.equal(io.stdout[0], 'Started the create of volume vol-1 (workflow create-volume-vol-1).');
    assert.match(io.stdout[1], /\| status +\| available +\|/);
  });

  it('off a terminal: one plain line per change, in order, none repeated', async () => {
    const svc = new ScriptedService(store, (_r, id) => new ScriptedCreate(id, states(id), success(id)));
    const io = capture(false);
    const code = await new VolumeCommands(io, () => svc).create(['--size', '1', '--wait']);
    assert.equal(code, 0);
    const lines = io.progressed.map((p) => p.text);
    assert.ok(lines.every((l) => l.endsWith('\n') && !l.includes('\r')));
    assert.deepEqual(
      lines.map((l) => l.slice(0, -1)),
      [
        'volume vol-1: creating: checking the request, reserving quota',
        'volume vol-1: creating: scheduling, attempt 1 of 3',
        `volume vol-1: creating: creating on ${A}, attempt 1 of 3`,
        `volume vol-1: creating: compensating on ${A}, attempt 1 of 3, last error VolumeBackendAPIException`,
        `volume vol-1: creating: creating on ${B}, attempt 2 of 3, last error VolumeBackendAPIException`,
        `volume vol-1: attempt 1 of 3 on ${A}: failed (VolumeBackendAPIException)`,
        `volume vol-1: attempt 2 of 3 on ${B}: succeeded`,
        `volume vol-1: available: done on ${B}, attempt 2 of 3`,
      ],
    );
  });

  it("a reschedule between two polls is still reported, from the create's own state", async () => {
    const s = (over: Partial<CreateVolumeState>): CreateVolumeState => ({
      volume_id: 'vol-1',
      status: 'creating',
      phase: 'creating',
      attempt: 1,
      max_attempts: 3,
      backend_id: A,
      retry: null,
      last_error: null,
      attempts: [],
      ...over,
    });
    // The polls see attempt 1 running on A, then already attempt 2 running on B: the failure of 1
    // and its compensation happened between them.
    const seen = [
      s({ attempts: [{ attempt: 1, backend_id: A, outcome: 'running' }] }),
      s({
        attempt: 2,
        backend_id: B,
        attempts: [
          { attempt: 1, backend_id: A, outcome: 'failed', error_type: 'VolumeBackendAPIException', cleanup: 'deleted' },
          { attempt: 2, backend_id: B, outcome: 'running' },
        ],
      }),
    ];
    const svc = new ScriptedService(store, (_r, id) => new ScriptedCreate(id, seen, success(id)));
    const io = capture(false);
    assert.equal(await new VolumeCommands(io, () => svc).create(['--size', '1', '--wait']), 0);
    const lines = io.progressed.map((p) => p.text.slice(0, -1));
    assert.deepEqual(
      lines.filter((l) => / attempt \d of 3 on /.test(l)),
      [
        `volume vol-1: attempt 1 of 3 on ${A}: failed (VolumeBackendAPIException; deleted)`,
        `volume vol-1: attempt 2 of 3 on ${B}: succeeded`,
      ],
    );
    // Reported once, where it was first seen: before the progress line of attempt 2.
    assert.ok(
      lines.indexOf(`volume vol-1: attempt 1 of 3 on ${A}: failed (VolumeBackendAPIException; deleted)`) <
        lines.indexOf(`volume vol-1: creating: creating on ${B}, attempt 2 of 3`),
    );
  });

  it("a create that ends in error: exit 1, the error with its Cinder type, the volume's table", async () => {
    const message = 'No valid backend was found. Exceeded max scheduling attempts 3 for resource x';
    const svc = new ScriptedService(store, (_r, id) => {
      const seen = states(id).slice(0, 3);
      const last = {
        ...seen[2],
        status: 'error' as const,
        phase: 'done' as const,
        last_error: { type: 'NoValidBackend', message },
      };
      return new ScriptedCreate(id, seen, new VolumeCreateError('NoValidBackend', message, last));
    });
    const io = capture(false);
    const code = await new VolumeCommands(io, () => svc).create(['--size', '1', '--wait']);
    assert.equal(code, 1);
    assert.deepEqual(io.stderr, [`ERROR: NoValidBackend: ${message}`]);
    assert.equal(
      io.progressed[io.progressed.length - 1].text,
      `volume vol-1: error: failed on ${A}, attempt 1 of 3, error NoValidBackend\n`,
    );
    const table = io.stdout[io.stdout.length - 1];
    assert.match(table, /\| status +\| error +\|/);
    assert.match(table, /\| error_reason +\| No valid backend was found/);
  });

  it('--json --wait: one document on stdout, the progress on stderr', async () => {
    const svc = new ScriptedService(store, (_r, id) => new ScriptedCreate(id, states(id), success(id)));
    const io = capture(false);
    const code = await new VolumeCommands(io, () => svc).create(['--size', '1', '--wait', '--json']);
    assert.equal(code, 0);
    assert.equal(io.stdout.length, 1);
    const doc = JSON.parse(io.stdout[0]);
    assert.equal(doc.outcome, 'available');
    assert.equal(doc.volume.id, 'vol-1');
    assert.deepEqual(doc.retry, success('vol-1').retry);
    assert.ok(io.progressed.length > 0 && io.progressed.every((p) => p.json === true));
  });

  it('a repeated request id says the volume already exists', async () => {
    const svc = new ScriptedService(store, (_r, id) => new ScriptedCreate(id, states(id), success(id), true));
    const io = capture(false);
    assert.equal(await new VolumeCommands(io, () => svc).create(['--size', '1', '--request-id', 'r-9']), 0);
    const id = volumeIdForRequest('p1', 'r-9');
    assert.equal(
      io.stdout[0],
      `Request r-9 was already made: returning volume ${id} (no new create started; workflow create-volume-${id}).`,
    );
  });

  it('bad input starts nothing: the shape, an unknown type, an unknown zone', async () => {
    const svc = new ScriptedService(store, () => assert.fail('nothing may start'));
    const cmds = new VolumeCommands(capture(false), () => svc);
    await assert.rejects(
      cmds.create(['--size', '0']),
      (e: UsageError) => e.option === '--size' && /must be a positive whole number/.test(e.message),
    );
    await assert.rejects(
      cmds.create(['--size', '1', '--type', 'gold']),
      (e: UsageError) => e.option === '--type' && e.type === 'VolumeTypeNotFound',
    );
    await assert.rejects(
      cmds.create(['--size', '1', '--availability-zone', 'mars']),
      (e: UsageError) => e.option === '--availability-zone' && e.type === 'InvalidAvailabilityZone',
    );
    await assert.rejects(
      cmds.create(['--size', '1', '--image-id', 'img-1']),
      (e: UsageError) => e.option === '--image-id' && e.type === 'ImageNotFound',
    );
    assert.deepEqual(svc.started, []);
  });
});

describe('stored control characters never reach the terminal raw', () => {
  it('show, list and an error line print ESC, CR, NUL and BEL escaped; --json keeps them JSON-escaped', async () => {
    const store = new SqliteVolumeStore(':memory:');
    await store.putVolumeType({ name: 'default', extra_specs: {} });
    // A row written before names were checked (or straight into the database).
    const hostile = 'evil\u001b[2J\r\u0000\u0007';
    await store.createVolume({
      id: 'v-ctl',
      request: {
        volume_id: 'v-ctl',
        project_id: 'p1',
        size: 1,
        name: hostile,
        description: 'two\nlines',
        metadata: { 'k\u001b': 'v\r' },
      },
      volume_type: 'default',
      source: { type: 'raw' },
      workflow_id: 'create-volume-v-ctl',
      now: new Date().toISOString(),
    });
    await store.updateVolume(
      'v-ctl',
      { status: 'error', error_reason: `failed\u001b]0;pwned\u0007` },
      new Date().toISOString(),
    );
    const svc = new ScriptedService(store, () => assert.fail('nothing is started'));
    for (const args of [['show', 'v-ctl'], ['list']]) {
      const io = capture(false);
      const cmds = new VolumeCommands(io, () => svc);
      const code = args[0] === 'show' ? await cmds.show(args.slice(1)) : await cmds.list(args.slice(1));
      assert.equal(code, 0, io.stderr.join('\n'));
      const printed = [...io.stdout, ...io.stderr].join('\n');
      assert.doesNotMatch(printed, /[\u0000-\u0009\u000b-\u001f\u007f]/, `${args[0]} printed a raw control character`);
      assert.match(printed, /evil\\x1b\[2J\\r\\x00\\x07/, args[0]);
    }
    const io = capture(false);
    assert.equal(await new VolumeCommands(io, () => svc).show(['v-ctl', '--json']), 0);
    const doc = JSON.parse(io.stdout.join('\n'));
    assert.equal(doc.volume.name, hostile, 'JSON carries the exact text, escaped by JSON itself');
    await store.close();
  });
});
