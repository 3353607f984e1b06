/**
 * The live dashboard: the page, its Server-Sent Events stream and the explain endpoint, over
 * one or many DashboardSources.
 *
 * One sampler per dashboard, whatever the number of viewers: while at least one browser is
 * subscribed it reads every source each `intervalMs`, turns counter deltas into rates
 * (observability/edges.ts), builds one JSON state and writes the same frame to every client.
 * With no viewer it stops. Viewers are capped (`maxClients`); a viewer that cannot keep up
 * (its socket buffer is full) skips frames, and is dropped after a run of them, so a stalled
 * tab cannot grow memory.
 *
 * Only loopback Host names are served (a web page cannot reach the dashboard through DNS
 * rebinding), and the explain POST needs `content-type: application/json` (a cross-site form
 * cannot send that without a CORS preflight, which is never granted).
 */
import type http from 'node:http';
import { EdgeRateTracker, edgeCounters } from '../../observability/edges.js';
import type { CompactFamily } from '../../observability/exposition.js';
import { CLIENT_JS } from './client.js';
import { ExplainInputError, explainOnSources, parseExplainRequest } from './explain.js';
import { DEFAULT_LIMITS, buildDashboardState, type ModelLimits, type SourceReading } from './model.js';
import { PAGE_CSS, PAGE_HTML } from './page.js';
import type { DashboardSource, DashboardState } from './types.js';

export interface DashboardOptions {
  /** Time between updates pushed to viewers (ms). Default 1000; at most 2000. */
  intervalMs?: number;
  /** Rates cover this much history (ms). Default 5000. */
  windowMs?: number;
  /** Concurrent `/ui/events` viewers. Default 16; more get 503. */
  maxClients?: number;
  /** Caps on what one state carries (nodes, clusters per proxy, diagnostics, splits). */
  limits?: Partial<ModelLimits>;
  /** A source that takes longer than this (ms) is reported as failing this tick. Default 3000. */
  sourceTimeoutMs?: number;
  /** Epoch ms (tests). */
  clock?: () => number;
}

/** A mounted dashboard. */
export interface Dashboard {
  /**
   * Serves `/ui`, `/ui/app.js`, `/ui/app.css`, `/ui/events`, `/ui/state`, `/ui/explain`.
   * Resolves false, having written nothing, for any path outside `/ui`.
   */
  handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean>;
  /** A complete request listener (`http.createServer(d.listener)`): the dashboard, 404 elsewhere. */
  readonly listener: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  /** Reads every source now and returns the state `/ui/state` would answer. */
  refresh(): Promise<DashboardState>;
  /** Connected `/ui/events` viewers. */
  readonly clients: number;
  /** Stops the sampler and ends every event stream. Further `/ui/events` get 503. */
  close(): void;
}

/** Sources, fixed or read each tick (a function lets proxies join after the dashboard exists). */
export type DashboardSources = readonly DashboardSource[] | (() => readonly DashboardSource[]);

interface Client {
  res: http.ServerResponse;
  skipped: number;
}

const MAX_BODY = 16 * 1024;
const MAX_SKIPPED = 30;
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** True for `localhost`, `*.localhost`, `127.x.y.z` and `[::1]`, with or without a port. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined || host === '') return true; // HTTP/1.0 without Host: not a browser
  const h = host.toLowerCase();
  const name = h.startsWith('[') ? h.slice(0, h.indexOf(']') + 1) : h.replace(/:\d+$/, '');
  return name === 'localhost' || name.endsWith('.localhost') || name === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}

function checkSources(list: readonly DashboardSource[]): readonly DashboardSource[] {
  const seen = new Set<string>();
  for (const s of list) {
    if (!/^[A-Za-z0-9._-]+$/.test(s.id)) throw new Error(`dashboard source id "${s.id}" must use only letters, digits, '.', '_' and '-'`);
    if (seen.has(s.id)) throw new Error(`two dashboard sources share the id "${s.id}": give each proxy its own (dashboardSource(rt, {id}))`);
    seen.add(s.id);
  }
  return list;
}

