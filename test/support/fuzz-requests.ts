/**
 * A seeded generator of hostile and careless create requests (issue 9, item 6). Each case is a
 * valid request with one to three mutations (wrong types, null, absent, out of range, huge,
 * control characters, unknown and `__proto__` keys), a garbage top-level input, a forged
 * continue-as-new carry, a wrong workflow id, or a targeted start against a victim's volume. Every
 * case says what the contract expects of it (`Expect`), so the oracle (fuzz-oracle.ts) can judge it.
 *
 * Case i of seed S depends only on (S, i) and the targets, so any case can be made again alone.
 */

/** Which way into the system: the client with and without its check, a raw SDK start as the
 *  Temporal CLI sends it, the real `temporal workflow start`, the `cinder-temporal create` command. */
export type FuzzPath = 'check' | 'nocheck' | 'raw' | 'tcli' | 'cli';
export const FUZZ_PATHS: readonly FuzzPath[] = ['check', 'nocheck', 'raw', 'tcli', 'cli'];

/**
 * What the contract says must happen:
 * - refuse: refused with one of `types` (InvalidInput by default), the error naming one of `fields`;
 * - valid: a control, it must succeed;
 * - may-fail: valid in shape, it may still fail after the API flow (documented `error` row);
 * - either: the contract is silent (an optional field set to null...): accepted or refused, cleanly;
 * - own: a start on a victim's volume: refused (`already exists`), the victim unchanged;
 * - conflict: a victim's request id with other parameters: refused by the client naming `fields`;
 * - same: a victim's exact request repeated: the victim's own volume, nothing new started.
 */
export type Expect =
  | { kind: 'refuse'; fields: string[]; types?: string[] }
  | { kind: 'valid' }
  | { kind: 'may-fail' }
  | { kind: 'either'; fields: string[] }
  | { kind: 'own'; victim: number }
  | { kind: 'conflict'; victim: number; fields: string[] }
  | { kind: 'same'; victim: number };

export interface FuzzCase {
  index: number;
  path: FuzzPath;
  /** e.g. `size=null`, `options.retry_initial_interval_ms=0`, `own:raw-other-project`. */
  category: string;
  /** check/nocheck: the request and options given to VolumeService.create. */
  request?: Record<string, unknown>;
  options?: unknown;
  /** raw/tcli: the workflow id and the start's arguments (normally `[input]`). */
  workflowId?: string;
  args?: unknown[];
  /** raw/tcli: start a new run on a closed workflow id (Temporal's ALLOW_DUPLICATE). */
  allowDuplicate?: boolean;
  /** cli: the arguments after `cinder-temporal`. */
  argv?: string[];
  /** The volume whose residue is checked, and the project whose quota is (when they are strings). */
  volumeId: unknown;
  projectId: unknown;
  /** Give the project a quota of zero first (an attacker that may not create anything). */
  zeroQuota?: boolean;
  victim?: number;
  expect: Expect;
}

/** A volume that exists before the fuzzing starts; its state must never change. */
export interface VictimInfo {
  volumeId: string;
  projectId: string;
  workflowId: string;
  /** The request it was made with (VolumeService.create), request id included. */
  request: Record<string, unknown> & { size: number; request_id: string; name: string };
  /** What it ended as: 'available' or 'error'. */
  status: 'available' | 'error';
}

export interface FuzzTargets {
  /** Unique per cluster: prefixes every generated id so runs on one server never meet. */
  prefix: string;
  victims: VictimInfo[];
  /** request_limits.maxSizeGb. */
  maxSizeGb: number;
}

// ---- a small PRNG (mulberry32), seeded per case ----

export type Rng = () => number;

export function rng(seed: number, index: number): Rng {
  let a = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35)) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** Picks by weight: `[[weight, value], ...]`. */
function weighted<T>(r: Rng, xs: ReadonlyArray<readonly [number, T]>): T {
  const total = xs.reduce((s, [w]) => s + w, 0);
  let x = r() * total;
  for (const [w, v] of xs) if ((x -= w) < 0) return v;
  return xs[xs.length - 1][1];
}

// ---- the mutation catalogue ----

/** A pseudo-field: the client's refusal of a request that reuses another's volume or request id. */
export const CONFLICT = '(conflict)';

/** Marks a field to delete. */
export const ABSENT = Symbol('absent');
type Verdict = 'bad' | 'ok' | 'either' | 'may-fail';
/** One mutation: the field it sets, a label, the value, the verdict, the refusal types it allows. */
type M = [field: string, label: string, value: unknown, verdict: Verdict, types?: string[]];

const long = (n: number, c = 'x') => c.repeat(n);
/** An object with an own `__proto__` key, as JSON.parse makes it from a caller's JSON. */
const withOwnProto = (base: Record<string, unknown>, value: unknown) =>
  Object.assign(JSON.parse(`{"__proto__": ${JSON.stringify(value)}}`), base) as Record<string, unknown>;
/** `[[[...]]]`, n deep: no parser on the way may overflow its stack. */
const deep = (n: number): unknown => JSON.parse('['.repeat(n) + ']'.repeat(n));
const manyItems = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));

