/**
 * How a setting is declared once: its zod schema (type, bounds, default) carries, in one registry,
 * its environment variable and help text. The list of variables (`--help`, the docker check) and
 * the docs table (`npm run docs:config`) are read from the configuration schema, and each mapping
 * knows its own keys, so none of them restates a setting. (In domain/ so that the backends' schema,
 * in drivers/, declares its keys the same way.)
 */
import { z } from 'zod';

export interface SettingMeta {
  /** The environment variable that sets it (it wins over the file). */
  env?: string;
  /** One line for `--help` and the docs table; `code` in backticks. Says no default: that is
   *  read from the schema, or given as `default` when it is computed. */
  help: string;
  /** The default, in words, when the schema has none of its own (computed, or someone else's). */
  default?: string;
  /** The variable is read by @temporalio/envconfig (temporal-config.ts), not by loadConfig's loop. */
  envconfig?: true;
}

const SETTINGS = z.registry<SettingMeta>();

/** Declares a setting: its schema, with its variable and help text. Call it last (after .optional(),
 *  .default()), so the schema the mapping holds is the one that carries the declaration. */
export function setting<S extends z.ZodType>(schema: S, meta: SettingMeta): S {
  SETTINGS.add(schema as z.ZodType, meta);
  return schema;
}

/** One declared setting, found in the configuration schema. */
export interface DeclaredSetting extends SettingMeta {
  /** The dotted file key, e.g. `create_defaults.scheduler_max_attempts`. */
  key: string;
  /** The schema's own default, printable; else meta.default. */
  defaultText?: string;
  /** The schema's own default, when it has one. */
  defaultValue?: unknown;
  /** What a variable's text becomes before the schema checks it. */
  kind: 'string' | 'number' | 'boolean' | 'other';
}

type Def = { type: string; innerType?: z.ZodType; in?: z.ZodType; element?: z.ZodType; defaultValue?: unknown };
const defOf = (s: z.ZodType) => s._zod.def as unknown as Def;

/** The schemas a wrapper (optional, default, a transform's pipe) wraps, outermost first. */
function chain(schema: z.ZodType): z.ZodType[] {
  const def = defOf(schema);
  const inner = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
  return inner ? [schema, ...chain(inner)] : [schema];
}

function printable(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : `\`${value}\``;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

const withDefault = (text: string | undefined) => (text ? { defaultText: text } : {});

function kindOf(base: string): DeclaredSetting['kind'] {
  return base === 'string' || base === 'number' || base === 'boolean' ? base : 'other';
}

/** Every declared setting under an object schema, in declaration order (nested mappings walked, and
 *  the items of a list as `key[]`). */
export function declaredSettings(schema: z.ZodType, prefix = ''): DeclaredSetting[] {
  const links = chain(schema);
  const list = links.find((s) => defOf(s).type === 'array');
  if (list) return declaredSettings(defOf(list).element!, `${prefix}[]`);
  const object = links.find((s) => defOf(s).type === 'object') as z.ZodObject | undefined;
  if (!object) return [];
  return Object.entries(object.shape).flatMap(([name, field]) => {
    const key = prefix ? `${prefix}.${name}` : name;
    const links = chain(field as z.ZodType);
    const meta = links.map((s) => SETTINGS.get(s)).find((m) => m !== undefined);
    const own = links.find((s) => defOf(s).type === 'default');
    const here: DeclaredSetting[] = meta
      ? [
          {
            key,
            ...meta,
            kind: kindOf(defOf(links[links.length - 1]).type),
            ...withDefault(meta.default ?? printable(own && defOf(own).defaultValue)),
            ...(own ? { defaultValue: defOf(own).defaultValue } : {}),
          },
        ]
      : [];
    return [...here, ...declaredSettings(field as z.ZodType, key)];
  });
}

/** A variable's text as the schema of its setting takes it: numbers and booleans parsed when they
 *  read as one (otherwise the text itself, which the schema then refuses, naming the variable). */
export function fromEnvText(kind: DeclaredSetting['kind'], text: string): unknown {
  if (kind === 'number') return /^\s*-?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text;
  if (kind === 'boolean') {
    if (/^(1|true|yes|on)$/i.test(text)) return true;
    if (/^(0|false|no|off)$/i.test(text)) return false;
  }
  return text;
}

/** The help text with its default, as `--help` prints it (no markdown). */
export function helpLine(s: DeclaredSetting): string {
  // A default that is one value reads as a value ("default"), code in words as plain words.
  const dflt = s.defaultText && /^`[^`]*`$/.test(s.defaultText) ? `"${s.defaultText.slice(1, -1)}"` : s.defaultText;
  return (dflt ? `${s.help} (default ${dflt})` : s.help).replace(/`/g, '');
}

/** The docs table of the settings (docs/deploy.md, between its config-table markers). */
export function settingsTable(settings: readonly DeclaredSetting[], configFile: { env: string; help: string }): string {
  const code = (t: string) => `\`${t}\``;
  const cell = (t: string | undefined) => (t ? ` ${t} ` : ' ');
  const rows = settings.map(
    (s) => `|${cell(s.env && code(s.env))}|${cell(code(s.key))}|${cell(s.defaultText)}|${cell(s.help)}|`,
  );
  return [
    '| variable | file key | default | meaning |',
    '| --- | --- | --- | --- |',
    `|${cell(code(configFile.env))}| | |${cell(configFile.help)}|`,
    ...rows,
  ].join('\n');
}

export const TABLE_START = '<!-- config-table: written by `npm run docs:config` from src/config/config-schema.ts -->';
export const TABLE_END = '<!-- /config-table -->';

/** The text between a document's table markers (undefined without them). */
export function tableIn(doc: string): string | undefined {
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start) return undefined;
  return doc.slice(start + TABLE_START.length, end).trim();
}

/** The document with the text between its table markers replaced by table. */
export function withTable(doc: string, table: string): string {
  const start = doc.indexOf(TABLE_START);
  const end = doc.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`no ${TABLE_START} ... ${TABLE_END} markers`);
  return `${doc.slice(0, start + TABLE_START.length)}\n${table}\n${doc.slice(end)}`;
}
