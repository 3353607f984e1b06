/**
 * The cluster manager: one runtime per snapshot Cluster (its hosts, its load balancer), built
 * on the cluster's first use and rebuilt on every snapshot swap from state kept by identity, so in-flight counts, pooled
 * connections, circuit-breaker counters and outlier ejections survive reloads:
 * - per endpoint (`cluster|address:port`): {@link HostStateStore} (counts, ejection state);
 * - per cluster name: {@link ClusterState} (circuit breakers, stats);
 * - per cluster name: the {@link OutlierDriver}'s detector and interval timer;
 * - per cluster, endpoint and protocol: the {@link PoolManager}'s pools.
 * DNS clusters (ServiceEntry `resolution: DNS` / `DNS_ROUND_ROBIN`) get their endpoint names
 * from the {@link DnsResolver}: when a name's addresses change, the runtimes of the clusters
 * using it are rebuilt the same way (state kept by identity; pools of addresses that left are
 * drained).
 */
import type { Cluster, Snapshot } from '../../snapshot/types.js';
import { createPicker } from '../lb/index.js';
import type { Picker } from '../lb/types.js';
import { HostRuntime, HostStateStore, type HostState } from './host.js';
import { DnsResolver, dnsNamesOf, expandEndpoints, type DnsResolverOptions, type RuntimeEndpoint } from './dns.js';
import { CircuitBreakers } from './breakers.js';
import { PoolManager, poolSettings, tlsOrigination, type PoolEvents, type PoolSettings } from '../upstream/pools.js';
import { OutlierDriver, type IntervalTimers } from '../outlier/driver.js';
import type { EjectionEvent, OutlierResult } from '../outlier/types.js';
import { ClusterStats } from '../../observability/cluster-stats.js';
import { destinationFor, type DestinationLabels } from '../../observability/identity.js';

/** What one cluster NAME keeps across snapshots (habit 3). */
export class ClusterState {
  readonly breakers: CircuitBreakers;
  private st: ClusterStats | null = null;
  constructor(
    readonly name: string,
    cluster: Cluster,
    private readonly statsFor: (cluster: string) => ClusterStats,
  ) {
    this.breakers = new CircuitBreakers(cluster.connectionPool);
  }

  /**
   * Envoy cluster stats, bumped in place by the request path. Created (and so exported) on
   * first use: a mesh of thousands of services exports only the clusters that saw traffic.
   */
  get stats(): ClusterStats {
    return (this.st ??= this.statsFor(this.name));
  }

  get hasStats(): boolean {
    return this.st !== null;
  }
}

export class ClusterRuntime {
  /** The endpoints served: the config's, with DNS names replaced by their addresses. */
  readonly endpoints: readonly RuntimeEndpoint[];
  readonly hosts: readonly HostRuntime[];
  /** The hosts' shared states, in host order (the outlier detector's host list). */
  readonly states: readonly HostState[];
  readonly picker: Picker;
  readonly pool: PoolSettings;
  /** Metric labels when no endpoint served the request (UH, UO...). */
  readonly destination: DestinationLabels;
  /** The proxy's own locality the picker prefers (`region/zone/subzone`, '' when unknown). */
  readonly locality: string;
  /** False for original-destination clusters (resolution NONE, PASSTHROUGH): no endpoint is picked. */
  readonly routable: boolean;
  readonly breakers: CircuitBreakers;
  constructor(
    readonly config: Cluster,
    store: HostStateStore,
    localLocality = '',
    /** Breakers and stats of this cluster name (shared by its runtimes across reloads). */
    readonly shared: ClusterState = new ClusterState(config.name, config, (n) => new ClusterStats(n)),
    /** Resolved endpoints (see `expandEndpoints`); default: the config's as they are. */
    endpoints: readonly RuntimeEndpoint[] = config.endpoints,
  ) {
    this.endpoints = endpoints;
    this.hosts = endpoints.map((ep) => new HostRuntime(ep, store.get(config.name, ep)));
    this.states = this.hosts.map((h) => h.state);
    // Istio: with outlier detection the panic threshold is minHealthPercent (0 = off); else Envoy's 50 %.
    const panic = config.outlier ? config.outlier.minHealthPercent : 50;
    this.picker = createPicker(config.lb, this.hosts, { panicThresholdPercent: panic, localLocality });
    this.pool = poolSettings(config.connectionPool, this.hosts.length, tlsOrigination(config.tls, config.host));
    this.destination = destinationFor(config.host, config.namespace);
    this.locality = localLocality;
    this.routable = config.resolution !== 'NONE' && config.lb.kind !== 'PASSTHROUGH';
    this.breakers = shared.breakers;
  }
}

