/**
 * Per-proxy visibility (istio-semantics.md §1.5, §3.5, §3.7): which services and
 * VirtualServices a proxy can see, through `exportTo` and — for a sidecar — the Sidecar
 * resource in effect (egress host imports, port restriction, outbound traffic policy).
 *
 * Everything here is a pure function of (config, registry, proxy identity, options).
 */
import type { ConfigSet, Sidecar, VirtualService } from '../api/types.js';
import { hostMatches, hostSubsetOf, normalizeHost, resolveShortName } from '../core/hosts.js';
import type { Registry, Service } from '../registry/types.js';
import type { CompileOptions, ProxyIdentity } from '../snapshot/types.js';
import { compareByAge, labelsSubset } from './order.js';

// ------------------------------------------------------------------------------ exportTo

/**
 * VS / DR / SE `exportTo` as written: absent or empty = `*` (MeshConfig default), `.` = the
 * object's own namespace, a name = that namespace, `~` = nobody.
 */
export function isExportedTo(exportTo: readonly string[] | undefined, ownNamespace: string, clientNamespace: string): boolean {
  if (!exportTo || exportTo.length === 0) return true;
  for (const e of exportTo) {
    if (e === '*') return true;
    if (e === '.' ? ownNamespace === clientNamespace : e === clientNamespace) return true;
  }
  return false;
}

/** A registry service's (already normalised) exportTo. */
export function serviceExportedTo(svc: Service, clientNamespace: string): boolean {
  if (svc.exportTo === '*') return true;
  return svc.exportTo.has(clientNamespace) || (svc.exportTo.has('.') && svc.namespace === clientNamespace);
}

// ------------------------------------------------------------------------------ Sidecar selection

/**
 * The Sidecar resource governing a sidecar proxy: one with a `workloadSelector` matching the
 * proxy labels in its namespace (oldest first) > the namespace's selector-less Sidecar >
 * the root namespace's selector-less Sidecar > none (implicit `*` egress).
 */
export function selectSidecar(sidecars: readonly Sidecar[], proxy: ProxyIdentity, rootNamespace: string): Sidecar | null {
  if (proxy.role !== 'sidecar') return null;
  const byAge = [...sidecars].sort(compareByAge);
  const inNs = byAge.filter((s) => s.meta.namespace === proxy.namespace);
  const withSelector = inNs.find((s) => s.spec.workloadSelector !== undefined && labelsSubset(s.spec.workloadSelector.labels, proxy.labels));
  if (withSelector) return withSelector;
  const nsDefault = inNs.find((s) => s.spec.workloadSelector === undefined);
  if (nsDefault) return nsDefault;
  return byAge.find((s) => s.meta.namespace === rootNamespace && s.spec.workloadSelector === undefined) ?? null;
}

/**
 * Effective outbound policy: a Sidecar that writes `outboundTrafficPolicy` at all decides
 * (an empty block is the proto default REGISTRY_ONLY); otherwise the mesh default.
 */
export function effectiveOutboundPolicy(sidecar: Sidecar | null, opts: CompileOptions): 'ALLOW_ANY' | 'REGISTRY_ONLY' {
  const otp = sidecar?.spec.outboundTrafficPolicy;
  if (otp === undefined) return opts.outboundTrafficPolicy;
  return otp.mode ?? 'REGISTRY_ONLY';
}

// ------------------------------------------------------------------------------ egress hosts

/** One parsed egress host `ns/dnsName`; `namespace` null = any namespace. */
export interface EgressHost {
  namespace: string | null;
  host: string;
}

/** One Sidecar egress listener, parsed. */
export interface EgressScope {
  /**
   * Position in the Sidecar's `egress` list; null for the implicit `*\/*` of a proxy without
   * one. Optional with `hosts`: analyzers build ad-hoc scopes of one host.
   */
  index?: number | null;
  /** Listener port, or null for the port-less (catch-all) listener. */
  port: number | null;
  /** The `hosts` entries as written (what `explain` shows). */
  hosts?: readonly string[];
  imports: readonly EgressHost[];
  /** `~ns/host` exclusions (`~/host`: any namespace). */
  excludes: readonly EgressHost[];
}

/** The implicit egress of a proxy without Sidecar: `*\/*`. */
export const IMPLICIT_EGRESS: EgressScope = Object.freeze({
  index: null,
  port: null,
  hosts: Object.freeze(['*/*']),
  imports: Object.freeze([Object.freeze({ namespace: null, host: '*' })]),
  excludes: Object.freeze([]),
});

/** Parses `ns/dnsName` (`.` = the Sidecar's namespace, `*` = any, `~` prefix = exclusion). */
export function parseEgressHost(entry: string, sidecarNamespace: string): { exclude: boolean; host: EgressHost } {
  const slash = entry.indexOf('/');
  let ns = slash < 0 ? '*' : entry.slice(0, slash);
  const host = normalizeHost(slash < 0 ? entry : entry.slice(slash + 1));
  const exclude = ns.startsWith('~');
  if (exclude) ns = ns.slice(1);
  const namespace = ns === '' || ns === '*' ? null : ns === '.' ? sidecarNamespace : ns;
  return { exclude, host: { namespace, host } };
}

