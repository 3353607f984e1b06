/**
 * `CONNECT host:port` on the sidecar's outbound listener (what `HTTPS_PROXY` clients send),
 * standing in for the transparent capture of a real sidecar: the authority is the original
 * destination. Where the tunnel goes (istio-semantics.md §3.3 step 10, §3.8):
 *
 * - a TCP service port (TCP, MONGO, REDIS, MYSQL): the service's VirtualService `tcp` routes
 *   (first match; `destinationSubnets` against the dialled IP or the service VIP), else the
 *   service itself;
 * - a TLS service port (TLS, HTTPS): the tunnel is answered `200` first, then the first bytes
 *   are read (like Envoy's tls_inspector, bounded by a timeout) and the ClientHello's SNI picks
 *   the route: a service with a VIP has its own routes; services without one share the port,
 *   where the SNI names the service (a MESH_EXTERNAL ServiceEntry `api.example.com` port 443
 *   TLS takes a CONNECT to any IP carrying SNI `api.example.com`); no match = outbound policy;
 * - an HTTP service port: the service's cluster (bytes are not parsed as HTTP);
 * - anything else: the requested address under ALLOW_ANY (PassthroughCluster), nothing under
 *   REGISTRY_ONLY (502 before the tunnel opens, or the connection closed after the ClientHello:
 *   not a byte reaches any upstream).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { ipInCidr, isIP } from '../../core/net.js';
import type { SidecarL4Route, SidecarL4Service, Snapshot } from '../../snapshot/types.js';
import type { ClusterManager } from '../cluster/manager.js';
import type { HostRuntime } from '../cluster/host.js';
import { normalizeRequestHost, selectRouteTable, selectVirtualHost } from '../router/match.js';
import { splitHostPort } from '../router/redirect.js';
import { Flag } from '../../observability/flags.js';
import { StreamInfo } from './stream-info.js';
import { firstL4Match, readSni, type L4TraceRow } from '../listener/sni.js';
import { pipeL4, resolveL4Upstream, type TcpObserver } from '../listener/tcp-listener.js';

export interface ConnectDeps {
  snapshot: () => Snapshot;
  clusters: ClusterManager;
  rnd: () => number;
  now: () => number;
  onComplete: (info: StreamInfo) => void;
  connectTimeoutMs: number;
  /** How long to wait for a ClientHello on a TLS port before routing without SNI (default 5 s). */
  sniffTimeoutMs?: number;
  /** istio_tcp_* metrics for tunnels that reach a service endpoint. */
  tcp?: TcpObserver | null;
}

/** One candidate of an SNI decision: a route and the service it belongs to. */
export interface L4Chain {
  service: SidecarL4Service;
  route: SidecarL4Route;
  sniHosts: readonly string[];
  destinationSubnets: readonly string[];
}

/** Where a CONNECT tunnel goes, decided from the authority alone (pure). */
export type TunnelPlan = { host: string; port: number } & (
  | { kind: 'route'; service: SidecarL4Service; route: SidecarL4Route; destinationIp: string | null; trace: Array<L4TraceRow<SidecarL4Route>> }
  /** An HTTP port of a registry service: the tunnel goes to its cluster. */
  | { kind: 'service'; cluster: string }
  /** A TLS port: the ClientHello decides (see resolveSni). `service` is the VIP service, if any. */
  | { kind: 'sniff'; service: SidecarL4Service | null; chains: readonly L4Chain[]; destinationIp: string | null }
  | { kind: 'passthrough' }
  | { kind: 'blocked' }
);

/** The outcome of an SNI decision. */
export type SniDecision = { kind: 'route'; service: SidecarL4Service; route: SidecarL4Route } | { kind: 'passthrough' } | { kind: 'blocked' };

const hasVip = (s: SidecarL4Service): boolean => s.addresses.some((a) => isIP(a));

/**
 * The L4 service a destination names on a port: a domain (FQDN, short form, VIP), an address
 * inside its `addresses` CIDRs, or its wildcard host (longest suffix wins).
 */
export function findL4Service(services: readonly SidecarL4Service[], host: string): SidecarL4Service | null {
  const exact = services.find((s) => s.domains.includes(host));
  if (exact) return exact;
  if (isIP(host)) return services.find((s) => s.addresses.some((a) => a.includes('/') && ipInCidr(host, a))) ?? null;
  let best: SidecarL4Service | null = null;
  let bestLen = -1;
  for (const s of services) {
    for (const d of s.domains) {
      if (!d.startsWith('*')) continue;
      const suffix = d.slice(1);
      if ((d === '*' || (host.length > suffix.length && host.endsWith(suffix))) && suffix.length > bestLen) {
        best = s;
        bestLen = suffix.length;
      }
    }
  }
  return best;
}

const chainsOf = (s: SidecarL4Service): L4Chain[] =>
  [...s.routes, ...(s.fallback ? [s.fallback] : [])].map((route) => ({ service: s, route, sniHosts: route.sniHosts, destinationSubnets: route.destinationSubnets }));

