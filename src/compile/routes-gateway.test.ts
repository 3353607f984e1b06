import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import { formatDiagnostic } from '../core/diagnostics.js';
import { buildRegistry } from '../registry/build.js';
import type { ProxyIdentity, Snapshot } from '../snapshot/types.js';
import { validateResources } from '../validate/index.js';
import { compileSnapshot } from './index.js';
import { parseServerHost } from './routes-gateway.js';

function compile(yaml: string, proxy: Partial<ProxyIdentity> = {}): Snapshot {
  const { resources, diagnostics } = loadText(yaml, 'fixture.yaml', { namespace: 'default' });
  assert.deepEqual(diagnostics, []);
  const v = validateResources(resources);
  assert.deepEqual(v.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  const p: ProxyIdentity = { role: 'gateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' }, ...proxy };
  return compileSnapshot(v.config, buildRegistry(v.config, { domain: 'cluster.local' }), p);
}

const GATEWAYS = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: public, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
  - port: {number: 443, name: https-shop, protocol: HTTPS}
    hosts: ["shop.example.com"]
    tls: {mode: SIMPLE, credentialName: shop-cert}
  - port: {number: 443, name: https-pass, protocol: HTTPS}
    hosts: ["pass.example.com"]
    tls: {mode: PASSTHROUGH}
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: redirect, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http-redirect, protocol: HTTP}
    hosts: ["secure.example.com"]
    tls: {httpsRedirect: true}
  - port: {number: 8081, name: http-empty, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other-selector, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 9999, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: web}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/public]
  http: [{route: [{destination: {host: shop.web.svc.cluster.local, port: {number: 8080}}}]}]
`;

void test('parseServerHost', () => {
  assert.deepEqual(parseServerHost('a.com', 'gw'), { namespace: '*', host: 'a.com' });
  assert.deepEqual(parseServerHost('./a.com', 'gw'), { namespace: 'gw', host: 'a.com' });
  assert.deepEqual(parseServerHost('web/*.A.com', 'gw'), { namespace: 'web', host: '*.a.com' });
});

void test('listeners merged per port from selected gateways; route tables per protocol', () => {
  const snap = compile(GATEWAYS);
  assert.deepEqual(
    snap.listeners.map((l) => [l.name, l.protocol, l.routeTable, l.servers.map((s) => `${s.gateway.name}[${s.serverIndex}]`)]),
    [
      ['0.0.0.0_80', 'HTTP', 'http.80', ['public[0]', 'redirect[0]']],
      ['0.0.0.0_443', 'HTTPS', null, ['public[1]', 'public[2]']],
      ['0.0.0.0_8081', 'HTTP', 'http.8081', ['redirect[1]']],
      ['0.0.0.0_31400', 'TCP', null, ['public[3]']],
    ],
  );
  assert.deepEqual([...snap.routeTables.keys()].sort(), ['http.80', 'http.8081', 'https.443.https-shop.public.istio-system']);
  const l443 = snap.listeners[1];
  assert.deepEqual(l443.servers.map((s) => s.tlsMode), ['SIMPLE', 'PASSTHROUGH']);
  // Port with servers but nothing bound: blackhole vhost with no routes.
  const empty = snap.routeTables.get('http.8081')!;
  assert.equal(empty.fallback?.name, 'blackhole:8081');
  assert.deepEqual(empty.fallback?.routes, []);
  // httpsRedirect creates a requireTls vhost even without a VS.
  const t80 = snap.routeTables.get('http.80')!;
  assert.equal(t80.exact.get('secure.example.com')?.requireTls, true);
  assert.equal(t80.exact.get('shop.example.com')?.requireTls, false);
  assert.equal(snap.routeTables.get('https.443.https-shop.public.istio-system')!.exact.get('shop.example.com')?.name, 'shop.example.com:443');
});

void test('proxy.gateways overrides selector matching', () => {
  const snap = compile(GATEWAYS, { labels: {}, gateways: ['istio-system/other-selector', 'istio-system/missing'] });
  assert.deepEqual(snap.listeners.map((l) => l.port), [9999]);
  assert.ok(snap.notes.some((n) => /istio-system\/missing not found/.test(n.message)));
  assert.deepEqual(compile(GATEWAYS, { labels: { istio: 'nothing' } }).listeners, []);
});

void test('conflicting protocols on one port: first server wins, the other is noted', () => {
  const snap = compile(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: a, namespace: istio-system}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: b, namespace: istio-system}
spec:
  servers:
  - port: {number: 80, name: tcp, protocol: TCP}
    hosts: ["*"]
`);
  assert.deepEqual(snap.listeners.map((l) => [l.port, l.protocol, l.servers.length]), [[80, 'HTTP', 1]]);
  assert.ok(snap.notes.some((n) => n.ref?.name === 'b' && /already used/.test(n.message)));
});

