/**
 * Picking across locality priority levels, as Envoy distributes load over priorities:
 *
 * - Each level's availability is `min(100, floor(140 * healthy / hosts))` (overprovisioning
 *   factor 1.4): a level keeps all its traffic while at least 5/7 (~71.4%) of its hosts are
 *   healthy, then spills the rest to the next level, gradually rather than all at once.
 * - Levels take load in priority order until 100% is assigned. When the levels together
 *   cannot absorb 100% (normalized total availability < 100), loads are scaled up in
 *   proportion, and a level whose healthy percentage is below the panic threshold picks among
 *   all its hosts. If every level is in panic, load follows host counts (Envoy's "total
 *   panic"). No healthy host anywhere with panic disabled -> null.
 * - The level is drawn with `rnd` (percent), or with the request hash for consistent hashing,
 *   so a key keeps its level as long as health does not change.
 *
 * Health is counted per pick, but only for levels until 100% is assigned: with the local
 * level healthy that is one pass over the local hosts.
 *
 * `avoid`: if the chosen level can only offer an avoided host, the other levels are tried in
 * priority order (like Envoy with `retryRemoteLocalities`; there is no way to ask for
 * "avoid, but stay local").
 */
import { BasePicker, MODE_ANY, MODE_HEALTHY, randomIndex, requestHash } from './base.js';
import { fmix32 } from './hash.js';
import type { LbHost, PickContext, Picker } from './types.js';

/** Envoy's default overprovisioning factor, in percent. */
export const OVERPROVISIONING_PERCENT = 140;

/** Picker over several priority levels, each with its own algorithm instance. */
export class LocalityPicker implements Picker {
  readonly hosts: readonly LbHost[];
  private readonly levels: readonly BasePicker[];
  private readonly threshold: number;
  private readonly hashBased: boolean;
  // Per-pick scratch (the picker is not re-entrant; nothing here survives a pick).
  private readonly healthy: Int32Array;
  private readonly avail: Int32Array;
  private readonly load: Int32Array;
  private readonly panic: Uint8Array;

  constructor(hosts: readonly LbHost[], levels: readonly BasePicker[], threshold: number, hashBased: boolean) {
    this.hosts = hosts;
    this.levels = levels;
    this.threshold = threshold;
    this.hashBased = hashBased;
    const n = levels.length;
    this.healthy = new Int32Array(n);
    this.avail = new Int32Array(n);
    this.load = new Int32Array(n);
    this.panic = new Uint8Array(n);
  }

  pick(ctx: PickContext): LbHost | null {
    if (!this.computeLoads()) return null;
    const levels = this.levels;
    const r = this.hashBased ? fmix32(requestHash(ctx)) % 100 : randomIndex(ctx.rnd, 100);
    let chosen = 0;
    for (let i = 0, acc = 0; i < levels.length; i++) {
      acc += this.load[i];
      if (r < acc) { chosen = i; break; }
    }
    const res = levels[chosen].select(ctx, this.panic[chosen] ? MODE_ANY : MODE_HEALTHY);
    const avoid = ctx.avoid;
    if (res === null || avoid === undefined || !avoid.has(res)) return res;
    for (let i = 0; i < levels.length; i++) {
      if (i === chosen) continue;
      const alt = levels[i].select(ctx, this.panic[i] ? MODE_ANY : MODE_HEALTHY);
      if (alt !== null && !avoid.has(alt)) return alt;
    }
    return res;
  }

  /** Fill `load` (percent per level, summing to 100) and `panic`; false = nothing pickable. */
  private computeLoads(): boolean {
    const { levels, healthy, avail, load, panic } = this;
    const n = levels.length;
    let total = 0;
    let seen = 0;
    while (seen < n && total < 100) {
      const pool = levels[seen].hosts;
      let h = 0;
      for (let k = 0; k < pool.length; k++) if (pool[k].healthy) h++;
      healthy[seen] = h;
      avail[seen] = Math.min(100, Math.floor((OVERPROVISIONING_PERCENT * h) / pool.length));
      total += avail[seen];
      seen++;
    }
    panic.fill(0);
    load.fill(0);
    if (total >= 100) {
      // The levels seen absorb everything: no panic anywhere, later levels get nothing.
      let remaining = 100;
      for (let i = 0; i < seen; i++) {
        load[i] = Math.min(remaining, avail[i]);
        remaining -= load[i];
      }
      return true;
    }
    if (total === 0 && this.threshold === 0) return false;
    let allPanic = true;
    for (let i = 0; i < n; i++) {
      panic[i] = healthy[i] * 100 < this.threshold * levels[i].hosts.length ? 1 : 0;
      if (!panic[i]) allPanic = false;
    }
    let remaining = 100;
    if (allPanic) {
      let hosts = 0;
      for (let i = 0; i < n; i++) hosts += levels[i].hosts.length;
      for (let i = 0; i < n; i++) {
        load[i] = Math.floor((100 * levels[i].hosts.length) / hosts);
        remaining -= load[i];
      }
      load[0] += remaining;
      return true;
    }
    let first = -1;
    for (let i = 0; i < n; i++) {
      load[i] = Math.min(remaining, Math.floor((avail[i] * 100) / total));
      remaining -= load[i];
      if (first < 0 && avail[i] > 0) first = i;
    }
    load[first] += remaining;
    return true;
  }
}
