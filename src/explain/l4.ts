/**
 * `explain tcp://host:port` and `explain tls://host:port[?sni=name]`: where one TCP
 * connection (a sidecar `CONNECT host:port` tunnel, or a connection to a gateway port) goes,
 * decided by the same functions the data plane runs (dataplane/http/connect.ts planTunnel /
 * resolveSni, dataplane/listener/sni.ts firstL4Match).
 *
 * For tls://, the SNI is the host unless `?sni=` names another one (`?sni=` alone: a client
 * that sends none); an IP host sends none unless `?sni=` is given, as TLS clients do.
 */
import type { Snapshot, SidecarL4Route, TcpRoute } from '../snapshot/types.js';
import { planTunnel, resolveSni, type L4Chain, type TunnelPlan } from '../dataplane/http/connect.js';
import { firstL4Match, type L4TraceRow } from '../dataplane/listener/sni.js';
import { normalizeRequestHost } from '../dataplane/router/match.js';
import { splitHostPort } from '../dataplane/router/redirect.js';
import { isIP } from '../core/net.js';
import { describeDestination, l4Policy, refName } from './common.js';
import type { ExplainResult, ExplainTraceRow } from './explain.js';

interface L4Url {
  authority: string;
  host: string;
  port: number;
  query: URLSearchParams;
}