export interface ClusterManagerOptions {
  /** The stats object for a cluster name (MeshMetrics.cluster); default: private objects. */
  stats?: (cluster: string) => ClusterStats;
  /** A cluster left the config: stop exporting its stats (MeshMetrics.removeCluster). */
  removeStats?: (cluster: string) => void;
  /** Every outlier ejection, overflow and return (operational log); `endpoint` is `address:port`. */
  onOutlierEvent?: (cluster: string, e: EjectionEvent, endpoint: string) => void;
  /** Interval timers for the outlier sweeps (default: Node's). */
  timers?: IntervalTimers;
  /** Monotonic milliseconds for outlier detection (default `performance.now()`). */
  now?: () => number;
  /** DNS resolution of endpoint names (lookup, refresh interval, family, events). */
  dns?: Omit<DnsResolverOptions, 'onChange'>;
}

const LOCAL_CONNECT: OutlierResult = Object.freeze({ kind: 'local', failure: 'connect' });
const LOCAL_RESET: OutlierResult = Object.freeze({ kind: 'local', failure: 'reset' });
const LOCAL_TIMEOUT: OutlierResult = Object.freeze({ kind: 'local', failure: 'timeout' });
const CONNECTED: OutlierResult = Object.freeze({ kind: 'connected' });

/** Local-origin outcomes the forwarder reports (besides response statuses). */
export type LocalOutcome = 'connect' | 'reset' | 'timeout' | 'connected';

export class ClusterManager {
  readonly hostStates = new HostStateStore();
  readonly pools: PoolManager;
  readonly outliers: OutlierDriver;
  /** Resolves the endpoint names of DNS clusters and keeps them fresh. */
  readonly dns: DnsResolver;
  private clusters = new Map<string, ClusterRuntime>();
  private readonly shared = new Map<string, ClusterState>();
  private snapshot: Snapshot | null = null;
  /** The proxy's locality in the serving snapshot (see {@link proxyLocality}). */
  private locality = '';
  private readonly statsFor: (cluster: string) => ClusterStats;
  private readonly now: () => number;
  /** Reused for every status report (the detector does not keep results). */
  private readonly scratch: { kind: 'status'; code: number; grpcStatus: number | null } = { kind: 'status', code: 0, grpcStatus: null };

  constructor(private readonly opts: ClusterManagerOptions = {}) {
    this.statsFor = opts.stats ?? ((name) => new ClusterStats(name));
    this.pools = new PoolManager(this.poolEvents());
    this.now = opts.now ?? (() => performance.now());
    this.outliers = new OutlierDriver({ timers: opts.timers ?? globalThis, now: this.now, onEvent: (c, e) => this.onOutlierEvent(c, e) });
    this.dns = new DnsResolver({ ...opts.dns, onChange: (h) => this.onDnsChange(h) });
  }

  private readonly addressesOf = (hostname: string): readonly string[] | null => this.dns.addresses(hostname);

  /**
   * Adopts a new snapshot. Runtimes are built on first use ({@link get}): a mesh of thousands
   * of services keeps no hosts, pickers or breakers for the clusters no request has reached
   * (~1 KB each). Built now: clusters already in use (rebuilt, or kept when their Cluster is
   * unchanged, state kept by identity) and clusters with outlier detection, whose detector and
   * sweep timer run from the start as before.
   */
  update(snap: Snapshot): void {
    if (snap === this.snapshot) return;
    const next = new Map<string, ClusterRuntime>();
    const locality = proxyLocality(snap.proxy.labels);
    // New names start resolving now; until their first answer they are dialled by name.
    const names = new Set<string>();
    for (const c of snap.clusters.values()) for (const n of dnsNamesOf(c)) names.add(n);
    this.dns.retain(names);
    for (const [name, c] of snap.clusters) {
      const old = this.clusters.get(name);
      if (old === undefined && c.outlier === null) continue;
      const shared = this.sharedFor(name, c);
      const rt = old && old.shared === shared && sameCluster(old.config, c) && old.locality === locality ? old : this.build(c, locality, shared);
      next.set(name, rt);
      // Original-destination clusters have no endpoints of their own to judge.
      this.outliers.update(name, rt.routable ? c.outlier : null, rt.states);
    }
    for (const name of this.shared.keys()) {
      if (snap.clusters.has(name)) continue;
      const gone = this.shared.get(name);
      this.shared.delete(name);
      if (gone?.hasStats) this.opts.removeStats?.(name);
    }
    this.outliers.retain(new Set(next.keys()));
    this.clusters = next;
    this.snapshot = snap;
    this.locality = locality;
    this.retainInUse();
  }

