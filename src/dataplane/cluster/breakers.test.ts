import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  admitRequest,
  attachPending,
  breakerLimits,
  CircuitBreakers,
  OVERFLOW_REPLY,
  planH1,
  UNLIMITED,
  type BreakerLimits,
  type PlannedRequest,
} from './breakers.js';
import type { ConnectionPoolPolicy } from '../../snapshot/types.js';

const pool = (over: Partial<ConnectionPoolPolicy> = {}): ConnectionPoolPolicy => ({
  maxConnections: UNLIMITED,
  connectTimeoutMs: 10_000,
  tcpKeepalive: null,
  maxConnectionDurationMs: null,
  tcpIdleTimeoutMs: 3_600_000,
  http1MaxPendingRequests: UNLIMITED,
  http2MaxRequests: UNLIMITED,
  maxRequestsPerConnection: 0,
  maxRetries: UNLIMITED,
  httpIdleTimeoutMs: 3_600_000,
  h2UpgradePolicy: 'DEFAULT',
  useClientProtocol: false,
  maxConcurrentStreams: 2147483647,
  http2KeepAlive: null,
  ...over,
});

/** Istio's circuit-breaking task: maxConnections 1, http1MaxPendingRequests 1, maxRequestsPerConnection 1. */
const ISTIO_TASK = pool({ maxConnections: 1, http1MaxPendingRequests: 1, maxRequestsPerConnection: 1 });
const burst = (n: number, durationMs = 100, at = 0): PlannedRequest[] => Array.from({ length: n }, () => ({ at, durationMs }));
const summary = (o: ReturnType<typeof planH1>['outcomes']) => o.map((x) => (x.outcome === 'served' ? 'ok' : `UO:${x.reason}`));

test('breakerLimits maps the Istio fields onto the Envoy thresholds', () => {
  const l = breakerLimits(pool({ maxConnections: 3, http1MaxPendingRequests: 4, http2MaxRequests: 5, maxRetries: 6, maxRequestsPerConnection: 7 }));
  assert.deepEqual(l, { maxConnections: 3, maxPendingRequests: 4, maxRequests: 5, maxRetries: 6, maxRequestsPerConnection: 7 });
});

// ------------------------------------------------------------------ the scenario planner

const scenarios: Array<[string, ConnectionPoolPolicy, PlannedRequest[], { hosts?: number; connectMs?: number }, string[]]> = [
  ['Istio task, 3 concurrent, warm: 1 active, 1 pending, third UO', ISTIO_TASK, burst(3), {}, ['ok', 'ok', 'UO:pending']],
  ['Istio task, 2 concurrent: both pass', ISTIO_TASK, burst(2), {}, ['ok', 'ok']],
  ['Istio task, 8 concurrent slow requests: 2 pass, 6 UO at once', ISTIO_TASK, burst(8, 2000), {}, ['ok', 'ok', ...Array<string>(6).fill('UO:pending')]],
  // Cold pool: the first request waits (pending) for its connection, so the second finds the queue full.
  ['Istio task, 3 concurrent, cold connection: only 1 passes', ISTIO_TASK, burst(3), { connectMs: 5 }, ['ok', 'UO:pending', 'UO:pending']],
  ['defaults (uint32 max): nothing overflows', pool(), burst(50), {}, Array<string>(50).fill('ok')],
  [
    'max_requests 2 with plenty of connections: third attaches over the limit',
    pool({ http2MaxRequests: 2 }),
    burst(3),
    {},
    ['ok', 'ok', 'UO:requests'],
  ],
  [
    'max_requests is checked again when a queued request gets its connection',
    pool({ http2MaxRequests: 1 }),
    burst(2),
    { connectMs: 5 },
    ['ok', 'UO:requests'],
  ],
  [
    'maxConnections 1 across 2 hosts: each host still gets one connection',
    pool({ maxConnections: 1, http1MaxPendingRequests: 10 }),
    burst(2),
    { hosts: 2 },
    ['ok', 'ok'],
  ],
  [
    'arrivals spread out never queue',
    ISTIO_TASK,
    [0, 150, 300, 450].map((at) => ({ at, durationMs: 100 })),
    {},
    ['ok', 'ok', 'ok', 'ok'],
  ],
  [
    'a request arriving as the active one completes finds the connection handed on',
    ISTIO_TASK,
    [{ at: 0, durationMs: 100 }, { at: 0, durationMs: 100 }, { at: 100, durationMs: 100 }],
    {},
    ['ok', 'ok', 'ok'],
  ],
];

