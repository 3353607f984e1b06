/**
 * Per-cluster circuit breakers (Envoy `circuit_breakers.thresholds`, default priority), as
 * Istio fills them from a DestinationRule `connectionPool`:
 *
 * | Istio field                    | Envoy threshold        | what it bounds (whole cluster)          |
 * |--------------------------------|------------------------|-----------------------------------------|
 * | `tcp.maxConnections`           | `max_connections`      | upstream connections open, all hosts    |
 * | `http.http1MaxPendingRequests` | `max_pending_requests` | requests queued waiting for a connection|
 * | `http.http2MaxRequests`        | `max_requests`         | requests active on connections          |
 * | `http.maxRetries`              | `max_retries`          | retries outstanding                     |
 *
 * Istio replaces Envoy's 1024/1024/1024/3 defaults by 2^32-1 for all four. Despite its name,
 * `max_requests` applies to HTTP/1.1 pools too: the pool checks it whenever it attaches a
 * request to a connection.
 *
 * How Envoy decides `UO` for an HTTP/1.1 upstream (`ConnPoolImplBase::newStreamImpl`,
 * `attachStreamToClient`, `tryCreateNewConnection`), in order:
 * 1. The host's pool has an idle connection: attach at once. If `max_requests` is reached the
 *    request fails with overflow (counted in `upstream_rq_pending_overflow`, not a separate
 *    counter).
 * 2. Otherwise the request must wait. If `max_pending_requests` is reached it fails at once
 *    (`upstream_rq_pending_overflow`). Else it is queued (pending) and the pool opens a
 *    connection if there are more pending requests than connections being established.
 * 3. Opening a connection needs `max_connections` headroom. At the limit Envoy counts
 *    `upstream_cx_overflow` and does NOT fail the request: it stays queued until a connection
 *    frees up. Exception: a host with no connection at all always gets one, so its queue can
 *    drain (the cluster limit is soft by up to one connection per host).
 * 4. When a connection becomes ready or free, the oldest pending request leaves the queue and
 *    is attached: step 1's `max_requests` check runs again then.
 * 5. Retries: before scheduling a retry the router checks `max_retries`; at the limit the
 *    retry is not made (`upstream_rq_retry_overflow`, flag `UO`) and the response at hand
 *    (the upstream's own, or the 503 from a reset) goes to the client unchanged.
 *
 * A request-level overflow (1, 2, 4) answers 503 immediately, with `x-envoy-overloaded: true`,
 * flag `UO`, body `upstream connect error or disconnect/reset before headers. reset reason:
 * overflow`. It is not retried (retry_on never matches an overflow) and it is not reported to
 * outlier detection (the host did nothing wrong; Envoy #25487).
 *
 * Istio's "Circuit breaking" task (maxConnections: 1, http1MaxPendingRequests: 1, one httpbin
 * pod): with one warm connection, one request is active and one pending; a third concurrent
 * request gets 503 UO at once. Fortio with 2 concurrent connections therefore mostly passes
 * (the occasional 503 comes from the next request arriving before the connection is handed to
 * the queued one), with 3 or more a third and more fail. See {@link planH1} for a deterministic
 * model of those scenarios.
 *
 * One instance per cluster NAME, kept across snapshot swaps by the caller (habit 3): counters
 * of in-flight work must survive a reload; `setLimits` only changes the thresholds.
 */
import type { ConnectionPoolPolicy } from '../../snapshot/types.js';

/** The four enforced thresholds plus the per-connection request cap (enforced by the pool). */
export interface BreakerLimits {
  maxConnections: number;
  maxPendingRequests: number;
  maxRequests: number;
  maxRetries: number;
  /** 0 = unlimited. Informational: the connection pool enforces it. */
  maxRequestsPerConnection: number;
}

/** Envoy's own defaults are overridden by Istio; this is "no limit" (uint32 max). */
export const UNLIMITED = 4294967295;

export function breakerLimits(cp: ConnectionPoolPolicy): BreakerLimits {
  return {
    maxConnections: cp.maxConnections,
    maxPendingRequests: cp.http1MaxPendingRequests,
    maxRequests: cp.http2MaxRequests,
    maxRetries: cp.maxRetries,
    maxRequestsPerConnection: cp.maxRequestsPerConnection,
  };
}

