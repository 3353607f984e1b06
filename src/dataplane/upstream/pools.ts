/**
 * Upstream connection pools, one per (cluster, endpoint, protocol): an undici Pool for
 * HTTP/1.1 (keep-alive, bounded connections), a node:http2 session for HTTP/2 and gRPC.
 * Pools survive snapshot swaps while their settings are unchanged; the rest are closed
 * gracefully (in-flight requests finish first).
 */
import http2 from 'node:http2';
import { Pool } from 'undici';
import type { ConnectionPoolPolicy } from '../../snapshot/types.js';

export type UpstreamProtocol = 'h1' | 'h2';

/** Node's default keep-alive on servers is 5 s: stay below it to avoid the reuse race. */
const H1_KEEPALIVE_MS = 4000;
const MAX_H1_CONNECTIONS_PER_HOST = 1024;

export interface PoolSettings {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
  maxRequestsPerConnection: number;
  maxConcurrentStreams: number;
}

export function poolSettings(cp: ConnectionPoolPolicy): PoolSettings {
  return {
    connectTimeoutMs: cp.connectTimeoutMs,
    idleTimeoutMs: cp.httpIdleTimeoutMs,
    maxConnections: cp.maxConnections,
    maxRequestsPerConnection: cp.maxRequestsPerConnection,
    maxConcurrentStreams: cp.maxConcurrentStreams,
  };
}

function sameSettings(a: PoolSettings, b: PoolSettings): boolean {
  return (
    a.connectTimeoutMs === b.connectTimeoutMs &&
    a.idleTimeoutMs === b.idleTimeoutMs &&
    a.maxConnections === b.maxConnections &&
    a.maxRequestsPerConnection === b.maxRequestsPerConnection &&
    a.maxConcurrentStreams === b.maxConcurrentStreams
  );
}

/** An HTTP/2 session to one endpoint, re-established when it closes. */
export class H2Upstream {
  private session: http2.ClientHttp2Session | null = null;
  private closed = false;
  constructor(
    readonly authority: string,
    readonly settings: PoolSettings,
  ) {}

  /** The live session (connecting if needed). */
  get(): http2.ClientHttp2Session {
    if (this.closed) throw new Error('pool closed');
    const s = this.session;
    if (s && !s.closed && !s.destroyed) return s;
    const ns = http2.connect(this.authority, {
      settings: { enablePush: false },
      maxSessionMemory: 64,
    });
    ns.on('error', () => {
      /* surfaced per stream; a session error must not crash the process */
    });
    ns.on('goaway', () => {
      if (this.session === ns) this.session = null;
    });
    ns.on('close', () => {
      if (this.session === ns) this.session = null;
    });
    const timeout = this.settings.idleTimeoutMs;
    if (timeout > 0 && timeout < 2 ** 31) ns.setTimeout(timeout, () => ns.close());
    this.session = ns;
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
  h1?: Pool;
  h2?: H2Upstream;
  seen: boolean;
}

/** All pools of this proxy, keyed by `cluster|host:port|protocol`. */
export class PoolManager {
  private readonly pools = new Map<string, Entry>();

  h1(cluster: string, hostKey: string, settings: PoolSettings): Pool {
    const key = `${cluster}|${hostKey}|h1`;
    let e = this.pools.get(key);
    if (e?.h1 && sameSettings(e.settings, settings)) {
      e.seen = true;
      return e.h1;
    }
    if (e?.h1) void e.h1.close().catch(() => undefined);
    const pool = new Pool(`http://${hostKey}`, {
      connections: Math.min(settings.maxConnections, MAX_H1_CONNECTIONS_PER_HOST),
      pipelining: 1,
      connectTimeout: settings.connectTimeoutMs,
      keepAliveTimeout: Math.min(H1_KEEPALIVE_MS, settings.idleTimeoutMs || H1_KEEPALIVE_MS),
      keepAliveMaxTimeout: Math.max(H1_KEEPALIVE_MS, Math.min(settings.idleTimeoutMs || 600_000, 600_000)),
      maxRequestsPerClient: settings.maxRequestsPerConnection > 0 ? settings.maxRequestsPerConnection : undefined,
      // Envoy has no response timeout by default (stream idle timeout 5 min): same here.
      headersTimeout: 0,
      bodyTimeout: 300_000,
      strictContentLength: true,
    });
    pool.on('connectionError', () => {
      /* reported per request */
    });
    e = { settings, h1: pool, seen: true };
    this.pools.set(key, e);
    return pool;
  }

  h2(cluster: string, hostKey: string, settings: PoolSettings): H2Upstream {
    const key = `${cluster}|${hostKey}|h2`;
    let e = this.pools.get(key);
    if (e?.h2 && sameSettings(e.settings, settings)) {
      e.seen = true;
      return e.h2;
    }
    e?.h2?.close();
    const up = new H2Upstream(`http://${hostKey}`, settings);
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
      if (e.h1) void e.h1.close().catch(() => undefined);
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
        if (e.h1) await e.h1.close().catch(() => undefined);
      }),
    );
  }

  async destroy(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(
      all.map(async (e) => {
        e.h2?.close();
        if (e.h1) await e.h1.destroy().catch(() => undefined);
      }),
    );
  }
}
