/**
 * A Gateway TCP server port (VirtualService `tcp` routes): each connection is sent, whole,
 * to one weighted destination's endpoint through the cluster's load balancer, bytes piped
 * both ways with backpressure; istio_tcp_* metrics are recorded. No route: the connection
 * is closed (Envoy's BlackHole).
 */
import net from 'node:net';
import type { Snapshot, TcpRoute, TlsRoute } from '../../snapshot/types.js';
import { readSni, sniCovers } from './sni.js';
import type { ClusterManager } from '../cluster/manager.js';
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
}

export class TcpListener {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

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
    const tlsRoutes = listener?.tlsRoutes ?? [];
    if (tlsRoutes.length > 0) return this.acceptTls(client, tlsRoutes);
    const route = listener?.tcpRoute ?? null;
    if (!route) return void client.destroy();
    this.forward(client, route, null);
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
      const route = name === null ? null : routes.find((x) => x.sniHosts.some((h) => sniCovers(h, name)));
      if (!route) return void client.destroy();
      this.forward(client, route, buf);
    };
    client.on('data', onData);
  }

  private forward(client: net.Socket, route: TcpRoute, head: Buffer | null): void {
    let pick = route.destinations[0];
    if (route.destinations.length > 1) {
      const target = this.deps.rnd() * route.totalWeight;
      let acc = 0;
      for (const d of route.destinations) {
        acc += d.weight;
        if (target < acc) {
          pick = d;
          break;
        }
      }
    }
    const rt = this.deps.clusters.get(pick.cluster);
    const host = rt ? (rt.picker.pick({ rnd: this.deps.rnd }) as HostRuntime | null) : null;
    if (!rt || !host) return void client.destroy();
    const dest = host.destination(rt.config.host, rt.config.namespace);
    host.state.active++;
    const upstream = net.connect({ host: host.address, port: host.port, noDelay: true });
    const timer = setTimeout(() => upstream.destroy(new Error('connect timeout')), rt.config.connectionPool.connectTimeoutMs);
    let sent = 0;
    let received = 0;
    let connected = false;
    this.deps.observer?.opened(dest);
    // Hold the client's bytes until the upstream is connected (a 'data' listener would drop them).
    client.pause();
    upstream.once('connect', () => {
      connected = true;
      clearTimeout(timer);
      if (head) upstream.write(head);
      client.on('data', (c: Buffer) => (received += c.length));
      upstream.on('data', (c: Buffer) => (sent += c.length));
      client.pipe(upstream);
      upstream.pipe(client);
    });
    upstream.on('error', () => client.destroy());
    let closed = false;
    const finish = (): void => {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      host.state.active--;
      host.state.total++;
      this.deps.observer?.closed(dest, sent, received, connected ? 0 : Flag.UF);
    };
    upstream.on('close', () => {
      finish();
      if (connected) client.end();
      else client.destroy();
    });
    client.on('close', () => {
      upstream.destroy();
      finish();
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
  }

  destroy(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }
}
