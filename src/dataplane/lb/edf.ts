/**
 * Earliest-deadline-first scheduling, the weighted schedule Envoy uses for weighted round
 * robin and weighted least request: every host has a deadline; the pick is the earliest,
 * which then moves `1 / weight` further on. Over time each host is picked in proportion to
 * its weight, evenly interleaved. Weights may change between picks (least request scales
 * them by the host's load each time it is re-added).
 */
import { BasePicker, MODE_NONE, type Mode } from './base.js';
import type { LbHost, PickContext } from './types.js';

/** A binary min-heap of host indices ordered by (deadline, insertion order). */
export class EdfScheduler {
  private readonly heap: Int32Array;
  private readonly deadline: Float64Array;
  private readonly order: Float64Array;
  private now = 0;
  private seq = 0;

  /** Starts every host half a period in (`0.5 / w`) so the first round is interleaved too. */
  constructor(weights: ArrayLike<number>) {
    const n = weights.length;
    this.heap = new Int32Array(n);
    this.deadline = new Float64Array(n);
    this.order = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      this.heap[i] = i;
      this.deadline[i] = 0.5 / weights[i];
      this.order[i] = this.seq++;
    }
    this.heapify();
  }

  /** The host index due next. */
  top(): number {
    return this.heap[0];
  }

  /** Consume the top host: time moves to its deadline and it is re-added with weight `w`. */
  advanceTop(w: number): void {
    const i = this.heap[0];
    this.now = this.deadline[i];
    this.deadline[i] = this.now + 1 / w;
    this.order[i] = this.seq++;
    this.siftDown(0);
  }

  /**
   * Slow path, when the due host(s) cannot be used: consume host `j` (the earliest usable
   * one, found by the caller) with weight `w`, and move every host whose deadline has passed
   * to after the new time, with its static weight (those hosts lose these turns instead of
   * clogging the top of the heap). O(n).
   */
  consumeAt(j: number, w: number, staticW: ArrayLike<number>): void {
    const now = Math.max(this.now, this.deadline[j]);
    this.now = now;
    for (let i = 0; i < this.heap.length; i++) {
      if (i !== j && this.deadline[i] < now) {
        this.deadline[i] = now + 1 / staticW[i];
        this.order[i] = this.seq++;
      }
    }
    this.deadline[j] = now + 1 / w;
    this.order[j] = this.seq++;
    this.heapify();
  }

  /** Whether host `a` is due before host `b`. */
  before(a: number, b: number): boolean {
    const da = this.deadline[a];
    const db = this.deadline[b];
    return da < db || (da === db && this.order[a] < this.order[b]);
  }

  private heapify(): void {
    for (let i = (this.heap.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  private siftDown(pos: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[pos];
    for (;;) {
      const l = 2 * pos + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(heap[r], heap[l]) ? r : l;
      if (!this.before(heap[c], item)) break;
      heap[pos] = heap[c];
      pos = c;
    }
    heap[pos] = item;
  }
}

/**
 * A picker driven by an EDF schedule. Static (`activeRequestBias === null`): weighted round
 * robin. Dynamic: Envoy's weighted least request, where a host is re-added with
 * `weight / (activeRequests + 1) ^ bias`, so busy hosts come round less often.
 */
export class EdfPicker extends BasePicker {
  private readonly weights: Float64Array;
  private readonly edf: EdfScheduler;
  private readonly bias: number | null;
  private warmed = false;

  constructor(
    hosts: readonly LbHost[], pool: readonly LbHost[], weights: Float64Array, threshold: number,
    activeRequestBias: number | null,
  ) {
    super(hosts, pool, threshold);
    this.weights = weights;
    this.edf = new EdfScheduler(weights);
    this.bias = activeRequestBias;
  }

  /** The weight host `i` is re-added with. */
  private effective(i: number): number {
    const w = this.weights[i];
    const bias = this.bias;
    if (bias === null || bias === 0) return w;
    const a = this.pool[i].activeRequests + 1;
    return bias === 1 ? w / a : w / Math.pow(a, bias);
  }

  select(ctx: PickContext, mode: Mode): LbHost | null {
    if (!this.warmed) this.warm(ctx.rnd);
    const edf = this.edf;
    const i = edf.top();
    const h = this.pool[i];
    const avoid = ctx.avoid;
    if (h.healthy && (avoid === undefined || !avoid.has(h))) {
      edf.advanceTop(this.effective(i));
      return h;
    }
    return this.slow(ctx, mode);
  }

  /**
   * Like Envoy, start each instance at a random point of its schedule (the first pick's
   * `rnd`), so proxies built from the same config do not all hit the same host first.
   */
  private warm(rnd: () => number): void {
    this.warmed = true;
    if (this.bias !== null) return; // least request reacts to load anyway
    const skips = Math.floor(rnd() * this.n);
    for (let k = 0; k < skips; k++) this.edf.advanceTop(this.weights[this.edf.top()]);
  }

  private slow(ctx: PickContext, mode: Mode): LbHost | null {
    const m = this.resolve(mode);
    if (m === MODE_NONE) return null;
    const avoid = this.usableAvoid(m, ctx.avoid);
    const pool = this.pool;
    let best = -1;
    for (let i = 0; i < pool.length; i++) {
      if (this.usable(pool[i], m, avoid) && (best < 0 || this.edf.before(i, best))) best = i;
    }
    if (best < 0) return null;
    this.edf.consumeAt(best, this.effective(best), this.weights);
    return pool[best];
  }
}
