/** The CLI's pure parts: argument parsing, errors that name the option, tables and progress lines. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCommand, parseCreateArgs, parseStatus, usageErrorFor } from '../../src/cli/args';

import { boxTable, propertyTable } from '../../src/cli/format';
import { describeFailure, EXIT, UsageError } from '../../src/cli/errors';
import { progressLine, requestView, volumeTable } from '../../src/cli/views';
import { CinderError } from '../../src/domain/cinder-errors';
import { validateCreateRequest } from '../../src/domain/validation';
import type { CreateVolumeState } from '../../src/workflows/create-volume';

const env = {} as NodeJS.ProcessEnv;

/** The usage error a create's arguments end in, request validation included (as the CLI runs it). */
function createError(args: string[]): UsageError {
  try {
    const { request } = parseCreateArgs(args, env);
    validateCreateRequest({ volume_id: 'v', ...request });
  } catch (err) {
    if (err instanceof UsageError) return err;
    if (err instanceof CinderError) return usageErrorFor(err);
    throw err;
  }
  assert.fail(`${args.join(' ')} should be refused`);
}

describe('create arguments', () => {
  it("map Cinder's options onto the request", () => {
    const { request, wait, json } = parseCreateArgs(
      [
        '--size',
        '10',
        '--name',
        'db',
        '--description',
        'data',
        '--type',
        'ssd',
        '--availability-zone',
        'az1',
        '--snapshot-id',
        'snap-1',
        '--metadata',
        'tier=gold',
        '--metadata',
        'owner=ops',
        '--request-id',
        'r-1',
        '--project-id',
        'p1',
        '--wait',
        '--json',
      ],
      env,
    );
    assert.deepEqual(request, {
      project_id: 'p1',
      size: 10,
      name: 'db',
      description: 'data',
      volume_type: 'ssd',
      availability_zone: 'az1',
      snapshot_id: 'snap-1',
      metadata: { tier: 'gold', owner: 'ops' },
      request_id: 'r-1',
    });
    assert.equal(wait, true);
    assert.equal(json, true);
  });

  it("accept Cinder's forms: the size as the argument, several pairs after one --metadata, --volume-type", () => {
    const { request, wait, json } = parseCreateArgs(['--metadata', 'a=1', 'b=x=y', '5', '--volume-type', 'ssd'], env);
    assert.deepEqual(request, { project_id: 'admin', size: 5, volume_type: 'ssd', metadata: { a: '1', b: 'x=y' } });
    assert.equal(wait, false);
    assert.equal(json, false);
    assert.deepEqual(parseCreateArgs(['--size=2', '--source-volid', 'v-1'], env).request, {
      project_id: 'admin',
      size: 2,
      source_volid: 'v-1',
    });
  });

  it('take the project from CINDER_PROJECT_ID, else admin', () => {
    assert.equal(parseCreateArgs(['--size', '1'], { CINDER_PROJECT_ID: 'tenant-7' }).request.project_id, 'tenant-7');
    assert.equal(
      parseCreateArgs(['--size', '1', '--project-id', 'p'], { CINDER_PROJECT_ID: 'tenant-7' }).request.project_id,
      'p',
    );
    assert.equal(parseCreateArgs(['--size', '1'], {}).request.project_id, 'admin');
  });

  it('refuse bad input naming the option', () => {
    const cases: Array<[string[], string, RegExp]> = [
      [['--size', '0'], '--size', /^--size: must be a positive whole number of GiB, got 0$/],
      [['--size', '1.5'], '--size', /^--size: must be a positive whole number of GiB, got 1\.5$/],
      [['--size', 'ten'], '--size', /^--size: must be a positive whole number of GiB, got "ten"$/],
      [['--size=-2'], '--size', /^--size: must be a positive whole number/],
      [['--size', '5000'], '--size', /^--size: 5000 GiB exceeds the maximum of 1000 GiB$/],
      [['--name', 'x'], '--size', /^--size: is required/],
      [['--size', '1', '--metadata', 'oops'], '--metadata', /^--metadata: expected key=value, got 'oops'$/],
      [['--size', '1', '--metadata', 'a=1', 'oops'], '--metadata', /^--metadata: expected key=value, got 'oops'$/],
      [['--size', '1', '--metadata', '=v'], '--metadata', /^--metadata "": key must be 1 to 255 characters$/],
      [
        ['--size', '1', '--snapshot-id', 's', '--image-id', 'i'],
        '--image-id',
        /^--image-id: cannot be combined with --snapshot-id: give at most one source$/,
      ],
      [['--size', '1', '--snapshot-id', 'not valid!'], '--snapshot-id', /^--snapshot-id: must be an id/],
      [['--size', '1', '--name', 'n'.repeat(256)], '--name', /^--name: must be at most 255 characters$/],
      [['--size', '1', '--request-id', 'bad id'], '--request-id', /^--request-id: must be an id/],
      [
        ['--size', '1', '--type', 'a', '--volume-type', 'b'],
        '--type',
        /^--type: give --type or --volume-type, not both$/,
      ],
      [['--size', '1', '--bogus'], '--bogus', /^--bogus: unknown option$/],
      [['--size'], '--size', /^--size: needs a value$/],
      [['--size', '-3'], '--size', /^--size: needs a value; for a value starting with '-' write --size=<value>$/],
      [['--size', '1', '--wait=yes'], '--wait', /^--wait: takes no value$/],
    ];
    for (const [args, option, message] of cases) {
      const err = createError(args);
      assert.equal(err.option, option, `${args.join(' ')}: ${err.message}`);
      assert.match(err.message, message, args.join(' '));
      assert.equal(describeFailure(err).code, EXIT.USAGE);
    }
  });

  it('a refused field that is not InvalidInput carries its Cinder type', () => {
    const err = usageErrorFor(
      new CinderError('VolumeTypeNotFound', 'Volume type gold could not be found.', 'volume_type'),
    );
    assert.equal(err.message, '--type: Volume type gold could not be found. (VolumeTypeNotFound)');
    assert.equal(err.option, '--type');
    assert.equal(err.type, 'VolumeTypeNotFound');
    assert.deepEqual(describeFailure(err), {
      code: 2,
      type: 'VolumeTypeNotFound',
      message: err.message,
      option: '--type',
    });
  });
});

