/**
 * Request edges between workloads (who calls whom, how often, how badly, how slowly), read
 * from the Istio families MeshMetrics already keeps: `istio_requests_total` and
 * `istio_request_duration_milliseconds`. Nothing new is counted on the request path; the
 * dashboard reads the counters once per tick and turns deltas between ticks into rates,
 * the way `rate()` and `histogram_quantile()` do over Prometheus scrapes.
 *
 * Node identity follows Istio's labels: a workload is `namespace/workload` (the
 * `<app>-<version>` name Istio and Kiali use); a destination whose endpoint is unknown
 * (no route, no healthy upstream, passthrough) is its service (`svc:<destination_service>`).
 *
 * Errors, as Kiali counts them: HTTP 5xx, no response at all (code 0), and, for gRPC, any
 * non-OK `grpc_response_status`.
 */
import { MetricFamily, type CompactFamily, type Labels } from './exposition.js';
import type { MetricsSnapshot } from './aggregation.js';
import type { MeshMetrics } from './metrics.js';
import { UNKNOWN, type WorkloadLabels } from './identity.js';

/** The two metric families edges are built from. */
export const EDGE_FAMILY_NAMES: readonly string[] = Object.freeze(['istio_requests_total', 'istio_request_duration_milliseconds']);

/** One end of an edge: a workload (or, when unknown, the service that was called). */
export interface WorkloadNode {
  /** `namespace/workload`, or `svc:<service>` when the workload is unknown. */
  id: string;
  workload: string;
  namespace: string;
  app: string;
  version: string;
  /** The destination service FQDN for service nodes; null for workloads. */
  service: string | null;
}

/** Cumulative counters of one edge (summed over response codes, flags and processes). */
export interface EdgeCounters {
  /** `<source id> -> <destination id>`. */
  key: string;
  source: WorkloadNode;
  destination: WorkloadNode;
  /** Destination services (FQDN) the requests were addressed to. */
  services: string[];
  requests: number;
  errors: number;
  /** Finite histogram bounds (ms) of `durationCounts`. */
  bounds: readonly number[];
  /** Non-cumulative duration bucket counts, `bounds.length + 1` long (+Inf last). */
  durationCounts: number[];
}

/** Rates of one edge over the tracker's window. */
export interface EdgeStats {
  key: string;
  source: WorkloadNode;
  destination: WorkloadNode;
  services: string[];
  /** Cumulative totals since the proxies started. */
  requests: number;
  errors: number;
  /** Requests per second over the window; null until two samples exist. */
  rps: number | null;
  /** Errors / requests over the window (0..1); null when the window saw no request. */
  errorRate: number | null;
  /** 99th percentile duration (ms) over the window, interpolated within Envoy's buckets; null without requests. */
  p99Ms: number | null;
  /** Length of the window the rates cover (ms); null until two samples exist. */
  windowMs: number | null;
}

/** Node id of a workload. */
export function workloadNodeId(namespace: string, workload: string): string {
  return `${namespace}/${workload}`;
}

/** The node for one side of an Istio label set (a workload, or the service when unknown). */
function nodeFromLabels(workload: string, namespace: string, app: string, version: string, service: string | null): WorkloadNode {
  if (workload === UNKNOWN && service !== null && service !== UNKNOWN && service !== '')
    return { id: `svc:${service}`, workload, namespace, app, version, service };
  return { id: workloadNodeId(namespace, workload), workload, namespace, app, version, service: null };
}

/** The node a proxy appears as on the source side of its own reports. */
export function nodeOfWorkload(w: WorkloadLabels): WorkloadNode {
  return nodeFromLabels(w.workload, w.namespace, w.app, w.version, null);
}

/** The node of a destination as metrics label it (see `destinationFor` in identity.ts). */
export function nodeOfDestination(d: { service: string; workload: string; workloadNamespace: string; app: string; version: string }): WorkloadNode {
  return nodeFromLabels(d.workload, d.workloadNamespace, d.app, d.version, d.service);
}

function sourceOf(l: Labels): WorkloadNode {
  return nodeFromLabels(l.source_workload ?? UNKNOWN, l.source_workload_namespace ?? UNKNOWN, l.source_app ?? UNKNOWN, l.source_version ?? UNKNOWN, null);
}

