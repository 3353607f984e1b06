/**
 * Gateway listeners and HTTP route tables (istio-semantics.md §1.3, §3.4).
 *
 * Gateways selecting the proxy are merged per port. Plain HTTP servers on a port share the
 * table `http.<port>`; each terminating HTTPS server gets `https.<port>.<portName>.<gw>.<ns>`.
 * A VS binds to a server when it lists the gateway, is exported to the gateway's namespace
 * and one of its hosts intersects a server host visible to the VS namespace. Routes of
 * several VSs for one host are concatenated, catch-alls moved last.
 */
import type { ConfigSet, Gateway, RouteDestination, Server, ServerTLSSettings } from '../api/types.js';
import { hostIntersection, normalizeHost } from '../core/hosts.js';
import type { Protocol } from '../registry/types.js';
import type { Cluster, ConfigRef, Listener, ProxyIdentity, Route, RouteTable, ServerTls, TcpRoute, TlsRoute, VirtualHost } from '../snapshot/types.js';
import { resolveShortName } from '../core/hosts.js';
import { virtualServiceRoutes, type CompileCache } from './cache.js';
import { clusterName } from './clusters.js';
import { compareByAge, labelsSubset, refKey, refOf, type Notes } from './order.js';
import type { Service } from '../registry/types.js';
import { buildRouteTable } from './route-table.js';
import { isCatchAllMatch } from './translate-match.js';
import type { TranslateContext } from './translate.js';
import { normalizeGatewayName, orderVirtualServices, type PreparedVirtualService } from './vs.js';

export interface GatewayRoutesInput {
  config: ConfigSet;
  virtualServices: readonly PreparedVirtualService[];
  proxy: ProxyIdentity;
  /** Services visible to the gateway proxy, by hostname. */
  services: ReadonlyMap<string, Service>;
  clusters: ReadonlyMap<string, Cluster>;
  notes: Notes;
  /** DNS suffix for short destination hosts in `tcp` routes. */
  domain?: string;
  /** Re-uses per-VS translations of an earlier compile (cache.ts); optional. */
  cache?: CompileCache;
}

export interface GatewayRoutes {
  tables: Map<string, RouteTable>;
  listeners: Listener[];
}

/** One server with the Gateway it belongs to. */
interface BoundServer {
  gateway: Gateway;
  ref: ConfigRef;
  index: number;
  server: Server;
  protocol: string;
}

const HTTP_CLASS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);
const TERMINATING_TLS = new Set(['SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL']);
/** Modes a TLS-protocol server terminates with files or credentials (ISTIO_MUTUAL needs mesh certificates). */
const TERMINATED_L4 = new Set(['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL']);
const KNOWN: ReadonlySet<string> = new Set(['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS', 'REDIS', 'MYSQL']);

/** Plain HTTP servers share a listener; HTTPS and TLS both speak TLS; the rest is TCP. */
function protocolClass(p: string): 'http' | 'tls' | 'tcp' {
  if (HTTP_CLASS.has(p)) return 'http';
  if (p === 'HTTPS' || p === 'TLS') return 'tls';
  return 'tcp';
}

/** The Gateways this proxy serves: the explicit `proxy.gateways` list, else selector match. */
export function selectGateways(gateways: readonly Gateway[], proxy: ProxyIdentity, notes: Notes): Gateway[] {
  const sorted = [...gateways].sort(compareByAge);
  if (proxy.gateways) {
    for (const want of proxy.gateways) {
      if (!sorted.some((g) => refKey(g) === want)) notes.add(null, `Gateway ${want} not found`);
    }
    return sorted.filter((g) => proxy.gateways!.includes(refKey(g)));
  }
  return sorted.filter((g) => labelsSubset(g.spec.selector, proxy.labels));
}

/** Server host `[ns/]dnsName` -> {namespace, host}; no namespace = `*`, `.` = the gateway's. */
export function parseServerHost(h: string, gatewayNamespace: string): { namespace: string; host: string } {
  const slash = h.indexOf('/');
  if (slash < 0) return { namespace: '*', host: normalizeHost(h) };
  const ns = h.slice(0, slash);
  return { namespace: ns === '.' ? gatewayNamespace : ns, host: normalizeHost(h.slice(slash + 1)) };
}

/** Istio's HTTPS route table name. */
export function httpsTableName(port: number, portName: string, gw: ConfigRef): string {
  return `https.${port}.${portName}.${gw.name}.${gw.namespace}`;
}

/** Stable sort moving catch-all routes after the specific ones (`SortVHostRoutes`). */
export function sortVhostRoutes(routes: readonly Route[]): Route[] {
  return [...routes.filter((r) => !isCatchAllMatch(r.match)), ...routes.filter((r) => isCatchAllMatch(r.match))];
}

