/**
 * A cache that carries compile work from one config version to the next (issue #4: one
 * VirtualService changed in a 5,000-service mesh applies in < 100 ms).
 *
 * It never decides *what* changed by reading a change summary: every reuse is keyed by the
 * immutable inputs the reused value was computed from, compared by object identity (the
 * store re-uses parsed documents and their validated specs while a file is unchanged, so an
 * unchanged resource keeps its identity across reloads). When any input differs, the value
 * is recomputed exactly as a cache-less compile would, so the output cannot differ from
 * `compileSnapshot` without a cache (the oracle test in src/controlplane/incremental.test.ts
 * checks this for many single-VirtualService changes). What is kept:
 *
 * - the proxy scope, while the registry object, the Sidecars, the proxy and the options are
 *   the same;
 * - the clusters, while the scope is re-used and the DestinationRules are the same;
 * - each root VirtualService's prepared form, while its spec and metadata are the same and
 *   it has no delegate rules (those depend on other resources: always recomputed);
 * - each VirtualService's translated routes per (gateway, listener port), while the scope
 *   and clusters are re-used and its prepared rules are the same object. The notes the
 *   translation emitted are recorded and replayed, so the snapshot's notes are identical;
 * - sidecar virtual hosts built from those routes (or a service's default route), and values
 *   derived from the scope alone (per-port service lists, the default-port map), on the same
 *   terms.
 *
 * Route tables themselves (ownership, precedence, duplicate domains, lookup maps) are always
 * re-assembled from these parts, as are listeners and L4 routes.
 */
import type { ConfigSet, VirtualService } from '../api/types.js';
import type { Registry } from '../registry/types.js';
import type { Cluster, CompileOptions, ProxyIdentity, Route, VirtualHost } from '../snapshot/types.js';
import { Notes } from './order.js';
import type { ProxyScope } from './scope.js';
import type { TranslateContext } from './translate.js';
import { buildVirtualServiceRoutes, prepareVirtualServices, type PreparedVirtualService, type RouteFilter } from './vs.js';

/** A resource as the compiler sees it: its document, spec, metadata and load order. */
interface ResourceLike {
  readonly raw?: object;
  readonly spec: unknown;
  readonly meta: { readonly namespace: string; readonly name: string };
  readonly seq: number;
}

/**
 * Canonical text of a raw document (e.g. the store's change fingerprint): two documents
 * with the same key validate to equal resources. Lets a resource re-parsed because another
 * document in its file changed still count as unchanged.
 */
export type DocumentKey = (raw: object) => string;

/**
 * True when two resource lists hold the same resources in the same order with the same load
 * order (`seq` decides age ties, so a shifted `seq` is a change). Resources are the same
 * when they are the same objects or, given `documentKey`, their documents have the same key
 * (the namespace is compared too: it may come from a default rather than the document).
 */
export function sameResources(a: readonly ResourceLike[], b: readonly ResourceLike[], documentKey?: DocumentKey): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x.seq !== y.seq) return false;
    if (x.spec === y.spec && x.meta === y.meta && x.raw === y.raw) continue;
    if (!documentKey || !x.raw || !y.raw || x.meta.namespace !== y.meta.namespace || x.meta.name !== y.meta.name) return false;
    if (documentKey(x.raw) !== documentKey(y.raw)) return false;
  }
  return true;
}

/** What one cached translation produced: its routes and the notes it emitted, in order. */
interface RouteEntry {
  routes: Route[];
  notes: Array<{ ref: Parameters<Notes['add']>[0]; message: string }>;
}

/** Forwards notes to the compile's Notes and keeps a copy for replay on a later hit. */
class RecordingNotes extends Notes {
  constructor(
    private readonly target: Notes,
    private readonly log: RouteEntry['notes'],
  ) {
    super();
  }

  override add(ref: Parameters<Notes['add']>[0], message: string): void {
    this.log.push({ ref, message });
    this.target.add(ref, message);
  }
}

interface PreparedEntry {
  meta: unknown;
  domain: string;
  prepared: PreparedVirtualService;
}

/** Hit/miss counts, for tests and the benchmark. */
export interface CompileCacheStats {
  scopeReused: boolean;
  clustersReused: boolean;
  preparedHits: number;
  preparedMisses: number;
  routeHits: number;
  routeMisses: number;
}

/**
 * Compile work kept across compiles for one proxy. Pass the same instance to successive
 * `compileSnapshot` calls; it is safe with any inputs (a different proxy or options simply
 * miss). Not shared between threads; holds the previous generation's values only.
 */
export class CompileCache {
  private readonly documentKey: DocumentKey | undefined;
  private key: string | null = null;
  private registry: Registry | null = null;
  private sidecars: ConfigSet['sidecars'] | null = null;
  private destinationRules: ConfigSet['destinationRules'] | null = null;
  private scope: ProxyScope | null = null;
  private clusters: Map<string, Cluster> | null = null;
  /** By VS spec object. */
  private prepared = new WeakMap<object, PreparedEntry>();
  /** By prepared rules array, then `gateway|port`. Dropped whenever scope or clusters change. */
  private routes = new WeakMap<object, Map<string, RouteEntry>>();
  /** Virtual hosts by what they were built from (a routes array or a service), then name. Dropped with `routes`. */
  private vhosts = new WeakMap<object, Map<string, VirtualHost>>();
  /** Values derived from the scope/clusters/proxy/options only, by name. Dropped with `routes`. */
  private derived = new Map<string, unknown>();
  /** Counts of the last compile. */
  stats: CompileCacheStats = emptyStats();

  /** `documentKey`: see `sameResources`; without it only identical resource objects count as unchanged. */
  constructor(opts: { documentKey?: DocumentKey } = {}) {
    this.documentKey = opts.documentKey;
  }

