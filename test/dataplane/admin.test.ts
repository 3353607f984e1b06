/**
 * The admin endpoint of a running proxy: /ready, /healthz, /config_dump (no private key
 * paths), /clusters (Envoy text and JSON), /stats/prometheus with Istio's labels for a routed
 * request, a 404 NR and a 503 UH; and, with --concurrency 2 (real CLI), metrics and
 * /clusters summed over the workers, and config reloads (applied, rejected) reaching every
 * worker.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, serviceEntry, startUpstream, type Upstream } from '../support/mesh.js';
import { adminGet, configDir, parseProm, promFind, promSum, spawnRun, startRuntime, waitFor, type ConfigDir, type RuntimeHandle } from '../support/harness.js';
import { ProxyRuntime } from '../../src/runtime/proxy-runtime.js';
import { AdminServer } from '../../src/admin/server.js';

const V1 = 'outbound|9080|v1|reviews.default.svc.cluster.local';
const KEY_PATH = '/etc/secret-certs/client-key.pem';

let v1: Upstream;
let cfg: ConfigDir;
let h: RuntimeHandle;

function mesh(): string {
  return (
    serviceEntry('reviews', 'default', 9080, [{ port: v1.port, labels: { app: 'reviews', version: 'v1' } }]) +
    serviceEntry('secure', 'default', 443, [{ port: 1, labels: {} }], 'HTTPS') +
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: none, labels: {version: none}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure}
spec:
  host: secure
  trafficPolicy:
    tls: {mode: MUTUAL, clientCertificate: /etc/secret-certs/client.pem, privateKey: ${KEY_PATH}, caCertificates: /etc/secret-certs/ca.pem}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: empty
    match: [{uri: {prefix: /uh}}]
    route: [{destination: {host: reviews, subset: none}}]
  - name: main
    match: [{uri: {prefix: /}, withoutHeaders: {x-block: {}}}]
    route: [{destination: {host: reviews, subset: v1}}]
`
  );
}

before(async () => {
  v1 = await startUpstream('v1');
  cfg = configDir();
  cfg.write('mesh.yaml', mesh());
  h = await startRuntime([cfg.dir], { labels: { app: 'productpage', version: 'v1' }, accessLog: false });
});

after(async () => {
  await h?.close();
  cfg?.cleanup();
  await v1?.close();
});

test('/ready: 503 before the runtime is live, 200 once live; /healthz 200; unknown path 404; writes 405', { timeout: 20_000 }, async (t) => {
  // The same admin source, served before start(): not ready.
  const rt = new ProxyRuntime({ ...h.rt.opts, adminPort: null, accessLog: false }, { log: () => undefined });
  const early = new AdminServer(rt.adminSource());
  const port = await early.listen(0, '127.0.0.1');
  t.after(() => early.close());
  const before = await adminGet(port, '/ready');
  assert.equal(before.status, 503);
  assert.equal(before.body, 'NOT READY\n');

  const ready = await adminGet(h.adminPort, '/ready');
  assert.equal(ready.status, 200);
  assert.equal(ready.body, 'LIVE\n');
  const hz = await adminGet(h.adminPort, '/healthz');
  assert.equal(hz.status, 200);
  assert.equal((await adminGet(h.adminPort, '/nope')).status, 404);
  const post = await request(h.adminPort, '127.0.0.1', '/ready', { method: 'POST', keepAlive: false });
  assert.equal(post.status, 405);
});

test('/config_dump: version, sources, the live snapshot; the private key path is redacted', { timeout: 20_000 }, async () => {
  const r = await adminGet(h.adminPort, '/config_dump');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  const d = JSON.parse(r.body) as {
    version: number;
    inSync: boolean;
    sources: Array<{ path: string; hash: string; size: number }>;
    lastRejected: unknown;
    snapshot: { clusters: Record<string, { tls: { privateKey: string; clientCertificate: string } | null }>; routeTables: Record<string, unknown>; listeners: unknown[] };
  };
  assert.equal(d.version, 1);
  assert.equal(d.inSync, true);
  assert.equal(d.lastRejected, null);
  assert.equal(d.sources.length, 1);
  assert.ok(d.sources[0].path.endsWith('mesh.yaml'), d.sources[0].path);
  assert.match(d.sources[0].hash, /^[0-9a-f]{64}$/);
  assert.ok(d.snapshot.clusters[V1], Object.keys(d.snapshot.clusters).join(', '));
  assert.ok(d.snapshot.routeTables['9080']);
  const tls = d.snapshot.clusters['outbound|443||secure.default.svc.cluster.local'].tls;
  assert.ok(tls);
  assert.equal(tls.privateKey, '[redacted]');
  assert.equal(tls.clientCertificate, '/etc/secret-certs/client.pem');
  assert.ok(!r.body.includes(KEY_PATH), 'the private key path appears in /config_dump');
});

test('/stats/prometheus: istio_requests_total labels for 200, 404 NR and 503 UH; duration histogram; cluster counters', { timeout: 20_000 }, async () => {
  for (let i = 0; i < 3; i++) assert.equal((await request(h.port, 'reviews:9080', '/ok')).status, 200);
  assert.equal((await request(h.port, 'reviews:9080', '/x', { headers: { 'x-block': '1' } })).status, 404);
  assert.equal((await request(h.port, 'reviews:9080', '/uh')).status, 503);
  const r = await adminGet(h.adminPort, '/stats/prometheus');
  assert.equal(r.status, 200);
  assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  const s = parseProm(r.body);
  const source = { reporter: 'source', source_workload: 'productpage-v1', source_workload_namespace: 'default', source_app: 'productpage', source_version: 'v1' };

  const ok = promFind(s, 'istio_requests_total', { ...source, response_code: '200' });
  assert.equal(ok.length, 1, JSON.stringify(ok));
  assert.equal(ok[0].value, 3);
  assert.deepEqual(pick(ok[0].labels, ['destination_service', 'destination_service_name', 'destination_service_namespace', 'destination_version', 'destination_app', 'destination_workload', 'request_protocol', 'response_flags', 'grpc_response_status']), {
    destination_service: 'reviews.default.svc.cluster.local',
    destination_service_name: 'reviews',
    destination_service_namespace: 'default',
    destination_version: 'v1',
    destination_app: 'reviews',
    destination_workload: 'reviews-v1',
    request_protocol: 'http',
    response_flags: '-',
    grpc_response_status: '',
  });

  const nr = promFind(s, 'istio_requests_total', { ...source, response_code: '404' });
  assert.equal(nr.length, 1, JSON.stringify(nr));
  assert.equal(nr[0].value, 1);
  assert.equal(nr[0].labels.response_flags, 'NR');
  assert.equal(nr[0].labels.destination_service, 'unknown', 'no route: no destination service (Istio reports unknown)');

  const uh = promFind(s, 'istio_requests_total', { ...source, response_code: '503' });
  assert.equal(uh.length, 1, JSON.stringify(uh));
  assert.equal(uh[0].labels.response_flags, 'UH');
  assert.equal(uh[0].labels.destination_service, 'reviews.default.svc.cluster.local');
  assert.equal(uh[0].labels.destination_service_name, 'reviews');
  assert.equal(uh[0].labels.destination_version, 'unknown', 'no endpoint served it');

  const inf = promFind(s, 'istio_request_duration_milliseconds_bucket', { response_code: '200', le: '+Inf' });
  assert.equal(inf.length, 1);
  assert.equal(inf[0].value, 3);
  assert.ok(promFind(s, 'istio_request_duration_milliseconds_bucket', { response_code: '200' }).length > 10, 'one row per bucket');
  assert.equal(promSum(s, 'istio_request_duration_milliseconds_count', { response_code: '200' }), 3);
  assert.equal(promSum(s, 'istio_response_bytes_count', { response_code: '200' }), 3);
  assert.equal(promSum(s, 'envoy_cluster_upstream_rq_total', { cluster_name: V1 }), 3);
  assert.equal(promSum(s, 'isthmus_config_reloads_total', { result: 'rejected' }), 0);
});

test('/clusters: Envoy text lines per cluster and endpoint, and ?format=json with endpoints and active/total counts', { timeout: 20_000 }, async () => {
  const before = clusterJson(await adminGet(h.adminPort, '/clusters?format=json'));
  const total0 = before.find((c) => c.name === V1)!.endpoints[0].totalRequests;
  await request(h.port, 'reviews', '/count');
  const text = (await adminGet(h.adminPort, '/clusters')).body;
  const lines = new Set(text.trimEnd().split('\n'));
  const hp = `${V1}::127.0.0.1:${v1.port}`;
  for (const l of [
    `${V1}::observability_name::${V1}`,
    `${V1}::default_priority::max_connections::4294967295`,
    `${V1}::default_priority::max_pending_requests::4294967295`,
    `${V1}::default_priority::max_requests::4294967295`,
    `${V1}::default_priority::max_retries::4294967295`,
    `${V1}::added_via_api::true`,
    `${hp}::rq_active::0`,
    `${hp}::rq_total::${total0 + 1}`,
    `${hp}::weight::1`,
    `${hp}::health_flags::healthy`,
  ]) assert.ok(lines.has(l), `missing line ${l}\n${text}`);
  assert.ok([...lines].some((l) => l.startsWith(`${hp}::cx_active::`)));
  // The subset with no endpoints is listed with none.
  assert.ok(lines.has('outbound|9080|none|reviews.default.svc.cluster.local::observability_name::outbound|9080|none|reviews.default.svc.cluster.local'));
  assert.ok(![...lines].some((l) => l.startsWith('outbound|9080|none|reviews.default.svc.cluster.local::127.')));

  const json = clusterJson(await adminGet(h.adminPort, '/clusters?format=json'));
  const c = json.find((x) => x.name === V1)!;
  assert.equal(c.loadBalancer, 'LEAST_REQUEST');
  assert.equal(c.endpoints.length, 1);
  assert.deepEqual(pick(c.endpoints[0] as unknown as Record<string, unknown>, ['address', 'port', 'health', 'activeRequests', 'totalRequests']), {
    address: '127.0.0.1',
    port: v1.port,
    health: 'healthy',
    activeRequests: 0,
    totalRequests: total0 + 1,
  });
});

interface ClusterJson {
  name: string;
  loadBalancer: string;
  endpoints: Array<{ address: string; port: number; health: string; activeRequests: number; totalRequests: number }>;
}

function clusterJson(r: { body: string }): ClusterJson[] {
  return (JSON.parse(r.body) as { cluster_statuses: ClusterJson[] }).cluster_statuses;
}

function pick(o: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, o[k]]));
}

test('--concurrency 2 (real CLI): /stats/prometheus and /clusters sum the workers; reloads reach every worker, a rejected one counts once', { timeout: 45_000 }, async (t) => {
  // Its own folder: rewriting it must not reload the in-process runtime above.
  const dir = configDir();
  t.after(() => dir.cleanup());
  dir.write('mesh.yaml', mesh());
  const proxy = await spawnRun(['-f', dir.dir, '--concurrency', '2', '--admin-port', '0', '--outbound-port', '0', '--labels', 'app=productpage,version=v1', '--no-access-log']);
  t.after(() => proxy.kill());
  const n = 40;
  const before = v1.seen.length;
  // A fresh connection per request: node:cluster deals connections to the workers in turn.
  for (let i = 0; i < n; i++) assert.equal((await request(proxy.port, 'reviews', `/w${i}`, { keepAlive: false })).status, 200);
  assert.equal(v1.seen.length - before, n);
  // Each worker has its own upstream pool: two workers served => at least two upstream connections.
  assert.ok(new Set(v1.seen.slice(before).map((x) => x.remotePort)).size >= 2, 'every request was served by the same worker');
  let s = parseProm((await adminGet(proxy.adminPort, '/stats/prometheus')).body);
  assert.equal(promSum(s, 'istio_requests_total', { response_code: '200', destination_version: 'v1', source_workload: 'productpage-v1' }), n);
  assert.equal(promSum(s, 'istio_request_duration_milliseconds_count', { response_code: '200' }), n);
  assert.equal(promSum(s, 'envoy_cluster_upstream_rq_total', { cluster_name: V1 }), n);
  const c = clusterJson(await adminGet(proxy.adminPort, '/clusters?format=json')).find((x) => x.name === V1)!;
  assert.equal(c.endpoints.length, 1, 'the same endpoint from both workers is merged');
  assert.equal(c.endpoints[0].totalRequests, n);
  const dump = JSON.parse((await adminGet(proxy.adminPort, '/config_dump')).body) as { workers: number; version: number };
  assert.equal(dump.workers, 2);
  assert.equal(dump.version, 1);
  assert.equal((await adminGet(proxy.adminPort, '/ready')).status, 200);

  // A reload reaches every worker: every fresh connection (both workers) sees the new route.
  const sample = async (k: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < k; i++) out.push((await request(proxy.port, 'reviews', '/moved', { keepAlive: false })).status);
    return out;
  };
  dir.write('mesh.yaml', mesh().replace("match: [{uri: {prefix: /uh}}]", "match: [{uri: {prefix: /moved}}]"));
  await waitFor('every worker to apply the reload', async () => (await sample(8)).every((x) => x === 503), 5000, 50);
  assert.equal((JSON.parse((await adminGet(proxy.adminPort, '/config_dump')).body) as { version: number }).version, 2);

  // A broken file: every worker rejects it; routing stays; the merged counter says one rejection.
  dir.write('mesh.yaml', 'kind: VirtualService\n  bad: [indent\n');
  await waitFor('the rejection in /stats/prometheus', async () => {
    s = parseProm((await adminGet(proxy.adminPort, '/stats/prometheus')).body);
    return promSum(s, 'isthmus_config_reloads_total', { result: 'rejected' }) >= 1;
  }, 5000);
  assert.equal(promSum(s, 'isthmus_config_reloads_total', { result: 'rejected' }), 1);
  assert.equal(promSum(s, 'isthmus_config_reloads_total', { result: 'applied' }), 1);
  assert.ok((await sample(6)).every((x) => x === 503), 'a rejected reload changed routing');
  await waitFor('the primary to log the rejection', () => proxy.stderr.some((l) => /^config rejected: /.test(l)), 5000);
});
