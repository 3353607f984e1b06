import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import type { ConfigSet, HTTPMatchRequest } from '../api/types.js';
import { formatDiagnostic } from '../core/diagnostics.js';
import type { ProxyIdentity } from '../snapshot/types.js';
import { validateResources } from '../validate/index.js';
import { Notes } from './order.js';
import type { TranslateContext } from './translate.js';
import {
  buildVirtualServiceRoutes, exportGroup, matchAppliesTo, normalizeGatewayName, orderVirtualServices, prepareVirtualServices,
} from './vs.js';

function load(yaml: string): ConfigSet {
  const { resources, diagnostics } = loadText(yaml, 'fixture.yaml', { namespace: 'default' });
  assert.deepEqual(diagnostics, []);
  const v = validateResources(resources);
  assert.deepEqual(v.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  return v.config;
}

const ctx = (listenerPort = 80): TranslateContext => ({ listenerPort, services: new Map(), clusters: new Map(), notes: new Notes() });
const sidecar = (labels: Record<string, string> = {}, namespace = 'default'): ProxyIdentity => ({ role: 'sidecar', namespace, labels });

void test('normalizeGatewayName', () => {
  const rows: Array<[string, string]> = [
    ['mesh', 'mesh'],
    ['gw', 'app/gw'],
    ['./gw', 'app/gw'],
    ['istio-system/gw', 'istio-system/gw'],
    ['gw.istio-system.svc.cluster.local', 'istio-system/gw'],
  ];
  for (const [i, o] of rows) assert.equal(normalizeGatewayName(i, 'app'), o, i);
});

void test('VS ordering: private, exported to ns, public; then age, name, namespace', () => {
  const cfg = load(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: public-new, namespace: other, creationTimestamp: "2024-03-01T00:00:00Z"}
spec: {hosts: [a.com], http: [{route: [{destination: {host: a.com}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: public-old, namespace: other, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {hosts: [a.com], http: [{route: [{destination: {host: a.com}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: to-app, namespace: other, creationTimestamp: "2024-05-01T00:00:00Z"}
spec: {hosts: [a.com], exportTo: [app], http: [{route: [{destination: {host: a.com}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: app, creationTimestamp: "2024-06-01T00:00:00Z"}
spec: {hosts: [a.com], exportTo: ["."], http: [{route: [{destination: {host: a.com}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: hidden, namespace: other}
spec: {hosts: [a.com], exportTo: ["."], http: [{route: [{destination: {host: a.com}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: same-time-b, namespace: other, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {hosts: [a.com], http: [{route: [{destination: {host: a.com}}]}]}
`);
  const prepared = prepareVirtualServices(cfg, 'cluster.local');
  assert.deepEqual(orderVirtualServices(prepared, 'app').map((v) => v.ref.name), ['private', 'to-app', 'public-old', 'same-time-b', 'public-new']);
  assert.deepEqual(orderVirtualServices(prepared, 'other').map((v) => v.ref.name), ['hidden', 'public-old', 'same-time-b', 'public-new']);
  const vs = (n: string) => cfg.virtualServices.find((v) => v.meta.name === n)!;
  assert.equal(exportGroup(vs('hidden'), 'app'), null);
  assert.equal(exportGroup(vs('to-app'), 'app'), 1);
});

void test('VS ordering without timestamps follows load order', () => {
  const cfg = load(['b', 'a', 'c'].map((n) => `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${n}}
spec: {hosts: [x.com], http: [{route: [{destination: {host: x.com}}]}]}`).join('\n---\n'));
  assert.deepEqual(orderVirtualServices(prepareVirtualServices(cfg, 'cluster.local'), 'default').map((v) => v.ref.name), ['b', 'a', 'c']);
});

void test('matchAppliesTo: port, gateways, sourceLabels, sourceNamespace', () => {
  const mesh = { gateway: 'mesh', proxy: sidecar({ app: 'web', version: 'v1' }) };
  const gw = { gateway: 'istio-system/gw', proxy: { role: 'gateway' as const, namespace: 'istio-system', labels: { istio: 'ingressgateway' } } };
  const rows: Array<[HTTPMatchRequest, typeof mesh, boolean]> = [
    [{}, mesh, true],
    [{ port: 80 }, mesh, true],
    [{ port: 9080 }, mesh, false],
    [{ gateways: ['mesh'] }, mesh, true],
    [{ gateways: ['istio-system/gw'] }, mesh, false],
    [{ gateways: ['istio-system/gw'] }, gw, true],
    [{ sourceLabels: { app: 'web' } }, mesh, true],
    [{ sourceLabels: { app: 'web', version: 'v2' } }, mesh, false],
    [{ sourceNamespace: 'default' }, mesh, true],
    [{ sourceNamespace: 'other' }, mesh, false],
    // Source conditions are meaningless on gateways and ignored there.
    [{ sourceLabels: { app: 'x' } }, gw, true],
    [{ sourceNamespace: 'other' }, gw, true],
  ];
  for (const [m, f, want] of rows) assert.equal(matchAppliesTo(m, f, 80), want, JSON.stringify([m, f.gateway]));
});

const RULES = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [r]
  http:
  - name: only-v1
    match: [{sourceLabels: {version: v1}}]
    route: [{destination: {host: r, subset: a}}]
  - name: two-blocks
    match: [{uri: {prefix: /x}, port: 9080}, {uri: {prefix: /y}}]
    route: [{destination: {host: r, subset: b}}]
  - name: catch-all-block
    match: [{uri: {prefix: /}}, {uri: {prefix: /never}}]
    route: [{destination: {host: r, subset: c}}]
  - name: unreachable
    route: [{destination: {host: r, subset: d}}]
`;

void test('buildVirtualServiceRoutes: config-time filters and catch-all truncation', () => {
  const [vs] = prepareVirtualServices(load(RULES), 'cluster.local');
  const names = (labels: Record<string, string>, port: number) =>
    buildVirtualServiceRoutes(vs, { gateway: 'mesh', proxy: sidecar(labels) }, ctx(port)).map((r) => `${r.name}#${r.matchIndex}`);
  // For a v1 client the sourceLabels-only block has no request-time condition left: it is a
  // catch-all for that proxy and ends the list (as in Istio).
  assert.deepEqual(names({ version: 'v1' }, 80), ['only-v1#0']);
  assert.deepEqual(names({ version: 'v2' }, 80), ['two-blocks#1', 'catch-all-block#0']);
  assert.deepEqual(names({}, 9080), ['two-blocks#0', 'two-blocks#1', 'catch-all-block#0']);
});

void test('a rule without match ends the list', () => {
  const [vs] = prepareVirtualServices(load(`
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r}
spec:
  hosts: [r]
  http:
  - route: [{destination: {host: r, subset: a}}]
  - match: [{uri: {prefix: /x}}]
    route: [{destination: {host: r, subset: b}}]
`), 'cluster.local');
  const rs = buildVirtualServiceRoutes(vs, { gateway: 'mesh', proxy: sidecar() }, ctx());
  assert.deepEqual(rs.map((r) => r.ruleIndex), [0]);
});

const DELEGATES = `
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: front}
spec:
  hosts: [shop.example.com]
  gateways: [istio-system/gw]
  http:
  - name: products
    match: [{uri: {prefix: /products}}]
    delegate: {name: products, namespace: products}
  - name: missing
    match: [{uri: {prefix: /gone}}]
    delegate: {name: nothing}
  - name: hidden
    match: [{uri: {prefix: /hidden}}]
    delegate: {name: private, namespace: products}
  - name: rest
    route: [{destination: {host: web.front.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: products, namespace: products}
spec:
  http:
  - name: v2
    match: [{uri: {prefix: /products/v2}}]
    route: [{destination: {host: catalog, subset: v2}}]
  - name: other
    match: [{uri: {prefix: /elsewhere}}]
    route: [{destination: {host: catalog}}]
  - name: all
    route: [{destination: {host: catalog, subset: v1}}]
    timeout: 3s
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: products}
spec:
  exportTo: ["."]
  http:
  - route: [{destination: {host: catalog}}]
`;

void test('delegates: merged in place, missing and unexported delegates skipped with notes', () => {
  const prepared = prepareVirtualServices(load(DELEGATES), 'cluster.local');
  assert.deepEqual(prepared.map((p) => p.ref.name), ['root']); // delegates are not roots
  const c = ctx();
  const rs = buildVirtualServiceRoutes(prepared[0], { gateway: 'istio-system/gw', proxy: { role: 'gateway', namespace: 'istio-system', labels: {} } }, c);
  assert.deepEqual(
    rs.map((r) => [r.name, r.ruleIndex, r.delegate?.ref.name ?? null, r.delegate?.ruleIndex ?? null]),
    [
      ['products-v2', 0, 'products', 0],
      ['products-all', 0, 'products', 2],
      ['rest', 3, null, null],
    ],
  );
  // Destinations in a delegate resolve against the delegate's namespace.
  const a = rs[0].action;
  assert.ok(a.kind === 'route');
  assert.equal(a.destinations[0].cluster, 'outbound|80|v2|catalog.products.svc.cluster.local');
  assert.equal(rs[1].timeoutMs, 3000);
  assert.deepEqual(rs[1].match.uri, { kind: 'prefix', value: '/products' });
  const msgs = c.notes.items.map((n) => n.message);
  assert.ok(msgs.some((m) => m.includes('front/nothing not found')), msgs.join('\n'));
  assert.ok(msgs.some((m) => m.includes('products/private is not exported to namespace front')), msgs.join('\n'));
});
