/**
 * Sidecar egress on the wire: REGISTRY_ONLY blocks every unknown destination however it is
 * spelled, and Sidecar egress hosts hide services that are not imported.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { compile, request, requestH2, serviceEntry, startProxy, startUpstream, type RunningProxy, type Upstream } from '../support/mesh.js';

let allowed: Upstream, hidden: Upstream, outside: Upstream;
let p: RunningProxy;

before(async () => {
  [allowed, hidden, outside] = await Promise.all([startUpstream('allowed'), startUpstream('hidden'), startUpstream('outside')]);
  const yaml =
    serviceEntry('allowed', 'default', 80, [{ port: allowed.port, labels: { app: 'allowed' } }]) +
    serviceEntry('hidden', 'other', 80, [{ port: hidden.port, labels: { app: 'hidden' } }]) +
    `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: default}
spec:
  egress:
  - hosts: ["./*"]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`;
  p = await startProxy(compile(yaml, { role: 'sidecar', namespace: 'default', labels: {} }));
});

after(async () => {
  await p?.close();
  await Promise.all([allowed, hidden, outside].map((u) => u?.close()));
});

test('a registry service imported by the Sidecar is reachable', async () => {
  assert.equal((await request(p.port, 'allowed.default.svc.cluster.local', '/ok')).body, 'allowed /ok');
  assert.equal((await request(p.port, 'allowed', '/ok')).body, 'allowed /ok');
});

test('REGISTRY_ONLY: no spelling of an unknown destination gets a byte through (502)', async () => {
  const o = outside.port;
  const attempts: Array<[string, string, string]> = [
    ['IP literal', `127.0.0.1:${o}`, '/'],
    ['IPv6 literal', `[::1]:${o}`, '/'],
    ['name', `localhost:${o}`, '/'],
    ['upper case', `LOCALHOST:${o}`, '/'],
    ['trailing dot', `localhost.:${o}`, '/'],
    ['absolute-form URL with an innocent Host', 'allowed.default.svc.cluster.local', `http://127.0.0.1:${o}/`],
  ];
  for (const [what, host, target] of attempts) {
    const r = await request(p.port, host, target);
    assert.equal(r.status, 502, what);
  }
  const h2 = await requestH2(p.port, `127.0.0.1:${o}`, '/');
  assert.equal(h2.status, 502, 'h2c');
  assert.equal(outside.seen.length, 0, 'nothing reached the outside server');
});

test('a service not imported by the Sidecar egress hosts is treated as unknown (502)', async () => {
  const r = await request(p.port, 'hidden.other.svc.cluster.local', '/');
  assert.equal(r.status, 502);
  assert.equal(hidden.seen.length, 0);
});

test('Host spoofing reaches the spoofed service, never the socket the client named', async () => {
  const before = allowed.seen.length;
  const r = await request(p.port, 'allowed.default.svc.cluster.local', '/spoof');
  assert.equal(r.body, 'allowed /spoof');
  assert.equal(allowed.seen.length, before + 1);
  assert.equal(outside.seen.length, 0);
});
