/**
 * The upstream exchange for one routed request (Envoy's router filter): pick a host, pass
 * the circuit breakers, run attempts under Istio's retry policy with per-try and route
 * timeouts, report every attempt's outcome to outlier detection, and stream the response back
 * with backpressure. One instance per request, and it is itself the attempts' handler and its
 * timers' argument, so an ordinary request allocates no closures here.
 *
 * Envoy behaviour reproduced (router.cc, retry_state_impl.cc, conn_pool_base.cc):
 * - Route timeout: covers every attempt and the back-off between them; from the end of the
 *   downstream request; 504 `upstream request timeout`, flag UT. gRPC: the `grpc-timeout`
 *   header is the route timeout, capped by the VS timeout (router/grpc-timeout.ts), and the
 *   client gets DEADLINE_EXCEEDED.
 * - Per-try timeout: starts when the attempt has a connection; retried under `5xx`,
 *   `gateway-error`, `reset`; when it ends the request: 504, UT.
 * - Retries: `shouldRetry` below is Envoy's: not retriable (a retry in flight then counts as
 *   `upstream_rq_retry_success`), attempts exhausted (URX), the retry circuit breaker full
 *   (UO, the response at hand goes out), else a jittered back-off and a new attempt on a host
 *   not tried before (previous-hosts predicate). A streamed (non-replayable) body disables
 *   retries. An overflow is never retried.
 * - Circuit breakers (HTTP/1.1): a request that cannot get an idle connection waits as
 *   pending; with the pending queue full it gets 503 UO + `x-envoy-overloaded: true` at once.
 *   When it gets its connection, `max_requests` is checked (UO again). HTTP/2 checks
 *   `max_requests` only. Overflows are not reported to outlier detection.
 * - Outlier detection hears every attempt: its response status (also when the response is
 *   then retried), connect failures, resets, and timeouts while waiting for headers.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { OutgoingHttpHeaders } from 'node:http';
import type { H1Pool } from '../upstream/h1-pool.js';
import type { Cluster, Route } from '../../snapshot/types.js';
import type { ClusterRuntime, ClusterManager } from '../cluster/manager.js';
import type { HostRuntime } from '../cluster/host.js';
import { attachPending, OVERFLOW_REPLY } from '../cluster/breakers.js';
import type { LbHost, PickContext } from '../lb/types.js';
import { startH1, startH2, type AttemptControl, type AttemptFailure, type AttemptHandler, type AttemptRequest } from '../upstream/attempt.js';
import { closesEachConnection, poolSettings, type H2Upstream } from '../upstream/pools.js';
import { backoffMs, retriableFailure, retriableResponse } from '../router/retry.js';
import { effectiveTimeoutMs, formatGrpcTimeout, parseGrpcTimeout } from '../router/grpc-timeout.js';
import { applyHeaderOps, downstreamResponseHeaders, type HeaderMap } from './headers.js';
import { endHeadersOnly, sendLocalReply, type DownstreamResponse } from './local-reply.js';
import type { StreamInfo } from './stream-info.js';
import { Flag } from '../../observability/flags.js';

export interface ForwardTarget {
  /** Cluster runtime, or null for passthrough (forward to `passthroughAuthority`). */
  cluster: ClusterRuntime | null;
  clusterName: string;
  /** host:port to dial for passthrough / ORIGINAL_DST. */
  passthroughAuthority: string | null;
  protocol: 'h1' | 'h2';
  /** Response header ops for this destination (route + destination level), applied in order. */
  responseOps: Route['headers']['response'][];
  /** Extra response headers (CORS, set-cookie for generated hash cookies). */
  extraResponseHeaders: Record<string, string | string[]> | null;
  hash: number | undefined;
}

/** `setTimeout` with an argument (no closure needed to reach the caller). */
export type SetTimer = <T>(fn: (arg: T) => void, ms: number, arg: T) => NodeJS.Timeout;

export interface ForwardContext {
  clusters: ClusterManager;
  rnd: () => number;
  server: string;
  setTimer: SetTimer;
  /**
   * Scratch pick context, refilled before each (synchronous) pick: pickers never keep it,
   * so one per handler saves an allocation per attempt.
   */
  pick: PickContext;
}

