import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import {
  ENVOY_DEFAULT_BUCKETS,
  ISTIO_HTTP_LABELS,
  ISTIO_TCP_LABELS,
  MeshMetrics,
  type RequestRecord,
} from './metrics.js';
import { CLUSTER_STATS } from './cluster-stats.js';
import { Flag } from './flags.js';

// --- a small Prometheus text-format parser (the test oracle) ---

interface Sample {
  name: string;
  labels: Array<[string, string]>;
  value: number;
}
interface Parsed {
  types: Map<string, string>;
  samples: Sample[];
}

function parseLabels(s: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf('=', i);
    const name = s.slice(i, eq);
    assert.equal(s[eq + 1], '"', `label ${name} value must be quoted`);
    let j = eq + 2;
    let v = '';
    while (s[j] !== '"') {
      if (s[j] === '\\') {
        const c = s[j + 1];
        v += c === 'n' ? '\n' : c;
        j += 2;
      } else v += s[j++];
    }
    out.push([name, v]);
    i = j + 1;
    if (s[i] === ',') i++;
  }
  return out;
}

function parse(text: string): Parsed {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `bad sample line: ${line}`);
    samples.push({ name: m[1], labels: m[2] ? parseLabels(m[2]) : [], value: Number(m[3]) });
  }
  return { types, samples };
}

function lab(s: Sample): Record<string, string> {
  return Object.fromEntries(s.labels);
}

function find(p: Parsed, name: string, match: Record<string, string> = {}): Sample[] {
  return p.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => lab(s)[k] === v));
}

const SOURCE = { namespace: 'default', labels: { app: 'productpage', version: 'v1' } };
const REVIEWS = Object.freeze({ service: 'reviews.default.svc.cluster.local', app: 'reviews', version: 'v2', workload: 'reviews-v2', workloadNamespace: 'default' });

function req(over: Partial<RequestRecord> = {}): RequestRecord {
  return { destination: REVIEWS, responseCode: 200, durationMs: 12, requestBytes: 100, responseBytes: 2000, ...over };
}

// --- tests ---

void test('Istio metric names and types', async () => {
  const m = new MeshMetrics({ source: SOURCE });
  m.recordRequest(req());
  m.recordTcpOpened({ service: 'db.default.svc.cluster.local' });
  const p = parse(await m.render());
  const want: Array<[string, string]> = [
    ['istio_requests_total', 'counter'],
    ['istio_request_duration_milliseconds', 'histogram'],
    ['istio_request_bytes', 'histogram'],
    ['istio_response_bytes', 'histogram'],
    ['istio_tcp_sent_bytes_total', 'counter'],
    ['istio_tcp_received_bytes_total', 'counter'],
    ['istio_tcp_connections_opened_total', 'counter'],
    ['istio_tcp_connections_closed_total', 'counter'],
  ];
  for (const [name, type] of want) assert.equal(p.types.get(name), type, name);
  for (const h of ['istio_request_duration_milliseconds', 'istio_request_bytes', 'istio_response_bytes']) {
    assert.equal(find(p, `${h}_count`).length, 1, h);
    assert.equal(find(p, `${h}_sum`).length, 1, h);
    assert.equal(find(p, `${h}_bucket`).length, ENVOY_DEFAULT_BUCKETS.length + 1, h);
  }
});

void test('istio_requests_total carries exactly Istio labels with Istio values', async () => {
  const m = new MeshMetrics({ source: { ...SOURCE, principal: 'spiffe://cluster.local/ns/default/sa/productpage', cluster: 'Kubernetes' } });
  m.recordRequest(req({ responseCode: 503, flags: Flag.URX | Flag.UF }));
  const [s] = find(parse(await m.render()), 'istio_requests_total');
  assert.deepEqual(s.labels.map(([k]) => k), [...ISTIO_HTTP_LABELS]);
  assert.deepEqual(lab(s), {
    reporter: 'source',
    source_workload: 'productpage-v1',
    source_canonical_service: 'productpage',
    source_canonical_revision: 'v1',
    source_workload_namespace: 'default',
    source_principal: 'spiffe://cluster.local/ns/default/sa/productpage',
    source_app: 'productpage',
    source_version: 'v1',
    source_cluster: 'Kubernetes',
    destination_workload: 'reviews-v2',
    destination_workload_namespace: 'default',
    destination_principal: 'unknown',
    destination_app: 'reviews',
    destination_version: 'v2',
    destination_service: 'reviews.default.svc.cluster.local',
    destination_canonical_service: 'reviews',
    destination_canonical_revision: 'v2',
    destination_service_name: 'reviews',
    destination_service_namespace: 'default',
    destination_cluster: 'unknown',
    request_protocol: 'http',
    response_code: '503',
    grpc_response_status: '',
    response_flags: 'UF,URX',
    connection_security_policy: 'unknown',
  });
  assert.equal(s.value, 1);
});