/** Control characters: C0 (ESC sequences, CR, NUL, BEL, tab, newline), DEL and C1 (CSI). */
const CONTROL = [
  ['esc', '\u001b[2J'],
  ['cr', '\r'],
  ['nul', '\u0000'],
  ['bel', '\u0007'],
  ['tab', '\t'],
  ['lf', '\n'],
  ['del', '\u007f'],
  ['csi-c1', '\u009b31m'],
  ['osc', '\u001b]0;owned\u0007'],
] as const;

const ID_FIELD_MUTATIONS = (field: string, required: boolean): M[] => [
  [field, 'absent', ABSENT, required ? 'bad' : 'ok'],
  [field, 'null', null, required ? 'bad' : 'either'],
  [field, 'number', 123, 'bad'],
  [field, 'bool', true, 'bad'],
  [field, 'array', ['x'], 'bad'],
  [field, 'object', {}, 'bad'],
  [field, 'empty', '', 'bad'],
  [field, 'space', 'has space', 'bad'],
  [field, 'slash', '../../etc', 'bad'],
  [field, 'len65', long(65, 'a'), 'bad'],
  [field, 'huge', long(100_000, 'a'), 'bad'],
  [field, 'unicode', 'été', 'either'],
  [field, 'leading-dot', '.hidden', 'either'],
  ...CONTROL.map(([name, ch]): M => [field, `ctrl-${name}`, `id${ch}x`, 'bad']),
];

const TEXT_FIELD_MUTATIONS = (field: string, allowTabNewline: boolean): M[] => [
  [field, 'null', null, 'either'],
  [field, 'empty', '', 'either'],
  [field, 'number', 7, 'bad'],
  [field, 'array', ['x'], 'bad'],
  [field, 'len255', long(255, 'n'), 'ok'],
  [field, 'len256', long(256, 'n'), 'bad'],
  [field, 'huge', long(100_000, 'n'), 'bad'],
  [field, 'cjk', '日本語のボリューム', 'ok'],
  [field, 'emoji', 'vol 😀', 'ok'],
  [field, 'bidi', 'abc\u202edef', 'either'],
  [field, 'lone-surrogate', 'a\ud800b', 'either'],
  ...CONTROL.map(([name, ch]): M => [
    field,
    `ctrl-${name}`,
    `a${ch}b`,
    allowTabNewline && (name === 'tab' || name === 'lf') ? 'ok' : 'bad',
  ]),
];

const REQUEST_MUTATIONS: M[] = [
  ...ID_FIELD_MUTATIONS('volume_id', true),
  ...ID_FIELD_MUTATIONS('project_id', true),
  ['size', 'absent', ABSENT, 'bad'],
  ['size', 'null', null, 'bad'],
  ['size', 'zero', 0, 'bad'],
  ['size', 'negative', -1, 'bad'],
  ['size', 'fraction', 1.5, 'bad'],
  ['size', 'string', '1', 'bad'],
  ['size', 'word', 'ten', 'bad'],
  ['size', 'bool', true, 'bad'],
  ['size', 'array', [1], 'bad'],
  ['size', 'object', {}, 'bad'],
  ['size', 'over-max', 1001, 'bad'],
  ['size', 'million', 1e6, 'bad'],
  ['size', '1e300', 1e300, 'bad'],
  ['size', 'unsafe-int', 2 ** 53 + 2, 'bad'],
  ['size', 'Infinity-string', 'Infinity', 'bad'],
  ['size', 'NaN-string', 'NaN', 'bad'],
  ['size', 'max', 1000, 'may-fail'],
  ['size', 'two', 2, 'ok'],
  ...TEXT_FIELD_MUTATIONS('name', false),
  ...TEXT_FIELD_MUTATIONS('description', true),
  ['volume_type', 'missing', 'no-such-type', 'bad', ['VolumeTypeNotFound']],
  ['volume_type', 'number', 5, 'bad'],
  ['volume_type', 'empty', '', 'bad', ['InvalidInput', 'VolumeTypeNotFound']],
  ['volume_type', 'ctrl-esc', 'default\u001b[2J', 'bad', ['InvalidInput', 'VolumeTypeNotFound']],
  ['volume_type', 'len256', long(256, 't'), 'bad', ['InvalidInput', 'VolumeTypeNotFound']],
  ['volume_type', 'default', 'default', 'ok'],
  ['volume_type', 'null', null, 'either'],
  ['availability_zone', 'missing', 'nowhere', 'bad', ['InvalidAvailabilityZone']],
  ['availability_zone', 'number', 5, 'bad'],
  ['availability_zone', 'ctrl-bel', 'nova\u0007', 'bad', ['InvalidInput', 'InvalidAvailabilityZone']],
  ['availability_zone', 'nova', 'nova', 'ok'],
  ['availability_zone', 'null', null, 'either'],
  ['snapshot_id', 'missing', 'no-such-snapshot', 'bad', ['SnapshotNotFound']],
  ['snapshot_id', 'number', 5, 'bad'],
  ['snapshot_id', 'space', 'a b', 'bad'],
  ['snapshot_id', 'ctrl-nul', 's\u0000', 'bad'],
  ['snapshot_id', 'null', null, 'either'],
  ['source_volid', 'missing', 'no-such-volume', 'bad', ['VolumeNotFound']],
  ['source_volid', 'number', 5, 'bad'],
  ['image_id', 'missing', 'no-such-image', 'bad', ['ImageNotFound']],
  ['image_id', 'object', {}, 'bad'],
  ['metadata', 'string', 'x', 'bad'],
  ['metadata', 'array', ['k=v'], 'bad'],
  ['metadata', 'number', 5, 'bad'],
  ['metadata', 'null', null, 'either'],
  ['metadata', 'empty', {}, 'ok'],
  ['metadata', 'one', { tier: 'gold' }, 'ok'],
  ['metadata', 'value-number', { k: 5 }, 'bad'],
  ['metadata', 'value-null', { k: null }, 'bad'],
  ['metadata', 'value-object', { k: { a: 1 } }, 'bad'],
  ['metadata', 'key-empty', { '': 'v' }, 'bad'],
  ['metadata', 'key-len256', { [long(256, 'k')]: 'v' }, 'bad'],
  ['metadata', 'value-len256', { k: long(256, 'v') }, 'bad'],
  ['metadata', 'items-128', manyItems(128), 'ok'],
  ['metadata', 'deep-value', { k: deep(3000) }, 'bad'],
  ['metadata', 'deep', deep(3000), 'bad'],
  ['metadata', 'items-129', manyItems(129), 'bad'],
  ['metadata', 'own-proto-key', withOwnProto({}, 'v'), 'either'],
  ...CONTROL.map(([name, ch]): M => ['metadata', `key-ctrl-${name}`, { [`k${ch}`]: 'v' }, 'bad']),
  // Tab and newline in a value: the contract is read both ways (refused, or allowed as in descriptions).
  ...CONTROL.map(([name, ch]): M => [
    'metadata',
    `value-ctrl-${name}`,
    { k: `v${ch}` },
    name === 'tab' || name === 'lf' ? 'either' : 'bad',
  ]),
  ['request_id', 'number', 5, 'bad'],
  ['request_id', 'array', [1], 'bad'],
  ['request_id', 'bool', true, 'bad'],
  ['request_id', 'object', {}, 'bad'],
  ['request_id', 'Infinity-number', 1e308 * 10, 'bad'],
  ['request_id', 'ctrl-bel', 'r\u0007', 'bad'],
  ['request_id', 'ctrl-esc', 'r\u001b[2J', 'bad'],
  ['request_id', 'huge', long(100_000, 'r'), 'bad'],
  ['request_id', 'null', null, 'either'],
];

