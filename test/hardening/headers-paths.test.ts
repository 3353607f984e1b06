/**
 * Headers and paths from untrusted clients (reliability-security.md §1.2, §1.4, §4.3):
 * Envoy control headers (`x-envoy-*`) are neither honoured nor forwarded; a client's
 * `x-forwarded-client-cert` never reaches the upstream; at the gateway (the edge) a spoofed
 * `x-forwarded-for`/`-proto` is replaced, keeping only what `numTrustedProxies` trusted hops
 * added; path normalisation (Istio BASE by default, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES,
 * NONE) decides both the route and the path sent upstream, so a deny route cannot be walked
 * around with `..`, `%2e`, `%61`, `\`, `//`, `%2F` or `#`; `%00` gets 400; hosts match
 * case-insensitively and with a trailing dot, on HTTP/1.1 and HTTP/2.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { assertHealthy, rawExchange, send, settle, startFixture, type Fixture } from './kit.js';

/** Routes of the `web` service: /admin is denied by the proxy itself, /slow has a 300 ms timeout. */
const ROUTES = `  - match: [{uri: {exact: /admin}}, {uri: {prefix: /admin/}}]
    directResponse: {status: 403, body: {string: denied}}
  - match: [{uri: {prefix: /slow}}]
    timeout: 300ms
    route: [{destination: {host: web.default.svc.cluster.local}}]
  - route: [{destination: {host: web.default.svc.cluster.local}}]
`;
const SIDECAR_VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web.default.svc.cluster.local]
  http:
${ROUTES}---
`;

let side: Fixture;
let gw: Fixture;

/** The upstream answers /fail with 500 and /slow after 600 ms; everything else as usual. */
function script(fx: Fixture): void {
  const prev = fx.up.respond;
  fx.up.respond = (req, res) => {
    if (req.url?.startsWith('/fail')) {
      req.resume();
      res.statusCode = 500;
      res.end('boom');
    } else if (req.url?.startsWith('/slow')) {
      req.resume();
      setTimeout(() => res.end('slow'), 600).unref();
    } else prev(req, res);
  };
}

before(async () => {
  side = await startFixture({ yaml: SIDECAR_VS });
  gw = await startFixture({ role: 'gateway', gatewayHttp: ROUTES });
  script(side);
  script(gw);
});
after(async () => {
  await side?.close();
  await gw?.close();
});

const HOST = { sidecar: 'web', gateway: 'web.example.com' } as const;

/** The client's attempt to steer retries, timeouts, tracing and identity. */
const CONTROL = {
  'x-envoy-retry-on': '5xx,reset,connect-failure',
  'x-envoy-retry-grpc-on': 'unavailable',
  'x-envoy-max-retries': '50',
  'x-envoy-upstream-rq-timeout-ms': '999999',
  'x-envoy-upstream-rq-per-try-timeout-ms': '1',
  'x-envoy-expected-rq-timeout-ms': '999999',
  'x-envoy-internal': 'true',
  'x-envoy-force-trace': 'true',
  'x-envoy-decorator-operation': 'spoofed',
  'x-envoy-original-path': '/spoofed',
  'x-envoy-external-address': '6.6.6.6',
  'x-forwarded-client-cert': 'By=spiffe://cluster.local/ns/default/sa/admin;URI=spiffe://cluster.local/ns/default/sa/admin',
};

for (const role of ['sidecar', 'gateway'] as const) {
  test(`${role}: client x-envoy-* control headers are not honoured (no retries, the route timeout holds) and not forwarded; XFCC is dropped`, { timeout: 20_000 }, async () => {
    const fx = role === 'sidecar' ? side : gw;
    const before = fx.up.arrivals.length;
    const r = await send(fx.port, HOST[role], '/fail-ctl', { headers: CONTROL });
    assert.equal(r.status, 500, 'the 500 was retried into something else');
    await settle(fx);
    const arrived = fx.up.arrivals.slice(before);
    assert.equal(arrived.length, 1, `the upstream saw ${arrived.length} attempts: the client's retry policy was honoured`);
    const h = arrived[0].headers;
    const envoy = Object.keys(h).filter((k) => k.startsWith('x-envoy-')).sort();
    const allowed = role === 'gateway' ? ['x-envoy-attempt-count', 'x-envoy-external-address'] : ['x-envoy-attempt-count'];
    assert.deepEqual(envoy, allowed);
    assert.equal(h['x-forwarded-client-cert'], undefined);
    if (role === 'gateway') assert.equal(h['x-envoy-external-address'], '127.0.0.1');
    // The per-try timeout of 1 ms the client asked for did not apply either: this one succeeds.
    assert.equal((await send(fx.port, HOST[role], '/ok-ctl', { headers: CONTROL })).status, 200);
    // And the route timeout (300 ms) is not stretched by x-envoy-upstream-rq-timeout-ms.
    const t0 = performance.now();
    const slow = await send(fx.port, HOST[role], '/slow', { headers: CONTROL });
    // Had the client's 999999 ms been honoured, the upstream's answer (at 600 ms) would be a 200.
    assert.equal(slow.status, 504);
    assert.ok(performance.now() - t0 < 2000, `the route timeout took ${Math.round(performance.now() - t0)} ms`);
    await settle(fx);
  });
}