void test('missing values default to unknown (canonical revision: latest)', async () => {
  const m = new MeshMetrics({ source: {} });
  m.recordRequest({ destination: { service: 'httpbin.org' }, responseCode: 0 });
  const l = lab(find(parse(await m.render()), 'istio_requests_total')[0]);
  const cases: Array<[string, string]> = [
    ['source_workload', 'unknown'],
    ['source_workload_namespace', 'unknown'],
    ['source_app', 'unknown'],
    ['source_version', 'unknown'],
    ['source_principal', 'unknown'],
    ['source_cluster', 'unknown'],
    ['source_canonical_service', 'unknown'],
    ['source_canonical_revision', 'latest'],
    ['destination_service', 'httpbin.org'],
    ['destination_service_name', 'httpbin'],
    ['destination_service_namespace', 'unknown'],
    ['destination_workload', 'unknown'],
    ['destination_workload_namespace', 'unknown'],
    ['destination_app', 'unknown'],
    ['destination_version', 'unknown'],
    ['destination_canonical_service', 'unknown'],
    ['destination_canonical_revision', 'latest'],
    ['destination_cluster', 'unknown'],
    ['response_code', '0'],
    ['response_flags', '-'],
  ];
  for (const [k, v] of cases) assert.equal(l[k], v, k);
});

void test('histograms use Envoy default buckets, cumulative, with sum and count', async () => {
  const m = new MeshMetrics({ source: SOURCE });
  const durations = [0.3, 0.5, 0.7, 12, 250, 4_000_000];
  for (const d of durations) m.recordRequest(req({ durationMs: d, requestBytes: d * 2, responseBytes: d }));
  const p = parse(await m.render());
  const check = (name: string, values: number[]): void => {
    const buckets = find(p, `${name}_bucket`);
    assert.deepEqual(buckets.map((b) => lab(b).le), [...ENVOY_DEFAULT_BUCKETS.map(String), '+Inf'], name);
    const want = [...ENVOY_DEFAULT_BUCKETS, Infinity].map((le) => values.filter((v) => v <= le).length);
    assert.deepEqual(buckets.map((b) => b.value), want, name);
    assert.equal(find(p, `${name}_count`)[0].value, values.length);
    assert.equal(find(p, `${name}_sum`)[0].value, values.reduce((a, b) => a + b, 0));
  };
  check('istio_request_duration_milliseconds', durations);
  check('istio_request_bytes', durations.map((d) => d * 2));
  check('istio_response_bytes', durations);
  assert.equal(
    find(p, 'istio_request_duration_milliseconds_bucket').map((b) => lab(b).le).join(','),
    '0.5,1,5,10,25,50,100,250,500,1000,2500,5000,10000,30000,60000,300000,600000,1800000,3600000,+Inf',
  );
});

void test('label sets are resolved once per series (cache)', async () => {
  const m = new MeshMetrics({ source: SOURCE });
  const dest = { service: 'ratings.default.svc.cluster.local' };
  for (let i = 0; i < 1000; i++) m.recordRequest(req({ destination: dest }));
  // one destination object + one series
  assert.deepEqual(m.cacheStats(), { destinations: 1, httpSeries: 1, tcpSeries: 0, labelResolutions: 2, destinationOverflows: 0 });
  // a handle skips even the identity lookup
  const h = m.destination(dest);
  assert.equal(h, m.destination(dest));
  for (let i = 0; i < 10; i++) m.recordRequest(req({ destination: h }));
  assert.equal(m.cacheStats().labelResolutions, 2);
  // an equal-valued new object interns to the same destination and series
  m.recordRequest(req({ destination: { service: 'ratings.default.svc.cluster.local' } }));
  assert.deepEqual(m.cacheStats(), { destinations: 1, httpSeries: 1, tcpSeries: 0, labelResolutions: 3, destinationOverflows: 0 });
  const [s] = find(parse(await m.render()), 'istio_requests_total');
  assert.equal(s.value, 1011);
});

