/**
 * The gateway role (`--role gateway --labels istio=ingressgateway --port-offset N`): one
 * listener per Gateway server port whose selector matches, shifted by the offset; routes of
 * the VirtualServices bound to the Gateway only; 404 NR for paths and hosts not bound;
 * `httpsRedirect` answers 301; HTTP/1.1 and h2c on the same listener; listeners follow
 * Gateway changes on reload.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { request, requestH2, serviceEntry, startUpstream, type Upstream } from '../support/mesh.js';
import { configDir, idleKeepAlive, startRuntime, waitFor, withTimeout, type ConfigDir, type RuntimeHandle } from '../support/harness.js';

/** Gateway server ports from the config; the proxy listens on these + OFFSET. */
const HTTP_PORT = 8080;

let product: Upstream;
let cfg: ConfigDir;
let h: RuntimeHandle;
let offset: number;

/** A port that is free right now (the kernel's pick for port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** A Gateway port whose listening port (port + offset) is free right now; always >= 1. */
async function freeConfigPort(offset: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = await freePort();
    if (p - offset >= 1 && p - offset <= 65535 && p - offset !== HTTP_PORT) return p - offset;
  }
  // Ephemeral ports all below the offset: probe ports above it directly.
  for (let port = Math.max(offset + 1, 1024); port <= 65535; port += 97) {
    const ok = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (ok && port - offset !== HTTP_PORT) return port - offset;
  }
  throw new Error('no free port above the offset');
}

function gateways(extraPort: number | null = null): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: ${HTTP_PORT}, name: http, protocol: HTTP}
    hosts: [bookinfo.example.com]
  - port: {number: ${HTTP_PORT}, name: http-secure, protocol: HTTP}
    hosts: [secure.example.com]
    tls: {httpsRedirect: true}
${extraPort !== null ? `  - port: {number: ${extraPort}, name: http-extra, protocol: HTTP}\n    hosts: [extra.example.com]\n` : ''}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: ${HTTP_PORT + 1}, name: http, protocol: HTTP}
    hosts: ["*"]
---
`;
}

function config(extraPort: number | null = null): string {
  return (
    serviceEntry('productpage', 'default', 9080, [{ port: product.port, labels: { app: 'productpage' } }]) +
    gateways(extraPort) +
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bookinfo}
spec:
  hosts: [bookinfo.example.com, secure.example.com]
  gateways: [ingress]
  http:
  - match: [{uri: {exact: /productpage}}, {uri: {prefix: /static/}}]
    route: [{destination: {host: productpage, port: {number: 9080}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: mesh-only}
spec:
  hosts: [bookinfo.example.com]
  http:
  - match: [{uri: {prefix: /mesh-only}}]
    route: [{destination: {host: productpage}}]
---
`
  );
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

before(async () => {
  product = await startUpstream('productpage');
  cfg = configDir();
  cfg.write('mesh.yaml', config());
  // The offset maps Gateway port 8080 onto a port the kernel just reported free. Another
  // process could take it in between: retry a few times rather than fail.
  for (let attempt = 0; ; attempt++) {
    offset = (await freePort()) - HTTP_PORT;
    try {
      h = await startRuntime([cfg.dir], { role: 'gateway', labels: { istio: 'ingressgateway' }, portOffset: offset });
      break;
    } catch (e) {
      if (attempt >= 4 || !/already in use/.test((e as Error).message)) throw e;
    }
  }
});

after(async () => {
  await h?.close();
  cfg?.cleanup();
  await product?.close();
});

test('one listener per matching Gateway server port, at port + offset; non-matching Gateways are not served', { timeout: 20_000 }, () => {
  assert.deepEqual(
    h.ports.map((p) => ({ configPort: p.configPort, port: p.port })),
    [{ configPort: HTTP_PORT, port: HTTP_PORT + offset }],
  );
  assert.ok(h.logs.includes(`listening on 127.0.0.1:${HTTP_PORT + offset} (gateway HTTP ${HTTP_PORT})`), h.logs.join('\n'));
});

test('routes per the bound VirtualService (HTTP/1.1 and h2c); X-Forwarded-For appended; server istio-envoy', { timeout: 20_000 }, async () => {
  const r = await request(h.port, 'bookinfo.example.com', '/productpage', { headers: { 'x-forwarded-proto': 'https' } });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'productpage /productpage');
  assert.equal(r.headers.server, 'istio-envoy');
  const seen = product.seen.at(-1)!;
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http', 'the edge overwrites a client-sent x-forwarded-proto');
  assert.equal(seen.headers.host, 'bookinfo.example.com');
  // The port in Host does not matter for matching (clients send the offset port).
  assert.equal((await request(h.port, `bookinfo.example.com:${h.port}`, '/static/app.css')).body, 'productpage /static/app.css');
  const h2 = await requestH2(h.port, 'bookinfo.example.com', '/productpage');
  assert.equal(h2.status, 200);
  assert.equal(h2.body, 'productpage /productpage');
});

test('paths, hosts and mesh-only routes not bound to the Gateway get 404 (NR)', { timeout: 20_000 }, async () => {
  const before = product.seen.length;
  for (const [host, path] of [
    ['bookinfo.example.com', '/admin'],
    ['bookinfo.example.com', '/mesh-only'],
    ['unknown.example.com', '/productpage'],
  ]) {
    const r = await request(h.port, host, path);
    assert.equal(r.status, 404, `${host}${path}`);
    assert.equal(h.rt.proxy!.handler.active, 0);
  }
  assert.equal(product.seen.length, before, 'nothing reached the upstream');
  const last = await waitFor('the access-log line', () => h.access.find((l) => l.includes('"GET /productpage HTTP/1.1" 404 NR route_not_found')));
  assert.ok(last.includes('"unknown.example.com"'));
});

test('httpsRedirect: a plain-HTTP request gets 301 to the https URL', { timeout: 20_000 }, async () => {
  const r = await request(h.port, 'secure.example.com', '/productpage?a=1');
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, 'https://secure.example.com/productpage?a=1');
});

test('Gateway server ports follow reloads: an added port is listened on; a removed one stops and closes its idle connections', { timeout: 45_000 }, async (t) => {
  const extra = await freeConfigPort(offset);
  cfg.write('mesh.yaml', config(extra));
  await waitFor('the new listener', () => h.rt.proxy!.bound().some((b) => b.configPort === extra), 15_000);
  // Bound, but no VirtualService for the host: 404 NR from the new listener. The client keeps
  // the connection open (keep-alive).
  const conn = await idleKeepAlive(extra + offset, 'extra.example.com');
  t.after(() => conn.destroy());
  assert.equal(conn.status, 404);
  cfg.write('mesh.yaml', config());
  await waitFor('the listener to go', () => !h.rt.proxy!.bound().some((b) => b.configPort === extra), 15_000);
  // The removed port's idle keep-alive connection is closed too (not left for its 60 s timeout).
  await withTimeout(conn.closed, 3000, 'the idle connection to the removed listener to close');
  assert.equal(await refused(extra + offset), true, 'the removed port no longer accepts connections');
});