interface VhostDraft {
  host: string;
  routes: Route[];
  requireTls: boolean;
  virtualServices: ConfigRef[];
}

function bindServer(s: BoundServer, port: number, input: GatewayRoutesInput, drafts: Map<string, VhostDraft>): void {
  const gwName = `${s.ref.namespace}/${s.ref.name}`;
  const serverHosts = s.server.hosts.map((h) => parseServerHost(h, s.ref.namespace));
  const ctx: TranslateContext = { listenerPort: port, services: input.services, clusters: input.clusters, notes: input.notes };
  const redirect = s.server.tls?.httpsRedirect === true;
  const bound = orderVirtualServices(input.virtualServices.filter((vs) => vs.gateways.includes(gwName)), s.ref.namespace);
  for (const vs of bound) {
    const visible = serverHosts.filter((h) => h.namespace === '*' || h.namespace === vs.ref.namespace);
    const hosts: string[] = [];
    for (const vh of vs.hosts) {
      for (const sh of visible) {
        const i = hostIntersection(vh, sh.host);
        if (i !== null && !hosts.includes(i)) hosts.push(i);
      }
    }
    if (hosts.length === 0) continue;
    const routes = virtualServiceRoutes(vs, { gateway: gwName, proxy: input.proxy }, ctx, input.cache);
    for (const h of hosts) {
      let d = drafts.get(h);
      if (!d) {
        d = { host: h, routes: [], requireTls: false, virtualServices: [] };
        drafts.set(h, d);
      }
      if (redirect) d.requireTls = true;
      if (d.virtualServices.some((r) => refKey(r) === refKey(vs.ref))) continue;
      d.routes.push(...routes);
      d.virtualServices.push(vs.ref);
    }
  }
  if (!redirect) return;
  // httpsRedirect covers the server's hosts even where no VS is bound.
  for (const sh of serverHosts) {
    const d = drafts.get(sh.host);
    if (d) d.requireTls = true;
    else drafts.set(sh.host, { host: sh.host, routes: [], requireTls: true, virtualServices: [] });
  }
}

function buildGatewayTable(name: string, port: number, servers: readonly BoundServer[], input: GatewayRoutesInput): RouteTable {
  const drafts = new Map<string, VhostDraft>();
  for (const s of servers) bindServer(s, port, input, drafts);
  if (drafts.size === 0) {
    const blackhole: VirtualHost = { name: `blackhole:${port}`, domains: ['*'], routes: [], requireTls: false, virtualServices: [] };
    return buildRouteTable(name, port, [blackhole], blackhole);
  }
  const vhosts: VirtualHost[] = [...drafts.values()].map((d) => ({
    name: `${d.host}:${port}`,
    domains: [d.host],
    routes: sortVhostRoutes(d.routes),
    requireTls: d.requireTls,
    virtualServices: d.virtualServices,
  }));
  return buildRouteTable(name, port, vhosts, null);
}

function toProtocol(p: string): Protocol {
  return KNOWN.has(p) ? (p as Protocol) : 'UNKNOWN';
}

/** Listeners and HTTP(S) route tables for a gateway proxy. */
export function buildGatewayRoutes(input: GatewayRoutesInput): GatewayRoutes {
  const byPort = new Map<number, BoundServer[]>();
  for (const gw of selectGateways(input.config.gateways, input.proxy, input.notes)) {
    const ref = refOf(gw);
    (gw.spec.servers ?? []).forEach((server, index) => {
      const port = server.port.number;
      if (port === undefined) return;
      const s: BoundServer = { gateway: gw, ref, index, server, protocol: (server.port.protocol ?? '').toUpperCase() };
      const list = byPort.get(port) ?? [];
      if (list.length > 0 && protocolClass(list[0].protocol) !== protocolClass(s.protocol)) {
        input.notes.add(ref, `servers[${index}]: port ${port} is already used with protocol ${list[0].protocol} by Gateway ${refKey(list[0].ref)}; server ignored`);
        return;
      }
      list.push(s);
      byPort.set(port, list);
    });
  }
  const tables = new Map<string, RouteTable>();
  const listeners: Listener[] = [];
  for (const port of [...byPort.keys()].sort((a, b) => a - b)) {
    const servers = byPort.get(port)!;
    const cls = protocolClass(servers[0].protocol);
    let routeTable: string | null = null;
    if (cls === 'http') {
      routeTable = `http.${port}`;
      tables.set(routeTable, buildGatewayTable(routeTable, port, servers, input));
    } else if (cls === 'tls') {
      for (const s of servers) {
        if (s.protocol !== 'HTTPS' || !TERMINATING_TLS.has(s.server.tls?.mode ?? 'PASSTHROUGH')) continue;
        const name = httpsTableName(port, s.server.port.name ?? '', s.ref);
        tables.set(name, buildGatewayTable(name, port, [s], input));
      }
    }
    listeners.push({
      name: `0.0.0.0_${port}`,
      port,
      protocol: toProtocol(servers[0].protocol),
      servers: servers.map((s) => ({
        gateway: s.ref,
        serverIndex: s.index,
        hosts: s.server.hosts.map((h) => parseServerHost(h, s.ref.namespace).host),
        tlsMode: s.server.tls?.mode ?? (cls === 'tls' ? 'PASSTHROUGH' : null),
        portName: s.server.port.name ?? '',
        tls: serverTls(s.server.tls),
      })),
      routeTable,
      tcpRoute: cls === 'tcp' ? gatewayTcpRoute(port, servers, input) : cls === 'tls' ? terminatedTlsTcpRoute(port, servers, input) : null,
      tlsRoutes: cls === 'tls' ? gatewayTlsRoutes(port, servers, input) : [],
    });
  }
  return { tables, listeners };
}

