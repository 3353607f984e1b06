/**
 * Builds the page's `DashboardState` from one reading of every source and the edge rates
 * (pure: no I/O, no clock). The graph is the union over all sources:
 * - nodes: each proxy's own workload, both ends of every measured edge, and every endpoint
 *   workload of the clusters in the sources' snapshots (so each service version is drawn
 *   before it receives traffic);
 * - edges: measured traffic (observability/edges.ts), plus, for each weighted route
 *   (a VirtualService rule with more than one destination), an edge from the proxy to each
 *   destination version carrying the route's current weight. A split's edges are drawn only
 *   for proxies that actually call that service, otherwise every sidecar (which sees every
 *   route) would get a dashed edge to every canary.
 */
import { formatDiagnostic, type Diagnostic } from '../../core/diagnostics.js';
import type { ConfigState } from '../../controlplane/store.js';
import type { ConfigStatus } from '../../controlplane/controller.js';
import { nodeOfDestination, nodeOfWorkload, type EdgeStats, type WorkloadNode } from '../../observability/edges.js';
import { destinationFor, resolveDestination, workloadLabels } from '../../observability/identity.js';
import type { ProxyIdentity, Snapshot, VirtualHost } from '../../snapshot/types.js';
import type { ClusterStatus } from '../server.js';
import type { ClustersView, ConfigGroupView, DashboardState, GraphEdge, GraphNode, SourceView, SplitView } from './types.js';

/** What one source answered this tick. */
export interface SourceReading {
  id: string;
  title: string;
  identity: ProxyIdentity;
  ready: boolean;
  status: ConfigStatus;
  state: ConfigState | null;
  clusters: ClusterStatus[];
  listeners: Array<{ name: string; address: string; port: number; protocol: string }>;
}

/** Caps that keep one tick's JSON small whatever the mesh size. */
export interface ModelLimits {
  maxNodes: number;
  maxClustersPerSource: number;
  maxDiagnostics: number;
  maxSplits: number;
}

export const DEFAULT_LIMITS: ModelLimits = Object.freeze({ maxNodes: 200, maxClustersPerSource: 300, maxDiagnostics: 100, maxSplits: 200 });

export interface StateMeta {
  atMs: number;
  intervalMs: number;
  windowMs: number;
  errors: Array<{ source: string; message: string }>;
}

/** A weighted route as compiled into one snapshot. */
interface RawSplit {
  key: string;
  virtualService: string;
  rule: number;
  name: string | null;
  destinations: Array<{ host: string; port: number; subset: string | null; percent: number; cluster: string }>;
}

// Both caches are keyed by the frozen snapshot: computed once per config version.
const clusterNodeCache = new WeakMap<Snapshot, Map<string, WorkloadNode[]>>();
const splitCache = new WeakMap<Snapshot, RawSplit[]>();

/** The node a proxy reports from (MeshMetrics' source labels use the same identity). */
export function proxyNode(identity: ProxyIdentity): WorkloadNode {
  return nodeOfWorkload(workloadLabels({ namespace: identity.namespace, labels: identity.labels }));
}

/** Endpoint workloads of every cluster, labelled as the data plane labels its metrics (dataplane/cluster/host.ts). */
export function clusterNodes(snap: Snapshot): Map<string, WorkloadNode[]> {
  let m = clusterNodeCache.get(snap);
  if (m) return m;
  m = new Map();
  for (const c of snap.clusters.values()) {
    const seen = new Map<string, WorkloadNode>();
    for (const ep of c.endpoints) {
      const n = nodeOfDestination(resolveDestination(destinationFor(c.host, c.namespace, { labels: ep.labels, namespace: c.namespace })));
      seen.set(n.id, n);
    }
    m.set(c.name, [...seen.values()]);
  }
  clusterNodeCache.set(snap, m);
  return m;
}

