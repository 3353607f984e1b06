/**
 * The HTTP request path (Envoy's HTTP connection manager + router filter):
 * snapshot -> route table -> virtual host -> route -> CORS / redirect / direct response /
 * mirror -> destination -> Forwarder. Local replies carry Envoy's statuses and flags.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Route, Snapshot, WeightedDestination } from '../../snapshot/types.js';
import { explicitPort, matchRoute, normalizeRequestHost, pickWeighted, resolveRequestPort, selectRouteTable, selectVirtualHost, type RequestInfo } from '../router/match.js';
import { redirectLocation } from '../router/redirect.js';
import { decideCors } from '../router/cors.js';
import type { ClusterManager } from '../cluster/manager.js';
import { Flag } from '../../observability/flags.js';
import { applyHeaderOps, first, upstreamRequestHeaders, type HeaderMap } from './headers.js';
import { endHeadersOnly, isGrpcRequest, sendLocalReply, type DownstreamResponse } from './local-reply.js';
import { StreamInfo, type SocketAddresses } from './stream-info.js';
import { Forwarder, upstreamProtocol, type ForwardContext, type ForwardTarget, type SetTimer } from './forward.js';
import { abortReply, decideFault, type FaultDecision } from '../router/fault.js';
import { rewritePath } from './rewrite.js';
import { hashForRequest } from './hash-policy.js';
import { fireMirrors } from './mirror.js';
import { normalizePath, type PathNormalization } from './normalize.js';

/** Request bodies up to this size are buffered so they can be retried and mirrored. */
export const REPLAY_BUFFER_BYTES = 64 * 1024;

/** Request checks of the connection manager (Envoy HCM settings; `isthmus run` flags). */
export interface HttpOptions {
  /** Istio `meshConfig.pathNormalization` (default BASE). */
  pathNormalization: PathNormalization;
  /** Istio `gatewayTopology.numTrustedProxies` / Envoy `xff_num_trusted_hops` (gateway only). */
  numTrustedProxies: number;
  /** Envoy `max_headers_count` (100): more request headers get 431, never silently dropped. */
  maxHeadersCount: number;
}

export const DEFAULT_HTTP_OPTIONS: Readonly<HttpOptions> = Object.freeze({
  pathNormalization: 'BASE',
  numTrustedProxies: 0,
  maxHeadersCount: 100,
});

const HEADERS_OK = 0;
const TOO_MANY_HEADERS = 1;
const DUPLICATE_HOST = 2;

/**
 * One pass over the raw header list: more than `limit` headers (pseudo headers aside), or
 * `Host` more than once (RFC 9112 §3.2: 400; Node would keep the first one silently).
 */
function headerProblem(raw: readonly string[], limit: number): number {
  let hosts = 0;
  let pseudo = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i];
    if (k.length === 4) {
      if (k === 'host' || k === 'Host' || k.toLowerCase() === 'host') hosts++;
    } else if (k.charCodeAt(0) === 58 /* : */) pseudo++;
  }
  if ((raw.length >> 1) - pseudo > limit) return TOO_MANY_HEADERS;
  return hosts > 1 ? DUPLICATE_HOST : HEADERS_OK;
}

/** Is `chunked` the final transfer coding (the only request framing RFC 9112 §6.3 accepts)? */
function endsWithChunked(te: string): boolean {
  let end = te.length;
  while (end > 0 && (te.charCodeAt(end - 1) === 32 || te.charCodeAt(end - 1) === 9)) end--;
  return end >= 7 && te.slice(end - 7, end).toLowerCase() === 'chunked' && (end === 7 || te.charCodeAt(end - 8) === 44 || te.charCodeAt(end - 8) === 32 || te.charCodeAt(end - 8) === 9);
}

