/**
 * Upstream connection pools, one per (cluster, endpoint, protocol): an {@link H1Pool} for
 * HTTP/1.1 (keep-alive, bounded connections), a node:http2 session for HTTP/2 and gRPC.
 * Pools survive snapshot swaps while their settings are unchanged; the rest are closed
 * gracefully (in-flight requests finish first).
 *
 * What a DestinationRule `connectionPool` becomes here (the request-level circuit breakers
 * live in cluster/breakers.ts):
 * - `tcp.connectTimeout`: a timer on each connection attempt (HTTP/1.1 and HTTP/2).
 * - `tcp.maxConnections`: connections per endpoint = the cluster limit spread over its
 *   endpoints (at least one each, as Envoy always lets a host have one connection).
 * - `http.idleTimeout`: the HTTP/1.1 keep-alive timeout (a server's `Keep-Alive: timeout=`
 *   hint lowers it); HTTP/2 sessions close after that long without activity.
 * - `http.maxRequestsPerConnection`: an HTTP/1.1 connection sends `Connection: close` with
 *   its last request; HTTP/2 sessions stop taking streams after that many and close once
 *   drained.
 * - `tcp.maxConnectionDuration`: a connection older than this is not reused (closed once its
 *   response ends); HTTP/2 sessions are closed gracefully when it elapses.
 * - `tcp.tcpKeepalive.time`: the socket's keep-alive initial delay (Node cannot set the
 *   probe count or interval).
 */
import http2 from 'node:http2';
import { H1Pool } from './h1-pool.js';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import type { ConnectionPoolPolicy, TlsPolicy } from '../../snapshot/types.js';

export type UpstreamProtocol = 'h1' | 'h2';

/** Node's default keep-alive on servers is 5 s: stay well below it to avoid the reuse race. */
const H1_KEEPALIVE_MS = 4000;
/** Largest upstream response head (Envoy's default max_request_headers_kb, 60 KiB). */
const MAX_RESPONSE_HEAD_BYTES = 60 * 1024;

/** `host:port` / `[v6]:port` -> parts (the default port when none is given). */
export function splitHostKey(key: string, defaultPort: number): { host: string; port: number } {
  if (key.startsWith('[')) {
    const close = key.indexOf(']');
    const host = key.slice(1, close);
    const port = key.charCodeAt(close + 1) === 58 ? Number(key.slice(close + 2)) : defaultPort;
    return { host, port };
  }
  const colon = key.lastIndexOf(':');
  if (colon === -1) return { host: key, port: defaultPort };
  return { host: key.slice(0, colon), port: Number(key.slice(colon + 1)) };
}
const MAX_H1_CONNECTIONS_PER_HOST = 1024;
/** Envoy/Linux default TCP keep-alive time when `tcpKeepalive` is set without `time`. */
const DEFAULT_KEEPALIVE_TIME_MS = 7_200_000;

export interface PoolSettings {
  connectTimeoutMs: number;
  /** 0 = no idle timeout. */
  idleTimeoutMs: number;
  /** Connections to ONE endpoint (see {@link poolSettings}). */
  maxConnections: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  maxConcurrentStreams: number;
  /** TCP keep-alive initial delay; null = the client's default. */
  keepAliveDelayMs: number | null;
  /** Close connections older than this (gracefully); null = never. */
  maxConnectionDurationMs: number | null;
  /** TLS origination (DestinationRule `tls` SIMPLE/MUTUAL), or null for plain text. */
  tls: TlsOrigination | null;
}

/** What a TLS client connection to the upstream needs (file paths, read when a pool is made). */
export interface TlsOrigination {
  mode: 'SIMPLE' | 'MUTUAL';
  /** SNI: `tls.sni`, else the service host (Envoy's auto SNI uses the request's Host, which is it). */
  sni: string;
  caCertificates: string | null;
  clientCertificate: string | null;
  privateKey: string | null;
  /** When set, the server certificate must carry one of these SANs (instead of the SNI name). */
  subjectAltNames: readonly string[];
  insecureSkipVerify: boolean;
}