function vhostsOf(snap: Snapshot): Set<VirtualHost> {
  const out = new Set<VirtualHost>();
  for (const rt of snap.routeTables.values()) {
    for (const vh of rt.exact.values()) out.add(vh);
    for (const w of rt.wildcards) out.add(w.vhost);
    if (rt.fallback) out.add(rt.fallback);
  }
  return out;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

/** Weighted routes (VirtualService rules with more than one destination) of a snapshot. */
export function splitsOf(snap: Snapshot): RawSplit[] {
  const cached = splitCache.get(snap);
  if (cached) return cached;
  const byKey = new Map<string, RawSplit>();
  for (const vh of vhostsOf(snap)) {
    for (const r of vh.routes) {
      if (r.action.kind !== 'route' || r.action.destinations.length < 2 || !r.virtualService) continue;
      const vs = `${r.virtualService.namespace}/${r.virtualService.name}`;
      const rule = r.ruleIndex ?? -1;
      const total = r.action.totalWeight;
      const destinations = r.action.destinations.map((d) => ({
        host: d.host, port: d.port, subset: d.subset, cluster: d.cluster, percent: total > 0 ? round1((d.weight * 100) / total) : 0,
      }));
      // One rule compiles into a route per match block and per port/domain: one split.
      const key = `${vs}#${rule}#${destinations.map((d) => `${d.cluster}=${d.percent}`).join(',')}`;
      if (!byKey.has(key)) byKey.set(key, { key, virtualService: vs, rule, name: r.name, destinations });
    }
  }
  const list = [...byKey.values()].sort((a, b) => a.key.localeCompare(b.key));
  splitCache.set(snap, list);
  return list;
}

function nodeLabel(n: WorkloadNode): string {
  if (n.service !== null) return n.service.split('.')[0] || n.service;
  if (n.app === 'unknown') return n.workload;
  return n.version === 'unknown' ? n.app : `${n.app} ${n.version}`;
}

const KIND_RANK: Record<GraphNode['kind'], number> = { proxy: 3, workload: 2, service: 1 };

function diagLines(ds: readonly Diagnostic[], max: number): { lines: Array<{ severity: string; text: string }>; omitted: number } {
  return { lines: ds.slice(0, max).map((d) => ({ severity: d.severity, text: formatDiagnostic(d) })), omitted: Math.max(0, ds.length - max) };
}

function configGroups(readings: readonly SourceReading[], limits: ModelLimits): ConfigGroupView[] {
  const groups = new Map<string, ConfigGroupView>();
  for (const r of readings) {
    const st = r.status;
    const key = JSON.stringify([st.version, st.inSync, st.sources.map((s) => [s.path, s.hash]), st.lastRejected?.at ?? null]);
    let g = groups.get(key);
    if (!g) {
      const state = r.state;
      const cfg = state?.config;
      const resources: Record<string, number> = {};
      if (cfg) {
        const kinds: Array<[string, readonly unknown[]]> = [
          ['VirtualService', cfg.virtualServices], ['DestinationRule', cfg.destinationRules], ['Gateway', cfg.gateways],
          ['ServiceEntry', cfg.serviceEntries], ['Sidecar', cfg.sidecars], ['WorkloadEntry', cfg.workloadEntries],
        ];
        for (const [k, list] of kinds) if (list.length) resources[k] = list.length;
      }
      const d = diagLines(state?.diagnostics ?? [], limits.maxDiagnostics);
      const rej = st.lastRejected;
      const rd = rej ? diagLines(rej.diagnostics, limits.maxDiagnostics) : null;
      g = {
        proxies: [],
        version: st.version,
        appliedAt: st.appliedAt,
        inSync: st.inSync,
        files: st.sources.map((s) => ({ path: s.path, size: s.size, hash: s.hash.slice(0, 12) })),
        resources,
        counters: { applied: st.counters.applied, rejected: st.counters.rejected },
        diagnostics: d.lines,
        diagnosticsOmitted: d.omitted,
        lastRejected: rej && rd ? { at: rej.at, errorCount: rej.errorCount, servingVersion: rej.servingVersion, diagnostics: rd.lines, omitted: rd.omitted } : null,
        notes: [],
        gateways: (cfg?.gateways ?? []).map((gw) => `${gw.meta.namespace}/${gw.meta.name}`).sort(),
      };
      groups.set(key, g);
    }
    g.proxies.push(r.id);
    for (const n of r.state?.snapshot.notes ?? []) {
      const text = `${n.ref ? `${n.ref.kind} ${n.ref.namespace}/${n.ref.name}: ` : ''}${n.message}`;
      if (!g.notes.includes(text) && g.notes.length < limits.maxDiagnostics) g.notes.push(text);
    }
  }
  return [...groups.values()];
}

function clustersViews(readings: readonly SourceReading[], limits: ModelLimits): ClustersView[] {
  return readings.map((r) => {
    const score = (c: ClusterStatus): number => {
      let s = 0;
      for (const e of c.endpoints) s += e.totalRequests + e.activeRequests + (e.ejected ? 1e12 : 0);
      return s;
    };
    const sorted = [...r.clusters].sort((a, b) => score(b) - score(a) || a.name.localeCompare(b.name));
    return { source: r.id, clusters: sorted.slice(0, limits.maxClustersPerSource), omitted: Math.max(0, sorted.length - limits.maxClustersPerSource) };
  });
}

/** The whole page state for one tick. */
export function buildDashboardState(readings: readonly SourceReading[], edges: readonly EdgeStats[], meta: StateMeta, limits: ModelLimits = DEFAULT_LIMITS): DashboardState {
  // ---- nodes, by priority: proxies, then measured edges, then configured endpoints
  const nodes = new Map<string, GraphNode>();
  const omitted = new Set<string>();
  const addNode = (w: WorkloadNode, kind: GraphNode['kind']): boolean => {
    const have = nodes.get(w.id);
    if (have) {
      if (KIND_RANK[kind] > KIND_RANK[have.kind]) have.kind = kind;
      return true;
    }
    if (nodes.size >= limits.maxNodes) {
      omitted.add(w.id);
      return false;
    }
    nodes.set(w.id, { id: w.id, kind, label: nodeLabel(w), app: w.app, version: w.version, namespace: w.namespace, workload: w.workload, proxies: [] });
    return true;
  };
  const sourceNode = new Map<string, WorkloadNode>();
  for (const r of readings) {
    const n = proxyNode(r.identity);
    sourceNode.set(r.id, n);
    addNode(n, 'proxy');
    const node = nodes.get(n.id);
    if (!node) continue;
    node.proxies.push({ id: r.id, role: r.identity.role });
    // A proxy without an app label (a gateway labelled only istio=ingressgateway) is named by its source.
    if (n.app === 'unknown' && node.proxies.length === 1) node.label = r.id;
  }
  const graphEdges = new Map<string, GraphEdge>();
  for (const e of edges) {
    const okS = addNode(e.source, e.source.service ? 'service' : 'workload');
    const okD = addNode(e.destination, e.destination.service ? 'service' : 'workload');
    if (!okS || !okD) continue;
    graphEdges.set(e.key, {
      id: e.key, source: e.source.id, target: e.destination.id, rps: e.rps, errorRate: e.errorRate, p99Ms: e.p99Ms,
      requests: e.requests, errors: e.errors, services: e.services, weights: [],
    });
  }
  const configured: WorkloadNode[] = [];
  for (const r of readings) if (r.state) for (const list of clusterNodes(r.state.snapshot).values()) configured.push(...list);
  configured.sort((a, b) => a.id.localeCompare(b.id));
  for (const n of configured) if (!nodes.has(n.id)) addNode(n, n.service ? 'service' : 'workload');

  // ---- splits: the panel's list, and weights on the edges of proxies that call the service
  const splits = new Map<string, SplitView>();
  const rpsKnown = edges.some((e) => e.rps !== null);
  for (const r of readings) {
    if (!r.state) continue;
    const snap = r.state.snapshot;
    const cn = clusterNodes(snap);
    const src = sourceNode.get(r.id);
    for (const s of splitsOf(snap)) {
      let view = splits.get(s.key);
      if (!view) {
        if (splits.size >= limits.maxSplits) continue;
        view = {
          virtualService: s.virtualService, rule: s.rule, name: s.name, proxies: [],
          destinations: s.destinations.map((d) => ({ ...d, nodes: (cn.get(d.cluster) ?? []).map((n) => n.id) })),
        };
        splits.set(s.key, view);
      }
      if (!view.proxies.includes(r.id)) view.proxies.push(r.id);
      if (!src) continue;
      const route = `${s.virtualService} http[${s.rule}]${s.name ? ` "${s.name}"` : ''}`;
      for (const d of s.destinations) {
        const targets = cn.get(d.cluster) ?? [];
        // A destination spread over several versions has no single edge to label.
        if (targets.length !== 1 || !nodes.has(targets[0].id)) continue;
        const calls = [...graphEdges.values()].some((g) => g.source === src.id && g.services.includes(d.host));
        if (!calls) continue;
        const id = `${src.id} -> ${targets[0].id}`;
        let g = graphEdges.get(id);
        if (!g) {
          g = { id, source: src.id, target: targets[0].id, rps: rpsKnown ? 0 : null, errorRate: null, p99Ms: null, requests: 0, errors: 0, services: [d.host], weights: [] };
          graphEdges.set(id, g);
        }
        if (!g.weights.some((w) => w.route === route)) g.weights.push({ percent: d.percent, route });
      }
    }
  }

  const sources: SourceView[] = readings.map((r) => ({
    id: r.id,
    title: r.title,
    role: r.identity.role,
    namespace: r.identity.namespace,
    labels: { ...r.identity.labels },
    node: sourceNode.get(r.id)?.id ?? '',
    ready: r.ready,
    version: r.status.version,
    listeners: r.listeners,
  }));

  return {
    at: new Date(meta.atMs).toISOString(),
    intervalMs: meta.intervalMs,
    windowMs: meta.windowMs,
    sources,
    graph: { nodes: [...nodes.values()], edges: [...graphEdges.values()].sort((a, b) => a.id.localeCompare(b.id)), omittedNodes: omitted.size },
    splits: [...splits.values()],
    clusters: clustersViews(readings, limits),
    config: configGroups(readings, limits),
    errors: meta.errors,
  };
}