function parseL4Url(url: string, scheme: 'tcp' | 'tls'): L4Url {
  const m = /^[a-z]+:\/\/([^/?#]+)\/?(\?[^#]*)?$/i.exec(url);
  const [rawHost, port] = m ? splitHostPort(m[1]) : ['', null];
  if (!m || !rawHost || port === null) throw new Error(`invalid URL "${url}": use ${scheme}://host:port${scheme === 'tls' ? '[?sni=name]' : ''}`);
  return { authority: m[1], host: normalizeRequestHost(m[1]), port, query: new URLSearchParams(m[2] ?? '') };
}

function base(snap: Snapshot, scheme: 'tcp' | 'tls', host: string, port: number, sni?: string | null): ExplainResult {
  return {
    result: 'no_route', status: null, responseFlag: null, reason: '', virtualService: null, routeIndex: null, routeName: null,
    destinations: [], redirect: null, directResponse: null, policy: null,
    request: { method: 'CONNECT', scheme, host, port, path: '', ...(sni !== undefined ? { sni } : {}) },
    proxy: { role: snap.proxy.role, namespace: snap.proxy.namespace, labels: { ...snap.proxy.labels }, sidecar: refName(snap.sidecar), outboundTrafficPolicy: snap.outboundTrafficPolicy },
    routeTable: null, virtualHost: null, trace: [],
  };
}

/** A result that forwards along an L4 route; flags what the proxy would do without a cluster or endpoint. */
function routed(
  snap: Snapshot,
  b: ExplainResult,
  route: Pick<TcpRoute, 'destinations' | 'totalWeight'> & { virtualService: TcpRoute['virtualService'] | null; ruleIndex: number | null },
  section: 'tcp' | 'tls',
  reason: string,
): ExplainResult {
  const dests = route.destinations.map((d) => describeDestination(snap, d, route.totalWeight));
  const first = snap.clusters.get(route.destinations[0]?.cluster ?? '') ?? null;
  const r: ExplainResult = { ...b, result: 'route', section, virtualService: refName(route.virtualService), routeIndex: route.ruleIndex, destinations: dests, policy: first ? l4Policy(first) : null, reason };
  if (dests.length === 1 && !dests[0].clusterFound) return { ...r, responseFlag: 'NC', reason: `${reason}; but cluster ${dests[0].cluster} does not exist: the connection is refused (NC)` };
  const passthrough = first !== null && (first.resolution === 'NONE' || first.lb.kind === 'PASSTHROUGH');
  if (dests.length === 1 && dests[0].endpoints.length === 0 && !passthrough) return { ...r, responseFlag: 'UH', reason: `${reason}; but ${dests[0].cluster} has no endpoints: the connection is refused (UH)` };
  return r;
}

function rows<R>(trace: ReadonlyArray<L4TraceRow<R>>, section: 'tcp' | 'tls', get: (r: R) => { route: SidecarL4Route | TcpRoute; service: string | null }): ExplainTraceRow[] {
  return trace.map((t) => {
    const { route, service } = get(t.route);
    return {
      section,
      service,
      virtualService: refName(route.virtualService),
      routeIndex: route.ruleIndex,
      matchIndex: 'matchIndex' in route ? route.matchIndex : null,
      routeName: null,
      matched: t.matched,
      failures: t.failures,
    };
  });
}

const where = (r: { virtualService: { namespace: string; name: string } | null; ruleIndex: number | null }, section: string, service: string): string =>
  r.virtualService ? `VirtualService ${refName(r.virtualService)} ${section}[${r.ruleIndex}] matched` : `no VirtualService ${section} route matched: the default route of ${service} applies`;

/** The sidecar outcomes that do not depend on the bytes. */
function sidecarFixed(snap: Snapshot, b: ExplainResult, plan: Exclude<TunnelPlan, { kind: 'sniff' }>): ExplainResult {
  const at = `${plan.host}:${plan.port}`;
  switch (plan.kind) {
    case 'route':
      return {
        ...routed(snap, b, plan.route, 'tcp', `port ${plan.port} of ${plan.service.host} is TCP: ${where(plan.route, 'tcp', plan.service.host)}`),
        trace: rows(plan.trace, 'tcp', (r) => ({ route: r, service: plan.service.host })),
      };
    case 'service': {
      const c = snap.clusters.get(plan.cluster);
      const d = { cluster: plan.cluster, host: c?.host ?? plan.host, port: plan.port, subset: null, weight: 100 };
      return routed(snap, b, { virtualService: null, ruleIndex: null, destinations: [d], totalWeight: 100 }, 'tcp', `a CONNECT tunnel to ${at} (an HTTP port) goes to the service's endpoints; the bytes are not routed as HTTP`);
    }
    case 'passthrough':
      return { ...b, result: 'passthrough', reason: `${at} is not in the registry: tunnelled to the requested address (PassthroughCluster, ALLOW_ANY)` };
    case 'blocked':
      return { ...b, result: 'blocked', status: 502, reason: `${at} is not in the registry and the outbound policy is REGISTRY_ONLY: 502, nothing is dialled` };
  }
}

/** A sidecar TLS port: the SNI against the candidate routes, then the outbound policy. */
function sidecarSni(snap: Snapshot, b: ExplainResult, plan: Extract<TunnelPlan, { kind: 'sniff' }>, sni: string | null, prefix: string): ExplainResult {
  const trace: Array<L4TraceRow<L4Chain>> = [];
  const d = resolveSni(plan, sni, snap.outboundTrafficPolicy, trace);
  const scope = plan.service ? `the routes of ${plan.service.host} (it has a VIP)` : `the routes of the services without a VIP on port ${plan.port}`;
  const r = { ...b, trace: rows(trace, 'tls', (c) => ({ route: c.route, service: c.service.host })) };
  const what = sni === null ? 'without SNI' : `SNI "${sni}"`;
  if (d.kind === 'route') return { ...routed(snap, r, d.route, 'tls', `${prefix}${what} checked against ${scope}: ${where(d.route, 'tls', d.service.host)}`), trace: r.trace };
  if (d.kind === 'passthrough') return { ...r, result: 'passthrough', reason: `${prefix}${what} matches none of ${scope}: tunnelled to the requested address (PassthroughCluster, ALLOW_ANY)` };
  return { ...r, result: 'blocked', reason: `${prefix}${what} matches none of ${scope} and the outbound policy is REGISTRY_ONLY: the tunnel is closed after the ClientHello, nothing is dialled` };
}

/**
 * `tcp://host:port`: a gateway uses the TCP route bound to that port; a sidecar tunnel
 * (CONNECT) takes the service's `tcp` routes, else the service, else the outbound policy.
 */
export function explainTcp(snap: Snapshot, url: string): ExplainResult {
  const u = parseL4Url(url, 'tcp');
  const b = base(snap, 'tcp', u.host, u.port);
  if (snap.proxy.role === 'gateway') {
    const l = snap.listeners.find((x) => x.port === u.port);
    if (!l) return { ...b, reason: `the gateway has no listener on port ${u.port}: the connection would be refused` };
    if ((l.tlsRoutes?.length ?? 0) > 0) return { ...b, reason: `port ${u.port} is a TLS PASSTHROUGH port: the SNI picks the route (explain with tls://SNI:${u.port})` };
    const r = l.tcpRoute;
    if (!r) return { ...b, reason: `no VirtualService tcp route is bound to port ${u.port}: the connection would be closed` };
    return routed(snap, b, r, 'tcp', 'the bound tcp route forwards each connection to one of the destinations below');
  }
  const plan = planTunnel(snap, u.authority);
  if (!plan) throw new Error(`invalid URL "${url}": use tcp://host:port`);
  if (plan.kind === 'sniff') return sidecarSni(snap, b, plan, null, `port ${plan.port} carries TLS routes (explain with tls://SNI:${plan.port}); a connection `);
  return sidecarFixed(snap, b, plan);
}

/** `tls://host:port[?sni=name]`: the routing decision for a TLS ClientHello carrying that SNI. */
export function explainTls(snap: Snapshot, url: string): ExplainResult {
  const u = parseL4Url(url, 'tls');
  const raw = u.query.get('sni');
  const sni = raw !== null ? (raw === '' ? null : normalizeRequestHost(raw)) : isIP(u.host) ? null : u.host;
  const b = base(snap, 'tls', u.host, u.port, sni);
  if (snap.proxy.role === 'gateway') {
    const l = snap.listeners.find((x) => x.port === u.port);
    if (!l) return { ...b, reason: `the gateway has no listener on port ${u.port}: the connection would be refused` };
    const routes = l.tlsRoutes ?? [];
    if (routes.length > 0) {
      const trace: Array<L4TraceRow<(typeof routes)[number]>> = [];
      const r = firstL4Match(routes, { sni, destinationIp: null }, trace);
      const t = rows(trace, 'tls', (x) => ({ route: x, service: null }));
      if (!r) return { ...b, trace: t, reason: `no tls route of the PASSTHROUGH servers on port ${u.port} covers ${sni === null ? 'a ClientHello without SNI' : `SNI "${sni}"`}: the connection is closed` };
      return { ...routed(snap, b, r, 'tls', `VirtualService ${refName(r.virtualService)} tls[${r.ruleIndex}] matched: the TLS bytes are passed through, not terminated`), trace: t };
    }
    if (l.protocol === 'TLS' && l.tcpRoute) return routed(snap, b, l.tcpRoute, 'tcp', `TLS is terminated on port ${u.port}; the decrypted bytes are forwarded by the bound tcp route`);
    const terminating = l.servers.filter((s) => s.tls && s.tlsMode !== 'PASSTHROUGH');
    if (terminating.length > 0) {
      const names = terminating.map((s) => `${refName(s.gateway)} servers[${s.serverIndex}]`).join(', ');
      return { ...b, reason: `TLS is terminated on port ${u.port} (${names}): explain the request inside with https://${sni ?? u.host}:${u.port}/path` };
    }
    if (l.tcpRoute) return routed(snap, b, l.tcpRoute, 'tcp', `port ${u.port} is a TCP port: the SNI is not inspected; the bound tcp route forwards each connection`);
    return { ...b, reason: `no VirtualService tls route is bound to port ${u.port}: the connection would be closed` };
  }
  const plan = planTunnel(snap, u.authority);
  if (!plan) throw new Error(`invalid URL "${url}": use tls://host:port[?sni=name]`);
  if (plan.kind === 'sniff') return sidecarSni(snap, b, plan, sni, `a ClientHello tunnelled to ${plan.host}:${plan.port} `);
  const r = sidecarFixed(snap, b, plan);
  return plan.kind === 'route' ? { ...r, reason: `the SNI is not inspected: ${r.reason}` } : r;
}
