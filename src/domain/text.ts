/** Control characters in user text: refused on the way in, escaped on the way out. Pure: safe to
 *  import from workflow code. */

/** C0 controls, DEL and C1 controls. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** The same, but tab and newline are allowed (descriptions). */
const CONTROL_BUT_TAB_NEWLINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f]/g;

export function hasControlCharacter(text: string, allowTabNewline = false): boolean {
  return (allowTabNewline ? CONTROL_BUT_TAB_NEWLINE : CONTROL).test(text);
}

/**
 * Text safe to print on a terminal: every control character (ESC, CR, NUL, BEL, tab, newline...)
 * shown as an escape (`\n`, `\t`, `\x1b`) so stored text can never drive an operator's terminal.
 */
export function escapeControl(text: string): string {
  return text.replace(CONTROL_ALL, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\t') return '\\t';
    if (c === '\r') return '\\r';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** A plain data object: not null, not an array, and its prototype Object.prototype or null (so no
 *  inherited keys can stand in for fields). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Each line of a human-readable output escaped (escapeControl), the line breaks kept. */
export function escapeLines(text: string): string {
  return text.split('\n').map(escapeControl).join('\n');
}
