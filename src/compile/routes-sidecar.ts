/**
 * Sidecar outbound HTTP route tables, one per port (istio-semantics.md §3.3).
 *
 * Per port P: a vhost per visible service with an HTTP-ish port P (all its domain forms);
 * VirtualServices bound to `mesh` replace a service's default route (exact host beats
 * wildcard, the first VS in precedence order owns a host, later ones are dropped); VS hosts
 * matching no service become vhosts of their own on port 80 only; a catch-all vhost ends
 * the table (ALLOW_ANY passthrough or REGISTRY_ONLY 502).
 */
import { compareHostSpecificity, hostSubsetOf, isIPAddress, isWildcardHost } from '../core/hosts.js';
import type { Service } from '../registry/types.js';
import type { Cluster, CompileOptions, ConfigRef, ProxyIdentity, RouteTable, VirtualHost } from '../snapshot/types.js';
import { virtualServiceRoutes, type CompileCache } from './cache.js';
import type { Notes } from './order.js';
import { buildRouteTable, dedupeDomains, HTTP_PROTOCOLS } from './route-table.js';
import { sidecarImportsVirtualService, type ProxyScope } from './scope.js';
import { catchAllRoute, defaultServiceRoute, type TranslateContext } from './translate.js';
import { MESH_GATEWAY, orderVirtualServices, type PreparedVirtualService } from './vs.js';

/** VS hosts that match no service are served on this port only (Istio's HTTP-proxy port). */
const STANDALONE_VS_PORT = 80;

export interface SidecarRoutesInput {
  scope: ProxyScope;
  virtualServices: readonly PreparedVirtualService[];
  proxy: ProxyIdentity;
  opts: CompileOptions;
  clusters: ReadonlyMap<string, Cluster>;
  notes: Notes;
  /** Re-uses per-VS translations of an earlier compile (cache.ts); optional. */
  cache?: CompileCache;
}

export interface SidecarRoutes {
  /** By port number as a string. */
  tables: Map<string, RouteTable>;
  /** Domain form -> the service's only HTTP port. */
  defaultPorts: Map<string, number>;
}

function httpPorts(svc: Service): number[] {
  return svc.ports.filter((p) => HTTP_PROTOCOLS.has(p.protocol)).map((p) => p.number);
}

/**
 * Every name a client may use for a service (`generateVirtualHostDomains`): the FQDN; for
 * `<name>.<ns>.svc.<domain>` also `<name>.<ns>`, `<name>.<ns>.svc` and, from the same
 * namespace, `<name>`; plus its VIPs (not CIDRs).
 */
export function serviceDomains(svc: Service, proxyNamespace: string, domain: string): string[] {
  const out = [svc.hostname];
  const suffix = `.svc.${domain}`;
  if (!isWildcardHost(svc.hostname) && svc.hostname.endsWith(suffix)) {
    const rest = svc.hostname.slice(0, -suffix.length);
    const dot = rest.lastIndexOf('.');
    if (dot > 0) {
      out.push(rest, `${rest}.svc`);
      if (rest.slice(dot + 1) === proxyNamespace) out.push(rest.slice(0, dot));
    }
  }
  for (const a of svc.addresses) if (isIPAddress(a)) out.push(a);
  return out;
}

/**
 * For each service, the VS that owns it through a wildcard host: none when some VS names
 * the service exactly (exact beats wildcard), else the most specific covering wildcard
 * (the first VS listing that wildcard wins). Istio `computeWildcardHostVirtualServiceIndex`.
 */
function wildcardOwners(services: readonly Service[], vss: readonly PreparedVirtualService[]): Map<string, PreparedVirtualService> {
  const exact = new Set<string>();
  const wild = new Map<string, PreparedVirtualService>();
  for (const vs of vss) {
    for (const h of vs.hosts) {
      if (isWildcardHost(h)) {
        if (!wild.has(h)) wild.set(h, vs);
      } else exact.add(h);
    }
  }
  const out = new Map<string, PreparedVirtualService>();
  for (const svc of services) {
    if (exact.has(svc.hostname)) continue;
    let best: string | null = null;
    for (const h of wild.keys()) {
      if (hostSubsetOf(svc.hostname, h) && (best === null || compareHostSpecificity(h, best) < 0)) best = h;
    }
    if (best !== null) out.set(svc.hostname, wild.get(best)!);
  }
  return out;
}

function catchAllVhost(policy: 'ALLOW_ANY' | 'REGISTRY_ONLY'): VirtualHost {
  const allow = policy === 'ALLOW_ANY';
  const name = allow ? 'allow_any' : 'block_all';
  return {
    name,
    domains: ['*'],
    routes: [catchAllRoute(name, allow ? { kind: 'passthrough' } : { kind: 'blocked', status: 502 })],
    requireTls: false,
    virtualServices: [],
  };
}

/** `build()`, or the cached vhost for (`source`, `name`) when there is a compile cache. */
function cachedVhost(input: SidecarRoutesInput, source: object, name: string, build: () => VirtualHost): VirtualHost {
  return input.cache ? input.cache.vhost(source, name, build) : build();
}

