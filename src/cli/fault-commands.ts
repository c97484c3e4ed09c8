/** `cinder-temporal faults`: inject backend failures for demos and drills (rules live in the volume
 *  database, so running volume workers pick them up at their next operation). Only volume workers
 *  configured with fault_injection consult them; `faults add` refuses a rule none would apply. */
import { loadConfig, storeOptions, type AppConfig } from '../config/config';
import { ERROR_NAME } from '../domain/cinder-errors';
import type { FaultRule } from '../domain/faults';
import { openVolumeStore } from '../store';
import type { VolumeStore } from '../store/volume-store';
import { parseCommand } from './args';
import { CliFailure, EXIT, UsageError, type Command } from './errors';
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
  'after-write': { type: 'boolean' },
  'partial-write': { type: 'boolean' },
  force: { type: 'boolean' },
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
    throw new UsageError(
      `--backend: ${host} is not a configured backend (configured: ${knownHosts.join(', ')})`,
      '--backend',
    );
  }
  const op = (v.op as string | undefined) ?? 'create';
  if (!(OPS as readonly string[]).includes(op)) throw new UsageError(`--op: must be one of ${OPS.join(', ')}`, '--op');
  const action = (v.action as string | undefined) ?? 'error';
  if (!(ACTIONS as readonly string[]).includes(action))
    throw new UsageError(`--action: must be one of ${ACTIONS.join(', ')}`, '--action');
  const errorType = v.error as string | undefined;
  // Any exception name, Cinder's or not (a driver bug): what matters is whether it is on the denylist.
  if (errorType !== undefined && !ERROR_NAME.test(errorType)) {
    throw new UsageError(
      `--error: must be an exception name (letters, digits, '_' and '.', e.g. VolumeBackendAPIException or ProcessExecutionError), got '${errorType}'`,
      '--error',
    );
  }
  const stage = v['partial-write'] ? 'partial_write' : v['after-write'] ? 'after_write' : null;
  if (v['partial-write'] && v['after-write'])
    throw new UsageError('--partial-write: cannot be combined with --after-write', '--partial-write');
  if (stage && action !== 'error') {
    const option = stage === 'partial_write' ? '--partial-write' : '--after-write';
    throw new UsageError(`${option}: goes with --action error (the error is raised after the write)`, option);
  }
  if (stage === 'partial_write' && op !== 'create')
    throw new UsageError('--partial-write: only for --op create (a volume left smaller than asked)', '--partial-write');
  const delay = number(
    v['delay-ms'] as string | undefined,
    '--delay-ms',
    (n) => Number.isInteger(n) && n >= 0,
    'a whole number of ms',
  );
  if (action === 'delay' && delay === null)
    throw new UsageError('--delay-ms: is required with --action delay', '--delay-ms');
  return {
    host,
    op: op as FaultRule['op'],
    action: action as FaultRule['action'],
    error_type: errorType ?? null,
    remaining: number(
      v.times as string | undefined,
      '--times',
      (n) => Number.isInteger(n) && n >= 1,
      'a whole number >= 1',
    ),
    probability: number(
      v.probability as string | undefined,
      '--probability',
      (n) => n >= 0 && n <= 1,
      'between 0 and 1',
    ),
    delay_ms: delay,
    volume_name: (v['volume-name'] as string | undefined) ?? null,
    stage,
  };
}

/** The rules that may still fire: a counted rule used up (remaining 0) is left out unless all. */
export function liveFaultRules(rules: FaultRule[], all = false): FaultRule[] {
  return all ? rules : rules.filter((r) => r.remaining !== 0);
}

/**
 * Refuses a rule no volume worker would apply. The backend's volume worker says in its stats
 * reports whether it injects faults; a backend that never reported is judged by this command's own
 * configuration (the same file and environment the workers read).
 */
