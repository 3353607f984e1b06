/**
 * Retries through the proxy against upstreams that fail on cue: Istio's default policy,
 * `retryOn` tokens with Envoy's meanings, attempts, URX, back-off timing (base and the 10x
 * cap), the previous-hosts predicate, per-try timeouts, the replay buffer for bodies, and the
 * `maxRetries` circuit breaker.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { compile, request, seeded, startProxy, type RunningProxy, type Upstream } from '../support/mesh.js';
import { answer, clusterOf, deadPort, dr, fresh, scripted, service, sidecar, vs, type Script } from './resilience-kit.js';
import { Flag } from '../../src/observability/flags.js';
import type { StreamInfo } from '../../src/dataplane/http/stream-info.js';

const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function setup(yaml: string, rnd?: () => number): Promise<RunningProxy> {
  const p = await startProxy(compile(yaml, sidecar), { rnd });
  cleanup.push(() => p.close());
  return p;
}

async function upstream(name: string, script: Script): Promise<Upstream> {
  const u = await scripted(name, script);
  cleanup.push(() => u.close());
  return u;
}

const last = (p: RunningProxy): StreamInfo => p.completed[p.completed.length - 1];

test('503 then 200 under retryOn 5xx: 2 upstream requests, x-envoy-attempt-count 1 and 2, the client sees 200', { timeout: 20_000 }, async () => {
  const u = await upstream('svc', (_r, res, n) => answer(res, n === 1 ? 503 : 200, `n=${n}`));
  const p = await setup(service('svc', [{ port: u.port }]) + vs('svc', 'retries: {attempts: 2, retryOn: 5xx}'));
  const r = await request(p.port, 'svc', '/x');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'n=2');
  assert.deepEqual(u.seen.map((s) => s.headers['x-envoy-attempt-count']), ['1', '2']);
  assert.equal(last(p).attempts, 2);
  assert.equal(last(p).flags, 0);
  const st = p.proxy.clusters.get(clusterOf('svc'))!.shared.stats;
  assert.deepEqual([st.upstreamRqTotal, st.upstreamRqRetry, st.upstreamRqRetrySuccess, st.upstreamRqRetryLimitExceeded], [2, 1, 1, 0]);
});

test('a dead endpoint among live ones loses zero requests under the default policy (connect-failure retried on another host)', { timeout: 20_000 }, async () => {
  const a = await upstream('a', (_r, res) => answer(res, 200, 'a'));
  const b = await upstream('b', (_r, res) => answer(res, 200, 'b'));
  const dead = await deadPort();
  const p = await setup(service('svc', [{ port: a.port }, { port: dead }, { port: b.port }]));
  const n = 60;
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await request(p.port, 'svc', `/${i}`)).status);
  assert.deepEqual(statuses.filter((s) => s !== 200), [], 'requests lost');
  assert.equal(a.seen.length + b.seen.length, n);
  const retried = p.completed.filter((i) => i.attempts === 2);
  assert.ok(retried.length > 0, 'the dead endpoint was never picked');
  assert.ok(retried.every((i) => i.responseCode === 200 && i.upstreamHost !== `127.0.0.1:${dead}`), 'a retry went back to the dead endpoint');
});

test('Istio default policy does not retry a 503 response; attempts: 0 disables retries entirely', { timeout: 20_000 }, async () => {
  for (const [rule, seen] of [['', 1], ['retries: {attempts: 0}', 1], ['retries: {attempts: 1, retryOn: "503"}', 2]] as const) {
    const u = await upstream('svc', (_r, res, n) => answer(res, n === 1 ? 503 : 200));
    const p = await setup(service('svc', [{ port: u.port }]) + vs('svc', rule));
    const r = await request(p.port, 'svc', '/');
    assert.equal(u.seen.length, seen, `rule "${rule}"`);
    assert.equal(r.status, seen === 1 ? 503 : 200, `rule "${rule}"`);
  }
});

interface Row {
  retryOn: string;
  /** What the first attempt gets. */
  first: Script;
  /** Upstream requests expected, and the final status. */
  attempts: number;
  status: number;
}