/** Which services have an HTTP port P, per port: a function of the scope only. */
interface PortLayout {
  /** HTTP ports (and the standalone VS port), ascending. */
  ports: number[];
  services: Map<number, { list: Service[]; byHost: Map<string, Service> }>;
  /** Every visible service by hostname (destination port defaulting in translate). */
  allServices: Map<string, Service>;
}

function portLayout(scope: ProxyScope): PortLayout {
  const ports = new Set<number>([STANDALONE_VS_PORT]);
  for (const s of scope.services) for (const p of httpPorts(s)) ports.add(p);
  const sorted = [...ports].sort((a, b) => a - b);
  const services = new Map<number, { list: Service[]; byHost: Map<string, Service> }>();
  for (const port of sorted) {
    const list = scope.services.filter((s) => httpPorts(s).includes(port));
    services.set(port, { list, byHost: new Map(list.map((s) => [s.hostname, s])) });
  }
  return { ports: sorted, services, allServices: new Map(scope.services.map((s) => [s.hostname, s])) };
}

function buildPortTable(port: number, layout: PortLayout, input: SidecarRoutesInput, catchAll: VirtualHost): RouteTable | null {
  const { scope, proxy, opts } = input;
  const { list: services, byHost } = layout.services.get(port)!;
  const ctx: TranslateContext = { listenerPort: port, services: layout.allServices, clusters: input.clusters, notes: input.notes };
  const vss = orderVirtualServices(
    input.virtualServices.filter(
      (vs) => vs.gateways.includes(MESH_GATEWAY) && sidecarImportsVirtualService(scope, vs.resource, port, proxy.namespace, opts.domain),
    ),
    proxy.namespace,
  );
  const owners = wildcardOwners(services, vss);
  const claimed = new Set<string>();
  const vhosts: Array<{ vhost: VirtualHost; owner: ConfigRef | null }> = [];
  for (const vs of vss) {
    const routes = virtualServiceRoutes(vs, { gateway: MESH_GATEWAY, proxy }, ctx, input.cache);
    if (routes.length === 0) continue; // Istio skips a VS with no routes for this proxy
    // The vhost is a function of (routes, name): cached routes keep their vhosts, frozen.
    const add = (name: string, domains: () => string[]): void => {
      const vhost = cachedVhost(input, routes, name, () => ({ name, domains: domains(), routes, requireTls: false, virtualServices: [vs.ref] }));
      vhosts.push({ vhost, owner: vs.ref });
    };
    for (const h of vs.hosts) {
      const mine = isWildcardHost(h)
        ? services.filter((s) => hostSubsetOf(s.hostname, h) && owners.get(s.hostname) === vs)
        : byHost.has(h) ? [byHost.get(h)!] : [];
      for (const s of mine) {
        claimed.add(s.hostname);
        add(`${s.hostname}:${port}`, () => serviceDomains(s, proxy.namespace, opts.domain));
      }
      if (mine.length === 0 && port === STANDALONE_VS_PORT) add(`${h}:${port}`, () => [h]);
    }
  }
  for (const s of services) {
    if (claimed.has(s.hostname)) continue;
    const name = `${s.hostname}:${port}`;
    const vhost = cachedVhost(input, s, name, () => ({
      name,
      domains: serviceDomains(s, proxy.namespace, opts.domain),
      routes: [defaultServiceRoute(s.hostname, port, input.clusters)],
      requireTls: false,
      virtualServices: [],
    }));
    vhosts.push({ vhost, owner: null });
  }
  if (vhosts.length === 0) return null;
  return buildRouteTable(String(port), port, dedupeDomains(vhosts, input.notes, `port ${port}`), catchAll);
}

/** All sidecar outbound route tables plus the default-port map. */
export function buildSidecarRouteTables(input: SidecarRoutesInput): SidecarRoutes {
  const layout = input.cache ? input.cache.fromScope('sidecar.portLayout', () => portLayout(input.scope)) : portLayout(input.scope);
  const catchAll = catchAllVhost(input.scope.outboundTrafficPolicy);
  const tables = new Map<string, RouteTable>();
  for (const port of layout.ports) {
    const t = buildPortTable(port, layout, input, catchAll);
    if (t) tables.set(t.name, t);
  }
  const defaultPorts = input.cache ? input.cache.fromScope('sidecar.defaultPorts', () => buildDefaultPorts(input)) : buildDefaultPorts(input);
  return { tables, defaultPorts };
}

/** Domain form -> port, for services with exactly one HTTP port (a function of the scope only). */
function buildDefaultPorts(input: SidecarRoutesInput): Map<string, number> {
  const defaultPorts = new Map<string, number>();
  for (const s of input.scope.services) {
    const hp = httpPorts(s);
    if (hp.length !== 1) continue;
    for (const d of serviceDomains(s, input.proxy.namespace, input.opts.domain)) {
      if (!defaultPorts.has(d)) defaultPorts.set(d, hp[0]);
    }
  }
  return defaultPorts;
}
