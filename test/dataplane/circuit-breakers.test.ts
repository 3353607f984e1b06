/**
 * Circuit breakers from a DestinationRule `connectionPool`, through a whole `isthmus run`
 * runtime (admin endpoint included): the pending-queue overflow (503 UO with
 * `x-envoy-overloaded: true`, at once), `http2MaxRequests`, the counters on
 * /stats/prometheus and /clusters, and overflow kept out of outlier detection.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Upstream } from '../support/mesh.js';
import { adminGet, configDir, parseProm, promSum, startRuntime, waitFor, type RuntimeHandle } from '../support/harness.js';
import { answer, clusterOf, dr, fresh, latch, scripted, service, vs, type Script } from './resilience-kit.js';
import type { ClusterStatus } from '../../src/admin/server.js';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function upstream(name: string, script: Script): Promise<Upstream> {
  const u = await scripted(name, script);
  cleanup.push(() => u.close());
  return u;
}

async function runtime(yaml: string): Promise<RuntimeHandle> {
  const dir = configDir();
  cleanup.push(() => dir.cleanup());
  dir.write('mesh.yaml', yaml);
  const h = await startRuntime([dir.dir], { accessLog: false });
  cleanup.push(() => h.close());
  return h;
}

async function clusters(h: RuntimeHandle): Promise<ClusterStatus[]> {
  return (JSON.parse((await adminGet(h.adminPort, '/clusters?format=json')).body) as { cluster_statuses: ClusterStatus[] }).cluster_statuses;
}

const SVC = clusterOf('svc');

test('maxConnections 1 + http1MaxPendingRequests 1: of 8 concurrent slow requests 1-2 succeed, the rest get 503 UO at once', { timeout: 30_000 }, async () => {
  // The upstream holds every answer until six overflows are back (10 s at most): that proves
  // an overflow does not wait for the slow requests, and no request can be served on a
  // connection freed early (a fixed delay stops proving either on a busy machine).
  const hold = latch(10_000);
  const u = await upstream('svc', (_r, res) => void hold.wait.then(() => answer(res, 200, 'slow')));
  const h = await runtime(
    service('svc', [{ port: u.port }]) +
      dr('svc', 'connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1}}\noutlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 3m, maxEjectionPercent: 100}'),
  );
  let overflowed = 0;
  const rs = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      fresh(h.port, 'svc', `/${i}`).then((r) => {
        if (r.status === 503 && ++overflowed === 6) hold.open();
        return r;
      }),
    ),
  );
  const ok = rs.filter((r) => r.status === 200);
  const uo = rs.filter((r) => r.status === 503);
  assert.equal(hold.openedBy, 'test', 'six requests overflowed while the admitted ones were held at the upstream');
  // One on the connection; one pending (a request waiting for the connection to be
  // established is pending too, as in Envoy, so the second may overflow instead).
  assert.ok(ok.length >= 1 && ok.length <= 2, `${ok.length} succeeded`);
  assert.equal(ok.length + uo.length, 8);
  for (const r of uo) {
    assert.equal(r.headers['x-envoy-overloaded'], 'true');
    assert.equal(r.body, 'upstream connect error or disconnect/reset before headers. reset reason: overflow');
  }
  assert.equal(u.seen.length, ok.length, 'overflowed requests never reach the upstream');

  const prom = parseProm((await adminGet(h.adminPort, '/stats/prometheus')).body);
  assert.equal(promSum(prom, 'envoy_cluster_upstream_rq_pending_overflow', { cluster_name: SVC }), uo.length);
  assert.equal(promSum(prom, 'envoy_cluster_upstream_rq_total', { cluster_name: SVC }), ok.length);
  assert.equal(promSum(prom, 'istio_requests_total', { response_code: '503', response_flags: 'UO' }), uo.length);
  assert.equal(promSum(prom, 'envoy_cluster_circuit_breakers_default_remaining_pending', { cluster_name: SVC }), 1);
  const c = (await clusters(h)).find((x) => x.name === SVC)!;
  assert.equal(c.breakerStats.upstream_rq_pending_overflow, uo.length);
  assert.equal(c.breakerStats.upstream_rq_active, 0);
  assert.equal(c.breakerStats.upstream_rq_pending_active, 0);
  // consecutive5xxErrors: 1, yet the 503 UO answers did not eject the host: overflow is not the host's fault.
  assert.equal(c.endpoints[0].ejected, false);
  const text = (await adminGet(h.adminPort, '/clusters')).body;
  assert.ok(text.includes(`${SVC}::upstream_rq_pending_overflow::${uo.length}\n`), text);
  assert.ok(text.includes(`${SVC}::default_priority::max_pending_requests::1\n`));
});

test('http2MaxRequests caps requests in flight: the second concurrent one gets UO when its connection is ready', { timeout: 30_000 }, async () => {
  // The first request is held at the upstream until the second is answered (10 s at most),
  // so the second is concurrent however slow the machine is.
  const hold = latch(10_000);
  const u = await upstream('svc', (_r, res) => void hold.wait.then(() => answer(res, 200, 'slow')));
  const h = await runtime(service('svc', [{ port: u.port }]) + dr('svc', 'connectionPool: {http: {http2MaxRequests: 1}}') + vs('svc', 'retries: {attempts: 0}'));
  const first = fresh(h.port, 'svc', '/1');
  await waitFor('the first request to reach the upstream', () => u.seen.length === 1, 10_000);
  const second = await fresh(h.port, 'svc', '/2');
  const answeredWhileHeld = hold.openedBy === null;
  hold.open();
  assert.equal(second.status, 503);
  assert.equal(second.headers['x-envoy-overloaded'], 'true');
  assert.ok(answeredWhileHeld, `the overflow waited for the first request (${second.ms.toFixed(0)} ms)`);
  assert.equal((await first).status, 200);
  assert.equal(u.seen.length, 1);
  const prom = parseProm((await adminGet(h.adminPort, '/stats/prometheus')).body);
  assert.equal(promSum(prom, 'envoy_cluster_upstream_rq_pending_overflow', { cluster_name: SVC }), 1);
});

test('defaults (no connectionPool): 40 concurrent slow requests all succeed', { timeout: 30_000 }, async () => {
  // Answers are held until all 40 requests are at the upstream (10 s at most): all 40 are in
  // flight at once, so each needs a connection of its own. With a fixed delay, a request
  // reaching a busy proxy late reused a connection freed meanwhile (cx_total < 40).
  const hold = latch(10_000);
  const u = await upstream('svc', (_r, res, n) => {
    if (n === 40) hold.open();
    void hold.wait.then(() => answer(res, 200, 'ok'));
  });
  const h = await runtime(service('svc', [{ port: u.port }]));
  const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => fresh(h.port, 'svc', `/${i}`)));
  assert.deepEqual(rs.filter((r) => r.status !== 200), []);
  assert.equal(hold.openedBy, 'test', 'all 40 requests were at the upstream at once');
  const prom = parseProm((await adminGet(h.adminPort, '/stats/prometheus')).body);
  assert.equal(promSum(prom, 'envoy_cluster_upstream_rq_pending_overflow', { cluster_name: SVC }), 0);
  assert.equal(promSum(prom, 'envoy_cluster_upstream_cx_total', { cluster_name: SVC }), 40);
});