const fail = (status: number, headers: Record<string, string> = {}): Script => (_r, res, n) => (n === 1 ? answer(res, status, '', 0, headers) : answer(res, 200, 'ok'));
const reset: Script = (_r, res, n) => (n === 1 ? res.socket?.destroy() : answer(res, 200, 'ok'));
const grpcHeadersOnly = (code: number): Script => (_r, res, n) => (n === 1 ? answer(res, 200, '', 0, { 'content-type': 'application/grpc', 'grpc-status': String(code) }) : answer(res, 200, 'ok'));

const ROWS: Array<[string, Row]> = [
  ['5xx retries a 500', { retryOn: '5xx', first: fail(500), attempts: 2, status: 200 }],
  ['5xx retries a reset', { retryOn: '5xx', first: reset, attempts: 2, status: 200 }],
  ['gateway-error retries 502', { retryOn: 'gateway-error', first: fail(502), attempts: 2, status: 200 }],
  ['gateway-error retries 504', { retryOn: 'gateway-error', first: fail(504), attempts: 2, status: 200 }],
  ['gateway-error does not retry 500', { retryOn: 'gateway-error', first: fail(500), attempts: 1, status: 500 }],
  ['reset retries a reset', { retryOn: 'reset', first: reset, attempts: 2, status: 200 }],
  ['reset does not retry a 503', { retryOn: 'reset', first: fail(503), attempts: 1, status: 503 }],
  ['connect-failure does not retry a reset after connecting', { retryOn: 'connect-failure', first: reset, attempts: 1, status: 503 }],
  ['retriable-4xx retries 409', { retryOn: 'retriable-4xx', first: fail(409), attempts: 2, status: 200 }],
  ['retriable-4xx does not retry 404', { retryOn: 'retriable-4xx', first: fail(404), attempts: 1, status: 404 }],
  ['a numeric code alone retries that code', { retryOn: '429', first: fail(429), attempts: 2, status: 200 }],
  ['retriable-status-codes with codes retries them', { retryOn: 'retriable-status-codes,418,503', first: fail(418), attempts: 2, status: 200 }],
  ['numeric codes do not retry other codes', { retryOn: '418', first: fail(500), attempts: 1, status: 500 }],
  ['x-envoy-ratelimited is not retried under 5xx', { retryOn: '5xx', first: fail(503, { 'x-envoy-ratelimited': 'true' }), attempts: 1, status: 503 }],
  ['envoy-ratelimited retries it', { retryOn: 'envoy-ratelimited', first: fail(429, { 'x-envoy-ratelimited': 'true' }), attempts: 2, status: 200 }],
  ['gRPC unavailable (headers-only status 14) is retried', { retryOn: 'unavailable', first: grpcHeadersOnly(14), attempts: 2, status: 200 }],
  ['gRPC cancelled (1) is retried', { retryOn: 'cancelled', first: grpcHeadersOnly(1), attempts: 2, status: 200 }],
  ['gRPC deadline-exceeded (4) is retried', { retryOn: 'deadline-exceeded', first: grpcHeadersOnly(4), attempts: 2, status: 200 }],
  ['gRPC resource-exhausted (8) is retried', { retryOn: 'resource-exhausted', first: grpcHeadersOnly(8), attempts: 2, status: 200 }],
  ['gRPC internal (13) is retried', { retryOn: 'internal', first: grpcHeadersOnly(13), attempts: 2, status: 200 }],
  ['gRPC unavailable does not retry internal (13)', { retryOn: 'unavailable', first: grpcHeadersOnly(13), attempts: 1, status: 200 }],
];

test('retryOn tokens with Envoy meanings', { timeout: 30_000 }, async (t) => {
  for (const [name, row] of ROWS) {
    await t.test(name, async () => {
      const u = await upstream('svc', row.first);
      const p = await setup(service('svc', [{ port: u.port }]) + vs('svc', `retries: {attempts: 3, retryOn: "${row.retryOn}"}`));
      const r = await fresh(p.port, 'svc', '/');
      assert.equal(r.status, row.status);
      assert.equal(u.seen.length, row.attempts);
    });
  }
});