/** Unknown keys (the second element is the key). */
const UNKNOWN_KEYS = ['bogus', 'Size', 'volume-id', 'constructor', 'toString', 'hasOwnProperty', 'resume', 'options'];

/** The options a request may override, by kind, with values in and out of range. */
const COUNT_OPTIONS = ['scheduler_max_attempts', 'create_max_activity_attempts'];
const MS_OPTIONS = [
  'retry_initial_interval_ms',
  'backend_schedule_to_start_timeout_ms',
  'create_heartbeat_timeout_ms',
  'create_start_to_close_timeout_ms',
  'compensation_schedule_to_start_timeout_ms',
];
/** Values a fast test create can take. */
const MS_OK: Record<string, number> = {
  retry_initial_interval_ms: 100,
  backend_schedule_to_start_timeout_ms: 5000,
  create_heartbeat_timeout_ms: 3000,
  create_start_to_close_timeout_ms: 60_000,
  compensation_schedule_to_start_timeout_ms: 5000,
};

const OPTION_MUTATIONS: M[] = [
  ...COUNT_OPTIONS.flatMap((k): M[] => [
    [k, 'zero', 0, 'bad'],
    [k, 'negative', -1, 'bad'],
    [k, 'fraction', 1.5, 'bad'],
    [k, 'string', '3', 'bad'],
    [k, 'bool', true, 'bad'],
    [k, '1e300', 1e300, 'bad'],
    [k, 'null', null, 'either'],
    [k, 'deep', deep(2000), 'bad'],
    [k, 'over-max', k === 'scheduler_max_attempts' ? 11 : 101, 'bad'],
    [k, 'one', 1, 'ok'],
    [k, 'two', 2, 'ok'],
  ]),
  ...MS_OPTIONS.flatMap((k): M[] => [
    [k, 'zero', 0, 'bad'],
    [k, 'negative', -1, 'bad'],
    [k, '1e300', 1e300, 'bad'],
    [k, 'string', '100', 'bad'],
    [k, 'bool', false, 'bad'],
    [k, 'array', [100], 'bad'],
    [k, 'null', null, 'either'],
    [k, 'below-min', k === 'retry_initial_interval_ms' ? 5 : 99, 'bad'],
    [k, 'fraction', MS_OK[k] + 0.5, 'bad'],
    [k, 'years', 1e12, 'bad'],
    [k, 'in-range', MS_OK[k], 'ok'],
  ]),
  // Operator-only, as docs/cli.md says (it decides which backends count as alive).
  ['service_down_time_s', 'negative', -1, 'bad'],
  ['service_down_time_s', '1e300', 1e300, 'bad'],
  ['service_down_time_s', 'string', '60', 'bad'],
  ['service_down_time_s', 'in-range', 30, 'bad'],
  // Per request, a whole number 0–10 (docs/cli.md).
  ['scheduler_alternates', 'zero', 0, 'ok'],
  ['scheduler_alternates', 'two', 2, 'ok'],
  ['scheduler_alternates', 'over-max', 11, 'bad'],
  ['scheduler_alternates', 'fraction', 1.5, 'bad'],
  ['scheduler_alternates', 'negative', -1, 'bad'],
  ['upsert_search_attributes', 'string', 'yes', 'bad'],
  ['upsert_search_attributes', 'number', 1, 'bad'],
  ['upsert_search_attributes', 'false', false, 'ok'],
  ['scheduler_default_filters', 'empty', [], 'bad'],
  ['scheduler_default_filters', 'no-capacity', ['AvailabilityZoneFilter'], 'bad'],
  ['scheduler_default_weighers', 'empty', [], 'bad'],
  ['scheduler_default_weighers', 'capacity', [{ name: 'CapacityWeigher' }], 'bad'],
  ['ignore_attempted_hosts', 'false', false, 'bad'],
  ['ignore_attempted_hosts', 'true', true, 'bad'],
  ...['bogus', 'toString', 'constructor', 'hasOwnProperty', 'valueOf'].map((k): M => [k, 'unknown', 1, 'bad']),
];