/**
 * Weighted destinations of a `tcp`/`tls` rule: short hosts resolved against the VirtualService
 * namespace, the port defaulted as for HTTP (the service's only port, else the listener's),
 * zero weights dropped when there are several, a single destination gets everything.
 */
function l4Destinations(route: ReadonlyArray<RouteDestination>, ns: string, port: number, input: GatewayRoutesInput, domain: string): TcpRoute['destinations'] {
  const dests = route.map((rd) => {
    const host = resolveShortName(rd.destination.host, ns, domain);
    const svc = input.services.get(host);
    const dport = rd.destination.port?.number ?? (svc && svc.ports.length === 1 ? svc.ports[0].number : port);
    const subset = rd.destination.subset ?? null;
    return { cluster: clusterName(dport, subset, host), host, port: dport, subset, weight: rd.weight ?? 0 };
  });
  return dests.length > 1 ? dests.filter((d) => d.weight > 0) : dests.map((d) => ({ ...d, weight: 100 }));
}

/**
 * SNI routes of a Gateway port's PASSTHROUGH servers: every `tls[]` match (in VirtualService
 * and rule order) of VirtualServices bound to the port's Gateways, whose port fits; the
 * connection is routed on the ClientHello's server name without terminating TLS.
 */
function gatewayTlsRoutes(port: number, servers: readonly BoundServer[], input: GatewayRoutesInput): TlsRoute[] {
  const passthrough = servers.filter((s) => (s.server.tls?.mode ?? 'PASSTHROUGH') === 'PASSTHROUGH');
  if (passthrough.length === 0) return [];
  const gwKeys = new Set(passthrough.map((s) => refKey(s.ref)));
  const bound = orderVirtualServices(
    input.virtualServices.filter((vs) => vs.gateways.some((g) => gwKeys.has(g)) && (vs.resource.spec.tls?.length ?? 0) > 0),
    input.proxy.namespace,
  );
  const domain = input.domain ?? 'cluster.local';
  const out: TlsRoute[] = [];
  for (const vs of bound) {
    (vs.resource.spec.tls ?? []).forEach((rule, i) => {
      const kept = l4Destinations(rule.route ?? [], vs.ref.namespace, port, input, domain);
      if (kept.length === 0) return;
      for (const m of rule.match) {
        if (m.port !== undefined && m.port !== port) continue;
        if (m.gateways?.length && !m.gateways.some((g) => gwKeys.has(normalizeGatewayName(g, vs.ref.namespace)))) continue;
        noteIgnoredL4Conditions(input, vs.ref, `tls[${i}]`, [m]);
        const sniHosts = m.sniHosts.map((h) => resolveShortName(h, vs.ref.namespace, domain));
        out.push({ virtualService: vs.ref, ruleIndex: i, sniHosts, destinations: kept, totalWeight: kept.reduce((a, d) => a + d.weight, 0) });
      }
    });
  }
  return out;
}

/**
 * The TCP route of a Gateway TCP port: the first `tcp[]` rule, in VirtualService order, of a
 * VirtualService bound to one of the port's Gateways whose match (port, match-level gateways)
 * fits. As in Istio (`l4SingleMatch`), only `port` and `gateways` decide on a gateway:
 * `destinationSubnets`, `sourceLabels`, `sourceNamespace` and `sourceSubnet` are ignored, and a
 * note says so.
 */