test('retries exhausted: the last response goes out with URX; a reset gets 503 UF/UC + URX', { timeout: 20_000 }, async () => {
  const u = await upstream('svc', (_r, res) => answer(res, 503, 'busy'));
  const dead = await deadPort();
  const p = await setup(service('svc', [{ port: u.port }]) + service('gone', [{ port: dead }]) + vs('svc', 'retries: {attempts: 2, retryOn: 5xx}') + vs('gone', 'retries: {attempts: 2, retryOn: connect-failure}'));
  const r = await request(p.port, 'svc', '/');
  assert.equal(r.status, 503);
  assert.equal(r.body, 'busy');
  assert.equal(u.seen.length, 3);
  assert.equal(last(p).flags, Flag.URX);
  assert.equal(p.proxy.clusters.get(clusterOf('svc'))!.shared.stats.upstreamRqRetryLimitExceeded, 1);
  const g = await request(p.port, 'gone', '/');
  assert.equal(g.status, 503);
  assert.match(g.body, /reset reason: connection failure/);
  assert.equal(last(p).attempts, 3);
  assert.equal(last(p).flags, Flag.UF | Flag.URX);
});

test('back-off is fully jittered exponential: base 25 ms (or `backoff`), interval doubling, capped at 10x base', { timeout: 20_000 }, async () => {
  // rnd() = 0.99 puts every delay at the top of its range: 0.99 x min(2^(n-1) x base, 10 x base).
  const arrivals: number[] = [];
  const u = await upstream('svc', (_r, res) => {
    arrivals.push(performance.now());
    answer(res, 503);
  });
  const p = await setup(service('svc', [{ port: u.port }]) + vs('svc', 'retries: {attempts: 5, retryOn: 5xx}'), () => 0.99);
  await request(p.port, 'svc', '/');
  const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]);
  const expected = [24, 49, 99, 198, 247];
  assert.equal(gaps.length, expected.length);
  gaps.forEach((g, i) => assert.ok(g >= expected[i] - 2 && g < expected[i] + 120, `gap ${i + 1}: ${g.toFixed(0)} ms, expected ~${expected[i]}`));

  // `backoff: 10ms` sets the base, and the cap follows it (10 x 10 ms), not Envoy's 250 ms default.
  arrivals.length = 0;
  const q = await setup(service('v', [{ port: u.port }]) + vs('v', 'retries: {attempts: 6, retryOn: 5xx, backoff: 10ms}'), () => 0.99);
  await request(q.port, 'v', '/');
  const gaps10 = arrivals.slice(1).map((t, i) => t - arrivals[i]);
  const expected10 = [9, 19, 39, 79, 99, 99];
  assert.equal(gaps10.length, expected10.length);
  gaps10.forEach((g, i) => assert.ok(g >= expected10[i] - 2 && g < expected10[i] + 100, `backoff 10ms, gap ${i + 1}: ${g.toFixed(0)} ms, expected ~${expected10[i]}`));
});

test('retryIgnorePreviousHosts: on (default) a retry goes to another host; off, a random pick may repeat the failing one', { timeout: 20_000 }, async () => {
  const bad = await upstream('bad', (_r, res) => answer(res, 503));
  const good = await upstream('good', (_r, res) => answer(res, 200));
  const base = service('svc', [{ port: bad.port }, { port: good.port }]) + dr('svc', 'loadBalancer: {simple: RANDOM}');
  const on = await setup(base + vs('svc', 'retries: {attempts: 1, retryOn: 5xx}'), seeded(7));
  let failed = 0;
  for (let i = 0; i < 40; i++) if ((await request(on.port, 'svc', '/')).status !== 200) failed++;
  assert.equal(failed, 0);
  const off = await setup(base + vs('svc', 'retries: {attempts: 1, retryOn: 5xx, retryIgnorePreviousHosts: false}'), seeded(7));
  failed = 0;
  for (let i = 0; i < 40; i++) if ((await request(off.port, 'svc', '/')).status !== 200) failed++;
  assert.ok(failed > 0, 'without the predicate some retries should land on the failing host again');
});

