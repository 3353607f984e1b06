/**
 * One proxy: listeners derived from the live snapshot (sidecar: the outbound listener;
 * gateway: one per HTTP Gateway server port, shifted by the port offset), the request
 * handler, the cluster manager, and graceful drain.
 */
import type { Snapshot } from '../snapshot/types.js';
import { ClusterManager, type ClusterManagerOptions } from './cluster/manager.js';
import { dnsEventLine } from './cluster/dns.js';
import type { EjectionEvent } from './outlier/types.js';
import type { ClusterStats } from '../observability/cluster-stats.js';
import { HttpHandler } from './http/handler.js';
import type { StreamInfo } from './http/stream-info.js';
import { HttpListener, DEFAULT_LIMITS, type ListenerLimits } from './listener/http-listener.js';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { handleConnect, type ConnectDeps } from './http/connect.js';
import type net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createTlsServer, type TlsServerEntry } from './listener/https-listener.js';
import { TcpListener, type TcpObserver } from './listener/tcp-listener.js';

/** What the proxy does with any of its listeners. */
interface AnyListener {
  stopAccepting(): void;
  destroy(): void;
}

/** Gateway server TLS modes the proxy terminates itself. */
const TERMINATED = new Set(['SIMPLE', 'MUTUAL', 'OPTIONAL_MUTUAL']);

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);

export interface ProxyOptions {
  role: 'sidecar' | 'gateway';
  /** Sidecar outbound port (0 = pick a free one). */
  outboundPort: number;
  /** Gateway: listen on Gateway port + offset. */
  portOffset: number;
  /** Address to bind listeners to. */
  bindAddress: string;
  /** Folder of Kubernetes-style TLS secrets for Gateway `credentialName` (`<name>/tls.crt`, `tls.key`, `ca.crt`). */
  credentialsDir?: string | null;
  /** istio_tcp_* metrics for Gateway TCP connections and sidecar tunnels to a service. */
  tcp?: TcpObserver | null;
  snapshot: () => Snapshot;
  onComplete: (info: StreamInfo) => void;
  log: (line: string) => void;
  limits?: ListenerLimits;
  rnd?: () => number;
  now?: () => number;
  /** Per-cluster Envoy stats objects (MeshMetrics.cluster); default: kept privately. */
  clusterStats?: (cluster: string) => ClusterStats;
  /** A cluster left the config (MeshMetrics.removeCluster). */
  removeClusterStats?: (cluster: string) => void;
  /** Outlier-detection timers and clock (tests); default: Node's and performance.now(). */
  outlier?: Pick<ClusterManagerOptions, 'timers' | 'now'>;
  /** DNS resolution of ServiceEntry endpoint names (tests: a fake lookup, a short refresh). */
  dns?: ClusterManagerOptions['dns'];
}

export interface BoundListener {
  name: string;
  /** Config port (gateway server port), 0 for the sidecar outbound listener. */
  configPort: number;
  port: number;
  address: string;
  protocol: string;
}

export class Proxy {
  readonly clusters: ClusterManager;
  readonly handler: HttpHandler;
  private readonly listeners = new Map<number, { l: AnyListener; info: BoundListener }>();
  private draining = false;

  constructor(private readonly opts: ProxyOptions) {
    this.clusters = new ClusterManager({
      stats: opts.clusterStats,
      removeStats: opts.removeClusterStats,
      onOutlierEvent: (c, e, ep) => opts.log(outlierLine(c, e, ep)),
      timers: opts.outlier?.timers,
      now: opts.outlier?.now,
      dns: {
        onEvent: (e) => {
          const line = dnsEventLine(e);
          if (line !== null) opts.log(line);
        },
        ...opts.dns,
      },
    });
    this.handler = new HttpHandler({
      role: opts.role,
      snapshot: opts.snapshot,
      clusters: this.clusters,
      onComplete: opts.onComplete,
      rnd: opts.rnd ?? Math.random,
      now: opts.now ?? Date.now,
      setTimer: (fn, ms, arg) => setTimeout(fn, ms, arg),
    });
    this.connectDeps = {
      snapshot: opts.snapshot,
      clusters: this.clusters,
      rnd: opts.rnd ?? Math.random,
      now: opts.now ?? Date.now,
      onComplete: opts.onComplete,
      connectTimeoutMs: 10_000,
      tcp: opts.tcp ?? null,
    };
  }

