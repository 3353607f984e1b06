import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import type { ConfigSet } from '../api/types.js';
import { formatDiagnostic } from '../core/diagnostics.js';
import { buildRegistry } from '../registry/build.js';
import { DEFAULT_COMPILE_OPTIONS, type ProxyIdentity } from '../snapshot/types.js';
import { validateResources } from '../validate/index.js';
import {
  buildProxyScope, describeEgress, effectiveOutboundPolicy, egressForPort, egressImports, egressScopes, isExportedTo, parseEgressHost,
  selectSidecar, sidecarImportsVirtualService,
} from './scope.js';

function load(yaml: string): ConfigSet {
  const { resources, diagnostics } = loadText(yaml, 'fixture.yaml', { namespace: 'default' });
  assert.deepEqual(diagnostics, []);
  const v = validateResources(resources);
  assert.deepEqual(v.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  return v.config;
}

const proxy = (namespace = 'default', labels: Record<string, string> = {}): ProxyIdentity => ({ role: 'sidecar', namespace, labels });

void test('isExportedTo', () => {
  const rows: Array<[string[] | undefined, string, string, boolean]> = [
    [undefined, 'a', 'b', true],
    [[], 'a', 'b', true],
    [['*'], 'a', 'b', true],
    [['.'], 'a', 'a', true],
    [['.'], 'a', 'b', false],
    [['b'], 'a', 'b', true],
    [['c'], 'a', 'b', false],
    [['~'], 'a', 'a', false],
    [['.', 'c'], 'a', 'c', true],
  ];
  for (const [e, own, client, want] of rows) assert.equal(isExportedTo(e, own, client), want, JSON.stringify([e, own, client]));
});

void test('parseEgressHost', () => {
  const rows: Array<[string, { exclude: boolean; host: { namespace: string | null; host: string } }]> = [
    ['./*', { exclude: false, host: { namespace: 'sc-ns', host: '*' } }],
    ['*/*', { exclude: false, host: { namespace: null, host: '*' } }],
    ['istio-system/*', { exclude: false, host: { namespace: 'istio-system', host: '*' } }],
    ['*/Foo.COM', { exclude: false, host: { namespace: null, host: 'foo.com' } }],
    ['~/*', { exclude: true, host: { namespace: null, host: '*' } }],
    ['~ns1/a.com', { exclude: true, host: { namespace: 'ns1', host: 'a.com' } }],
    ['~./a.com', { exclude: true, host: { namespace: 'sc-ns', host: 'a.com' } }],
  ];
  for (const [i, want] of rows) assert.deepEqual(parseEgressHost(i, 'sc-ns'), want, i);
});

void test('egressImports: namespace part, bidirectional host match, exclusions', () => {
  const cfg = load(`
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s, namespace: app}
spec:
  egress:
  - hosts: ["./*", "istio-system/*", "*/ext.example.com", "shared/*.shared.svc.cluster.local", "~shared/secret.shared.svc.cluster.local"]
`);
  const [scope] = egressScopes(cfg.sidecars[0]);
  const rows: Array<[string, string, boolean]> = [
    ['app', 'a.app.svc.cluster.local', true],
    ['other', 'a.other.svc.cluster.local', false],
    ['istio-system', 'istiod.istio-system.svc.cluster.local', true],
    ['any', 'ext.example.com', true],
    ['any', 'other.example.com', false],
    ['shared', 'x.shared.svc.cluster.local', true],
    ['shared', 'secret.shared.svc.cluster.local', false],
    ['shared', '*.svc.cluster.local', true], // bidirectional: a wider wildcard overlaps
  ];
  for (const [ns, host, want] of rows) assert.equal(egressImports(scope, ns, host), want, `${ns} ${host}`);
});

const SIDECARS = `
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: root, namespace: istio-system}
spec: {egress: [{hosts: ["istio-system/*"]}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ns-default, namespace: app}
spec: {egress: [{hosts: ["./*"]}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: sel-new, namespace: app, creationTimestamp: "2024-02-01T00:00:00Z"}
spec: {workloadSelector: {labels: {app: web}}, egress: [{hosts: ["*/*"]}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: sel-old, namespace: app, creationTimestamp: "2024-01-01T00:00:00Z"}
spec: {workloadSelector: {labels: {app: web}}, egress: [{hosts: ["*/*"]}]}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: sel-api, namespace: app}
spec: {workloadSelector: {labels: {app: api, tier: back}}, egress: [{hosts: ["*/*"]}]}
`;

void test('selectSidecar precedence', () => {
  const cfg = load(SIDECARS);
  const rows: Array<[ProxyIdentity, string | null]> = [
    [proxy('app', { app: 'web', v: '1' }), 'sel-old'],
    [proxy('app', { app: 'api' }), 'ns-default'], // selector needs tier too
    [proxy('app', { app: 'api', tier: 'back' }), 'sel-api'],
    [proxy('other', { app: 'web' }), 'root'],
    [{ role: 'gateway', namespace: 'app', labels: { app: 'web' } }, null],
  ];
  for (const [p, want] of rows) assert.equal(selectSidecar(cfg.sidecars, p, 'istio-system')?.meta.name ?? null, want, JSON.stringify(p));
  assert.equal(selectSidecar(cfg.sidecars.filter((s) => s.meta.name !== 'root'), proxy('other'), 'istio-system'), null);
});

void test('effectiveOutboundPolicy', () => {
  const cfg = load(`
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: empty-otp}
spec: {egress: [{hosts: ["*/*"]}], outboundTrafficPolicy: {}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: allow}
spec: {egress: [{hosts: ["*/*"]}], outboundTrafficPolicy: {mode: ALLOW_ANY}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: none}
spec: {egress: [{hosts: ["*/*"]}]}
`);
  const byName = (n: string) => cfg.sidecars.find((s) => s.meta.name === n)!;
  const allow = DEFAULT_COMPILE_OPTIONS;
  const registryOnly = { ...DEFAULT_COMPILE_OPTIONS, outboundTrafficPolicy: 'REGISTRY_ONLY' as const };
  assert.equal(effectiveOutboundPolicy(byName('empty-otp'), allow), 'REGISTRY_ONLY');
  assert.equal(effectiveOutboundPolicy(byName('allow'), registryOnly), 'ALLOW_ANY');
  assert.equal(effectiveOutboundPolicy(byName('none'), registryOnly), 'REGISTRY_ONLY');
  assert.equal(effectiveOutboundPolicy(byName('none'), allow), 'ALLOW_ANY');
  assert.equal(effectiveOutboundPolicy(null, allow), 'ALLOW_ANY');
});

const SERVICES = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: app}
spec:
  hosts: [a.app.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 9090, name: http-admin, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b, namespace: other}
