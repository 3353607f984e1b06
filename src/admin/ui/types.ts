/**
 * The dashboard's two contracts: what a proxy provides (`DashboardSource`) and what the page
 * receives every tick (`DashboardState`, JSON over Server-Sent Events).
 */
import type { ConfigState } from '../../controlplane/store.js';
import type { ConfigStatus } from '../../controlplane/controller.js';
import type { CompactFamily } from '../../observability/exposition.js';
import type { ProxyIdentity } from '../../snapshot/types.js';
import type { ClusterStatus } from '../server.js';

/**
 * One proxy as the dashboard sees it. `dashboardSource(runtime)` builds one for a
 * ProxyRuntime; `isthmus demo` passes one per proxy of the mesh to `createDashboard`.
 * Every method is read-only and cheap enough to call once per tick (default every second).
 */
export interface DashboardSource {
  /** Unique among the dashboard's sources; URL-safe (letters, digits, `.`, `_`, `-`). */
  readonly id: string;
  /** What the page shows for it, e.g. `productpage-v1 (sidecar)`. */
  readonly title: string;
  /** The proxy's identity (role, namespace, labels): its node in the graph. */
  identity(): ProxyIdentity;
  /** /ready's answer. */
  ready(): boolean;
  /** The config pipeline's status (files, counters, last rejected attempt). */
  configStatus(): ConfigStatus;
  /** The serving config (snapshot, validated resources, registry, diagnostics); null before the first apply. */
  configState(): ConfigState | null;
  /** The same data as `/clusters?format=json`. */
  clusters(): ClusterStatus[] | Promise<ClusterStatus[]>;
  /** `istio_requests_total` and `istio_request_duration_milliseconds`, compact (see observability/edges.ts). */
  requestMetrics(): readonly CompactFamily[] | Promise<readonly CompactFamily[]>;
  /** Bound listeners, when known. */
  listeners?(): ReadonlyArray<{ name: string; address: string; port: number; protocol: string }>;
}

/** A graph node: a workload version (or a service whose workload is unknown). */
export interface GraphNode {
  id: string;
  /** `proxy`: a dashboard source is this workload; `service`: only the service is known. */
  kind: 'proxy' | 'workload' | 'service';
  label: string;
  app: string;
  version: string;
  namespace: string;
  workload: string;
  /** Ids of the sources that are this workload, with their roles. */
  proxies: Array<{ id: string; role: string }>;
}

/** The weight a weighted route gives this edge's destination. */
export interface EdgeWeight {
  /** Percent of the route's traffic (0..100). */
  percent: number;
  /** `ns/vs http[i]` and the route's name, when it has one. */
  route: string;
}

/** A graph edge: measured traffic and/or a configured weighted split. */
export interface GraphEdge {
  id: string;
  source: string;
  target: string;
  /** Requests per second over the window; null until two samples exist or for configured-only edges. */
  rps: number | null;
  /** 0..1 over the window; null without requests in it. */
  errorRate: number | null;
  p99Ms: number | null;
  /** Cumulative totals. */
  requests: number;
  errors: number;
  services: string[];
  weights: EdgeWeight[];
}

export interface SplitView {
  /** `ns/name` of the VirtualService, its rule index and name. */
  virtualService: string;
  rule: number;
  name: string | null;
  destinations: Array<{ host: string; port: number; subset: string | null; percent: number; cluster: string; nodes: string[] }>;
  /** Sources whose config has this split. */
  proxies: string[];
}

export interface ClustersView {
  source: string;
  clusters: ClusterStatus[];
  /** Clusters left out (past the per-source cap), idle ones first. */
  omitted: number;
}

export interface ConfigGroupView {
  /** Sources serving this exact set of files and version. */
  proxies: string[];
  version: number;
  appliedAt: string | null;
  inSync: boolean;
  files: Array<{ path: string; size: number; hash: string }>;
  resources: Record<string, number>;
  counters: { applied: number; rejected: number };
  /** Warnings of the serving version, one formatted line each (`file:line:col: warning ...`). */
  diagnostics: Array<{ severity: string; text: string }>;
  diagnosticsOmitted: number;
  lastRejected: { at: string; errorCount: number; servingVersion: number; diagnostics: Array<{ severity: string; text: string }>; omitted: number } | null;
  /** Compiler notes (dropped duplicates, missing delegates...). */
  notes: string[];
  /** Gateways in the config (`ns/name`), for the explain form. */
  gateways: string[];
}

export interface SourceView {
  id: string;
  title: string;
  role: string;
  namespace: string;
  labels: Record<string, string>;
  node: string;
  ready: boolean;
  version: number;
  listeners: Array<{ name: string; address: string; port: number; protocol: string }>;
}

/** What the page receives on every tick. */
export interface DashboardState {
  /** ISO time of the reading. */
  at: string;
  intervalMs: number;
  windowMs: number;
  sources: SourceView[];
  graph: { nodes: GraphNode[]; edges: GraphEdge[]; omittedNodes: number };
  splits: SplitView[];
  clusters: ClustersView[];
  config: ConfigGroupView[];
  /** Sources whose reading failed this tick, with why. */
  errors: Array<{ source: string; message: string }>;
}
