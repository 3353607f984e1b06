/**
 * Sidecar `egress[].port` on the wire (IstioEgressListener.port): a listener bound to a port
 * decides what is imported for that port only; the port-less listener decides for every
 * other port. A service port hidden that way is an unknown destination: REGISTRY_ONLY
 * answers 502 (no byte upstream), ALLOW_ANY passes the request through to the address the
 * client named. `CONNECT` tunnels follow the same scoping.
 *
 * Service A (namespace `ext`, VIP 127.0.0.1 so that a passthrough to it is observable): port
 * 9080 and a second port equal to its upstream's real port. Service B (namespace `default`):
 * ports 8080 and 9080. The Sidecar's 9080 listener imports only A (`ext/*`), its catch-all
 * only B.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { compile, request, startProxy, startUpstream, type RunningProxy, type Upstream } from '../support/mesh.js';
import { explain } from '../../src/explain/explain.js';
import { formatExplain } from '../../src/explain/format.js';
import { buildProxyScope, describeEgress } from '../../src/compile/scope.js';
import { loadText } from '../../src/api/load.js';
import { validateResources } from '../../src/validate/index.js';
import { buildRegistry } from '../../src/registry/build.js';
import { DEFAULT_COMPILE_OPTIONS, type ProxyIdentity, type Snapshot } from '../../src/snapshot/types.js';

const A_HOST = 'svc-a.ext.svc.cluster.local';
const B_HOST = 'svc-b.default.svc.cluster.local';
const PROXY: ProxyIdentity = { role: 'sidecar', namespace: 'default', labels: {} };

let a: Upstream, b: Upstream;
let blocked: RunningProxy, open: RunningProxy;
let yamlOf: (policy: 'ALLOW_ANY' | 'REGISTRY_ONLY') => string;

before(async () => {
  [a, b] = await Promise.all([startUpstream('a'), startUpstream('b')]);
  yamlOf = (policy) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-a, namespace: ext}
spec:
  hosts: [${A_HOST}]
  addresses: [127.0.0.1]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports:
  - {number: 9080, name: http, protocol: HTTP}
  - {number: ${a.port}, name: http-direct, protocol: HTTP}
  endpoints: [{address: 127.0.0.1, ports: {http: ${a.port}, http-direct: ${a.port}}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-b, namespace: default}
spec:
  hosts: [${B_HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 8080, name: http, protocol: HTTP}
  - {number: 9080, name: http-alt, protocol: HTTP}
  endpoints: [{address: 127.0.0.1, ports: {http: ${b.port}, http-alt: ${b.port}}}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ported, namespace: default}
spec:
  egress:
  - port: {number: 9080, protocol: HTTP, name: http}
    hosts: ["ext/*"]
  - hosts: ["./${B_HOST}"]
  outboundTrafficPolicy: {mode: ${policy}}
`;
  [blocked, open] = await Promise.all([startProxy(compile(yamlOf('REGISTRY_ONLY'), PROXY)), startProxy(compile(yamlOf('ALLOW_ANY'), PROXY))]);
});

after(async () => {
  await Promise.all([blocked?.close(), open?.close()]);
  await Promise.all([a, b].map((u) => u?.close()));
});

/** Opens a CONNECT tunnel and sends one HTTP/1.1 request through it; the status of the CONNECT and the reply. */
function viaConnect(port: number, authority: string): Promise<{ status: number; reply: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'CONNECT', path: authority, agent: false, timeout: 5000 });
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return resolve({ status: res.statusCode ?? 0, reply: '' });
      }
      let reply = '';
      const timer = setTimeout(() => socket.destroy(), 5000);
      socket.on('data', (d: Buffer) => {
        reply += d.toString();
        if (/\r\n\r\n[^]*\S/.test(reply)) socket.end();
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ status: 200, reply });
      });
      socket.write(`GET /tunnel HTTP/1.1\r\nHost: ${authority}\r\nConnection: close\r\n\r\n`);
    });
    req.on('timeout', () => req.destroy(new Error(`CONNECT ${authority} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The cluster of the last completed request for `path` (the record may land just after the reply). */
async function lastCluster(p: RunningProxy, path: string): Promise<string | undefined> {
  for (let i = 0; i < 50; i++) {
    const hit = p.completed.filter((c) => c.path === path).at(-1);
    if (hit) return hit.upstreamCluster;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

/** The snapshot with its egress listeners recorded, as compileSnapshot records them for explain. */
function withEgress(snap: Snapshot, policy: 'ALLOW_ANY' | 'REGISTRY_ONLY'): Snapshot {
  const l = loadText(yamlOf(policy), 'test.yaml', { namespace: 'default' });
  const cfg = validateResources(l.resources).config;
  const scope = buildProxyScope(cfg, buildRegistry(cfg, { domain: 'cluster.local' }), PROXY, DEFAULT_COMPILE_OPTIONS);
  return { ...snap, sidecarEgress: describeEgress(scope, PROXY) } as Snapshot;
}

test('egress port: A is reachable on the listener port that imports it, B on the port the catch-all governs', async () => {
  const ra = await request(blocked.port, `${A_HOST}:9080`, '/a');
  assert.equal(ra.status, 200);
  assert.equal(ra.body, 'a /a');
  assert.equal(await lastCluster(blocked, '/a'), `outbound|9080||${A_HOST}`);
  const rb = await request(blocked.port, `${B_HOST}:8080`, '/b');
  assert.equal(rb.body, 'b /b');
  // Without a port in Host, each service's only visible HTTP port is the default.
  assert.equal((await request(blocked.port, A_HOST, '/a2')).body, 'a /a2');
  assert.equal((await request(blocked.port, B_HOST, '/b2')).body, 'b /b2');
});

test('egress port, REGISTRY_ONLY: A on a port the catch-all governs and B on 9080 are unknown (502, no byte upstream)', async () => {
  const [seenA, seenB] = [a.seen.length, b.seen.length];
  assert.equal((await request(blocked.port, `127.0.0.1:${a.port}`, '/hidden')).status, 502, 'A on its other port, by VIP');
  assert.equal((await request(blocked.port, `${A_HOST}:${a.port}`, '/hidden')).status, 502, 'A on its other port, by name');
  assert.equal((await request(blocked.port, `${B_HOST}:9080`, '/hidden')).status, 502, 'B on 9080');
  assert.equal((await request(blocked.port, `${A_HOST}:9080`, `http://127.0.0.1:${a.port}/hidden`)).status, 502, 'absolute-form URL to A on its other port');
  assert.equal(a.seen.length, seenA);
  assert.equal(b.seen.length, seenB);
});

test('egress port, ALLOW_ANY: A on a port its listener does not govern is passed through to the address named; B on 9080 is not routed to B', async () => {
  const r = await request(open.port, `127.0.0.1:${a.port}`, '/through');
  assert.equal(r.body, 'a /through');
  // Reached through the passthrough, not A's mesh cluster for that port.
  assert.equal(await lastCluster(open, '/through'), 'PassthroughCluster');
  const seenB = b.seen.length;
  const rb = await request(open.port, `${B_HOST}:9080`, '/x');
  assert.notEqual(rb.body, 'b /x'); // passthrough to a name with no DNS entry: never B's endpoint
  assert.equal(b.seen.length, seenB);
  assert.equal((await request(open.port, `${A_HOST}:9080`, '/a')).body, 'a /a');
});

test('egress port: CONNECT honours the same scoping', async () => {
  const okA = await viaConnect(blocked.port, `${A_HOST}:9080`);
  assert.equal(okA.status, 200);
  assert.match(okA.reply, /a \/tunnel$/);
  const okB = await viaConnect(blocked.port, `${B_HOST}:8080`);
  assert.match(okB.reply, /b \/tunnel$/);
  const [seenA, seenB] = [a.seen.length, b.seen.length];
  assert.equal((await viaConnect(blocked.port, `127.0.0.1:${a.port}`)).status, 502, 'A on its other port');
  assert.equal((await viaConnect(blocked.port, `${B_HOST}:9080`)).status, 502, 'B on 9080');
  assert.equal(a.seen.length, seenA);
  assert.equal(b.seen.length, seenB);
  const through = await viaConnect(open.port, `127.0.0.1:${a.port}`);
  assert.equal(through.status, 200);
  assert.match(through.reply, /a \/tunnel$/, 'ALLOW_ANY: tunnelled to the address named');
});

test('explain names the egress listener that governs the port', () => {
  const snap = withEgress(compile(yamlOf('REGISTRY_ONLY'), PROXY), 'REGISTRY_ONLY');
  const on9080 = explain(snap, { method: 'GET', url: `http://${A_HOST}:9080/`, headers: {} });
  assert.equal(on9080.result, 'route');
  assert.deepEqual(on9080.proxy.egressListener, { index: 0, port: 9080, hosts: ['ext/*'] });
  assert.match(formatExplain(on9080), /Egress: {3}egress\[0\] \(port 9080\) governs port 9080; hosts ext\/\*/);
  const b9080 = explain(snap, { method: 'GET', url: `http://${B_HOST}:9080/`, headers: {} });
  assert.equal(b9080.result, 'blocked');
  assert.equal(b9080.proxy.egressListener?.index, 0);
  const hiddenA = explain(snap, { method: 'GET', url: `http://127.0.0.1:${a.port}/`, headers: {} });
  assert.equal(hiddenA.result, 'blocked');
  assert.deepEqual(hiddenA.proxy.egressListener, { index: 1, port: null, hosts: [`./${B_HOST}`] });
  assert.match(formatExplain(hiddenA), /egress\[1\] \(no port: every port without a listener of its own\) governs port \d+/);
  const open = explain(withEgress(compile(yamlOf('ALLOW_ANY'), PROXY), 'ALLOW_ANY'), { method: 'GET', url: `http://127.0.0.1:${a.port}/`, headers: {} });
  assert.equal(open.result, 'passthrough');
});