// ---- building cases ----

interface Draft {
  request: Record<string, unknown>;
  options: Record<string, unknown> | undefined | unknown;
  top: Record<string, unknown>;
  labels: string[];
  bad: Array<{ fields: string[]; types?: string[]; optionsShape?: true }>;
  maybe: boolean;
  either: string[];
}

/** A valid request for a fresh volume in a fresh project. */
export function baseRequest(t: FuzzTargets, i: number, r: Rng): Record<string, unknown> {
  const req: Record<string, unknown> = {
    volume_id: `${t.prefix}-v${i}`,
    project_id: `${t.prefix}-p${i}`,
    size: 1 + Math.floor(r() * 2),
  };
  if (r() < 0.6) req.name = `fz-${i}`;
  if (r() < 0.3) req.description = `fuzz case ${i}`;
  if (r() < 0.3) req.metadata = { case: String(i) };
  if (r() < 0.4) req.request_id = `${t.prefix}-r${i}`;
  return req;
}

function applyRequestMutation(d: Draft, m: M, t: FuzzTargets, i: number, path: FuzzPath): void {
  const [field, label, value, types] = [m[0], m[1], m[2], m[4]];
  let verdict = m[3];
  // The client assigns the volume id when the request has none (`??`: null too); the derived id
  // needs a request id, so the oracle can find what the create left.
  if (field === 'volume_id' && (path === 'check' || path === 'nocheck') && (value === ABSENT || value === null)) {
    verdict = value === ABSENT ? 'ok' : 'either';
    if (typeof d.request.request_id !== 'string') d.request.request_id = `${t.prefix}-r${i}`;
  }
  d.labels.push(`${field}=${label}`);
  forget(d, field);
  if (value === ABSENT) delete d.request[field];
  // A bad volume or request id is made unique too: two cases must not meet on one workflow id.
  else if ((field === 'volume_id' || field === 'request_id') && typeof value === 'string' && value.length > 0)
    d.request[field] = uniqueId(value, t, i);
  else if ((field === 'volume_id' || field === 'request_id') && typeof value === 'number')
    d.request[field] = 1_000_000 + i;
  // A fresh unique id for "ok" id values, so two cases never share a volume.
  else d.request[field] = value;
  // An empty volume id cannot be made unique: on the unchecked client path every such case meets on
  // `create-volume-`, and the client's conflict refusal is as clear as the field check.
  const fields = field === 'volume_id' && value === '' && path === 'nocheck' ? [field, CONFLICT] : [field];
  record(d, verdict, fields, types);
}

/** A case's own variant of an id value, keeping what makes it bad (its first character, a control
 *  character, a space, its length). */
function uniqueId(value: string, t: FuzzTargets, i: number): string {
  const tag = `${t.prefix}-${i}-`;
  if (value.length >= 65) return (tag + value).slice(0, value.length);
  return /^[A-Za-z0-9]/.test(value) ? `${tag}${value}` : `${value}${tag}`;
}

function applyOptionMutation(d: Draft, m: M): void {
  const [key, label, value, verdict] = m;
  d.labels.push(`options.${key}=${label}`);
  forget(d, `options.${key}`);
  if (!d.options || typeof d.options !== 'object') d.bad = d.bad.filter((b) => !b.optionsShape);
  const opts = (d.options && typeof d.options === 'object' ? d.options : {}) as Record<string, unknown>;
  opts[key] = value;
  d.options = opts;
  record(d, verdict, [`options.${key}`]);
}

/** Forgets the verdicts of fields a later mutation overwrote (`field`, or every field under it). */
function forget(d: Draft, field: string): void {
  const covered = (f: string) => f === field || f.startsWith(`${field}.`);
  d.bad = d.bad.filter((b) => !b.fields.every(covered));
  d.either = d.either.filter((f) => !covered(f));
}

function record(d: Draft, verdict: Verdict, fields: string[], types?: string[]): void {
  if (verdict === 'bad') d.bad.push({ fields, ...(types ? { types } : {}) });
  else if (verdict === 'may-fail') d.maybe = true;
  else if (verdict === 'either') d.either.push(...fields);
}

