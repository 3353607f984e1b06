/**
 * ROUND_ROBIN: weighted round robin.
 *
 * Equal weights rotate strictly (N*k picks give every host exactly k). Integer weights whose
 * reduced sum (the period) is at most {@link MAX_RR_PERIOD} are expanded once into a
 * precomputed, evenly interleaved order, so a pick is an array read. Anything else
 * (fractional weights, huge periods) falls back to the EDF schedule, which interleaves the
 * same way without the table.
 *
 * The interleaving puts host i's k-th turn (k = 1..w_i) at `(k - 1/2) / w_i` of the period,
 * the same order an EDF schedule started half a step in produces; equal weights reduce to
 * plain index order. Like Envoy, the rotation starts at a random position (taken from the
 * first pick's `rnd`, since there is no randomness at construction).
 */
import { BasePicker, MODE_NONE, allEqual, randomIndex, type Mode } from './base.js';
import { EdfPicker } from './edf.js';
import type { LbHost, PickContext } from './types.js';

/** Largest period expanded into a table (64 Ki entries, 256 KiB). */
export const MAX_RR_PERIOD = 65536;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * The order of one weighted round-robin period as host indices, or null when the weights
 * are not integers or the period (sum of weights divided by their gcd) exceeds `maxPeriod`.
 */
export function buildRoundRobinOrder(weights: ArrayLike<number>, maxPeriod = MAX_RR_PERIOD): Uint32Array | null {
  let g = 0;
  for (let i = 0; i < weights.length; i++) {
    if (!Number.isSafeInteger(weights[i])) return null;
    g = gcd(weights[i], g);
  }
  let period = 0;
  for (let i = 0; i < weights.length; i++) period += weights[i] / g;
  if (period > maxPeriod || period === 0) return null;
  const host = new Uint32Array(period);
  const key = new Float64Array(period);
  for (let i = 0, p = 0; i < weights.length; i++) {
    const w = weights[i] / g;
    // Distinct fractions with denominators below 2^17 differ by far more than a float ulp,
    // so comparing the float keys orders them exactly.
    for (let k = 1; k <= w; k++, p++) {
      host[p] = i;
      key[p] = (2 * k - 1) / (2 * w);
    }
  }
  const idx = Array.from({ length: period }, (_, p) => p);
  idx.sort((a, b) => key[a] - key[b] || host[a] - host[b]);
  const order = new Uint32Array(period);
  for (let p = 0; p < period; p++) order[p] = host[idx[p]];
  return order;
}

/** Round robin over a precomputed order (or plain index order for equal weights). */
export class RoundRobinPicker extends BasePicker {
  /** Host index per position; null means position === host index (equal weights). */
  private readonly order: Uint32Array | null;
  private readonly period: number;
  private cursor = -1;

  constructor(hosts: readonly LbHost[], pool: readonly LbHost[], order: Uint32Array | null, threshold: number) {
    super(hosts, pool, threshold);
    this.order = order;
    this.period = order === null ? pool.length : order.length;
  }

  select(ctx: PickContext, mode: Mode): LbHost | null {
    const period = this.period;
    const pos = this.cursor >= 0 ? this.cursor : randomIndex(ctx.rnd, period);
    const h = this.pool[this.order === null ? pos : this.order[pos]];
    const avoid = ctx.avoid;
    if (h.healthy && (avoid === undefined || !avoid.has(h))) {
      this.cursor = pos + 1 === period ? 0 : pos + 1;
      return h;
    }
    return this.slow(ctx, mode, pos);
  }

  /** Walk on from `pos` to the next usable position (skipped positions are consumed). */
  private slow(ctx: PickContext, mode: Mode, pos: number): LbHost | null {
    this.cursor = pos;
    const m = this.resolve(mode);
    if (m === MODE_NONE) return null;
    const avoid = this.usableAvoid(m, ctx.avoid);
    const period = this.period;
    for (let k = 0; k < period; k++) {
      const p = (pos + k) % period;
      const h = this.pool[this.order === null ? p : this.order[p]];
      if (this.usable(h, m, avoid)) {
        this.cursor = p + 1 === period ? 0 : p + 1;
        return h;
      }
    }
    return null;
  }
}

/** The right round-robin picker for the weights. */
export function roundRobin(
  hosts: readonly LbHost[], pool: readonly LbHost[], weights: Float64Array, threshold: number,
): BasePicker {
  if (allEqual(weights)) return new RoundRobinPicker(hosts, pool, null, threshold);
  const order = buildRoundRobinOrder(weights);
  if (order !== null) return new RoundRobinPicker(hosts, pool, order, threshold);
  return new EdfPicker(hosts, pool, weights, threshold, null);
}