void test('each distinct label tuple gets its own series', async () => {
  const m = new MeshMetrics({ source: SOURCE });
  const rows: Array<[Partial<RequestRecord>, Record<string, string>]> = [
    [{}, { response_code: '200', response_flags: '-', request_protocol: 'http', grpc_response_status: '' }],
    [{ responseCode: 404, flags: Flag.NR }, { response_code: '404', response_flags: 'NR' }],
    [{ responseCode: 503, flags: Flag.UO }, { response_code: '503', response_flags: 'UO' }],
    [{ responseCode: 503, flags: Flag.UH }, { response_code: '503', response_flags: 'UH' }],
    [{ responseCode: 503, flags: Flag.DC | Flag.UF }, { response_code: '503', response_flags: 'UF,DC' }],
    [{ protocol: 'grpc', grpcStatus: 14 }, { request_protocol: 'grpc', grpc_response_status: '14' }],
    [{ protocol: 'grpc', grpcStatus: 0 }, { request_protocol: 'grpc', grpc_response_status: '0' }],
    [{ protocol: 'grpc' }, { request_protocol: 'grpc', grpc_response_status: '' }], // status unknown
    [{ grpcStatus: 5 }, { request_protocol: 'http', response_code: '200', grpc_response_status: '' }], // not gRPC: ignored
    [{ responseCode: 1234 }, { response_code: '0' }], // out of range
  ];
  for (const [over] of rows) m.recordRequest(req(over));
  const p = parse(await m.render());
  const all = find(p, 'istio_requests_total');
  assert.equal(all.length, 9); // rows 0 and 8 share a series
  for (const [over, match] of rows) {
    const got = find(p, 'istio_requests_total', match);
    assert.equal(got.length, 1, JSON.stringify(over));
  }
  assert.equal(find(p, 'istio_requests_total', { response_code: '200', request_protocol: 'http' })[0].value, 2);
});

void test('omitted duration and sizes are not observed', async () => {
  const m = new MeshMetrics({ source: SOURCE });
  m.recordRequest({ destination: REVIEWS, responseCode: 200 });
  const p = parse(await m.render());
  assert.equal(find(p, 'istio_requests_total')[0].value, 1);
  assert.equal(find(p, 'istio_request_duration_milliseconds_count').length, 0);
  assert.equal(find(p, 'istio_response_bytes_count').length, 0);
});

void test('TCP metrics carry the TCP label set and count bytes and connections', async () => {
  const m = new MeshMetrics({ source: SOURCE });
  const db = { service: 'mysql.db.svc.cluster.local' };
  m.recordTcpOpened(db);
  m.recordTcpBytes(db, 100, 40);
  m.recordTcpClosed(db, 0, 5, 6);
  m.recordTcpOpened(db);
  m.recordTcpClosed(db, Flag.UF);
  const p = parse(await m.render());
  const opened = find(p, 'istio_tcp_connections_opened_total');
  assert.equal(opened.length, 1);
  assert.deepEqual(opened[0].labels.map(([k]) => k), [...ISTIO_TCP_LABELS]);
  assert.equal(lab(opened[0]).request_protocol, 'tcp');
  assert.equal(lab(opened[0]).destination_service_namespace, 'db');
  assert.equal(opened[0].value, 2);
  assert.equal(find(p, 'istio_tcp_sent_bytes_total', { response_flags: '-' })[0].value, 105);
  assert.equal(find(p, 'istio_tcp_received_bytes_total', { response_flags: '-' })[0].value, 46);
  assert.equal(find(p, 'istio_tcp_connections_closed_total', { response_flags: '-' })[0].value, 1);
  assert.equal(find(p, 'istio_tcp_connections_closed_total', { response_flags: 'UF' })[0].value, 1);
});