/** One mutation of the request, its options, or (raw starts) its top level. */
function mutate(d: Draft, r: Rng, t: FuzzTargets, i: number, path: FuzzPath): void {
  const raw = path === 'raw' || path === 'tcli';
  const kind = weighted(r, [
    [6, 'field'],
    [1, 'unknown-key'],
    [0.4, 'proto-key'],
    [0.4, 'two-sources'],
    [2.5, 'option'],
    [0.6, 'options-shape'],
    ...(raw ? ([[0.5, 'top-level-key']] as const) : []),
  ] as const);
  if (kind === 'field') applyRequestMutation(d, pick(r, REQUEST_MUTATIONS), t, i, path);
  else if (kind === 'unknown-key') {
    const key = pick(r, UNKNOWN_KEYS);
    d.labels.push(`unknown-key:${key}`);
    d.request[key] = key === 'resume' ? {} : 1;
    record(d, 'bad', [key]);
  } else if (kind === 'proto-key') {
    d.labels.push('own-__proto__-key');
    d.request = withOwnProto(d.request, { size: 5 });
    record(d, 'bad', ['__proto__']);
  } else if (kind === 'two-sources') {
    d.labels.push('two-sources');
    d.request.snapshot_id = 'snap-1';
    d.request.image_id = 'img-1';
    record(d, 'bad', ['snapshot_id', 'image_id'], ['InvalidInput', 'SnapshotNotFound', 'ImageNotFound']);
  } else if (kind === 'option') applyOptionMutation(d, pick(r, OPTION_MUTATIONS));
  else if (kind === 'options-shape') {
    const [label, value, verdict] = pick(r, [
      ['string', 'x', 'bad'],
      ['array', [], 'bad'],
      ['number', 5, 'bad'],
      ['null', null, 'either'],
      ['empty', {}, 'ok'],
      ['own-__proto__', withOwnProto({}, { scheduler_default_filters: [] }), 'bad'],
    ] as const);
    d.labels.push(`options=${label}`);
    forget(d, 'options');
    d.options = value;
    record(d, verdict, label === 'own-__proto__' ? ['options.__proto__'] : ['options']);
    if (verdict === 'bad') d.bad[d.bad.length - 1].optionsShape = true;
  } else {
    const key = pick(r, ['bogus', 'Request', '__proto__']);
    d.labels.push(`top-level-key:${key}`);
    if (key === '__proto__') d.top = withOwnProto(d.top, { resume: {} });
    else d.top[key] = 1;
    record(d, 'bad', [key]);
  }
}

function expectOf(d: Draft): Expect {
  if (d.bad.length > 0) {
    const types = [...new Set(d.bad.flatMap((b) => b.types ?? ['InvalidInput']))];
    // With several bad fields, naming any one of them is a clear error; so is naming a field the
    // contract is silent on (it may be refused first).
    return {
      kind: 'refuse',
      fields: [...new Set([...d.bad.flatMap((b) => b.fields), ...d.either])],
      types: [...new Set(['InvalidInput', ...types])],
    };
  }
  if (d.either.length > 0) return { kind: 'either', fields: d.either };
  return d.maybe ? { kind: 'may-fail' } : { kind: 'valid' };
}

/** Garbage top-level inputs of a raw start (the first argument of the workflow). */
const TOP_LEVEL_GARBAGE: Array<[string, unknown[]]> = [
  ['a-string', ['a string']],
  ['null', [null]],
  ['array', [[]]],
  ['empty-object', [{}]],
  ['number', [5]],
  ['bool', [true]],
  ['request-null', [{ request: null }]],
  ['request-array', [{ request: [] }]],
  ['request-string', [{ request: 'x' }]],
  ['request-number', [{ request: 5 }]],
  ['options-only', [{ options: {} }]],
  ['no-argument', []],
];

/** A carry as a continue-as-new would pass it, forged by the caller. */
export function forgedResume(req: Record<string, unknown>, size: number): Record<string, unknown> {
  return {
    spec: {
      request: { ...req, size },
      volume_type: { name: 'default', extra_specs: {} },
      source: { type: 'raw' },
      resource_backend: null,
      quota_deltas: {},
      options: {
        scheduler_max_attempts: 3,
        ignore_attempted_hosts: true,
        scheduler_default_filters: [
          'AvailabilityZoneFilter',
          'CapacityFilter',
          'CapabilitiesFilter',
          'IgnoreAttemptedHostsFilter',
        ],
        scheduler_default_weighers: [{ name: 'CapacityWeigher' }],
        service_down_time_s: 60,
        backend_schedule_to_start_timeout_ms: 4000,
        create_heartbeat_timeout_ms: 3000,
        create_start_to_close_timeout_ms: 60_000,
        create_max_activity_attempts: 3,
        retry_initial_interval_ms: 200,
        compensation_schedule_to_start_timeout_ms: 4000,
        upsert_search_attributes: true,
        scheduler_alternates: 0,
      },
    },
    filter_properties: { size, volume_id: req.volume_id, volume_type: { name: 'default', extra_specs: {} } },
    attempts: [],
  };
}

const WORKFLOW_ID_FIELDS = ['workflow_id', 'workflowId', 'workflow id', 'volume_id'];