test('gateway: a spoofed x-forwarded-for / x-forwarded-proto is replaced by the socket peer and the real scheme', { timeout: 20_000 }, async () => {
  const before = gw.up.arrivals.length;
  const r = await send(gw.port, HOST.gateway, '/xff', { headers: { 'x-forwarded-for': '6.6.6.6, 7.7.7.7', 'x-forwarded-proto': 'https', 'x-real-ip': '6.6.6.6' } });
  assert.equal(r.status, 200);
  await settle(gw);
  const h = gw.up.arrivals.slice(before)[0].headers;
  assert.equal(h['x-forwarded-for'], '127.0.0.1');
  assert.equal(h['x-forwarded-proto'], 'http');
  assert.equal(h['x-envoy-external-address'], '127.0.0.1');
  // Two x-forwarded-for header lines are one list: still replaced.
  const raw = await rawExchange(gw.port, [`GET /xff2 HTTP/1.1\r\nHost: ${HOST.gateway}\r\nX-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 7.7.7.7\r\nConnection: close\r\n\r\n`]);
  assert.equal(raw.status, 200);
  await settle(gw);
  assert.equal(gw.up.arrivals.at(-1)!.headers['x-forwarded-for'], '127.0.0.1');
});

test('gateway with --num-trusted-proxies 1: the last hop of x-forwarded-for is kept (the trusted client address), earlier ones dropped; its x-forwarded-proto is believed', { timeout: 20_000 }, async (t) => {
  const fx = await startFixture({ role: 'gateway', run: { numTrustedProxies: 1 } });
  t.after(() => fx.close());
  const r = await send(fx.port, HOST.gateway, '/xff-trusted', { headers: { 'x-forwarded-for': '6.6.6.6, 203.0.113.9', 'x-forwarded-proto': 'https' } });
  assert.equal(r.status, 200);
  await settle(fx);
  const h = fx.up.arrivals.at(-1)!.headers;
  assert.equal(h['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
  assert.equal(h['x-envoy-external-address'], '203.0.113.9');
  assert.equal(h['x-forwarded-proto'], 'https');
  // Without the header the peer is the client.
  await send(fx.port, HOST.gateway, '/xff-none');
  await settle(fx);
  assert.equal(fx.up.arrivals.at(-1)!.headers['x-forwarded-for'], '127.0.0.1');
  await assertHealthy(fx);
});

test('sidecar: the application is trusted: its x-forwarded-for and x-forwarded-proto pass unchanged', { timeout: 20_000 }, async () => {
  const before = side.up.arrivals.length;
  await send(side.port, HOST.sidecar, '/xff-app', { headers: { 'x-forwarded-for': '10.1.2.3', 'x-forwarded-proto': 'https' } });
  await settle(side);
  const h = side.up.arrivals.slice(before)[0].headers;
  assert.equal(h['x-forwarded-for'], '10.1.2.3');
  assert.equal(h['x-forwarded-proto'], 'https');
  assert.equal(h['x-envoy-external-address'], undefined);
});

// ---------------------------------------------------------------------------- paths

/** Request target -> what must happen under BASE: 403 (the deny route) or the path the upstream sees. */
const BASE_CASES: Array<[string, 403 | string]> = [
  ['/admin', 403],
  ['/public/../admin', 403],
  ['/public/%2e%2e/admin', 403],
  ['/public/%2E./admin/x', 403],
  ['/%61dmin', 403],
  ['/%61%64%6d%69%6e', 403],
  ['/public\\..\\admin', 403],
  ['/admin#anything', 403],
  ['/public/./a/../b?q=/../%2e', '/public/b?q=/../%2e'],
  ['/public#/../admin', '/public'],
  // BASE keeps these as they are: what is matched is what is forwarded.
  ['//admin', '//admin'],
  ['/public%2F..%2Fadmin', '/public%2F..%2Fadmin'],
];

for (const [target, want] of BASE_CASES) {
  test(`path (BASE, sidecar): ${JSON.stringify(target)} -> ${want}`, async () => {
    const before = side.up.arrivals.length;
    const r = await rawExchange(side.port, [`GET ${target} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`]);
    await settle(side);
    const arrived = side.up.arrivals.slice(before).map((a) => a.url);
    if (want === 403) {
      assert.equal(r.status, 403, r.data.slice(0, 100));
      assert.deepEqual(arrived, []);
    } else {
      assert.equal(r.status, 200, r.data.slice(0, 100));
      assert.deepEqual(arrived, [want]);
    }
  });
}

test('path: the access log records the normalised path (the one matched and forwarded)', async () => {
  await rawExchange(side.port, ['GET /public/x/../logged HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n']);
  await settle(side);
  assert.ok(side.h.access.some((l) => (JSON.parse(l) as { path: string }).path === '/public/logged'), 'normalised path not in the access log');
});

test('path: %00 in the path is 400 on HTTP/1.1 and HTTP/2; nothing upstream', { timeout: 10_000 }, async () => {
  const before = side.up.arrivals.length;
  const r = await rawExchange(side.port, ['GET /public/%00/x HTTP/1.1\r\nHost: web\r\n\r\n']);
  assert.equal(r.status, 400);
  assert.ok(r.closed);
  assert.equal(await h2Status(side.port, 'web', '/public/%00'), 400);
  await settle(side);
  assert.equal(side.up.arrivals.length, before);
});

test('path over HTTP/2: the same normalisation decides the route', { timeout: 10_000 }, async () => {
  assert.equal(await h2Status(side.port, 'web', '/public/%2e%2e/admin'), 403);
  assert.equal(await h2Status(gw.port, HOST.gateway, '/x/..//%61dmin/'), 200, 'BASE keeps // (the deny route does not match)');
  assert.equal(await h2Status(gw.port, HOST.gateway, '/x/../%61dmin/'), 403);
});

test('--path-normalization MERGE_SLASHES, DECODE_AND_MERGE_SLASHES and NONE', { timeout: 30_000 }, async (t) => {
  const expect: Record<string, Array<[string, number | string]>> = {
    MERGE_SLASHES: [['//admin', 403], ['/public///x//y', '/public/x/y'], ['/public%2F..%2Fadmin', '/public%2F..%2Fadmin']],
    DECODE_AND_MERGE_SLASHES: [['/public%2F..%2Fadmin', 403], ['/public%5c..%5cadmin', 403], ['/a%2Fb', '/a/b'], ['//admin', 403]],
    NONE: [['/public/../admin', '/public/../admin'], ['/%61dmin', '/%61dmin'], ['/admin#x', 403], ['/x%00', 400]],
  };
  for (const [mode, cases] of Object.entries(expect)) {
    const fx = await startFixture({ yaml: SIDECAR_VS, run: { pathNormalization: mode as 'NONE' } });
    t.after(() => fx.close());
    for (const [target, want] of cases) {
      const before = fx.up.arrivals.length;
      const r = await rawExchange(fx.port, [`GET ${target} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n\r\n`]);
      await settle(fx);
      const arrived = fx.up.arrivals.slice(before).map((a) => a.url);
      if (typeof want === 'number') {
        assert.equal(r.status, want, `${mode} ${target}: ${r.data.slice(0, 80)}`);
        assert.deepEqual(arrived, [], `${mode} ${target}`);
      } else {
        assert.equal(r.status, 200, `${mode} ${target}: ${r.data.slice(0, 80)}`);
        assert.deepEqual(arrived, [want], `${mode} ${target}`);
      }
    }
  }
});

// ---------------------------------------------------------------------------- hosts

test('hosts match case-insensitively and with a trailing dot (HTTP/1.1 and HTTP/2, sidecar and gateway)', { timeout: 20_000 }, async () => {
  for (const host of ['WEB', 'Web.Default.Svc.Cluster.Local.', 'web.:80', 'web.default.svc.cluster.local.:80']) {
    assert.equal((await send(side.port, host, '/admin')).status, 403, `sidecar Host ${host}`);
    assert.equal((await send(side.port, host, '/public/hosts')).status, 200, `sidecar Host ${host}`);
  }
  for (const host of ['WEB.EXAMPLE.COM', 'web.example.com.', `Web.Example.Com.:${gw.port}`]) {
    assert.equal((await send(gw.port, host, '/admin')).status, 403, `gateway Host ${host}`);
    assert.equal((await send(gw.port, host, '/public/hosts')).status, 200, `gateway Host ${host}`);
    assert.equal(await h2Status(gw.port, host, '/admin'), 403, `gateway :authority ${host}`);
  }
  // HTTP/2 with a host header that disagrees with :authority is malformed (RFC 9113 §8.3.1).
  assert.equal(await h2Status(gw.port, HOST.gateway, '/public/x', { host: 'evil.example.com' }), 400);
  assert.equal(await h2Status(gw.port, HOST.gateway, '/public/y', { host: 'WEB.example.com' }), 200);
});

test('after the header and path tests: both proxies alive, /ready 200, 100 normal requests each', { timeout: 40_000 }, async () => {
  await assertHealthy(side);
  await assertHealthy(gw);
});

/** Status of one h2c GET (0 on a reset). */
async function h2Status(port: number, authority: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  s.on('error', () => undefined);
  try {
    return await new Promise<number>((resolve) => {
      const req = s.request({ ':path': path, ':authority': authority, ...headers });
      let status = 0;
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('error', () => resolve(0));
      req.on('close', () => resolve(status));
      req.resume();
      req.end();
    });
  } finally {
    s.close();
  }
}
