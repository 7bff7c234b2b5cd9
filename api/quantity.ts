// Kubernetes resource quantities ("500m", "1.5Gi", "2e3"): exact parsing, canonical formatting and comparison.
// A quantity is kept exactly as mantissa * 10^exp10 with a BigInt mantissa: binary suffixes (1024^n) are whole
// numbers, so every accepted string has an exact decimal value and comparisons never round.

export type QuantityFormat = 'BinarySI' | 'DecimalSI' | 'DecimalExponent';

export interface Quantity {
  /** value = mantissa * 10^exp10 */
  readonly mantissa: bigint;
  readonly exp10: number;
  /** the format the value was written in; canonical formatting keeps it, as upstream does */
  readonly format: QuantityFormat;
}

/** The exact upstream message (apimachinery resource.ErrFormatWrong), prefixed by the value for context. */
const FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

export class QuantityError extends Error {
  readonly value: string;
  /** the upstream message without the value, for use in field causes (cause.invalid adds the value) */
  readonly detail: string;
  constructor(value: string, detail: string) {
    super(`invalid quantity ${JSON.stringify(value)}: ${detail}`);
    this.name = 'QuantityError';
    this.value = value;
    this.detail = detail;
  }
}

const decimalSuffixes: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const binarySuffixes: Record<string, number> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };
const decimalSuffixOf = new Map(Object.entries(decimalSuffixes).map(([s, e]) => [e, s]));
const binarySuffixOf = new Map(Object.entries(binarySuffixes).map(([s, e]) => [e, s]));

const NUMBER_AND_SUFFIX = /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(.*)$/;
// Exponents beyond this are refused rather than turned into huge BigInts (upstream caps them similarly).
const MAX_EXPONENT = 1000;
const MAX_LENGTH = 256;

export function parseQuantity(input: string): Quantity {
  if (typeof input !== 'string') throw new QuantityError(String(input), FORMAT_WRONG);
  // no real quantity comes close; the cap keeps hostile input from costing a huge BigInt parse
  if (input.length > MAX_LENGTH) throw new QuantityError(input.slice(0, 32) + '...', `quantities may not be longer than ${MAX_LENGTH} characters`);
  const m = NUMBER_AND_SUFFIX.exec(input);
  if (!m) throw new QuantityError(input, FORMAT_WRONG);
  const [, num, suffix] = m;
  let negative = false;
  let digits = num;
  if (digits[0] === '+' || digits[0] === '-') { negative = digits[0] === '-'; digits = digits.slice(1); }
  const dot = digits.indexOf('.');
  const whole = dot < 0 ? digits : digits.slice(0, dot);
  const frac = dot < 0 ? '' : digits.slice(dot + 1);
  let mantissa = BigInt((whole + frac) || '0');
  let exp10 = -frac.length;
  let format: QuantityFormat;
  if (suffix in decimalSuffixes) {
    format = 'DecimalSI';
    exp10 += decimalSuffixes[suffix];
  } else if (suffix in binarySuffixes) {
    format = 'BinarySI';
    mantissa *= 1n << BigInt(binarySuffixes[suffix]);
  } else if (/^[eE][+-]?[0-9]+$/.test(suffix)) {
    format = 'DecimalExponent';
    const e = Number(suffix.slice(1));
    if (!Number.isSafeInteger(e) || Math.abs(e) > MAX_EXPONENT) throw new QuantityError(input, 'exponent out of range');
    exp10 += e;
  } else {
    throw new QuantityError(input, 'unable to parse quantity\'s suffix');
  }
  if (negative) mantissa = -mantissa;
  return normalize({ mantissa, exp10, format });
}

/** true when the string is a valid quantity */
export function isQuantity(input: string): boolean {
  try { parseQuantity(input); return true; } catch { return false; }
}

/** Removes trailing decimal zeros from the mantissa so equal values have one representation. */
function normalize(q: Quantity): Quantity {
  let { mantissa, exp10 } = q;
  if (mantissa === 0n) return { mantissa: 0n, exp10: 0, format: q.format };
  while (mantissa % 10n === 0n) { mantissa /= 10n; exp10 += 1; }
  return { mantissa, exp10, format: q.format };
}

function pow10(n: number): bigint { return 10n ** BigInt(n); }