for (const [name, limits, reqs, opts, want] of scenarios) {
  test(`planH1: ${name}`, () => {
    const { outcomes } = planH1(limits, reqs, opts);
    assert.deepEqual(summary(outcomes), want);
  });
}

test('planH1: Istio task timing: the pending request starts when the first ends; UO answers at once', () => {
  const { outcomes, breakers } = planH1(ISTIO_TASK, burst(3, 100));
  assert.deepEqual(
    outcomes.map((o) => [o.start, o.end]),
    [
      [0, 100],
      [100, 200],
      [null, 0],
    ],
  );
  assert.equal(breakers.pendingOverflow, 1);
  assert.equal(breakers.stats().upstream_rq_pending_overflow, 1);
  // Everything drained: nothing active, nothing queued, the connection closed after its 1 request.
  assert.deepEqual([breakers.activeRequests, breakers.pendingRequests, breakers.openConnections], [0, 0, 0]);
});

test('planH1: with maxRequestsPerConnection 1 every request opens its own connection', () => {
  const { breakers, outcomes } = planH1(ISTIO_TASK, [0, 10, 20].map((at) => ({ at, durationMs: 100 })));
  assert.deepEqual(summary(outcomes), ['ok', 'ok', 'UO:pending']);
  // The second waited for the first connection to close, then a new one was opened.
  assert.deepEqual([outcomes[1].start, outcomes[1].end], [100, 200]);
  assert.equal(breakers.openConnections, 0);
});

test('planH1: connection overflow is counted but does not fail the request', () => {
  const { outcomes, breakers } = planH1(pool({ maxConnections: 1 }), burst(3));
  assert.deepEqual(summary(outcomes), ['ok', 'ok', 'ok']);
  assert.deepEqual(
    outcomes.map((o) => o.start),
    [0, 100, 200],
  );
  assert.ok(breakers.connectionOverflow >= 2, `cx overflow ${breakers.connectionOverflow}`);
  assert.equal(breakers.stats().upstream_cx_overflow, breakers.connectionOverflow);
});

// ------------------------------------------------------------------ counters

const lim = (over: Partial<BreakerLimits>): BreakerLimits => ({
  maxConnections: UNLIMITED,
  maxPendingRequests: UNLIMITED,
  maxRequests: UNLIMITED,
  maxRetries: UNLIMITED,
  maxRequestsPerConnection: 0,
  ...over,
});

test('CircuitBreakers: requests, pending and retries count up to the limit, then overflow', () => {
  const b = new CircuitBreakers(lim({ maxRequests: 2, maxPendingRequests: 1, maxRetries: 1 }));
  assert.deepEqual([b.tryStartRequest(), b.tryStartRequest(), b.tryStartRequest()], [true, true, false]);
  assert.deepEqual([b.tryEnqueuePending(), b.tryEnqueuePending()], [true, false]);
  assert.deepEqual([b.tryStartRetry(), b.tryStartRetry()], [true, false]);
  assert.deepEqual([b.requestOverflow, b.pendingOverflow, b.retryOverflow], [1, 1, 1]);
  const s = b.stats();
  assert.equal(s.upstream_rq_pending_overflow, 2, 'max_requests overflow is counted as pending overflow, as in Envoy');
  assert.equal(s.upstream_rq_retry_overflow, 1);
  assert.deepEqual([s.rq_open, s.rq_pending_open, s.rq_retry_open], [1, 1, 1]);
  assert.deepEqual([s.remaining_rq, s.remaining_pending, s.remaining_retries], [0, 0, 0]);

  b.endRequest();
  b.dequeuePending();
  b.endRetry();
  assert.deepEqual([b.tryStartRequest(), b.tryEnqueuePending(), b.tryStartRetry()], [true, true, true]);
});

test('CircuitBreakers: ends never go below zero', () => {
  const b = new CircuitBreakers(lim({}));
  b.endRequest();
  b.dequeuePending();
  b.endRetry();
  b.connectionClosed();
  assert.deepEqual([b.activeRequests, b.pendingRequests, b.activeRetries, b.openConnections], [0, 0, 0, 0]);
});