test('perTryTimeout: a slow first attempt is cut and retried (UT only when the retries run out)', { timeout: 20_000 }, async () => {
  const u = await upstream('svc', (_r, res, n) => answer(res, 200, `n=${n}`, n === 1 ? 2000 : 0));
  const p = await setup(service('svc', [{ port: u.port }]) + vs('svc', 'retries: {attempts: 2, perTryTimeout: 200ms, retryOn: 5xx}'));
  const r = await fresh(p.port, 'svc', '/');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'n=2');
  assert.ok(r.ms < 1000, `took ${r.ms} ms`);
  assert.equal(u.seen[0].headers['x-envoy-expected-rq-timeout-ms'], '200');
  assert.equal(p.proxy.clusters.get(clusterOf('svc'))!.shared.stats.upstreamRqPerTryTimeout, 1);

  const slow = await upstream('slow', (_r, res) => answer(res, 200, '', 2000));
  const q = await setup(service('slow', [{ port: slow.port }]) + vs('slow', 'retries: {attempts: 1, perTryTimeout: 150ms, retryOn: 5xx}'));
  const s = await fresh(q.port, 'slow', '/');
  assert.equal(s.status, 504);
  assert.equal(s.body, 'upstream request timeout');
  assert.equal(slow.seen.length, 2);
  assert.equal(last(q).flags, Flag.UT | Flag.URX);
  assert.equal(last(q).details, 'upstream_per_try_timeout');
});

test('request bodies are replayed up to the 64 KiB buffer; a larger body is not retried', { timeout: 20_000 }, async () => {
  const u = await upstream('svc', (r, res) => answer(res, r.headers['x-envoy-attempt-count'] === '1' ? 503 : 200, String(r.body.length)));
  const p = await setup(service('svc', [{ port: u.port }]) + vs('svc', 'retries: {attempts: 2, retryOn: 5xx}'));
  const small = 'x'.repeat(1024);
  const r = await fresh(p.port, 'svc', '/', { 'content-type': 'text/plain' }, { method: 'POST', body: small });
  assert.equal(r.status, 200);
  assert.deepEqual(u.seen.map((s) => s.body.length), [1024, 1024]);
  u.seen.length = 0;
  const big = 'y'.repeat(100 * 1024);
  const b = await fresh(p.port, 'svc', '/', { 'content-type': 'text/plain' }, { method: 'POST', body: big });
  assert.equal(b.status, 503);
  assert.deepEqual(u.seen.map((s) => s.body.length), [100 * 1024]);
});

test('maxRetries (retry circuit breaker): at the limit the retry is not made, the response goes out with UO', { timeout: 20_000 }, async () => {
  // First attempts fail together after 100 ms; a retry takes 400 ms, so one retry holds the only slot.
  const u = await upstream('svc', (r, res) => (r.headers['x-envoy-attempt-count'] === '1' ? answer(res, 503, 'first', 100) : answer(res, 200, 'retried', 400)));
  const p = await setup(service('svc', [{ port: u.port }]) + dr('svc', 'connectionPool: {http: {maxRetries: 1}}') + vs('svc', 'retries: {attempts: 3, retryOn: 5xx}'));
  const rs = await Promise.all([0, 1, 2].map(() => fresh(p.port, 'svc', '/')));
  assert.deepEqual(rs.map((r) => r.status).sort(), [200, 503, 503]);
  const overflowed = p.completed.filter((i) => i.responseCode === 503);
  assert.equal(overflowed.length, 2);
  for (const i of overflowed) assert.equal(i.flags, Flag.UO);
  assert.ok(rs.filter((r) => r.status === 503).every((r) => r.body === 'first' && r.headers['x-envoy-overloaded'] === undefined));
  const st = p.proxy.clusters.get(clusterOf('svc'))!.shared.stats;
  assert.equal(st.upstreamRqRetryOverflow, 2);
  assert.equal(p.proxy.clusters.get(clusterOf('svc'))!.breakers.activeRetries, 0, 'the retry slot is released');
});
