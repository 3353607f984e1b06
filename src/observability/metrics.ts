/**
 * The proxy's Prometheus metrics: Istio's standard metrics with Istio's names, labels and
 * buckets, Envoy-style per-cluster upstream stats, and proxy-level config stats.
 *
 * Hot path: `recordRequest` resolves its series through two cached lookups — the destination
 * object (by identity) and a small integer packing protocol, status, gRPC status and flags —
 * then bumps numbers. Label objects and label strings are built once per series, never per
 * request. prom-client (one `Registry` per instance, no global registry) renders the text;
 * with several worker processes each sends `snapshotForAggregation()` to the primary, which
 * serves `MeshMetrics.aggregate(parts)` (aggregation.ts explains the compact snapshot form).
 *
 * Buckets: Istio records every histogram (duration and both byte sizes) in Envoy's stat store
 * without per-metric bucket settings, so all three use Envoy's default buckets,
 * {@link ENVOY_DEFAULT_BUCKETS} (Envoy `HistogramSettingsImpl::defaultBuckets`). Byte sizes thus
 * get the same bounds as milliseconds, exactly as a real sidecar exports them.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';
import { aggregateSnapshots, snapshotRegistry } from './aggregation.js';
import { ALL_FLAGS_MASK } from './flags.js';
import { HistogramCell, HistogramFamily, ScalarFamily, type Labels } from './exposition.js';
import { CLUSTER_STATS, ClusterStats } from './cluster-stats.js';
import { istioSeriesLabels } from './istio-labels.js';
import {
  UNKNOWN,
  resolveDestination,
  workloadLabels,
  type DestinationLabels,
  type WorkloadInfo,
  type WorkloadLabels,
} from './identity.js';

export { ClusterStats } from './cluster-stats.js';
export { ISTIO_HTTP_LABELS, ISTIO_TCP_LABELS } from './istio-labels.js';
export type { DestinationLabels, WorkloadInfo } from './identity.js';

/** Envoy's default histogram bounds (ms for durations; Istio uses them for bytes too). */
export const ENVOY_DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000,
  1800000, 3600000,
]);

/** One finished HTTP or gRPC request, as `recordRequest` takes it. */
export interface RequestRecord {
  /** A stable object per destination (see {@link DestinationLabels}) or a handle from `destination()`. */
  destination: DestinationLabels | DestinationHandle;
  /** Default `http`. Istio labels HTTP/1.1 and HTTP/2 alike as `http`; gRPC as `grpc`. */
  protocol?: 'http' | 'grpc';
  /** HTTP status sent downstream; 0 when none was sent (Envoy's value). */
  responseCode: number;
  /** gRPC status (0-16) for gRPC requests; omitted/null renders as an empty label, as Istio does. */
  grpcStatus?: number | null;
  /** Response-flag mask (see flags.ts); default 0 (`-`). */
  flags?: number;
  /** Total request duration; omitted: not observed. */
  durationMs?: number;
  /** Bytes received from downstream (headers + body); omitted: not observed. */
  requestBytes?: number;
  /** Bytes sent downstream (headers + body); omitted: not observed. */
  responseBytes?: number;
}

/** Result of a config reload, for `recordConfigReload`. */
export interface ConfigReloadRecord {
  result: 'applied' | 'rejected';
  /** The live config version after the reload (unchanged when rejected). */
  version?: number;
  /** Wall-clock time of the reload (ms since epoch); passed in so tests control time. */
  atMs: number;
}

/** What MeshMetrics needs to know about the proxy it runs in. */
export interface MeshMetricsOptions {
  /** The proxy's own workload (source side of every outbound report). */
  source: WorkloadInfo;
  /** Register prom-client's default Node process metrics too. Default false. */
  defaultMetrics?: boolean;
  /**
   * Cap on distinct destinations. Passthrough traffic names its destination by Host header,
   * which clients control; past the cap new destinations are counted under an all-`unknown`
   * destination instead of growing memory without bound. Default 10000.
   */
  maxDestinations?: number;
}

/** A counter source for the access log's drop count (AccessLogger satisfies it). */
export interface AccessLogStatsSource {
  readonly dropped: number;
}

interface HttpSeries {
  labels: Labels;
  requests: number;
  duration: HistogramCell;
  requestBytes: HistogramCell;
  responseBytes: HistogramCell;
}

interface TcpSeries {
  labels: Labels;
  opened: number;
  closed: number;
  sent: number;
  received: number;
}