test('CircuitBreakers: connections at the limit are allowed only for a host with none', () => {
  const b = new CircuitBreakers(lim({ maxConnections: 1 }));
  assert.equal(b.canOpenConnection(), true);
  b.connectionOpened();
  assert.equal(b.canOpenConnection(false), false);
  assert.equal(b.canOpenConnection(true), true);
  assert.equal(b.connectionOverflow, 2);
  assert.equal(b.stats().cx_open, 1);
});

test('CircuitBreakers: setLimits keeps the counts in flight (reload)', () => {
  const b = new CircuitBreakers(pool({ http2MaxRequests: 5 }));
  for (let i = 0; i < 3; i++) assert.ok(b.tryStartRequest());
  b.setLimits(pool({ http2MaxRequests: 3 }));
  assert.equal(b.activeRequests, 3);
  assert.equal(b.tryStartRequest(), false);
  b.setLimits(pool({ http2MaxRequests: 10 }));
  assert.equal(b.tryStartRequest(), true);
  assert.equal(b.limits.maxRequests, 10);
});

// ------------------------------------------------------------------ admission rows

const admissionRows: Array<[string, BreakerLimits, { idle: number; connections: number; connecting: number; pending: number }, string]> = [
  ['idle connection: attach', lim({}), { idle: 1, connections: 1, connecting: 0, pending: 0 }, 'attach'],
  ['idle connection but max_requests reached', lim({ maxRequests: 0 }), { idle: 1, connections: 1, connecting: 0, pending: 0 }, 'overflow:requests'],
  ['no connection: queue and open one', lim({}), { idle: 0, connections: 0, connecting: 0, pending: 0 }, 'queue:open'],
  ['busy connection, room under max_connections: queue and open', lim({}), { idle: 0, connections: 1, connecting: 0, pending: 0 }, 'queue:open'],
  ['one connecting covers the arriving request: queue only', lim({}), { idle: 0, connections: 1, connecting: 1, pending: 0 }, 'queue'],
  ['two queued, one connecting: queue and open another', lim({}), { idle: 0, connections: 1, connecting: 1, pending: 1 }, 'queue:open'],
  ['max_connections reached, host has one: queue only', lim({ maxConnections: 0 }), { idle: 0, connections: 1, connecting: 0, pending: 0 }, 'queue'],
  ['max_connections reached, host has none: still opens one', lim({ maxConnections: 0 }), { idle: 0, connections: 0, connecting: 0, pending: 0 }, 'queue:open'],
  ['pending full: overflow', lim({ maxPendingRequests: 0 }), { idle: 0, connections: 1, connecting: 0, pending: 0 }, 'overflow:pending'],
];
for (const [name, l, view, want] of admissionRows) {
  test(`admitRequest: ${name}`, () => {
    const a = admitRequest(new CircuitBreakers(l), view);
    const got = a.kind === 'overflow' ? `overflow:${a.reason}` : a.kind === 'queue' ? (a.openConnection ? 'queue:open' : 'queue') : 'attach';
    assert.equal(got, want);
  });
}

test('admitRequest/attachPending keep the counters consistent', () => {
  const b = new CircuitBreakers(lim({ maxRequests: 1 }));
  const a = admitRequest(b, { idle: 0, connections: 0, connecting: 0, pending: 0 });
  assert.deepEqual(a, { kind: 'queue', openConnection: true });
  assert.deepEqual([b.pendingRequests, b.openConnections], [1, 1]);
  assert.equal(attachPending(b), true);
  assert.deepEqual([b.pendingRequests, b.activeRequests], [0, 1]);
  b.tryEnqueuePending();
  assert.equal(attachPending(b), false, 'max_requests reached when the second is attached');
  assert.deepEqual([b.pendingRequests, b.activeRequests, b.requestOverflow], [0, 1, 1]);
});

test('OVERFLOW_REPLY is the Envoy overflow answer', () => {
  assert.equal(OVERFLOW_REPLY.status, 503);
  assert.equal(OVERFLOW_REPLY.headers['x-envoy-overloaded'], 'true');
  assert.match(OVERFLOW_REPLY.body, /reset reason: overflow$/);
});
