/**
 * The proxy against real upstreams on loopback: every HTTPRoute action, the Envoy answers
 * and headers, forward-proxy and h2c downstreams.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { compile, request, requestH2, serviceEntry, startProxy, startUpstream, seeded, type RunningProxy, type Upstream } from '../support/mesh.js';

let v1: Upstream, v2: Upstream, mirror: Upstream, other: Upstream;
let p: RunningProxy;
let deadPort: number;

const sidecar = { role: 'sidecar' as const, namespace: 'default', labels: { app: 'client' } };

function config(): string {
  return (
    serviceEntry('reviews', 'default', 9080, [
      { port: v1.port, labels: { version: 'v1' } },
      { port: v2.port, labels: { version: 'v2' } },
    ]) +
    serviceEntry('shadow', 'default', 9080, [{ port: mirror.port, labels: { app: 'shadow' } }]) +
    serviceEntry('other', 'default', 8000, [{ port: other.port, labels: { app: 'other' } }]) +
    serviceEntry('dead', 'default', 9080, [{ port: deadPort, labels: { app: 'dead' } }]) +
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v9, labels: {version: v9}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - name: redirect
    match: [{uri: {prefix: /old}}]
    redirect: {uri: /new, authority: new.example.com, redirectCode: 302}
  - name: direct
    match: [{uri: {exact: /health}}]
    directResponse: {status: 418, body: {string: "short and stout"}}
  - name: rewrite
    match: [{uri: {prefix: /api/v1/}}]
    rewrite: {uri: /v2/, authority: rewritten.example.com}
    route: [{destination: {host: reviews, subset: v1}}]
  - name: regex-rewrite
    match: [{uri: {prefix: /svc/}}]
    rewrite:
      uriRegexRewrite: {match: "^/svc/([^/]+)/(.*)$", rewrite: "/\\\\2/of/\\\\1"}
    route: [{destination: {host: reviews, subset: v1}}]
  - name: headers
    match: [{uri: {prefix: /headers}}]
    headers:
      request:
        set: {x-set: route}
        add: {x-add: route}
        remove: [x-remove-me]
      response:
        set: {x-resp-set: route}
        remove: [x-upstream]
    route:
    - destination: {host: reviews, subset: v1}
      headers:
        request: {set: {x-dest: v1}}
        response: {add: {x-resp-dest: v1}}
  - name: cors
    match: [{uri: {prefix: /cors}}]
    corsPolicy:
      allowOrigins: [{exact: "https://ok.example"}]
      allowMethods: [GET, POST]
      allowHeaders: [x-custom]
      exposeHeaders: [x-upstream]
      maxAge: 24h
      allowCredentials: true
    route: [{destination: {host: reviews, subset: v1}}]
  - name: mirror
    match: [{uri: {prefix: /mirror}}]
    mirror: {host: shadow}
    route: [{destination: {host: reviews, subset: v1}}]
  - name: nosubset
    match: [{uri: {prefix: /nc}}]
    route: [{destination: {host: reviews, subset: v7}}]
  - name: noendpoints
    match: [{uri: {prefix: /uh}}]
    route: [{destination: {host: reviews, subset: v9}}]
  - name: split
    match: [{uri: {prefix: /split}}]
    route:
    - {destination: {host: reviews, subset: v1}, weight: 75}
    - {destination: {host: reviews, subset: v2}, weight: 25}
  - name: only-get
    match: [{uri: {prefix: /only-get}, method: {exact: GET}}]
    route: [{destination: {host: reviews, subset: v1}}]
  - name: default
    match: [{uri: {prefix: /}, withoutHeaders: {x-block: {}}}]
    route: [{destination: {host: reviews, subset: v1}}]
`
  );
}

before(async () => {
  [v1, v2, mirror, other] = await Promise.all([startUpstream('v1'), startUpstream('v2'), startUpstream('mirror'), startUpstream('other')]);
  const dead = await startUpstream('dead');
  deadPort = dead.port;
  await dead.close();
  p = await startProxy(compile(config(), sidecar), { rnd: seeded(7) });
});

after(async () => {
  await p?.close();
  await Promise.all([v1, v2, mirror, other].map((u) => u?.close()));
});

test('header match routes to subset v2, others to v1; port in Host ignored', async () => {
  const a = await request(p.port, 'reviews:9080', '/x', { headers: { 'end-user': 'jason' } });
  assert.equal(a.status, 200);
  assert.equal(a.body, 'v2 /x');
  const b = await request(p.port, 'reviews.default.svc.cluster.local:9080', '/x');
  assert.equal(b.body, 'v1 /x');
  // No port: the service's only HTTP port is used.
  const c = await request(p.port, 'reviews', '/x');
  assert.equal(c.body, 'v1 /x');
});

test('Envoy headers: x-request-id generated, x-forwarded-proto, attempt count, upstream service time, hop-by-hop stripped, x-envoy-* from clients dropped', async () => {
  const before = v1.seen.length;
  const r = await request(p.port, 'reviews', '/hdr', {
    headers: { connection: 'keep-alive, x-secret', 'x-secret': '1', 'keep-alive': 'timeout=1', te: 'gzip', 'proxy-authorization': 'x', 'x-envoy-retry-on': '5xx', 'x-envoy-max-retries': '9' },
  });
  assert.equal(r.status, 200);
  assert.match(String(r.headers['x-envoy-upstream-service-time']), /^\d+$/);
  assert.equal(r.headers.server, 'envoy');
  const seen = v1.seen[before].headers;
  assert.match(String(seen['x-request-id']), /^[0-9a-f-]{36}$/);
  assert.equal(seen['x-forwarded-proto'], 'http');
  assert.equal(seen['x-envoy-attempt-count'], '1');
  for (const h of ['x-secret', 'keep-alive', 'te', 'proxy-authorization', 'x-envoy-retry-on', 'x-envoy-max-retries']) assert.equal(seen[h], undefined, h);
  assert.equal(seen.host, 'reviews');
  const kept = await request(p.port, 'reviews', '/hdr', { headers: { 'x-request-id': 'abc' } });
  assert.equal(kept.status, 200);
  assert.equal(v1.seen.at(-1)?.headers['x-request-id'], 'abc');
});

test('redirect', async () => {
  const r = await request(p.port, 'reviews', '/old/page?q=1');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, 'http://new.example.com/new?q=1');
});

test('direct response', async () => {
  const r = await request(p.port, 'reviews', '/health');
  assert.equal(r.status, 418);
  assert.equal(r.body, 'short and stout');
});

test('rewrite: prefix and authority, original path kept in x-envoy-original-path', async () => {
  const r = await request(p.port, 'reviews', '/api/v1/items?x=1');
  assert.equal(r.body, 'v1 /v2/items?x=1');
  const seen = v1.seen.at(-1)!;
  assert.equal(seen.headers.host, 'rewritten.example.com');
  assert.equal(seen.headers['x-envoy-original-path'], '/api/v1/items?x=1');
});

test('rewrite: uriRegexRewrite with capture groups', async () => {
  const r = await request(p.port, 'reviews', '/svc/alpha/beta');
  assert.equal(r.body, 'v1 /beta/of/alpha');
});

test('header operations at route and destination level, request and response', async () => {
  const r = await request(p.port, 'reviews', '/headers', { headers: { 'x-add': 'client', 'x-remove-me': '1', 'x-set': 'client' } });
  assert.equal(r.status, 200);
  const seen = v1.seen.at(-1)!.headers;
  assert.equal(seen['x-set'], 'route');
  assert.equal(seen['x-add'], 'client,route');
  assert.equal(seen['x-remove-me'], undefined);
  assert.equal(seen['x-dest'], 'v1');
  assert.equal(r.headers['x-resp-set'], 'route');
  assert.equal(r.headers['x-resp-dest'], 'v1');
  assert.equal(r.headers['x-upstream'], undefined);
});

test('CORS: allowed preflight answered by the proxy; actual request decorated; other origins untouched', async () => {
  const before = v1.seen.length;
  const pre = await request(p.port, 'reviews', '/cors', { method: 'OPTIONS', headers: { origin: 'https://ok.example', 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers['access-control-allow-origin'], 'https://ok.example');
  assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
  assert.equal(pre.headers['access-control-allow-headers'], 'x-custom');
  assert.equal(pre.headers['access-control-max-age'], '86400');
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  assert.equal(v1.seen.length, before, 'preflight must not reach the upstream');
  const actual = await request(p.port, 'reviews', '/cors', { headers: { origin: 'https://ok.example' } });
  assert.equal(actual.headers['access-control-allow-origin'], 'https://ok.example');
  assert.equal(actual.headers['access-control-expose-headers'], 'x-upstream');
  const bad = await request(p.port, 'reviews', '/cors', { headers: { origin: 'https://evil.example' } });
  assert.equal(bad.headers['access-control-allow-origin'], undefined);
  // An unmatched preflight is forwarded (unmatchedPreflights defaults to FORWARD).
  const fwd = await request(p.port, 'reviews', '/cors', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(fwd.body, 'v1 /cors');
});

test('mirror: the shadow gets a copy with the original Host, the caller gets the primary answer', async () => {
  const before = mirror.seen.length;
  const r = await request(p.port, 'reviews', '/mirror/1');
  assert.equal(r.body, 'v1 /mirror/1');
  const deadline = Date.now() + 3000;
  while (mirror.seen.length === before && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  assert.equal(mirror.seen.length, before + 1);
  assert.equal(mirror.seen.at(-1)!.url, '/mirror/1');
  assert.equal(mirror.seen.at(-1)!.headers.host, 'reviews');
});

test('no route: 404 NR; undefined subset: 503 NC; subset with no endpoints: 503 no healthy upstream (UH)', async () => {
  const nr = await request(p.port, 'reviews', '/anything', { headers: { 'x-block': '1' } });
  assert.equal(nr.status, 404);
  const nc = await request(p.port, 'reviews', '/nc');
  assert.equal(nc.status, 503);
  const uh = await request(p.port, 'reviews', '/uh');
  assert.equal(uh.status, 503);
  assert.equal(uh.body, 'no healthy upstream');
  const flags = p.completed.slice(-3).map((i) => i.flags);
  assert.ok(flags.every((f) => f !== 0));
});

test('connect failure: 503 with Envoy reset text (UF)', async () => {
  const r = await request(p.port, 'dead', '/');
  assert.equal(r.status, 503);
  assert.match(r.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure/);
});

test('a 75/25 split lands within ±3 points over 2,000 requests', async () => {
  const n = 2000;
  let a = 0;
  const batch = 50;
  for (let i = 0; i < n; i += batch) {
    const rs = await Promise.all(Array.from({ length: batch }, () => request(p.port, 'reviews', '/split')));
    for (const r of rs) if (r.body.startsWith('v1')) a++;
  }
  const pct = (100 * a) / n;
  assert.ok(Math.abs(pct - 75) <= 3, `v1 got ${pct}%`);
});

test('method match', async () => {
  assert.equal((await request(p.port, 'reviews', '/only-get')).body, 'v1 /only-get');
});

test('forward-proxy (absolute-form) requests route by the URL authority', async () => {
  const r = await request(p.port, 'ignored', 'http://reviews:9080/abs?x=1', { headers: { 'end-user': 'jason' } });
  assert.equal(r.body, 'v2 /abs?x=1');
});

test('unknown host: ALLOW_ANY passes through to the requested address', async () => {
  const r = await request(p.port, `127.0.0.1:${other.port}`, '/pass');
  assert.equal(r.status, 200);
  assert.equal(r.body, 'other /pass');
  assert.equal(p.completed.at(-1)!.upstreamCluster, 'PassthroughCluster');
});

test('HTTP/2 prior knowledge (h2c) on the same listener', async () => {
  const r = await requestH2(p.port, 'reviews:9080', '/h2', { 'end-user': 'jason' });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'v2 /h2');
});

test('POST bodies are forwarded', async () => {
  const r = await request(p.port, 'reviews', '/post', { method: 'POST', body: 'hello body', headers: { 'content-type': 'text/plain' } });
  assert.equal(r.status, 200);
  assert.equal(v1.seen.at(-1)!.body, 'hello body');
  const big = 'x'.repeat(200 * 1024);
  const r2 = await request(p.port, 'reviews', '/post', { method: 'POST', body: big });
  assert.equal(r2.status, 200);
  assert.equal(v1.seen.at(-1)!.body.length, big.length);
});