/** An interned destination: its label values and its series. Obtain via `MeshMetrics.destination()`. */
export class DestinationHandle {
  /** @internal */ readonly http = new Map<number, HttpSeries>();
  /** @internal */ readonly tcp = new Map<number, TcpSeries>();
  constructor(readonly labels: Readonly<Required<DestinationLabels>>) {}
}

interface ConfigCell {
  labels: Labels;
  value: number;
}

/** Counts that show the caches work (tests, /stats debugging). */
export interface MetricsCacheStats {
  destinations: number;
  httpSeries: number;
  tcpSeries: number;
  /** Times a label set was built (one per series and per new destination object). */
  labelResolutions: number;
  /** Destinations folded into the overflow destination because of `maxDestinations`. */
  destinationOverflows: number;
}

const GRPC_SHIFT = 11; // bits 0: protocol, 1-10: HTTP status, 11-16: gRPC status + 1
const FLAGS_FACTOR = 2 ** 17; // flags above the low 17 bits; stays an exact integer (< 2^46)

/** Istio standard metrics + Envoy cluster stats + proxy stats for one proxy process. */
export class MeshMetrics {
  /** The prom-client registry (one per instance). */
  readonly registry = new Registry();
  private readonly source: WorkloadLabels;
  /** Shared histogram bounds (see HistogramCell for why not the frozen constant). */
  private readonly bounds = Float64Array.from(ENVOY_DEFAULT_BUCKETS);
  private readonly maxDestinations: number;
  private readonly byObject = new WeakMap<DestinationLabels, DestinationHandle>();
  private readonly byKey = new Map<string, DestinationHandle>();
  private overflow: DestinationHandle | null = null;
  private readonly http: HttpSeries[] = [];
  private readonly tcp: TcpSeries[] = [];
  private readonly clusters = new Map<string, ClusterStats>();
  private readonly reloads: ConfigCell[] = [
    { labels: Object.freeze({ result: 'applied' }), value: 0 },
    { labels: Object.freeze({ result: 'rejected' }), value: 0 },
  ];
  private configVersion: number | null = null;
  private lastReloadOk: number | null = null;
  private lastReloadSeconds: number | null = null;
  private accessLog: AccessLogStatsSource | null = null;
  private counts = { labelResolutions: 0, destinationOverflows: 0 };

