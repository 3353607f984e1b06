import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { MeshMetrics } from './metrics.js';
import { HistogramCell, HistogramFamily, ScalarFamily } from './exposition.js';
import { aggregateSnapshots, mergeCompact, snapshotRegistry } from './aggregation.js';
import { Flag } from './flags.js';

const SOURCE = { namespace: 'default', labels: { app: 'productpage', version: 'v1' } };
const REVIEWS = { service: 'reviews.default.svc.cluster.local', app: 'reviews', version: 'v2' };

/** Sample lines `name{labels} value` -> value, keyed by the exact series text. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

/** Series text with labels sorted, so both merge paths compare equal regardless of label order. */
function normalize(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of samples(text)) {
    const b = k.indexOf('{');
    if (b < 0) {
      out.set(k, v);
      continue;
    }
    const labels = k.slice(b + 1, -1).match(/[a-z_]+="(?:[^"\\]|\\.)*"/g) ?? [];
    out.set(`${k.slice(0, b)}{${labels.sort().join(',')}}`, v);
  }
  return out;
}

async function workers(): Promise<[MeshMetrics, MeshMetrics]> {
  const a = new MeshMetrics({ source: SOURCE });
  const b = new MeshMetrics({ source: SOURCE });
  for (let i = 0; i < 3; i++) a.recordRequest({ destination: REVIEWS, responseCode: 200, durationMs: 3, requestBytes: 10, responseBytes: 100 });
  for (let i = 0; i < 2; i++) b.recordRequest({ destination: REVIEWS, responseCode: 200, durationMs: 30, requestBytes: 20, responseBytes: 200 });
  b.recordRequest({ destination: REVIEWS, responseCode: 503, flags: Flag.UH, durationMs: 0.2 });
  a.recordTcpOpened({ service: 'db.x.svc.cluster.local' });
  b.recordTcpClosed({ service: 'db.x.svc.cluster.local' }, 0, 7, 9);
  const cn = 'outbound|9080|v2|reviews.default.svc.cluster.local';
  a.cluster(cn).upstreamRqTotal = 3;
  b.cluster(cn).upstreamRqTotal = 3;
  a.cluster(cn).outlierEjectionsActive = 1;
  b.cluster(cn).outlierEjectionsActive = 2;
  a.recordConfigReload({ result: 'applied', version: 4, atMs: 1000 });
  b.recordConfigReload({ result: 'applied', version: 4, atMs: 2000 });
  b.recordConfigReload({ result: 'rejected', atMs: 3000 });
  return [a, b];
}

void test('compact snapshots survive JSON (IPC) and merge with each family aggregator', async () => {
  const [a, b] = await workers();
  const ipc = (x: unknown): unknown => JSON.parse(JSON.stringify(x)) as unknown;
  const merged = samples(await MeshMetrics.aggregate([ipc(await a.snapshotForAggregation()), ipc(await b.snapshotForAggregation())]));
  const get = (name: string, ...parts: string[]): number[] =>
    [...merged].filter(([k]) => (k === name || k.startsWith(`${name}{`)) && parts.every((p) => k.includes(p))).map(([, v]) => v);
  const cases: Array<[string, string[], number[]]> = [
    ['istio_requests_total', ['response_code="200"'], [5]],
    ['istio_requests_total', ['response_code="503"', 'response_flags="UH"'], [1]],
    ['istio_request_duration_milliseconds_count', ['response_code="200"'], [5]],
    ['istio_request_duration_milliseconds_sum', ['response_code="200"'], [69]],
    ['istio_request_duration_milliseconds_bucket', ['le="5"', 'response_code="200"'], [3]],
    ['istio_request_duration_milliseconds_bucket', ['le="50"', 'response_code="200"'], [5]],
    ['istio_request_duration_milliseconds_bucket', ['le="+Inf"', 'response_code="200"'], [5]],
    ['istio_request_bytes_sum', ['response_code="200"'], [70]],
    ['istio_tcp_connections_opened_total', [], [1]],
    ['istio_tcp_connections_closed_total', [], [1]],
    ['istio_tcp_sent_bytes_total', [], [7]],
    ['envoy_cluster_upstream_rq_total', [], [6]], // sum
    ['envoy_cluster_outlier_detection_ejections_active', [], [2]], // max
    ['isthmus_config_reloads_total', ['result="applied"'], [1]], // max: same reload seen by both
    ['isthmus_config_reloads_total', ['result="rejected"'], [1]],
    ['isthmus_config_version', [], [4]],
    ['isthmus_config_last_reload_success', [], [0]], // min: one worker rejected the last push
    ['isthmus_config_last_reload_timestamp_seconds', [], [3]],
  ];
  for (const [name, parts, want] of cases) assert.deepEqual(get(name, ...parts), want, `${name} ${parts.join(' ')}`);
});

