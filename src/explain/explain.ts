/**
 * `explain`: what the proxy would do with one request, without sending it. It runs the
 * proxy's own matcher (dataplane/router/match.ts) over a compiled snapshot, with tracing on,
 * so "explain says X" means "the proxy does X".
 */
import { normalizePath } from '../dataplane/http/normalize.js';
import type { Cluster, Route, RouteTable, Snapshot, VirtualHost } from '../snapshot/types.js';
import { matchRoute, resolveRequestPort, selectRouteTable, selectVirtualHost, type RequestInfo, type RouteTrace } from '../dataplane/router/match.js';
import { redirectLocation, splitHostPort } from '../dataplane/router/redirect.js';
import { egressForPort, type SidecarEgressListener } from '../compile/scope.js';
import { describeDestination as destination, refName } from './common.js';
import { explainTcp, explainTls } from './l4.js';

export type ExplainResultKind = 'route' | 'redirect' | 'direct_response' | 'no_route' | 'passthrough' | 'blocked';

export interface ExplainRequest {
  method: string;
  /** `http://host[:port]/path?query` or `https://...`. */
  url: string;
  headers: Record<string, string>;
}

export interface ExplainDestination {
  host: string;
  port: number;
  subset: string | null;
  weight: number;
  cluster: string;
  /** false when no cluster exists (undefined subset => 503 NC). */
  clusterFound: boolean;
  endpoints: string[];
  /** Why endpoints are empty, when they are. */
  note: string | null;
}

export interface ExplainTraceRow {
  /** Which list of the VirtualService the rule is in (`http` when absent). */
  section?: 'http' | 'tcp' | 'tls';
  /** L4 default routes: the service they lead to. */
  service?: string | null;
  virtualService: string | null;
  routeIndex: number | null;
  matchIndex: number | null;
  routeName: string | null;
  matched: boolean;
  failures: string[];
}

export interface ExplainResult {
  result: ExplainResultKind;
  status: number | null;
  /** Envoy response flag the access log would show (NR, NC, UH), or null. */
  responseFlag: string | null;
  reason: string;
  virtualService: string | null;
  routeIndex: number | null;
  /** tcp:// and tls://: which list of the VirtualService `routeIndex` points into. */
  section?: 'http' | 'tcp' | 'tls';
  routeName: string | null;
  destinations: ExplainDestination[];
  redirect: { status: number; location: string } | null;
  directResponse: { status: number; body: string | null } | null;
  policy: ExplainPolicy | null;
  /** `sni`: tls:// only, the ClientHello server name explained (null = none sent). */
  request: { method: string; scheme: string; host: string; port: number; path: string; sni?: string | null };
  /**
   * `egressListener` (sidecars whose Sidecar lists `egress`): the listener that governs the
   * request's port — the one bound to it, else the port-less one; null = none (nothing is
   * imported for the port). Absent when the snapshot records no egress listeners.
   */
  proxy: {
    role: string;
    namespace: string;
    labels: Record<string, string>;
    sidecar: string | null;
    outboundTrafficPolicy: string;
    egressListener?: { index: number | null; port: number | null; hosts: string[] } | null;
  };
  routeTable: string | null;
  virtualHost: string | null;
  trace: ExplainTraceRow[];
}

export interface ExplainPolicy {
  timeoutMs: number | null;
  retries: { attempts: number; perTryTimeoutMs: number | null; retryOn: string; retryIgnorePreviousHosts: boolean; backoffBaseMs: number; isDefault: boolean } | null;
  fault: Route['fault'];
  mirror: Array<{ cluster: string; percentage: number }> | null;
  rewrite: { uri: string | null; uriRegex: string | null; authority: string | null } | null;
  cors: boolean;
  loadBalancer: string;
  consistentHash: Cluster['lb']['hash'];
  connectionPool: Cluster['connectionPool'] | Record<string, never>;
  outlierDetection: Cluster['outlier'];
  tls: Cluster['tls'];
  destinationRule: string | null;
}

