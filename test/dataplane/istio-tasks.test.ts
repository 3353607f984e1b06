/**
 * Istio's traffic-management tasks, reproduced with the plain Istio YAML of examples/tasks/
 * and the Bookinfo services of examples/bookinfo/ (endpoint ports rewritten to real
 * upstreams on loopback) through a whole in-process `isthmus run`:
 * - Request timeouts: reviews (timeout 0.5s) -> v2 -> ratings (2 s delay): 504 after ~0.5 s.
 * - Circuit breaking: httpbin with maxConnections 1 / http1MaxPendingRequests 1 /
 *   maxRequestsPerConnection 1 under a fortio-like load of 2 and then 3 concurrent clients.
 * - Fault injection: jason's calls to ratings delayed (7 s in the sample, shortened here) or
 *   aborted with 500; other users unaffected.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadText } from '../../src/api/load.js';
import { validateResources } from '../../src/validate/index.js';
import { adminGet, configDir, parseProm, promSum, REPO_ROOT, startRuntime, type RuntimeHandle } from '../support/harness.js';
import { startUpstream, type Upstream } from '../support/mesh.js';
import { answer, fresh } from './resilience-kit.js';

const EXAMPLES = join(REPO_ROOT, 'examples');
const TASKS = ['request-timeouts', 'fault-injection-delay', 'fault-injection-abort', 'circuit-breaking'];

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

function read(rel: string): string {
  return readFileSync(join(EXAMPLES, rel), 'utf8');
}

function taskFiles(task: string): string[] {
  return readdirSync(join(EXAMPLES, 'tasks', task)).filter((f) => f.endsWith('.yaml')).map((f) => `tasks/${task}/${f}`);
}

/** The example files with Bookinfo's fixed endpoint ports replaced by the test's upstreams. */
function withPorts(text: string, ports: Record<number, number>): string {
  return text.replace(/ports: \{http: (\d+)\}/g, (m, p: string) => (ports[Number(p)] ? `ports: {http: ${ports[Number(p)]}}` : m));
}

async function runTask(task: string, ports: Record<number, number>, rewrite: (s: string) => string = (s) => s): Promise<RuntimeHandle> {
  const dir = configDir();
  cleanup.push(() => dir.cleanup());
  for (const f of ['bookinfo/services.yaml', 'bookinfo/destination-rules.yaml', ...taskFiles(task)]) {
    dir.write(f.replace(/\//g, '_'), rewrite(withPorts(read(f), ports)));
  }
  const h = await startRuntime([dir.dir], { namespace: 'bookinfo', labels: { app: 'productpage', version: 'v1' }, accessLog: false });
  cleanup.push(() => h.close());
  return h;
}

async function upstream(name: string): Promise<Upstream> {
  const u = await startUpstream(name);
  cleanup.push(() => u.close());
  return u;
}

/** GET through the sidecar as the Bookinfo services call each other (`Host: <service>:9080`). */
function call(port: number, host: string, path: string, headers: Record<string, string>, signal?: AbortSignal): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host, ...headers }, agent: false, signal }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * Bookinfo's reviews v2: calls ratings through the sidecar, passing `end-user` on, and says
 * what it got. If its own caller goes away, it abandons the ratings call.
 */
async function reviewsV2(proxyPort: () => number): Promise<Upstream> {
  const u = await upstream('reviews-v2');
  u.respond = (r, res) => {
    const ac = new AbortController();
    res.on('close', () => ac.abort());
    const user = r.headers['end-user'];
    call(proxyPort(), 'ratings:9080', '/ratings/0', typeof user === 'string' ? { 'end-user': user } : {}, ac.signal).then(
      (x) => answer(res, 200, `reviews-v2 ratings=${x.status} ${x.body}`),
      () => answer(res, 200, 'reviews-v2 ratings unavailable'),
    );
  };
  return u;
}

