/**
 * VirtualServices for one proxy: name resolution (§3.1), delegate merging (§3.9), the
 * same-host ordering (§3.3 step 5), config-time match filters and catch-all truncation
 * (§3.3 step 6). Produces the ordered Route list of one VS for one listener.
 */
import type { ConfigSet, Destination, HTTPMatchRequest, HTTPRoute, VirtualService } from '../api/types.js';
import { labelsSubset, compareByAge, refOf, refKey } from './order.js';
import { resolveShortName } from '../core/hosts.js';
import type { ConfigRef, ProxyIdentity, Route } from '../snapshot/types.js';
import { mergeDelegateRule } from './delegate.js';
import { isExportedTo } from './scope.js';
import { isCatchAllMatch } from './translate-match.js';
import { translateRoutes, type TranslateContext } from './translate.js';

/** The reserved gateway name for sidecars. */
export const MESH_GATEWAY = 'mesh';

/**
 * Istio `resolveGatewayName`: `mesh` kept; `./name` and `name` => `<vs-ns>/name`; `ns/name`
 * kept; legacy `name.ns.svc.cluster.local` => `ns/name`.
 */
export function normalizeGatewayName(g: string, namespace: string): string {
  if (g === MESH_GATEWAY) return g;
  if (g.startsWith('./')) return `${namespace}/${g.slice(2)}`;
  if (g.includes('/')) return g;
  if (g.includes('.')) {
    const [name, ns] = g.split('.');
    return `${ns}/${name}`;
  }
  return `${namespace}/${g}`;
}

/** One rule of a prepared VS (delegates already merged in). */
export interface PreparedRule {
  /** Hosts resolved, gateway names normalised. */
  http: HTTPRoute;
  ruleIndex: number;
  delegate: { ref: ConfigRef; ruleIndex: number } | null;
}

/** A root VirtualService with its names resolved, ready to be compiled for any proxy. */
export interface PreparedVirtualService {
  resource: VirtualService;
  ref: ConfigRef;
  /** Resolved hosts (short names expanded against the VS namespace, lower-case). */
  hosts: readonly string[];
  /** Normalised top-level gateways (`mesh` when none are listed). */
  gateways: readonly string[];
  rules: readonly PreparedRule[];
  /** Problems found while preparing (missing delegates...), reported when the VS is used. */
  problems: readonly string[];
}

function resolveDestination(d: Destination, ns: string, domain: string): Destination {
  return { ...d, host: resolveShortName(d.host, ns, domain) };
}

/** Resolves short names in destinations and normalises match-level gateway names. */
export function resolveRule(http: HTTPRoute, ns: string, domain: string): HTTPRoute {
  return {
    ...http,
    match: http.match?.map((m) => (m.gateways ? { ...m, gateways: m.gateways.map((g) => normalizeGatewayName(g, ns)) } : m)),
    route: http.route?.map((rd) => ({ ...rd, destination: resolveDestination(rd.destination, ns, domain) })),
    mirror: http.mirror && resolveDestination(http.mirror, ns, domain),
    mirrors: http.mirrors?.map((m) => ({ ...m, destination: resolveDestination(m.destination, ns, domain) })),
  };
}

function isDelegateVs(vs: VirtualService): boolean {
  return (vs.spec.hosts ?? []).length === 0;
}

function expandRules(vs: VirtualService, byKey: ReadonlyMap<string, VirtualService>, domain: string, problems: string[]): PreparedRule[] {
  const out: PreparedRule[] = [];
  (vs.spec.http ?? []).forEach((raw, ruleIndex) => {
    const root = resolveRule(raw, vs.meta.namespace, domain);
    if (!root.delegate) {
      out.push({ http: root, ruleIndex, delegate: null });
      return;
    }
    const ns = root.delegate.namespace || vs.meta.namespace;
    const key = `${ns}/${root.delegate.name ?? ''}`;
    const d = byKey.get(key);
    if (!d || !isDelegateVs(d)) {
      problems.push(`http[${ruleIndex}]: delegate VirtualService ${key} not found; rule skipped`);
      return;
    }
    if (!isExportedTo(d.spec.exportTo, d.meta.namespace, vs.meta.namespace)) {
      problems.push(`http[${ruleIndex}]: delegate VirtualService ${key} is not exported to namespace ${vs.meta.namespace}; rule skipped`);
      return;
    }
    const dref = refOf(d);
    (d.spec.http ?? []).forEach((leafRaw, leafIndex) => {
      const leaf = resolveRule(leafRaw, d.meta.namespace, domain);
      if (leaf.delegate) {
        problems.push(`http[${ruleIndex}]: delegate ${key} rule ${leafIndex} delegates again (only one level allowed); skipped`);
        return;
      }
      const merged = mergeDelegateRule(root, leaf);
      if (merged) out.push({ http: merged, ruleIndex, delegate: { ref: dref, ruleIndex: leafIndex } });
    });
  });
  return out;
}