/** TLS origination for a cluster, or null (DISABLE, ISTIO_MUTUAL — no mesh certificates in file mode — or credentialName). */
export function tlsOrigination(tls: TlsPolicy | null, host: string): TlsOrigination | null {
  if (!tls || (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL') || tls.credentialName) return null;
  return {
    mode: tls.mode,
    sni: tls.sni ?? host,
    caCertificates: tls.caCertificates,
    clientCertificate: tls.clientCertificate,
    privateKey: tls.privateKey,
    subjectAltNames: tls.subjectAltNames,
    insecureSkipVerify: tls.insecureSkipVerify,
  };
}

/**
 * node:tls options for an origination. Files are read here (once per pool); a missing file
 * throws, and the caller turns that into a failed connection (503 UF), never a crash.
 */
export function tlsConnectOptions(t: TlsOrigination): ConnectionOptions {
  const o: ConnectionOptions = { servername: t.sni, rejectUnauthorized: !t.insecureSkipVerify };
  if (t.caCertificates) o.ca = readFileSync(t.caCertificates);
  if (t.mode === 'MUTUAL') {
    if (t.clientCertificate) o.cert = readFileSync(t.clientCertificate);
    if (t.privateKey) o.key = readFileSync(t.privateKey);
  }
  if (t.subjectAltNames.length && !t.insecureSkipVerify) {
    const want = new Set(t.subjectAltNames);
    o.checkServerIdentity = (_host: string, cert: PeerCertificate): Error | undefined => {
      const sans = (cert.subjectaltname ?? '').split(',').map((x) => x.trim().replace(/^(DNS|URI|IP Address):/, ''));
      return sans.some((x) => want.has(x)) ? undefined : new Error(`upstream certificate SANs [${sans.join(', ')}] match none of ${[...want].join(', ')}`);
    };
  }
  return o;
}

/**
 * Pool settings for one endpoint of a cluster with `endpoints` endpoints. Envoy's
 * `max_connections` bounds the whole cluster; each endpoint pool gets an equal share,
 * rounded up and at least one, so the total stays within the limit plus one per endpoint
 * (Envoy's own soft margin: a host with no connection may always open one).
 */
export function poolSettings(cp: ConnectionPoolPolicy, endpoints = 1, tls: TlsOrigination | null = null): PoolSettings {
  const ka = cp.tcpKeepalive;
  return {
    connectTimeoutMs: cp.connectTimeoutMs,
    idleTimeoutMs: cp.httpIdleTimeoutMs,
    maxConnections: Math.max(1, Math.ceil(cp.maxConnections / Math.max(1, endpoints))),
    maxRequestsPerConnection: cp.maxRequestsPerConnection,
    maxConcurrentStreams: cp.maxConcurrentStreams,
    keepAliveDelayMs: ka ? ka.timeMs ?? DEFAULT_KEEPALIVE_TIME_MS : null,
    maxConnectionDurationMs: cp.maxConnectionDurationMs !== null && cp.maxConnectionDurationMs > 0 ? cp.maxConnectionDurationMs : null,
    tls,
  };
}

/** `maxRequestsPerConnection: 1`: every HTTP/1.1 request must close its connection. */
export function closesEachConnection(s: PoolSettings): boolean {
  return s.maxRequestsPerConnection === 1;
}

function sameSettings(a: PoolSettings, b: PoolSettings): boolean {
  return (
    a === b ||
    (a.connectTimeoutMs === b.connectTimeoutMs &&
      a.idleTimeoutMs === b.idleTimeoutMs &&
      a.maxConnections === b.maxConnections &&
      a.maxRequestsPerConnection === b.maxRequestsPerConnection &&
      a.maxConcurrentStreams === b.maxConcurrentStreams &&
      JSON.stringify(a.tls) === JSON.stringify(b.tls) &&
      a.keepAliveDelayMs === b.keepAliveDelayMs &&
      a.maxConnectionDurationMs === b.maxConnectionDurationMs)
  );
}

/** Connection lifecycle, per cluster (connection counts, circuit breakers, stats). */
export interface PoolEvents {
  connected(cluster: string): void;
  disconnected(cluster: string): void;
  /** A connection could not be established (`timeout`: the connect timeout fired). */
  connectFailed(cluster: string, timeout: boolean): void;
}

const NO_EVENTS: PoolEvents = { connected() {}, disconnected() {}, connectFailed() {} };

class ConnectTimeoutError extends Error {
  readonly code = 'UND_ERR_CONNECT_TIMEOUT';
  constructor(ms: number) {
    super(`connect timeout after ${ms} ms`);
  }
}

/** An HTTP/2 session to one endpoint, re-established when it closes. */
export class H2Upstream {
  private session: http2.ClientHttp2Session | null = null;
  private streams = 0;
  private closed = false;
  constructor(
    readonly authority: string,
    readonly settings: PoolSettings,
    private readonly cluster = '',
    private readonly events: PoolEvents = NO_EVENTS,
  ) {}

  /** True once the pool manager closed it (a cached reference must be looked up again). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Opens a stream on the live session (connecting if needed). Throws when closed. */
  request(headers: http2.OutgoingHttpHeaders, opts: http2.ClientSessionRequestOptions): http2.ClientHttp2Stream {
    const s = this.get();
    const stream = s.request(headers, opts);
    const cap = this.settings.maxRequestsPerConnection;
    if (cap > 0 && ++this.streams >= cap) {
      // This session has had its share: new requests get a new one; it closes once drained.
      this.session = null;
      s.close();
    }
    return stream;
  }

  /** The live session (connecting if needed). */
  get(): http2.ClientHttp2Session {
    if (this.closed) throw new Error('pool closed');
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const st = this.settings;
    let tlsOpts: ConnectionOptions = {};
    if (st.tls) {
      try {
        tlsOpts = tlsConnectOptions(st.tls);
      } catch (e) {
        tlsOpts = { ca: '', servername: st.tls.sni };
        queueMicrotask(() => this.session?.destroy(e as Error));
      }
    }
    const ns = http2.connect(st.tls ? this.authority.replace(/^http:/, 'https:') : this.authority, {
      settings: { enablePush: false },
      maxSessionMemory: 64,
      ...tlsOpts,
    });
    this.session = ns;
    this.streams = 0;
    let connected = false;
    const connectTimer = setTimeout(() => {
      if (!connected) ns.destroy(new ConnectTimeoutError(st.connectTimeoutMs));
    }, st.connectTimeoutMs);
    connectTimer.unref();
    let lifeTimer: NodeJS.Timeout | null = null;
    ns.once('connect', () => {
      connected = true;
      clearTimeout(connectTimer);
      this.events.connected(this.cluster);
      if (st.keepAliveDelayMs !== null) ns.socket?.setKeepAlive(true, st.keepAliveDelayMs);
      const life = st.maxConnectionDurationMs;
      if (life !== null) {
        lifeTimer = setTimeout(() => {
          if (this.session === ns) this.session = null;
          ns.close();
        }, life);
        lifeTimer.unref();
      }
    });
    ns.on('error', (e: NodeJS.ErrnoException) => {
      // Surfaced per stream; a session error must not crash the process.
      if (!connected) this.events.connectFailed(this.cluster, e.code === 'UND_ERR_CONNECT_TIMEOUT');
    });
    ns.on('goaway', () => {
      if (this.session === ns) this.session = null;
    });
    ns.on('close', () => {
      clearTimeout(connectTimer);
      if (lifeTimer) clearTimeout(lifeTimer);
      if (connected) this.events.disconnected(this.cluster);
      if (this.session === ns) this.session = null;
    });
    const timeout = st.idleTimeoutMs;
    if (timeout > 0 && timeout < 2 ** 31) ns.setTimeout(timeout, () => ns.close());
    return ns;
  }

  close(): void {
    this.closed = true;
    this.session?.close();
    this.session = null;
  }
}

interface Entry {
  settings: PoolSettings;
  h1?: H1Pool;
  h2?: H2Upstream;
  seen: boolean;
}

/** All pools of this proxy, keyed by `cluster|host:port|protocol`. */
export class PoolManager {
  private readonly pools = new Map<string, Entry>();

  constructor(private readonly events: PoolEvents = NO_EVENTS) {}

  h1(cluster: string, hostKey: string, settings: PoolSettings): H1Pool {
    const key = `${cluster}|${hostKey}|h1`;
    let e = this.pools.get(key);
    if (e?.h1 && !e.h1.closed && !e.h1.destroyed && sameSettings(e.settings, settings)) {
      e.seen = true;
      return e.h1;
    }
    if (e?.h1) void e.h1.close();
    const pool = this.newH1(cluster, hostKey, settings);
    e = { settings, h1: pool, seen: true };
    this.pools.set(key, e);
    return pool;
  }

  private newH1(cluster: string, hostKey: string, s: PoolSettings): H1Pool {
    const { host, port } = splitHostKey(hostKey, s.tls ? 443 : 80);
    let tlsOpts: ConnectionOptions | null = null;
    let tlsError: Error | null = null;
    if (s.tls) {
      try {
        tlsOpts = tlsConnectOptions(s.tls);
      } catch (e) {
        tlsError = new Error(`TLS origination: ${(e as Error).message}`);
      }
    }
    const idle = s.idleTimeoutMs;
    const ev = this.events;
    return new H1Pool(
      {
        host,
        port,
        maxConnections: Math.min(s.maxConnections, MAX_H1_CONNECTIONS_PER_HOST),
        connectTimeoutMs: s.connectTimeoutMs,
        // The idle timeout, but below Node's 5 s server default without a server hint (a
        // server's `Keep-Alive: timeout=` hint lowers it further, never raises it).
        keepAliveMs: idle > 0 ? Math.min(idle, H1_KEEPALIVE_MS) : H1_KEEPALIVE_MS,
        maxRequestsPerConnection: s.maxRequestsPerConnection,
        maxConnectionDurationMs: s.maxConnectionDurationMs,
        tcpKeepAliveMs: s.keepAliveDelayMs,
        tls: tlsOpts ?? (tlsError ? {} : null),
        tlsError,
        maxHeadBytes: MAX_RESPONSE_HEAD_BYTES,
      },
      {
        connected: () => ev.connected(cluster),
        disconnected: () => ev.disconnected(cluster),
        connectFailed: (timeout) => ev.connectFailed(cluster, timeout),
      },
    );
  }

  h2(cluster: string, hostKey: string, settings: PoolSettings): H2Upstream {
    const key = `${cluster}|${hostKey}|h2`;
    let e = this.pools.get(key);
    if (e?.h2 && sameSettings(e.settings, settings)) {
      e.seen = true;
      return e.h2;
    }
    e?.h2?.close();
    const up = new H2Upstream(`http://${hostKey}`, settings, cluster, this.events);
    e = { settings, h2: up, seen: true };
    this.pools.set(key, e);
    return up;
  }

  /** After a snapshot swap: close pools whose clusters/endpoints are gone. */
  retain(liveClusterHosts: ReadonlySet<string>): void {
    for (const [key, e] of this.pools) {
      const ch = key.slice(0, key.lastIndexOf('|'));
      if (liveClusterHosts.has(ch)) continue;
      this.pools.delete(key);
      if (e.h1) void e.h1.close();
      e.h2?.close();
    }
  }

  /** Connection counts for /clusters. */
  stats(cluster: string, hostKey: string): { connected: number; running: number; pending: number } {
    const e = this.pools.get(`${cluster}|${hostKey}|h1`);
    if (!e?.h1) return { connected: 0, running: 0, pending: 0 };
    const s = e.h1.stats;
    return { connected: s.connected, running: s.running, pending: s.pending };
  }

  async close(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(
      all.map(async (e) => {
        e.h2?.close();
        if (e.h1) await e.h1.close();
      }),
    );
  }

  async destroy(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(
      all.map(async (e) => {
        e.h2?.close();
        if (e.h1) await e.h1.destroy();
      }),
    );
  }
}
