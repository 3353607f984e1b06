/**
 * A Gateway TCP server port (VirtualService `tcp` routes; TLS PASSTHROUGH `tls` routes by the
 * ClientHello's SNI): each connection is sent, whole, to one weighted destination's endpoint
 * through the cluster's load balancer, bytes piped both ways with backpressure; istio_tcp_*
 * metrics are recorded. No route: the connection is closed (Envoy's BlackHole). A `TLS` port
 * whose servers terminate TLS (SIMPLE/MUTUAL/OPTIONAL_MUTUAL) decrypts first, with the same
 * certificate choice, client checks and reloads as HTTPS servers, then routes the plain bytes
 * by the port's `tcp` route.
 *
 * The weighted pick, upstream resolution and piping are exported for the sidecar's CONNECT
 * tunnels (http/connect.ts), which route the same way.
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import type { Listener, Snapshot, TcpRoute, TlsRoute } from '../../snapshot/types.js';
import { createTlsServer, type TlsServerEntry } from './https-listener.js';
import { firstL4Match, readSni } from './sni.js';
import type { ClusterManager, ClusterRuntime } from '../cluster/manager.js';
import type { HostRuntime } from '../cluster/host.js';
import type { DestinationLabels } from '../../observability/identity.js';
import { Flag } from '../../observability/flags.js';

export interface TcpObserver {
  opened(dest: DestinationLabels): void;
  closed(dest: DestinationLabels, sent: number, received: number, flags: number): void;
}

export interface TcpListenerDeps {
  snapshot: () => Snapshot;
  clusters: ClusterManager;
  rnd: () => number;
  observer: TcpObserver | null;
  /** Where `credentialName` secrets are mounted (TLS-terminating servers). */
  credentialsDir?: string | null;
  /** Error lines (a TLS server whose certificates cannot be read, reload failures). */
  log?: (line: string) => void;
}

/** Gateway server modes this listener terminates before TCP routing. */
const TERMINATED = new Set(['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL']);

export class TcpListener {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** The TLS terminator for the current servers' settings (rebuilt when they change). */
  private terminator: { key: string; server: net.Server | null } | null = null;

  constructor(
    private readonly deps: TcpListenerDeps,
    private readonly configPort: number,
  ) {
    this.server = net.createServer({ noDelay: true }, (s) => this.accept(s));
    this.server.on('error', () => undefined);
  }

  private accept(client: net.Socket): void {
    this.sockets.add(client);
    client.on('close', () => this.sockets.delete(client));
    client.on('error', () => client.destroy());
    const snap = this.deps.snapshot();
    this.deps.clusters.update(snap);
    const listener = snap.listeners.find((l) => l.port === this.configPort);
    const entries = listener ? terminatedEntries(listener) : [];
    if (entries.length > 0) return this.acceptTerminated(client, entries);
    const tlsRoutes = listener?.tlsRoutes ?? [];
    if (tlsRoutes.length > 0) return this.acceptTls(client, tlsRoutes);
    const route = listener?.tcpRoute ?? null;
    if (!route) return void client.destroy();
    this.forward(client, route, null);
  }

  /**
   * TLS terminated, then the decrypted stream routed by the port's `tcp` route (looked up once
   * the handshake and client checks pass, so a reload in between is honoured).
   */
  private acceptTerminated(client: net.Socket, entries: readonly TlsServerEntry[]): void {
    const server = this.terminatorFor(entries);
    if (!server) return void client.destroy();
    server.emit('connection', client);
  }

  private terminatorFor(entries: readonly TlsServerEntry[]): net.Server | null {
    const key = JSON.stringify(entries);
    if (this.terminator?.key === key) return this.terminator.server;
    this.terminator?.server?.close();
    const log = this.deps.log ?? ((): void => undefined);
    let server: net.Server | null = null;
    try {
      server = createTlsServer(entries, (tlsSocket) => this.onDecrypted(tlsSocket), this.deps.credentialsDir ?? null, {
        onReload: () => log(`gateway TLS port ${this.configPort}: certificates reloaded`),
        onReloadError: (e) => log(`warning: gateway TLS port ${this.configPort}: changed certificates not usable (${e.message}); the previous ones keep serving`),
      });
    } catch (e) {
      log(`error: gateway TLS port ${this.configPort}: connections are closed: ${(e as Error).message}`);
    }
    this.terminator = { key, server };
    return server;
  }

  private onDecrypted(socket: TLSSocket): void {
    const listener = this.deps.snapshot().listeners.find((l) => l.port === this.configPort);
    const route = listener?.tcpRoute ?? null;
    if (!route) return void socket.destroy();
    this.forward(socket, route, null);
  }

