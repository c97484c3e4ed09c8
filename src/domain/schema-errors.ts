/** Turns a schema failure into Cinder's `Invalid input for field '<path>': <why>`. */
import { z } from 'zod';
import { CinderError } from './cinder-errors';

/** ", got <value>" for a message, short and printable; nothing for an absent value. */
export function got(value: unknown): string {
  if (value === undefined) return '';
  let text: string;
  try {
    text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    text = String(value);
  }
  return `, got ${text.length > 60 ? `${text.slice(0, 57)}...` : text}`;
}

/** A zod error function: 'is required' for absent or null, else `must be <what>, got <value>`. */
export const requiredAs =
  (what: string) =>
  (iss: { input?: unknown }): string =>
    iss.input === undefined || iss.input === null ? 'is required' : `must be ${what}${got(iss.input)}`;

/** A zod error function for a value that is there but wrong. */
export const mustBe =
  (what: string) =>
  (iss: { input?: unknown }): string =>
    `must be ${what}${got(iss.input)}`;

/** The field path of the first issue, dotted under `root` ('' for none), and its message. */
export function firstIssue(error: z.ZodError, root: string, depth = Infinity): { field: string; message: string } {
  const issue = error.issues[0];
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  const parts = [...(root ? [root] : []), ...path.slice(0, depth).map(String)];
  return {
    field: parts.join('.') || 'request',
    message: issue.code === 'unrecognized_keys' ? 'is not a known field' : issue.message,
  };
}

/** Parses with schema or throws CinderError('InvalidInput') naming the field (under `root`, at most
 *  `depth` keys below it). */
export function parseOrInvalid<S extends z.ZodType>(
  schema: S,
  value: unknown,
  root: string,
  depth = Infinity,
): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const { field, message } = firstIssue(r.error, root, depth);
  throw new CinderError('InvalidInput', `Invalid input for field '${field}': ${message}`, field);
}

/** The dotted path of a configuration setting under `root`: list items as `[i]`, keys as `.key`. */
export function settingPath(root: string, path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (at, p) => (typeof p === 'number' ? `${at}[${p}]` : at ? `${at}.${String(p)}` : String(p)),
    root,
  );
}

/** A configuration schema's first issue as the setting it names (an unknown key's own path) and
 *  the problem, e.g. `backends[0].pools[1].nmae` and `is not a known setting (known: ...)`. */
export function settingIssue(error: z.ZodError, root: string): { setting: string; problem: string } {
  const issue = error.issues[0];
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  return { setting: settingPath(root, path), problem: issue.message };
}

/** A mapping that refuses unknown keys, naming the known ones (settingIssue gives the key's path). */
export function settingsObject<S extends z.core.$ZodLooseShape>(shape: S, notObject = 'must be a mapping') {
  const known = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `is not a known setting (known: ${known})` : notObject),
  });
}