/** The 503 a request-level overflow answers with (Envoy router, reset reason `overflow`). */
export const OVERFLOW_REPLY = Object.freeze({
  status: 503,
  headers: Object.freeze({ 'x-envoy-overloaded': 'true', 'content-type': 'text/plain' }),
  body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
});

/** Counters and gauges in Envoy's names (cluster stats, `circuit_breakers.default.*`). */
export interface BreakerStats {
  upstream_rq_pending_overflow: number;
  upstream_rq_retry_overflow: number;
  upstream_cx_overflow: number;
  upstream_rq_pending_active: number;
  upstream_rq_active: number;
  upstream_cx_active: number;
  /** 1 while the resource is at its limit (`circuit_breakers.default.*_open`). */
  cx_open: number;
  rq_pending_open: number;
  rq_open: number;
  rq_retry_open: number;
  /** Headroom left (`circuit_breakers.default.remaining_*`; Istio sets track_remaining). */
  remaining_cx: number;
  remaining_pending: number;
  remaining_rq: number;
  remaining_retries: number;
}

/** Live resource counts and overflow counters for one cluster. */
export class CircuitBreakers {
  private lim: BreakerLimits;
  /** Requests attached to a connection. */
  activeRequests = 0;
  /** Requests queued for a connection. */
  pendingRequests = 0;
  /** Retries scheduled or in flight. */
  activeRetries = 0;
  /** Upstream connections open (or being opened) to any host of the cluster. */
  openConnections = 0;
  /** Requests refused because the pending queue was full. */
  pendingOverflow = 0;
  /** Requests refused at attach time because `max_requests` was reached. */
  requestOverflow = 0;
  /** Retries not made because `max_retries` was reached. */
  retryOverflow = 0;
  /** Times a connection was wanted at the `max_connections` limit (the request kept waiting). */
  connectionOverflow = 0;

  constructor(limits: ConnectionPoolPolicy | BreakerLimits) {
    this.lim = toLimits(limits);
  }

  get limits(): Readonly<BreakerLimits> {
    return this.lim;
  }

  /** New thresholds after a reload; counts in flight are kept. */
  setLimits(cp: ConnectionPoolPolicy | BreakerLimits): void {
    this.lim = toLimits(cp);
  }

  /** Attach a request to a connection (`max_requests`). False = overflow, counted. */
  tryStartRequest(): boolean {
    if (this.activeRequests >= this.lim.maxRequests) {
      this.requestOverflow++;
      return false;
    }
    this.activeRequests++;
    return true;
  }

  /** The attached request finished (response done, reset, or timed out). */
  endRequest(): void {
    if (this.activeRequests > 0) this.activeRequests--;
  }

  /** Queue a request for a connection (`max_pending_requests`). False = overflow, counted. */
  tryEnqueuePending(): boolean {
    if (this.pendingRequests >= this.lim.maxPendingRequests) {
      this.pendingOverflow++;
      return false;
    }
    this.pendingRequests++;
    return true;
  }

  /**
   * Count a request as pending without the `max_pending_requests` check: for a request that
   * finds an idle connection (step 1), which passes through the pool's queue for an instant
   * before {@link attachPending} attaches it.
   */
  enqueuePending(): void {
    this.pendingRequests++;
  }

  /** A queued request left the queue (got a connection, was cancelled, or timed out). */
  dequeuePending(): void {
    if (this.pendingRequests > 0) this.pendingRequests--;
  }

  /** Schedule a retry (`max_retries`). False = overflow, counted: do not retry, flag UO. */
  tryStartRetry(): boolean {
    if (this.activeRetries >= this.lim.maxRetries) {
      this.retryOverflow++;
      return false;
    }
    this.activeRetries++;
    return true;
  }

  /** The retried attempt finished (or the request ended while the retry was pending). */
  endRetry(): void {
    if (this.activeRetries > 0) this.activeRetries--;
  }

  /**
   * Ask before opening a connection. True when under `max_connections`, or when the host has
   * no connection at all (`hostHasNone`: Envoy always lets each host have one). At the limit
   * `connectionOverflow` is counted, even when the per-host exception lets it through.
   * Call {@link connectionOpened} if you do open it.
   */
  canOpenConnection(hostHasNone = false): boolean {
    const under = this.openConnections < this.lim.maxConnections;
    if (!under) this.connectionOverflow++;
    return under || hostHasNone;
  }

  connectionOpened(): void {
    this.openConnections++;
  }