void test('cluster stats render as envoy_cluster_* with cluster_name', async () => {
  const m = new MeshMetrics({ source: SOURCE });
  const name = 'outbound|9080|v2|reviews.default.svc.cluster.local';
  const c = m.cluster(name);
  assert.equal(m.cluster(name), c);
  CLUSTER_STATS.forEach((d, i) => {
    c[d.field] = i + 1;
  });
  const p = parse(await m.render());
  const names = [
    'envoy_cluster_upstream_rq_total', 'envoy_cluster_upstream_rq_active', 'envoy_cluster_upstream_rq_pending_active',
    'envoy_cluster_upstream_rq_pending_overflow',
    'envoy_cluster_upstream_rq_timeout', 'envoy_cluster_upstream_rq_per_try_timeout', 'envoy_cluster_upstream_rq_retry',
    'envoy_cluster_upstream_rq_retry_success', 'envoy_cluster_upstream_rq_retry_overflow',
    'envoy_cluster_upstream_rq_retry_limit_exceeded', 'envoy_cluster_upstream_rq_rx_reset', 'envoy_cluster_upstream_cx_total',
    'envoy_cluster_upstream_cx_active', 'envoy_cluster_upstream_cx_connect_fail', 'envoy_cluster_upstream_cx_connect_timeout',
    'envoy_cluster_upstream_cx_overflow', 'envoy_cluster_upstream_cx_none_healthy',
    'envoy_cluster_circuit_breakers_default_cx_open', 'envoy_cluster_circuit_breakers_default_rq_pending_open',
    'envoy_cluster_circuit_breakers_default_rq_open', 'envoy_cluster_circuit_breakers_default_rq_retry_open',
    'envoy_cluster_circuit_breakers_default_remaining_cx', 'envoy_cluster_circuit_breakers_default_remaining_pending',
    'envoy_cluster_circuit_breakers_default_remaining_rq', 'envoy_cluster_circuit_breakers_default_remaining_retries',
    'envoy_cluster_outlier_detection_ejections_active',
    'envoy_cluster_outlier_detection_ejections_enforced_total', 'envoy_cluster_outlier_detection_ejections_overflow',
    'envoy_cluster_outlier_detection_ejections_total',
  ];
  assert.deepEqual(CLUSTER_STATS.map((d) => d.name), names);
  CLUSTER_STATS.forEach((d, i) => {
    const [s] = find(p, d.name);
    assert.ok(s, d.name);
    assert.deepEqual(s.labels, [['cluster_name', name]]);
    assert.equal(s.value, i + 1, d.name);
    assert.equal(p.types.get(d.name), d.type);
  });
  assert.equal(p.types.get('envoy_cluster_upstream_rq_active'), 'gauge');
  assert.equal(p.types.get('envoy_cluster_outlier_detection_ejections_active'), 'gauge');
  assert.equal(p.types.get('envoy_cluster_circuit_breakers_default_rq_pending_open'), 'gauge');
  m.removeCluster(name);
  assert.equal(find(parse(await m.render()), 'envoy_cluster_upstream_rq_total').length, 0);
});

void test('config reload metrics', async () => {
  const m = new MeshMetrics({ source: SOURCE });
  let p = parse(await m.render());
  assert.equal(find(p, 'isthmus_config_reloads_total', { result: 'applied' })[0].value, 0);
  assert.equal(find(p, 'isthmus_config_version').length, 0);
  m.setConfigVersion(1);
  m.recordConfigReload({ result: 'applied', version: 2, atMs: 1_700_000_000_000 });
  m.recordConfigReload({ result: 'rejected', version: 9, atMs: 1_700_000_005_500 });
  p = parse(await m.render());
  const cases: Array<[string, Record<string, string>, number]> = [
    ['isthmus_config_reloads_total', { result: 'applied' }, 1],
    ['isthmus_config_reloads_total', { result: 'rejected' }, 1],
    ['isthmus_config_version', {}, 2], // a rejected reload keeps the live version
    ['isthmus_config_last_reload_success', {}, 0],
    ['isthmus_config_last_reload_timestamp_seconds', {}, 1_700_000_005.5],
  ];
  for (const [name, match, want] of cases) assert.equal(find(p, name, match)[0].value, want, name);
  assert.equal(p.types.get('isthmus_config_version'), 'gauge');
});

void test('access-log drop counter is exported once tracked', async () => {
  const m = new MeshMetrics({ source: SOURCE });
  assert.equal(find(parse(await m.render()), 'isthmus_access_log_dropped_total').length, 0);
  const src = { dropped: 7 };
  m.trackAccessLog(src);
  assert.equal(find(parse(await m.render()), 'isthmus_access_log_dropped_total')[0].value, 7);
});

