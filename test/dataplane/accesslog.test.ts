/**
 * The access log of a running proxy, field by field: Istio's default text format for a
 * routed 200 (with a rewrite, so the original path is logged) and a 404 NR, and
 * `--log-format json` with Istio's keys. Lines go to the runtime's access-log sink (stdout in
 * `isthmus run`; the drain test checks the real stdout).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, serviceEntry, startUpstream, type Upstream } from '../support/mesh.js';
import { configDir, startRuntime, waitFor, type ConfigDir, type RuntimeHandle } from '../support/harness.js';

const CLUSTER = 'outbound|9080|v1|reviews.default.svc.cluster.local';

let v1: Upstream;
let cfg: ConfigDir;
let text: RuntimeHandle;
let json: RuntimeHandle;

before(async () => {
  v1 = await startUpstream('v1');
  cfg = configDir();
  cfg.write(
    'mesh.yaml',
    serviceEntry('reviews', 'default', 9080, [{ port: v1.port, labels: { version: 'v1' } }]) +
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: api
    match: [{uri: {prefix: /api/}}]
    rewrite: {uri: /}
    route: [{destination: {host: reviews, subset: v1}}]
`,
  );
  [text, json] = await Promise.all([startRuntime([cfg.dir]), startRuntime([cfg.dir], { logFormat: 'json' })]);
});

after(async () => {
  await Promise.all([text?.close(), json?.close()]);
  cfg?.cleanup();
  await v1?.close();
});

/**
 * Istio's default format:
 * [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS%
 * %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED%
 * %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
 * "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS%
 * %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%
 */
const LINE = new RegExp(
  '^\\[(?<start>[^\\]]+)\\] "(?<method>\\S+) (?<path>\\S+) (?<protocol>\\S+)" (?<code>\\d+) (?<flags>\\S+) (?<details>\\S+) (?<term>\\S+) ' +
    '"(?<failure>[^"]*)" (?<rx>\\d+) (?<tx>\\d+) (?<duration>\\d+) (?<ust>\\S+) "(?<xff>[^"]*)" "(?<ua>[^"]*)" "(?<rid>[^"]*)" ' +
    '"(?<authority>[^"]*)" "(?<uhost>[^"]*)" (?<cluster>\\S+) (?<ulocal>\\S+) (?<dlocal>\\S+) (?<dremote>\\S+) (?<sni>\\S+) (?<route>\\S+)$',
);

function findLine(lines: string[], needle: string): Promise<string> {
  return waitFor(`an access-log line with ${needle}`, () => lines.find((l) => l.includes(needle)), 3000);
}

test('text format, routed 200: every field', { timeout: 20_000 }, async () => {
  const before = Date.now();
  const r = await request(text.port, 'reviews:9080', '/api/items?x=1', { headers: { 'user-agent': 'itest/1.0', 'x-request-id': 'rid-200' } });
  assert.equal(r.status, 200);
  const line = await findLine(text.access, 'rid-200');
  const m = LINE.exec(line);
  assert.ok(m?.groups, `line does not parse: ${line}`);
  const g = m.groups;
  const start = Date.parse(g.start);
  assert.match(g.start, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(start >= before - 1000 && start <= Date.now(), g.start);
  assert.equal(g.method, 'GET');
  assert.equal(g.path, '/api/items?x=1', 'the original path, before the rewrite');
  assert.equal(g.protocol, 'HTTP/1.1');
  assert.equal(g.code, '200');
  assert.equal(g.flags, '-');
  assert.equal(g.details, 'via_upstream');
  assert.equal(g.term, '-');
  assert.equal(g.failure, '-');
  assert.equal(g.rx, '0');
  assert.equal(Number(g.tx), Buffer.byteLength(r.body));
  assert.equal(r.body, 'v1 /items?x=1');
  assert.ok(Number(g.duration) >= 0);
  assert.equal(g.ust, r.headers['x-envoy-upstream-service-time']);
  assert.equal(g.xff, '-');
  assert.equal(g.ua, 'itest/1.0');
  assert.equal(g.rid, 'rid-200');
  assert.equal(g.authority, 'reviews:9080');
  assert.equal(g.uhost, `127.0.0.1:${v1.port}`);
  assert.equal(g.cluster, CLUSTER);
  assert.equal(g.dlocal, `127.0.0.1:${text.port}`);
  assert.match(g.dremote, /^127\.0\.0\.1:\d+$/, 'client address with its port, as Envoy logs it');
  assert.notEqual(g.dremote, '127.0.0.1:0');
  assert.equal(g.sni, '-');
  assert.equal(g.route, 'api');
});

test('text format, 404 NR: flags, details, no upstream, a generated request id', { timeout: 20_000 }, async () => {
  const r = await request(text.port, 'reviews', '/nowhere', { headers: { 'user-agent': 'itest-nr' } });
  assert.equal(r.status, 404);
  const line = await findLine(text.access, '"itest-nr"');
  const g = LINE.exec(line)?.groups;
  assert.ok(g, `line does not parse: ${line}`);
  assert.equal(g.method, 'GET');
  assert.equal(g.path, '/nowhere');
  assert.equal(g.code, '404');
  assert.equal(g.flags, 'NR');
  assert.equal(g.details, 'route_not_found');
  assert.equal(g.failure, '-');
  assert.equal(g.rx, '0');
  assert.equal(g.tx, '0');
  assert.equal(g.ust, '-');
  assert.match(g.rid, /^[0-9a-f-]{36}$/, 'Envoy assigns a request id to every request');
  assert.equal(g.authority, 'reviews');
  assert.equal(g.uhost, '-');
  assert.equal(g.cluster, '-');
  assert.equal(g.route, '-');
  assert.match(g.dremote, /^127\.0\.0\.1:\d+$/);
});

test('--log-format json: Istio keys, numbers as numbers, missing values null', { timeout: 20_000 }, async () => {
  assert.equal((await request(json.port, 'reviews', '/api/j', { headers: { 'x-request-id': 'rid-json' } })).status, 200);
  assert.equal((await request(json.port, 'reviews', '/none', { headers: { 'x-request-id': 'rid-json-nr' } })).status, 404);
  const ok = JSON.parse(await findLine(json.access, '"rid-json"')) as Record<string, unknown>;
  assert.equal(ok.method, 'GET');
  assert.equal(ok.path, '/api/j');
  assert.equal(ok.protocol, 'HTTP/1.1');
  assert.equal(ok.response_code, 200);
  assert.equal(ok.response_flags, '-');
  assert.equal(ok.response_code_details, 'via_upstream');
  assert.equal(ok.upstream_cluster, CLUSTER);
  assert.equal(ok.upstream_host, `127.0.0.1:${v1.port}`);
  assert.equal(ok.authority, 'reviews');
  assert.equal(ok.route_name, 'api');
  assert.equal(typeof ok.duration, 'number');
  assert.equal(typeof ok.bytes_sent, 'number');
  assert.equal(typeof ok.upstream_service_time, 'string');
  assert.equal(ok.x_forwarded_for, null);
  assert.match(String(ok.start_time), /Z$/);
  const nr = JSON.parse(await findLine(json.access, '"rid-json-nr"')) as Record<string, unknown>;
  assert.equal(nr.response_code, 404);
  assert.equal(nr.response_flags, 'NR');
  assert.equal(nr.response_code_details, 'route_not_found');
  assert.equal(nr.upstream_cluster, null);
  // Every line of the JSON log is one JSON object.
  for (const l of json.access) assert.doesNotThrow(() => JSON.parse(l), l);
});