/** Parses the egress listeners of a Sidecar (none / no egress => implicit `*\/*`). */
export function egressScopes(sidecar: Sidecar | null): EgressScope[] {
  const egress = sidecar?.spec.egress;
  if (!sidecar || !egress || egress.length === 0) return [IMPLICIT_EGRESS];
  return egress.map((l, index) => {
    const imports: EgressHost[] = [];
    const excludes: EgressHost[] = [];
    for (const h of l.hosts) {
      const p = parseEgressHost(h, sidecar.meta.namespace);
      (p.exclude ? excludes : imports).push(p.host);
    }
    return { index, port: l.port?.number ?? null, hosts: [...l.hosts], imports, excludes };
  });
}

/**
 * The egress listener that governs destination port `port` (IstioEgressListener.port): the
 * one bound to that port wins, else the port-less catch-all; null when every listener is
 * bound to another port (nothing is imported for `port`: it is an unknown destination).
 * Generic so `explain` can apply the same rule to the listeners recorded in a snapshot.
 */
export function egressForPort<L extends { readonly port: number | null }>(scopes: readonly L[], port: number): L | null {
  return scopes.find((s) => s.port === port) ?? scopes.find((s) => s.port === null) ?? null;
}

/**
 * A sidecar's egress listeners as recorded in its snapshot (`Snapshot.sidecarEgress`) for
 * `explain`: position, port and hosts as written. Empty for gateways.
 */
export interface SidecarEgressListener {
  index: number | null;
  port: number | null;
  hosts: readonly string[];
}

/**
 * The egress listeners of a proxy scope, for the snapshot: none for gateways and for a
 * sidecar whose Sidecar lists no `egress` (the implicit `*\/*` imports everything exported).
 */
export function describeEgress(scope: ProxyScope, proxy: ProxyIdentity): SidecarEgressListener[] {
  if (proxy.role !== 'sidecar') return [];
  return scope.egress
    .filter((l) => l.index !== undefined && l.index !== null)
    .map((l) => ({ index: l.index ?? null, port: l.port, hosts: [...(l.hosts ?? [])] }));
}

function nsMatches(entryNs: string | null, ns: string): boolean {
  return entryNs === null || entryNs === ns;
}

function excluded(scope: EgressScope, namespace: string, host: string): boolean {
  return scope.excludes.some((e) => nsMatches(e.namespace, namespace) && hostSubsetOf(host, e.host));
}

/**
 * Does the listener import `host` defined in `namespace`? Matching is Istio's bidirectional
 * `Matches` (so `*.cluster.local` is imported by `ns/known.ns.svc.cluster.local` and vice
 * versa); an exclusion removes hosts it fully covers.
 */
export function egressImports(scope: EgressScope, namespace: string, host: string): boolean {
  if (!scope.imports.some((i) => nsMatches(i.namespace, namespace) && hostMatches(host, i.host))) return false;
  return !excluded(scope, namespace, host);
}

// ------------------------------------------------------------------------------ the proxy scope

/** What one proxy can see. */
export interface ProxyScope {
  /** The Sidecar in effect (sidecar role only). */
  sidecar: Sidecar | null;
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  egress: readonly EgressScope[];
  /**
   * Services visible to the proxy (exportTo, and for a sidecar its egress imports), each
   * restricted to the ports its egress listeners expose. Registry order.
   */
  services: readonly Service[];
  /** All registry services by hostname (destination port defaulting looks here). */
  allServices: ReadonlyMap<string, Service>;
}

/** Restricts a service to the ports the sidecar egress exposes for it (null if none). */
function scopeService(svc: Service, egress: readonly EgressScope[]): Service | null {
  const ports = svc.ports.filter((p) => {
    const l = egressForPort(egress, p.number);
    return l !== null && (l.port === null || l.port === p.number) && egressImports(l, svc.namespace, svc.hostname);
  });
  if (ports.length === 0) return null;
  return ports.length === svc.ports.length ? svc : { ...svc, ports };
}

/** Computes the proxy's view of the registry. */
export function buildProxyScope(config: ConfigSet, registry: Registry, proxy: ProxyIdentity, opts: CompileOptions): ProxyScope {
  const sidecar = selectSidecar(config.sidecars, proxy, opts.rootNamespace);
  const egress = proxy.role === 'sidecar' ? egressScopes(sidecar) : [IMPLICIT_EGRESS];
  const services: Service[] = [];
  for (const svc of registry.services.values()) {
    if (!serviceExportedTo(svc, proxy.namespace)) continue;
    const scoped = scopeService(svc, egress);
    if (scoped) services.push(scoped);
  }
  return {
    sidecar,
    outboundTrafficPolicy: effectiveOutboundPolicy(sidecar, opts),
    egress,
    services,
    allServices: registry.services,
  };
}

/** VS hosts resolved against the VS namespace (short names expanded, lower-cased). */
export function virtualServiceHosts(vs: VirtualService, domain: string): string[] {
  return (vs.spec.hosts ?? []).map((h) => resolveShortName(h, vs.meta.namespace, domain));
}

/**
 * Sidecar VS import (§3.7): exported to the proxy namespace, and one of its hosts matched
 * (bidirectionally) by an egress host for the VS's namespace on the listener governing `port`.
 */
export function sidecarImportsVirtualService(
  scope: ProxyScope,
  vs: VirtualService,
  port: number,
  proxyNamespace: string,
  domain: string,
): boolean {
  if (!isExportedTo(vs.spec.exportTo, vs.meta.namespace, proxyNamespace)) return false;
  const l = egressForPort(scope.egress, port);
  if (!l) return false;
  return virtualServiceHosts(vs, domain).some((h) => egressImports(l, vs.meta.namespace, h));
}