void test('server host namespace restricts which VS namespaces bind', () => {
  const snap = compile(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["web/*.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ok, namespace: web}
spec:
  hosts: [a.example.com]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: a.example.com}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wrong-ns, namespace: shop}
spec:
  hosts: [b.example.com]
  gateways: [istio-system/gw]
  http: [{route: [{destination: {host: b.example.com}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: not-exported, namespace: web}
spec:
  hosts: [c.example.com]
  gateways: [istio-system/gw]
  exportTo: ["."]
  http: [{route: [{destination: {host: c.example.com}}]}]
`);
  const t = snap.routeTables.get('http.80')!;
  assert.deepEqual([...t.exact.keys()], ['a.example.com']);
});

void test('server TLS: client-certificate checks (caCrl, subjectAltNames, SPKI and hash pins) reach the listener', () => {
  const snap = compile(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: mtls, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["a.example.com"]
    tls:
      mode: MUTUAL
      serverCertificate: /c.pem
      privateKey: /k.pem
      caCertificates: /ca.pem
      caCrl: /ca.crl
      subjectAltNames: [spiffe://cluster.local/ns/a/sa/b]
      verifyCertificateSpki: [AAAA]
      verifyCertificateHash: ["AB:CD"]
  - port: {number: 443, name: https-plain, protocol: HTTPS}
    hosts: ["b.example.com"]
    tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}
`);
  const [mutual, simple] = snap.listeners[0].servers.map((s) => s.tls);
  assert.equal(mutual?.caCrl, '/ca.crl');
  assert.deepEqual(mutual?.subjectAltNames, ['spiffe://cluster.local/ns/a/sa/b']);
  assert.deepEqual(mutual?.verifyCertificateSpki, ['AAAA']);
  assert.deepEqual(mutual?.verifyCertificateHash, ['AB:CD']);
  assert.equal(simple?.caCrl, null);
  assert.deepEqual([simple?.subjectAltNames, simple?.verifyCertificateSpki, simple?.verifyCertificateHash], [[], [], []]);
});

void test('TLS server that terminates (SIMPLE/MUTUAL): the port gets the bound tcp route; PASSTHROUGH and HTTPS ports do not', () => {
  const snap = compile(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tls, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 9000, name: tls-term, protocol: TLS}
    hosts: ["db.example.com"]
    tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}
  - port: {number: 9001, name: tls-pass, protocol: TLS}
    hosts: ["db.example.com"]
    tls: {mode: PASSTHROUGH}
  - port: {number: 9002, name: https, protocol: HTTPS}
    hosts: ["db.example.com"]
    tls: {mode: SIMPLE, serverCertificate: /c.pem, privateKey: /k.pem}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: istio-system}
spec:
  hosts: [db.example.com]
  gateways: [tls]
  tcp:
  - route: [{destination: {host: db.data.svc.cluster.local, port: {number: 5432}}}]
`);
  const byPort = new Map(snap.listeners.map((l) => [l.port, l]));
  assert.equal(byPort.get(9000)?.protocol, 'TLS');
  assert.deepEqual(byPort.get(9000)?.tcpRoute?.destinations.map((d) => d.cluster), ['outbound|5432||db.data.svc.cluster.local']);
  assert.equal(byPort.get(9000)?.servers[0].tls?.mode, 'SIMPLE');
  assert.equal(byPort.get(9001)?.tcpRoute, null);
  assert.equal(byPort.get(9002)?.tcpRoute, null);
});

void test('gateway tcp/tls matches: sourceLabels, sourceNamespace, destinationSubnets are ignored (as Istio), with a note; port and gateways still decide', () => {
  const snap = compile(`
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: l4, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
  - port: {number: 15443, name: tls, protocol: TLS}
    hosts: ["*.example.com"]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: l4, namespace: istio-system}
spec:
  hosts: ["*.example.com"]
  gateways: [l4]
  tcp:
  - match: [{port: 31401}]
    route: [{destination: {host: wrong-port.data.svc.cluster.local, port: {number: 1}}}]
  - match: [{port: 31400, sourceLabels: {app: nobody}, sourceNamespace: elsewhere, destinationSubnets: [10.9.9.0/24]}]
    route: [{destination: {host: db.data.svc.cluster.local, port: {number: 5432}}}]
  tls:
  - match: [{port: 15443, sniHosts: [a.example.com], sourceLabels: {app: nobody}, gateways: [l4]}]
    route: [{destination: {host: a.data.svc.cluster.local, port: {number: 443}}}]
  - match: [{port: 15443, sniHosts: [b.example.com], gateways: [other]}]
    route: [{destination: {host: b.data.svc.cluster.local, port: {number: 443}}}]
`);
  const byPort = new Map(snap.listeners.map((l) => [l.port, l]));
  assert.equal(byPort.get(31400)?.tcpRoute?.ruleIndex, 1);
  assert.deepEqual(byPort.get(15443)?.tlsRoutes?.map((r) => r.sniHosts), [['a.example.com']]);
  const notes = snap.notes.map((n) => n.message);
  assert.ok(notes.includes('tcp[1]: destinationSubnets, sourceLabels, sourceNamespace ignored on gateways (as Istio: only port and gateways select a gateway L4 route)'), notes.join('\n'));
  assert.ok(notes.some((n) => n.startsWith('tls[0]: sourceLabels ignored on gateways')), notes.join('\n'));
});
