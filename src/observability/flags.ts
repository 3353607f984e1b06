/**
 * Envoy response flags (`%RESPONSE_FLAGS%` in access logs, `response_flags` on Istio metrics).
 *
 * A request carries a set of flags as a bitmask. Bit `i` is the `i`-th flag in the order Envoy
 * *prints* them, which is its `ResponseFlag` enum order (LH=0x1, UH=0x2, ... DC=0x4000,
 * URX=0x8000, ...). That order differs from the order the flags are *declared and documented*
 * in (DC first, URX before NR): Envoy's formatter walks the enum-ordered table, so a request
 * with DC and UF is logged `UF,DC`. We keep Envoy's printed order so log lines and metric
 * labels are byte-identical to what existing dashboards and runbooks grep for.
 */

/** One response flag: its short code (logs, metrics) and long PascalCase name. */
export interface ResponseFlagInfo {
  readonly code: string;
  readonly long: string;
  /** The flag's bit in a mask (a power of two). */
  readonly bit: number;
}

// Printed order (= Envoy's enum bit order). DR is the newest flag (Envoy 1.31+).
const TABLE: ReadonlyArray<readonly [code: string, long: string]> = [
  ['LH', 'FailedLocalHealthCheck'],
  ['UH', 'NoHealthyUpstream'],
  ['UT', 'UpstreamRequestTimeout'],
  ['LR', 'LocalReset'],
  ['UR', 'UpstreamRemoteReset'],
  ['UF', 'UpstreamConnectionFailure'],
  ['UC', 'UpstreamConnectionTermination'],
  ['UO', 'UpstreamOverflow'],
  ['NR', 'NoRouteFound'],
  ['DI', 'DelayInjected'],
  ['FI', 'FaultInjected'],
  ['RL', 'RateLimited'],
  ['UAEX', 'UnauthorizedExternalService'],
  ['RLSE', 'RateLimitServiceError'],
  ['DC', 'DownstreamConnectionTermination'],
  ['URX', 'UpstreamRetryLimitExceeded'],
  ['SI', 'StreamIdleTimeout'],
  ['IH', 'InvalidEnvoyRequestHeaders'],
  ['DPE', 'DownstreamProtocolError'],
  ['UMSDR', 'UpstreamMaxStreamDurationReached'],
  ['RFCF', 'ResponseFromCacheFilter'],
  ['NFCF', 'NoFilterConfigFound'],
  ['DT', 'DurationTimeout'],
  ['UPE', 'UpstreamProtocolError'],
  ['NC', 'NoClusterFound'],
  ['OM', 'OverloadManagerTerminated'],
  ['DF', 'DnsResolutionFailed'],
  ['DO', 'DropOverload'],
  ['DR', 'DownstreamRemoteReset'],
];

/** Every flag in Envoy's printed order; `RESPONSE_FLAGS[i].bit === 1 << i`. */
export const RESPONSE_FLAGS: readonly ResponseFlagInfo[] = Object.freeze(
  TABLE.map(([code, long], i) => Object.freeze({ code, long, bit: 2 ** i })),
);

/** Short codes in the order Envoy's docs and `utility.h` declare them (for help text). */
export const DOCUMENTED_FLAG_ORDER: readonly string[] = Object.freeze([
  'DC', 'LH', 'UH', 'UT', 'LR', 'UR', 'UF', 'UC', 'UO', 'URX', 'NR', 'DI', 'FI', 'RL', 'UAEX',
  'RLSE', 'SI', 'IH', 'DPE', 'UMSDR', 'RFCF', 'NFCF', 'DT', 'UPE', 'NC', 'OM', 'DF', 'DO', 'DR',
]);

/** Flag bits by short code: `Flag.UF | Flag.URX`. */
export const Flag = Object.freeze({
  LH: 1 << 0, UH: 1 << 1, UT: 1 << 2, LR: 1 << 3, UR: 1 << 4, UF: 1 << 5, UC: 1 << 6, UO: 1 << 7,
  NR: 1 << 8, DI: 1 << 9, FI: 1 << 10, RL: 1 << 11, UAEX: 1 << 12, RLSE: 1 << 13, DC: 1 << 14,
  URX: 1 << 15, SI: 1 << 16, IH: 1 << 17, DPE: 1 << 18, UMSDR: 1 << 19, RFCF: 1 << 20,
  NFCF: 1 << 21, DT: 1 << 22, UPE: 1 << 23, NC: 1 << 24, OM: 1 << 25, DF: 1 << 26, DO: 1 << 27,
  DR: 1 << 28,
} as const);

/** A short flag code. */
export type FlagCode = keyof typeof Flag;

/** Every defined bit; anything outside it is ignored by the formatters. */
export const ALL_FLAGS_MASK = 2 ** TABLE.length - 1;

const SHORT = RESPONSE_FLAGS.map((f) => f.code);
const LONG = RESPONSE_FLAGS.map((f) => f.long);

function join(mask: number, names: readonly string[]): string {
  const m = mask & ALL_FLAGS_MASK;
  if (m === 0) return '-';
  // One flag is the common case (NR, UH, UF...): no loop, no concatenation.
  if ((m & (m - 1)) === 0) return names[31 - Math.clz32(m)];
  let out = '';
  for (let i = 0; i < names.length; i++) {
    if (m & (1 << i)) out = out === '' ? names[i] : `${out},${names[i]}`;
  }
  return out;
}

/** `%RESPONSE_FLAGS%`: `-` when none, else short codes joined by `,` in Envoy's order. */
export function formatFlags(mask: number): string {
  return join(mask, SHORT);
}

/** `%RESPONSE_FLAGS_LONG%`: `-` when none, else long names joined by `,` in Envoy's order. */
export function formatFlagsLong(mask: number): string {
  return join(mask, LONG);
}

/**
 * Parses `UF,URX` (short or long names, any order, `-` or empty for none) into a mask.
 * Returns null when a name is unknown.
 */
export function parseFlags(s: string): number | null {
  const t = s.trim();
  if (t === '' || t === '-') return 0;
  let mask = 0;
  for (const part of t.split(',')) {
    const name = part.trim();
    const i = SHORT.indexOf(name);
    const j = i >= 0 ? i : LONG.indexOf(name);
    if (j < 0) return null;
    mask |= 1 << j;
  }
  return mask;
}
