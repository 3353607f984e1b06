/**
 * The upstream exchange for one routed request: pick a host, run attempts (with Istio's
 * retry policy, per-try and route timeouts), stream the response back with backpressure.
 * One instance per request; the layers are small methods so each decision stays readable.
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Cluster, Route, RetryPolicy } from '../../snapshot/types.js';
import type { ClusterRuntime, ClusterManager } from '../cluster/manager.js';
import type { HostRuntime } from '../cluster/host.js';
import type { LbHost, PickContext } from '../lb/types.js';
import { startH1, startH2, type AttemptControl, type AttemptFailure, type AttemptRequest } from '../upstream/attempt.js';
import { poolSettings } from '../upstream/pools.js';
import { backoffMs, retriable, type AttemptOutcome } from '../router/retry.js';
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

export interface ForwardContext {
  clusters: ClusterManager;
  rnd: () => number;
  server: string;
  setTimer: (fn: () => void, ms: number) => NodeJS.Timeout;
}

const UNLIMITED_TIMEOUT = 0;
const DEFAULT_PASSTHROUGH = poolSettings({
  maxConnections: 4294967295, connectTimeoutMs: 10_000, tcpKeepalive: null, maxConnectionDurationMs: null, tcpIdleTimeoutMs: 3_600_000,
  http1MaxPendingRequests: 4294967295, http2MaxRequests: 4294967295, maxRequestsPerConnection: 0, maxRetries: 4294967295,
  httpIdleTimeoutMs: 3_600_000, h2UpgradePolicy: 'DEFAULT', useClientProtocol: true, maxConcurrentStreams: 2147483647, http2KeepAlive: null,
});

/** Envoy's local-reply text for an upstream failure before response headers. */
function resetText(f: AttemptFailure): string {
  const reason = f.kind === 'connection_failure' ? 'connection failure'
    : f.kind === 'remote_reset' || f.kind === 'refused_stream' ? 'remote reset'
    : f.kind === 'local_reset' ? 'local reset'
    : f.kind === 'protocol_error' ? 'protocol error'
    : 'connection termination';
  return `upstream connect error or disconnect/reset before headers. reset reason: ${reason}`;
}

function failureFlag(f: AttemptFailure): number {
  switch (f.kind) {
    case 'connection_failure': return Flag.UF;
    case 'remote_reset':
    case 'refused_stream': return Flag.UR;
    case 'local_reset': return Flag.LR;
    case 'protocol_error': return Flag.UPE;
    default: return Flag.UC;
  }
}

export class Forwarder {
  private attempt: AttemptControl | null = null;
  private attemptNo = 0;
  private tried: Set<LbHost> | null = null;
  private routeTimer: NodeJS.Timeout | null = null;
  private tryTimer: NodeJS.Timeout | null = null;
  private finished = false;
  private sentHeaders = false;
  private upstreamStart = 0n;
  private host: HostRuntime | null = null;

  constructor(
    private readonly ctx: ForwardContext,
    private readonly req: IncomingMessage | Http2ServerRequest,
    private readonly res: DownstreamResponse,
    private readonly info: StreamInfo,
    private readonly route: Route | null,
    private readonly target: ForwardTarget,
    private readonly upstream: AttemptRequest,
    private readonly onDone: () => void,
  ) {}

  private get retry(): RetryPolicy | null {
    // A streamed (non-replayable) body cannot be retried once sent.
    return this.route?.retry ?? null;
  }

  start(): void {
    const timeout = this.route?.timeoutMs ?? null;
    if (timeout !== null && timeout > UNLIMITED_TIMEOUT) {
      this.upstream.headers['x-envoy-expected-rq-timeout-ms'] = String(timeout);
      this.routeTimer = this.ctx.setTimer(() => this.onRouteTimeout(), timeout);
    }
    this.res.once('close', () => {
      if (!this.finished) {
        this.info.flags |= Flag.DC;
        this.info.details = 'downstream_remote_disconnect';
        this.abortAttempt();
        this.finish();
      }
    });
    this.tryOnce();
  }

