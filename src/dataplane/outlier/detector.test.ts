import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutlierDetector } from './detector.js';
import { countedStatus, grpcToHttpStatus, newOutlierState, type EjectionEvent, type OutlierHost, type OutlierResult } from './types.js';
import type { OutlierPolicy } from '../../snapshot/types.js';

/** Istio's numbers when the DestinationRule block is present with its fields unset (but 100 % ejectable). */
const policy = (over: Partial<OutlierPolicy> = {}): OutlierPolicy => ({
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  consecutiveLocalOriginFailures: 5,
  splitExternalLocalOriginErrors: false,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 100,
  minHealthPercent: 0,
  httpErrorCodes: [],
  ...over,
});

const mkHosts = (n: number): OutlierHost[] => Array.from({ length: n }, () => ({ healthy: true, ...newOutlierState() }));

function setup(p: Partial<OutlierPolicy> = {}, n = 3, opts = {}) {
  const d = new OutlierDetector(policy(p), opts);
  const hosts = mkHosts(n);
  d.setHosts(hosts);
  return { d, hosts, h: hosts[0] };
}

const S = (code: number, grpcStatus?: number): OutlierResult => ({ kind: 'status', code, grpcStatus });
const L = (failure: 'connect' | 'reset' | 'timeout'): OutlierResult => ({ kind: 'local', failure });
const CONNECTED: OutlierResult = { kind: 'connected' };

/** Feeds results at `now`; returns the index (1-based) of the result that ejected, or 0. */
function feed(d: OutlierDetector, h: OutlierHost, results: OutlierResult[], now = 0): { ejectedAt: number; events: EjectionEvent[] } {
  const events: EjectionEvent[] = [];
  let ejectedAt = 0;
  results.forEach((r, i) => {
    const ev = d.onResult(h, r, now);
    if (ev) events.push(ev);
    if (ev?.action === 'eject' && ejectedAt === 0) ejectedAt = i + 1;
  });
  return { ejectedAt, events };
}
const times = (r: OutlierResult, n: number): OutlierResult[] => Array<OutlierResult>(n).fill(r);

// ------------------------------------------------------------------ which result ejects