/** Do two authorities name the same host and port (case, trailing dot and default port aside)? */
function sameAuthority(a: string, b: string, defaultPort: number): boolean {
  if (a === b) return true;
  if (normalizeRequestHost(a) !== normalizeRequestHost(b)) return false;
  return (explicitPort(a) ?? defaultPort) === (explicitPort(b) ?? defaultPort);
}

/** HTTP/1 local replies to malformed requests close the connection (as Envoy's codec errors do). */
const CLOSE: Record<string, string> = Object.freeze({ connection: 'close' }) as Record<string, string>;

/** Node's HTTP/1 socket and response internals the pipelining guard reads. */
interface H1Socket {
  writableEnded?: boolean;
  /** The response being written on this connection (Node's http server keeps it here). */
  _httpMessage?: { _last?: boolean } | null;
}

/**
 * Is this HTTP/1 request pipelined behind a response that closes the connection (a refused
 * request: ours, or Node's own 400 for a missing Host), or on a connection already closing?
 * Node has parsed and emits such requests anyway; they are dropped unanswered, as Envoy
 * drops what follows a codec error, instead of reaching an upstream whose answer nobody
 * would read.
 */
function behindClose(req: Req, res: DownstreamResponse): boolean {
  const sock = req.socket as H1Socket | null | undefined;
  if (!sock) return false;
  if (sock.writableEnded === true) return true;
  const cur = sock._httpMessage;
  return cur !== undefined && cur !== null && cur !== (res as unknown) && cur._last === true;
}

export interface HandlerDeps {
  role: 'sidecar' | 'gateway';
  /** Connection-manager request checks; DEFAULT_HTTP_OPTIONS when absent. */
  http?: HttpOptions;
  /** The live snapshot; read once per request. */
  snapshot: () => Snapshot;
  clusters: ClusterManager;
  /** Called once per request when the response is complete (or the stream died). */
  onComplete: (info: StreamInfo) => void;
  rnd: () => number;
  now: () => number;
  setTimer: SetTimer;
}

type Req = IncomingMessage | Http2ServerRequest;

const runNow = (f: () => void): void => f();

export class HttpHandler {
  private readonly server: string;
  /** Requests in flight (for graceful drain). */
  active = 0;
  private idleWaiters: Array<() => void> = [];
  /** What every Forwarder of this handler shares (built once). */
  private readonly fwd: ForwardContext;
  /** Request checks; may be replaced before traffic starts (ProxyRuntime sets the run flags). */
  options: HttpOptions;