spec:
  hosts: [b.other.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 9090, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.2}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: private, namespace: other}
spec:
  hosts: [p.other.svc.cluster.local]
  exportTo: ["."]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.3}]
`;

void test('buildProxyScope: exportTo and egress port restriction', () => {
  const cfg = load(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s, namespace: app}
spec:
  egress:
  - port: {number: 9090, protocol: HTTP, name: admin}
    hosts: ["other/*"]
  - hosts: ["./*", "other/*"]
`);
  const reg = buildRegistry(cfg, { domain: 'cluster.local' });
  const view = (p: ProxyIdentity) =>
    buildProxyScope(cfg, reg, p, DEFAULT_COMPILE_OPTIONS).services.map((s) => `${s.hostname}:${s.ports.map((x) => x.number).join(',')}`);
  // Port 9090 is governed by the first listener (only `other/*`), so a's 9090 is not imported.
  assert.deepEqual(view(proxy('app')), ['a.app.svc.cluster.local:80', 'b.other.svc.cluster.local:9090']);
  // Without Sidecar: everything exported to the namespace, all ports.
  assert.deepEqual(view(proxy('x')), ['a.app.svc.cluster.local:80,9090', 'b.other.svc.cluster.local:9090']);
  assert.deepEqual(view(proxy('other')), ['a.app.svc.cluster.local:80,9090', 'b.other.svc.cluster.local:9090', 'p.other.svc.cluster.local:80']);
  const scope = buildProxyScope(cfg, reg, proxy('app'), DEFAULT_COMPILE_OPTIONS);
  assert.equal(egressForPort(scope.egress, 9090)?.port, 9090);
  assert.equal(egressForPort(scope.egress, 80)?.port, null);
});