const DEFAULT_PASSTHROUGH = poolSettings({
  maxConnections: 4294967295, connectTimeoutMs: 10_000, tcpKeepalive: null, maxConnectionDurationMs: null, tcpIdleTimeoutMs: 3_600_000,
  http1MaxPendingRequests: 4294967295, http2MaxRequests: 4294967295, maxRequestsPerConnection: 0, maxRetries: 4294967295,
  httpIdleTimeoutMs: 3_600_000, h2UpgradePolicy: 'DEFAULT', useClientProtocol: true, maxConcurrentStreams: 2147483647, http2KeepAlive: null,
});

const OVERFLOW_HEADERS: OutgoingHttpHeaders = OVERFLOW_REPLY.headers;
const OVERFLOW_DETAILS = 'upstream_reset_before_response_started{overflow}';
/** `x-envoy-attempt-count` values, so an attempt costs no string. */
const ATTEMPT_COUNT: readonly string[] = Object.freeze(Array.from({ length: 16 }, (_, i) => String(i)));

/** RST_STREAM code for a response the proxy could not finish. */
const H2_INTERNAL_ERROR = 2;

/** Breaker accounting of the current attempt. */
const CB_NONE = 0;
const CB_PENDING = 1;
const CB_ACTIVE = 2;

/** Envoy's RetryStatus. */
const V_RETRY = 0;
const V_NO = 1;
const V_LIMIT = 2;
const V_OVERFLOW = 3;

/** Envoy's local-reply text for an upstream failure before response headers. */
function resetText(f: AttemptFailure): string {
  const reason = f.kind === 'connection_failure' ? 'connection failure'
    : f.kind === 'remote_reset' || f.kind === 'refused_stream' ? 'remote reset'
    : f.kind === 'local_reset' ? 'local reset'
    : f.kind === 'protocol_error' ? 'protocol error'
    : 'connection termination';
  const text = `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`;
  return f.dns ? `${text}, transport failure reason: DNS resolution failed: ${f.message}` : text;
}

function failureFlag(f: AttemptFailure): number {
  if (f.dns) return Flag.DF;
  switch (f.kind) {
    case 'connection_failure': return Flag.UF;
    case 'remote_reset':
    case 'refused_stream': return Flag.UR;
    case 'local_reset': return Flag.LR;
    case 'protocol_error': return Flag.UPE;
    default: return Flag.UC;
  }
}

// Timer callbacks take the forwarder as their argument (no per-request closures).
const routeTimeout = (f: Forwarder): void => f.onRouteTimeout();
const perTryTimeout = (f: Forwarder): void => f.onPerTryTimeout();
const retryNow = (f: Forwarder): void => f.tryOnce();

export class Forwarder implements AttemptHandler {
  private attempt: AttemptControl | null = null;
  private attemptNo = 0;
  /** Hosts tried, for the previous-hosts predicate (built only when a retry happens). */
  private tried: Set<LbHost> | null = null;
  private lastHost: HostRuntime | null = null;
  private routeTimer: NodeJS.Timeout | null = null;
  private tryTimer: NodeJS.Timeout | null = null;
  private backoffTimer: NodeJS.Timeout | null = null;
  private finished = false;
  private sentHeaders = false;
  /** The current attempt has a connection and no response headers yet. */
  private awaiting = false;
  private upstreamStart = 0n;
  private host: HostRuntime | null = null;
  private cb = CB_NONE;
  /** A scheduled or running retry holds a slot of the retry circuit breaker. */
  private retryHeld = false;
  private readonly rt: ClusterRuntime | null;
  private readonly perTryMs: number;

  constructor(
    private readonly ctx: ForwardContext,
    private readonly req: IncomingMessage | Http2ServerRequest,
    private readonly res: DownstreamResponse,
    private readonly info: StreamInfo,
    private readonly route: Route | null,
    private readonly target: ForwardTarget,
    private readonly upstream: AttemptRequest,
    private readonly onDone: () => void,
  ) {
    this.rt = target.cluster;
    const perTry = route?.retry?.perTryTimeoutMs ?? null;
    this.perTryMs = perTry !== null && perTry > 0 ? perTry : 0;
  }

