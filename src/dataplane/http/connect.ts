/**
 * `CONNECT host:port` on the sidecar's outbound listener (what `HTTPS_PROXY` clients send):
 * the tunnel goes to the service the registry knows under that host and port (its endpoints,
 * through the cluster's load balancer), to the requested address when the host is unknown and
 * the outbound policy is ALLOW_ANY, and nowhere under REGISTRY_ONLY (502, nothing dialled).
 * TLS inside the tunnel is not inspected yet (TLS routes by SNI come with the Edge work).
 */
import net from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Snapshot } from '../../snapshot/types.js';
import type { ClusterManager } from '../cluster/manager.js';
import type { HostRuntime } from '../cluster/host.js';
import { normalizeRequestHost, selectRouteTable, selectVirtualHost } from '../router/match.js';
import { splitHostPort } from '../router/redirect.js';
import { Flag } from '../../observability/flags.js';
import { StreamInfo } from './stream-info.js';

export interface ConnectDeps {
  snapshot: () => Snapshot;
  clusters: ClusterManager;
  rnd: () => number;
  now: () => number;
  onComplete: (info: StreamInfo) => void;
  connectTimeoutMs: number;
}

/** Where a CONNECT tunnel goes: a service endpoint, the requested address, or nowhere. */
export type TunnelTarget =
  | { kind: 'service'; cluster: string; host: HostRuntime | null }
  | { kind: 'passthrough'; host: string; port: number }
  | { kind: 'blocked' };

/** Decides the tunnel target for `host:port` (pure apart from the picker's state). */
export function tunnelTarget(snap: Snapshot, clusters: ClusterManager, authority: string, rnd: () => number): TunnelTarget | null {
  const [rawHost, port] = splitHostPort(authority);
  if (port === null || !rawHost) return null;
  const host = normalizeRequestHost(rawHost);
  const table = selectRouteTable(snap, { host, port, method: 'CONNECT', path: '/', scheme: 'http', headers: {} });
  const vhost = table ? selectVirtualHost(table, host) : null;
  // A service vhost is named `<fqdn>:<port>`; the catch-alls are allow_any / block_all.
  const fqdn = vhost && vhost.name.endsWith(`:${port}`) ? vhost.name.slice(0, -(`:${port}`.length)) : null;
  // HTTP ports resolve aliases through the route table; other ports (TCP, TLS) by the FQDN.
  const cluster = (fqdn ? clusters.get(`outbound|${port}||${fqdn}`) : undefined) ?? clusters.get(`outbound|${port}||${host}`);
  if (cluster) {
    if (cluster.config.resolution === 'NONE' || cluster.config.lb.kind === 'PASSTHROUGH') return { kind: 'passthrough', host, port };
    return { kind: 'service', cluster: cluster.config.name, host: cluster.picker.pick({ rnd }) as HostRuntime | null };
  }
  return snap.outboundTrafficPolicy === 'REGISTRY_ONLY' ? { kind: 'blocked' } : { kind: 'passthrough', host, port };
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
  const refuse = (status: number, text: string, flags: number, details: string): void => {
    info.responseCode = status;
    info.flags |= flags;
    info.details = details;
    socket.end(`HTTP/1.1 ${status} ${text}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    finish();
  };
  const target = tunnelTarget(snap, deps.clusters, req.url ?? '', deps.rnd);
  if (!target) return refuse(400, 'Bad Request', 0, 'invalid_connect_authority');
  if (target.kind === 'blocked') {
    info.upstreamCluster = 'BlackHoleCluster';
    return refuse(502, 'Bad Gateway', 0, 'registry_only');
  }
  let dialHost: string;
  let dialPort: number;
  if (target.kind === 'service') {
    info.upstreamCluster = target.cluster;
    if (!target.host) return refuse(503, 'Service Unavailable', Flag.UH, 'no_healthy_upstream');
    dialHost = target.host.address;
    dialPort = target.host.port;
  } else {
    info.upstreamCluster = 'PassthroughCluster';
    dialHost = target.host;
    dialPort = target.port;
  }
  info.upstreamHost = `${dialHost}:${dialPort}`;
  const upstream = net.connect({ host: dialHost, port: dialPort });
  const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), deps.connectTimeoutMs);
  let connected = false;
  upstream.once('connect', () => {
    connected = true;
    clearTimeout(timer);
    info.responseCode = 200;
    info.details = 'via_upstream';
    socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
    if (head.length) upstream.write(head);
    socket.pipe(upstream);
    upstream.pipe(socket);
  });
  upstream.on('data', (c: Buffer) => (info.bytesSent += c.length));
  socket.on('data', (c: Buffer) => (info.bytesReceived += c.length));
  upstream.on('error', () => {
    clearTimeout(timer);
    if (!connected) return refuse(503, 'Service Unavailable', Flag.UF, 'upstream_connect_failure');
    socket.destroy();
  });
  upstream.on('close', () => {
    clearTimeout(timer);
    if (connected) socket.end();
    finish();
  });
  socket.on('close', () => {
    upstream.destroy();
    finish();
  });
}
