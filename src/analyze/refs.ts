/**
 * Small reference helpers shared by the analyzers: gateway names, rule names, and the
 * gateways a VirtualService (or one of its match blocks) binds to.
 */
import type { Gateway, VirtualService } from '../api/types.js';
import { compareHostSpecificity, hostSubsetOf, isWildcardHost } from '../core/hosts.js';
import type { Registry, Service } from '../registry/types.js';
import { MESH_GATEWAY, normalizeGatewayName } from '../compile/vs.js';

/** The resolved gateways of the whole VirtualService (`mesh` when none are listed). */
export function vsGateways(vs: VirtualService): string[] {
  const list = vs.spec.gateways ?? [];
  if (list.length === 0) return [MESH_GATEWAY];
  return [...new Set(list.map((g) => normalizeGatewayName(g, vs.meta.namespace)))];
}

/** The gateways one match block applies to: its own list overrides the VirtualService's. */
export function blockGateways(vs: VirtualService, matchGateways: readonly string[] | undefined): Set<string> {
  if (matchGateways && matchGateways.length > 0) return new Set(matchGateways.map((g) => normalizeGatewayName(g, vs.meta.namespace)));
  return new Set(vsGateways(vs));
}

/** Istio's rule label in messages: `"name"` when the rule is named, else `#index`. */
export function ruleLabel(name: string | undefined, index: number): string {
  return name ? JSON.stringify(name) : `#${index}`;
}

/**
 * Who applies a VirtualService's routes: sidecars in its namespace when it is bound to
 * `mesh`, and each existing Gateway it names (that gateway's namespace and selector).
 * Lookups that depend on the client (service visibility, DestinationRule choice) are
 * checked for each of them.
 */
export interface RouteClient {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** For messages: `sidecars in namespace "x"` / `Gateway ns/name`. */
  describe: string;
}

export function routeClients(vs: VirtualService, gateways: ReadonlyMap<string, Gateway>): RouteClient[] {
  const out: RouteClient[] = [];
  for (const g of vsGateways(vs)) {
    if (g === MESH_GATEWAY) {
      out.push({ namespace: vs.meta.namespace, labels: {}, describe: `sidecars in namespace ${JSON.stringify(vs.meta.namespace)}` });
      continue;
    }
    const gw = gateways.get(g);
    if (gw) out.push({ namespace: gw.meta.namespace, labels: gw.spec.selector ?? {}, describe: `Gateway ${g}` });
  }
  return out;
}

/**
 * Registry services that serve `host`: the exact entry first, then wildcard entries
 * covering it, most specific first.
 */
export function servicesFor(registry: Registry, host: string): Service[] {
  const out: Service[] = [];
  const exact = registry.services.get(host);
  if (exact) out.push(exact);
  const wild = [...registry.services.values()].filter((s) => s !== exact && isWildcardHost(s.hostname) && hostSubsetOf(host, s.hostname));
  wild.sort((a, b) => compareHostSpecificity(a.hostname, b.hostname));
  return [...out, ...wild];
}