test('the task folders are plain Istio YAML that validates', () => {
  for (const task of TASKS) {
    for (const f of taskFiles(task)) {
      const l = loadText(read(f), f, { namespace: 'default' });
      const v = validateResources(l.resources);
      const errors = [...l.diagnostics, ...v.diagnostics].filter((d) => d.severity === 'error');
      assert.deepEqual(errors, [], f);
      assert.ok(l.resources.length >= 2, f);
    }
  }
});

test('Request timeouts: reviews has timeout 0.5s, ratings a 2 s delay: the caller of reviews gets 504 after ~0.5 s', { timeout: 20_000 }, async () => {
  let proxyPort = 0;
  const v2 = await reviewsV2(() => proxyPort);
  const ratings = await upstream('ratings');
  const h = await runTask('request-timeouts', { 19083: v2.port, 19085: ratings.port });
  proxyPort = h.port;
  const r = await fresh(h.port, 'reviews:9080', '/reviews/0');
  assert.equal(r.status, 504);
  assert.equal(r.body, 'upstream request timeout');
  assert.ok(Math.abs(r.ms - 500) <= 200, `took ${r.ms.toFixed(0)} ms`);
  assert.equal(v2.seen.length, 1, 'the request reached reviews v2, which was waiting on ratings');
  assert.equal(ratings.seen.length, 0, 'ratings had not been reached: the delay was still running');
  const prom = parseProm((await adminGet(h.adminPort, '/stats/prometheus')).body);
  assert.equal(promSum(prom, 'istio_requests_total', { destination_service_name: 'reviews', response_code: '504', response_flags: 'UT' }), 1);
  assert.equal(promSum(prom, 'envoy_cluster_upstream_rq_timeout', { cluster_name: 'outbound|9080|v2|reviews.bookinfo.svc.cluster.local' }), 1);
});

test('Fault injection (delay): jason reaches ratings through reviews v2 after the injected delay; other users go to v1 undelayed', { timeout: 20_000 }, async () => {
  let proxyPort = 0;
  const v1 = await upstream('reviews-v1');
  const v2 = await reviewsV2(() => proxyPort);
  const ratings = await upstream('ratings');
  // The sample's 7 s, shortened to keep the suite fast; the mechanism is the same.
  const h = await runTask('fault-injection-delay', { 19082: v1.port, 19083: v2.port, 19085: ratings.port }, (s) => s.replace('fixedDelay: 7s', 'fixedDelay: 700ms'));
  proxyPort = h.port;
  const jason = await fresh(h.port, 'reviews:9080', '/reviews/0', { 'end-user': 'jason' });
  assert.equal(jason.status, 200);
  assert.equal(jason.body, 'reviews-v2 ratings=200 ratings /ratings/0');
  assert.ok(jason.ms >= 690 && jason.ms < 1500, `jason took ${jason.ms.toFixed(0)} ms`);
  const mary = await fresh(h.port, 'reviews:9080', '/reviews/0', { 'end-user': 'mary' });
  assert.equal(mary.body, 'reviews-v1 /reviews/0');
  assert.ok(mary.ms < 400, `mary took ${mary.ms.toFixed(0)} ms`);
  const direct = await fresh(h.port, 'ratings:9080', '/ratings/0', { 'end-user': 'mary' });
  assert.equal(direct.status, 200);
  assert.ok(direct.ms < 400, `mary to ratings took ${direct.ms.toFixed(0)} ms`);
  const prom = parseProm((await adminGet(h.adminPort, '/stats/prometheus')).body);
  assert.equal(promSum(prom, 'istio_requests_total', { destination_service_name: 'ratings', response_flags: 'DI' }), 1);
});

