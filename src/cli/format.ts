import { escapeControl } from '../domain/text';

/** Plain-text tables for humans; scripts use --json. */
export function table(rows: Array<Record<string, unknown>>, columns?: string[]): string {
  if (rows.length === 0) return '(none)';
  const cols = columns ?? Object.keys(rows[0]);
  const cell = (v: unknown) =>
    escapeControl(v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [
    line(cols),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(cols.map((c) => cell(r[c])))),
  ].join('\n');
}

/** A two-column property table (Cinder's `cinder show` layout). */
export function properties(obj: Record<string, unknown>): string {
  return table(Object.entries(obj).map(([Property, Value]) => ({ Property, Value })));
}

/** A cell's text on one line: stored control characters (a description's newline too) escaped. */
const cellText = (v: unknown): string =>
  escapeControl(
    v === null || v === undefined || v === '' ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v),
  );

/** A boxed table as the cinder client prints it (prettytable): `+---+` rules and `| a | b |` rows. */
export function boxTable(rows: Array<Record<string, unknown>>, columns: string[]): string {
  const body = rows.map((r) => columns.map((c) => cellText(r[c])));
  const widths = columns.map((c, i) => Math.max(c.length, ...body.map((cells) => cells[i].length)));
  const rule = '+' + widths.map((w) => '-'.repeat(w + 2)).join('+') + '+';
  const line = (cells: string[]) => '| ' + cells.map((v, i) => v.padEnd(widths[i])).join(' | ') + ' |';
  return [rule, line(columns), rule, ...body.map(line), ...(body.length > 0 ? [rule] : [])].join('\n');
}

/** `cinder show`'s layout: one Property | Value row per key, keys in alphabetical order. */
export function propertyTable(obj: Record<string, unknown>): string {
  const rows = Object.keys(obj)
    .sort()
    .map((Property) => ({ Property, Value: obj[Property] }));
  return boxTable(rows, ['Property', 'Value']);
}

/** Whole numbers as they are, others to two decimals; 'infinite' / 'unknown' as reported. */
export function gib(v: number | string | null | undefined): string {
  if (v === null || v === undefined) return '-';
  if (typeof v !== 'number') return v;
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}
