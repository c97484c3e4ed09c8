/**
 * `cinder-temporal quota-show | quota-usage | quota-update`: Cinder's quota commands. Limits come
 * from the project's own rows, else the configuration's defaults (quota_volumes, quota_gigabytes,
 * quota_volume_types); -1 is unlimited.
 */
import type { QuotaUsageRow } from '../client/volume-service';
import { CinderError } from '../domain/cinder-errors';
import { defaultProject, parseCommand, usageErrorFor } from './args';
import { CliFailure, EXIT, UsageError, type Command } from './errors';
import { boxTable, propertyTable } from './format';
import type { VolumeCommands } from './volume-commands';

/** `cinder quota-show`: one Property | Value row per resource. */
export function quotaShowTable(rows: QuotaUsageRow[]): string {
  return propertyTable(Object.fromEntries(rows.map((q) => [q.resource, q.limit])));
}

/** `cinder quota-usage`: Type | In_use | Reserved | Limit. */
export function quotaUsageTable(rows: QuotaUsageRow[]): string {
  return boxTable(
    rows.map((q) => ({ Type: q.resource, In_use: q.in_use, Reserved: q.reserved, Limit: q.limit })),
    ['Type', 'In_use', 'Reserved', 'Limit'],
  );
}

/** A limit as typed: a whole number (-1 unlimited); the store's rules judge the rest. */
function limitArg(value: unknown, option: string): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  if (!/^[+-]?\d+$/.test(text))
    throw new UsageError(`${option}: must be an integer (-1: unlimited), got '${text}'`, option, 'InvalidInput');
  return Number(text);
}

/** `--volumes -1` as Cinder's users type it: a negative number after a limit option is its value
 *  (parseArgs would read it as an option). */
function negativeLimits(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if ((args[i] === '--volumes' || args[i] === '--gigabytes') && /^-\d+$/.test(args[i + 1] ?? ''))
      out.push(`${args[i]}=${args[++i]}`);
    else out.push(args[i]);
  }
  return out;
}

/** The project of quota-show / quota-usage: the argument, --project-id, else the CLI's default. */
function projectOf(c: VolumeCommands, values: Record<string, unknown>, positionals: string[]): string {
  if (positionals[0] && values['project-id'] && positionals[0] !== values['project-id']) {
    throw new UsageError(
      `--project-id: give the project once (got '${positionals[0]}' and '${String(values['project-id'])}')`,
      '--project-id',
    );
  }
  return positionals[0] ?? (values['project-id'] as string | undefined) ?? defaultProject(c.io.env);
}

export function quotaCommands(c: VolumeCommands): Record<string, Command> {
  const PROJECT = { 'project-id': { type: 'string' }, json: { type: 'boolean' } } as const;
  const read = (table: (rows: QuotaUsageRow[]) => string) => (args: string[]) =>
    c.with(async () => {
      const { values, positionals } = parseCommand(args, PROJECT, 1);
      const rows = await c.service().quotaUsage(projectOf(c, values, positionals));
      c.io.out(values.json ? JSON.stringify(rows, null, 2) : table(rows));
      return EXIT.OK;
    });

  const update = (args: string[]) =>
    c.with(async () => {
      const { values, positionals } = parseCommand(
        negativeLimits(args),
        {
          volumes: { type: 'string' },
          gigabytes: { type: 'string' },
          'volume-type': { type: 'string', multiple: true },
          force: { type: 'boolean' },
          json: { type: 'boolean' },
        },
        1,
      );
      const project = positionals[0];
      if (!project) throw new UsageError('<project>: the project (tenant) id is required');
      const volumes = limitArg(values.volumes, '--volumes');
      const gigabytes = limitArg(values.gigabytes, '--gigabytes');
      if (volumes === undefined && gigabytes === undefined)
        throw new UsageError('--volumes or --gigabytes: give at least one limit to set');
      let rows: QuotaUsageRow[];
      try {
        rows = await c.service().updateQuota(
          project,
          {
            volumes,
            gigabytes,
            ...(values['volume-type'] ? { volume_types: values['volume-type'] as string[] } : {}),
          },
          { force: values.force === true },
        );
      } catch (err) {
        if (!(err instanceof CinderError)) throw err;
        // Below what is in use: refused as Cinder refuses it (HTTP 400), exit 1; --force sets it anyway.
        if (/must be equal or greater than existing resources/.test(err.message))
          throw new CliFailure(`${err.message} (--force sets it anyway)`, err.cinderType);
        if (err.field === 'volume_type')
          throw new UsageError(`--volume-type: ${err.message}`, '--volume-type', err.cinderType);
        throw usageErrorFor(err);
      }
      c.io.out(values.json ? JSON.stringify(rows, null, 2) : quotaShowTable(rows));
      return EXIT.OK;
    });

  return {
    'quota-show': {
      summary: "show a project's quota limits (cinder quota-show); -1 is unlimited",
      usage: 'cinder-temporal quota-show [<project> | --project-id <id>] [--json]',
      help: 'The project defaults to $CINDER_PROJECT_ID, else admin. A project without its own limits has the configured defaults.',
      run: read(quotaShowTable),
    },
    'quota-usage': {
      summary: "show a project's quota: in use, reserved and limit (cinder quota-usage)",
      usage: 'cinder-temporal quota-usage [<project> | --project-id <id>] [--json]',
      help: 'Reserved is what creates in their API flow hold; in use is committed (available and error volumes both count).',
      run: read(quotaUsageTable),
    },
    'quota-update': {
      summary: "set a project's quota limits (cinder quota-update): --volumes N --gigabytes N [--volume-type T ...]",
      usage:
        'cinder-temporal quota-update <project> [--volumes <N>] [--gigabytes <N>] [--volume-type <type> ...] [--force] [--json]',
      help: [
        '  --volumes N, --gigabytes N   the new limits; -1 is unlimited',
        '  --volume-type T              set the limits of volume type T (volumes_T, gigabytes_T) instead; repeat for several',
        '  --force                      set a limit even below what is in use and reserved (refused otherwise)',
        "Prints the project's quota afterwards, as quota-show does.",
        'Exit: 0 set; 1 refused (a limit below what is in use); 2 bad usage (not an integer, below -1, unknown type).',
      ].join('\n'),
      run: update,
    },
  };
}