export async function checkFaultInjection(store: VolumeStore, config: AppConfig, host: string): Promise<string | null> {
  const reported = await store.getServiceFaultInjection(host);
  const turnOn =
    'turn it on where the worker runs (fault_injection: true in its configuration, or CINDER_FAULT_INJECTION=1) and restart it, or pass --force to add the rule anyway';
  if (reported === false) {
    throw new CliFailure(
      `fault injection is off on ${host}: its volume worker does not consult fault rules, so this rule would never fire; ${turnOn}. No rule was added.`,
      'FaultInjectionOff',
    );
  }
  if (reported === null && !config.fault_injection) {
    throw new CliFailure(
      `fault injection is off: no volume worker of ${host} has reported that it injects faults, and this configuration has fault_injection off; ${turnOn}. No rule was added.`,
      'FaultInjectionOff',
    );
  }
  return reported === null
    ? `note: no volume worker of ${host} has reported yet; the rule applies once one with fault injection on serves it`
    : null;
}

export function faultCommands(
  out: (line: string) => void = (l) => process.stdout.write(l + '\n'),
): Record<string, Command> {
  return {
    faults: {
      summary: 'inject backend failures for demos and drills: faults list [--all] | add ... | clear [--backend]',
      usage:
        'cinder-temporal faults list|add|clear [--backend host@backend] [--op create|delete|copy_image] [--action error|delay|hang|exit] [--error <exception name>] [--after-write | --partial-write] [--times N] [--probability P] [--delay-ms N] [--volume-name NAME] [--force] [--all] [--json]',
      help: [
        'Rules are kept in the volume database; volume workers with fault injection on (fault_injection: true,',
        'CINDER_FAULT_INJECTION=1) consult them before each operation. add refuses a backend whose worker has it off.',
        'Defaults: --op create --action error, error type VolumeBackendAPIException (ImageCopyFailure for copy_image), every time.',
        "--error takes any exception name: Cinder's are raised as such; others (ProcessExecutionError, Error) as a driver bug would.",
        '--after-write: the operation completes, then fails; --partial-write (create): volume-<id> is left smaller than asked, then it fails.',
        'Example: cinder-temporal faults add --backend hostA@lvm --error VolumeBackendAPIException --after-write --times 1',
        'faults list shows the rules that may still fire (--all: also the used-up ones); faults clear says how many it removed.',
      ].join('\n'),
      run: async (args) => {
        const [sub, ...rest] = args;
        const config = loadConfig();
        const store = await openVolumeStore(config.database_url, storeOptions(config));
        try {
          if (sub === 'add') {
            const parsed = parseFaultRule(
              rest,
              config.backends.map((b) => b.host),
            );
            const note = rest.includes('--force') ? null : await checkFaultInjection(store, config, parsed.host);
            const rule = await store.addFaultRule(parsed);
            if (note && !rest.includes('--json')) out(note);
            const when =
              rule.stage === 'after_write'
                ? ' after the write'
                : rule.stage === 'partial_write'
                  ? ' after a partial write'
                  : '';
            out(
              rest.includes('--json')
                ? JSON.stringify(rule)
                : `added fault rule ${rule.id}: ${rule.op} on ${rule.host} -> ${rule.action}${rule.error_type ? ` ${rule.error_type}` : ''}${when}${rule.remaining === null ? ' (every time)' : ` (${rule.remaining} time(s))`}`,
            );
            return EXIT.OK;
          }
          if (sub === 'list' || sub === 'clear') {
            const { values } = parseCommand(rest, {
              backend: { type: 'string' },
              json: { type: 'boolean' },
              ...(sub === 'list' ? { all: { type: 'boolean' } } : {}),
            });
            const host = values.backend as string | undefined;
            if (sub === 'clear') {
              const removed = await store.clearFaultRules(host);
              out(
                values.json
                  ? JSON.stringify({ removed })
                  : `cleared ${removed} fault rule${removed === 1 ? '' : 's'}${host ? ` of ${host}` : ''}`,
              );
              return EXIT.OK;
            }
            const rules = liveFaultRules(await store.listFaultRules(host), values.all === true);
            out(
              values.json
                ? JSON.stringify(rules)
                : table(rules as unknown as Array<Record<string, unknown>>, [
                    'id',
                    'host',
                    'op',
                    'action',
                    'error_type',
                    'stage',
                    'remaining',
                    'probability',
                    'delay_ms',
                    'volume_name',
                  ]),
            );
            return EXIT.OK;
          }
          throw new UsageError(
            sub
              ? `unknown faults subcommand '${sub}' (list, add, clear)`
              : 'faults needs a subcommand: list, add or clear',
          );
        } finally {
          await store.close();
        }
      },
    },
  };
}