  private readonly connectDeps: ConnectDeps;

  /** Binds the listeners the current snapshot calls for. Rejects when a port is busy. */
  async start(): Promise<BoundListener[]> {
    try {
      await this.reconcile(this.opts.snapshot());
    } catch (e) {
      // A failed start (e.g. one port busy) keeps no listener bound: nothing would close it.
      await this.close();
      throw e;
    }
    return this.bound();
  }

  bound(): BoundListener[] {
    return [...this.listeners.values()].map((x) => x.info);
  }

  isDraining(): boolean {
    return this.draining;
  }

  /**
   * After a snapshot swap: gateway listeners follow the Gateway servers (new ports bound,
   * removed ports drained). The sidecar listener never changes.
   */
  async reconcile(snap: Snapshot): Promise<void> {
    this.clusters.update(snap);
    this.warnUnsupported(snap);
    if (this.draining) return;
    const o = this.opts;
    if (o.role === 'sidecar') {
      if (!this.listeners.has(0)) await this.bind(0, o.outboundPort, 'sidecar outbound', 'HTTP');
      return;
    }
    const wanted = new Map<number, string>();
    const tlsEntries = new Map<number, TlsServerEntry[]>();
    for (const l of snap.listeners) {
      const terminating = l.protocol === 'HTTPS' ? l.servers.filter((x) => x.tls && TERMINATED.has(x.tls.mode)) : [];
      if (HTTP_PROTOCOLS.has(l.protocol) && l.routeTable !== null) wanted.set(l.port, l.protocol);
      else if (l.tcpRoute !== null || (l.tlsRoutes?.length ?? 0) > 0) wanted.set(l.port, 'TCP');
      else if (terminating.length > 0) {
        wanted.set(l.port, 'HTTPS');
        tlsEntries.set(l.port, terminating.map((x) => ({ hosts: x.hosts, tls: x.tls! })));
      } else if (!this.warned.has(l.name)) {
        this.warned.add(l.name);
        o.log(`warning: gateway listener ${l.name} (${l.protocol}) is not served: no VirtualService route is bound to it, or it needs AUTO_PASSTHROUGH or ISTIO_MUTUAL, which are not supported yet`);
      }
    }
    for (const [port, proto] of wanted) {
      if (this.listeners.has(port)) continue;
      if (proto === 'TCP') {
        await this.bindTcp(port, port + o.portOffset);
        continue;
      }
      const entries = tlsEntries.get(port);
      if (!entries) {
        await this.bind(port, port + o.portOffset, `gateway ${proto} ${port}`, proto);
        continue;
      }
      // Certificates are read now: a bad file costs this listener, not the proxy.
      let make: (onSecure: (s: TLSSocket) => void) => net.Server;
      try {
        const dir = o.credentialsDir ?? null;
        createTlsServer(entries, () => undefined, dir).close();
        make = (onSecure) =>
          createTlsServer(entries, onSecure, dir, {
            onReload: () => o.log(`gateway HTTPS port ${port}: certificates reloaded`),
            onReloadError: (e) => o.log(`warning: gateway HTTPS port ${port}: changed certificates not usable (${e.message}); the previous ones keep serving`),
          });
      } catch (e) {
        o.log(`error: gateway HTTPS listener on port ${port} is not served: ${(e as Error).message}`);
        continue;
      }
      await this.bind(port, port + o.portOffset, `gateway HTTPS ${port}`, 'HTTPS', make);
    }
    for (const [port, x] of this.listeners) {
      if (!wanted.has(port)) {
        this.listeners.delete(port);
        // Its connections close as their requests finish; close()/drain() cut any left.
        this.retired.add(x.l);
        x.l.stopAccepting();
        o.log(`stopped listening on ${x.info.address}:${x.info.port} (${x.info.name}): no Gateway server uses port ${port} any more`);
      }
    }
  }

  private readonly warned = new Set<string>();