/** A raw-start case that is not a request mutation: garbage, carries, wrong workflow ids. */
function rawSpecial(t: FuzzTargets, i: number, r: Rng, path: FuzzPath): FuzzCase | null {
  const req = baseRequest(t, i, r);
  const base = { index: i, path, volumeId: req.volume_id, projectId: req.project_id };
  const wf = `create-volume-${req.volume_id}`;
  const kind = weighted(r, [
    [3, 'garbage'],
    [2, 'resume'],
    [2, 'workflow-id'],
    [10, 'none'],
  ] as const);
  if (kind === 'garbage') {
    const [label, args] = pick(r, TOP_LEVEL_GARBAGE);
    return {
      ...base,
      category: `input=${label}`,
      workflowId: wf,
      args,
      expect: { kind: 'refuse', fields: ['request', 'input'] },
    };
  }
  if (kind === 'resume') {
    const [label, resume, verdict] = pick(r, [
      ['empty', {}, 'bad'],
      ['string', 'x', 'bad'],
      ['spec-null', { spec: null, filter_properties: {}, attempts: [] }, 'bad'],
      ['forged', forgedResume(req, req.size as number), 'bad'],
      ['forged-huge', forgedResume(req, 999_999), 'bad'],
      ['null', null, 'either'],
    ] as const);
    const expect: Expect =
      verdict === 'bad' ? { kind: 'refuse', fields: ['resume'] } : { kind: 'either', fields: ['resume'] };
    return { ...base, category: `resume=${label}`, workflowId: wf, args: [{ request: req, resume }], expect };
  }
  if (kind === 'workflow-id') {
    const victim = t.victims.length > 0 ? pick(r, t.victims) : null;
    const [label, id] = pick(r, [
      ['other-volume', `create-volume-${t.prefix}-other${i}`],
      ['bare-volume-id', String(req.volume_id)],
      ['no-prefix', `volume-${req.volume_id}`],
      ['prefix-only', 'create-volume-'],
      ['suffix', `${wf}-x`],
      ['case', `Create-Volume-${req.volume_id}`],
      ...(victim ? ([['victim-workflow', victim.workflowId]] as const) : []),
    ] as const);
    return {
      ...base,
      category: `workflow-id=${label}`,
      workflowId: id,
      args: [{ request: req }],
      allowDuplicate: label === 'victim-workflow',
      ...(label === 'victim-workflow' ? { victim: t.victims.indexOf(victim!) } : {}),
      expect: { kind: 'refuse', fields: WORKFLOW_ID_FIELDS },
    };
  }
  return null;
}

/** What a targeted case is built from: the victim, the attacker's project, a request for the
 *  victim's volume id from that project. */
interface Aim {
  t: FuzzTargets;
  i: number;
  r: Rng;
  v: number;
  victim: VictimInfo;
  attacker: string;
  base: { index: number; victim: number; zeroQuota: boolean };
  otherReq: Record<string, unknown>;
}

/** A new run on the victim's own (closed) workflow id, as a raw or Temporal CLI start may make. */
function onVictimWorkflow(
  a: Aim,
  path: FuzzPath,
  kind: string,
  request: Record<string, unknown>,
  projectId: string,
  extra: Record<string, unknown> = {},
): FuzzCase {
  const { victim } = a;
  return {
    ...a.base,
    path,
    category: `own:${kind}`,
    workflowId: victim.workflowId,
    args: [{ request, ...extra }],
    allowDuplicate: true,
    volumeId: victim.volumeId,
    projectId,
    expect: { kind: 'own', victim: a.v },
  };
}

/** A client create (with or without its check) in the victim's project or the attacker's. */
function viaClient(
  a: Aim,
  path: FuzzPath,
  category: string,
  request: Record<string, unknown>,
  expect: Expect,
  own = false,
): FuzzCase {
  const { victim } = a;
  return {
    ...a.base,
    ...(own ? {} : { zeroQuota: false }),
    path,
    category,
    request,
    volumeId: victim.volumeId,
    projectId: own ? a.attacker : victim.projectId,
    expect,
  };
}

/** `cinder-temporal create` with the victim's request id. */
function viaCli(a: Aim, category: string, argv: string[], expect: Expect): FuzzCase {
  return {
    ...a.base,
    zeroQuota: false,
    path: 'cli',
    category,
    argv,
    volumeId: a.victim.volumeId,
    projectId: a.victim.projectId,
    expect,
  };
}

/** Another project's volume is not this project's to read (Cinder: VolumeNotFound). */
function cloneOtherProject(a: Aim): FuzzCase {
  const request = {
    volume_id: `${a.t.prefix}-v${a.i}`,
    project_id: a.attacker,
    size: a.victim.request.size + 1,
    source_volid: a.victim.volumeId,
  };
  const path = pick(a.r, ['check', 'nocheck', 'raw'] as const);
  const expect: Expect = { kind: 'refuse', fields: ['source_volid'], types: ['VolumeNotFound', 'InvalidInput'] };
  const common = {
    ...a.base,
    zeroQuota: false,
    path,
    category: 'own:clone-other-project',
    volumeId: request.volume_id,
    projectId: a.attacker,
    expect,
  };
  return path === 'raw'
    ? { ...common, workflowId: `create-volume-${request.volume_id}`, args: [{ request }] }
    : { ...common, request };
}

