/**
 * CONSISTENT_HASH with Maglev (Eisenbud et al., NSDI 2016, section 3.4), as Envoy's MAGLEV.
 *
 * A lookup table of M slots (M prime) maps `hash % M` to a host. Each host walks its own
 * permutation of the slots, `offset + j * skip (mod M)` with offset and skip from two
 * independent hashes of its key (`skip` in [1, M-1] is coprime with a prime M, so the walk
 * visits every slot); hosts take turns claiming their next free slot until the table is
 * full, in host-key order so the order of the host list does not matter. Weights change
 * how often a host takes a turn: a host of weight w takes one every `maxWeight / w` rounds
 * (the usual weighted-Maglev generalisation), so table shares follow weights. Building is
 * O(M log M); a pick is one modulo and one array read.
 *
 * Unhealthy / avoided host under the key: first up to {@link FALLBACK_REHASHES} re-hashed
 * lookups (the way Envoy perturbs the hash per host-selection attempt), then a linear probe
 * of the following slots. Both only depend on the key, so keys of healthy hosts never move
 * and the ejected host's keys spread over the others in proportion to their table share.
 */
import { BasePicker, MODE_NONE, requestHash, type Mode } from './base.js';
import { fmix32, murmur3 } from './hash.js';
import type { LbHost, PickContext } from './types.js';

/** Istio's / Envoy's default table size. */
export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;
/** Envoy's upper limit for the table size (itself prime). */
export const MAX_MAGLEV_TABLE_SIZE = 5000011;
/** Re-hashed lookups before probing, as Envoy's host-selection attempts (Istio uses 5). */
export const FALLBACK_REHASHES = 5;

const OFFSET_SEED = 0x2f0b3c15;
const SKIP_SEED = 0x5bd1e995;

/** Trial-division primality test (tables are at most ~5M, so at most ~2.2k divisions). */
export function isPrime(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/**
 * The table size actually used for a configured `tableSize`. Istio's validation rejects a
 * non-prime size, but a data plane must not fail on a snapshot that slipped through: a
 * non-prime (or fractional) size is rounded up to the next prime; anything above
 * {@link MAX_MAGLEV_TABLE_SIZE} is clamped to it; missing, non-finite or < 2 means the
 * default 65537.
 */
export function maglevTableSize(requested: number | undefined): number {
  if (requested === undefined || !Number.isFinite(requested) || requested < 2) return DEFAULT_MAGLEV_TABLE_SIZE;
  if (requested >= MAX_MAGLEV_TABLE_SIZE) return MAX_MAGLEV_TABLE_SIZE;
  let m = Math.ceil(requested);
  while (!isPrime(m)) m++;
  return m;
}

/**
 * Fill a Maglev table of `size` slots (`size` must be prime) with indices into `pool`.
 * Every slot is filled when the pool is non-empty; with more hosts than slots some hosts get
 * no slot (the table cannot represent them).
 */
export function buildMaglevTable(pool: readonly LbHost[], weights: ArrayLike<number>, size: number): Uint16Array | Uint32Array {
  if (!isPrime(size)) throw new RangeError(`maglev table size ${size} is not prime`);
  const n = pool.length;
  const table = n < 0xffff ? new Uint16Array(size) : new Uint32Array(size);
  const empty = n < 0xffff ? 0xffff : 0xffffffff;
  table.fill(empty);
  if (n === 0) return table;
  const next = new Float64Array(n); // next slot in each host's permutation
  const skip = new Float64Array(n);
  const owed = new Float64Array(n); // turn threshold: a turn is due once round * w >= owed
  let maxW = 0;
  for (let i = 0; i < n; i++) {
    next[i] = murmur3(pool[i].key, OFFSET_SEED) % size;
    skip[i] = (murmur3(pool[i].key, SKIP_SEED) % (size - 1)) + 1;
    if (weights[i] > maxW) maxW = weights[i];
  }
  // Turns are taken in key order, so the table does not depend on the order of the host list.
  const turnOrder = Array.from({ length: n }, (_, i) => i).sort((a, b) => (pool[a].key < pool[b].key ? -1 : pool[a].key > pool[b].key ? 1 : a - b));
  let filled = 0;
  for (let round = 1; filled < size; round++) {
    for (let t = 0; t < n && filled < size; t++) {
      const i = turnOrder[t];
      if (round * weights[i] < owed[i]) continue;
      owed[i] += maxW;
      let c = next[i];
      while (table[c] !== empty) c = (c + skip[i]) % size;
      table[c] = i;
      next[i] = (c + skip[i]) % size;
      filled++;
    }
  }
  return table;
}

/** Maglev picker. */
export class MaglevPicker extends BasePicker {
  readonly table: Uint16Array | Uint32Array;
  readonly tableSize: number;

  constructor(hosts: readonly LbHost[], pool: readonly LbHost[], weights: Float64Array, threshold: number, tableSize: number) {
    super(hosts, pool, threshold);
    this.tableSize = maglevTableSize(tableSize);
    this.table = buildMaglevTable(pool, weights, this.tableSize);
  }

  select(ctx: PickContext, mode: Mode): LbHost | null {
    const hash = requestHash(ctx);
    const h = this.pool[this.table[hash % this.tableSize]];
    const avoid = ctx.avoid;
    if (h.healthy && (avoid === undefined || !avoid.has(h))) return h;
    return this.slow(ctx, mode, hash);
  }

  private slow(ctx: PickContext, mode: Mode, hash: number): LbHost | null {
    const m = this.resolve(mode);
    if (m === MODE_NONE) return null;
    const avoid = this.usableAvoid(m, ctx.avoid);
    const { table, tableSize: size, pool } = this;
    const slot = hash % size;
    if (this.usable(pool[table[slot]], m, avoid)) return pool[table[slot]];
    for (let attempt = 1; attempt <= FALLBACK_REHASHES; attempt++) {
      const h = pool[table[fmix32((hash ^ Math.imul(attempt, 0x9e3779b9)) >>> 0) % size]];
      if (this.usable(h, m, avoid)) return h;
    }
    for (let k = 1; k < size; k++) {
      const h = pool[table[(slot + k) % size]];
      if (this.usable(h, m, avoid)) return h;
    }
    // Only hosts without a slot (more hosts than slots) are usable.
    const i = this.scanFrom(0, m, avoid);
    return i < 0 ? null : pool[i];
  }
}
