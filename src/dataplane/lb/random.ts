/**
 * RANDOM: weighted random choice. Equal weights draw a uniform index; unequal weights use
 * Vose's alias table, built once, so a pick is O(1) with one random number whatever the
 * weights.
 */
import { BasePicker, MODE_NONE, allEqual, randomIndex, type Mode } from './base.js';
import type { LbHost, PickContext } from './types.js';

/** Redraws before the exact O(n) draw (Istio's 5 host-selection attempts, less the first). */
const REDRAWS = 4;

/** Vose's alias method: `prob[i]` keeps column i, otherwise it belongs to `alias[i]`. */
export interface AliasTable {
  prob: Float64Array;
  alias: Int32Array;
}

/** Build an alias table for the given positive weights. */
export function buildAlias(weights: ArrayLike<number>): AliasTable {
  const n = weights.length;
  const prob = new Float64Array(n);
  const alias = new Int32Array(n);
  let total = 0;
  for (let i = 0; i < n; i++) total += weights[i];
  const scaled = new Float64Array(n);
  const small: number[] = [];
  const large: number[] = [];
  for (let i = 0; i < n; i++) {
    scaled[i] = (weights[i] * n) / total;
    (scaled[i] < 1 ? small : large).push(i);
  }
  while (small.length > 0 && large.length > 0) {
    const s = small.pop()!;
    const l = large.pop()!;
    prob[s] = scaled[s];
    alias[s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    (scaled[l] < 1 ? small : large).push(l);
  }
  // Leftovers are 1 up to rounding error.
  for (const i of large) { prob[i] = 1; alias[i] = i; }
  for (const i of small) { prob[i] = 1; alias[i] = i; }
  return { prob, alias };
}

/** Weighted random picker. */
export class RandomPicker extends BasePicker {
  private readonly weights: Float64Array;
  private readonly table: AliasTable | null;

  constructor(hosts: readonly LbHost[], pool: readonly LbHost[], weights: Float64Array, threshold: number) {
    super(hosts, pool, threshold);
    this.weights = weights;
    this.table = allEqual(weights) ? null : buildAlias(weights);
  }

  /** One weighted draw over the whole pool. */
  private draw(rnd: () => number): number {
    const n = this.n;
    const t = this.table;
    if (t === null) return randomIndex(rnd, n);
    // The integer part of u picks the column, its fraction tosses the column's coin.
    const u = rnd() * n;
    let i = Math.floor(u);
    if (i >= n) i = n - 1;
    return u - i < t.prob[i] ? i : t.alias[i];
  }

  select(ctx: PickContext, mode: Mode): LbHost | null {
    const h = this.pool[this.draw(ctx.rnd)];
    const avoid = ctx.avoid;
    if (h.healthy && (avoid === undefined || !avoid.has(h))) return h;
    return this.slow(ctx, mode, h);
  }

  /** The draw hit an unhealthy or avoided host: weighted draw over the usable hosts. */
  private slow(ctx: PickContext, mode: Mode, first: LbHost): LbHost | null {
    const m = this.resolve(mode);
    if (m === MODE_NONE) return null;
    const avoid = this.usableAvoid(m, ctx.avoid);
    if (this.usable(first, m, avoid)) return first;
    const pool = this.pool;
    // A few more draws first (rejection sampling: exact, O(1) each), then an exact scan.
    for (let t = 0; t < REDRAWS; t++) {
      const h = pool[this.draw(ctx.rnd)];
      if (this.usable(h, m, avoid)) return h;
    }
    let total = 0;
    for (let i = 0; i < pool.length; i++) {
      if (this.usable(pool[i], m, avoid)) total += this.weights[i];
    }
    if (total === 0) return null;
    let r = ctx.rnd() * total;
    let last: LbHost | null = null;
    for (let i = 0; i < pool.length; i++) {
      const h = pool[i];
      if (!this.usable(h, m, avoid)) continue;
      last = h;
      r -= this.weights[i];
      if (r < 0) return h;
    }
    return last;
  }
}
