import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import { formatDiagnostic } from '../core/diagnostics.js';
import { buildRegistry } from '../registry/build.js';
import { compileSnapshot } from '../compile/index.js';
import type { ProxyIdentity, Snapshot } from '../snapshot/types.js';
import { validateResources } from '../validate/index.js';
import { explain } from './explain.js';
import { formatExplain } from './format.js';

function compile(yaml: string, proxy: Partial<ProxyIdentity> = {}): Snapshot {
  const { resources, diagnostics } = loadText(yaml, 'fixture.yaml', { namespace: 'default' });
  assert.deepEqual(diagnostics, []);
  const v = validateResources(resources);
  assert.deepEqual(v.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  return compileSnapshot(v.config, buildRegistry(v.config, { domain: 'cluster.local' }), { role: 'sidecar', namespace: 'default', labels: {}, ...proxy });
}

const run = (snap: Snapshot, url: string) => explain(snap, { method: 'GET', url, headers: {} });

const MESH = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api}
spec:
  hosts: [api.example.com, '*.api.example.com']
  location: MESH_EXTERNAL
  resolution: NONE
  ports: [{number: 443, name: tls, protocol: TLS}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db}
spec:
  hosts: [db.default.svc.cluster.local]
  addresses: [10.9.0.0/24]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1, ports: {tcp: 15432}, labels: {version: v1}}, {address: 127.0.0.2, ports: {tcp: 15432}, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db]
  tcp:
  - match: [{destinationSubnets: [10.9.0.128/25]}]
    route: [{destination: {host: db, subset: v2}}]
  - route:
    - {destination: {host: db, subset: v1}, weight: 80}
    - {destination: {host: db, subset: v2}, weight: 20}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: beta}
spec:
  hosts: ['*.api.example.com']
  tls:
  - match: [{sniHosts: [beta.api.example.com]}]
    route: [{destination: {host: api.example.com}}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`;

void test('tls://: the SNI picks the route, ?sni= overrides the host, the trace shows each candidate', () => {
  const snap = compile(MESH);
  const byIp = run(snap, 'tls://192.0.2.1:443?sni=api.example.com');
  assert.equal(byIp.result, 'route');
  assert.equal(byIp.request.sni, 'api.example.com');
  assert.deepEqual(byIp.destinations.map((d) => d.cluster), ['outbound|443||api.example.com']);
  assert.match(byIp.destinations[0].note ?? '', /resolution NONE/);
  assert.deepEqual(byIp.trace.map((t) => [t.service, t.matched]), [['api.example.com', true]]);

  const beta = run(snap, 'tls://beta.api.example.com:443');
  assert.equal(beta.result, 'route');
  assert.equal(beta.virtualService, 'default/beta');
  assert.equal(beta.section, 'tls');
  assert.deepEqual(beta.trace.map((t) => [t.service, t.virtualService, t.section, t.matched]), [
    ['api.example.com', null, 'tls', false],
    ['*.api.example.com', 'default/beta', 'tls', true],
  ]);
  assert.match(formatExplain(beta), /Result: {3}route by VirtualService default\/beta tls\[0\]/);
  assert.match(formatExplain(beta), /SNI beta\.api\.example\.com/);

  // *.api.example.com has a tls route, so its default (any *.api.example.com SNI) is gone.
  const gamma = run(snap, 'tls://gamma.api.example.com:443');
  assert.equal(gamma.result, 'blocked');
  assert.match(gamma.trace.at(-1)?.failures.join() ?? '', /do not cover SNI "gamma\.api\.example\.com"/);
  assert.match(gamma.reason, /REGISTRY_ONLY/);
  const none = run(snap, 'tls://api.example.com:443?sni=');
  assert.equal(none.request.sni, null);
  assert.equal(none.result, 'blocked');
  assert.match(formatExplain(none), /SNI \(none\)/);
});

void test('tcp://: sidecar tcp routes with destinationSubnets against the dialled IP, then the split', () => {
  const snap = compile(MESH);
  const high = run(snap, 'tcp://10.9.0.200:5432');
  assert.equal(high.result, 'route');
  assert.equal(high.routeIndex, 0);
  assert.equal(high.section, 'tcp');
  assert.deepEqual(high.destinations.map((d) => [d.subset, d.weight]), [['v2', 100]]);
  const byName = run(snap, 'tcp://db:5432');
  assert.equal(byName.routeIndex, 1);
  assert.deepEqual(byName.destinations.map((d) => [d.subset, d.weight, d.endpoints]), [['v1', 80, ['127.0.0.1:15432']], ['v2', 20, ['127.0.0.2:15432']]]);
  assert.match(byName.trace[0].failures.join(), /not an IP address/);
  assert.match(formatExplain(byName), /default\/db tcp\[0\] match\[0\]/);
  // A TLS port without SNI: the outbound policy.
  assert.equal(run(snap, 'tcp://api.example.com:443').result, 'blocked');
  assert.equal(run(snap, 'tcp://nowhere.example.org:5555').status, 502);
  assert.throws(() => run(snap, 'tls://no-port.example.com'), /use tls:\/\/host:port/);
});

void test('tls:// on a gateway: PASSTHROUGH routes by SNI; a terminating port points to https://', () => {
  const gw = `${MESH}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ['*.api.example.com']
    tls: {mode: PASSTHROUGH}
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: [web.example.com]
    tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: pass}
spec:
  hosts: ['*.api.example.com']
  gateways: [gw]
  tls:
  - match: [{sniHosts: [beta.api.example.com]}]
    route: [{destination: {host: api.example.com, port: {number: 443}}}]
`;
  const snap = compile(gw, { role: 'gateway', labels: { istio: 'ingressgateway' } });
  const hit = run(snap, 'tls://beta.api.example.com:443');
  assert.equal(hit.result, 'route');
  assert.equal(hit.virtualService, 'default/pass');
  const miss = run(snap, 'tls://alpha.api.example.com:443');
  assert.equal(miss.result, 'no_route');
  assert.match(miss.reason, /connection is closed/);
  assert.match(run(snap, 'tls://web.example.com:8443').reason, /terminated.*https:\/\/web\.example\.com:8443/);
  assert.match(run(snap, 'tls://x:9999').reason, /no listener on port 9999/);
});
