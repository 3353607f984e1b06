/**
 * CONSISTENT_HASH with a ketama-style hash ring (Envoy RING_HASH).
 *
 * Each host puts points on a 32-bit ring, hashing `"<key>_<n>"` with MurmurHash3; a request
 * maps to the first point at or after its hash (wrapping). Points per host are proportional
 * to its weight.
 *
 * Ring size (a deliberate difference from Envoy's formula, same guarantees): Envoy scales
 * points so the lightest host gets `ceil(minimum_ring_size * its share)` points, which makes
 * every host's point count depend on every other host and moves extra keys whenever the host
 * set changes. Here each unit of weight gets `pointsPerWeight` points, the smallest power of
 * two with `pointsPerWeight * totalWeight >= minimumRingSize`. The ring is therefore at least
 * `minimumRingSize` (and below twice that), and removing or adding a host usually leaves
 * every other host's points untouched: only the keys of the changed host move.
 *
 * Unhealthy and avoided hosts are skipped by walking clockwise to the next usable point,
 * which is exactly the answer a ring built from the usable hosts alone would give; keys of
 * healthy hosts never move when another host is ejected.
 */
import { BasePicker, MODE_NONE, requestHash, type Mode } from './base.js';
import { murmur3 } from './hash.js';
import type { LbHost, PickContext } from './types.js';

/** Envoy's / Istio's default `minimumRingSize`. */
export const DEFAULT_MIN_RING_SIZE = 1024;
/** Envoy's cap on ring entries (8M). */
export const MAX_RING_SIZE = 8 * 1024 * 1024;

/**
 * A built ring: sorted point hashes and, per point, the index of its host. `index[b]` is the
 * first point whose hash has top bits >= b (`hash >>> shift`), so a lookup binary-searches
 * only one bucket of about one point instead of the whole ring.
 */
export interface Ring {
  hashes: Uint32Array;
  hosts: Uint32Array;
  index: Uint32Array;
  shift: number;
}

/** Points each host gets on the ring (see the module comment). */
export function ringPointCounts(weights: ArrayLike<number>, minimumRingSize: number): Uint32Array {
  let total = 0;
  for (let i = 0; i < weights.length; i++) total += weights[i];
  const min = Math.min(Math.max(Math.ceil(Number.isFinite(minimumRingSize) ? minimumRingSize : DEFAULT_MIN_RING_SIZE), 1), MAX_RING_SIZE);
  const counts = new Uint32Array(weights.length);
  if (!(total > 0)) return counts;
  let scale = 1;
  while (scale * total < min) scale *= 2;
  if (scale * total > MAX_RING_SIZE) scale = MAX_RING_SIZE / total;
  for (let i = 0; i < weights.length; i++) counts[i] = Math.max(1, Math.round(scale * weights[i]));
  return counts;
}

/** Build the ring for `pool` (O(P log P) for P points; construction only). */
export function buildRing(pool: readonly LbHost[], weights: ArrayLike<number>, minimumRingSize: number): Ring {
  const counts = ringPointCounts(weights, minimumRingSize);
  let size = 0;
  for (let i = 0; i < counts.length; i++) size += counts[i];
  const hashes = new Uint32Array(size);
  const hosts = new Uint32Array(size);
  // Sort (hash, host) pairs packed in one float: hash * 2^21 + host stays exact below 2^53.
  if (pool.length < 1 << 21) {
    const packed = new Float64Array(size);
    for (let i = 0, p = 0; i < pool.length; i++) {
      for (let k = 0; k < counts[i]; k++, p++) packed[p] = murmur3(`${pool[i].key}_${k}`, 0) * 2097152 + i;
    }
    packed.sort();
    for (let p = 0; p < size; p++) {
      const host = packed[p] % 2097152;
      hosts[p] = host;
      hashes[p] = (packed[p] - host) / 2097152;
    }
  } else {
    const pts: Array<[number, number]> = [];
    for (let i = 0; i < pool.length; i++) {
      for (let k = 0; k < counts[i]; k++) pts.push([murmur3(`${pool[i].key}_${k}`, 0), i]);
    }
    pts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    pts.forEach(([h, i], p) => { hashes[p] = h; hosts[p] = i; });
  }
  // About one bucket per point (a power of two from 2 to 2^20 buckets).
  let bits = 1;
  while (bits < 20 && 1 << bits < size) bits++;
  const shift = 32 - bits;
  const index = new Uint32Array((1 << bits) + 1);
  for (let b = 0, p = 0; b <= 1 << bits; b++) {
    while (p < size && hashes[p] >>> shift < b) p++;
    index[b] = p;
  }
  return { hashes, hosts, index, shift };
}

/** Index of the first point with hash >= h, wrapping to 0 past the end. */
function lowerBound(ring: Ring, h: number): number {
  const { hashes, index } = ring;
  const b = h >>> ring.shift;
  let lo = index[b];
  let hi = index[b + 1];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (hashes[mid] < h) lo = mid + 1;
    else hi = mid;
  }
  return lo === hashes.length ? 0 : lo;
}

/** Ring-hash picker. */
export class RingHashPicker extends BasePicker {
  readonly ring: Ring;

  constructor(hosts: readonly LbHost[], pool: readonly LbHost[], weights: Float64Array, threshold: number, minimumRingSize: number) {
    super(hosts, pool, threshold);
    this.ring = buildRing(pool, weights, minimumRingSize);
  }

  select(ctx: PickContext, mode: Mode): LbHost | null {
    const ring = this.ring;
    const idx = lowerBound(ring, requestHash(ctx));
    const h = this.pool[ring.hosts[idx]];
    const avoid = ctx.avoid;
    if (h.healthy && (avoid === undefined || !avoid.has(h))) return h;
    return this.slow(ctx, mode, idx);
  }

  /** Walk clockwise from `idx` to the first usable point. */
  private slow(ctx: PickContext, mode: Mode, idx: number): LbHost | null {
    const m = this.resolve(mode);
    if (m === MODE_NONE) return null;
    const avoid = this.usableAvoid(m, ctx.avoid);
    const { hosts } = this.ring;
    const size = hosts.length;
    for (let k = 0; k < size; k++) {
      const h = this.pool[hosts[(idx + k) % size]];
      if (this.usable(h, m, avoid)) return h;
    }
    return null;
  }
}
