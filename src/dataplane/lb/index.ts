/**
 * Load balancers of the proxy: `createPicker(policy, hosts)` builds, once per endpoint set,
 * the picker a cluster uses for every request.
 *
 * | policy          | algorithm                                                          |
 * |-----------------|--------------------------------------------------------------------|
 * | LEAST_REQUEST   | equal weights: power of two choices; else EDF on weight/(active+1) |
 * | ROUND_ROBIN     | weighted round robin, evenly interleaved, random start             |
 * | RANDOM          | weighted random (alias table)                                      |
 * | CONSISTENT_HASH | ring hash (default, min ring 1024) or Maglev (table 65537)         |
 * | PASSTHROUGH     | none: `pick` returns null, the caller forwards to the original     |
 * |                 | destination address of the connection (Envoy ORIGINAL_DST)         |
 *
 * Every algorithm skips unhealthy hosts, applies Envoy's panic threshold (fewer than
 * `panicThresholdPercent` healthy -> choose among all hosts), honours `avoid` (retry
 * previous-hosts) and, when the policy has an enabled `locality` setting and the proxy's
 * locality is given, prefers near localities (see `locality.ts`, `locality-picker.ts`).
 *
 * Not implemented: slow start (`warmup`), Envoy's degraded hosts, `failoverPriority`.
 */
import type { LbPolicy } from '../../snapshot/types.js';
import { BasePicker, allEqual, hostWeight, normalizeThreshold } from './base.js';
import { P2CPicker, weightedLeastRequest } from './least-request.js';
import { planLocality } from './locality.js';
import { LocalityPicker } from './locality-picker.js';
import { DEFAULT_MAGLEV_TABLE_SIZE, MaglevPicker } from './maglev.js';
import { RandomPicker } from './random.js';
import { DEFAULT_MIN_RING_SIZE, RingHashPicker } from './ring-hash.js';
import { roundRobin } from './round-robin.js';
import type { LbHost, Picker, PickerOptions } from './types.js';

export type { LbHost, PickContext, Picker, PickerOptions } from './types.js';
export { hashKey } from './hash.js';

/** PASSTHROUGH: the cluster has no endpoints of its own to choose from. */
class PassthroughPicker implements Picker {
  constructor(readonly hosts: readonly LbHost[]) {}
  /** Always null: forward to the connection's original destination instead. */
  pick(): LbHost | null {
    return null;
  }
}

/** The algorithm for `policy` over `pool` (one locality level, or all hosts). */
function buildAlgorithm(
  policy: LbPolicy, hosts: readonly LbHost[], pool: readonly LbHost[], weights: Float64Array, threshold: number,
): BasePicker {
  switch (policy.kind) {
    case 'ROUND_ROBIN':
      return roundRobin(hosts, pool, weights, threshold);
    case 'RANDOM':
      return new RandomPicker(hosts, pool, weights, threshold);
    case 'CONSISTENT_HASH': {
      const alg = policy.hash?.algorithm;
      if (alg?.kind === 'maglev') {
        // <= 0 means unset (the proto default); non-prime sizes are rounded up (maglev.ts).
        const size = alg.tableSize > 0 ? alg.tableSize : DEFAULT_MAGLEV_TABLE_SIZE;
        return new MaglevPicker(hosts, pool, weights, threshold, size);
      }
      const min = alg !== undefined && alg.minimumRingSize > 0 ? alg.minimumRingSize : DEFAULT_MIN_RING_SIZE;
      return new RingHashPicker(hosts, pool, weights, threshold, min);
    }
    default: // LEAST_REQUEST
      return allEqual(weights) ? new P2CPicker(hosts, pool, threshold) : weightedLeastRequest(hosts, pool, weights, threshold);
  }
}

/**
 * Build the picker for one cluster's endpoint set. Construction does all the work that can
 * be done ahead (rings, tables, schedules, locality levels); rebuild the picker when the
 * host list changes, not when health or load change (those are read live from the hosts).
 *
 * @param policy the cluster's load-balancing policy from the snapshot
 * @param hosts the runtime hosts (kept by reference; their `healthy` / `activeRequests` are
 *   read on every pick)
 * @param opts.panicThresholdPercent Envoy's healthy panic threshold, default 50, 0 disables
 * @param opts.localLocality the proxy's `region/zone/subzone`; enables locality-aware
 *   balancing together with an enabled `policy.locality`
 */
export function createPicker(policy: LbPolicy, hosts: readonly LbHost[], opts: PickerOptions = {}): Picker {
  const threshold = normalizeThreshold(opts.panicThresholdPercent);
  if (policy.kind === 'PASSTHROUGH') return new PassthroughPicker(hosts);
  const setting = policy.locality;
  const local = opts.localLocality;
  if (setting !== null && setting.enabled && local !== undefined && local !== '' && hosts.length > 0) {
    const plan = planLocality(hosts, local, setting);
    if (plan.levels.length === 0) return buildAlgorithm(policy, hosts, [], new Float64Array(0), threshold);
    if (plan.levels.length === 1) return buildAlgorithm(policy, hosts, plan.levels[0], plan.weights[0], threshold);
    const levels = plan.levels.map((level, i) => buildAlgorithm(policy, level, level, plan.weights[i], threshold));
    return new LocalityPicker(hosts, levels, threshold, policy.kind === 'CONSISTENT_HASH');
  }
  return buildAlgorithm(policy, hosts, hosts, Float64Array.from(hosts, hostWeight), threshold);
}