  /** PASSTHROUGH: read the ClientHello (not terminating TLS), route on its SNI. */
  private acceptTls(client: net.Socket, routes: readonly TlsRoute[]): void {
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => client.destroy(), 5000);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const r = readSni(buf);
      if (r.kind === 'need-more' && buf.length < 16 * 1024) return;
      client.removeListener('data', onData);
      clearTimeout(timer);
      client.pause();
      const name = r.kind === 'sni' ? r.name : null;
      const route = name === null ? null : firstL4Match(routes, { sni: name, destinationIp: null });
      if (!route) return void client.destroy();
      this.forward(client, route, buf);
    };
    client.on('data', onData);
  }

  private forward(client: Duplex, route: TcpRoute, head: Buffer | null): void {
    const up = resolveL4Upstream(route, this.deps.clusters, this.deps.rnd);
    // A gateway has no original destination to pass through to: PASSTHROUGH clusters close too.
    if (up.kind !== 'endpoint') return void client.destroy();
    const { rt, host } = up;
    const dest = host.destination(rt.config.host, rt.config.namespace);
    host.state.active++;
    this.deps.observer?.opened(dest);
    pipeL4(client, { host: host.address, port: host.port, connectTimeoutMs: rt.config.connectionPool.connectTimeoutMs }, head, {
      connected: () => undefined,
      failed: () => client.destroy(),
      closed: (sent, received, connected) => {
        host.state.active--;
        host.state.total++;
        this.deps.observer?.closed(dest, sent, received, connected ? 0 : Flag.UF);
      },
    });
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen({ port, host }, () => {
        this.server.removeListener('error', onError);
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  stopAccepting(): void {
    this.server.close();
    this.terminator?.server?.close();
  }

  destroy(): void {
    this.server.close();
    this.terminator?.server?.close();
    for (const s of this.sockets) s.destroy();
  }
}

/** The servers of a `TLS` port that terminate TLS (HTTPS ports are served as HTTP elsewhere). */
function terminatedEntries(l: Listener): TlsServerEntry[] {
  if (l.protocol !== 'TLS' || l.tcpRoute === null) return [];
  return l.servers.flatMap((x) => (x.tls && TERMINATED.has(x.tls.mode) ? [{ hosts: x.hosts, tls: x.tls }] : []));
}

/** The weighted destination for one connection (`rnd` in [0, 1)). */
export function pickL4Destination<D extends { weight: number }>(dests: readonly D[], totalWeight: number, rnd: () => number): D {
  if (dests.length === 1) return dests[0];
  const target = rnd() * totalWeight;
  let acc = 0;
  for (const d of dests) {
    acc += d.weight;
    if (target < acc) return d;
  }
  return dests[dests.length - 1];
}

/** Where one L4 connection goes after the weighted pick and the cluster's load balancer. */
export type L4Upstream =
  | { kind: 'endpoint'; cluster: string; rt: ClusterRuntime; host: HostRuntime }
  /** PASSTHROUGH load balancer or `resolution: NONE`: dial the address the client asked for. */
  | { kind: 'original'; cluster: string; rt: ClusterRuntime }
  /** The cluster does not exist (a subset no DestinationRule defines): Envoy's NC. */
  | { kind: 'no_cluster'; cluster: string }
  /** The cluster has no healthy endpoint: Envoy's UH. */
  | { kind: 'no_healthy_upstream'; cluster: string; rt: ClusterRuntime };

/** Picks a weighted destination of an L4 route, then an endpoint of its cluster. */
export function resolveL4Upstream(route: Pick<TcpRoute, 'destinations' | 'totalWeight'>, clusters: ClusterManager, rnd: () => number): L4Upstream {
  const d = pickL4Destination(route.destinations, route.totalWeight, rnd);
  const rt = clusters.get(d.cluster);
  if (!rt) return { kind: 'no_cluster', cluster: d.cluster };
  if (rt.config.resolution === 'NONE' || rt.config.lb.kind === 'PASSTHROUGH') return { kind: 'original', cluster: d.cluster, rt };
  const host = rt.picker.pick({ rnd }) as HostRuntime | null;
  return host ? { kind: 'endpoint', cluster: d.cluster, rt, host } : { kind: 'no_healthy_upstream', cluster: d.cluster, rt };
}

export interface PipeHooks {
  /** The upstream connection is up; called before `head` is written and the pipes start. */
  connected(): void;
  /** The upstream connection could not be made (refused, timeout); the client is untouched. */
  failed(err: Error): void;
  /** Once, when either side is gone: bytes upstream->client (`sent`) and client->upstream. */
  closed(sent: number, received: number, connected: boolean): void;
}

/**
 * Dials `target` and, once connected, pipes the client both ways with backpressure (`head`:
 * bytes already read from the client, written first). The client is paused until then so no
 * byte is lost; either side closing ends the other.
 */
export function pipeL4(client: Duplex, target: { host: string; port: number; connectTimeoutMs: number }, head: Buffer | null, hooks: PipeHooks): void {
  const upstream = net.connect({ host: target.host, port: target.port, noDelay: true });
  const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), target.connectTimeoutMs);
  let sent = 0;
  let received = 0;
  let connected = false;
  let closed = false;
  const finish = (): void => {
    if (closed) return;
    closed = true;
    clearTimeout(timer);
    hooks.closed(sent, received, connected);
  };
  client.pause();
  upstream.once('connect', () => {
    connected = true;
    clearTimeout(timer);
    hooks.connected();
    if (head && head.length > 0) upstream.write(head);
    client.on('data', (c: Buffer) => (received += c.length));
    upstream.on('data', (c: Buffer) => (sent += c.length));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  upstream.on('error', (e) => {
    clearTimeout(timer);
    if (!connected) hooks.failed(e);
    else client.destroy();
  });
  upstream.on('close', () => {
    if (connected) client.end();
    finish();
  });
  client.on('close', () => {
    upstream.destroy();
    finish();
  });
}
