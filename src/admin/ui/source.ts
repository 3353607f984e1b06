/**
 * DashboardSource adapters: one in-process proxy (a ProxyRuntime, `isthmus run
 * --concurrency 1` and every proxy of `isthmus demo`), and the primary of `--concurrency N`,
 * which reads its workers over IPC.
 */
import type { ConfigController } from '../../controlplane/controller.js';
import { edgeFamiliesFromSnapshot, readEdgeFamilies } from '../../observability/edges.js';
import type { CompactFamily } from '../../observability/exposition.js';
import { workloadLabels } from '../../observability/identity.js';
import type { MeshMetrics } from '../../observability/metrics.js';
import type { ProxyIdentity } from '../../snapshot/types.js';
import { mergeClusterStatuses } from '../dump.js';
import type { ClusterStatus } from '../server.js';
import type { DashboardSource } from './types.js';

/** What `dashboardSource` reads from a proxy; ProxyRuntime has all of it. */
export interface DashboardRuntime {
  readonly opts: { role: 'sidecar' | 'gateway'; namespace: string; labels: Record<string, string> };
  readonly controller: ConfigController;
  readonly metrics: MeshMetrics;
  ready(): boolean;
  clusterStatuses(): ClusterStatus[];
  readonly proxy: { bound(): ReadonlyArray<{ name: string; address: string; port: number; protocol: string }> } | null;
}

export interface DashboardSourceOptions {
  /** Default: the workload name (`<app>-<version>`), or the role when the proxy has no app label. */
  id?: string;
  /** Default: `<id> (<role>)`. */
  title?: string;
}

/** A default id for a proxy: its workload name, else its role. URL-safe. */
export function defaultSourceId(identity: ProxyIdentity): string {
  const w = workloadLabels({ namespace: identity.namespace, labels: identity.labels }).workload;
  const id = w === 'unknown' ? identity.role : w;
  return id.replace(/[^A-Za-z0-9._-]/g, '-');
}

function titleOf(id: string, role: string, given?: string): string {
  return given ?? `${id} (${role})`;
}

/** The dashboard view of one in-process proxy. */
export function dashboardSource(rt: DashboardRuntime, opts: DashboardSourceOptions = {}): DashboardSource {
  const identity = (): ProxyIdentity => ({ role: rt.opts.role, namespace: rt.opts.namespace, labels: rt.opts.labels });
  const id = opts.id ?? defaultSourceId(identity());
  return {
    id,
    title: titleOf(id, rt.opts.role, opts.title),
    identity,
    ready: () => rt.ready(),
    configStatus: () => rt.controller.status(),
    configState: () => rt.controller.current(),
    clusters: () => rt.clusterStatuses(),
    requestMetrics: () => readEdgeFamilies(rt.metrics),
    listeners: () => rt.proxy?.bound() ?? [],
  };
}

/** What the primary of `--concurrency N` has: its own controller, and a way to ask every worker. */
export interface PrimaryDashboardInputs {
  identity: ProxyIdentity;
  controller: ConfigController;
  ready(): boolean;
  /** One `{metrics: MeshMetrics.snapshotForAggregation(), clusters}` per live worker. */
  gather(): Promise<Array<{ metrics: unknown; clusters: ClusterStatus[] }>>;
}

/**
 * The dashboard view of a multi-process proxy: clusters merged as /clusters merges them,
 * edge families taken from each worker's metrics snapshot (series of the same edge add up).
 * One IPC round trip serves both `clusters()` and `requestMetrics()` of a tick.
 */
export function primaryDashboardSource(p: PrimaryDashboardInputs, opts: DashboardSourceOptions = {}): DashboardSource {
  const id = opts.id ?? defaultSourceId(p.identity);
  let last: { at: number; data: Promise<Array<{ metrics: unknown; clusters: ClusterStatus[] }>> } | null = null;
  const read = (): Promise<Array<{ metrics: unknown; clusters: ClusterStatus[] }>> => {
    const now = Date.now();
    if (!last || now - last.at > 250) last = { at: now, data: p.gather() };
    return last.data;
  };
  return {
    id,
    title: titleOf(id, p.identity.role, opts.title),
    identity: () => p.identity,
    ready: () => p.ready(),
    configStatus: () => p.controller.status(),
    configState: () => p.controller.current(),
    clusters: async () => mergeClusterStatuses((await read()).map((g) => g.clusters)),
    requestMetrics: async (): Promise<CompactFamily[]> => (await read()).flatMap((g) => edgeFamiliesFromSnapshot(g.metrics)),
  };
}