  connectionClosed(): void {
    if (this.openConnections > 0) this.openConnections--;
  }

  /** Envoy-named counters and gauges for /stats/prometheus and /clusters. */
  stats(): BreakerStats {
    const l = this.lim;
    return {
      upstream_rq_pending_overflow: this.pendingOverflow + this.requestOverflow,
      upstream_rq_retry_overflow: this.retryOverflow,
      upstream_cx_overflow: this.connectionOverflow,
      upstream_rq_pending_active: this.pendingRequests,
      upstream_rq_active: this.activeRequests,
      upstream_cx_active: this.openConnections,
      cx_open: this.openConnections >= l.maxConnections ? 1 : 0,
      rq_pending_open: this.pendingRequests >= l.maxPendingRequests ? 1 : 0,
      rq_open: this.activeRequests >= l.maxRequests ? 1 : 0,
      rq_retry_open: this.activeRetries >= l.maxRetries ? 1 : 0,
      remaining_cx: Math.max(0, l.maxConnections - this.openConnections),
      remaining_pending: Math.max(0, l.maxPendingRequests - this.pendingRequests),
      remaining_rq: Math.max(0, l.maxRequests - this.activeRequests),
      remaining_retries: Math.max(0, l.maxRetries - this.activeRetries),
    };
  }
}

function toLimits(x: ConnectionPoolPolicy | BreakerLimits): BreakerLimits {
  return 'maxPendingRequests' in x ? { ...x } : breakerLimits(x);
}

// ---------------------------------------------------------------- admission (pure decision)

/** What one host's HTTP/1.1 pool looks like when a request arrives. */
export interface HostPoolView {
  /** Connections ready and idle (HTTP/1.1: not carrying a request). */
  idle: number;
  /** Connections open or being opened to this host. */
  connections: number;
  /** Of those, still being established. */
  connecting: number;
  /** Requests of this host already queued (not counting the arriving one). */
  pending: number;
}

/** The verdict for an arriving request; the counters in the breakers are already updated. */
export type Admission =
  /** Send it on an idle connection now (counted active). */
  | { kind: 'attach' }
  /** Queue it (counted pending); open a new connection first when `openConnection`. */
  | { kind: 'queue'; openConnection: boolean }
  /** Answer 503 UO now ({@link OVERFLOW_REPLY}). */
  | { kind: 'overflow'; reason: 'pending' | 'requests' };

/**
 * Envoy's HTTP/1.1 admission for one arriving request (steps 1-3 of the module comment).
 * When the verdict opens a connection, `connectionOpened()` has been called already.
 */
export function admitRequest(b: CircuitBreakers, host: HostPoolView): Admission {
  if (host.idle > 0) {
    return b.tryStartRequest() ? { kind: 'attach' } : { kind: 'overflow', reason: 'requests' };
  }
  if (!b.tryEnqueuePending()) return { kind: 'overflow', reason: 'pending' };
  // Envoy opens a connection when queued requests outnumber connections being established.
  let openConnection = false;
  if (host.pending + 1 > host.connecting && b.canOpenConnection(host.connections === 0)) {
    b.connectionOpened();
    openConnection = true;
  }
  return { kind: 'queue', openConnection };
}

/**
 * A queued request gets a ready connection (step 4): it leaves the queue and is attached,
 * unless `max_requests` is reached, in which case it fails with overflow now.
 */
export function attachPending(b: CircuitBreakers): boolean {
  b.dequeuePending();
  return b.tryStartRequest();
}

// ---------------------------------------------------------------- planner (pure model for tests)

/** One request of a scenario: when it arrives and how long the upstream takes to answer. */
export interface PlannedRequest {
  at: number;
  durationMs: number;
  /** Host index it was balanced to; default round-robin by arrival order. */
  host?: number;
}

/** What happened to one request in {@link planH1}. */
export interface PlannedOutcome {
  outcome: 'served' | 'overflow';
  /** Which limit refused it (overflow only). */
  reason: 'pending' | 'requests' | null;
  host: number;
  /** When it got a connection (served only). */
  start: number | null;
  /** When the client got its answer (overflow: at once). */
  end: number;
}

interface SimConn {
  state: 'connecting' | 'idle' | 'busy';
  remaining: number;
}

interface SimEvent {
  t: number;
  /** Same-instant order: completions, then connects, then arrivals. */
  prio: 0 | 1 | 2;
  seq: number;
  run: () => void;
}

