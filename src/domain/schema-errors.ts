/** Turns a schema failure into Cinder's `Invalid input for field '<path>': <why>`. */
import type { z } from 'zod';
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
