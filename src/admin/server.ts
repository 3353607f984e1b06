/**
 * The admin endpoint (Envoy's, on 127.0.0.1:15000 by default): /ready, /healthz,
 * /config_dump, /clusters, /stats/prometheus, and the live dashboard under /ui (admin/ui/).
 * Read-only: GETs, plus the dashboard's explain form (POST /ui/explain), which computes and
 * mutates nothing. It never binds beyond loopback unless told to, and never shows key material.
 */
import http from 'node:http';
import type { Dashboard } from './ui/dashboard.js';

export interface EndpointStatus {
  address: string;
  port: number;
  health: 'healthy' | 'ejected';
  weight: number;
  locality: string;
  labels: Record<string, string>;
  activeRequests: number;
  totalRequests: number;
  /** Attempts that ended in a 5xx or a local-origin failure (Envoy `rq_error`). */
  failures: number;
  connections: number;
  /** Ejected by outlier detection now (Envoy health flag `FAILED_OUTLIER_CHECK`). */
  ejected: boolean;
  /** Why (`consecutive_5xx`, `consecutive_gateway_failure`, `consecutive_local_origin_failure`); null when not ejected. */
  ejectionReason: string | null;
  /** ISO time the ejection ends (the endpoint returns at the first detection sweep after it); null when not ejected. */
  ejectedUntil: string | null;
  /** Ejections so far (Envoy `num_ejections`). */
  ejectionCount: number;
}

/** Circuit-breaker counters and gauges of one cluster (Envoy stat names). */
export interface BreakerStatus {
  upstream_rq_pending_overflow: number;
  upstream_rq_retry_overflow: number;
  upstream_cx_overflow: number;
  upstream_rq_pending_active: number;
  upstream_rq_active: number;
  upstream_cx_active: number;
}

export interface ClusterStatus {
  name: string;
  host: string;
  port: number;
  subset: string | null;
  loadBalancer: string;
  destinationRule: string | null;
  circuitBreakers: { maxConnections: number; maxPendingRequests: number; maxRequests: number; maxRetries: number };
  /** Live circuit-breaker counts. */
  breakerStats: BreakerStatus;
  outlierDetection: boolean;
  /** Outlier-detection counters (Envoy `outlier_detection.*`); null without outlier detection. */
  outlier: { ejectionsActive: number; ejectionsEnforcedTotal: number; ejectionsOverflow: number; ejectionsTotal: number } | null;
  endpoints: EndpointStatus[];
}

export interface AdminSource {
  /** true once the first snapshot is live and every listener is bound, false while draining. */
  ready(): boolean;
  configDump(): Promise<unknown>;
  clusters(): Promise<ClusterStatus[]>;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface AdminServerOptions {
  /**
   * The dashboard served under /ui (see admin/ui/index.ts); without one, /ui answers 404.
   * `close()` closes it too.
   */
  dashboard?: Dashboard | null;
}

export class AdminServer {
  private readonly server: http.Server;
  private readonly dashboard: Dashboard | null;

  constructor(
    private readonly src: AdminSource,
    opts: AdminServerOptions = {},
  ) {
    this.dashboard = opts.dashboard ?? null;
    this.server = http.createServer((req, res) => {
      void this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`admin error: ${(e as Error).message}\n`);
      });
    });
    this.server.on('clientError', (_e, s) => s.destroy());
  }

  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve, reject) => {
      const onErr = (e: NodeJS.ErrnoException): void =>
        reject(new Error(`cannot start the admin endpoint on ${host}:${port}: ${e.code === 'EADDRINUSE' ? 'the port is already in use (choose another with --admin-port)' : e.message}`));
      this.server.once('error', onErr);
      this.server.listen(port, host, () => {
        this.server.removeListener('error', onErr);
        this.server.on('error', () => undefined);
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  close(): Promise<void> {
    // Ends the dashboard's event streams first: server.close() waits for open connections.
    this.dashboard?.close();
    return new Promise((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (this.dashboard && (await this.dashboard.handle(req, res))) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' });
      res.end('admin endpoints are read-only: use GET\n');
      return;
    }
    switch (url.pathname) {
      case '/ready': {
        const ok = this.src.ready();
        res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' });
        res.end(ok ? 'LIVE\n' : 'NOT READY\n');
        return;
      }
      case '/healthz':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('OK\n');
        return;
      case '/config_dump':
        return json(res, await this.src.configDump());
      case '/clusters': {
        const cs = await this.src.clusters();
        if (url.searchParams.get('format') === 'json') return json(res, { cluster_statuses: cs });
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(clustersText(cs));
        return;
      }
      case '/stats/prometheus': {
        const m = await this.src.metrics();
        res.writeHead(200, { 'content-type': m.contentType });
        res.end(m.body);
        return;
      }
      case '/':
      case '/help':
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`admin commands are:\n  /ready\n  /healthz\n  /config_dump\n  /clusters (?format=json)\n  /stats/prometheus\n${this.dashboard ? '  /ui (live dashboard; /ui/events, /ui/state, /ui/explain)\n' : ''}`);
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end(`unknown admin path ${url.pathname}: see /help\n`);
    }
  }
}

function json(res: http.ServerResponse, v: unknown): void {
  const body = JSON.stringify(v, null, 2);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
}

/** Envoy's `/clusters` text: `cluster::key::value` and `cluster::host:port::stat::value`. */
export function clustersText(cs: readonly ClusterStatus[]): string {
  const out: string[] = [];
  for (const c of cs) {
    const n = c.name;
    out.push(`${n}::observability_name::${n}`);
    out.push(`${n}::default_priority::max_connections::${c.circuitBreakers.maxConnections}`);
    out.push(`${n}::default_priority::max_pending_requests::${c.circuitBreakers.maxPendingRequests}`);
    out.push(`${n}::default_priority::max_requests::${c.circuitBreakers.maxRequests}`);
    out.push(`${n}::default_priority::max_retries::${c.circuitBreakers.maxRetries}`);
    out.push(`${n}::added_via_api::true`);
    // Not in Envoy's /clusters text (they are in its /stats): the counters a circuit-breaking
    // or outlier runbook looks for first.
    const b = c.breakerStats;
    out.push(`${n}::upstream_rq_pending_overflow::${b.upstream_rq_pending_overflow}`);
    out.push(`${n}::upstream_rq_retry_overflow::${b.upstream_rq_retry_overflow}`);
    out.push(`${n}::upstream_cx_overflow::${b.upstream_cx_overflow}`);
    if (c.outlier) out.push(`${n}::outlier::ejections_active::${c.outlier.ejectionsActive}`);
    for (const e of c.endpoints) {
      const h = `${n}::${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`;
      out.push(`${h}::cx_active::${e.connections}`);
      out.push(`${h}::rq_active::${e.activeRequests}`);
      out.push(`${h}::rq_total::${e.totalRequests}`);
      out.push(`${h}::rq_error::${e.failures}`);
      out.push(`${h}::weight::${e.weight}`);
      const [region = '', zone = '', sub = ''] = e.locality.split('/');
      out.push(`${h}::region::${region}`);
      out.push(`${h}::zone::${zone}`);
      out.push(`${h}::sub_zone::${sub}`);
      out.push(`${h}::health_flags::${e.ejected ? '/failed_outlier_check' : 'healthy'}`);
    }
  }
  return out.join('\n') + (out.length ? '\n' : '');
}
