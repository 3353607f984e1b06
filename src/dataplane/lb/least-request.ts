/**
 * LEAST_REQUEST (Istio's default), as Envoy does it:
 * - all weights equal: power of two choices (P2C): draw two distinct random hosts and take
 *   the one with fewer active requests (ties: the first drawn). O(1), and the busiest host
 *   never gets a new request until it is no longer strictly the busiest.
 * - unequal weights: EDF schedule where a host is re-added with
 *   `weight / (activeRequests + 1) ^ bias`, bias 1.0 (see `edf.ts`).
 */
import { BasePicker, MODE_NONE, randomIndex, type Mode } from './base.js';
import { EdfPicker } from './edf.js';
import type { LbHost, PickContext } from './types.js';

/** Redraws of a candidate pair before the exact O(n) draw (Istio's 5 host-selection attempts, less the first). */
const REDRAWS = 4;

/** Envoy's default `active_request_bias`. */
export const DEFAULT_ACTIVE_REQUEST_BIAS = 1.0;

/** Power-of-two-choices picker for equal weights. */
export class P2CPicker extends BasePicker {
  select(ctx: PickContext, mode: Mode): LbHost | null {
    const n = this.n;
    const pool = this.pool;
    const avoid = ctx.avoid;
    if (n === 1) {
      const h = pool[0];
      if (h.healthy && (avoid === undefined || !avoid.has(h))) return h;
      return this.slow(ctx, mode, h, h);
    }
    const rnd = ctx.rnd;
    const i = randomIndex(rnd, n);
    let j = randomIndex(rnd, n - 1);
    if (j >= i) j++; // two distinct hosts
    const a = pool[i];
    const b = pool[j];
    if (a.healthy && b.healthy && (avoid === undefined || (!avoid.has(a) && !avoid.has(b)))) {
      return b.activeRequests < a.activeRequests ? b : a;
    }
    return this.slow(ctx, mode, a, b);
  }

  /**
   * A candidate was unhealthy or avoided. If both are still usable under the resolved mode
   * (panic), compare them. Otherwise redraw: a few fresh pairs first (rejection sampling,
   * O(1) each), then an exact draw of two distinct usable hosts by scanning. Either way the
   * pair is uniform over usable pairs.
   */
  private slow(ctx: PickContext, mode: Mode, a: LbHost, b: LbHost): LbHost | null {
    const m = this.resolve(mode);
    if (m === MODE_NONE) return null;
    const avoid = this.usableAvoid(m, ctx.avoid);
    if (this.usable(a, m, avoid) && this.usable(b, m, avoid)) return b.activeRequests < a.activeRequests ? b : a;
    const pool = this.pool;
    const n = this.n;
    for (let t = 0; t < REDRAWS && n > 1; t++) {
      const i = randomIndex(ctx.rnd, n);
      let j = randomIndex(ctx.rnd, n - 1);
      if (j >= i) j++;
      const x = pool[i];
      const y = pool[j];
      if (this.usable(x, m, avoid) && this.usable(y, m, avoid)) return y.activeRequests < x.activeRequests ? y : x;
    }
    let count = 0;
    for (let k = 0; k < pool.length; k++) if (this.usable(pool[k], m, avoid)) count++;
    if (count === 0) return null;
    const x = randomIndex(ctx.rnd, count);
    let y = x;
    if (count > 1) {
      y = randomIndex(ctx.rnd, count - 1);
      if (y >= x) y++;
    }
    let hx: LbHost | null = null;
    let hy: LbHost | null = null;
    for (let k = 0, ord = 0; k < pool.length; k++) {
      const h = pool[k];
      if (!this.usable(h, m, avoid)) continue;
      if (ord === x) hx = h;
      if (ord === y) hy = h;
      ord++;
    }
    return hy!.activeRequests < hx!.activeRequests ? hy : hx;
  }
}

/** Weighted least request: an EDF schedule with load-scaled weights. */
export function weightedLeastRequest(
  hosts: readonly LbHost[], pool: readonly LbHost[], weights: Float64Array, threshold: number,
  bias: number = DEFAULT_ACTIVE_REQUEST_BIAS,
): EdfPicker {
  return new EdfPicker(hosts, pool, weights, threshold, bias);
}
