import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshMetrics, ENVOY_DEFAULT_BUCKETS } from './metrics.js';
import {
  EdgeRateTracker,
  edgeCounters,
  edgeFamiliesFromSnapshot,
  edgeStats,
  histogramQuantile,
  isErrorSeries,
  readEdgeFamilies,
  type EdgeCounters,
  type EdgeSample,
} from './edges.js';

const REVIEWS_V2 = { service: 'reviews.default.svc.cluster.local', workload: 'reviews-v2', workloadNamespace: 'default', app: 'reviews', version: 'v2' };
const REVIEWS_V1 = { ...REVIEWS_V2, workload: 'reviews-v1', version: 'v1' };
const NO_ENDPOINT = { service: 'ratings.default.svc.cluster.local' };

function productpage(): MeshMetrics {
  return new MeshMetrics({ source: { namespace: 'default', labels: { app: 'productpage', version: 'v1' } } });
}

test('histogramQuantile interpolates inside the bucket like Prometheus histogram_quantile', () => {
  const bounds = [10, 20, 40];
  // 100 observations: 50 in (0,10], 40 in (10,20], 10 in (20,40], none above.
  assert.equal(histogramQuantile(0.5, bounds, [50, 40, 10, 0]), 10);
  assert.equal(histogramQuantile(0.25, bounds, [50, 40, 10, 0]), 5);
  assert.equal(histogramQuantile(0.7, bounds, [50, 40, 10, 0]), 15);
  assert.equal(histogramQuantile(0.99, bounds, [50, 40, 10, 0]), 38);
  // In the +Inf bucket: the highest finite bound.
  assert.equal(histogramQuantile(0.99, bounds, [0, 0, 0, 5]), 40);
  assert.equal(histogramQuantile(0.99, bounds, [0, 0, 0, 0]), null);
  assert.throws(() => histogramQuantile(1.5, bounds, [1, 0, 0, 0]), /within 0\.\.1/);
});

test('isErrorSeries: 5xx, no response (0) and non-OK gRPC statuses are errors; 4xx are not', () => {
  assert.equal(isErrorSeries({ response_code: '503', request_protocol: 'http' }), true);
  assert.equal(isErrorSeries({ response_code: '0', request_protocol: 'http' }), true);
  assert.equal(isErrorSeries({ response_code: '404', request_protocol: 'http' }), false);
  assert.equal(isErrorSeries({ response_code: '200', request_protocol: 'http' }), false);
  assert.equal(isErrorSeries({ response_code: '200', request_protocol: 'grpc', grpc_response_status: '14' }), true);
  assert.equal(isErrorSeries({ response_code: '200', request_protocol: 'grpc', grpc_response_status: '0' }), false);
});

test('edgeCounters groups MeshMetrics series by source and destination workload, summing codes', () => {
  const m = productpage();
  for (let i = 0; i < 8; i++) m.recordRequest({ destination: REVIEWS_V2, responseCode: 200, durationMs: 3 });
  m.recordRequest({ destination: REVIEWS_V2, responseCode: 503, durationMs: 700 });
  m.recordRequest({ destination: REVIEWS_V2, responseCode: 404, durationMs: 1 });
  m.recordRequest({ destination: REVIEWS_V1, responseCode: 200, durationMs: 20 });
  m.recordRequest({ destination: NO_ENDPOINT, responseCode: 503, flags: 0 });
  const edges = edgeCounters(readEdgeFamilies(m));
  const byKey = new Map(edges.map((e) => [e.key, e]));
  assert.deepEqual([...byKey.keys()].sort(), [
    'default/productpage-v1 -> default/reviews-v1',
    'default/productpage-v1 -> default/reviews-v2',
    'default/productpage-v1 -> svc:ratings.default.svc.cluster.local',
  ]);
  const v2 = byKey.get('default/productpage-v1 -> default/reviews-v2') as EdgeCounters;
  assert.equal(v2.requests, 10);
  assert.equal(v2.errors, 1);
  assert.deepEqual(v2.services, ['reviews.default.svc.cluster.local']);
  assert.equal(v2.source.app, 'productpage');
  assert.equal(v2.destination.version, 'v2');
  assert.deepEqual(v2.bounds, [...ENVOY_DEFAULT_BUCKETS]);
  assert.equal(v2.durationCounts.reduce((a, b) => a + b, 0), 10);
  const svc = byKey.get('default/productpage-v1 -> svc:ratings.default.svc.cluster.local') as EdgeCounters;
  assert.equal(svc.destination.service, 'ratings.default.svc.cluster.local');
  assert.equal(svc.errors, 1);
  assert.equal(svc.durationCounts.length, 0, 'no duration recorded: no histogram data');
});

test('edge families from worker snapshots add up per edge', async () => {
  const a = productpage();
  const b = productpage();
  a.recordRequest({ destination: REVIEWS_V2, responseCode: 200, durationMs: 2 });
  b.recordRequest({ destination: REVIEWS_V2, responseCode: 200, durationMs: 2 });
  b.recordRequest({ destination: REVIEWS_V2, responseCode: 500, durationMs: 2 });
  const fams = [...edgeFamiliesFromSnapshot(await a.snapshotForAggregation()), ...edgeFamiliesFromSnapshot(await b.snapshotForAggregation())];
  assert.deepEqual(fams.map((f) => f.name).sort(), ['istio_request_duration_milliseconds', 'istio_request_duration_milliseconds', 'istio_requests_total', 'istio_requests_total']);
  const [e] = edgeCounters(fams);
  assert.equal(e.requests, 3);
  assert.equal(e.errors, 1);
  assert.deepEqual(edgeFamiliesFromSnapshot({ not: 'a snapshot' }), []);
  assert.deepEqual(edgeFamiliesFromSnapshot(null), []);
});