  start(): void {
    const h = this.upstream.headers;
    const grpc = this.info.grpc;
    const timeout = effectiveTimeoutMs(this.route?.timeoutMs ?? null, grpc, grpc ? parseGrpcTimeout(h['grpc-timeout']) : null);
    // What the upstream is told it has: the per-try timeout if any (within the route's), else the route's.
    const perTry = this.perTryMs;
    const expected = perTry > 0 ? (timeout > 0 ? Math.min(perTry, timeout) : perTry) : timeout;
    if (expected > 0) {
      h['x-envoy-expected-rq-timeout-ms'] = String(expected);
      if (grpc) h['grpc-timeout'] = formatGrpcTimeout(expected);
    }
    if (timeout > 0) this.routeTimer = this.ctx.setTimer(routeTimeout, timeout, this);
    // Before the handler's own 'close' listener, which writes the access log: a client that
    // left mid-response must be logged with DC.
    this.res.prependOnceListener('close', () => {
      if (!this.finished) {
        this.info.flags |= Flag.DC;
        this.info.details = 'downstream_remote_disconnect';
        this.abortAttempt();
        this.finish();
      }
    });
    this.tryOnce();
  }

  private get replayable(): boolean {
    const b = this.upstream.body;
    return b === null || Buffer.isBuffer(b);
  }

  private pickHost(rt: ClusterRuntime): HostRuntime | null {
    const p = this.ctx.pick;
    p.hash = this.target.hash;
    p.avoid = this.tried ?? undefined;
    return rt.picker.pick(p) as HostRuntime | null;
  }

  /** One attempt: pick a host, pass the circuit breakers, dispatch. (Also the back-off timer's callback.) */
  tryOnce(): void {
    this.backoffTimer = null;
    if (this.finished) return;
    this.attemptNo++;
    this.info.attempts = this.attemptNo;
    const t = this.target;
    const rt = this.rt;
    let authority: string;
    let host: HostRuntime | null = null;
    if (rt !== null && rt.routable) {
      host = this.pickHost(rt);
      if (host === null) {
        rt.shared.stats.upstreamCxNoneHealthy++;
        this.localReply(503, 'no healthy upstream', 'no_healthy_upstream', Flag.UH);
        return;
      }
      this.host = host;
      this.lastHost = host;
      host.state.active++;
      this.info.destination = host.destination(rt.config.host, rt.config.namespace);
      authority = host.key;
    } else {
      authority = t.passthroughAuthority ?? '';
      this.host = null;
    }
    this.info.upstreamHost = authority;
    this.info.upstreamCluster = t.clusterName;
    this.upstream.headers['x-envoy-attempt-count'] = ATTEMPT_COUNT[this.attemptNo] ?? String(this.attemptNo);
    this.upstreamStart = process.hrtime.bigint();
    if (t.protocol === 'h2') this.dispatchH2(rt, host, authority);
    else this.dispatchH1(rt, host, authority);
  }

  private dispatchH1(rt: ClusterRuntime | null, host: HostRuntime | null, authority: string): void {
    const pools = this.ctx.clusters.pools;
    let pool: H1Pool;
    if (host !== null && rt !== null) {
      const cached = host.h1;
      pool = cached !== null && !cached.closed && !cached.destroyed ? cached : (host.h1 = pools.h1(rt.config.name, authority, rt.pool));
    } else pool = pools.h1(this.target.clusterName, authority, rt ? rt.pool : DEFAULT_PASSTHROUGH);
    if (rt !== null) {
      const b = rt.breakers;
      // Envoy attaches a request to an idle connection without the pending check; stats are
      // only worth computing when the pending queue is full.
      if (b.pendingRequests >= b.limits.maxPendingRequests && pool.stats.free > 0) b.enqueuePending();
      else if (!b.tryEnqueuePending()) return this.overflow(rt);
      this.cb = CB_PENDING;
    }
    const a = startH1(pool, this.upstream, this, rt !== null && closesEachConnection(rt.pool));
    // onStart may have run (and even answered an overflow) inside dispatch.
    this.attempt = this.finished ? null : a;
    if (rt !== null && this.cb === CB_PENDING && rt.breakers.openConnections >= rt.breakers.limits.maxConnections) {
      // Waiting with the connection limit reached (Envoy `upstream_cx_overflow`).
      rt.breakers.connectionOverflow++;
    }
  }