  /** The name's breakers and stats, kept across snapshots; limits follow the config. */
  private sharedFor(name: string, c: Cluster): ClusterState {
    let shared = this.shared.get(name);
    if (!shared) {
      shared = new ClusterState(name, c, this.statsFor);
      this.shared.set(name, shared);
    } else shared.breakers.setLimits(c.connectionPool);
    return shared;
  }

  /** First use of a cluster of the serving snapshot: its runtime is built and kept. */
  private materialize(name: string): ClusterRuntime | undefined {
    const c = this.snapshot?.clusters.get(name);
    if (c === undefined) return undefined;
    const rt = this.build(c, this.locality, this.sharedFor(name, c));
    this.clusters.set(name, rt);
    this.outliers.update(name, rt.routable ? c.outlier : null, rt.states);
    return rt;
  }

  private build(c: Cluster, locality: string, shared: ClusterState): ClusterRuntime {
    return new ClusterRuntime(c, this.hostStates, locality, shared, expandEndpoints(c, this.addressesOf));
  }

  /** Host states and pools of endpoints no cluster serves any more are dropped (pools drain). */
  private retainInUse(): void {
    const keepStates = new Set<string>();
    const keepPools = new Set<string>();
    for (const [name, rt] of this.clusters) {
      for (const ep of rt.endpoints) keepStates.add(HostStateStore.keyOf(name, ep));
      for (const h of rt.hosts) keepPools.add(`${name}|${h.key}`);
    }
    this.hostStates.retain(keepStates);
    this.pools.retain(keepPools);
  }

  /** A name's addresses changed: the clusters using it get runtimes with the new endpoints. */
  private onDnsChange(hostname: string): void {
    let changed = false;
    for (const [name, rt] of this.clusters) {
      if (!dnsNamesOf(rt.config).includes(hostname)) continue;
      const next = this.build(rt.config, rt.locality, rt.shared);
      this.clusters.set(name, next);
      this.outliers.update(name, next.routable ? next.config.outlier : null, next.states);
      changed = true;
    }
    if (changed) this.retainInUse();
  }

  /** The cluster's runtime, built on first use (the request path pays one Map miss, once). */
  get(name: string): ClusterRuntime | undefined {
    return this.clusters.get(name) ?? this.materialize(name);
  }

  /**
   * Every cluster of the serving snapshot, in snapshot order, for reports (/clusters). A
   * cluster not yet used is shown through a throw-away runtime with fresh state (what its
   * runtime would hold), so reporting does not build and keep thousands of runtimes.
   */
  *all(): IterableIterator<ClusterRuntime> {
    const snap = this.snapshot;
    if (snap === null) return;
    for (const [name, c] of snap.clusters) {
      const rt = this.clusters.get(name);
      if (rt !== undefined) yield rt;
      else {
        const shared = this.shared.get(name) ?? new ClusterState(name, c, (n) => new ClusterStats(n));
        yield new ClusterRuntime(c, new HostStateStore(), this.locality, shared, expandEndpoints(c, this.addressesOf));
      }
    }
  }

  /**
   * One attempt's response status, for outlier detection and the host's error count.
   * `grpcStatus`: the `grpc-status` of a headers-only (Trailers-Only) gRPC answer, else null.
   */
  reportStatus(rt: ClusterRuntime, host: HostRuntime, code: number, grpcStatus: number | null): void {
    if (code >= 500) host.state.failures++;
    if (rt.config.outlier === null) return;
    const r = this.scratch;
    r.code = code;
    r.grpcStatus = grpcStatus;
    this.outliers.report(rt.config.name, host.state, r);
  }

