/**
 * What every algorithm shares: health modes, panic routing and the `avoid` fallback.
 *
 * The hot path never counts healthy hosts. An algorithm draws its candidate over the whole
 * pool first; a candidate that is healthy and not avoided is a correct answer in every mode
 * (a healthy host is eligible both normally and in panic), and accepting it is exactly
 * rejection sampling over the eligible set. Only when the candidate is unhealthy or avoided
 * does the slow path run: it resolves the mode (one O(n) count, the panic decision) and
 * picks again among the eligible hosts with the algorithm's own fallback.
 */
import type { LbHost, PickContext, Picker } from './types.js';

/** Decide the mode from the healthy percentage (the picker's own panic computation). */
export const MODE_AUTO = 0;
/** Only healthy hosts are eligible. */
export const MODE_HEALTHY = 1;
/** Every host is eligible (panic routing). */
export const MODE_ANY = 2;
/** Nothing is eligible (no healthy host, panic disabled). */
export const MODE_NONE = 3;
/** Which hosts a pick may return. */
export type Mode = typeof MODE_AUTO | typeof MODE_HEALTHY | typeof MODE_ANY | typeof MODE_NONE;

/** Envoy's default `healthy_panic_threshold`. */
export const DEFAULT_PANIC_THRESHOLD = 50;

/** Clamp a configured panic threshold to [0, 100]; missing or not a number -> Envoy's 50. */
export function normalizeThreshold(p: number | undefined): number {
  if (p === undefined || !Number.isFinite(p)) return DEFAULT_PANIC_THRESHOLD;
  return p < 0 ? 0 : p > 100 ? 100 : p;
}

/** A host's weight as the algorithms use it: positive and finite, else 1. */
export function hostWeight(h: LbHost): number {
  const w = h.weight;
  return Number.isFinite(w) && w > 0 ? w : 1;
}

/** True when every weight is the same (the algorithms then take their unweighted form). */
export function allEqual(weights: ArrayLike<number>): boolean {
  for (let i = 1; i < weights.length; i++) if (weights[i] !== weights[0]) return false;
  return true;
}

/**
 * Panic decision over a host list, Envoy-style (host counts, not weights): panic when
 * `100 * healthy / total < threshold`. All healthy -> HEALTHY; none healthy -> panic, or
 * NONE when the threshold is 0.
 */
export function modeFor(pool: readonly LbHost[], threshold: number): Mode {
  let healthy = 0;
  for (let i = 0; i < pool.length; i++) if (pool[i].healthy) healthy++;
  if (healthy === pool.length) return MODE_HEALTHY;
  if (healthy * 100 < threshold * pool.length) return MODE_ANY;
  return healthy === 0 ? MODE_NONE : MODE_HEALTHY;
}

/**
 * Base of every algorithm. `pool` is what the algorithm chooses from; `hosts` is what the
 * picker exposes (they differ only when locality `distribute` drops some localities).
 */
export abstract class BasePicker implements Picker {
  readonly hosts: readonly LbHost[];
  protected readonly pool: readonly LbHost[];
  protected readonly n: number;
  protected readonly threshold: number;

  constructor(hosts: readonly LbHost[], pool: readonly LbHost[], threshold: number) {
    this.hosts = hosts;
    this.pool = pool;
    this.n = pool.length;
    this.threshold = threshold;
  }

  pick(ctx: PickContext): LbHost | null {
    return this.n === 0 ? null : this.select(ctx, MODE_AUTO);
  }

  /**
   * Pick under `mode`. MODE_AUTO decides panic from this pool's health; the locality layer
   * passes MODE_HEALTHY / MODE_ANY after deciding panic per priority level itself.
   */
  abstract select(ctx: PickContext, mode: Mode): LbHost | null;

  /** Turn MODE_AUTO into a concrete mode (O(n); slow path only). */
  protected resolve(mode: Mode): Mode {
    return mode === MODE_AUTO ? modeFor(this.pool, this.threshold) : mode;
  }

  /**
   * The avoid set to honour: `avoid` itself when some eligible host lies outside it,
   * otherwise undefined (every eligible host was tried before: the normal pick stands).
   */
  protected usableAvoid(mode: Mode, avoid: ReadonlySet<LbHost> | undefined): ReadonlySet<LbHost> | undefined {
    if (avoid === undefined || avoid.size === 0) return undefined;
    const pool = this.pool;
    for (let i = 0; i < pool.length; i++) if (this.usable(pool[i], mode, avoid)) return avoid;
    return undefined;
  }

  /** Whether `h` may be picked under a resolved mode and is not avoided. */
  protected usable(h: LbHost, mode: Mode, avoid: ReadonlySet<LbHost> | undefined): boolean {
    return (mode === MODE_ANY || (mode === MODE_HEALTHY && h.healthy)) && (avoid === undefined || !avoid.has(h));
  }

  /** Index of the first host at or after `start` (cyclically) that is usable, or -1. */
  protected scanFrom(start: number, mode: Mode, avoid: ReadonlySet<LbHost> | undefined): number {
    const n = this.n;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (this.usable(this.pool[i], mode, avoid)) return i;
    }
    return -1;
  }
}

/** `floor(rnd() * n)`, kept inside [0, n) even if a generator returns 1. */
export function randomIndex(rnd: () => number, n: number): number {
  const i = Math.floor(rnd() * n);
  return i < n ? i : n - 1;
}

/**
 * The request's 32-bit hash for consistent hashing: `ctx.hash` (low 32 bits), or a random
 * point when the caller has none (Envoy picks randomly when the hash policy yields nothing).
 */
export function requestHash(ctx: PickContext): number {
  const h = ctx.hash;
  return h === undefined ? Math.floor(ctx.rnd() * 4294967296) >>> 0 : h >>> 0;
}