/** An HTTP service port named by the authority (route-table domains resolve its aliases). */
function httpServiceCluster(snap: Snapshot, host: string, port: number): string | null {
  const table = selectRouteTable(snap, { host, port, method: 'CONNECT', path: '/', scheme: 'http', headers: {} });
  const vhost = table ? selectVirtualHost(table, host) : null;
  // A service vhost is named `<fqdn>:<port>`; the catch-alls are allow_any / block_all.
  const fqdn = vhost && vhost.name.endsWith(`:${port}`) ? vhost.name.slice(0, -`:${port}`.length) : null;
  const name = fqdn ? `outbound|${port}||${fqdn}` : null;
  return name && snap.clusters.has(name) ? name : null;
}

/** Decides what a tunnel to `authority` does before any tunnelled byte is read; null = bad authority. */
export function planTunnel(snap: Snapshot, authority: string): TunnelPlan | null {
  const [rawHost, port] = splitHostPort(authority);
  if (port === null || !rawHost) return null;
  const host = normalizeRequestHost(rawHost);
  const l4 = snap.sidecarL4?.get(port) ?? [];
  const svc = findL4Service(l4, host);
  const vip = svc?.addresses.find((a) => isIP(a)) ?? null;
  const destinationIp = isIP(host) ? host : vip;
  if (svc?.kind === 'tcp') {
    const trace: Array<L4TraceRow<SidecarL4Route>> = [];
    const route = firstL4Match(svc.routes, { sni: null, destinationIp }, trace) ?? svc.fallback;
    if (route) return { host, port, kind: 'route', service: svc, route, destinationIp, trace };
  }
  // A VIP service has its own listener: only its routes apply.
  if (svc?.kind === 'tls' && hasVip(svc)) return { host, port, kind: 'sniff', service: svc, chains: chainsOf(svc), destinationIp };
  const cluster = httpServiceCluster(snap, host, port);
  if (cluster) return { host, port, kind: 'service', cluster };
  // Services without a VIP share the port: the SNI tells them apart.
  const shared = l4.filter((s) => s.kind === 'tls' && !hasVip(s)).flatMap(chainsOf);
  if (shared.length > 0) return { host, port, kind: 'sniff', service: null, chains: shared, destinationIp };
  return { host, port, kind: snap.outboundTrafficPolicy === 'REGISTRY_ONLY' ? 'blocked' : 'passthrough' };
}

/** The route a ClientHello's SNI (null: not TLS / none sent) selects, else the outbound policy. */
export function resolveSni(
  plan: Extract<TunnelPlan, { kind: 'sniff' }>,
  sni: string | null,
  policy: 'ALLOW_ANY' | 'REGISTRY_ONLY',
  trace?: Array<L4TraceRow<L4Chain>>,
): SniDecision {
  const c = firstL4Match(plan.chains, { sni, destinationIp: plan.destinationIp }, trace);
  if (c) return { kind: 'route', service: c.service, route: c.route };
  return { kind: policy === 'REGISTRY_ONLY' ? 'blocked' : 'passthrough' };
}

/**
 * Reads the first tunnelled bytes until a ClientHello is complete, the bytes are clearly not
 * TLS, 16 KiB arrived, or `timeoutMs` passed (a server-first protocol sends nothing: routed
 * without SNI, as Istio continues on listener-filter timeout). `done` gets the bytes read;
 * `gone` is called instead when the client leaves first.
 */
function sniffClientHello(socket: Duplex, head: Buffer, timeoutMs: number, done: (sni: string | null, bytes: Buffer) => void, gone: () => void): void {
  let buf = head;
  let over = false;
  const finish = (): void => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    socket.removeListener('data', onData);
    socket.removeListener('close', onClose);
    socket.pause();
    const r = readSni(buf);
    done(r.kind === 'sni' ? r.name : null, buf);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
    if (readSni(buf).kind !== 'need-more' || buf.length >= 16 * 1024) finish();
  };
  const onClose = (): void => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    gone();
  };
  const timer = setTimeout(finish, timeoutMs);
  if (readSni(buf).kind !== 'need-more') return finish();
  socket.on('data', onData);
  socket.once('close', onClose);
}

