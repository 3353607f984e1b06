/**
 * One demo application process (in-process HTTP server) of `isthmus demo`: the plumbing every
 * Bookinfo-like service shares. It answers with its name and version, can be told to slow
 * down or fail, and calls other services through its own sidecar, passing on the headers a
 * mesh application must propagate (`end-user`, `x-request-id`, the B3/W3C trace headers).
 *
 * Slowing down and failing, two ways (both documented in docs/demo.md):
 * - per request, in the query string: `?delay=2s` (answer after 2 s), `?status=503` (answer
 *   503). They reach the service through the mesh, so `curl -x <sidecar> 'http://details:9080/details/0?delay=3s'`
 *   shows the caller's timeout;
 * - persistently, `POST /control?delay=2s&fail=0.5&failStatus=503` (and `GET /control` to read
 *   the state and counters, `POST /control?reset` to clear both). `fail` is the fraction of
 *   requests that fail, spread evenly (0.5 = every second one) rather than at random, so
 *   "retries hide a flaky service" shows the same result every time.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseDuration } from '../core/duration.js';

/** Headers an application copies from its incoming request to the calls it makes. */
export const PROPAGATED_HEADERS: readonly string[] = Object.freeze([
  'end-user',
  'user-agent',
  'x-request-id',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'traceparent',
  'tracestate',
]);

/** What a handler answers. */
export interface Reply {
  status: number;
  /** Objects are sent as pretty JSON, strings as UTF-8 text. */
  body: unknown;
}

/** The answer of a call to another service (status 0: no answer at all). */
export interface CallResult {
  status: number;
  body: string;
  /** Parsed JSON body, or null when the body is not JSON. */
  json: unknown;
  ms: number;
}

/** What a handler gets besides the request. */
export interface RequestContext {
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  /** Headers to pass on to outgoing calls. */
  propagate: Record<string, string>;
  /** GET `http://<authority><path>` through this service's sidecar. */
  call(authority: string, path: string): Promise<CallResult>;
}

export type Handler = (req: http.IncomingMessage, ctx: RequestContext) => Promise<Reply> | Reply;

/** The persistent misbehaviour set with `/control`. */
export interface Behaviour {
  delayMs: number;
  /** Fraction of requests (0..1) answered with `failStatus`. */
  failRate: number;
  failStatus: number;
}

export interface DemoServiceOptions {
  app: string;
  version: string;
  handler: Handler;
  /** Port of this workload's sidecar (outbound listener); null for a service without one. */
  sidecarPort: () => number | null;
  /** Longest wait for a call through the sidecar (the sidecar's own timeouts come first). */
  callTimeoutMs?: number;
}

const HEALTHY: Behaviour = Object.freeze({ delayMs: 0, failRate: 0, failStatus: 503 });