  constructor(private readonly deps: HandlerDeps) {
    this.server = deps.role === 'gateway' ? 'istio-envoy' : 'envoy';
    this.options = deps.http ?? { ...DEFAULT_HTTP_OPTIONS };
    this.fwd = { clusters: deps.clusters, rnd: deps.rnd, server: this.server, setTimer: deps.setTimer, pick: { rnd: deps.rnd } };
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.active === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Entry point for every request on a listener. `listenerPort` is the configured port
   * (gateway server port); 0 on the sidecar's outbound listener.
   */
  handle(req: Req, res: DownstreamResponse, listenerPort: number, secure: boolean): void {
    if (req.httpVersionMajor !== 2 && behindClose(req, res)) {
      req.resume();
      return;
    }
    const deps = this.deps;
    const snap = deps.snapshot();
    deps.clusters.update(snap);
    const info = new StreamInfo(deps.now());
    this.active++;
    let completed = false;
    const complete = (): void => {
      if (completed) return;
      completed = true;
      info.durationMs = info.elapsedMs();
      this.active--;
      try {
        deps.onComplete(info);
      } finally {
        if (this.active === 0 && this.idleWaiters.length) for (const w of this.idleWaiters.splice(0)) w();
      }
    };
    res.once('close', complete);
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    try {
      this.route(snap, req, res, info, listenerPort, secure, complete);
    } catch (e) {
      // A bug must cost one request, never the process.
      sendLocalReply(res, info, { status: 500, body: 'internal proxy error', details: `proxy_error{${(e as Error).message}}`, flags: 0 }, info.grpc, this.server);
    }
  }

  private route(snap: Snapshot, req: Req, res: DownstreamResponse, info: StreamInfo, listenerPort: number, secure: boolean, complete: () => void): void {
    const h = req.headers;
    const isH2 = req.httpVersionMajor === 2;
    info.protocol = isH2 ? 'HTTP/2' : req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
    info.method = req.method ?? 'GET';
    info.grpc = isGrpcRequest(h);
    info.userAgent = first(h['user-agent']) ?? '';
    info.requestId = first(h['x-request-id']) ?? '';
    info.forwardedFor = first(h['x-forwarded-for']) ?? '';
    const addr = socketAddresses(req);
    info.downstreamRemote = addr.remoteAddress ?? '';
    info.downstreamRemotePort = addr.remotePort ?? 0;
    info.downstreamLocal = addr.localAddress ? `${addr.localAddress}:${addr.localPort}` : '';

    const opts = this.options;
    const problem = headerProblem(req.rawHeaders, opts.maxHeadersCount);
    if (problem !== HEADERS_OK) {
      info.path = req.url ?? '';
      return problem === TOO_MANY_HEADERS
        ? this.refuse(req, res, info, 431, '', 'too_many_headers')
        : this.refuse(req, res, info, 400, 'duplicate host header', 'duplicate_host_header');
    }

    const te = h['transfer-encoding'];
    if (te !== undefined && !isH2 && !endsWithChunked(te)) {
      // Node's parser refuses this body framing only after it has handed the request over;
      // refuse it before anything is sent upstream.
      info.path = req.url ?? '';
      return this.refuse(req, res, info, 400, 'invalid transfer-encoding', 'invalid_transfer_encoding');
    }

    // Authority and path: absolute-form requests (HTTP_PROXY clients) carry them in the URL,
    // which wins over Host (RFC 9112 §3.2.2, as Envoy): routing, the egress decision and the
    // Host sent upstream all use that one authority, never the client's Host.
    let authority = (isH2 ? (h[':authority'] as string | undefined) : undefined) ?? h.host ?? '';
    let path = req.url ?? '/';
    if (isH2 && h.host !== undefined && h[':authority'] !== undefined && !sameAuthority(h.host, h[':authority'] as string, h[':scheme'] === 'https' ? 443 : 80)) {
      // RFC 9113 §8.3.1: `host` must not disagree with `:authority`.
      info.path = path;
      return this.refuse(req, res, info, 400, 'host header does not match :authority', 'authority_mismatch');
    }
    if (path.charCodeAt(0) !== 47 /* / */ && path !== '*') {
      const abs = parseAbsolute(path);
      if (!abs) return this.refuse(req, res, info, 400, 'invalid request target', 'invalid_url');
      authority = abs.authority;
      path = abs.path;
    }
    const normalized = normalizePath(path, opts.pathNormalization);
    if (normalized === null) {
      info.path = path;
      return this.refuse(req, res, info, 400, 'invalid path', 'path_normalization_failed');
    }
    path = normalized;
    info.path = path;
    info.authority = authority;
    if (!authority) return this.reply(res, info, 400, 'missing host header', 'missing_host_header', 0);

    const port = this.deps.role === 'sidecar' ? resolveRequestPort(snap, authority) : listenerPort;
    const scheme = secure ? 'https' : 'http';
    const ri: RequestInfo = { host: authority, port, method: info.method, path, scheme, headers: h };
    const table = selectRouteTable(snap, ri);
    if (!table) {
      if (this.deps.role === 'gateway') return this.reply(res, info, 404, '', 'route_not_found', Flag.NR);
      return snap.outboundTrafficPolicy === 'REGISTRY_ONLY'
        ? this.blackhole(res, info)
        : this.forward(snap, req, res, info, ri, null, null, complete);
    }
    const vhost = selectVirtualHost(table, authority);
    if (!vhost) return this.reply(res, info, 404, '', 'route_not_found', Flag.NR);
    if (vhost.requireTls && !secure) {
      const location = `https://${normalizeRequestHost(authority)}${path}`;
      return this.reply(res, info, 301, '', 'https_redirect', 0, { location });
    }
    const route = matchRoute(vhost, ri);
    if (!route) return this.reply(res, info, 404, '', 'route_not_found', Flag.NR);
    info.route = route;
    info.routeName = route.name ?? '';

    let corsHeaders: Record<string, string> | null = null;
    if (route.cors) {
      const d = decideCors(route.cors, info.method, first(h.origin), first(h['access-control-request-method']));
      if (d.kind === 'preflight') return this.reply(res, info, 200, '', 'cors_response', 0, d.headers);
      if (d.kind === 'forward') corsHeaders = d.headers;
    }

    // The weighted destination is chosen with the route (Envoy resolves it before any filter
    // runs, so a fault-injected answer is logged against its cluster too).
    const a = route.action;
    const dest = a.kind !== 'route' ? null : a.destinations.length === 1 ? a.destinations[0] : pickWeighted(a.destinations, a.totalWeight, this.deps.rnd());
    if (route.fault !== null) {
      const d = decideFault(route.fault, this.deps.rnd);
      if (d.flags !== 0) return this.injectFault(d, snap, req, res, info, ri, route, dest, complete, corsHeaders);
    }
    this.act(snap, req, res, info, ri, route, dest, complete, corsHeaders);
  }

  /** The route's action: redirect, direct response, blackhole, or forward. */
  private act(
    snap: Snapshot,
    req: Req,
    res: DownstreamResponse,
    info: StreamInfo,
    ri: RequestInfo,
    route: Route,
    dest: WeightedDestination | null,
    complete: () => void,
    corsHeaders: Record<string, string> | null,
  ): void {
    const a = route.action;
    switch (a.kind) {
      case 'redirect': {
        const location = redirectLocation(a, route.match, { scheme: ri.scheme, host: ri.host, port: ri.port, path: ri.path });
        return this.reply(res, info, a.status, '', 'direct_response', 0, { location });
      }
      case 'direct_response':
        return this.reply(res, info, a.status, a.body ?? '', 'direct_response', 0);
      case 'blocked':
        return this.blackhole(res, info);
      case 'passthrough':
        return this.forward(snap, req, res, info, ri, route, null, complete, corsHeaders);
      case 'route':
        return this.forward(snap, req, res, info, ri, route, dest, complete, corsHeaders);
    }
  }

  /**
   * Fault injection (Envoy's fault filter, in front of the router): wait out the delay, then
   * abort locally or go on to the route's action. Neither is retried, and the delay does not
   * count against the route timeout (its timer starts in the router, afterwards).
   */
  private injectFault(
    d: FaultDecision,
    snap: Snapshot,
    req: Req,
    res: DownstreamResponse,
    info: StreamInfo,
    ri: RequestInfo,
    route: Route,
    dest: WeightedDestination | null,
    complete: () => void,
    corsHeaders: Record<string, string> | null,
  ): void {
    info.flags |= d.flags;
    if (dest) {
      info.upstreamCluster = dest.cluster;
      const rt = this.deps.clusters.get(dest.cluster);
      if (rt) {
        info.destinationService = rt.config.host;
        info.destination = rt.destination;
      }
    }
    const go = (): void => {
      if (d.abort) this.faultAbort(res, info, d.abort);
      else this.act(snap, req, res, info, ri, route, dest, complete, corsHeaders);
    };
    if (d.delayMs <= 0) return go();
    const timer = this.deps.setTimer(runNow, d.delayMs, go);
    // The client may leave during the delay: nothing is sent upstream then.
    res.once('close', () => clearTimeout(timer));
  }

  /** Fault abort: the configured HTTP status, or a gRPC status for gRPC clients. Never goes upstream. */
  private faultAbort(res: DownstreamResponse, info: StreamInfo, abort: NonNullable<FaultDecision['abort']>): void {
    const r = abortReply(abort, info.grpc);
    if (abort.grpcStatus !== null && info.grpc) {
      if (info.requestId === '') info.requestId = randomUUID();
      info.responseCode = 200;
      info.details = 'fault_filter_abort';
      info.grpcStatus = r.headers['grpc-status'];
      endHeadersOnly(res, 200, { ...r.headers, server: this.server });
      return;
    }
    this.reply(res, info, r.status, r.body, 'fault_filter_abort', 0);
  }

  /** REGISTRY_ONLY: Envoy's `block_all` virtual host answers 502. */
  private blackhole(res: DownstreamResponse, info: StreamInfo): void {
    info.upstreamCluster = 'BlackHoleCluster';
    this.reply(res, info, 502, '', 'direct_response', 0);
  }

  /** A malformed request: 400/431, and on HTTP/1 the connection is closed after it. */
  private refuse(req: Req, res: DownstreamResponse, info: StreamInfo, status: number, body: string, details: string): void {
    this.reply(res, info, status, body, details, 0, req.httpVersionMajor === 2 ? undefined : CLOSE);
  }

  private reply(res: DownstreamResponse, info: StreamInfo, status: number, body: string, details: string, flags: number, headers?: Record<string, string>): void {
    // Envoy assigns every request an id before routing, so local replies are logged with one too.
    if (info.requestId === '') info.requestId = randomUUID();
    sendLocalReply(res, info, { status, body, details, flags, headers }, info.grpc && status >= 400, this.server);
  }

  private forward(
    snap: Snapshot,
    req: Req,
    res: DownstreamResponse,
    info: StreamInfo,
    ri: RequestInfo,
    route: Route | null,
    dest: WeightedDestination | null,
    complete: () => void,
    corsHeaders: Record<string, string> | null = null,
  ): void {
    const clusters = this.deps.clusters;
    const runtime = dest ? clusters.get(dest.cluster) ?? null : null;
    if (dest && !runtime) {
      info.upstreamCluster = dest.cluster;
      return this.reply(res, info, 503, '', 'cluster_not_found', Flag.NC);
    }
    const isH2 = req.httpVersionMajor === 2;
    const c = runtime?.config ?? null;
    if (runtime) {
      info.destinationService = runtime.config.host;
      info.destination = runtime.destination;
    } else {
      info.destinationService = normalizeRequestHost(ri.host);
    }

    // Upstream request: headers, authority, path.
    const headers = upstreamRequestHeaders({
      headers: req.headers,
      authority: ri.host,
      secure: ri.scheme === 'https',
      remoteAddress: info.downstreamRemote,
      appendXff: this.deps.role === 'gateway',
      trustedHops: this.options.numTrustedProxies,
      keepTeTrailers: true,
    });
    delete headers.expect;
    if (info.requestId === '') info.requestId = headers['x-request-id'] as string;
    let authority = ri.host;
    let path = ri.path;
    if (route) {
      applyHeaderOps(headers, route.headers.request);
      const rw = route.rewrite;
      if (rw) {
        const np = rewritePath(rw, route.match, path);
        if (np !== path) {
          headers['x-envoy-original-path'] = path;
          path = np;
        }
        if (rw.authority) authority = rw.authority;
      }
    }
    if (dest) {
      applyHeaderOps(headers, dest.headers.request);
      if (dest.authority && !route?.rewrite?.authority) authority = dest.authority;
    }
    const protocol = upstreamProtocol(c, isH2);
    if (protocol === 'h1') headers.host = authority;
    else delete headers.host;

    // Passthrough / ORIGINAL_DST: dial what the client asked for.
    const needsOriginal = !c || c.resolution === 'NONE' || c.lb.kind === 'PASSTHROUGH';
    const passthroughAuthority = needsOriginal ? originalDestination(ri.host, dest?.port ?? ri.port) : null;
    if (!c) info.upstreamCluster = 'PassthroughCluster';

    let hash: number | undefined;
    let setCookie: string | null = null;
    if (c && c.lb.kind === 'CONSISTENT_HASH' && c.lb.hash) {
      const hr = hashForRequest(c.lb.hash.key, req.headers, ri.path, info.downstreamRemote, this.deps.rnd);
      hash = hr.hash;
      setCookie = hr.setCookie;
    }
    let extra: Record<string, string | string[]> | null = corsHeaders;
    if (setCookie) extra = { ...(extra ?? {}), 'set-cookie': setCookie };

    const target: ForwardTarget = {
      cluster: runtime,
      clusterName: c ? c.name : 'PassthroughCluster',
      passthroughAuthority,
      protocol,
      responseOps: [...(route ? [route.headers.response] : []), ...(dest ? [dest.headers.response] : [])],
      extraResponseHeaders: extra,
      hash,
    };

    const start = (body: Buffer | IncomingMessage | Http2ServerRequest | null): void => {
      if (body && Buffer.isBuffer(body)) info.bytesReceived = body.length;
      const fwd = new Forwarder(
        this.fwd,
        req,
        res,
        info,
        route,
        target,
        { method: info.method, path, headers, body, authority },
        complete,
      );
      if (route && route.mirrors.length && (body === null || Buffer.isBuffer(body))) {
        fireMirrors(route.mirrors, clusters, snap, { method: info.method, path, headers, body, authority }, this.deps.rnd);
      }
      fwd.start();
    };
    readBody(req, isH2, start, (e) => this.reply(res, info, 400, `bad request body: ${e.message}`, 'request_body_error', 0));
  }
}

/**
 * Client and local addresses. For h2c the session runs over a replay duplex (see
 * http-listener.ts) whose JSStreamSocket wrapper has no addresses of its own.
 */
function socketAddresses(req: Req): SocketAddresses {
  const s = req.socket as (SocketAddresses & { stream?: SocketAddresses }) | undefined;
  if (!s) return {};
  if (s.remoteAddress !== undefined) return s;
  return s.stream ?? {};
}

/** `http://host:port/path` -> parts; null when malformed. */
function parseAbsolute(url: string): { authority: string; path: string } | null {
  const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/([^/?#]*)([^#]*)/.exec(url);
  if (!m || m[1] === '') return null;
  const authority = m[1].includes('@') ? m[1].slice(m[1].lastIndexOf('@') + 1) : m[1];
  if (authority === '') return null;
  return { authority, path: m[2] === '' ? '/' : m[2].startsWith('/') ? m[2] : `/${m[2]}` };
}

/** Where a passthrough request goes: the requested host with the request's port. */
function originalDestination(host: string, port: number): string {
  const h = normalizeRequestHost(host);
  return `${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/**
 * Small bodies are buffered (replayable for retries and mirrors); large or unknown-length
 * ones stream through with backpressure. `done` gets null, a Buffer, or the stream itself.
 */
function readBody(
  req: Req,
  isH2: boolean,
  done: (body: Buffer | Req | null) => void,
  fail: (e: Error) => void,
): void {
  const cl = req.headers['content-length'];
  const te = req.headers['transfer-encoding'];
  const noBody = isH2 ? (req as Http2ServerRequest).stream.endAfterHeaders || req.readableEnded : cl === undefined && te === undefined;
  if (noBody || cl === '0') {
    if (!isH2 && cl === '0') req.resume();
    return done(null);
  }
  const len = cl !== undefined ? Number(cl) : NaN;
  if (!(len <= REPLAY_BUFFER_BYTES)) return done(req);
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size <= REPLAY_BUFFER_BYTES) chunks.push(c);
  });
  req.once('end', () => done(size === 0 ? null : Buffer.concat(chunks, size)));
  req.once('error', fail);
}

export type { HeaderMap };