/** The starts aimed at a victim: its volume id, its workflow id, its request id, its data. */
const TARGETED: Record<string, (a: Aim) => FuzzCase> = {
  'raw-other-project': (a) => onVictimWorkflow(a, 'raw', 'raw-other-project', a.otherReq, a.attacker),
  'raw-same-project': (a) => ({
    ...onVictimWorkflow(
      a,
      'raw',
      'raw-same-project',
      { ...a.otherReq, project_id: a.victim.projectId },
      a.victim.projectId,
    ),
    zeroQuota: false,
  }),
  'raw-same-request': (a) => ({
    ...onVictimWorkflow(
      a,
      'raw',
      'raw-same-request',
      { ...a.victim.request, volume_id: a.victim.volumeId },
      a.victim.projectId,
    ),
    zeroQuota: false,
  }),
  'raw-forged-resume': (a) =>
    onVictimWorkflow(a, 'raw', 'raw-forged-resume', a.otherReq, a.attacker, {
      resume: forgedResume(a.otherReq, 999_999),
    }),
  'tcli-other-project': (a) => onVictimWorkflow(a, 'tcli', 'tcli-other-project', a.otherReq, a.attacker),
  'client-volume-id': (a) =>
    viaClient(a, 'nocheck', 'own:client-volume-id', a.otherReq, { kind: 'own', victim: a.v }, true),
  'check-volume-id': (a) =>
    viaClient(a, 'check', 'own:check-volume-id', a.otherReq, { kind: 'own', victim: a.v }, true),
  'request-id-conflict': (a) => {
    const { field, value } = conflictingField(a.victim, a.r);
    const path = a.r() < 0.5 ? 'check' : 'nocheck';
    return viaClient(
      a,
      path,
      `reqid:conflict-${field}`,
      { ...a.victim.request, [field]: value },
      { kind: 'conflict', victim: a.v, fields: [field] },
    );
  },
  'request-id-same': (a) =>
    viaClient(
      a,
      a.r() < 0.5 ? 'check' : 'nocheck',
      'reqid:same',
      { ...a.victim.request },
      { kind: 'same', victim: a.v },
    ),
  'cli-request-id-conflict': (a) =>
    viaCli(a, 'reqid:cli-conflict-size', victimArgv(a.victim, { size: a.victim.request.size + 1 }), {
      kind: 'conflict',
      victim: a.v,
      fields: ['size'],
    }),
  'cli-request-id-same': (a) => viaCli(a, 'reqid:cli-same', victimArgv(a.victim, {}), { kind: 'same', victim: a.v }),
  'clone-other-project': cloneOtherProject,
};

function targeted(t: FuzzTargets, i: number, r: Rng): FuzzCase {
  const v = Math.floor(r() * t.victims.length);
  const victim = t.victims[v];
  const attacker = `${t.prefix}-p${i}`;
  const base = { index: i, victim: v, zeroQuota: r() < 0.5 };
  const kind = pick(r, Object.keys(TARGETED));
  const otherReq = {
    volume_id: victim.volumeId,
    project_id: attacker,
    size: 1 + Math.floor(r() * 3),
    name: `attack-${i}`,
  };
  return TARGETED[kind]({ t, i, r, v, victim, attacker, base, otherReq });
}

function conflictingField(victim: VictimInfo, r: Rng): { field: string; value: unknown } {
  return pick(r, [
    { field: 'size', value: victim.request.size + 1 },
    { field: 'name', value: `${victim.request.name}-other` },
    { field: 'description', value: 'another description' },
    { field: 'metadata', value: { other: 'x' } },
  ]);
}

/** `cinder-temporal create` arguments that make the victim's request (or it with changes). */
export function victimArgv(victim: VictimInfo, changes: Partial<Record<'size' | 'name', unknown>>): string[] {
  const req: Record<string, unknown> = { ...victim.request, ...changes };
  const argv = [
    'create',
    `--size=${req.size}`,
    `--name=${req.name}`,
    `--request-id=${req.request_id}`,
    `--project-id=${victim.projectId}`,
    '--json',
  ];
  if (typeof req.description === 'string') argv.push(`--description=${req.description}`);
  if (req.metadata)
    for (const [k, val] of Object.entries(req.metadata as Record<string, string>)) argv.push(`--metadata=${k}=${val}`);
  return argv;
}