const rows: Array<[string, Partial<OutlierPolicy>, OutlierResult[], number, string | null]> = [
  ['500s eject exactly at the 5th', {}, times(S(500), 6), 5, 'consecutive_5xx'],
  ['4 errors are not enough', {}, times(S(500), 4), 0, null],
  ['a success resets the streak', {}, [...times(S(500), 4), S(200), ...times(S(500), 4)], 0, null],
  ['... and the 5th after it ejects', {}, [...times(S(500), 4), S(200), ...times(S(500), 5)], 10, 'consecutive_5xx'],
  ['4xx is a success for outlier detection', {}, [...times(S(500), 4), S(404), ...times(S(500), 4)], 0, null],
  ['consecutive5xxErrors 1', { consecutive5xxErrors: 1 }, [S(503)], 1, 'consecutive_5xx'],
  ['consecutive5xxErrors 0 disables it', { consecutive5xxErrors: 0 }, times(S(500), 50), 0, null],
  // Gateway errors
  ['gateway 3: three 503s', { consecutiveGatewayErrors: 3 }, times(S(503), 3), 3, 'consecutive_gateway_failure'],
  ['gateway 3: 502, 504, 503 mix', { consecutiveGatewayErrors: 3 }, [S(502), S(504), S(503)], 3, 'consecutive_gateway_failure'],
  ['gateway 3: a 500 breaks the gateway streak', { consecutiveGatewayErrors: 3 }, [S(503), S(503), S(500), S(503), S(503)], 5, 'consecutive_5xx'],
  ['gateway unset (0): 503s only count as 5xx', {}, times(S(503), 5), 5, 'consecutive_5xx'],
  ['equal thresholds report the gateway reason', { consecutiveGatewayErrors: 5 }, times(S(503), 5), 5, 'consecutive_gateway_failure'],
  ['gateway >= 5xx threshold has no effect', { consecutiveGatewayErrors: 7 }, times(S(503), 7), 5, 'consecutive_5xx'],
  // Local-origin failures, not split: mapped to 503 (connect, reset) and 504 (timeout)
  ['not split: connect failures count as 5xx', {}, [S(500), S(500), S(500), L('connect'), L('connect')], 5, 'consecutive_5xx'],
  ['not split: connect failures are gateway errors', { consecutiveGatewayErrors: 2 }, [L('connect'), L('reset')], 2, 'consecutive_gateway_failure'],
  ['not split: timeouts are gateway errors (504)', { consecutiveGatewayErrors: 2 }, [L('timeout'), L('timeout')], 2, 'consecutive_gateway_failure'],
  ['not split: connected is ignored', {}, [S(500), S(500), CONNECTED, S(500), S(500), S(500)], 6, 'consecutive_5xx'],
  // Split
  ['split: 2 local failures eject', { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2 }, [L('connect'), L('timeout')], 2, 'consecutive_local_origin_failure'],
  ['split: local failures do not touch the 5xx streak', { splitExternalLocalOriginErrors: true }, [S(500), S(500), L('connect'), S(500), S(500), S(500)], 6, 'consecutive_5xx'],
  ['split: a connection success resets the local streak', { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2 }, [L('connect'), CONNECTED, L('connect')], 0, null],
  ['split: a response resets the local streak', { splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2 }, [L('reset'), S(500), L('reset')], 0, null],
  ['split: gateway errors come from responses only', { splitExternalLocalOriginErrors: true, consecutiveGatewayErrors: 2, consecutiveLocalOriginFailures: 9 }, [L('connect'), L('connect'), S(502), S(503)], 4, 'consecutive_gateway_failure'],
  // outlierDetectionHttpErrorCodes
  ['error codes [404]: 404s eject', { httpErrorCodes: [404] }, times(S(404), 5), 5, 'consecutive_5xx'],
  ['error codes [404]: 500s are successes', { httpErrorCodes: [404] }, times(S(500), 20), 0, null],
  ['error codes [503]: 503 still counts as a gateway error', { httpErrorCodes: [503], consecutiveGatewayErrors: 2 }, times(S(503), 2), 2, 'consecutive_gateway_failure'],
  ['error codes [429, 500]: mixed', { httpErrorCodes: [429, 500] }, [S(429), S(500), S(429), S(500), S(429)], 5, 'consecutive_5xx'],
  ['error codes do not change local-origin mapping', { httpErrorCodes: [404] }, times(L('connect'), 5), 5, 'consecutive_5xx'],
  // gRPC
  ['grpc UNAVAILABLE in a 200 counts as 503', { consecutiveGatewayErrors: 2 }, [S(200, 14), S(200, 14)], 2, 'consecutive_gateway_failure'],
  ['grpc OK is a success', {}, [...times(S(500), 4), S(200, 0), ...times(S(500), 4)], 0, null],
];

for (const [name, p, results, want, reason] of rows) {
  test(`onResult: ${name}`, () => {
    const { d, h } = setup(p);
    const { ejectedAt, events } = feed(d, h, results);
    assert.equal(ejectedAt, want);
    assert.equal(h.ejected, want > 0);
    assert.equal(h.healthy, want === 0);
    const ej = events.find((e) => e.action === 'eject');
    assert.equal(ej?.reason ?? null, reason);
    assert.equal(h.ejectionReason, reason);
  });
}

// ------------------------------------------------------------------ ejection time and return

test('ejection: until = now + base; back at the first tick after it, not before', () => {
  const { d, hosts, h } = setup();
  const { events } = feed(d, h, times(S(500), 5), 1_000);
  assert.deepEqual(events, [{ action: 'eject', host: h, reason: 'consecutive_5xx', at: 1_000, until: 31_000, ejectionCount: 1, multiplier: 1 }]);
  assert.equal(h.ejectedUntil, 31_000);
  assert.deepEqual(d.tick(hosts, 30_999), []);
  assert.equal(h.ejected, true);
  const back = d.tick(hosts, 31_000);
  assert.deepEqual(back, [{ action: 'uneject', host: h, reason: 'consecutive_5xx', at: 31_000 }]);
  assert.equal(h.healthy, true);
  assert.equal(h.ejectedUntil, null);
  assert.equal(h.ejectionReason, null);
});

test('ejection time grows with each ejection: base x 1, x 2, x 3', () => {
  const { d, hosts, h } = setup();
  const got: number[] = [];
  let now = 0;
  for (let round = 0; round < 3; round++) {
    const { events } = feed(d, h, times(S(500), 5), now);
    const ev = events[0];
    assert.equal(ev.action, 'eject');
    if (ev.action === 'eject') got.push(ev.until - ev.at);
    // Sweep every 10 s until it is back, then fail again right away.
    while (h.ejected) {
      now += 10_000;
      d.tick(hosts, now);
    }
  }
  assert.deepEqual(got, [30_000, 60_000, 90_000]);
  assert.equal(h.ejectionCount, 3);
});

