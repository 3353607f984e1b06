/**
 * The store's incremental reload (issue #4: one VirtualService changed in a 5,000-service
 * mesh applies in < 100 ms).
 *
 * A reload is still a full compile of the full config, but work whose inputs did not change
 * is carried over, keyed by the identity of the inputs (never by the change summary):
 *
 * - the registry, while the ServiceEntries and WorkloadEntries are the same (same objects, or
 *   documents with the same canonical JSON) in the same load order (`registryFor` below);
 * - each validated resource's (frozen) object, while all its fields are the same objects
 *   (`ResourceInterner`), so freezing the new config skips it;
 * - the proxy scope, the clusters, each VirtualService's prepared form, translated routes and
 *   sidecar virtual hosts (src/compile/cache.ts, one `CompileCache` per store).
 *
 * The route tables, listeners and L4 routes are always re-assembled from those parts, so a
 * VirtualService's hosts, wildcard ownership, delegates, exportTo and gateway binding are
 * decided exactly as in a cold compile. Anything else that changed (a ServiceEntry, a
 * DestinationRule, a Sidecar, a resource shifting in load order) makes the affected part —
 * and everything computed from it — be recomputed: that is the fall-back to a full compile.
 */
import type { ConfigSet, Resource } from '../api/types.js';
import { sameResources, type DocumentKey } from '../compile/cache.js';
import type { Registry } from '../registry/types.js';

/**
 * The previous registry when `config` defines the same services (the registry is a function
 * of ServiceEntries + WorkloadEntries and the domain, which is fixed per store), else a new one.
 */
export function registryFor(
  prev: { config: ConfigSet; registry: Registry } | null,
  config: ConfigSet,
  documentKey: DocumentKey,
  build: () => Registry,
): Registry {
  if (prev && sameResources(config.serviceEntries, prev.config.serviceEntries, documentKey) && sameResources(config.workloadEntries, prev.config.workloadEntries, documentKey)) {
    return prev.registry;
  }
  return build();
}

/**
 * Keeps one object per unchanged validated resource across reloads. Validation hands out a
 * new wrapper object per resource on every reload (its spec is cached, the wrapper is not);
 * giving back the previous, already frozen wrapper when every field is the same object
 * makes freezing the new config skip it and lets identity-keyed caches hit.
 */
export class ResourceInterner {
  /** Latest wrapper by raw document. */
  private readonly byDocument = new WeakMap<object, object>();

  /** `r`, or the earlier wrapper of the same document whose fields are all identical. */
  intern<T extends { readonly raw: object }>(r: T): T {
    const prev = this.byDocument.get(r.raw) as T | undefined;
    if (prev !== undefined && sameFields(prev, r)) return prev;
    this.byDocument.set(r.raw, r);
    return r;
  }

  /** The config with every resource interned (same lists, same order). */
  config(c: ConfigSet): ConfigSet {
    const i = <T extends { readonly raw: object }>(list: readonly T[]): T[] => list.map((r) => this.intern(r));
    return {
      virtualServices: i(c.virtualServices),
      destinationRules: i(c.destinationRules),
      gateways: i(c.gateways),
      serviceEntries: i(c.serviceEntries),
      sidecars: i(c.sidecars),
      workloadEntries: i(c.workloadEntries),
    };
  }
}

/** Every field of a validated resource; a field added to Resource without being listed here fails to compile. */
const FIELDS = ['apiVersion', 'kind', 'meta', 'raw', 'source', 'seq', 'spec'] as const satisfies ReadonlyArray<keyof Resource>;
type Unlisted = Exclude<keyof Resource, (typeof FIELDS)[number]>;
const allListed: [Unlisted] extends [never] ? true : never = true;
void allListed;

/** Same object in every field. */
function sameFields(a: object, b: object): boolean {
  for (const k of FIELDS) {
    if ((a as Record<string, unknown>)[k] !== (b as Record<string, unknown>)[k]) return false;
  }
  return true;
}