/** Prepares every root VirtualService (those with hosts) once per compile. */
export function prepareVirtualServices(config: ConfigSet, domain: string): PreparedVirtualService[] {
  const byKey = new Map(config.virtualServices.map((v) => [refKey(v), v] as const));
  const out: PreparedVirtualService[] = [];
  for (const vs of config.virtualServices) {
    if (isDelegateVs(vs)) continue;
    const problems: string[] = [];
    const gws = vs.spec.gateways ?? [];
    out.push({
      resource: vs,
      ref: refOf(vs),
      hosts: (vs.spec.hosts ?? []).map((h) => resolveShortName(h, vs.meta.namespace, domain)),
      gateways: gws.length === 0 ? [MESH_GATEWAY] : gws.map((g) => normalizeGatewayName(g, vs.meta.namespace)),
      rules: expandRules(vs, byKey, domain, problems),
      problems,
    });
  }
  return out;
}

/**
 * Visibility group of a VS for a client namespace (§3.3 step 5): 0 = private in the client
 * namespace, 1 = exported explicitly to it, 2 = public; null = not visible.
 */
export function exportGroup(vs: VirtualService, clientNamespace: string): 0 | 1 | 2 | null {
  const e = vs.spec.exportTo;
  if (!e || e.length === 0 || e.includes('*')) return 2;
  if (vs.meta.namespace === clientNamespace && (e.includes('.') || e.includes(clientNamespace))) return 0;
  if (e.includes(clientNamespace)) return 1;
  return null;
}

/** The VSs visible from `clientNamespace`, in Istio's same-host precedence order. */
export function orderVirtualServices<T extends { resource: VirtualService }>(vss: readonly T[], clientNamespace: string): T[] {
  const keyed: Array<{ vs: T; group: number }> = [];
  for (const vs of vss) {
    const group = exportGroup(vs.resource, clientNamespace);
    if (group !== null) keyed.push({ vs, group });
  }
  keyed.sort((a, b) => a.group - b.group || compareByAge(a.vs.resource, b.vs.resource));
  return keyed.map((k) => k.vs);
}

/** Which proxy the routes are for: the gateway name (`mesh` or `ns/name`) and identity. */
export interface RouteFilter {
  gateway: string;
  proxy: ProxyIdentity;
}

/**
 * Config-time filter of one match block: `port` must equal the listener port; match-level
 * `gateways` must list this gateway; on sidecars `sourceLabels` must be a subset of the
 * proxy labels and `sourceNamespace` its namespace (both are ignored on gateways, §1.1).
 */
export function matchAppliesTo(m: HTTPMatchRequest, filter: RouteFilter, listenerPort: number): boolean {
  if (m.port !== undefined && m.port !== 0 && m.port !== listenerPort) return false;
  if (m.gateways && m.gateways.length > 0 && !m.gateways.includes(filter.gateway)) return false;
  if (filter.gateway === MESH_GATEWAY) {
    if (!labelsSubset(m.sourceLabels, filter.proxy.labels)) return false;
    if (m.sourceNamespace && m.sourceNamespace !== filter.proxy.namespace) return false;
  }
  return true;
}

/**
 * The routes of one VS for one listener, in rule order. A rule whose every match block is
 * filtered out is skipped; after the first catch-all (a rule without match, or a block
 * matching every path with no other condition) the remaining rules are unreachable and
 * dropped, as Istio does.
 */
export function buildVirtualServiceRoutes(vs: PreparedVirtualService, filter: RouteFilter, ctx: TranslateContext): Route[] {
  for (const p of vs.problems) ctx.notes.add(vs.ref, p);
  const out: Route[] = [];
  for (const rule of vs.rules) {
    const origin = { vs: vs.ref, ruleIndex: rule.ruleIndex, delegate: rule.delegate };
    const blocks = rule.http.match;
    if (!blocks || blocks.length === 0) {
      out.push(...translateRoutes(rule.http, null, origin, ctx));
      break;
    }
    const kept = blocks.map((match, index) => ({ match, index })).filter((b) => matchAppliesTo(b.match, filter, ctx.listenerPort));
    if (kept.length === 0) continue;
    let catchAll = false;
    for (const r of translateRoutes(rule.http, kept, origin, ctx)) {
      out.push(r);
      if (isCatchAllMatch(r.match)) {
        catchAll = true;
        break;
      }
    }
    if (catchAll) break;
  }
  return out;
}