function destinationOf(l: Labels): WorkloadNode {
  return nodeOfDestination({
    service: l.destination_service ?? UNKNOWN,
    workload: l.destination_workload ?? UNKNOWN,
    workloadNamespace: l.destination_workload_namespace ?? UNKNOWN,
    app: l.destination_app ?? UNKNOWN,
    version: l.destination_version ?? UNKNOWN,
  });
}

/** Whether a series counts as failed requests (see the module comment). */
export function isErrorSeries(l: Labels): boolean {
  const code = Number(l.response_code ?? '0');
  if (!Number.isFinite(code) || code === 0 || code >= 500) return true;
  if (l.request_protocol === 'grpc') {
    const g = l.grpc_response_status ?? '';
    return g !== '' && g !== '0';
  }
  return false;
}

/**
 * The edge families of one MeshMetrics, compact (one label object and one number array per
 * series). Reads through the public registry; no request-path cost.
 */
export function readEdgeFamilies(metrics: MeshMetrics): CompactFamily[] {
  const out: CompactFamily[] = [];
  for (const name of EDGE_FAMILY_NAMES) {
    const m: unknown = metrics.registry.getSingleMetric(name);
    if (m instanceof MetricFamily) out.push(m.compact());
  }
  return out;
}

/**
 * The edge families inside a worker's `MeshMetrics.snapshotForAggregation()` (the form
 * `--concurrency N` workers send to the primary). Anything else gives no families.
 */
export function edgeFamiliesFromSnapshot(snapshot: unknown): CompactFamily[] {
  const s = snapshot as Partial<MetricsSnapshot> | null;
  if (!s || typeof s !== 'object' || !Array.isArray(s.families)) return [];
  return s.families.filter((f) => EDGE_FAMILY_NAMES.includes(f.name));
}

/**
 * Sums compact series into one counter set per edge. Families from several proxies or
 * processes may be mixed: series of the same edge add up.
 */
export function edgeCounters(families: Iterable<CompactFamily>): EdgeCounters[] {
  const edges = new Map<string, EdgeCounters>();
  const edgeOf = (l: Labels): EdgeCounters => {
    const source = sourceOf(l);
    const destination = destinationOf(l);
    const key = `${source.id} -> ${destination.id}`;
    let e = edges.get(key);
    if (e === undefined) {
      e = { key, source, destination, services: [], requests: 0, errors: 0, bounds: [], durationCounts: [] };
      edges.set(key, e);
    }
    const svc = l.destination_service;
    if (svc && svc !== UNKNOWN && !e.services.includes(svc)) e.services.push(svc);
    return e;
  };
  for (const f of families) {
    if (f.name === 'istio_requests_total') {
      for (const s of f.series) {
        const e = edgeOf(s.labels);
        const n = s.v[0] ?? 0;
        e.requests += n;
        if (isErrorSeries(s.labels)) e.errors += n;
      }
    } else if (f.name === 'istio_request_duration_milliseconds') {
      const bounds = f.bounds ?? [];
      for (const s of f.series) {
        const e = edgeOf(s.labels);
        if (e.durationCounts.length === 0) {
          e.bounds = bounds;
          e.durationCounts = new Array<number>(bounds.length + 1).fill(0);
        }
        // A series with other bounds cannot be merged bucket by bucket; leave it out.
        if (e.bounds.length !== bounds.length) continue;
        for (let i = 0; i <= bounds.length; i++) e.durationCounts[i] += s.v[i] ?? 0;
      }
    }
  }
  for (const e of edges.values()) e.services.sort();
  return [...edges.values()];
}

/**
 * Prometheus' `histogram_quantile`: the q-quantile of non-cumulative bucket `counts`
 * (`bounds.length + 1` entries, +Inf last), interpolated linearly inside the bucket it falls
 * in (lower bound 0 for the first bucket). A quantile in the +Inf bucket is the highest finite
 * bound. null when the histogram is empty.
 */
