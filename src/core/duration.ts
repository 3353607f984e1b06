/**
 * Durations as Istio reads them: Go `time.ParseDuration` strings (`1h30m`, `1.5s`,
 * `300ms`), validated by `agent.ValidateDuration` (≥ 1ms, whole milliseconds).
 *
 * Parsing is done in integer nanoseconds (bigint) so precision checks such as "is this a
 * whole number of milliseconds" are exact rather than subject to float rounding.
 */

const NS_PER_UNIT: Readonly<Record<string, bigint>> = Object.freeze({
  ns: 1n,
  us: 1_000n,
  'µs': 1_000n, // U+00B5 MICRO SIGN
  'μs': 1_000n, // U+03BC GREEK SMALL LETTER MU
  ms: 1_000_000n,
  s: 1_000_000_000n,
  m: 60_000_000_000n,
  h: 3_600_000_000_000n,
});

/** Go durations are int64 nanoseconds; anything beyond is an error there too. */
const INT64_MAX = 9223372036854775807n;
const NS_PER_MS = 1_000_000n;
const NS_PER_S = 1_000_000_000n;

function isDigit(c: string): boolean {
  return c >= '0' && c <= '9';
}

/**
 * Go `time.ParseDuration` grammar `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, plus the special
 * case `"0"`. Returns integer nanoseconds (fractions below 1ns are truncated, as in Go) or
 * null when invalid.
 */
function parseNanos(s: string): bigint | null {
  let i = 0;
  let neg = false;
  if (s[0] === '-' || s[0] === '+') {
    neg = s[0] === '-';
    i = 1;
  }
  const rest = s.slice(i);
  if (rest === '0') return 0n;
  if (rest === '') return null;
  let total = 0n;
  while (i < s.length) {
    // Integer part.
    const intStart = i;
    while (i < s.length && isDigit(s[i])) i++;
    const intDigits = s.slice(intStart, i);
    // Fraction part.
    let fracDigits = '';
    if (s[i] === '.') {
      i++;
      const fracStart = i;
      while (i < s.length && isDigit(s[i])) i++;
      fracDigits = s.slice(fracStart, i);
    }
    // Go requires at least one digit somewhere in the number (`.s` is invalid).
    if (intDigits === '' && fracDigits === '') return null;
    // Unit: everything up to the next digit or dot.
    const unitStart = i;
    while (i < s.length && s[i] !== '.' && !isDigit(s[i])) i++;
    const unit = NS_PER_UNIT[s.slice(unitStart, i)];
    if (unit === undefined) return null; // missing or unknown unit
    let v = BigInt(intDigits === '' ? '0' : intDigits) * unit;
    if (fracDigits !== '') v += (BigInt(fracDigits) * unit) / 10n ** BigInt(fracDigits.length);
    total += v;
    if (total > INT64_MAX + (neg ? 1n : 0n)) return null;
  }
  return neg ? -total : total;
}

/**
 * Parses a Go/Kubernetes duration string to milliseconds (possibly fractional, e.g.
 * `1500us` → 1.5). Accepts sequences like `1h30m`, `1.5s`, `300ms`, `10us`, `10µs`,
 * `5ns`, `2m`, an optional sign, and the unit-less `0` (Go accepts no other bare
 * number). Returns null for anything else, including non-strings and surrounding spaces.
 */
export function parseDuration(s: unknown): number | null {
  if (typeof s !== 'string') return null;
  const ns = parseNanos(s);
  return ns === null ? null : nanosToMs(ns);
}

/** Exact where it matters: whole milliseconds convert without float error. */
function nanosToMs(ns: bigint): number {
  const whole = ns / NS_PER_MS;
  const rem = ns % NS_PER_MS;
  return Number(whole) + Number(rem) / 1e6;
}

/**
 * Validates a duration the way Istio's `agent.ValidateDuration` does; null when valid.
 * - not parseable → `invalid duration "x"`
 * - below 1ms (including 0 and negatives) → `duration must be greater than 1ms`,
 *   except exactly 0 when `allowZero` (e.g. `tcp.idleTimeout: 0s` disables the timeout)
 * - not a whole number of ms → `only durations to ms precision are supported`
 * - with `secondsPrecision` (CORS `maxAge`), not whole seconds →
 *   `duration is accurate only to seconds precision`
 * Exactly 1ms is valid despite the wording (Istio rejects `< 1ms`).
 */
export function validateDuration(
  s: string,
  opts: { allowZero?: boolean; secondsPrecision?: boolean } = {},
): string | null {
  const ns = typeof s === 'string' ? parseNanos(s) : null;
  if (ns === null) return `invalid duration ${JSON.stringify(s)}`;
  if (ns === 0n && opts.allowZero) return null;
  if (ns < NS_PER_MS) return 'duration must be greater than 1ms';
  if (ns % NS_PER_MS !== 0n) return 'only durations to ms precision are supported';
  if (opts.secondsPrecision && ns % NS_PER_S !== 0n) return 'duration is accurate only to seconds precision';
  return null;
}

/** Trims a decimal to at most `digits` places without float noise (`1.50` → `1.5`). */
function trimDecimal(n: number, digits: number): string {
  const fixed = n.toFixed(digits);
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/**
 * Compact human form of a millisecond count for explain output, parseable again by
 * {@link parseDuration}: 1500 → `1.5s`, 100 → `100ms`, 3600000 → `1h`, 5400000 → `1h30m`,
 * 90500 → `1m30.5s`, 0.25 → `250us`, 0 → `0s`. Zero components are omitted; sub-ms values
 * use `us`/`ns` (ASCII, unlike Go's `µs`, so terminals and logs stay plain).
 */
export function formatDurationMs(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDurationMs(-ms)}`;
  // Work in whole nanoseconds so 0.1 + 0.2 style noise never shows.
  const ns = Math.round(ms * 1e6);
  if (ns === 0) return '0s';
  if (ns < 1_000) return `${ns}ns`;
  if (ns < 1_000_000) return `${trimDecimal(ns / 1_000, 3)}us`;
  if (ns < 1_000_000_000) return `${trimDecimal(ns / 1_000_000, 6)}ms`;
  const totalMs = ns / 1e6;
  const h = Math.floor(totalMs / 3_600_000);
  const m = Math.floor((totalMs - h * 3_600_000) / 60_000);
  const sec = (totalMs - h * 3_600_000 - m * 60_000) / 1000;
  let out = '';
  if (h > 0) out += `${h}h`;
  if (m > 0) out += `${m}m`;
  const secText = trimDecimal(sec, 9);
  if (secText !== '0') out += `${secText}s`;
  return out;
}
