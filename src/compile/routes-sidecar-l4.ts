/**
 * Sidecar outbound TCP and TLS routes (istio-semantics.md §1.1 TCPRoute / TLSRoute; Istio's
 * `buildSidecarOutboundTCPFilterChainOpts` and `buildSidecarOutboundTLSFilterChainOpts`).
 *
 * For every visible service port that is not HTTP — `tcp` (TCP, MONGO, REDIS, MYSQL) or `tls`
 * (TLS, HTTPS: not terminated, routed by the ClientHello's SNI) — the VirtualServices bound to
 * `mesh`, imported by the Sidecar and whose hosts match the service contribute their `tcp[]`
 * (TCP ports) or `tls[]` (TLS ports) rules, in VirtualService precedence order then rule
 * order. Config-time conditions are applied here, for this proxy: match `port`,
 * `sourceLabels` (a subset of the proxy's own labels), `sourceNamespace` and match-level
 * `gateways` (must list `mesh`). Runtime conditions stay in the route: `sniHosts` and
 * `destinationSubnets`. The first matching route wins.
 *
 * When nothing matches: a TCP port goes to the service itself (`outbound|port||host`); a TLS
 * port goes there only when no `tls` route applies to the service at all (Istio builds the
 * default filter chain only then), matching SNI = the service host when the service has no
 * VIP (its listener is the shared `0.0.0.0:<port>` one, where only SNI tells services apart);
 * otherwise the outbound traffic policy decides (passthrough or closed).
 *
 * A TCP rule without `match`, or with a fitting match without `destinationSubnets`, catches
 * every connection: later rules (of this and later VirtualServices) are unreachable and
 * dropped, as Istio stops there.
 */
import type { L4MatchAttributes, RouteDestination, TLSMatchAttributes } from '../api/types.js';
import { hostMatches, isIPAddress, resolveShortName } from '../core/hosts.js';
import type { Service } from '../registry/types.js';
import type { CompileOptions, ProxyIdentity, SidecarL4Route, SidecarL4Service } from '../snapshot/types.js';
import { clusterName } from './clusters.js';
import { labelsSubset } from './order.js';
import { serviceDomains } from './routes-sidecar.js';
import { sidecarImportsVirtualService, type ProxyScope } from './scope.js';
import { MESH_GATEWAY, normalizeGatewayName, orderVirtualServices, type PreparedVirtualService } from './vs.js';

const TCP_CLASS: ReadonlySet<string> = new Set(['TCP', 'MONGO', 'REDIS', 'MYSQL']);
const TLS_CLASS: ReadonlySet<string> = new Set(['TLS', 'HTTPS']);

/** Which L4 routes a service port protocol takes: `tcp`, `tls` (SNI), or null (HTTP-like). */
export function l4Kind(protocol: string): 'tcp' | 'tls' | null {
  if (TCP_CLASS.has(protocol)) return 'tcp';
  if (TLS_CLASS.has(protocol)) return 'tls';
  return null;
}

export interface SidecarL4Input {
  scope: ProxyScope;
  virtualServices: readonly PreparedVirtualService[];
  proxy: ProxyIdentity;
  opts: CompileOptions;
}

/**
 * Istio's `matchTCP` / `matchTLS` without the runtime predicates: does this match block apply
 * to this sidecar on this port?
 */
export function l4MatchFitsSidecar(
  m: Pick<L4MatchAttributes | TLSMatchAttributes, 'port' | 'sourceLabels' | 'sourceNamespace' | 'gateways'>,
  port: number,
  proxy: ProxyIdentity,
  vsNamespace: string,
): boolean {
  if (m.port !== undefined && m.port !== 0 && m.port !== port) return false;
  if (!labelsSubset(m.sourceLabels, proxy.labels)) return false;
  if (m.sourceNamespace && m.sourceNamespace !== proxy.namespace) return false;
  if (m.gateways?.length && !m.gateways.some((g) => normalizeGatewayName(g, vsNamespace) === MESH_GATEWAY)) return false;
  return true;
}

/**
 * Weighted destinations of a `tcp`/`tls` rule: short hosts resolved against the VirtualService
 * namespace, the port defaulted to the destination service's only port, else the listener
 * port (`GetDestinationCluster`); zero weights dropped when there are several; a single
 * destination gets everything.
 */
function destinations(route: readonly RouteDestination[], ns: string, port: number, services: ReadonlyMap<string, Service>, domain: string): SidecarL4Route['destinations'] {
  const dests = route.map((rd) => {
    const host = resolveShortName(rd.destination.host, ns, domain);
    const svc = services.get(host);
    const dport = rd.destination.port?.number ?? (svc && svc.ports.length === 1 ? svc.ports[0].number : port);
    const subset = rd.destination.subset ?? null;
    return { cluster: clusterName(dport, subset, host), host, port: dport, subset, weight: rd.weight ?? 0 };
  });
  return dests.length > 1 ? dests.filter((d) => d.weight > 0) : dests.map((d) => ({ ...d, weight: 100 }));
}