describe("other commands' arguments", () => {
  it('take at most the positionals they expect', () => {
    assert.deepEqual(parseCommand(['vol-1', '--json'], { json: { type: 'boolean' } }, 1).positionals, ['vol-1']);
    assert.throws(() => parseCommand(['a', 'b'], {}, 1), /unexpected argument 'b'/);
    assert.throws(
      () => parseCommand(['--all'], {}, 0),
      (e: UsageError) => e.option === '--all',
    );
  });

  it("--status takes Cinder's statuses only", () => {
    assert.equal(parseStatus('error'), 'error');
    assert.equal(parseStatus(undefined), undefined);
    assert.equal(parseStatus('deleting'), 'deleting');
    assert.equal(parseStatus('deleted'), 'deleted');
    assert.throws(
      () => parseStatus('gone'),
      /^UsageError: --status: must be one of creating, available, error, deleting, error_deleting, deleted, got 'gone'$/,
    );
  });
});

describe('tables', () => {
  it('boxTable draws prettytable\'s boxes, "-" for empty cells', () => {
    assert.equal(
      boxTable(
        [
          { ID: 'a', Size: 1, Name: null },
          { ID: 'bbb', Size: 10, Name: 'x' },
        ],
        ['ID', 'Size', 'Name'],
      ),
      [
        '+-----+------+------+',
        '| ID  | Size | Name |',
        '+-----+------+------+',
        '| a   | 1    | -    |',
        '| bbb | 10   | x    |',
        '+-----+------+------+',
      ].join('\n'),
    );
    assert.equal(boxTable([], ['ID']), ['+----+', '| ID |', '+----+'].join('\n'));
  });

  it('propertyTable lists properties in alphabetical order, objects as JSON', () => {
    assert.equal(
      propertyTable({ status: 'available', metadata: { a: 'b' }, id: 'v1' }),
      [
        '+----------+-----------+',
        '| Property | Value     |',
        '+----------+-----------+',
        '| id       | v1        |',
        '| metadata | {"a":"b"} |',
        '| status   | available |',
        '+----------+-----------+',
      ].join('\n'),
    );
  });

  it("a just-started volume shows Cinder's properties from its request", () => {
    const text = volumeTable(requestView('v-1', { project_id: 'p', size: 3, name: 'n', request_id: 'r' }));
    const rows = Object.fromEntries(
      text.split('\n').flatMap((l) => {
        const m = /^\| (\S+)\s+\| (.*?)\s*\|$/.exec(l);
        return m ? [[m[1], m[2]]] : [];
      }),
    );
    assert.equal(rows.status, 'creating');
    assert.equal(rows.size, '3');
    assert.equal(rows['os-vol-tenant-attr:tenant_id'], 'p');
    assert.equal(rows['os-vol-host-attr:host'], '-');
    assert.equal(rows.volume_type, 'default');
    assert.equal(rows.request_id, 'r');
    assert.equal(rows.workflow_id, 'create-volume-v-1');
  });
});

describe('progress lines', () => {
  const base: CreateVolumeState = {
    volume_id: 'v',
    status: 'creating',
    phase: 'api',
    attempt: 0,
    max_attempts: null,
    backend_id: null,
    retry: null,
    last_error: null,
    attempts: [],
  };
  it('say the phase, the attempt of max and the backend', () => {
    assert.equal(progressLine(base), 'creating: checking the request, reserving quota');
    assert.equal(
      progressLine({ ...base, phase: 'scheduling', attempt: 1, max_attempts: 3 }),
      'creating: scheduling, attempt 1 of 3',
    );
    assert.equal(
      progressLine({ ...base, phase: 'creating', attempt: 1, max_attempts: 3, backend_id: 'h@b#p' }),
      'creating: creating on h@b#p, attempt 1 of 3',
    );
    const failed = {
      ...base,
      attempt: 1,
      max_attempts: 3,
      backend_id: 'h@b#p',
      last_error: { type: 'VolumeBackendAPIException', message: 'm' },
    };
    assert.equal(
      progressLine({ ...failed, phase: 'compensating' }),
      'creating: compensating on h@b#p, attempt 1 of 3, last error VolumeBackendAPIException',
    );
    assert.equal(
      progressLine({ ...failed, phase: 'rescheduling' }),
      'creating: rescheduling away from h@b#p, attempt 1 of 3, last error VolumeBackendAPIException',
    );
    // A failed create says so, and with what: never "error: done on ...".
    assert.equal(
      progressLine({ ...failed, status: 'error', phase: 'done' }),
      'error: failed on h@b#p, attempt 1 of 3, error VolumeBackendAPIException',
    );
  });
});
