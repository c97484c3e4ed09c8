/** `cinder-temporal faults`: inject backend failures for demos and drills (rules live in the volume
 *  database, so running volume workers pick them up at their next operation). */
import { loadConfig } from '../config/config';
import { CINDER_ERROR_TYPES } from '../domain/cinder-errors';
import type { FaultRule } from '../domain/faults';
import { openVolumeStore } from '../store';
import { parseCommand } from './args';
import { EXIT, UsageError, type Command } from './errors';
import { table } from './format';

const OPS = ['create', 'delete', 'copy_image'] as const;
const ACTIONS = ['error', 'delay', 'hang', 'exit'] as const;

const FAULT_OPTIONS = {
  backend: { type: 'string' },
  op: { type: 'string' },
  action: { type: 'string' },
  error: { type: 'string' },
  times: { type: 'string' },
  probability: { type: 'string' },
  'delay-ms': { type: 'string' },
  'volume-name': { type: 'string' },
  json: { type: 'boolean' },
} as const;

function number(value: string | undefined, option: string, check: (n: number) => boolean, what: string): number | null {
  if (value === undefined) return null;
  const n = Number(value);
  if (!Number.isFinite(n) || !check(n)) throw new UsageError(`${option}: must be ${what}, got '${value}'`, option);
  return n;
}

/** Reads `faults add` options into a rule, naming the option at fault. */
export function parseFaultRule(args: string[], knownHosts: string[]): Omit<FaultRule, 'id'> {
  const { values: v } = parseCommand(args, FAULT_OPTIONS);
  const host = v.backend as string | undefined;
  if (!host) throw new UsageError('--backend: is required (host@backend)', '--backend');
  if (knownHosts.length > 0 && !knownHosts.includes(host)) {
    throw new UsageError(`--backend: ${host} is not a configured backend (configured: ${knownHosts.join(', ')})`, '--backend');
  }
  const op = (v.op as string | undefined) ?? 'create';
  if (!(OPS as readonly string[]).includes(op)) throw new UsageError(`--op: must be one of ${OPS.join(', ')}`, '--op');
  const action = (v.action as string | undefined) ?? 'error';
  if (!(ACTIONS as readonly string[]).includes(action)) throw new UsageError(`--action: must be one of ${ACTIONS.join(', ')}`, '--action');
  const errorType = v.error as string | undefined;
  if (errorType !== undefined && !CINDER_ERROR_TYPES.includes(errorType)) {
    throw new UsageError(`--error: must be one of Cinder's exception names: ${CINDER_ERROR_TYPES.join(', ')}`, '--error');
  }
  const delay = number(v['delay-ms'] as string | undefined, '--delay-ms', (n) => Number.isInteger(n) && n >= 0, 'a whole number of ms');
  if (action === 'delay' && delay === null) throw new UsageError('--delay-ms: is required with --action delay', '--delay-ms');
  return {
    host,
    op: op as FaultRule['op'],
    action: action as FaultRule['action'],
    error_type: errorType ?? null,
    remaining: number(v.times as string | undefined, '--times', (n) => Number.isInteger(n) && n >= 1, 'a whole number >= 1'),
    probability: number(v.probability as string | undefined, '--probability', (n) => n >= 0 && n <= 1, 'between 0 and 1'),
    delay_ms: delay,
    volume_name: (v['volume-name'] as string | undefined) ?? null,
  };
}

export function faultCommands(out: (line: string) => void = (l) => process.stdout.write(l + '\n')): Record<string, Command> {
  return {
    faults: {
      summary: 'inject backend failures for demos and drills: faults list | add ... | clear [--backend]',
      usage: 'cinder-temporal faults list|add|clear [--backend host@backend] [--op create|delete|copy_image] [--action error|delay|hang|exit] [--error <Cinder type>] [--times N] [--probability P] [--delay-ms N] [--volume-name NAME] [--json]',
      help: [
        'Rules are kept in the volume database; volume workers consult them before each operation.',
        'Defaults: --op create --action error, error type VolumeBackendAPIException (ImageCopyFailure for copy_image), every time.',
        'Example: cinder-temporal faults add --backend hostA@lvm --error VolumeBackendAPIException --times 1',
      ].join('\n'),
      run: async (args) => {
        const [sub, ...rest] = args;
        const config = loadConfig();
        const store = await openVolumeStore(config.database_url);
        try {
          if (sub === 'add') {
            const rule = await store.addFaultRule(parseFaultRule(rest, config.backends.map((b) => b.host)));
            out(rest.includes('--json') ? JSON.stringify(rule) : `added fault rule ${rule.id}: ${rule.op} on ${rule.host} -> ${rule.action}${rule.error_type ? ` ${rule.error_type}` : ''}${rule.remaining === null ? ' (every time)' : ` (${rule.remaining} time(s))`}`);
            return EXIT.OK;
          }
          if (sub === 'list' || sub === 'clear') {
            const { values } = parseCommand(rest, { backend: { type: 'string' }, json: { type: 'boolean' } });
            const host = values.backend as string | undefined;
            if (sub === 'clear') {
              await store.clearFaultRules(host);
              out(`cleared fault rules${host ? ` of ${host}` : ''}`);
              return EXIT.OK;
            }
            const rules = await store.listFaultRules(host);
            out(values.json ? JSON.stringify(rules) : table(rules as unknown as Array<Record<string, unknown>>, ['id', 'host', 'op', 'action', 'error_type', 'remaining', 'probability', 'delay_ms', 'volume_name']));
            return EXIT.OK;
          }
          throw new UsageError(sub ? `unknown faults subcommand '${sub}' (list, add, clear)` : 'faults needs a subcommand: list, add or clear');
        } finally {
          await store.close();
        }
      },
    },
  };
}
