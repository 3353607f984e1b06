/**
 * Helpers for the load-balancer tests and benchmark: a seeded PRNG and host factories.
 * Not used by production code.
 */
import type { LbPolicy } from '../../snapshot/types.js';
import type { LbHost } from './types.js';

/** mulberry32: a small, fast, seedable PRNG with values in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One host `10.0.0.<i>:8080` (or the given overrides). */
export function host(i: number, over: Partial<Omit<LbHost, 'key'>> = {}): LbHost {
  const address = over.address ?? `10.0.${(i >> 8) & 255}.${i & 255}`;
  const port = over.port ?? 8080;
  return {
    key: `${address}:${port}`,
    address,
    port,
    weight: over.weight ?? 1,
    locality: over.locality ?? '',
    activeRequests: over.activeRequests ?? 0,
    healthy: over.healthy ?? true,
  };
}

/** `n` healthy hosts of weight 1 (or `weights[i]` when given). */
export function hosts(n: number, weights?: readonly number[]): LbHost[] {
  return Array.from({ length: n }, (_, i) => host(i, { weight: weights?.[i] ?? 1 }));
}

/** An LbPolicy of the given kind with nothing else set. */
export function policy(kind: LbPolicy['kind'], hash: LbPolicy['hash'] = null): LbPolicy {
  return { kind, hash, locality: null, warmup: null };
}

/** CONSISTENT_HASH with a ring (default minimum size 1024). */
export function ringHash(minimumRingSize = 1024): LbPolicy {
  return policy('CONSISTENT_HASH', { key: { kind: 'header', name: 'x-user' }, algorithm: { kind: 'ringHash', minimumRingSize } });
}

/** CONSISTENT_HASH with Maglev (default table 65537). */
export function maglev(tableSize = 65537): LbPolicy {
  return policy('CONSISTENT_HASH', { key: { kind: 'header', name: 'x-user' }, algorithm: { kind: 'maglev', tableSize } });
}

/** Count how often each host is returned. */
export function tally(picks: Iterable<LbHost | null>): Map<LbHost | null, number> {
  const m = new Map<LbHost | null, number>();
  for (const p of picks) m.set(p, (m.get(p) ?? 0) + 1);
  return m;
}