/** CLI mutations: [option, label, argv change, verdict]. `null` value: the option without a value. */
type CliM = [option: string, label: string, args: string[], verdict: 'bad' | 'ok'];
const CLI_MUTATIONS: CliM[] = [
  ['--size', 'size=" 1"', ['--size= 1'], 'ok'],
  ...['0', '-1', '1.5', 'abc', '', '1e3', '0x10', 'Infinity', 'NaN', '1001', '99999999999999999999', '١'].map(
    (v): CliM => ['--size', `size=${JSON.stringify(v)}`, [`--size=${v}`], 'bad'],
  ),
  ['--size', 'size-missing', [], 'bad'],
  ['--name', 'name-len256', [`--name=${long(256)}`], 'bad'],
  ...CONTROL.filter(([n]) => n !== 'nul').map(([n, ch]): CliM => [
    '--name',
    `name-ctrl-${n}`,
    [`--name=a${ch}b`],
    'bad',
  ]),
  ['--description', 'description-ctrl-esc', ['--description=d\u001b[2J'], 'bad'],
  ['--description', 'description-ctrl-cr', ['--description=d\rx'], 'bad'],
  ['--description', 'description-tab-newline', ['--description=a\tb\nc'], 'ok'],
  ['--metadata', 'metadata-novalue', ['--metadata=novalue'], 'bad'],
  ['--metadata', 'metadata-empty-key', ['--metadata==v'], 'bad'],
  ['--metadata', 'metadata-value-ctrl', ['--metadata=k=v\u001b[2J'], 'bad'],
  ['--metadata', 'metadata-key-ctrl', ['--metadata=k\u0007=v'], 'bad'],
  ['--metadata', 'metadata-key-len256', [`--metadata=${long(256, 'k')}=v`], 'bad'],
  ['--metadata', 'metadata-ok', ['--metadata=tier=gold'], 'ok'],
  ['--type', 'type-missing', ['--type=no-such-type'], 'bad'],
  ['--availability-zone', 'zone-missing', ['--availability-zone=nowhere'], 'bad'],
  ['--image-id|--snapshot-id', 'two-sources', ['--snapshot-id=snap-1', '--image-id=img-1'], 'bad'],
  ['--source-volid', 'source-missing', ['--source-volid=no-such-volume'], 'bad'],
  ['--request-id', 'request-id-slash', ['--request-id=r/x'], 'bad'],
  ['--request-id', 'request-id-ctrl', ['--request-id=r\u0007'], 'bad'],
  ['--request-id', 'request-id-len65', [`--request-id=${long(65, 'r')}`], 'bad'],
  ['--project-id', 'project-id-space', ['--project-id=p q'], 'bad'],
  ['--project-id', 'project-id-ctrl', ['--project-id=p\u001b[2J'], 'bad'],
  ['--bogus', 'unknown-option', ['--bogus=1'], 'bad'],
  ['--wait', 'valid-wait', ['--wait'], 'ok'],
];

function cliCase(t: FuzzTargets, i: number, r: Rng): FuzzCase {
  const project = `${t.prefix}-p${i}`;
  const rid = `${t.prefix}-r${i}`;
  const control = r() < 0.1;
  const m = control ? null : pick(r, CLI_MUTATIONS);
  const overridden = new Set(m ? m[2].map((a) => a.split('=')[0]).concat(m[0].split('|')) : []);
  const argv = ['create', '--json'];
  if (!overridden.has('--size') && m?.[1] !== 'size-missing') argv.push('--size=1');
  if (!overridden.has('--project-id')) argv.push(`--project-id=${project}`);
  if (!overridden.has('--request-id')) argv.push(`--request-id=${rid}`);
  if (r() < 0.5 && !overridden.has('--name')) argv.push(`--name=fz-cli-${i}`);
  if (m) argv.push(...m[2]);
  const projectArg = argv.find((a) => a.startsWith('--project-id='))!.slice('--project-id='.length);
  const ridArg = argv.find((a) => a.startsWith('--request-id='))!.slice('--request-id='.length);
  const verdict = m ? m[3] : 'ok';
  return {
    index: i,
    path: 'cli',
    category: m ? `cli:${m[1]}` : 'cli:control',
    argv,
    // Filled in by the oracle: the volume id the CLI derives from the project and request id.
    volumeId: { project: projectArg, requestId: ridArg },
    projectId: projectArg,
    expect: verdict === 'bad' ? { kind: 'refuse', fields: m![0].split('|') } : { kind: 'valid' },
  };
}

/** Case `i` of seed `seed`. */
export function generateCase(t: FuzzTargets, seed: number, i: number): FuzzCase {
  const r = rng(seed, i);
  const path = weighted<FuzzPath | 'targeted'>(r, [
    [22, 'check'],
    [20, 'nocheck'],
    [34, 'raw'],
    [3, 'tcli'],
    [5, 'cli'],
    [t.victims.length > 0 ? 12 : 0, 'targeted'],
  ]);
  if (path === 'targeted') return targeted(t, i, r);
  if (path === 'cli') return cliCase(t, i, r);
  if (path === 'raw' || path === 'tcli') {
    const special = rawSpecial(t, i, r, path);
    if (special) return special;
  }
  const d: Draft = {
    request: baseRequest(t, i, r),
    options: undefined,
    top: {},
    labels: [],
    bad: [],
    maybe: false,
    either: [],
  };
  // About one in twenty is a plain valid control; the rest carry one to three mutations.
  const count =
    r() < 0.05
      ? 0
      : weighted(r, [
          [70, 1],
          [22, 2],
          [8, 3],
        ]);
  for (let k = 0; k < count; k++) mutate(d, r, t, i, path);
  const category = d.labels.length === 0 ? 'control' : d.labels.join('+');
  const volumeId = d.request.volume_id;
  const projectId = d.request.project_id;
  if (path === 'raw' || path === 'tcli') {
    const input = { ...d.top, request: d.request, ...(d.options !== undefined ? { options: d.options } : {}) };
    // A careless caller writes the workflow id from whatever volume id it has.
    return {
      index: i,
      path,
      category,
      workflowId: `create-volume-${typeof volumeId === 'string' ? volumeId : JSON.stringify(volumeId)}`,
      args: [input],
      volumeId,
      projectId,
      expect: expectOf(d),
    };
  }
  return { index: i, path, category, request: d.request, options: d.options, volumeId, projectId, expect: expectOf(d) };
}

export function generateCases(t: FuzzTargets, seed: number, n: number): FuzzCase[] {
  return Array.from({ length: n }, (_, i) => generateCase(t, seed, i));
}
