/**
 * Per-endpoint runtime state, keyed by `cluster|address:port`, kept outside the snapshot so a
 * config push does not reset in-flight counts or outlier ejections (habit 3).
 */
import type { H1Pool } from '../upstream/h1-pool.js';
import type { RuntimeEndpoint } from './dns.js';
import type { LbHost } from '../lb/types.js';
import { newOutlierState, type OutlierState } from '../outlier/types.js';
import type { H2Upstream } from '../upstream/pools.js';
import { destinationFor, type DestinationLabels } from '../../observability/identity.js';

/** Counters and outlier-detection state that outlive any one snapshot. */
export interface HostState extends OutlierState {
  active: number;
  /** False while ejected by outlier detection (the pickers skip it). */
  healthy: boolean;
  /** Requests completed, for /clusters. */
  total: number;
  /** Attempts that ended in a 5xx or a local-origin failure (Envoy `rq_error`). */
  failures: number;
}

/** One endpoint of one cluster as the load balancer and the pools see it. */
export class HostRuntime implements LbHost {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  readonly locality: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The DNS name this address was resolved from (ServiceEntry `resolution: DNS`), else null. */
  readonly hostname: string | null;
  /** Shared with any other HostRuntime for the same cluster+address across reloads. */
  readonly state: HostState;
  /**
   * The endpoint's pools, cached so the request path skips the PoolManager lookup (and its
   * key string). Valid for this runtime's settings; a closed pool is looked up again.
   */
  h1: H1Pool | null = null;
  h2: H2Upstream | null = null;

  constructor(ep: RuntimeEndpoint, state: HostState) {
    this.address = ep.address;
    this.port = ep.port;
    this.key = `${ep.address.includes(':') ? `[${ep.address}]` : ep.address}:${ep.port}`;
    this.weight = ep.weight >= 1 ? ep.weight : 1;
    this.locality = ep.locality;
    this.labels = ep.labels;
    this.hostname = ep.hostname ?? null;
    this.state = state;
  }

  private dest: DestinationLabels | null = null;

  /** Stable metric labels for requests served by this endpoint (built once). */
  destination(service: string, namespace: string): DestinationLabels {
    return (this.dest ??= destinationFor(service, namespace, { labels: this.labels, namespace }));
  }

  get activeRequests(): number {
    return this.state.active;
  }
  set activeRequests(n: number) {
    this.state.active = n;
  }
  get healthy(): boolean {
    return this.state.healthy;
  }
  set healthy(v: boolean) {
    this.state.healthy = v;
  }
}

/**
 * Keeps HostState objects by `cluster|host:port` (`host`: the endpoint's `stateAddress` when it
 * has one); entries no longer in use are dropped once idle.
 */
export class HostStateStore {
  private readonly states = new Map<string, HostState>();

  get(cluster: string, ep: RuntimeEndpoint): HostState {
    const k = HostStateStore.keyOf(cluster, ep);
    let s = this.states.get(k);
    if (!s) {
      s = { active: 0, healthy: true, total: 0, failures: 0, ...newOutlierState() };
      this.states.set(k, s);
    }
    return s;
  }

  /** Forget state for endpoints no longer in any cluster and with nothing in flight. */
  retain(keep: ReadonlySet<string>): void {
    for (const [k, s] of this.states) if (!keep.has(k) && s.active === 0) this.states.delete(k);
  }

  static keyOf(cluster: string, ep: RuntimeEndpoint): string {
    return `${cluster}|${ep.stateAddress ?? ep.address}:${ep.port}`;
  }
}
