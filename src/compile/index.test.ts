import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import type { ConfigSet } from '../api/types.js';
import { formatDiagnostic } from '../core/diagnostics.js';
import { buildRegistry } from '../registry/build.js';
import { validateResources } from '../validate/index.js';
import { compileSnapshot } from './index.js';

const YAML = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews}
spec:
  hosts: [reviews.default.svc.cluster.local]
  location: MESH_INTERNAL
  ports: [{number: 9080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 10.0.0.1, labels: {version: v1}}, {address: 10.0.0.2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {regex: "(?i)jason"}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - route: [{destination: {host: reviews, subset: v1}}]
`;

function load(yaml: string): ConfigSet {
  const { resources, diagnostics } = loadText(yaml, 'fixture.yaml', { namespace: 'default' });
  assert.deepEqual(diagnostics, []);
  const v = validateResources(resources);
  assert.deepEqual(v.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  return v.config;
}

void test('compileSnapshot: frozen, deterministic, options defaulted', () => {
  const cfg = load(YAML);
  const reg = buildRegistry(cfg, { domain: 'cluster.local' });
  const proxy = { role: 'sidecar' as const, namespace: 'default', labels: { app: 'productpage' } };
  const a = compileSnapshot(cfg, reg, proxy);
  const b = compileSnapshot(cfg, reg, proxy);
  assert.deepEqual(a, b);
  assert.ok(Object.isFrozen(a));
  const t = a.routeTables.get('9080')!;
  const route = t.exact.get('reviews')!.routes[0];
  assert.ok(Object.isFrozen(route));
  assert.ok(Object.isFrozen(route.match.headers[0]));
  assert.throws(() => {
    (route as { name: string | null }).name = 'x';
  }, TypeError);
  assert.deepEqual(a.options, { domain: 'cluster.local', rootNamespace: 'istio-system', outboundTrafficPolicy: 'ALLOW_ANY' });
  assert.deepEqual(a.proxy, proxy);
  assert.notEqual(a.proxy, proxy); // copied, so freezing never touches the caller's object
  assert.ok(!Object.isFrozen(proxy.labels));
  assert.deepEqual([...a.clusters.keys()], [
    'outbound|9080||reviews.default.svc.cluster.local',
    'outbound|9080|v1|reviews.default.svc.cluster.local',
    'outbound|9080|v2|reviews.default.svc.cluster.local',
  ]);
  const c = compileSnapshot(cfg, reg, proxy, { outboundTrafficPolicy: 'REGISTRY_ONLY' });
  assert.equal(c.outboundTrafficPolicy, 'REGISTRY_ONLY');
  assert.equal(c.routeTables.get('9080')!.fallback?.name, 'block_all');
  // The config itself is never frozen or changed.
  assert.ok(!Object.isFrozen(cfg.virtualServices[0].spec));
});

void test('compileSnapshot: custom domain resolves short names with it', () => {
  const cfg = load(YAML.replaceAll('reviews.default.svc.cluster.local', 'reviews.default.svc.corp.internal'));
  const reg = buildRegistry(cfg, { domain: 'corp.internal' });
  const snap = compileSnapshot(cfg, reg, { role: 'sidecar', namespace: 'default', labels: {} }, { domain: 'corp.internal' });
  const v = snap.routeTables.get('9080')!.exact.get('reviews')!;
  assert.equal(v.name, 'reviews.default.svc.corp.internal:9080');
  assert.deepEqual(v.virtualServices.map((r) => r.name), ['reviews']);
});