export class DemoService {
  readonly app: string;
  readonly version: string;
  port = 0;
  behaviour: Behaviour = { ...HEALTHY };
  /** Requests answered by the application (not /control or /health). */
  served = 0;
  /** Of those, the ones failed on purpose (`fail` or `?status=`). */
  failed = 0;
  private failCredit = 0;
  private readonly server: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly opts: DemoServiceOptions) {
    this.app = opts.app;
    this.version = opts.version;
    this.server = http.createServer((req, res) => {
      void this.handle(req, res).catch((e: unknown) => send(res, 500, { service: this.app, version: this.version, error: (e as Error).message }));
    });
    this.server.keepAliveTimeout = 60_000;
  }

  /** `reviews-v2`: the workload name Istio's metrics and the dashboard use. */
  get name(): string {
    return `${this.app}-${this.version}`;
  }

  /** Binds 127.0.0.1:port (0 = a free port); rejects with the error code on failure. */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.server.once('error', onError);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.removeListener('error', onError);
        this.port = (this.server.address() as AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  /** Stops listening, cuts idle and open connections, and cancels pending delays. */
  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.agent.destroy();
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Sets the persistent behaviour from `/control` query parameters; throws on bad values. */
  configure(q: URLSearchParams): Behaviour {
    const next = { ...this.behaviour };
    if (q.has('reset')) {
      Object.assign(next, HEALTHY);
      this.served = 0;
      this.failed = 0;
    }
    const delay = q.get('delay');
    if (delay !== null) next.delayMs = durationParam(delay, 'delay');
    const fail = q.get('fail');
    if (fail !== null) {
      const f = Number(fail);
      if (fail.trim() === '' || !Number.isFinite(f) || f < 0 || f > 1) throw new Error(`fail must be a fraction from 0 to 1 (0.5 = every second request), not "${fail}"`);
      next.failRate = f;
    }
    const status = q.get('failStatus');
    if (status !== null) next.failStatus = statusParam(status, 'failStatus');
    this.behaviour = next;
    this.failCredit = 0;
    return next;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://service');
    const me = { service: this.app, version: this.version };
    if (url.pathname === '/health') return send(res, 200, { ...me, status: 'ok' });
    if (url.pathname === '/control') {
      if (req.method === 'POST') {
        try {
          this.configure(url.searchParams);
        } catch (e) {
          return send(res, 400, { ...me, error: (e as Error).message });
        }
      } else if (req.method !== 'GET') return send(res, 405, { ...me, error: 'use GET to read, POST to change' });
      req.resume();
      return send(res, 200, this.controlState());
    }
    req.resume();
    // Per-request instructions first, then the persistent behaviour.
    let status: number | null = null;
    let delayMs = this.behaviour.delayMs;
    try {
      const d = url.searchParams.get('delay');
      if (d !== null) delayMs = durationParam(d, 'delay');
      const s = url.searchParams.get('status');
      if (s !== null) status = statusParam(s, 'status');
    } catch (e) {
      return send(res, 400, { ...me, error: (e as Error).message });
    }
    this.served++;
    if (status === null && this.shouldFail()) status = this.behaviour.failStatus;
    if (delayMs > 0) await this.sleep(delayMs, res);
    if (res.destroyed) return;
    if (status !== null) {
      this.failed++;
      return send(res, status, { ...me, error: `failing on purpose with ${status}` });
    }
    const ctx: RequestContext = {
      path: url.pathname,
      query: url.searchParams,
      propagate: propagated(req.headers),
      call: (authority, path) => this.call(authority, path, propagated(req.headers)),
    };
    const r = await this.opts.handler(req, ctx);
    send(res, r.status, r.body);
  }

  /** State and counters, as `/control` shows them. */
  controlState(): Record<string, unknown> {
    const b = this.behaviour;
    return {
      service: this.app,
      version: this.version,
      delay: b.delayMs > 0 ? `${b.delayMs}ms` : '0s',
      fail: b.failRate,
      failStatus: b.failStatus,
      served: this.served,
      failed: this.failed,
    };
  }

  /** Even spread: with rate r, the n-th request fails when floor(n·r) steps up. */
  private shouldFail(): boolean {
    const r = this.behaviour.failRate;
    if (r <= 0) return false;
    this.failCredit += r;
    if (this.failCredit >= 1 - 1e-9) {
      this.failCredit -= 1;
      return true;
    }
    return false;
  }

  private sleep(ms: number, res: http.ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        res.removeListener('close', stop);
        resolve();
      }, ms);
      // The caller gave up (its timeout fired): stop waiting for nothing.
      const stop = (): void => {
        clearTimeout(t);
        this.timers.delete(t);
        resolve();
      };
      res.once('close', stop);
      this.timers.add(t);
    });
  }

  /** One call through the sidecar, as an application in a pod would make it. */
  private call(authority: string, path: string, headers: Record<string, string>): Promise<CallResult> {
    const port = this.opts.sidecarPort();
    const started = Date.now();
    if (port === null) return Promise.resolve({ status: 0, body: 'no sidecar', json: null, ms: 0 });
    return new Promise((resolve) => {
      const req = http.get(
        { host: '127.0.0.1', port, path, agent: this.agent, headers: { ...headers, host: authority }, timeout: this.opts.callTimeoutMs ?? 10_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, body, json: parseJson(body), ms: Date.now() - started });
          });
          res.on('error', (e) => resolve({ status: 0, body: e.message, json: null, ms: Date.now() - started }));
        },
      );
      req.on('timeout', () => req.destroy(new Error('no answer in time')));
      req.on('error', (e) => resolve({ status: 0, body: e.message, json: null, ms: Date.now() - started }));
    });
  }
}

function propagated(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of PROPAGATED_HEADERS) {
    const v = h[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

function parseJson(s: string): unknown {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    return null;
  }
}

function durationParam(v: string, name: string): number {
  if (v === '0') return 0;
  const ms = parseDuration(v);
  if (ms === null || ms < 0 || ms > 600_000) throw new Error(`${name} must be a duration like 2s or 300ms (at most 10m), not "${v}"`);
  return ms;
}

function statusParam(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 200 || n > 599) throw new Error(`${name} must be an HTTP status from 200 to 599, not "${v}"`);
  return n;
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json' });
  res.end(text);
}
