/** Argument parsing for the volume commands (node:util parseArgs), with errors that name the option. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { NewVolumeRequest } from '../client/volumes';
import { CinderError } from '../domain/cinder-errors';
import type { VolumeStatus } from '../domain/volume';
import { UsageError } from './errors';

type Options = NonNullable<ParseArgsConfig['options']>;

export interface Parsed {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
  tokens: NonNullable<ReturnType<typeof parseArgs>['tokens']>;
}

/** parseArgs in strict mode; its errors become UsageErrors naming the option. */
export function parseCommand(args: string[], options: Options, maxPositionals = 0): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    const option = /'(--?[^' ]+)/.exec(e.message)?.[1];
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION')
      throw new UsageError(`${option ?? 'option'}: unknown option`, option);
    if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const takesValue = option && options[option.replace(/^--?/, '')]?.type === 'string';
      const hint = /ambiguous/.test(e.message) ? `; for a value starting with '-' write ${option}=<value>` : '';
      throw new UsageError(`${option ?? 'option'}: ${takesValue ? `needs a value${hint}` : 'takes no value'}`, option);
    }
    throw new UsageError(e.message, option);
  }
  const { values, positionals, tokens } = parsed;
  if (positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument '${positionals[maxPositionals]}'`);
  }
  return { values: values as Parsed['values'], positionals, tokens: tokens ?? [] };
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The create options, in Cinder's words (`cinder create`). */
export const CREATE_OPTIONS: Options = {
  size: { type: 'string' },
  name: { type: 'string' },
  description: { type: 'string' },
  type: { type: 'string' },
  'volume-type': { type: 'string' },
  'availability-zone': { type: 'string' },
  'snapshot-id': { type: 'string' },
  'source-volid': { type: 'string' },
  'image-id': { type: 'string' },
  metadata: { type: 'string', multiple: true },
  'request-id': { type: 'string' },
  'project-id': { type: 'string' },
  wait: { type: 'boolean' },
  json: { type: 'boolean' },
};

/** Which option sets which request field, to name the option when a field is refused. */
export const FIELD_OPTIONS: Record<string, string> = {
  size: '--size',
  name: '--name',
  description: '--description',
  volume_type: '--type',
  availability_zone: '--availability-zone',
  snapshot_id: '--snapshot-id',
  source_volid: '--source-volid',
  image_id: '--image-id',
  metadata: '--metadata',
  request_id: '--request-id',
  project_id: '--project-id',
};

export interface CreateArgs {
  request: NewVolumeRequest;
  wait: boolean;
  json: boolean;
}

/** The project a command acts for: --project-id, else CINDER_PROJECT_ID, else 'admin'. */
export function defaultProject(env: NodeJS.ProcessEnv): string {
  return env.CINDER_PROJECT_ID || 'admin';
}

/**
 * `create` arguments → a create request. Cinder's forms work too: the size as the one positional
 * argument (`create 10`) and metadata as pairs after one --metadata (`--metadata a=1 b=2`).
 * Values are passed on as typed; validateCreateRequest judges them (and names the field).
 */
export function parseCreateArgs(args: string[], env: NodeJS.ProcessEnv = process.env): CreateArgs {
  const { values, tokens } = parseCommand(args, CREATE_OPTIONS, Infinity);
  const pairs: string[] = [];
  const rest: string[] = [];
  let afterMetadata = false;
  for (const t of tokens) {
    if (t.kind === 'option') {
      afterMetadata = t.name === 'metadata';
      if (afterMetadata && t.value !== undefined) pairs.push(t.value);
    } else if (t.kind === 'positional') {
      if (afterMetadata && t.value.includes('=')) pairs.push(t.value);
      else if (afterMetadata && !/^[+-]?\d/.test(t.value)) {
        throw new UsageError(`--metadata: expected key=value, got '${t.value}'`, '--metadata', 'InvalidInput');
      } else {
        afterMetadata = false;
        rest.push(t.value);
      }
    } else {
      afterMetadata = false;
    }
  }
  if (rest.length > 1) throw new UsageError(`unexpected argument '${rest[1]}'`);
  if (rest.length === 1 && values.size !== undefined)
    throw new UsageError(`unexpected argument '${rest[0]}': the size is already given by --size`, '--size');
  if (values.type !== undefined && values['volume-type'] !== undefined)
    throw new UsageError('--type: give --type or --volume-type, not both', '--type');

  const metadata: Record<string, string> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    if (i < 0) throw new UsageError(`--metadata: expected key=value, got '${pair}'`, '--metadata', 'InvalidInput');
    metadata[pair.slice(0, i)] = pair.slice(i + 1);
  }
  const sizeText = str(values.size) ?? rest[0];
  const request: Record<string, unknown> = {
    project_id: str(values['project-id']) ?? defaultProject(env),
    // A number when it reads as one, so "1.5" and "-1" are judged as numbers; else the text.
    size: sizeText === undefined ? undefined : /^[+-]?\d+(\.\d+)?$/.test(sizeText.trim()) ? Number(sizeText) : sizeText,
    name: str(values.name),
    description: str(values.description),
    volume_type: str(values.type) ?? str(values['volume-type']),
    availability_zone: str(values['availability-zone']),
    snapshot_id: str(values['snapshot-id']),
    source_volid: str(values['source-volid']),
    image_id: str(values['image-id']),
    metadata: pairs.length > 0 ? metadata : undefined,
    request_id: str(values['request-id']),
  };
  for (const k of Object.keys(request)) if (request[k] === undefined) delete request[k];
  if (request.size === undefined)
    throw new UsageError('--size: is required (a positive whole number of GiB)', '--size', 'InvalidInput');
  return { request: request as unknown as NewVolumeRequest, wait: values.wait === true, json: values.json === true };
}

/** A refused request field, said in terms of the option that set it: `--size: must be ...`. */
export function usageErrorFor(err: CinderError): UsageError {
  const field = err.field ?? '';
  const [base, ...sub] = field.split('.');
  const option = FIELD_OPTIONS[base] ?? (field ? `--${field.replace(/_/g, '-')}` : 'request');
  let text = err.message.replace(/^Invalid input for field '[^']*': /, '');
  // Other fields the text names, as options too ("cannot be combined with snapshot_id").
  for (const [f, opt] of Object.entries(FIELD_OPTIONS))
    if (f.includes('_')) text = text.replace(new RegExp(`\\b${f}\\b`, 'g'), opt);
  const where = sub.length > 0 ? `${option} ${JSON.stringify(sub.join('.'))}` : option;
  const suffix = err.cinderType === 'InvalidInput' ? '' : ` (${err.cinderType})`;
  return new UsageError(`${where}: ${text}${suffix}`, option, err.cinderType);
}

export const STATUSES: readonly VolumeStatus[] = [
  'creating',
  'available',
  'error',
  'deleting',
  'error_deleting',
  'deleted',
];

export function parseStatus(value: unknown): VolumeStatus | undefined {
  if (value === undefined) return undefined;
  if (!STATUSES.includes(value as VolumeStatus))
    throw new UsageError(`--status: must be one of ${STATUSES.join(', ')}, got '${String(value)}'`, '--status');
  return value as VolumeStatus;
}

/** The one volume argument of show, history and cancel. */
export function volumeArg(positionals: string[]): string {
  const id = positionals[0];
  if (!id) throw new UsageError('<volume>: a volume id (or name) is required');
  return id;
}