/** Parses an explain URL into the matcher's request shape. Throws a user-facing Error. */
export function toRequestInfo(snap: Snapshot, req: ExplainRequest): RequestInfo {
  let u: URL;
  try {
    u = new URL(req.url);
  } catch {
    throw new Error(`invalid URL "${req.url}": use http://host[:port]/path?query`);
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme !== 'http' && scheme !== 'https') throw new Error(`unsupported scheme "${scheme}": use http://, https://, tcp://host:port or tls://host:port`);
  const host = u.host; // keeps an explicit port
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k.toLowerCase()] = v;
  const hostHeader = headers.host ?? host;
  const explicitPort = u.port ? Number(u.port) : null;
  let port: number;
  if (snap.proxy.role === 'sidecar') port = explicitPort ?? resolveRequestPort(snap, hostHeader);
  else port = explicitPort ?? (scheme === 'https' ? 443 : 80);
  headers.host = hostHeader;
  // The proxy matches the path after Istio's default normalisation (BASE) of the raw request
  // target; WHATWG URL parsing differs (it keeps %61, resolves dots its own way).
  const raw = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/?#]*([^#]*)/.exec(req.url)?.[1] ?? '';
  const path = normalizePath(raw === '' ? '/' : raw.startsWith('/') ? raw : `/${raw}`, 'BASE');
  if (path === null) throw new Error(`the proxy refuses this path with 400 (it contains %00 or another byte Istio's path normalisation rejects): ${req.url}`);
  return { host: hostHeader, port, method: req.method.toUpperCase(), path, scheme, headers };
}