const total = (d: SidecarL4Route['destinations']): number => d.reduce((a, x) => a + x.weight, 0);

/** The VirtualServices whose `tcp`/`tls` rules apply to this service port on this sidecar. */
function boundVirtualServices(svc: Service, port: number, kind: 'tcp' | 'tls', input: SidecarL4Input): PreparedVirtualService[] {
  const { scope, proxy, opts } = input;
  return orderVirtualServices(
    input.virtualServices.filter(
      (vs) =>
        (vs.resource.spec[kind]?.length ?? 0) > 0 &&
        vs.gateways.includes(MESH_GATEWAY) &&
        vs.hosts.some((h) => hostMatches(h, svc.hostname)) &&
        sidecarImportsVirtualService(scope, vs.resource, port, proxy.namespace, opts.domain),
    ),
    proxy.namespace,
  );
}

function tcpRoutes(vss: readonly PreparedVirtualService[], port: number, input: SidecarL4Input, services: ReadonlyMap<string, Service>): SidecarL4Route[] {
  const out: SidecarL4Route[] = [];
  for (const vs of vss) {
    const rules = vs.resource.spec.tcp ?? [];
    for (let i = 0; i < rules.length; i++) {
      const dests = destinations(rules[i].route ?? [], vs.ref.namespace, port, services, input.opts.domain);
      if (dests.length === 0) continue;
      const base = { virtualService: vs.ref, ruleIndex: i, sniHosts: [], destinations: dests, totalWeight: total(dests) };
      const matches = rules[i].match ?? [];
      if (matches.length === 0) {
        out.push({ ...base, matchIndex: null, destinationSubnets: [] });
        return out; // catches everything: Istio stops here
      }
      for (let j = 0; j < matches.length; j++) {
        const m = matches[j];
        if (!l4MatchFitsSidecar(m, port, input.proxy, vs.ref.namespace)) continue;
        const subnets = m.destinationSubnets ?? [];
        out.push({ ...base, matchIndex: j, destinationSubnets: [...subnets] });
        if (subnets.length === 0) return out;
      }
    }
  }
  return out;
}

function tlsRoutes(vss: readonly PreparedVirtualService[], port: number, input: SidecarL4Input, services: ReadonlyMap<string, Service>): SidecarL4Route[] {
  const out: SidecarL4Route[] = [];
  for (const vs of vss) {
    (vs.resource.spec.tls ?? []).forEach((rule, i) => {
      const dests = destinations(rule.route ?? [], vs.ref.namespace, port, services, input.opts.domain);
      if (dests.length === 0) return;
      rule.match.forEach((m, j) => {
        if (!l4MatchFitsSidecar(m, port, input.proxy, vs.ref.namespace)) return;
        out.push({
          virtualService: vs.ref,
          ruleIndex: i,
          matchIndex: j,
          sniHosts: m.sniHosts.map((h) => resolveShortName(h, vs.ref.namespace, input.opts.domain)),
          destinationSubnets: [...(m.destinationSubnets ?? [])],
          destinations: dests,
          totalWeight: total(dests),
        });
      });
    });
  }
  return out;
}

/** The route to the service itself (Istio's default filter chain for the service port). */
function defaultRoute(svc: Service, port: number, sniHosts: string[]): SidecarL4Route {
  const dests = [{ cluster: clusterName(port, null, svc.hostname), host: svc.hostname, port, subset: null, weight: 100 }];
  return { virtualService: null, ruleIndex: null, matchIndex: null, sniHosts, destinationSubnets: [], destinations: dests, totalWeight: 100 };
}

/** L4 routing for every non-HTTP port of the visible services, by port number (ascending). */
export function buildSidecarL4(input: SidecarL4Input): Map<number, SidecarL4Service[]> {
  const services = new Map(input.scope.services.map((s) => [s.hostname, s]));
  const byPort = new Map<number, SidecarL4Service[]>();
  for (const svc of input.scope.services) {
    for (const p of svc.ports) {
      const kind = l4Kind(p.protocol);
      if (!kind) continue;
      const vss = boundVirtualServices(svc, p.number, kind, input);
      const routes = kind === 'tcp' ? tcpRoutes(vss, p.number, input, services) : tlsRoutes(vss, p.number, input, services);
      // Without a VIP the service shares the port-wide listener: only the SNI names it.
      const hasVip = svc.addresses.some((a) => isIPAddress(a));
      let fallback: SidecarL4Route | null;
      if (kind === 'tcp') fallback = defaultRoute(svc, p.number, []);
      else fallback = routes.length > 0 ? null : defaultRoute(svc, p.number, hasVip ? [] : [svc.hostname]);
      const entry: SidecarL4Service = {
        host: svc.hostname,
        port: p.number,
        kind,
        domains: serviceDomains(svc, input.proxy.namespace, input.opts.domain),
        addresses: [...svc.addresses],
        routes,
        fallback,
      };
      const list = byPort.get(p.number) ?? [];
      list.push(entry);
      byPort.set(p.number, list);
    }
  }
  return new Map([...byPort.entries()].sort((a, b) => a[0] - b[0]));
}