test('the multiplier decays by one per interval spent healthy, starting one interval after return', () => {
  const { d, hosts, h } = setup();
  feed(d, h, times(S(500), 5), 0); // x1, until 30 s
  d.tick(hosts, 30_000); // back
  feed(d, h, times(S(500), 5), 30_000); // x2, until 90 s
  assert.equal(h.ejectionTimeMultiplier, 2);
  d.tick(hosts, 90_000); // back at 90 s
  assert.equal(h.ejectionTimeMultiplier, 2, 'no decay at the tick that returns it');
  d.tick(hosts, 95_000);
  assert.equal(h.ejectionTimeMultiplier, 2, 'less than one interval since return');
  d.tick(hosts, 100_000);
  assert.equal(h.ejectionTimeMultiplier, 1);
  d.tick(hosts, 110_000);
  assert.equal(h.ejectionTimeMultiplier, 0);
  d.tick(hosts, 120_000);
  assert.equal(h.ejectionTimeMultiplier, 0, 'never below zero');
  const { events } = feed(d, h, times(S(500), 5), 120_000);
  assert.equal(events[0].action === 'eject' && events[0].until, 150_000, 'back to base after full decay');
});

test('ejection time is capped at max(300 s, base); the multiplier stops at max/base + 1', () => {
  const { d, hosts, h } = setup({ baseEjectionTimeMs: 100_000 });
  const got: Array<[number, number]> = [];
  let now = 0;
  for (let round = 0; round < 6; round++) {
    const [ev] = feed(d, h, times(S(500), 5), now).events;
    if (ev.action === 'eject') got.push([ev.until - ev.at, ev.multiplier]);
    while (h.ejected) {
      now += 10_000;
      d.tick(hosts, now);
    }
  }
  assert.deepEqual(got, [
    [100_000, 1],
    [200_000, 2],
    [300_000, 3],
    [300_000, 4],
    [300_000, 4],
    [300_000, 4],
  ]);
});

test('a base above 300 s is its own cap', () => {
  const { d, h } = setup({ baseEjectionTimeMs: 600_000 });
  const [ev] = feed(d, h, times(S(500), 5)).events;
  assert.equal(ev.action === 'eject' && ev.until, 600_000);
});

// ------------------------------------------------------------------ max ejection percent

const pctRows: Array<[string, number, number, boolean, number, number]> = [
  // name, hosts, maxEjectionPercent, alwaysEjectOneHost, hosts made to fail, expected ejected
  ['3 hosts, 10 % (Istio default): nothing is ejected (Envoy >= 1.28)', 3, 10, false, 1, 0],
  ['3 hosts, 10 %, always_eject_one_host: one', 3, 10, true, 3, 1],
  ['10 hosts, 10 %: one', 10, 10, false, 3, 1],
  ['20 hosts, 10 %: two', 20, 10, false, 5, 2],
  ['3 hosts, 50 %: one (two would be 67 %)', 3, 50, false, 3, 1],
  ['3 hosts, 67 %: two (three would be 100 %)', 3, 67, false, 3, 2],
  ['3 hosts, 100 %: all three', 3, 100, false, 3, 3],
  ['1 host, 100 %: the only host', 1, 100, false, 1, 1],
  ['1 host, 99 %: none', 1, 99, false, 1, 0],
];
for (const [name, n, pct, always, failing, want] of pctRows) {
  test(`maxEjectionPercent: ${name}`, () => {
    const { d, hosts } = setup({ maxEjectionPercent: pct }, n, { alwaysEjectOneHost: always });
    for (let i = 0; i < failing; i++) feed(d, hosts[i], times(S(500), 5));
    assert.equal(d.ejectionsActive(), want);
    assert.equal(d.stats.ejections_overflow, failing - want);
    assert.equal(d.stats.ejections_enforced_total, want);
    assert.equal(d.stats.ejections_detected_consecutive_5xx, failing);
  });
}

test('an overflowed detection restarts the streak (another 5 errors before the next try)', () => {
  const { d, h } = setup({ maxEjectionPercent: 10 }, 3);
  const first = feed(d, h, times(S(500), 5)).events;
  assert.deepEqual(first.map((e) => e.action), ['overflow']);
  assert.equal(h.consecutive5xx, 0);
  assert.equal(feed(d, h, times(S(500), 4)).events.length, 0);
  assert.deepEqual(feed(d, h, [S(500)]).events.map((e) => e.action), ['overflow']);
});