function withTimeout<T>(p: Promise<T> | T, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([Promise.resolve(p), t]).finally(() => clearTimeout(timer));
}

function send(res: http.ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, ...SECURITY_HEADERS, ...extra });
  res.end(body);
}

const sendJson = (res: http.ServerResponse, status: number, v: unknown): void => send(res, status, 'application/json', JSON.stringify(v));

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ExplainInputError(`request body over ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Creates a dashboard over `sources`: one proxy (`isthmus run`) or every proxy of a mesh
 * (`isthmus demo`). Mount it with `new AdminServer(src, { dashboard })`, or serve
 * `dashboard.listener` on its own loopback port. Call `close()` when done (AdminServer.close
 * does it for a mounted one).
 */
export function createDashboard(sources: DashboardSources, opts: DashboardOptions = {}): Dashboard {
  const intervalMs = opts.intervalMs ?? 1000;
  if (!(intervalMs > 0 && intervalMs <= 2000)) throw new Error(`intervalMs must be within (0, 2000], not ${intervalMs}`);
  const windowMs = opts.windowMs ?? 5000;
  const maxClients = opts.maxClients ?? 16;
  const sourceTimeoutMs = opts.sourceTimeoutMs ?? 3000;
  const clock = opts.clock ?? Date.now;
  const limits: ModelLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const tracker = new EdgeRateTracker({ windowMs });
  const list = (): readonly DashboardSource[] => checkSources(typeof sources === 'function' ? sources() : sources);
  if (typeof sources !== 'function') checkSources(sources);

  const clients = new Set<Client>();
  // A source whose metrics cannot be read this tick keeps its last families: dropping them
  // would make its edges "new" on the next tick and show their whole history as one burst.
  const lastFamilies = new Map<string, readonly CompactFamily[]>();
  let timer: NodeJS.Timeout | null = null;
  let inflight: Promise<DashboardState> | null = null;
  let last: { state: DashboardState; frame: string; atMs: number } | null = null;
  let closed = false;

  const read = async (): Promise<DashboardState> => {
    const srcs = list();
    const errors: Array<{ source: string; message: string }> = [];
    const readings: SourceReading[] = [];
    const families: CompactFamily[] = [];
    await Promise.all(
      srcs.map(async (s) => {
        try {
          const [clusters, fams] = await Promise.all([withTimeout(s.clusters(), sourceTimeoutMs, `${s.id} /clusters`), withTimeout(s.requestMetrics(), sourceTimeoutMs, `${s.id} metrics`)]);
          lastFamilies.set(s.id, fams);
          readings.push({
            id: s.id, title: s.title, identity: s.identity(), ready: s.ready(), status: s.configStatus(), state: s.configState(),
            clusters, listeners: s.listeners ? [...s.listeners()].map((l) => ({ name: l.name, address: l.address, port: l.port, protocol: l.protocol })) : [],
          });
        } catch (e) {
          errors.push({ source: s.id, message: (e as Error).message });
        }
      }),
    );
    for (const s of srcs) families.push(...(lastFamilies.get(s.id) ?? []));
    const order = new Map(srcs.map((s, i) => [s.id, i]));
    readings.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
    const atMs = clock();
    const edges = tracker.add(atMs, edgeCounters(families));
    const state = buildDashboardState(readings, edges, { atMs, intervalMs, windowMs, errors }, limits);
    last = { state, frame: `event: state\ndata: ${JSON.stringify(state)}\n\n`, atMs };
    return state;
  };

  const refresh = (): Promise<DashboardState> => {
    inflight ??= read().finally(() => (inflight = null));
    return inflight;
  };

  const broadcast = (frame: string): void => {
    for (const c of clients) {
      if (c.res.writableNeedDrain) {
        if (++c.skipped > MAX_SKIPPED) c.res.destroy();
        continue;
      }
      c.skipped = 0;
      c.res.write(frame);
    }
  };

  const tick = (): void => {
    void refresh().then(
      () => last && broadcast(last.frame),
      () => undefined, // a failed tick is retried on the next one; sources' own errors are in the state
    );
  };

  const stopIfIdle = (): void => {
    if (clients.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };

  const events = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (closed || clients.size >= maxClients) {
      send(res, 503, 'text/plain', closed ? 'the dashboard is shutting down\n' : `too many dashboard viewers (at most ${maxClients}); close a tab and retry\n`, { 'retry-after': '5' });
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', ...SECURITY_HEADERS, 'x-accel-buffering': 'no' });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    res.write(`retry: ${Math.max(1000, intervalMs)}\n\n`);
    const client: Client = { res, skipped: 0 };
    clients.add(client);
    const drop = (): void => {
      clients.delete(client);
      stopIfIdle();
    };
    req.on('close', drop);
    res.on('close', drop);
    res.on('error', drop);
    if (last && clock() - last.atMs < intervalMs) res.write(last.frame);
    else tick();
    if (!timer) {
      timer = setInterval(tick, intervalMs);
      timer.unref();
    }
  };

  const explainReq = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    try {
      let body: unknown;
      if (req.method === 'POST') {
        const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
        if (type !== 'application/json') {
          sendJson(res, 415, { error: 'POST /ui/explain takes content-type: application/json' });
          return;
        }
        const text = await readBody(req);
        try {
          body = JSON.parse(text);
        } catch {
          throw new ExplainInputError('the body is not valid JSON');
        }
      } else {
        const q = url.searchParams;
        body = { url: q.get('url'), method: q.get('method'), headers: q.getAll('header'), gateway: q.get('gateway'), source: q.get('source') };
      }
      const out = explainOnSources(list(), parseExplainRequest(body));
      if (url.searchParams.get('format') === 'text') send(res, 200, 'text/plain; charset=utf-8', out.text);
      else sendJson(res, 200, out);
    } catch (e) {
      if (e instanceof ExplainInputError) sendJson(res, 400, { error: e.message });
      else throw e;
    }
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (path !== '/ui' && !path.startsWith('/ui/')) return false;
    if (!isLoopbackHost(req.headers.host)) {
      send(res, 403, 'text/plain', 'the dashboard answers only on a loopback name (localhost, 127.0.0.1, [::1])\n');
      return true;
    }
    const method = req.method ?? 'GET';
    const isExplain = path === '/ui/explain';
    if (method !== 'GET' && method !== 'HEAD' && !(isExplain && method === 'POST')) {
      send(res, 405, 'text/plain', isExplain ? 'use GET or POST\n' : 'the dashboard is read-only: use GET\n', { allow: isExplain ? 'GET, HEAD, POST' : 'GET, HEAD' });
      return true;
    }
    switch (path) {
      case '/ui':
      case '/ui/':
        send(res, 200, 'text/html; charset=utf-8', PAGE_HTML, { 'content-security-policy': CSP, 'x-frame-options': 'DENY' });
        return true;
      case '/ui/app.js':
        send(res, 200, 'text/javascript; charset=utf-8', CLIENT_JS);
        return true;
      case '/ui/app.css':
        send(res, 200, 'text/css; charset=utf-8', PAGE_CSS);
        return true;
      case '/ui/events':
        events(req, res);
        return true;
      case '/ui/state':
        sendJson(res, 200, last && clock() - last.atMs < intervalMs ? last.state : await refresh());
        return true;
      case '/ui/explain':
        await explainReq(req, res, url);
        return true;
      default:
        send(res, 404, 'text/plain', `unknown dashboard path ${path}: the dashboard is at /ui\n`);
        return true;
    }
  };

  const listener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    handle(req, res)
      .then((done) => {
        if (!done) send(res, 404, 'text/plain', 'not found: the dashboard is at /ui\n');
      })
      .catch((e: unknown) => {
        if (!res.headersSent) send(res, 500, 'text/plain', `dashboard error: ${(e as Error).message}\n`);
        else res.end();
      });
  };

  return {
    handle,
    listener,
    refresh,
    get clients() {
      return clients.size;
    },
    close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      for (const c of clients) c.res.end();
      clients.clear();
    },
  };
}