export function histogramQuantile(q: number, bounds: readonly number[], counts: readonly number[]): number | null {
  if (!(q >= 0 && q <= 1)) throw new Error(`quantile must be within 0..1, not ${q}`);
  let total = 0;
  for (const c of counts) total += c;
  if (total <= 0) return null;
  const rank = q * total;
  let cum = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (c <= 0) continue;
    if (cum + c >= rank) {
      if (i >= bounds.length) return bounds.length ? bounds[bounds.length - 1] : null;
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * Math.max(0, rank - cum) / c;
    }
    cum += c;
  }
  return bounds.length ? bounds[bounds.length - 1] : null;
}

/** A point-in-time reading of every edge. */
export interface EdgeSample {
  atMs: number;
  edges: ReadonlyMap<string, EdgeCounters>;
}

/** Counter increase, with Prometheus' reset rule: a counter that went down restarted from 0. */
const increase = (cur: number, prev: number): number => (cur >= prev ? cur - prev : cur);

/**
 * Rates between two samples (pure). Without `base` (the first sample) rates are null; an
 * edge missing from `base` started inside the window, so its whole count is the increase.
 */
export function edgeStats(base: EdgeSample | null, cur: EdgeSample): EdgeStats[] {
  const dtMs = base ? cur.atMs - base.atMs : 0;
  const out: EdgeStats[] = [];
  for (const e of cur.edges.values()) {
    const st: EdgeStats = {
      key: e.key, source: e.source, destination: e.destination, services: e.services,
      requests: e.requests, errors: e.errors, rps: null, errorRate: null, p99Ms: null, windowMs: null,
    };
    if (base && dtMs > 0) {
      const p = base.edges.get(e.key);
      const dReq = increase(e.requests, p?.requests ?? 0);
      const dErr = Math.min(dReq, increase(e.errors, p?.errors ?? 0));
      st.rps = dReq / (dtMs / 1000);
      st.errorRate = dReq > 0 ? dErr / dReq : null;
      st.windowMs = dtMs;
      const prevCounts = p && p.durationCounts.length === e.durationCounts.length ? p.durationCounts : null;
      const reset = prevCounts !== null && e.durationCounts.some((c, i) => c < prevCounts[i]);
      const delta = e.durationCounts.map((c, i) => (prevCounts && !reset ? c - prevCounts[i] : c));
      st.p99Ms = histogramQuantile(0.99, e.bounds, delta);
    }
    out.push(st);
  }
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

export interface EdgeRateTrackerOptions {
  /** Rates cover the samples of the last `windowMs` (default 5000). */
  windowMs?: number;
  /** Samples kept at most (default 120), whatever the window. */
  maxSamples?: number;
}

/**
 * Keeps recent edge samples and answers rates over a sliding window: each `add` compares the
 * new sample with the oldest one still inside the window. Memory is bounded by `maxSamples`
 * times the number of edges (itself bounded by MeshMetrics' destination cap).
 */
export class EdgeRateTracker {
  private readonly windowMs: number;
  private readonly maxSamples: number;
  private samples: EdgeSample[] = [];

  constructor(opts: EdgeRateTrackerOptions = {}) {
    this.windowMs = opts.windowMs ?? 5000;
    this.maxSamples = opts.maxSamples ?? 120;
    if (!(this.windowMs > 0)) throw new Error(`windowMs must be positive, not ${this.windowMs}`);
    if (!(this.maxSamples >= 2)) throw new Error(`maxSamples must be at least 2, not ${this.maxSamples}`);
  }

  /** Records a sample taken at `atMs` and returns the rates ending at it. */
  add(atMs: number, counters: readonly EdgeCounters[]): EdgeStats[] {
    const last = this.samples[this.samples.length - 1];
    // A clock that went backwards would give negative windows: start over.
    if (last && atMs < last.atMs) this.samples = [];
    const cur: EdgeSample = { atMs, edges: new Map(counters.map((c) => [c.key, c])) };
    this.samples = this.samples.filter((s) => s.atMs >= atMs - this.windowMs);
    const base = this.samples.find((s) => s.atMs < atMs) ?? null;
    this.samples.push(cur);
    if (this.samples.length > this.maxSamples) this.samples.splice(0, this.samples.length - this.maxSamples);
    return edgeStats(base, cur);
  }

  /** Samples held now (tests, debugging). */
  get size(): number {
    return this.samples.length;
  }

  /** Forgets every sample (rates are null until two new ones exist). */
  reset(): void {
    this.samples = [];
  }
}