// ------------------------------------------------------------------ state and membership

test('an ejected host is not ejected again; its streaks restart when it returns', () => {
  const { d, hosts, h } = setup();
  feed(d, h, times(S(500), 5), 0);
  assert.equal(feed(d, h, times(S(500), 7), 1).events.length, 0, 'panic-routed errors while ejected');
  assert.equal(h.ejectionCount, 1);
  d.tick(hosts, 30_000);
  assert.deepEqual([h.consecutive5xx, h.consecutiveGatewayFailure, h.consecutiveLocalOriginFailure], [0, 0, 0]);
  assert.equal(feed(d, h, times(S(500), 4), 30_001).ejectedAt, 0);
});

test('a host outside the current host list is never ejected', () => {
  const { d } = setup();
  const stranger = mkHosts(1)[0];
  assert.equal(feed(d, stranger, times(S(500), 10)).ejectedAt, 0);
  assert.equal(stranger.healthy, true);
});

test('setPolicy keeps ejections, streaks and multipliers (reload)', () => {
  const { d, hosts, h } = setup();
  const [other] = hosts.slice(1);
  feed(d, h, times(S(500), 5), 0);
  feed(d, other, times(S(500), 3), 0);
  d.setPolicy(policy({ baseEjectionTimeMs: 60_000 }));
  assert.equal(h.ejected, true);
  assert.equal(h.ejectedUntil, 60_000, 'end time follows the new base');
  assert.equal(d.tick(hosts, 30_000).length, 0);
  assert.equal(feed(d, other, times(S(500), 2), 1).ejectedAt, 2, 'streak of 3 carried over');
  assert.deepEqual(d.tick(hosts, 60_000).map((e) => e.action), ['uneject']);
  assert.equal(d.stats.ejections_enforced_total, 2, 'stats survive too');
});

test('setPolicy lowering a threshold below a running streak ejects at the next error', () => {
  const { d, h } = setup({ consecutive5xxErrors: 10 });
  feed(d, h, times(S(500), 7));
  d.setPolicy(policy({ consecutive5xxErrors: 5 }));
  assert.equal(feed(d, h, [S(500)]).ejectedAt, 1);
});

test('releaseAll returns every ejected host', () => {
  const { d, hosts } = setup();
  feed(d, hosts[0], times(S(500), 5));
  feed(d, hosts[2], times(S(500), 5));
  const ev = d.releaseAll(5);
  assert.deepEqual(ev.map((e) => [e.action, hosts.indexOf(e.host)]), [
    ['uneject', 0],
    ['uneject', 2],
  ]);
  assert.ok(hosts.every((x) => x.healthy && !x.ejected));
});

test('enforced and detected stats by reason', () => {
  const { d, hosts } = setup({ consecutiveGatewayErrors: 2, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 1 });
  feed(d, hosts[0], times(S(503), 2));
  feed(d, hosts[1], times(S(500), 5));
  feed(d, hosts[2], [L('connect')]);
  assert.deepEqual(
    [d.stats.ejections_enforced_consecutive_gateway_failure, d.stats.ejections_enforced_consecutive_5xx, d.stats.ejections_enforced_consecutive_local_origin_failure],
    [1, 1, 1],
  );
  assert.equal(d.ejectionsActive(), 3);
});

// ------------------------------------------------------------------ helpers

test('countedStatus and grpcToHttpStatus', () => {
  const rows: Array<[{ code: number; grpcStatus?: number | null }, number[], number]> = [
    [{ code: 500 }, [], 500],
    [{ code: 200, grpcStatus: 14 }, [], 503],
    [{ code: 200, grpcStatus: 4 }, [], 504],
    [{ code: 200, grpcStatus: 1 }, [], 499],
    [{ code: 200, grpcStatus: 99 }, [], 500],
    [{ code: 404 }, [404], 500],
    [{ code: 503 }, [503], 503],
    [{ code: 503 }, [404], 200],
  ];
  for (const [r, codes, want] of rows) assert.equal(countedStatus(r, codes), want, JSON.stringify([r, codes]));
  assert.deepEqual([0, 3, 5, 7, 8, 12, 13, 16].map(grpcToHttpStatus), [200, 400, 404, 403, 429, 501, 500, 401]);
});