export function explain(snap: Snapshot, req: ExplainRequest): ExplainResult {
  if (/^tcp:\/\//i.test(req.url)) return explainTcp(snap, req.url);
  if (/^tls:\/\//i.test(req.url)) return explainTls(snap, req.url);
  const info = toRequestInfo(snap, req);
  const base: ExplainResult = {
    result: 'no_route',
    status: 404,
    responseFlag: 'NR',
    reason: '',
    virtualService: null,
    routeIndex: null,
    routeName: null,
    destinations: [],
    redirect: null,
    directResponse: null,
    policy: null,
    request: { method: info.method, scheme: info.scheme, host: info.host, port: info.port, path: info.path },
    proxy: {
      role: snap.proxy.role,
      namespace: snap.proxy.namespace,
      labels: { ...snap.proxy.labels },
      sidecar: refName(snap.sidecar),
      outboundTrafficPolicy: snap.outboundTrafficPolicy,
    },
    routeTable: null,
    virtualHost: null,
    trace: [],
  };
  const egress = egressListenerFor(snap, info.port);
  if (egress !== undefined) base.proxy.egressListener = egress;
  const table: RouteTable | null = selectRouteTable(snap, info);
  if (!table) return noTable(snap, base, info);
  base.routeTable = table.name;
  const vhost: VirtualHost | null = selectVirtualHost(table, info.host);
  if (!vhost) {
    base.reason = `no virtual host in route table ${table.name} serves host "${splitHostPort(info.host)[0]}"`;
    return base;
  }
  base.virtualHost = vhost.name;
  if (vhost.requireTls && info.scheme === 'http') {
    const location = `https://${splitHostPort(info.host)[0]}${info.path}`;
    return { ...base, result: 'redirect', status: 301, responseFlag: null, redirect: { status: 301, location }, reason: `gateway server has tls.httpsRedirect: every plain HTTP request is redirected` };
  }
  const trace: RouteTrace[] = [];
  const route = matchRoute(vhost, info, trace);
  base.trace = trace.map((t) => ({
    virtualService: refName(t.route.virtualService),
    routeIndex: t.route.ruleIndex,
    matchIndex: t.route.matchIndex,
    routeName: t.route.name,
    matched: t.matched,
    failures: t.failures,
  }));
  if (!route) {
    base.reason = vhost.routes.length === 0
      ? `virtual host ${vhost.name} has no routes (no VirtualService bound to this server)`
      : `no route of virtual host ${vhost.name} matched the request`;
    base.virtualService = vhost.virtualServices.length === 1 ? refName(vhost.virtualServices[0]) : null;
    return base;
  }
  return fromRoute(snap, base, route, info);
}

/**
 * The Sidecar egress listener governing `port` (Sidecar scoping is per destination port),
 * from the listeners the snapshot records; undefined when it records none.
 */
export function egressListenerFor(snap: Snapshot, port: number): { index: number | null; port: number | null; hosts: string[] } | null | undefined {
  // Read structurally: `sidecarEgress` is filled by compileSnapshot for sidecars.
  const listeners = (snap as Snapshot & { readonly sidecarEgress?: readonly SidecarEgressListener[] }).sidecarEgress;
  if (snap.proxy.role !== 'sidecar' || !listeners || listeners.length === 0) return undefined;
  const l = egressForPort(listeners, port);
  return l ? { index: l.index, port: l.port, hosts: [...l.hosts] } : null;
}

function noTable(snap: Snapshot, base: ExplainResult, info: RequestInfo): ExplainResult {
  if (snap.proxy.role === 'gateway') {
    return { ...base, status: null, responseFlag: null, reason: `the gateway has no listener on port ${info.port}: the connection would be refused` };
  }
  if (snap.outboundTrafficPolicy === 'REGISTRY_ONLY')
    return { ...base, result: 'blocked', status: 502, responseFlag: null, reason: `no service listens on port ${info.port} and the outbound traffic policy is REGISTRY_ONLY (BlackHoleCluster)` };
  return { ...base, result: 'passthrough', status: null, responseFlag: null, reason: `no service listens on port ${info.port}: sent as-is to the requested address (PassthroughCluster, ALLOW_ANY)` };
}

function fromRoute(snap: Snapshot, base: ExplainResult, route: Route, info: RequestInfo): ExplainResult {
  const r: ExplainResult = {
    ...base,
    virtualService: refName(route.virtualService),
    routeIndex: route.ruleIndex,
    routeName: route.name,
    status: null,
    responseFlag: null,
  };
  const a = route.action;
  switch (a.kind) {
    case 'passthrough':
      return { ...r, result: 'passthrough', reason: 'host is not in the registry: sent as-is to the requested address (PassthroughCluster, outbound policy ALLOW_ANY)' };
    case 'blocked':
      return { ...r, result: 'blocked', status: 502, reason: 'host is not in the registry (or not visible through the Sidecar egress hosts) and the outbound policy is REGISTRY_ONLY' };
    case 'redirect': {
      const location = redirectLocation(a, route.match, { scheme: info.scheme, host: info.host, port: info.port, path: info.path });
      return { ...r, result: 'redirect', status: a.status, redirect: { status: a.status, location }, reason: 'the matched route redirects', policy: routePolicy(route, null) };
    }
    case 'direct_response':
      return { ...r, result: 'direct_response', status: a.status, directResponse: { status: a.status, body: a.body }, reason: 'the matched route answers directly', policy: routePolicy(route, null) };
    case 'route': {
      const dests = a.destinations.map((d) => destination(snap, d, a.totalWeight));
      const first = dests.length ? snap.clusters.get(a.destinations[0].cluster) ?? null : null;
      r.destinations = dests;
      r.result = 'route';
      r.policy = routePolicy(route, first);
      const missing = dests.filter((d) => !d.clusterFound);
      const empty = dests.filter((d) => d.clusterFound && d.endpoints.length === 0);
      if (dests.length === 1 && missing.length === 1) {
        r.status = 503;
        r.responseFlag = 'NC';
        r.reason = `cluster ${missing[0].cluster} does not exist (subset "${missing[0].subset}" is defined by no DestinationRule for ${missing[0].host}): 503 NC`;
      } else if (dests.length === 1 && empty.length === 1 && first?.resolution !== 'NONE' && first?.lb.kind !== 'PASSTHROUGH') {
        r.status = 503;
        r.responseFlag = 'UH';
        r.reason = `cluster ${empty[0].cluster} has no endpoints: 503 no healthy upstream (UH)`;
      } else r.reason = 'the matched route forwards to the destinations below';
      return r;
    }
  }
}

function routePolicy(route: Route, c: Cluster | null): ExplainPolicy {
  const rt = route.retry;
  return {
    timeoutMs: route.timeoutMs,
    retries: rt
      ? {
          attempts: rt.attempts,
          perTryTimeoutMs: rt.perTryTimeoutMs,
          retryOn: [...rt.retryOn, ...rt.retriableStatusCodes.map(String)].join(','),
          retryIgnorePreviousHosts: rt.retryIgnorePreviousHosts,
          backoffBaseMs: rt.backoffBaseMs,
          isDefault: rt.isDefault,
        }
      : null,
    fault: route.fault,
    mirror: route.mirrors.length ? route.mirrors.map((m) => ({ cluster: m.cluster, percentage: m.percentage })) : null,
    rewrite: route.rewrite ? { uri: route.rewrite.uri, uriRegex: route.rewrite.uriRegex ? `${route.rewrite.uriRegex.re.source} -> ${route.rewrite.uriRegex.rewrite}` : null, authority: route.rewrite.authority } : null,
    cors: route.cors !== null,
    loadBalancer: c ? c.lb.kind : 'LEAST_REQUEST',
    consistentHash: c ? c.lb.hash : null,
    connectionPool: c ? c.connectionPool : {},
    outlierDetection: c ? c.outlier : null,
    tls: c ? c.tls : null,
    destinationRule: c ? refName(c.destinationRule) : null,
  };
}