  constructor(opts: MeshMetricsOptions) {
    this.source = workloadLabels(opts.source);
    this.maxDestinations = opts.maxDestinations ?? 10_000;
    this.registerIstio();
    this.registerClusters();
    this.registerProxy();
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** `Content-Type` for `render()`'s output. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * Interns a destination: equal label values give the same handle. Call once per cluster or
   * endpoint (not per request) and pass the handle, or pass a stable plain object to
   * `recordRequest`, which caches it by identity. Treat the object as immutable afterwards.
   */
  destination(d: DestinationLabels | DestinationHandle): DestinationHandle {
    if (d instanceof DestinationHandle) return d;
    const cached = this.byObject.get(d);
    if (cached !== undefined) return cached;
    const resolved = resolveDestination(d);
    const key = Object.values(resolved).join('\u0000');
    let h = this.byKey.get(key);
    if (h === undefined) {
      if (this.byKey.size >= this.maxDestinations) {
        this.counts.destinationOverflows++;
        h = this.overflowDestination();
      } else {
        h = new DestinationHandle(Object.freeze(resolved));
        this.byKey.set(key, h);
      }
    }
    this.counts.labelResolutions++;
    this.byObject.set(d, h);
    return h;
  }

  /** Records one finished HTTP/gRPC request. O(1), allocation-free after a series' first use. */
  recordRequest(r: RequestRecord): void {
    const dest = r.destination instanceof DestinationHandle ? r.destination : this.destination(r.destination);
    const grpc = r.protocol === 'grpc';
    const code = r.responseCode >= 0 && r.responseCode <= 999 ? r.responseCode | 0 : 0;
    const g = r.grpcStatus;
    const gs = grpc && g != null && g >= 0 && g <= 62 ? (g | 0) + 1 : 0;
    const flags = (r.flags ?? 0) & ALL_FLAGS_MASK;
    const small = (grpc ? 1 : 0) | (code << 1) | (gs << GRPC_SHIFT);
    const key = flags === 0 ? small : small + flags * FLAGS_FACTOR;
    let s = dest.http.get(key);
    if (s === undefined) s = this.newHttpSeries(dest, key, grpc, code, gs, flags);
    s.requests++;
    if (r.durationMs !== undefined) s.duration.observe(r.durationMs);
    if (r.requestBytes !== undefined) s.requestBytes.observe(r.requestBytes);
    if (r.responseBytes !== undefined) s.responseBytes.observe(r.responseBytes);
  }

  /** A TCP connection to `destination` opened (`istio_tcp_connections_opened_total`). */
  recordTcpOpened(destination: DestinationLabels | DestinationHandle, flags = 0): void {
    this.tcpSeries(destination, flags).opened++;
  }

  /**
   * Bytes moved on a TCP connection since its last report. Istio reports periodically and at
   * close; call it from a timer and on close so long-lived connections show up in rates.
   */
  recordTcpBytes(destination: DestinationLabels | DestinationHandle, sent: number, received: number, flags = 0): void {
    const s = this.tcpSeries(destination, flags);
    s.sent += sent;
    s.received += received;
  }

  /** A TCP connection closed, with its final flags and any bytes not yet reported. */
  recordTcpClosed(destination: DestinationLabels | DestinationHandle, flags = 0, sent = 0, received = 0): void {
    const s = this.tcpSeries(destination, flags);
    s.closed++;
    s.sent += sent;
    s.received += received;
  }

  /** The live stats object for an upstream cluster; hold it and bump its fields. */
  cluster(name: string): ClusterStats {
    let c = this.clusters.get(name);
    if (c === undefined) {
      c = new ClusterStats(name);
      this.clusters.set(name, c);
    }
    return c;
  }

  /** Stops exporting a cluster that no longer exists (Envoy drops a removed cluster's stats). */
  removeCluster(name: string): void {
    this.clusters.delete(name);
  }

  /** Counts a config reload and updates the version/last-reload gauges. */
  recordConfigReload(r: ConfigReloadRecord): void {
    this.reloads[r.result === 'applied' ? 0 : 1].value++;
    if (r.version !== undefined && r.result === 'applied') this.configVersion = r.version;
    this.lastReloadOk = r.result === 'applied' ? 1 : 0;
    this.lastReloadSeconds = r.atMs / 1000;
  }

  /** Sets the live config version (e.g. the first snapshot, before any reload). */
  setConfigVersion(version: number): void {
    this.configVersion = version;
  }

  /** Exports `isthmus_access_log_dropped_total` from an AccessLogger. */
  trackAccessLog(source: AccessLogStatsSource): void {
    this.accessLog = source;
  }

  /** Prometheus text exposition of this process's metrics. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * This process's metrics for the primary to merge (JSON-serialisable; send it over the
   * node:cluster IPC channel). Istio/Envoy/proxy families travel compact (one label object and
   * one number array per series, see aggregation.ts); native prom-client metrics (the optional
   * process metrics) as prom-client's `getMetricsAsJSON` rows.
   */
  snapshotForAggregation(): Promise<unknown> {
    return snapshotRegistry(this.registry);
  }

  /**
   * Merges worker snapshots (from `snapshotForAggregation`, or plain prom-client
   * `getMetricsAsJSON()` arrays) into one Prometheus text, using each family's aggregator:
   * counters and histograms sum; see the families for the exceptions.
   */
  static aggregate(parts: unknown[]): Promise<string> {
    return aggregateSnapshots(parts);
  }

  /** Cache counters. */
  cacheStats(): MetricsCacheStats {
    return {
      destinations: this.byKey.size + (this.overflow ? 1 : 0),
      httpSeries: this.http.length,
      tcpSeries: this.tcp.length,
      ...this.counts,
    };
  }

  private overflowDestination(): DestinationHandle {
    this.overflow ??= new DestinationHandle(Object.freeze(resolveDestination({ service: UNKNOWN })));
    return this.overflow;
  }

  private tcpSeries(d: DestinationLabels | DestinationHandle, flags: number): TcpSeries {
    const dest = d instanceof DestinationHandle ? d : this.destination(d);
    const f = flags & ALL_FLAGS_MASK;
    let s = dest.tcp.get(f);
    if (s === undefined) {
      this.counts.labelResolutions++;
      s = { labels: istioSeriesLabels(this.source, dest.labels, 'tcp', null, null, f), opened: 0, closed: 0, sent: 0, received: 0 };
      dest.tcp.set(f, s);
      this.tcp.push(s);
    }
    return s;
  }

  private newHttpSeries(dest: DestinationHandle, key: number, grpc: boolean, code: number, gs: number, flags: number): HttpSeries {
    this.counts.labelResolutions++;
    const s: HttpSeries = {
      labels: istioSeriesLabels(this.source, dest.labels, grpc ? 'grpc' : 'http', String(code), gs === 0 ? '' : String(gs - 1), flags),
      requests: 0,
      duration: new HistogramCell(this.bounds),
      requestBytes: new HistogramCell(this.bounds),
      responseBytes: new HistogramCell(this.bounds),
    };
    dest.http.set(key, s);
    this.http.push(s);
    return s;
  }

  private registerIstio(): void {
    const http = (): Iterable<HttpSeries> => this.http;
    // A TCP series is shared by the four TCP counters (one per destination and flags), so a
    // tuple seen only at close would otherwise export opened=0; Istio creates a counter only
    // when it first counts something, so zero TCP rows are left out.
    const tcp = (): Iterable<TcpSeries> => this.tcp;
    const lab = (s: { labels: Labels }): Labels => s.labels;
    const reg = this.registry;
    new ScalarFamily('counter', { name: 'istio_requests_total', help: 'Requests handled by the proxy', series: http, labels: lab, value: (s) => s.requests }).register(reg);
    new HistogramFamily({ name: 'istio_request_duration_milliseconds', help: 'Request duration in milliseconds', series: http, labels: lab, cell: (s) => s.duration }).register(reg);
    new HistogramFamily({ name: 'istio_request_bytes', help: 'Request size in bytes', series: http, labels: lab, cell: (s) => s.requestBytes }).register(reg);
    new HistogramFamily({ name: 'istio_response_bytes', help: 'Response size in bytes', series: http, labels: lab, cell: (s) => s.responseBytes }).register(reg);
    new ScalarFamily('counter', { name: 'istio_tcp_sent_bytes_total', skipZero: true, help: 'Bytes sent to the downstream on TCP connections', series: tcp, labels: lab, value: (s) => s.sent }).register(reg);
    new ScalarFamily('counter', { name: 'istio_tcp_received_bytes_total', skipZero: true, help: 'Bytes received from the downstream on TCP connections', series: tcp, labels: lab, value: (s) => s.received }).register(reg);
    new ScalarFamily('counter', { name: 'istio_tcp_connections_opened_total', skipZero: true, help: 'TCP connections opened', series: tcp, labels: lab, value: (s) => s.opened }).register(reg);
    new ScalarFamily('counter', { name: 'istio_tcp_connections_closed_total', skipZero: true, help: 'TCP connections closed', series: tcp, labels: lab, value: (s) => s.closed }).register(reg);
  }

  private registerClusters(): void {
    const series = (): Iterable<ClusterStats> => this.clusters.values();
    for (const d of CLUSTER_STATS) {
      new ScalarFamily(d.type, {
        name: d.name, help: d.help, aggregator: d.aggregator, series, labels: (c) => c.labels, value: (c) => c[d.field],
      }).register(this.registry);
    }
  }

  /**
   * Config stats merge with `max` across processes: right both when one process owns config
   * (the others report nothing) and when every worker applies the same reloads itself (a sum
   * would multiply them by the worker count).
   */
  private registerProxy(): void {
    const reg = this.registry;
    const none: Labels = Object.freeze({});
    const opt = (v: () => number | null) => (): Iterable<number> => {
      const x = v();
      return x === null ? [] : [x];
    };
    new ScalarFamily('counter', {
      name: 'isthmus_config_reloads_total', help: 'Config reloads by result (applied or rejected)', aggregator: 'max',
      series: () => this.reloads, labels: (c) => c.labels, value: (c) => c.value,
    }).register(reg);
    new ScalarFamily('gauge', {
      name: 'isthmus_config_version', help: 'Version of the live config snapshot', aggregator: 'max',
      series: opt(() => this.configVersion), labels: () => none, value: (v) => v,
    }).register(reg);
    new ScalarFamily('gauge', {
      name: 'isthmus_config_last_reload_success', help: '1 if the last config reload was applied, 0 if it was rejected', aggregator: 'min',
      series: opt(() => this.lastReloadOk), labels: () => none, value: (v) => v,
    }).register(reg);
    new ScalarFamily('gauge', {
      name: 'isthmus_config_last_reload_timestamp_seconds', help: 'Time of the last config reload attempt', aggregator: 'max',
      series: opt(() => this.lastReloadSeconds), labels: () => none, value: (v) => v,
    }).register(reg);
    new ScalarFamily('counter', {
      name: 'isthmus_access_log_dropped_total', help: 'Access log lines dropped because stdout could not keep up',
      series: opt(() => (this.accessLog ? this.accessLog.dropped : null)), labels: () => none, value: (v) => v,
    }).register(reg);
  }
}