/** a < b: -1, a == b: 0, a > b: 1. Accepts strings or parsed quantities. */
export function compareQuantities(a: Quantity | string, b: Quantity | string): -1 | 0 | 1 {
  const x = typeof a === 'string' ? parseQuantity(a) : a;
  const y = typeof b === 'string' ? parseQuantity(b) : b;
  const e = Math.min(x.exp10, y.exp10);
  const xm = x.mantissa * pow10(x.exp10 - e);
  const ym = y.mantissa * pow10(y.exp10 - e);
  return xm < ym ? -1 : xm > ym ? 1 : 0;
}

export function addQuantities(a: Quantity | string, b: Quantity | string): Quantity {
  const x = typeof a === 'string' ? parseQuantity(a) : a;
  const y = typeof b === 'string' ? parseQuantity(b) : b;
  const e = Math.min(x.exp10, y.exp10);
  return normalize({ mantissa: x.mantissa * pow10(x.exp10 - e) + y.mantissa * pow10(y.exp10 - e), exp10: e, format: x.format });
}

export function subtractQuantities(a: Quantity | string, b: Quantity | string): Quantity {
  const y = typeof b === 'string' ? parseQuantity(b) : b;
  return addQuantities(a, { ...y, mantissa: -y.mantissa });
}

/** value * 10^scale rounded up (towards +infinity), as upstream's ScaledValue does. */
function scaledCeil(q: Quantity, scale: number): bigint {
  const e = q.exp10 - scale;
  if (e >= 0) return q.mantissa * pow10(e);
  const d = pow10(-e);
  const quotient = q.mantissa / d; // truncates toward zero
  return q.mantissa % d !== 0n && q.mantissa > 0n ? quotient + 1n : quotient;
}

/** Milli-units rounded up: "100m" -> 100, "1" -> 1000, "0.0001" -> 1 (upstream MilliValue). */
export function toMilliValue(q: Quantity | string): number {
  return Number(scaledCeil(typeof q === 'string' ? parseQuantity(q) : q, -3));
}

/** Whole units rounded up: "1Ki" -> 1024, "1.5" -> 2 (upstream Value). Memory quantities give bytes. */
export function toValue(q: Quantity | string): number {
  return Number(scaledCeil(typeof q === 'string' ? parseQuantity(q) : q, 0));
}

/** Bytes for memory/storage quantities ("128Mi" -> 134217728); fractions of a byte round up. */
export const toBytes = toValue;

/** The canonical string upstream serializes, e.g. "1024Mi" -> "1Gi", "0.5" -> "500m", "1.5Gi" -> "1536Mi". */
export function formatQuantity(q: Quantity | string): string {
  const parsed = typeof q === 'string' ? parseQuantity(q) : q;
  // Upstream keeps at most nano precision, rounding up.
  let x = parsed.exp10 < -9 ? normalize({ mantissa: scaledCeil(parsed, -9), exp10: -9, format: parsed.format }) : parsed;
  if (x.mantissa === 0n) return '0';
  let format = x.format;
  if (format === 'BinarySI') {
    const small = compareQuantities(x, { mantissa: -1024n, exp10: 0, format }) > 0 &&
      compareQuantities(x, { mantissa: 1024n, exp10: 0, format }) < 0;
    if (small || x.exp10 < 0) format = 'DecimalSI';
  }
  if (format === 'BinarySI') {
    let whole = x.mantissa * pow10(x.exp10);
    let shift = 0;
    while (shift < 60 && whole % 1024n === 0n) { whole /= 1024n; shift += 10; }
    return `${whole}${binarySuffixOf.get(shift) ?? ''}`;
  }
  // Decimal: the exponent goes down to a multiple of 3, the mantissa grows to match.
  let mantissa = x.mantissa;
  let exp = x.exp10;
  const rem = ((exp % 3) + 3) % 3;
  if (rem !== 0) { mantissa *= pow10(rem); exp -= rem; }
  if (format === 'DecimalSI') {
    if (exp > 18) { mantissa *= pow10(exp - 18); exp = 18; }
    return `${mantissa}${decimalSuffixOf.get(exp)}`;
  }
  return exp === 0 ? `${mantissa}` : `${mantissa}e${exp}`;
}

/** Parses and re-formats, or throws QuantityError naming the value. */
export function canonicalQuantity(input: string): string {
  return formatQuantity(parseQuantity(input));
}
