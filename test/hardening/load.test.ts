/**
 * Load held (issue #8 point 7; reliability-security.md §3.2): 20,000 HTTP/1.1 keep-alive
 * requests at concurrency 50, then 5,000 h2c requests on 50 concurrent streams, through the
 * proxy to a three-endpoint service. Zero client errors, zero non-2xx, every response body
 * is the answer to its own request (a mix-up between pooled connections would show), the
 * upstreams saw every request exactly once (no loss, no duplicate: nothing retried), the
 * endpoints shared the load evenly, and the proxy's own metrics agree.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { parseProm, promSum } from '../support/harness.js';
import { adminGet, assertHealthy, settle, startFixture, withTimeout, type Fixture } from './kit.js';

const ENDPOINTS = 3;

/** One endpoint: answers `<name> <path>` and counts every request id it sees. */
interface Endpoint {
  name: string;
  port: number;
  count: number;
  close(): Promise<void>;
}

/** Arrivals per request id, across all endpoints (ids are small integers). */
let arrivals = new Uint8Array(0);

async function endpoint(name: string): Promise<Endpoint> {
  const e: Endpoint = { name, port: 0, count: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    e.count++;
    const url = req.url ?? '';
    const id = Number(url.slice(url.lastIndexOf('/') + 1));
    if (Number.isInteger(id) && id >= 0 && id < arrivals.length) arrivals[id] = Math.min(255, arrivals[id] + 1);
    const body = `${name} ${url}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  e.port = (server.address() as AddressInfo).port;
  e.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return e;
}

let fx: Fixture;
let eps: Endpoint[] = [];

before(async () => {
  eps = await Promise.all(Array.from({ length: ENDPOINTS }, (_, i) => endpoint(`ep${i}`)));
  const endpoints = eps.map((e) => `  - {address: 127.0.0.1, ports: {http: ${e.port}}}`).join('\n');
  fx = await startFixture({
    yaml: `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: load}
spec:
  hosts: [load.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
${endpoints}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: load}
spec:
  host: load
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
---
`,
  });
});

after(async () => {
  await fx?.close();
  await Promise.all(eps.map((e) => e.close()));
});

interface Tally {
  ok: number;
  failures: string[];
  latencies: Float64Array;
}

/** Sends ids [0, n) through `send`, `concurrency` at a time; every outcome is checked. */
async function drive(n: number, concurrency: number, send: (id: number) => Promise<{ status: number; body: string }>): Promise<Tally> {
  const t: Tally = { ok: 0, failures: [], latencies: new Float64Array(n) };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const id = next++;
      const t0 = performance.now();
      try {
        const r = await send(id);
        t.latencies[id] = performance.now() - t0;
        if (r.status === 200 && /^ep\d+ \/r\/(\d+)$/.exec(r.body)?.[1] === String(id)) t.ok++;
        else t.failures.push(`#${id}: ${r.status} ${JSON.stringify(r.body.slice(0, 60))}`);
      } catch (e) {
        t.failures.push(`#${id}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return t;
}

function p99(t: Tally): number {
  const s = Float64Array.from(t.latencies).sort();
  return s[Math.floor(s.length * 0.99)];
}

/** Upstream arrivals: every id in [0, n) exactly once, shared evenly by the endpoints. */
function assertExactArrivals(n: number, counts: number[]): void {
  const missing: number[] = [];
  const dup: number[] = [];
  for (let i = 0; i < n; i++) {
    if (arrivals[i] === 0) missing.push(i);
    else if (arrivals[i] > 1) dup.push(i);
  }
  assert.deepEqual({ missing: missing.slice(0, 10), duplicated: dup.slice(0, 10) }, { missing: [], duplicated: [] }, `${missing.length} ids never arrived, ${dup.length} arrived more than once`);
  assert.equal(counts.reduce((a, b) => a + b, 0), n, `the endpoints saw ${counts.join(' + ')} requests`);
  for (const c of counts) assert.ok(Math.abs(c - n / ENDPOINTS) <= 0.05 * (n / ENDPOINTS), `uneven split: ${counts.join(' / ')}`);
}

async function requestsTotal(code: string): Promise<number> {
  fx.h.rt.proxy?.clusters.syncStats();
  const m = parseProm((await adminGet(fx.h.adminPort, '/stats/prometheus')).body);
  return promSum(m, 'istio_requests_total', { destination_service: 'load.default.svc.cluster.local', response_code: code });
}

test('20,000 HTTP/1.1 keep-alive requests at concurrency 50: zero errors, every body its own, every id upstream exactly once', { timeout: 120_000 }, async (t) => {
  const N = 20_000;
  arrivals = new Uint8Array(N);
  const counts0 = eps.map((e) => e.count);
  const ok0 = await requestsTotal('200');
  const pool = new Pool(`http://127.0.0.1:${fx.port}`, { connections: 50, pipelining: 1, keepAliveTimeout: 30_000 });
  t.after(() => pool.close());
  const t0 = performance.now();
  const tally = await withTimeout(
    drive(N, 50, async (id) => {
      const r = await pool.request({ method: 'GET', path: `/r/${id}`, headers: { host: 'load' } });
      return { status: r.statusCode, body: await r.body.text() };
    }),
    100_000,
    '20,000 requests',
  );
  const secs = (performance.now() - t0) / 1000;
  t.diagnostic(`${N} requests in ${secs.toFixed(1)} s (${(N / secs).toFixed(0)}/s), p99 ${p99(tally).toFixed(1)} ms`);
  assert.deepEqual(tally.failures.slice(0, 10), [], `${tally.failures.length} of ${N} requests failed`);
  assert.equal(tally.ok, N);
  await settle(fx);
  assertExactArrivals(N, eps.map((e, i) => e.count - counts0[i]));
  assert.equal((await requestsTotal('200')) - ok0, N, 'istio_requests_total{response_code="200"} disagrees');
  await assertHealthy(fx);
});

test('5,000 h2c requests on 50 concurrent streams over 5 sessions: zero errors, exact arrivals', { timeout: 120_000 }, async (t) => {
  const N = 5_000;
  arrivals = new Uint8Array(N);
  const counts0 = eps.map((e) => e.count);
  const sessions = Array.from({ length: 5 }, () => {
    const s = http2.connect(`http://127.0.0.1:${fx.port}`);
    s.on('error', () => undefined);
    return s;
  });
  t.after(() => sessions.forEach((s) => s.destroy()));
  const t0 = performance.now();
  const tally = await withTimeout(
    drive(N, 50, (id) =>
      new Promise((resolve, reject) => {
        const st = sessions[id % sessions.length].request({ ':path': `/r/${id}`, ':authority': 'load' }, { endStream: true });
        let status = 0;
        const chunks: Buffer[] = [];
        st.on('response', (h) => (status = Number(h[':status'])));
        st.on('data', (c: Buffer) => chunks.push(c));
        st.on('end', () => resolve({ status, body: Buffer.concat(chunks).toString() }));
        st.on('error', reject);
      }),
    ),
    100_000,
    '5,000 h2c requests',
  );
  const secs = (performance.now() - t0) / 1000;
  t.diagnostic(`${N} h2c requests in ${secs.toFixed(1)} s (${(N / secs).toFixed(0)}/s), p99 ${p99(tally).toFixed(1)} ms`);
  assert.deepEqual(tally.failures.slice(0, 10), [], `${tally.failures.length} of ${N} requests failed`);
  await settle(fx);
  assertExactArrivals(N, eps.map((e, i) => e.count - counts0[i]));
  await assertHealthy(fx);
});