  private pickHost(): HostRuntime | null {
    const c = this.target.cluster;
    if (!c) return null;
    const ctx: PickContext = { rnd: this.ctx.rnd, hash: this.target.hash, avoid: this.tried ?? undefined };
    return c.picker.pick(ctx) as HostRuntime | null;
  }

  private tryOnce(): void {
    if (this.finished) return;
    this.attemptNo++;
    this.info.attempts = this.attemptNo;
    const t = this.target;
    let authority: string;
    let clusterKey: string;
    const c = t.cluster;
    if (c && c.config.resolution !== 'NONE' && c.config.lb.kind !== 'PASSTHROUGH') {
      const host = this.pickHost();
      if (!host) {
        this.localReply(503, 'no healthy upstream', 'no_healthy_upstream', Flag.UH);
        return;
      }
      this.host = host;
      host.state.active++;
      this.info.destination = host.destination(c.config.host, c.config.namespace);
      authority = host.key;
      clusterKey = c.config.name;
      if (this.retry?.retryIgnorePreviousHosts !== false) (this.tried ??= new Set()).add(host);
    } else {
      authority = t.passthroughAuthority ?? '';
      clusterKey = t.clusterName;
      this.host = null;
    }
    this.info.upstreamHost = authority;
    this.info.upstreamCluster = t.clusterName;
    this.upstream.headers['x-envoy-attempt-count'] = String(this.attemptNo);
    const perTry = this.retry?.perTryTimeoutMs ?? null;
    if (perTry !== null && perTry > 0) this.tryTimer = this.ctx.setTimer(() => this.onPerTryTimeout(), perTry);
    this.upstreamStart = process.hrtime.bigint();
    const settings = c ? c.pool : DEFAULT_PASSTHROUGH;
    const handler = {
      onHeaders: (status: number, headers: Record<string, string | string[] | undefined>, endStream: boolean) => this.onHeaders(status, headers, endStream),
      onData: (chunk: Buffer) => this.onData(chunk),
      onEnd: (trailers: Record<string, string | string[] | undefined> | null) => this.onEnd(trailers),
      onError: (f: AttemptFailure) => this.onFailure(f),
    };
    if (t.protocol === 'h2') {
      const up = this.ctx.clusters.pools.h2(clusterKey, authority, settings);
      this.attempt = startH2(up, this.upstream, 'http', handler);
    } else {
      const pool = this.ctx.clusters.pools.h1(clusterKey, authority, settings);
      this.attempt = startH1(pool, this.upstream, handler);
    }
  }

  private releaseHost(): void {
    const h = this.host;
    if (h) {
      h.state.active--;
      h.state.total++;
      this.host = null;
    }
  }

  private clearTryTimer(): void {
    if (this.tryTimer) {
      clearTimeout(this.tryTimer);
      this.tryTimer = null;
    }
  }

  /** Retry if the policy, the body and the attempt budget allow; true when a retry was scheduled. */
  private maybeRetry(outcome: AttemptOutcome): boolean {
    const p = this.retry;
    if (!p || this.sentHeaders || this.finished) return false;
    if (this.attemptNo > p.attempts) return false;
    if (this.upstream.body !== null && !Buffer.isBuffer(this.upstream.body)) return false;
    if (!retriable(p, outcome)) return false;
    const delay = backoffMs(p, this.attemptNo, this.ctx.rnd());
    if (delay <= 0) queueMicrotask(() => this.tryOnce());
    else this.ctx.setTimer(() => this.tryOnce(), delay);
    return true;
  }