  /** Starts a compile: resets the stats. @internal */
  begin(): void {
    this.stats = emptyStats();
  }

  /** The scope of the last compile when every input it was computed from is the same. */
  scopeFor(config: ConfigSet, registry: Registry, proxy: ProxyIdentity, opts: CompileOptions, build: () => ProxyScope): ProxyScope {
    const key = JSON.stringify([proxy, opts]);
    if (this.scope && key === this.key && registry === this.registry && this.sidecars && sameResources(config.sidecars, this.sidecars, this.documentKey)) {
      this.stats.scopeReused = true;
      return this.scope;
    }
    this.key = key;
    this.registry = registry;
    this.sidecars = config.sidecars;
    this.scope = build();
    this.clusters = null;
    this.dropRoutes();
    return this.scope;
  }

  /** The clusters of the last compile when the scope was re-used and the DestinationRules are the same. */
  clustersFor(config: ConfigSet, scope: ProxyScope, build: () => Map<string, Cluster>): Map<string, Cluster> {
    if (this.clusters && scope === this.scope && this.destinationRules && sameResources(config.destinationRules, this.destinationRules, this.documentKey)) {
      this.stats.clustersReused = true;
      return this.clusters;
    }
    this.destinationRules = config.destinationRules;
    this.clusters = build();
    this.dropRoutes();
    return this.clusters;
  }

  private dropRoutes(): void {
    this.routes = new WeakMap();
    this.vhosts = new WeakMap();
    this.derived = new Map();
  }

  /**
   * `build()`'s value re-used under `name` while the scope and clusters are. `build` must be a
   * function of the scope, clusters, proxy and options only (not of any VirtualService).
   */
  fromScope<T>(name: string, build: () => T): T {
    if (this.derived.has(name)) return this.derived.get(name) as T;
    const v = build();
    this.derived.set(name, v);
    return v;
  }

  /**
   * A virtual host built from `source` (a cached routes array, or a service) under `name`,
   * re-used while the scope and clusters are. `build` must be a function of `source`, `name`
   * and the scope/clusters/proxy/options only; the re-used vhost is already frozen.
   */
  vhost(source: object, name: string, build: () => VirtualHost): VirtualHost {
    let byName = this.vhosts.get(source);
    const hit = byName?.get(name);
    if (hit) return hit;
    const v = build();
    if (!byName) {
      byName = new Map();
      this.vhosts.set(source, byName);
    }
    byName.set(name, v);
    return v;
  }

  /** `prepareVirtualServices`, re-using the prepared form of unchanged delegate-free VSs. */
  prepare(config: ConfigSet, domain: string): PreparedVirtualService[] {
    const out: Array<PreparedVirtualService | VirtualService> = [];
    const misses: VirtualService[] = [];
    const delegates: VirtualService[] = [];
    for (const vs of config.virtualServices) {
      if ((vs.spec.hosts ?? []).length === 0) {
        delegates.push(vs); // a delegate: prepared only through its parents
        continue;
      }
      const hit = this.prepared.get(vs.spec);
      if (hit && hit.meta === vs.meta && hit.domain === domain) {
        this.stats.preparedHits++;
        out.push(hit.prepared.resource === vs ? hit.prepared : { ...hit.prepared, resource: vs });
        continue;
      }
      this.stats.preparedMisses++;
      misses.push(vs);
      out.push(vs);
    }
    if (misses.length === 0) return out as PreparedVirtualService[];
    // The misses and every delegate: expandRules looks delegates up by name in this set.
    const fresh = prepareVirtualServices({ ...config, virtualServices: [...misses, ...delegates] }, domain);
    const byResource = new Map<VirtualService, PreparedVirtualService>(fresh.map((p) => [p.resource, p]));
    return out.map((x) => {
      if (!('resource' in x && 'rules' in x)) {
        const p = byResource.get(x)!;
        // Rules that merged a delegate depend on another resource: never re-used.
        if (!(x.spec.http ?? []).some((r) => r.delegate)) this.prepared.set(x.spec, { meta: x.meta, domain, prepared: p });
        return p;
      }
      return x;
    });
  }

  /** `buildVirtualServiceRoutes`, re-used while the VS rules, scope and clusters are the same. */
  routesFor(vs: PreparedVirtualService, filter: RouteFilter, ctx: TranslateContext): Route[] {
    let byKey = this.routes.get(vs.rules);
    const key = `${filter.gateway}|${ctx.listenerPort}`;
    const hit = byKey?.get(key);
    if (hit) {
      this.stats.routeHits++;
      for (const n of hit.notes) ctx.notes.add(n.ref, n.message);
      return hit.routes;
    }
    this.stats.routeMisses++;
    const entry: RouteEntry = { routes: [], notes: [] };
    entry.routes = buildVirtualServiceRoutes(vs, filter, { ...ctx, notes: new RecordingNotes(ctx.notes, entry.notes) });
    if (!byKey) {
      byKey = new Map();
      this.routes.set(vs.rules, byKey);
    }
    byKey.set(key, entry);
    return entry.routes;
  }
}

function emptyStats(): CompileCacheStats {
  return { scopeReused: false, clustersReused: false, preparedHits: 0, preparedMisses: 0, routeHits: 0, routeMisses: 0 };
}

/** Routes for one VS: through the cache when there is one. */
export function virtualServiceRoutes(vs: PreparedVirtualService, filter: RouteFilter, ctx: TranslateContext, cache: CompileCache | undefined): Route[] {
  return cache ? cache.routesFor(vs, filter, ctx) : buildVirtualServiceRoutes(vs, filter, ctx);
}