void test('compact merge equals prom-client AggregatorRegistry on getMetricsAsJSON', async () => {
  const [a, b] = await workers();
  const compact = await MeshMetrics.aggregate([await a.snapshotForAggregation(), await b.snapshotForAggregation()]);
  const viaPromClient = await MeshMetrics.aggregate([await a.registry.getMetricsAsJSON(), await b.registry.getMetricsAsJSON()]);
  assert.deepEqual(normalize(compact), normalize(viaPromClient));
  assert.ok(normalize(compact).size > 50);
});

void test('native prom-client metrics (process metrics) still merge via AggregatorRegistry', async () => {
  const a = new MeshMetrics({ source: SOURCE, defaultMetrics: true });
  const b = new MeshMetrics({ source: SOURCE, defaultMetrics: true });
  a.recordRequest({ destination: REVIEWS, responseCode: 200 });
  const text = await MeshMetrics.aggregate([await a.snapshotForAggregation(), await b.snapshotForAggregation()]);
  assert.equal(text.match(/^# TYPE process_cpu_user_seconds_total counter$/gm)?.length, 1);
  assert.equal(text.match(/^# TYPE istio_requests_total counter$/gm)?.length, 1);
  assert.match(text, /^nodejs_version_info\{/m);
});

void test('mergeCompact: aggregators on a synthetic family', async () => {
  type S = { labels: Record<string, string>; v: number };
  const mk = (vals: number[]): Registry => {
    const r = new Registry();
    for (const agg of ['sum', 'max', 'min', 'first', 'average', 'omit'] as const) {
      const series: S[] = vals.map((v, i) => ({ labels: { k: String(i) }, v }));
      new ScalarFamily<S>('gauge', { name: `g_${agg}`, help: 'h', aggregator: agg, series: () => series, labels: (s) => s.labels, value: (s) => s.v }).register(r);
    }
    return r;
  };
  const parts = [await snapshotRegistry(mk([1, 10])), await snapshotRegistry(mk([3, 4])), await snapshotRegistry(mk([2]))];
  const out = samples(await aggregateSnapshots(parts));
  const cases: Array<[string, number | undefined]> = [
    ['g_sum{k="0"}', 6], ['g_sum{k="1"}', 14],
    ['g_max{k="0"}', 3], ['g_max{k="1"}', 10],
    ['g_min{k="0"}', 1], ['g_min{k="1"}', 4],
    ['g_first{k="0"}', 1], ['g_first{k="1"}', 10],
    ['g_average{k="0"}', 2], ['g_average{k="1"}', 7],
    ['g_omit{k="0"}', undefined],
  ];
  for (const [k, want] of cases) assert.equal(out.get(k), want, k);
  // histograms sum bucket-wise whatever the family aggregator says
  const bounds = Float64Array.from([1, 10]);
  const h = (vals: number[]): Registry => {
    const r = new Registry();
    const c = new HistogramCell(bounds);
    for (const v of vals) c.observe(v);
    new HistogramFamily<HistogramCell>({ name: 'h', help: 'h', aggregator: 'max', series: () => [c], labels: () => ({ x: 'y' }), cell: (x) => x }).register(r);
    return r;
  };
  const reg = mergeCompact([(await snapshotRegistry(h([0.5, 5]))).families, (await snapshotRegistry(h([50]))).families]);
  const hs = samples(await reg.metrics());
  assert.equal(hs.get('h_bucket{le="1",x="y"}'), 1);
  assert.equal(hs.get('h_bucket{le="10",x="y"}'), 2);
  assert.equal(hs.get('h_bucket{le="+Inf",x="y"}'), 3);
  assert.equal(hs.get('h_sum{x="y"}'), 55.5);
  assert.equal(hs.get('h_count{x="y"}'), 3);
});
