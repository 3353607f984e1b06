/**
 * The cluster manager: one runtime per snapshot Cluster (its hosts, its load balancer),
 * rebuilt on every snapshot swap from state kept by identity (HostStateStore, PoolManager),
 * so in-flight counts and pooled connections survive reloads.
 */
import type { Cluster, Snapshot } from '../../snapshot/types.js';
import { createPicker } from '../lb/index.js';
import type { Picker } from '../lb/types.js';
import { HostRuntime, HostStateStore } from './host.js';
import { PoolManager, poolSettings, type PoolSettings } from '../upstream/pools.js';
import { destinationFor, type DestinationLabels } from '../../observability/identity.js';

export class ClusterRuntime {
  readonly hosts: readonly HostRuntime[];
  readonly picker: Picker;
  readonly pool: PoolSettings;
  /** Metric labels when no endpoint served the request (UH, UO...). */
  readonly destination: DestinationLabels;
  /** The proxy's own locality the picker prefers (`region/zone/subzone`, '' when unknown). */
  readonly locality: string;
  constructor(
    readonly config: Cluster,
    store: HostStateStore,
    localLocality = '',
  ) {
    this.hosts = config.endpoints.map((ep) => new HostRuntime(ep, store.get(config.name, ep)));
    // Istio: with outlier detection the panic threshold is minHealthPercent (0 = off); else Envoy's 50 %.
    const panic = config.outlier ? config.outlier.minHealthPercent : 50;
    this.picker = createPicker(config.lb, this.hosts, { panicThresholdPercent: panic, localLocality });
    this.pool = poolSettings(config.connectionPool);
    this.destination = destinationFor(config.host, config.namespace);
    this.locality = localLocality;
  }
}

export class ClusterManager {
  readonly hostStates = new HostStateStore();
  readonly pools = new PoolManager();
  private clusters = new Map<string, ClusterRuntime>();
  private snapshot: Snapshot | null = null;

  /** Rebuilds runtimes for a new snapshot; unchanged Cluster objects keep their runtime. */
  update(snap: Snapshot): void {
    if (snap === this.snapshot) return;
    const next = new Map<string, ClusterRuntime>();
    const keepStates = new Set<string>();
    const keepPools = new Set<string>();
    const locality = proxyLocality(snap.proxy.labels);
    for (const [name, c] of snap.clusters) {
      const old = this.clusters.get(name);
      const rt = old && sameCluster(old.config, c) && old.locality === locality ? old : new ClusterRuntime(c, this.hostStates, locality);
      next.set(name, rt);
      for (const ep of c.endpoints) keepStates.add(HostStateStore.keyOf(name, ep));
      for (const h of rt.hosts) keepPools.add(`${name}|${h.key}`);
    }
    this.clusters = next;
    this.snapshot = snap;
    this.hostStates.retain(keepStates);
    this.pools.retain(keepPools);
  }

  get(name: string): ClusterRuntime | undefined {
    return this.clusters.get(name);
  }

  all(): IterableIterator<ClusterRuntime> {
    return this.clusters.values();
  }

  async close(): Promise<void> {
    await this.pools.close();
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