test('Fault injection (abort): jason\'s calls to ratings get 500 `fault filter abort` without reaching it; other users are unaffected', { timeout: 20_000 }, async () => {
  let proxyPort = 0;
  const v1 = await upstream('reviews-v1');
  const v2 = await reviewsV2(() => proxyPort);
  const ratings = await upstream('ratings');
  const h = await runTask('fault-injection-abort', { 19082: v1.port, 19083: v2.port, 19085: ratings.port });
  proxyPort = h.port;
  const jason = await fresh(h.port, 'reviews:9080', '/reviews/0', { 'end-user': 'jason' });
  assert.equal(jason.body, 'reviews-v2 ratings=500 fault filter abort');
  assert.equal(ratings.seen.length, 0);
  const mary = await fresh(h.port, 'ratings:9080', '/ratings/0', { 'end-user': 'mary' });
  assert.equal(mary.status, 200);
  assert.equal(ratings.seen.length, 1);
  assert.equal((await fresh(h.port, 'reviews:9080', '/reviews/0')).body, 'reviews-v1 /reviews/0');
  const prom = parseProm((await adminGet(h.adminPort, '/stats/prometheus')).body);
  assert.equal(promSum(prom, 'istio_requests_total', { destination_service_name: 'ratings', response_code: '500', response_flags: 'FI' }), 1);
});

/** A fortio-like load: `c` clients, each on its own keep-alive connection, `n` calls in all, as fast as possible. */
async function fortio(port: number, c: number, n: number): Promise<{ codes: Record<number, number>; overloaded: number }> {
  const codes: Record<number, number> = {};
  let overloaded = 0;
  const worker = async (calls: number): Promise<void> => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; i < calls; i++) {
        const r = await new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port, path: '/get', headers: { host: 'httpbin:8000' }, agent }, (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
          }).on('error', reject);
        });
        codes[r.status] = (codes[r.status] ?? 0) + 1;
        if (r.headers['x-envoy-overloaded'] === 'true') overloaded++;
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: c }, (_, i) => worker(Math.floor(n / c) + (i < n % c ? 1 : 0))));
  return { codes, overloaded };
}

test('Circuit breaking: 2 concurrent clients mostly pass, 3 get more 503 UO; upstream_rq_pending_overflow counts them; httpbin is not ejected', { timeout: 30_000 }, async () => {
  // httpbin in another pod answers in a few milliseconds, not instantly.
  const httpbin = await upstream('httpbin');
  httpbin.respond = (_r, res) => answer(res, 200, '{"url": "http://httpbin:8000/get"}', 5);
  const h = await runTask('circuit-breaking', { 18000: httpbin.port });
  const CL = 'outbound|8000||httpbin.bookinfo.svc.cluster.local';
  const overflow = async (): Promise<number> => promSum(parseProm((await adminGet(h.adminPort, '/stats/prometheus')).body), 'envoy_cluster_upstream_rq_pending_overflow', { cluster_name: CL });

  const one = await fortio(h.port, 1, 10);
  assert.deepEqual(one.codes, { 200: 10 }, 'one client at a time never trips the breaker');

  const two = await fortio(h.port, 2, 20);
  const fail2 = two.codes[503] ?? 0;
  assert.ok((two.codes[200] ?? 0) >= 14, `2 clients: ${JSON.stringify(two.codes)}`);
  assert.equal(two.overloaded, fail2);
  const after2 = await overflow();
  assert.equal(after2, fail2);

  const three = await fortio(h.port, 3, 30);
  const fail3 = three.codes[503] ?? 0;
  assert.ok(fail3 >= 3 && fail3 > fail2, `3 clients: ${JSON.stringify(three.codes)} (2 clients: ${JSON.stringify(two.codes)})`);
  assert.equal(three.overloaded, fail3, 'every 503 is an overflow');
  assert.equal(await overflow(), after2 + fail3, 'the counter grew by the 503s');

  const json = JSON.parse((await adminGet(h.adminPort, '/clusters?format=json')).body) as { cluster_statuses: Array<{ name: string; endpoints: Array<{ ejected: boolean }> }> };
  assert.equal(json.cluster_statuses.find((c) => c.name === CL)!.endpoints[0].ejected, false, 'overflow 503s do not count for outlier detection');
});