/**
 * Deterministic model of Envoy's HTTP/1.1 pools behind one cluster's circuit breakers: each
 * request arrives at `at`, is admitted by {@link admitRequest}, and holds a connection for
 * `durationMs` once attached. Connections take `connectMs` to establish (0 = a warm pool)
 * and close after `maxRequestsPerConnection` requests. Returns one outcome per request (same
 * order) and the breakers, whose counters the scenario leaves behind.
 *
 * Istio's circuit-breaking scenario: `planH1({..limits 1/1..}, three requests at 0)` gives
 * served, served (after the first), overflow (`pending`).
 */
export function planH1(
  limits: ConnectionPoolPolicy | BreakerLimits,
  requests: readonly PlannedRequest[],
  opts: { hosts?: number; connectMs?: number } = {},
): { outcomes: PlannedOutcome[]; breakers: CircuitBreakers } {
  const b = new CircuitBreakers(limits);
  const nHosts = Math.max(1, opts.hosts ?? 1);
  const connectMs = opts.connectMs ?? 0;
  const perConn = b.limits.maxRequestsPerConnection > 0 ? b.limits.maxRequestsPerConnection : Infinity;
  const pools = Array.from({ length: nHosts }, () => ({ conns: [] as SimConn[], queue: [] as number[] }));
  const outcomes: PlannedOutcome[] = new Array<PlannedOutcome>(requests.length);
  const events: SimEvent[] = [];
  let seq = 0;
  const schedule = (t: number, prio: SimEvent['prio'], run: () => void) => events.push({ t, prio, seq: seq++, run });

  const count = (h: number, s: SimConn['state']) => pools[h].conns.filter((c) => c.state === s).length;
  const hostOf = (i: number) => (requests[i].host ?? i) % nHosts;

  const openConn = (h: number, t: number) => {
    const c: SimConn = { state: 'connecting', remaining: perConn };
    pools[h].conns.push(c);
    schedule(t + connectMs, 1, () => {
      c.state = 'idle';
      drain(h, t + connectMs);
    });
  };
  const start = (h: number, c: SimConn, i: number, t: number) => {
    c.state = 'busy';
    c.remaining--;
    const end = t + requests[i].durationMs;
    outcomes[i] = { outcome: 'served', reason: null, host: h, start: t, end };
    schedule(end, 0, () => {
      b.endRequest();
      if (c.remaining <= 0) {
        pools[h].conns.splice(pools[h].conns.indexOf(c), 1);
        b.connectionClosed();
        const p = pools[h];
        if (p.queue.length > count(h, 'connecting') && b.canOpenConnection(p.conns.length === 0)) {
          b.connectionOpened();
          openConn(h, end);
        }
      } else {
        c.state = 'idle';
      }
      drain(h, end);
    });
  };
  const drain = (h: number, t: number) => {
    const p = pools[h];
    for (let c = p.conns.find((x) => x.state === 'idle'); c && p.queue.length > 0; c = p.conns.find((x) => x.state === 'idle')) {
      const i = p.queue.shift() as number;
      if (attachPending(b)) start(h, c, i, t);
      else outcomes[i] = { outcome: 'overflow', reason: 'requests', host: h, start: null, end: t };
    }
  };

  requests.forEach((r, i) =>
    schedule(r.at, 2, () => {
      const h = hostOf(i);
      const p = pools[h];
      const view = { idle: count(h, 'idle'), connections: p.conns.length, connecting: count(h, 'connecting'), pending: p.queue.length };
      const a = admitRequest(b, view);
      if (a.kind === 'overflow') {
        outcomes[i] = { outcome: 'overflow', reason: a.reason, host: h, start: null, end: r.at };
      } else if (a.kind === 'attach') {
        start(h, p.conns.find((c) => c.state === 'idle') as SimConn, i, r.at);
      } else {
        p.queue.push(i);
        if (a.openConnection) openConn(h, r.at);
      }
    }),
  );

  while (events.length > 0) {
    let k = 0;
    for (let j = 1; j < events.length; j++) {
      const e = events[j];
      const m = events[k];
      if (e.t < m.t || (e.t === m.t && (e.prio < m.prio || (e.prio === m.prio && e.seq < m.seq)))) k = j;
    }
    events.splice(k, 1)[0].run();
  }
  return { outcomes, breakers: b };
}