function gatewayTcpRoute(port: number, servers: readonly BoundServer[], input: GatewayRoutesInput): TcpRoute | null {
  const gwKeys = new Set(servers.map((s) => refKey(s.ref)));
  const bound = orderVirtualServices(
    input.virtualServices.filter((vs) => vs.gateways.some((g) => gwKeys.has(g)) && (vs.resource.spec.tcp?.length ?? 0) > 0),
    input.proxy.namespace,
  );
  const domain = input.domain ?? 'cluster.local';
  for (const vs of bound) {
    const rules = vs.resource.spec.tcp ?? [];
    for (let i = 0; i < rules.length; i++) {
      const rule = rules[i];
      const matches = rule.match ?? [];
      const fits =
        matches.length === 0 ||
        matches.some((m) => {
          if (m.port !== undefined && m.port !== port) return false;
          if (m.gateways?.length) return m.gateways.some((g) => gwKeys.has(normalizeGatewayName(g, vs.ref.namespace)));
          return true;
        });
      if (!fits) continue;
      const kept = l4Destinations(rule.route ?? [], vs.ref.namespace, port, input, domain);
      if (kept.length === 0) continue;
      noteIgnoredL4Conditions(input, vs.ref, `tcp[${i}]`, matches);
      return { virtualService: vs.ref, ruleIndex: i, destinations: kept, totalWeight: kept.reduce((a, d) => a + d.weight, 0) };
    }
  }
  return null;
}

/** Say (once per rule) that gateway-meaningless L4 conditions were ignored, as Istio ignores them. */
function noteIgnoredL4Conditions(
  input: GatewayRoutesInput,
  ref: ConfigRef,
  rule: string,
  matches: ReadonlyArray<{ destinationSubnets?: readonly string[]; sourceLabels?: Readonly<Record<string, string>>; sourceNamespace?: string; sourceSubnet?: string }>,
): void {
  const fields = new Set<string>();
  for (const m of matches) {
    if (m.destinationSubnets?.length) fields.add('destinationSubnets');
    if (m.sourceLabels && Object.keys(m.sourceLabels).length > 0) fields.add('sourceLabels');
    if (m.sourceNamespace) fields.add('sourceNamespace');
    if (m.sourceSubnet) fields.add('sourceSubnet');
  }
  if (fields.size > 0) input.notes.add(ref, `${rule}: ${[...fields].join(', ')} ignored on gateways (as Istio: only port and gateways select a gateway L4 route)`);
}

/**
 * A `TLS`-protocol port whose servers terminate TLS (SIMPLE, MUTUAL, OPTIONAL_MUTUAL): as in
 * Istio, the decrypted bytes are routed by the bound VirtualServices' `tcp` rules. Null for
 * HTTPS ports (served as HTTP) and pure PASSTHROUGH ports (routed by `tls` rules).
 */
function terminatedTlsTcpRoute(port: number, servers: readonly BoundServer[], input: GatewayRoutesInput): TcpRoute | null {
  if (servers[0].protocol !== 'TLS') return null;
  const terminated = servers.filter((s) => s.protocol === 'TLS' && TERMINATED_L4.has(s.server.tls?.mode ?? 'PASSTHROUGH'));
  return terminated.length > 0 ? gatewayTcpRoute(port, terminated, input) : null;
}

/** The TLS settings a terminating listener needs (paths; the data plane reads the files). */
function serverTls(t: ServerTLSSettings | undefined): ServerTls | null {
  if (!t || !t.mode) return null;
  const certificates: Array<{ certificate: string; privateKey: string }> = [];
  if (t.serverCertificate && t.privateKey) certificates.push({ certificate: t.serverCertificate, privateKey: t.privateKey });
  for (const c of t.tlsCertificates ?? []) if (c.serverCertificate && c.privateKey) certificates.push({ certificate: c.serverCertificate, privateKey: c.privateKey });
  return {
    mode: t.mode,
    certificates,
    caCertificates: t.caCertificates ?? t.tlsCertificates?.find((c) => c.caCertificates)?.caCertificates ?? null,
    credentialName: t.credentialName ?? t.credentialNames?.[0] ?? null,
    subjectAltNames: t.subjectAltNames ?? [],
    caCrl: t.caCrl ?? null,
    verifyCertificateSpki: t.verifyCertificateSpki ?? [],
    verifyCertificateHash: t.verifyCertificateHash ?? [],
    minProtocolVersion: t.minProtocolVersion ?? null,
    maxProtocolVersion: t.maxProtocolVersion ?? null,
    cipherSuites: t.cipherSuites ?? [],
  };
}
