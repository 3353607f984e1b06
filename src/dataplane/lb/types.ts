/**
 * The load-balancer contract: a {@link Picker} chooses one {@link LbHost} per request.
 *
 * Pickers are built once per (cluster, endpoint set) and then called on the per-request hot
 * path. They are pure apart from their own scheduling state (round-robin cursor, EDF
 * deadlines): randomness comes in through {@link PickContext.rnd}, health and load are read
 * from the host objects, which the pool and outlier layers mutate in place.
 */

/** Runtime view of one endpoint, shared with the pool/outlier layers (they mutate the counters). */
export interface LbHost {
  /** `"address:port"`; also what consistent hashing places on the ring/table. */
  readonly key: string;
  readonly address: string;
  readonly port: number;
  /** Load-balancing weight, >= 1 (anything not a positive finite number is treated as 1). */
  readonly weight: number;
  /** `"region/zone/subzone"` (trailing parts may be missing) or `""` when unknown. */
  readonly locality: string;
  /** Requests in flight to this host; maintained by the caller (pool layer). */
  activeRequests: number;
  /** `false` = ejected by outlier detection or otherwise failed. */
  healthy: boolean;
}

/** Per-pick inputs. Create it per request; pickers never keep a reference to it. */
export interface PickContext {
  /** Uniform random numbers in [0, 1). Production passes a real generator, tests a seeded one. */
  rnd: () => number;
  /**
   * Request hash for CONSISTENT_HASH (computed by the caller via `hashKey()`). Only the low
   * 32 bits are used (`hash >>> 0`). When absent a consistent-hash picker picks a random
   * point (Envoy does the same when the hash policy yields no value, e.g. a missing header).
   */
  hash?: number;
  /**
   * Hosts to avoid (retry `previous_hosts` predicate). Honoured whenever another eligible
   * host exists; when every eligible host is in the set the normal pick is returned.
   */
  avoid?: ReadonlySet<LbHost>;
}

/** One load balancer instance over a fixed host list. */
export interface Picker {
  /**
   * The chosen host, or `null` when there is none to choose: empty host list, no healthy
   * host with panic routing disabled, or a PASSTHROUGH cluster (the caller forwards to the
   * original destination instead).
   */
  pick(ctx: PickContext): LbHost | null;
  /** The host list the picker was built over (same objects, same order). */
  readonly hosts: readonly LbHost[];
}

/** Options of `createPicker`. */
export interface PickerOptions {
  /**
   * Envoy `healthy_panic_threshold`: when fewer than this percentage of hosts are healthy,
   * pick among all hosts regardless of health. Default 50; 0 disables panic routing.
   */
  panicThresholdPercent?: number;
  /**
   * Locality of this proxy (`region/zone/subzone`). Locality-aware balancing applies only
   * when this is a non-empty string and the policy has an enabled `locality` setting.
   */
  localLocality?: string;
}