  private onHeaders(status: number, raw: Record<string, string | string[] | undefined>, endStream: boolean): void {
    this.clearTryTimer();
    if (this.finished) return;
    const grpcStatus = raw['grpc-status'];
    const outcome: AttemptOutcome = {
      kind: 'response',
      status,
      grpcStatus: grpcStatus !== undefined ? Number(grpcStatus) : null,
      rateLimited: raw['x-envoy-ratelimited'] !== undefined,
    };
    if (this.retry && this.maybeRetryResponse(outcome)) return;
    this.info.upstreamServiceTime = Math.round(Number(process.hrtime.bigint() - this.upstreamStart) / 1e6);
    this.info.responseCode = status;
    this.info.details = 'via_upstream';
    if (this.attemptNo > 1 && this.retry && retriable(this.retry, outcome)) this.info.flags |= Flag.URX;
    if (grpcStatus !== undefined) this.info.grpcStatus = String(grpcStatus);
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

  /** A retriable response with attempts left: drop it and try again. */
  private maybeRetryResponse(outcome: AttemptOutcome): boolean {
    if (this.sentHeaders) return false;
    const p = this.retry;
    if (!p || this.attemptNo > p.attempts || !retriable(p, outcome)) return false;
    if (this.upstream.body !== null && !Buffer.isBuffer(this.upstream.body)) return false;
    const a = this.attempt;
    this.attempt = null;
    a?.abort();
    this.releaseHost();
    return this.maybeRetry(outcome);
  }

  private onData(chunk: Buffer): boolean {
    if (this.finished || !this.sentHeaders) return true;
    this.info.bytesSent += chunk.length;
    const ok = this.res.write(chunk);
    if (!ok) this.res.once('drain', () => this.attempt?.resume());
    return ok;
  }

  private onEnd(trailers: Record<string, string | string[] | undefined> | null): void {
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

  private onFailure(f: AttemptFailure): void {
    this.clearTryTimer();
    this.releaseHost();
    this.attempt = null;
    if (this.finished) return;
    if (f.afterHeaders || this.sentHeaders) {
      // Too late for a local reply: reset the downstream stream.
      this.info.flags |= failureFlag(f);
      this.info.details = 'upstream_reset_after_response_started';
      this.res.destroy();
      this.finish();
      return;
    }
    if (this.maybeRetry({ kind: 'failure', failure: f.kind })) return;
    if (this.attemptNo > 1) this.info.flags |= Flag.URX;
    this.info.upstreamTransportFailure = f.message;
    this.localReply(503, resetText(f), `upstream_reset_before_response_started{${f.kind}}`, failureFlag(f));
  }

  private onPerTryTimeout(): void {
    this.tryTimer = null;
    if (this.finished || this.sentHeaders) return;
    const a = this.attempt;
    this.attempt = null;
    a?.abort();
    this.releaseHost();
    // Envoy retries a per-try timeout under 5xx / gateway-error / reset.
    if (this.maybeRetry({ kind: 'failure', failure: 'connection_termination' })) return;
    this.info.flags |= Flag.UT;
    if (this.attemptNo > 1) this.info.flags |= Flag.URX;
    this.localReply(504, 'upstream request timeout', 'upstream_per_try_timeout', 0);
  }

  private onRouteTimeout(): void {
    this.routeTimer = null;
    if (this.finished) return;
    this.abortAttempt();
    if (this.sentHeaders) {
      this.info.flags |= Flag.UT;
      this.res.destroy();
      this.finish();
      return;
    }
    this.localReply(504, 'upstream request timeout', 'upstream_response_timeout', Flag.UT);
  }

  private abortAttempt(): void {
    this.clearTryTimer();
    const a = this.attempt;
    this.attempt = null;
    a?.abort();
    this.releaseHost();
  }

  private localReply(status: number, body: string, details: string, flags: number): void {
    if (this.finished) return;
    sendLocalReply(this.res, this.info, { status, body, details, flags }, this.info.grpc, this.ctx.server);
    this.finish();
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.routeTimer) clearTimeout(this.routeTimer);
    this.clearTryTimer();
    this.releaseHost();
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
