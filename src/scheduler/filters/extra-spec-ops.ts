/**
 * Cinder's extra-spec matcher (extra_specs_ops.match): does one capability value satisfy one
 * requirement string from a volume type's extra specs?
 *
 * The requirement's first word may be an operator taking the second word as its operand (further
 * words are ignored, as in Cinder):
 *   '=' (numeric >=), '==', '!=', '>=', '<=' (numeric), 's==', 's!=', 's<', 's<=', 's>', 's>='
 *   (string), '<in>' (substring, list element or object key), '<is>' (both sides read as booleans),
 *   '<or> a <or> b' (any alternative equals the value).
 * Any other first word: the value must equal the whole requirement string.
 *
 * Python semantics are kept where Cinder has them, because operators and stats were written against
 * them; where Cinder's Python would raise (and crash the scheduler), we answer "no match":
 * - No type coercion for plain equality or the s-operators: a capability reported as the boolean
 *   true does not equal 'True' and the number 5 does not equal '5' (Python: True == 'True' is False);
 *   use '<is> True' or '== 5'. So 's==' with a non-string value is false and 's!=' true; the ordering
 *   s-operators with a non-string value (a TypeError in Python) do not match.
 * - Numeric operators read both sides as Python's float() would: numbers as they are, booleans as 1
 *   and 0, strings with optional surrounding whitespace, sign, exponent, '_' between digits, 'inf',
 *   'infinity', 'nan'. Anything else (non-numeric text, lists, objects) does not match.
 * - '<is>' reads a side as true when it is the boolean true or its text (a number's as JS prints it)
 *   is 1/t/true/on/y/yes, case-insensitive, surrounding whitespace ignored; anything else is false.
 * - '<or>' takes the words at the alternative positions (1st, 3rd, 5th, ... after the operator)
 *   as the alternatives, the words in between as the keyword, as Cinder walks them.
 * - String comparison is by Unicode code point, as Python compares str.
 * - An operator with no operand, or a null/undefined value under an operator, does not match; a null
 *   requirement matches only a null/undefined value.
 */

/** A requirement compiled once, tested against many capability values. */
export type ExtraSpecMatcher = (value: unknown) => boolean;

type NumericOp = (value: number, operand: number) => boolean;
type StringOp = (value: string, operand: string) => boolean;

const NUMERIC_OPS = new Map<string, NumericOp>([
  ['=', (v, o) => v >= o],
  ['==', (v, o) => v === o],
  ['!=', (v, o) => v !== o],
  ['>=', (v, o) => v >= o],
  ['<=', (v, o) => v <= o],
]);

const STRING_OPS = new Map<string, StringOp>([
  ['s==', (v, o) => v === o],
  ['s!=', (v, o) => v !== o],
  ['s<', (v, o) => compareCodePoints(v, o) < 0],
  ['s<=', (v, o) => compareCodePoints(v, o) <= 0],
  ['s>', (v, o) => compareCodePoints(v, o) > 0],
  ['s>=', (v, o) => compareCodePoints(v, o) >= 0],
]);

const TRUE_WORDS = new Set(['1', 't', 'true', 'on', 'y', 'yes']);

const never: ExtraSpecMatcher = () => false;

/** Compiles a requirement string into a matcher; matchExtraSpec(v, r) === compileExtraSpec(r)(v). */
export function compileExtraSpec(requirement: string | null): ExtraSpecMatcher {
  if (requirement === null || requirement === undefined) {
    return (value) => value === null || value === undefined;
  }
  // Extra specs are text; should a non-string slip through untyped data, it can only be equal.
  if (typeof requirement !== 'string') return (value) => value === requirement;
  const words = splitWords(requirement);
  const op = words[0];
  const numeric = op === undefined ? undefined : NUMERIC_OPS.get(op);
  const string = op === undefined ? undefined : STRING_OPS.get(op);
  const isOperator = numeric !== undefined || string !== undefined || op === '<in>' || op === '<is>' || op === '<or>';
  if (!isOperator) return (value) => value === requirement;

  if (op === '<or>') {
    const alternatives = words.filter((_, i) => i % 2 === 1);
    if (alternatives.length === 0) return never;
    return (value) => typeof value === 'string' && alternatives.includes(value);
  }

  const operand = words[1];
  if (operand === undefined) return never;

  if (numeric) {
    const wanted = toFloat(operand);
    if (wanted === undefined) return never;
    return (value) => {
      const actual = toFloat(value);
      return actual !== undefined && numeric(actual, wanted);
    };
  }
  if (string) {
    const unequal = op === 's!=';
    return (value) => {
      if (value === null || value === undefined) return false;
      if (typeof value !== 'string') return unequal;
      return string(value, operand);
    };
  }
  if (op === '<is>') {
    const wanted = readsAsTrue(operand);
    return (value) => value !== null && value !== undefined && readsAsTrue(value) === wanted;
  }
  // '<in>'
  return (value) => contains(value, operand);
}

/** Cinder's extra_specs_ops.match. */
export function matchExtraSpec(value: unknown, requirement: string | null): boolean {
  return compileExtraSpec(requirement)(value);
}

/** Python's str.split(): words separated by runs of whitespace, none empty. */
function splitWords(text: string): string[] {
  const trimmed = text.trim();
  return trimmed === '' ? [] : trimmed.split(/\s+/);
}

const PY_FLOAT =
  /^[+-]?(?:(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?|inf|infinity|nan)$/i;

/** Python's float(x) for the values a capability can hold; undefined where Python would raise. */
function toFloat(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (!PY_FLOAT.test(text)) return undefined;
  const lower = text.toLowerCase().replace(/_/g, '');
  const unsigned = lower.replace(/^[+-]/, '');
  const sign = lower.startsWith('-') ? -1 : 1;
  if (unsigned === 'inf' || unsigned === 'infinity') return sign * Infinity;
  if (unsigned === 'nan') return NaN;
  return Number(lower);
}

/** oslo's bool_from_string (non-strict, default false). */
function readsAsTrue(value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return TRUE_WORDS.has(value.trim().toLowerCase());
  if (typeof value === 'number' || typeof value === 'bigint') return TRUE_WORDS.has(String(value));
  return false;
}

/** Python's `operand in value` for text, lists and objects (dict keys); other types do not match. */
function contains(value: unknown, operand: string): boolean {
  if (typeof value === 'string') return value.includes(operand);
  if (Array.isArray(value)) return value.some((element) => element === operand);
  if (value !== null && typeof value === 'object') {
    return Object.prototype.hasOwnProperty.call(value, operand);
  }
  return false;
}

/** Orders strings by Unicode code point (Python), not UTF-16 code unit (JS's `<`). */
function compareCodePoints(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(j)!;
    if (ca !== cb) return ca < cb ? -1 : 1;
    i += ca > 0xffff ? 2 : 1;
    j += cb > 0xffff ? 2 : 1;
  }
  const restA = a.length - i;
  const restB = b.length - j;
  return restA === restB ? 0 : restA < restB ? -1 : 1;
}