void test('sidecarImportsVirtualService uses the VS namespace egress hosts, bidirectionally', () => {
  const cfg = load(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s, namespace: app}
spec:
  egress:
  - hosts: ["./*", "other/b.other.svc.cluster.local"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wide, namespace: other}
spec:
  hosts: ["*.other.svc.cluster.local"]
  http: [{route: [{destination: {host: b.other.svc.cluster.local}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: c, namespace: other}
spec:
  hosts: [c.other.svc.cluster.local]
  http: [{route: [{destination: {host: c.other.svc.cluster.local}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: local, namespace: app}
spec:
  hosts: [a]
  exportTo: ["."]
  http: [{route: [{destination: {host: a}}]}]
`);
  const reg = buildRegistry(cfg, { domain: 'cluster.local' });
  const scope = buildProxyScope(cfg, reg, proxy('app'), DEFAULT_COMPILE_OPTIONS);
  const vs = (n: string) => cfg.virtualServices.find((v) => v.meta.name === n)!;
  assert.equal(sidecarImportsVirtualService(scope, vs('wide'), 80, 'app', 'cluster.local'), true);
  assert.equal(sidecarImportsVirtualService(scope, vs('c'), 80, 'app', 'cluster.local'), false);
  assert.equal(sidecarImportsVirtualService(scope, vs('local'), 80, 'app', 'cluster.local'), true);
  const otherScope = buildProxyScope(cfg, reg, proxy('zzz'), DEFAULT_COMPILE_OPTIONS);
  assert.equal(sidecarImportsVirtualService(otherScope, vs('local'), 80, 'zzz', 'cluster.local'), false);
  assert.equal(sidecarImportsVirtualService(otherScope, vs('c'), 80, 'zzz', 'cluster.local'), true);
});

void test('egress port: listeners keep index, port and hosts; the port-bound one wins, the port-less one covers the rest', () => {
  const cfg = load(`${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: s, namespace: app}
spec:
  egress:
  - port: {number: 9090, protocol: HTTP, name: admin}
    hosts: ["./*"]
  - hosts: ["other/*"]
`);
  const scopes = egressScopes(cfg.sidecars[0]);
  assert.deepEqual(scopes.map((s) => [s.index, s.port, s.hosts]), [[0, 9090, ['./*']], [1, null, ['other/*']]]);
  assert.equal(egressForPort(scopes, 9090)?.index, 0);
  assert.equal(egressForPort(scopes, 80)?.index, 1);
  // Only port-bound listeners: a port none is bound to imports nothing.
  assert.equal(egressForPort([scopes[0]], 80), null);
  const reg = buildRegistry(cfg, { domain: 'cluster.local' });
  const scope = buildProxyScope(cfg, reg, proxy('app'), DEFAULT_COMPILE_OPTIONS);
  // a: 9090 through listener 0 (./*), but its 80 falls to the catch-all (other/* only): hidden.
  // b: 9090 is governed by listener 0, which does not import namespace other: hidden.
  // p: exported to its own namespace only.
  assert.deepEqual(scope.services.map((s) => `${s.hostname}:${s.ports.map((x) => x.number).join(',')}`), ['a.app.svc.cluster.local:9090']);
  assert.deepEqual(describeEgress(scope, proxy('app')), [{ index: 0, port: 9090, hosts: ['./*'] }, { index: 1, port: null, hosts: ['other/*'] }]);
  // No Sidecar: the implicit */* is not recorded; gateways record nothing.
  assert.deepEqual(describeEgress(buildProxyScope(cfg, reg, proxy('x'), DEFAULT_COMPILE_OPTIONS), proxy('x')), []);
  const gw: ProxyIdentity = { role: 'gateway', namespace: 'app', labels: {} };
  assert.deepEqual(describeEgress(buildProxyScope(cfg, reg, gw, DEFAULT_COMPILE_OPTIONS), gw), []);
});