  /** A locally originated outcome of one attempt (connect failure, reset, timeout, or a connection). */
  reportLocal(rt: ClusterRuntime, host: HostRuntime, what: LocalOutcome): void {
    if (what !== 'connected') host.state.failures++;
    if (rt.config.outlier === null) return;
    const r = what === 'connect' ? LOCAL_CONNECT : what === 'reset' ? LOCAL_RESET : what === 'timeout' ? LOCAL_TIMEOUT : CONNECTED;
    this.outliers.report(rt.config.name, host.state, r);
  }

  /** An outlier-clock time (monotonic ms) as epoch ms, to show ejection end times as dates. */
  wallClock(monotonic: number): number {
    return Date.now() + (monotonic - this.now());
  }

  /** Copies gauges that are read rather than counted (breakers, ejections) into the stats objects. */
  syncStats(): void {
    for (const s of this.shared.values()) {
      if (!s.hasStats) continue;
      const st = s.stats;
      const b = s.breakers.stats();
      st.upstreamRqActive = b.upstream_rq_active;
      st.upstreamRqPendingActive = b.upstream_rq_pending_active;
      st.upstreamCxActive = b.upstream_cx_active;
      st.upstreamCxOverflow = b.upstream_cx_overflow;
      st.cbCxOpen = b.cx_open;
      st.cbRqPendingOpen = b.rq_pending_open;
      st.cbRqOpen = b.rq_open;
      st.cbRqRetryOpen = b.rq_retry_open;
      st.cbRemainingCx = b.remaining_cx;
      st.cbRemainingPending = b.remaining_pending;
      st.cbRemainingRq = b.remaining_rq;
      st.cbRemainingRetries = b.remaining_retries;
      const d = this.outliers.detector(s.name);
      st.outlierEjectionsActive = d ? d.ejectionsActive() : 0;
    }
  }

  async close(): Promise<void> {
    this.dns.close();
    this.outliers.close();
    await this.pools.close();
  }

  /** Immediate stop (tests): timers stopped, connections destroyed. */
  async destroy(): Promise<void> {
    this.dns.close();
    this.outliers.close();
    await this.pools.destroy();
  }

  private onOutlierEvent(cluster: string, e: EjectionEvent): void {
    const s = this.shared.get(cluster);
    if (s) {
      const st = s.stats;
      if (e.action === 'eject') {
        st.outlierEjectionsEnforcedTotal++;
        // Envoy's deprecated ejections_total counts consecutive-5xx (and success-rate) ejections only.
        if (e.reason === 'consecutive_5xx') st.outlierEjectionsTotal++;
      } else if (e.action === 'overflow') st.outlierEjectionsOverflow++;
      const d = this.outliers.detector(cluster);
      st.outlierEjectionsActive = d ? d.ejectionsActive() : 0;
    }
    const cb = this.opts.onOutlierEvent;
    if (cb) cb(cluster, e, this.clusters.get(cluster)?.hosts.find((h) => h.state === e.host)?.key ?? 'an endpoint');
  }

  private poolEvents(): PoolEvents {
    return {
      connected: (cluster) => {
        const s = this.shared.get(cluster);
        if (!s) return;
        s.breakers.connectionOpened();
        s.stats.upstreamCxTotal++;
      },
      disconnected: (cluster) => this.shared.get(cluster)?.breakers.connectionClosed(),
      connectFailed: (cluster, timeout) => {
        const s = this.shared.get(cluster);
        if (!s) return;
        s.stats.upstreamCxConnectFail++;
        if (timeout) s.stats.upstreamCxConnectTimeout++;
      },
    };
  }
}

/** Cheap structural comparison: snapshots are rebuilt from scratch, so compare by content. */
function sameCluster(a: Cluster, b: Cluster): boolean {
  if (a === b) return true;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The proxy's locality from its workload labels, as Istio reads node/pod topology labels:
 * `topology.kubernetes.io/region`, `topology.kubernetes.io/zone`, `topology.istio.io/subzone`
 * (or an explicit `istio-locality: region.zone.subzone` label). '' when none is set.
 */
export function proxyLocality(labels: Readonly<Record<string, string>>): string {
  const explicit = labels['istio-locality'];
  if (explicit) return explicit.replace(/\./g, '/');
  const region = labels['topology.kubernetes.io/region'] ?? '';
  if (!region) return '';
  const zone = labels['topology.kubernetes.io/zone'] ?? '';
  const sub = labels['topology.istio.io/subzone'] ?? '';
  return [region, zone, sub].join('/').replace(/\/+$/, '');
}