  private dispatchH2(rt: ClusterRuntime | null, host: HostRuntime | null, authority: string): void {
    const pools = this.ctx.clusters.pools;
    let up: H2Upstream;
    if (host !== null && rt !== null) {
      const cached = host.h2;
      up = cached !== null && !cached.isClosed ? cached : (host.h2 = pools.h2(rt.config.name, authority, rt.pool));
    } else up = pools.h2(this.target.clusterName, authority, rt ? rt.pool : DEFAULT_PASSTHROUGH);
    if (rt !== null) {
      if (!rt.breakers.tryStartRequest()) return this.overflow(rt);
      this.cb = CB_ACTIVE;
    }
    this.onAttached();
    this.attempt = startH2(up, this.upstream, up.settings.tls ? 'https' : 'http', this);
  }

  /** HTTP/1.1: the request got its connection (Envoy onPoolReady). */
  onStart(): boolean {
    if (this.finished) return false;
    const rt = this.rt;
    if (rt !== null && this.cb === CB_PENDING) {
      if (!attachPending(rt.breakers)) {
        this.cb = CB_NONE;
        this.overflow(rt);
        return false;
      }
      this.cb = CB_ACTIVE;
    }
    this.onAttached();
    return true;
  }

  private onAttached(): void {
    this.awaiting = true;
    const rt = this.rt;
    if (rt !== null) {
      rt.shared.stats.upstreamRqTotal++;
      if (this.host !== null && rt.config.outlier !== null) this.ctx.clusters.reportLocal(rt, this.host, 'connected');
    }
    if (this.perTryMs > 0) this.tryTimer = this.ctx.setTimer(perTryTimeout, this.perTryMs, this);
  }

  /** A circuit breaker said no: 503 UO now; never retried, not an outlier signal. */
  private overflow(rt: ClusterRuntime): void {
    rt.shared.stats.upstreamRqPendingOverflow++;
    this.releaseHost();
    this.localReply(503, OVERFLOW_REPLY.body, OVERFLOW_DETAILS, Flag.UO, OVERFLOW_HEADERS);
  }

  private releaseHost(): void {
    const attached = this.cb === CB_ACTIVE;
    const rt = this.rt;
    if (this.cb !== CB_NONE && rt !== null) {
      if (attached) rt.breakers.endRequest();
      else rt.breakers.dequeuePending();
    }
    this.cb = CB_NONE;
    this.awaiting = false;
    const h = this.host;
    if (h !== null) {
      h.state.active--;
      if (attached) h.state.total++;
      this.host = null;
    }
  }

  private clearTryTimer(): void {
    if (this.tryTimer) {
      clearTimeout(this.tryTimer);
      this.tryTimer = null;
    }
  }

  /**
   * Envoy's RetryStateImpl::shouldRetry for an outcome that `would` be retried by the policy.
   * Frees the retry slot the previous retry held (this outcome is that retry's result).
   */
  private shouldRetry(would: boolean): number {
    const rt = this.rt;
    const held = this.retryHeld;
    if (held) {
      this.retryHeld = false;
      rt?.breakers.endRetry();
    }
    const p = this.route?.retry ?? null;
    if (p === null || !this.replayable || this.sentHeaders || this.finished) return V_NO;
    if (!would) {
      if (held && rt !== null) rt.shared.stats.upstreamRqRetrySuccess++;
      return V_NO;
    }
    if (this.attemptNo > p.attempts) {
      if (rt !== null) rt.shared.stats.upstreamRqRetryLimitExceeded++;
      return V_LIMIT;
    }
    if (rt !== null) {
      if (!rt.breakers.tryStartRetry()) {
        rt.shared.stats.upstreamRqRetryOverflow++;
        return V_OVERFLOW;
      }
      this.retryHeld = true;
      rt.shared.stats.upstreamRqRetry++;
    }
    if (p.retryIgnorePreviousHosts && this.lastHost !== null) (this.tried ??= new Set()).add(this.lastHost);
    this.backoffTimer = this.ctx.setTimer(retryNow, backoffMs(p, this.attemptNo, this.ctx.rnd()), this);
    return V_RETRY;
  }

