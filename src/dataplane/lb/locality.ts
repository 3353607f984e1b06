/**
 * Locality-aware balancing, planned once per picker: which hosts form which priority level
 * (Istio's locality failover) or which weight each host gets (Istio's `distribute`).
 *
 * What Istio does and this reproduces (pilot `loadbalancer.go`, from the documented rules):
 * - `distribute`: the first rule whose `from` matches the proxy's locality applies. Each
 *   `to` entry's weight is split over the endpoint localities it matches (localities already
 *   claimed by an earlier entry are skipped), in proportion to their total endpoint weight,
 *   rounded up. Localities no entry matches get no traffic. Everything stays one priority
 *   level; no failover.
 * - otherwise failover priorities against the proxy locality: 0 = region, zone and subzone
 *   match, 1 = region and zone, 2 = region, 3 = other regions; with a `failover` entry whose
 *   `from` is the proxy's region, other regions than its `to` drop to 4. Empty levels are
 *   removed.
 *
 * Not done: `failoverPriority` (label-based priorities: hosts carry no labels here), and the
 * Istio rule that failover needs outlier detection (the cluster layer should not pass
 * `localLocality` for failover-only settings when the cluster has no outlier detection).
 * With `distribute`, locality weights are folded into host weights (`w / localitySum *
 * localityWeight`) instead of Envoy's two-stage pick, so when some hosts of a locality are
 * ejected its remaining hosts share that locality's traffic with all other localities
 * rather than keeping the locality's whole share.
 */
import type { LbPolicy } from '../../snapshot/types.js';
import { hostWeight } from './base.js';
import type { LbHost } from './types.js';

/** The snapshot's locality setting (`localityLbSetting`). */
export type LocalitySetting = NonNullable<LbPolicy['locality']>;

/** The hosts of each priority level (highest first) and their weights. */
export interface LocalityPlan {
  levels: LbHost[][];
  weights: Float64Array[];
}

/** `region/zone/subzone` -> its three parts (missing parts are ''). */
export function splitLocality(s: string): [string, string, string] {
  const p = s.split('/');
  return [p[0] ?? '', p[1] ?? '', p[2] ?? ''];
}

/**
 * Istio's locality pattern match: `rule` is `region[/zone[/subzone]]` where any part may be
 * `*`; a missing zone or subzone matches anything.
 */
export function localityMatch(locality: string, rule: string): boolean {
  const [r, z, s] = splitLocality(locality);
  const [rr, rz, rs] = splitLocality(rule);
  return (rr === '*' || rr === r) && (rz === '*' || rz === '' || rz === z) && (rs === '*' || rs === '' || rs === s);
}

/** Failover priority of an endpoint locality seen from the proxy's (0 best .. 4). */
export function localityPriority(proxy: string, endpoint: string, failover: LocalitySetting['failover']): number {
  const [pr, pz, ps] = splitLocality(proxy);
  const [er, ez, es] = splitLocality(endpoint);
  if (pr === er) return pz === ez ? (ps === es ? 0 : 1) : 2;
  const f = failover.find((x) => x.from === pr);
  return f !== undefined && er !== f.to ? 4 : 3;
}

/** Plan the levels for a proxy at `local` (non-empty) under `setting`. */
export function planLocality(hosts: readonly LbHost[], local: string, setting: LocalitySetting): LocalityPlan {
  const rule = setting.distribute.find((d) => localityMatch(local, d.from));
  if (rule !== undefined) return planDistribute(hosts, rule.to);
  const buckets: LbHost[][] = [[], [], [], [], []];
  for (const h of hosts) buckets[localityPriority(local, h.locality, setting.failover)].push(h);
  const levels = buckets.filter((b) => b.length > 0);
  return { levels, weights: levels.map((l) => Float64Array.from(l, hostWeight)) };
}

function planDistribute(hosts: readonly LbHost[], to: Readonly<Record<string, number>>): LocalityPlan {
  const sums = new Map<string, number>();
  for (const h of hosts) sums.set(h.locality, (sums.get(h.locality) ?? 0) + hostWeight(h));
  const unclaimed = new Set(sums.keys());
  const localityWeight = new Map<string, number>();
  for (const [pattern, weight] of Object.entries(to)) {
    const dest = [...unclaimed].filter((l) => localityMatch(l, pattern));
    let total = 0;
    for (const l of dest) total += sums.get(l)!;
    for (const l of dest) {
      unclaimed.delete(l);
      const w = Math.ceil((sums.get(l)! * weight) / total);
      if (w > 0) localityWeight.set(l, w);
    }
  }
  const level: LbHost[] = [];
  const weights: number[] = [];
  for (const h of hosts) {
    const lw = localityWeight.get(h.locality);
    if (lw === undefined) continue;
    level.push(h);
    weights.push((hostWeight(h) / sums.get(h.locality)!) * lw);
  }
  return level.length === 0 ? { levels: [], weights: [] } : { levels: [level], weights: [Float64Array.from(weights)] };
}