function counters(requests: number, errors: number, counts: number[]): EdgeCounters {
  const node = (w: string) => ({ id: `default/${w}`, workload: w, namespace: 'default', app: w, version: 'v1', service: null });
  return { key: 'a -> b', source: node('a'), destination: node('b'), services: ['b.default.svc.cluster.local'], requests, errors, bounds: [10, 100], durationCounts: counts };
}
const sample = (atMs: number, c: EdgeCounters): EdgeSample => ({ atMs, edges: new Map([[c.key, c]]) });

test('edgeStats: rate, error ratio and p99 come from the deltas between two samples', () => {
  const base = sample(1000, counters(100, 10, [90, 10, 0]));
  const cur = sample(3000, counters(140, 12, [120, 18, 2]));
  const [s] = edgeStats(base, cur);
  assert.equal(s.rps, 20); // 40 requests in 2 s
  assert.equal(s.errorRate, 2 / 40);
  assert.equal(s.windowMs, 2000);
  // Window histogram: 30 in (0,10], 8 in (10,100], 2 above: p99 is in +Inf => 100.
  assert.equal(s.p99Ms, 100);
  assert.equal(s.requests, 140, 'totals stay cumulative');
  // Without a base there is no rate yet.
  const [first] = edgeStats(null, cur);
  assert.equal(first.rps, null);
  assert.equal(first.p99Ms, null);
});

test('edgeStats: an edge new since the base counts in full; a counter that went down restarted', () => {
  const empty: EdgeSample = { atMs: 0, edges: new Map() };
  const [fresh] = edgeStats(empty, sample(1000, counters(5, 0, [5, 0, 0])));
  assert.equal(fresh.rps, 5);
  assert.equal(fresh.errorRate, 0);
  assert.equal(fresh.p99Ms, histogramQuantile(0.99, [10, 100], [5, 0, 0]));
  const [reset] = edgeStats(sample(0, counters(100, 0, [100, 0, 0])), sample(2000, counters(4, 4, [0, 4, 0])));
  assert.equal(reset.rps, 2);
  assert.equal(reset.errorRate, 1);
  assert.ok(reset.p99Ms !== null && reset.p99Ms > 10 && reset.p99Ms <= 100);
  const [idle] = edgeStats(sample(0, counters(7, 1, [7, 0, 0])), sample(1000, counters(7, 1, [7, 0, 0])));
  assert.equal(idle.rps, 0);
  assert.equal(idle.errorRate, null, 'no request in the window: no error ratio');
  assert.equal(idle.p99Ms, null);
});

test('EdgeRateTracker: rates over the sliding window, bounded history', () => {
  const t = new EdgeRateTracker({ windowMs: 3000, maxSamples: 10 });
  assert.equal(t.add(0, [counters(0, 0, [0, 0, 0])])[0].rps, null);
  assert.equal(t.add(1000, [counters(10, 0, [10, 0, 0])])[0].rps, 10);
  assert.equal(t.add(2000, [counters(30, 0, [30, 0, 0])])[0].rps, 15); // 30 over 2 s
  assert.equal(t.add(3000, [counters(30, 0, [30, 0, 0])])[0].rps, 10); // 30 over 3 s
  // The sample at 0 has left the window: base is 1000.
  assert.equal(t.add(4000, [counters(30, 0, [30, 0, 0])])[0].rps, 20 / 3);
  assert.ok(t.size <= 4);
  for (let i = 5; i < 40; i++) t.add(i * 100 + 4000, [counters(30, 0, [30, 0, 0])]);
  assert.ok(t.size <= 10, `history is capped (${t.size})`);
  // A clock that goes backwards starts over instead of producing negative windows.
  assert.equal(t.add(10, [counters(30, 0, [30, 0, 0])])[0].rps, null);
  t.reset();
  assert.equal(t.size, 0);
  assert.throws(() => new EdgeRateTracker({ windowMs: 0 }), /windowMs/);
});

test('MeshMetrics end to end: two readings of live counters give the request rate', () => {
  const m = productpage();
  const t = new EdgeRateTracker();
  t.add(0, edgeCounters(readEdgeFamilies(m)));
  for (let i = 0; i < 50; i++) m.recordRequest({ destination: REVIEWS_V2, responseCode: i < 5 ? 503 : 200, durationMs: i < 49 ? 4 : 900 });
  const [s] = t.add(2000, edgeCounters(readEdgeFamilies(m)));
  assert.equal(s.rps, 25);
  assert.equal(s.errorRate, 0.1);
  // 49 requests <= 5 ms, one 900 ms: p99 (rank 49.5) lies in the (500, 1000] bucket.
  assert.ok(s.p99Ms !== null && s.p99Ms > 500 && s.p99Ms <= 1000, String(s.p99Ms));
});