  /** Say once per cluster what the config asks for that the proxy cannot do yet. */
  private warnUnsupported(snap: Snapshot): void {
    for (const c of snap.clusters.values()) {
      const mode = c.tls?.mode;
      if ((mode === 'SIMPLE' || mode === 'MUTUAL') && c.tls?.credentialName && !this.warned.has(`tls|${c.name}`)) {
        this.warned.add(`tls|${c.name}`);
        this.opts.log(`warning: cluster ${c.name}: DestinationRule tls.credentialName is not supported yet (use caCertificates / clientCertificate / privateKey file paths); requests are sent in plain text`);
      }
    }
  }

  /** Listeners of removed Gateway ports, still finishing their requests. */
  private readonly retired = new Set<AnyListener>();

  private async bindTcp(configPort: number, port: number): Promise<void> {
    const o = this.opts;
    const l = new TcpListener({ snapshot: o.snapshot, clusters: this.clusters, rnd: o.rnd ?? Math.random, observer: o.tcp ?? null, credentialsDir: o.credentialsDir ?? null, log: o.log }, configPort);
    let actual: number;
    try {
      actual = await l.listen(port, o.bindAddress);
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new Error(`cannot listen on ${o.bindAddress}:${port} (gateway TCP ${configPort}): ${code === 'EADDRINUSE' ? 'the port is already in use' : (e as Error).message}`);
    }
    const name = `gateway TCP ${configPort}`;
    this.listeners.set(configPort, { l, info: { name, configPort, port: actual, address: o.bindAddress, protocol: 'TCP' } });
    o.log(`listening on ${o.bindAddress}:${actual} (${name})`);
  }

  private async bind(configPort: number, port: number, name: string, protocol: string, tlsServer?: (onSecure: (s: TLSSocket) => void) => net.Server): Promise<void> {
    const o = this.opts;
    const connect = o.role === 'sidecar' ? (req: IncomingMessage, socket: Duplex, head: Buffer) => handleConnect(this.connectDeps, req, socket, head) : undefined;
    const secure = tlsServer !== undefined;
    const l = new HttpListener((req, res) => this.handler.handle(req, res, configPort, secure), o.limits ?? DEFAULT_LIMITS, connect, tlsServer);
    let actual: number;
    try {
      actual = await l.listen(port, o.bindAddress);
    } catch (e) {
      const code = (e as { code?: string }).code;
      const why = code === 'EADDRINUSE' ? 'the port is already in use' : code === 'EACCES' ? 'permission denied (ports below 1024 need --port-offset or privileges)' : (e as Error).message;
      throw new Error(`cannot listen on ${o.bindAddress}:${port} (${name}): ${why}`);
    }
    const info: BoundListener = { name, configPort, port: actual, address: o.bindAddress, protocol };
    this.listeners.set(configPort, { l, info });
    o.log(`listening on ${o.bindAddress}:${actual} (${name})`);
  }

  /**
   * Graceful drain: stop accepting, let in-flight requests finish (bounded by timeoutMs),
   * then close everything.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    // stopAccepting also keeps closing connections as they go idle.
    for (const { l } of this.listeners.values()) l.stopAccepting();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      this.handler.idle().then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
    ]);
    if (timer) clearTimeout(timer);
    this.destroyListeners();
    await this.clusters.close();
    return finished;
  }

  /** Immediate stop (tests). */
  async close(): Promise<void> {
    this.destroyListeners();
    await this.clusters.destroy();
  }

  private destroyListeners(): void {
    for (const { l } of this.listeners.values()) l.destroy();
    this.listeners.clear();
    for (const l of this.retired) l.destroy();
    this.retired.clear();
  }
}

/** One operational log line per outlier event (Envoy logs these to its outlier event log). */
function outlierLine(cluster: string, e: EjectionEvent, endpoint: string): string {
  switch (e.action) {
    case 'eject':
      return `outlier detection: ejected ${endpoint} from ${cluster} (${e.reason}, ejection #${e.ejectionCount}, for ${Math.round(e.until - e.at)} ms)`;
    case 'overflow':
      return `outlier detection: ${endpoint} of ${cluster} failed (${e.reason}) but was not ejected: maxEjectionPercent reached`;
    case 'uneject':
      return `outlier detection: ${endpoint} of ${cluster} is back in service`;
  }
}