  /** Flags for an outcome that was not retried. */
  private noRetryFlags(v: number): void {
    if (v === V_LIMIT) this.info.flags |= Flag.URX;
    else if (v === V_OVERFLOW) this.info.flags |= Flag.UO;
  }

  onHeaders(status: number, raw: Record<string, string | string[] | undefined>, endStream: boolean): void {
    if (this.finished) return;
    this.clearTryTimer();
    this.awaiting = false;
    const gs = raw['grpc-status'];
    const grpcStatus = typeof gs === 'string' ? Number(gs) : null;
    const rt = this.rt;
    if (rt !== null && this.host !== null) this.ctx.clusters.reportStatus(rt, this.host, status, grpcStatus);
    const p = this.route?.retry ?? null;
    if (p !== null) {
      const v = this.shouldRetry(retriableResponse(p, status, grpcStatus, raw['x-envoy-ratelimited'] !== undefined));
      if (v === V_RETRY) {
        // The response is dropped: reset this attempt, the next one is scheduled.
        const a = this.attempt;
        this.attempt = null;
        a?.abort();
        this.releaseHost();
        return;
      }
      this.noRetryFlags(v);
    }
    this.info.upstreamServiceTime = Math.round(Number(process.hrtime.bigint() - this.upstreamStart) / 1e6);
    this.info.responseCode = status;
    this.info.details = 'via_upstream';
    if (gs !== undefined) this.info.grpcStatus = String(gs);
    const h: HeaderMap = downstreamResponseHeaders(raw);
    for (const ops of this.target.responseOps) applyHeaderOps(h, ops);
    const extra = this.target.extraResponseHeaders;
    if (extra) for (const k in extra) h[k] = extra[k];
    h['x-envoy-upstream-service-time'] = String(this.info.upstreamServiceTime);
    h.server = this.ctx.server;
    this.sentHeaders = true;
    try {
      if (endStream) {
        // Headers-only answer (gRPC Trailers-Only): forward it as one HEADERS+END_STREAM frame,
        // or a gRPC client would read grpc-status as initial metadata and fail the call.
        endHeadersOnly(this.res, status, h);
        this.finish();
      } else this.res.writeHead(status, h);
    } catch {
      // Invalid header from upstream (e.g. a connection-specific one for h2): fail cleanly.
      this.sentHeaders = false;
      this.abortAttempt();
      this.localReply(502, 'upstream sent invalid headers', 'upstream_invalid_headers', Flag.UPE);
    }
  }

  onData(chunk: Buffer): boolean {
    if (this.finished || !this.sentHeaders) return true;
    this.info.bytesSent += chunk.length;
    const ok = this.res.write(chunk);
    if (!ok) this.res.once('drain', () => this.attempt?.resume());
    return ok;
  }

  onEnd(trailers: Record<string, string | string[] | undefined> | null): void {
    if (this.finished || !this.sentHeaders) return;
    this.releaseHost();
    if (trailers) {
      const t = downstreamResponseHeaders(trailers);
      if (t['grpc-status'] !== undefined) this.info.grpcStatus = String(t['grpc-status']);
      try {
        this.res.addTrailers(t);
      } catch {
        /* trailers the client protocol cannot carry are dropped */
      }
    }
    this.res.end();
    this.finish();
  }

  onError(f: AttemptFailure): void {
    this.clearTryTimer();
    const rt = this.rt;
    if (rt !== null) {
      if (this.host !== null && f.kind !== 'local_reset') this.ctx.clusters.reportLocal(rt, this.host, f.kind === 'connection_failure' ? 'connect' : 'reset');
      if (f.kind === 'remote_reset' || f.kind === 'refused_stream') rt.shared.stats.upstreamRqRxReset++;
    }
    this.releaseHost();
    this.attempt = null;
    if (this.finished) return;
    if (f.afterHeaders || this.sentHeaders) {
      // Too late for a local reply: reset the downstream stream.
      this.info.flags |= failureFlag(f);
      this.info.details = `upstream_reset_after_response_started{${f.kind}}`;
      this.resetDownstream();
      this.finish();
      return;
    }
    const p = this.route?.retry ?? null;
    if (p !== null) {
      const v = this.shouldRetry(retriableFailure(p, f.kind));
      if (v === V_RETRY) return;
      this.noRetryFlags(v);
    }
    this.info.upstreamTransportFailure = f.message;
    // Envoy answers an upstream protocol error (UPE) with 502, every other reset with 503.
    this.localReply(f.kind === 'protocol_error' ? 502 : 503, resetText(f), `upstream_reset_before_response_started{${f.kind}}`, failureFlag(f));
  }

