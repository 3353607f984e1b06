import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StartTimeFormatter, formatJson, formatText, type AccessLogEntry } from './accesslog-format.js';
import { Flag } from './flags.js';

const OK: AccessLogEntry = {
  startTime: Date.UTC(2024, 0, 2, 3, 4, 5, 67),
  method: 'GET',
  path: '/reviews/1',
  protocol: 'HTTP/1.1',
  responseCode: 200,
  flags: 0,
  responseCodeDetails: 'via_upstream',
  bytesReceived: 0,
  bytesSent: 295,
  durationMs: 12.9,
  upstreamServiceTime: '11',
  userAgent: 'curl/8.0',
  requestId: '84961386-6d84-929d-98bd-c5aee93b5c88',
  authority: 'reviews:9080',
  upstreamHost: '127.0.0.1:18081',
  upstreamCluster: 'outbound|9080|v1|reviews.default.svc.cluster.local',
  upstreamLocalAddress: '127.0.0.1:50000',
  downstreamLocalAddress: '127.0.0.1:15001',
  downstreamRemoteAddress: '127.0.0.1:40000',
  routeName: 'default',
};

const FAILED: AccessLogEntry = {
  startTime: Date.UTC(2024, 11, 31, 23, 59, 59, 999),
  method: 'POST',
  path: '/api',
  protocol: 'HTTP/2',
  responseCode: 503,
  flags: Flag.URX | Flag.UF,
  responseCodeDetails: 'upstream_reset_before_response_started{connection_failure}',
  upstreamTransportFailureReason: '',
  bytesReceived: 17,
  bytesSent: 91,
  durationMs: 3,
  xForwardedFor: '10.0.0.1',
  authority: 'ratings',
  upstreamCluster: 'outbound|9080||ratings.default.svc.cluster.local',
};

void test('text format is Istio default, byte for byte', () => {
  const cases: Array<[AccessLogEntry, string]> = [
    [OK,
      '[2024-01-02T03:04:05.067Z] "GET /reviews/1 HTTP/1.1" 200 - via_upstream - "-" 0 295 12 11 "-" "curl/8.0" ' +
      '"84961386-6d84-929d-98bd-c5aee93b5c88" "reviews:9080" "127.0.0.1:18081" outbound|9080|v1|reviews.default.svc.cluster.local ' +
      '127.0.0.1:50000 127.0.0.1:15001 127.0.0.1:40000 - default\n'],
    [FAILED,
      '[2024-12-31T23:59:59.999Z] "POST /api HTTP/2" 503 UF,URX upstream_reset_before_response_started{connection_failure} - "-" ' +
      '17 91 3 - "10.0.0.1" "-" "-" "ratings" "-" outbound|9080||ratings.default.svc.cluster.local - - - - -\n'],
    [{ startTime: 0, responseCode: 0, flags: Flag.NR, bytesReceived: 0, bytesSent: 0, durationMs: 0, upstreamServiceTime: 4.8 },
      '[1970-01-01T00:00:00.000Z] "- - -" 0 NR - - "-" 0 0 0 4 "-" "-" "-" "-" "-" - - - - - -\n'],
  ];
  for (const [e, want] of cases) assert.equal(formatText(e, new StartTimeFormatter()), want);
});

void test('json format uses Istio keys, sorted, typed, null when missing', () => {
  const got = formatJson(OK, new StartTimeFormatter());
  assert.equal(
    got,
    '{"authority":"reviews:9080","bytes_received":0,"bytes_sent":295,"connection_termination_details":null,' +
      '"downstream_local_address":"127.0.0.1:15001","downstream_remote_address":"127.0.0.1:40000","duration":12,' +
      '"method":"GET","path":"/reviews/1","protocol":"HTTP/1.1","request_id":"84961386-6d84-929d-98bd-c5aee93b5c88",' +
      '"requested_server_name":null,"response_code":200,"response_code_details":"via_upstream","response_flags":"-",' +
      '"route_name":"default","start_time":"2024-01-02T03:04:05.067Z",' +
      '"upstream_cluster":"outbound|9080|v1|reviews.default.svc.cluster.local","upstream_host":"127.0.0.1:18081",' +
      '"upstream_local_address":"127.0.0.1:50000","upstream_service_time":"11","upstream_transport_failure_reason":null,' +
      '"user_agent":"curl/8.0","x_forwarded_for":null}\n',
  );
  const keys = Object.keys(JSON.parse(got) as object);
  assert.deepEqual(keys, [...keys].sort());
  assert.deepEqual(keys, [
    'authority', 'bytes_received', 'bytes_sent', 'connection_termination_details', 'downstream_local_address',
    'downstream_remote_address', 'duration', 'method', 'path', 'protocol', 'request_id', 'requested_server_name',
    'response_code', 'response_code_details', 'response_flags', 'route_name', 'start_time', 'upstream_cluster',
    'upstream_host', 'upstream_local_address', 'upstream_service_time', 'upstream_transport_failure_reason',
    'user_agent', 'x_forwarded_for',
  ]);
  const f = JSON.parse(formatJson({ ...FAILED, userAgent: 'a "quoted"\\ agent' }, new StartTimeFormatter())) as Record<string, unknown>;
  assert.equal(f.response_flags, 'UF,URX');
  assert.equal(f.upstream_service_time, null);
  assert.equal(f.upstream_transport_failure_reason, null);
  assert.equal(f.user_agent, 'a "quoted"\\ agent');
  assert.equal(f.protocol, 'HTTP/2');
  // escaping: every value survives a JSON round trip, lone surrogates stay valid JSON text
  const odd = ['tab\there', 'nl\nx', 'ctl\u0001', 'quote"', 'back\\slash', 'emoji 😀', 'lone \ud800', 'ünï'];
  for (const v of odd) {
    const line = formatJson({ ...OK, path: v }, new StartTimeFormatter());
    assert.equal((JSON.parse(line) as { path: string }).path, v, JSON.stringify(v));
    const raw = [...line.slice(0, -1)].some((ch) => ch.charCodeAt(0) < 0x20);
    assert.ok(!raw, 'no raw control characters');
  }
  assert.ok(formatJson({ ...OK, path: 'lone \ud800' }, new StartTimeFormatter()).includes('lone \\ud800'));
});

void test('StartTimeFormatter matches toISOString across seconds and reuse', () => {
  const t = new StartTimeFormatter();
  const base = Date.UTC(2025, 5, 30, 12, 0, 0, 0);
  const offsets = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1005, 61_000, 59_999, 86_400_000, 5, 0];
  for (const off of offsets) {
    const ms = base + off;
    assert.equal(t.format(ms), new Date(ms).toISOString(), `offset ${off}`);
  }
  assert.equal(t.format(base + 1.7), new Date(base + 1).toISOString()); // sub-ms truncated
  assert.equal(t.format(0), '1970-01-01T00:00:00.000Z');
});