export function handleConnect(deps: ConnectDeps, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const snap = deps.snapshot();
  deps.clusters.update(snap);
  const info = new StreamInfo(deps.now());
  info.method = 'CONNECT';
  info.protocol = req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
  info.authority = req.url ?? '';
  info.path = '';
  info.userAgent = typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : '';
  info.downstreamRemote = req.socket.remoteAddress ?? '';
  info.downstreamRemotePort = req.socket.remotePort ?? 0;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    info.durationMs = info.elapsedMs();
    deps.onComplete(info);
  };
  socket.on('error', () => undefined);
  let established = false;
  /** Before the 200: an HTTP answer; after it: the connection is closed. */
  const refuse = (status: number, text: string, flags: number, details: string): void => {
    info.flags |= flags;
    info.details = details;
    if (established) socket.destroy();
    else {
      info.responseCode = status;
      socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    }
    finish();
  };
  const establish = (): void => {
    established = true;
    info.responseCode = 200;
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
  };
  /** Dials and pipes; before the 200 the tunnel opens only once the upstream is connected. */
  const dial = (host: string, port: number, timeoutMs: number, bytes: Buffer, endpoint: HostRuntime | null, cluster: { host: string; namespace: string } | null): void => {
    info.upstreamHost = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const dest = endpoint && cluster ? endpoint.destination(cluster.host, cluster.namespace) : null;
    if (dest) info.destination = dest;
    if (endpoint) endpoint.state.active++;
    if (dest) deps.tcp?.opened(dest);
    pipeL4(socket, { host, port, connectTimeoutMs: timeoutMs }, bytes, {
      connected: () => {
        info.details = 'via_upstream';
        if (!established) establish();
      },
      failed: () => refuse(503, 'Service Unavailable', Flag.UF, 'upstream_connect_failure'),
      closed: (sent, received, connected) => {
        info.bytesSent = sent;
        info.bytesReceived = received + bytes.length;
        if (endpoint) {
          endpoint.state.active--;
          endpoint.state.total++;
        }
        if (dest) deps.tcp?.closed(dest, sent, received + bytes.length, connected ? 0 : Flag.UF);
        finish();
      },
    });
  };
  /** Sends the tunnel along an L4 route (weighted pick, then the cluster's endpoint). */
  const viaRoute = (route: SidecarL4Route, host: string, port: number, bytes: Buffer): void => {
    const up = resolveL4Upstream(route, deps.clusters, deps.rnd);
    info.upstreamCluster = up.cluster;
    if (up.kind === 'no_cluster') return refuse(503, 'Service Unavailable', Flag.NC, 'cluster_not_found');
    info.destinationService = up.rt.config.host;
    if (up.kind === 'no_healthy_upstream') return refuse(503, 'Service Unavailable', Flag.UH, 'no_healthy_upstream');
    const timeout = up.rt.config.connectionPool.connectTimeoutMs;
    if (up.kind === 'original') return dial(host, port, timeout, bytes, null, null);
    dial(up.host.address, up.host.port, timeout, bytes, up.host, up.rt.config);
  };
  const passthrough = (host: string, port: number, bytes: Buffer): void => {
    info.upstreamCluster = 'PassthroughCluster';
    info.destinationService = host;
    dial(host, port, deps.connectTimeoutMs, bytes, null, null);
  };
  const blackhole = (): void => {
    info.upstreamCluster = 'BlackHoleCluster';
    // Istio's BlackHoleCluster has no endpoints: Envoy logs UH once the tunnel is open.
    refuse(502, 'Bad Gateway', established ? Flag.UH : 0, 'registry_only');
  };

  const plan = planTunnel(snap, req.url ?? '');
  if (!plan) return refuse(400, 'Bad Request', 0, 'invalid_connect_authority');
  switch (plan.kind) {
    case 'blocked':
      return blackhole();
    case 'passthrough':
      return passthrough(plan.host, plan.port, head);
    case 'route':
      return viaRoute(plan.route, plan.host, plan.port, head);
    case 'service': {
      const rt = deps.clusters.get(plan.cluster);
      info.upstreamCluster = plan.cluster;
      if (!rt) return refuse(503, 'Service Unavailable', Flag.NC, 'cluster_not_found');
      info.destinationService = rt.config.host;
      if (rt.config.resolution === 'NONE' || rt.config.lb.kind === 'PASSTHROUGH') return dial(plan.host, plan.port, rt.config.connectionPool.connectTimeoutMs, head, null, null);
      const h = rt.picker.pick({ rnd: deps.rnd }) as HostRuntime | null;
      if (!h) return refuse(503, 'Service Unavailable', Flag.UH, 'no_healthy_upstream');
      return dial(h.address, h.port, rt.config.connectionPool.connectTimeoutMs, head, h, rt.config);
    }
    case 'sniff': {
      // The client sends its ClientHello only once the tunnel is open.
      establish();
      const decide = (sni: string | null, bytes: Buffer): void => {
        const d = resolveSni(plan, sni, snap.outboundTrafficPolicy);
        if (d.kind === 'route') return viaRoute(d.route, plan.host, plan.port, bytes);
        if (d.kind === 'passthrough') return passthrough(plan.host, plan.port, bytes);
        blackhole();
      };
      sniffClientHello(socket, head, deps.sniffTimeoutMs ?? 5000, decide, () => {
        info.flags |= Flag.DC;
        info.details = 'downstream_closed_before_client_hello';
        finish();
      });
      return;
    }
  }
}