  /** The per-try timer's callback. */
  onPerTryTimeout(): void {
    this.tryTimer = null;
    if (this.finished || this.sentHeaders) return;
    const rt = this.rt;
    if (rt !== null) {
      rt.shared.stats.upstreamRqPerTryTimeout++;
      if (this.host !== null && this.awaiting) this.ctx.clusters.reportLocal(rt, this.host, 'timeout');
    }
    const a = this.attempt;
    this.attempt = null;
    a?.abort();
    this.releaseHost();
    // Envoy retries a per-try timeout like a reset: under 5xx / gateway-error / reset.
    const p = this.route?.retry ?? null;
    if (p !== null) {
      const v = this.shouldRetry(retriableFailure(p, 'connection_termination'));
      if (v === V_RETRY) return;
      this.noRetryFlags(v);
    }
    this.localReply(504, 'upstream request timeout', 'upstream_per_try_timeout', Flag.UT);
  }

  /** The route timer's callback. */
  onRouteTimeout(): void {
    this.routeTimer = null;
    if (this.finished) return;
    const rt = this.rt;
    if (rt !== null) {
      rt.shared.stats.upstreamRqTimeout++;
      if (this.host !== null && this.awaiting) this.ctx.clusters.reportLocal(rt, this.host, 'timeout');
    }
    this.abortAttempt();
    if (this.sentHeaders) {
      this.info.flags |= Flag.UT;
      this.resetDownstream();
      this.finish();
      return;
    }
    this.localReply(504, 'upstream request timeout', 'upstream_response_timeout', Flag.UT);
  }

  /**
   * The response cannot be completed: the client must see a failure, never a short but clean
   * response. HTTP/1.1: close the connection mid-body. HTTP/2: RST_STREAM INTERNAL_ERROR
   * (destroying a stream would send NO_ERROR, which reads as a complete response).
   */
  private resetDownstream(): void {
    const stream = (this.res as { stream?: import('node:http2').ServerHttp2Stream }).stream;
    if (stream !== undefined && typeof stream.close === 'function') {
      if (!stream.closed) stream.close(H2_INTERNAL_ERROR);
    } else this.res.destroy();
  }

  private abortAttempt(): void {
    this.clearTryTimer();
    const a = this.attempt;
    this.attempt = null;
    a?.abort();
    this.releaseHost();
  }

  private localReply(status: number, body: string, details: string, flags: number, headers?: OutgoingHttpHeaders): void {
    if (this.finished) return;
    sendLocalReply(this.res, this.info, { status, body, details, flags, headers }, this.info.grpc, this.ctx.server);
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.routeTimer) clearTimeout(this.routeTimer);
    if (this.backoffTimer) clearTimeout(this.backoffTimer);
    this.clearTryTimer();
    this.releaseHost();
    if (this.retryHeld) {
      this.retryHeld = false;
      this.rt?.breakers.endRetry();
    }
    this.onDone();
  }
}

/** Which protocol to speak upstream (Istio: HTTP2/GRPC ports, h2UpgradePolicy, useClientProtocol, auto). */
export function upstreamProtocol(c: Cluster | null, downstreamH2: boolean): 'h1' | 'h2' {
  if (!c) return downstreamH2 ? 'h2' : 'h1';
  const p = c.protocol;
  if (p === 'GRPC' || p === 'HTTP2' || p === 'GRPC-WEB') return 'h2';
  if (c.connectionPool.useClientProtocol || p === 'UNKNOWN') return downstreamH2 ? 'h2' : 'h1';
  if (c.connectionPool.h2UpgradePolicy === 'UPGRADE') return 'h2';
  return 'h1';
}