void test('aggregate() merges worker snapshots: counters and histograms sum', async () => {
  const a = new MeshMetrics({ source: SOURCE });
  const b = new MeshMetrics({ source: SOURCE });
  for (let i = 0; i < 3; i++) a.recordRequest(req({ durationMs: 3 }));
  for (let i = 0; i < 2; i++) b.recordRequest(req({ durationMs: 30 }));
  b.recordRequest(req({ responseCode: 503, flags: Flag.UH, durationMs: 0.1 }));
  const cn = 'outbound|9080||reviews.default.svc.cluster.local';
  a.cluster(cn).upstreamRqRetry = 4;
  b.cluster(cn).upstreamRqRetry = 5;
  a.cluster(cn).outlierEjectionsActive = 1;
  b.cluster(cn).outlierEjectionsActive = 2;
  a.recordConfigReload({ result: 'applied', version: 3, atMs: 0 });
  b.recordConfigReload({ result: 'applied', version: 3, atMs: 0 });
  const merged = parse(await MeshMetrics.aggregate([await a.snapshotForAggregation(), await b.snapshotForAggregation()]));
  assert.equal(find(merged, 'istio_requests_total', { response_code: '200' })[0].value, 5);
  assert.equal(find(merged, 'istio_requests_total', { response_code: '503', response_flags: 'UH' })[0].value, 1);
  assert.equal(find(merged, 'istio_request_duration_milliseconds_count', { response_code: '200' })[0].value, 5);
  assert.equal(find(merged, 'istio_request_duration_milliseconds_sum', { response_code: '200' })[0].value, 69);
  assert.equal(find(merged, 'istio_request_duration_milliseconds_bucket', { response_code: '200', le: '5' })[0].value, 3);
  assert.equal(find(merged, 'istio_request_duration_milliseconds_bucket', { response_code: '200', le: '50' })[0].value, 5);
  assert.equal(find(merged, 'envoy_cluster_upstream_rq_retry')[0].value, 9);
  assert.equal(find(merged, 'envoy_cluster_outlier_detection_ejections_active')[0].value, 2);
  assert.equal(find(merged, 'isthmus_config_reloads_total', { result: 'applied' })[0].value, 1);
  assert.equal(merged.types.get('istio_request_duration_milliseconds'), 'histogram');
  // the merged labels are Istio's full set
  assert.deepEqual(
    new Set(find(merged, 'istio_requests_total')[0].labels.map(([k]) => k)),
    new Set(ISTIO_HTTP_LABELS),
  );
});

void test('one registry per instance; the global registry stays empty; default metrics opt-in', async () => {
  const before = (await globalRegistry.getMetricsAsJSON()).length;
  const a = new MeshMetrics({ source: SOURCE });
  const b = new MeshMetrics({ source: SOURCE });
  a.recordRequest(req());
  assert.notEqual(a.registry, b.registry);
  assert.equal(find(parse(await b.render()), 'istio_requests_total').length, 0);
  assert.equal((await globalRegistry.getMetricsAsJSON()).length, before);
  assert.ok(!(await a.render()).includes('process_cpu'));
  const c = new MeshMetrics({ source: SOURCE, defaultMetrics: true });
  assert.ok((await c.render()).includes('process_cpu_user_seconds_total'));
  assert.match(a.contentType, /^text\/plain; version=0\.0\.4/);
});

void test('label values are escaped in the exposition', async () => {
  const m = new MeshMetrics({ source: SOURCE });
  m.recordRequest(req({ destination: { service: 'we"ird\\host' } }));
  const s = find(parse(await m.render()), 'istio_requests_total')[0];
  assert.equal(lab(s).destination_service, 'we"ird\\host');
});

void test('maxDestinations folds new destinations into an unknown one', async () => {
  const m = new MeshMetrics({ source: SOURCE, maxDestinations: 2 });
  for (const host of ['a.example', 'b.example', 'c.example', 'd.example']) {
    m.recordRequest({ destination: { service: host }, responseCode: 200 });
  }
  const p = parse(await m.render());
  const services = find(p, 'istio_requests_total').map((s) => [lab(s).destination_service, s.value]);
  assert.deepEqual(services, [['a.example', 1], ['b.example', 1], ['unknown', 2]]);
  assert.equal(m.cacheStats().destinationOverflows, 2);
});
