import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import { formatDiagnostic } from '../core/diagnostics.js';
import { buildRegistry } from '../registry/build.js';
import type { Service } from '../registry/types.js';
import type { ProxyIdentity, Snapshot } from '../snapshot/types.js';
import { validateResources } from '../validate/index.js';
import { compileSnapshot } from './index.js';
import { serviceDomains } from './routes-sidecar.js';

function compile(yaml: string, proxy: Partial<ProxyIdentity> = {}): Snapshot {
  const { resources, diagnostics } = loadText(yaml, 'fixture.yaml', { namespace: 'default' });
  assert.deepEqual(diagnostics, []);
  const v = validateResources(resources);
  assert.deepEqual(v.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  return compileSnapshot(v.config, buildRegistry(v.config, { domain: 'cluster.local' }), { role: 'sidecar', namespace: 'default', labels: {}, ...proxy });
}

const se = (name: string, ns: string, ports: string, extra = '') => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  ports: ${ports}
  resolution: STATIC
  endpoints: [{address: 10.1.1.1}]
${extra}`;

void test('serviceDomains: FQDN, short forms by namespace, VIPs', () => {
  const svc = (hostname: string, addresses: string[] = []): Service => ({
    hostname, namespace: 'x', ports: [], resolution: 'STATIC', location: 'MESH_INTERNAL', addresses, exportTo: '*', endpoints: [],
    subjectAltNames: [], origin: '', order: 0,
  });
  const rows: Array<[Service, string, string[]]> = [
    [svc('reviews.default.svc.cluster.local'), 'default', ['reviews.default.svc.cluster.local', 'reviews.default', 'reviews.default.svc', 'reviews']],
    [svc('reviews.default.svc.cluster.local'), 'other', ['reviews.default.svc.cluster.local', 'reviews.default', 'reviews.default.svc']],
    [svc('api.example.com', ['10.0.0.9', '10.1.0.0/16']), 'default', ['api.example.com', '10.0.0.9']],
    [svc('*.example.com'), 'default', ['*.example.com']],
  ];
  for (const [s, ns, want] of rows) assert.deepEqual(serviceDomains(s, ns, 'cluster.local'), want, `${s.hostname} from ${ns}`);
});

void test('route tables per HTTP port, default routes, defaultPorts, catch-all', () => {
  const snap = compile([
    se('reviews', 'default', '[{number: 9080, name: http, protocol: HTTP}]'),
    se('multi', 'default', '[{number: 8000, name: http, protocol: HTTP}, {number: 8001, name: grpc, protocol: GRPC}, {number: 5432, name: tcp, protocol: TCP}]'),
    se('db', 'default', '[{number: 3306, name: mysql, protocol: MYSQL}]'),
  ].join('---\n'));
  assert.deepEqual([...snap.routeTables.keys()], ['8000', '8001', '9080']);
  const t = snap.routeTables.get('9080')!;
  assert.equal(t.name, '9080');
  const v = t.exact.get('reviews')!;
  assert.equal(v.name, 'reviews.default.svc.cluster.local:9080');
  for (const d of ['reviews.default.svc.cluster.local', 'reviews.default', 'reviews.default.svc']) assert.equal(t.exact.get(d), v);
  assert.equal(v.routes.length, 1);
  assert.equal(v.routes[0].name, 'default');
  assert.equal(t.fallback?.name, 'allow_any');
  assert.deepEqual(Object.fromEntries(snap.defaultPorts), {
    'reviews.default.svc.cluster.local': 9080, 'reviews.default': 9080, 'reviews.default.svc': 9080, reviews: 9080,
  });
  assert.deepEqual(snap.listeners.map((l) => l.name), ['virtualOutbound']);
});

void test('one VS owns a host; later ones are noted; wildcard VS for the rest', () => {
  const snap = compile(`${se('a', 'default', '[{number: 80, name: http, protocol: HTTP}]')}
---
${se('b', 'default', '[{number: 80, name: http, protocol: HTTP}]')}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wild}
spec:
  hosts: ["*.default.svc.cluster.local"]
  http: [{route: [{destination: {host: a, subset: wild}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: first}
spec:
  hosts: [a]
  http: [{route: [{destination: {host: a, subset: first}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: second}
spec:
  hosts: [a.default.svc.cluster.local]
  http: [{route: [{destination: {host: a, subset: second}}]}]
`);
  const t = snap.routeTables.get('80')!;
  assert.deepEqual(t.exact.get('a')!.virtualServices.map((r) => r.name), ['first']);
  assert.deepEqual(t.exact.get('b')!.virtualServices.map((r) => r.name), ['wild']);
  assert.ok(snap.notes.some((n) => n.ref?.name === 'second' && /duplicate domain/.test(n.message)), JSON.stringify(snap.notes));
});

void test('VS hosts without a service: standalone vhost on port 80 only; wildcard domains', () => {
  const snap = compile(`${se('a', 'default', '[{number: 8080, name: http, protocol: HTTP}]')}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ext}
spec:
  hosts: [api.example.com, "*.wild.example.com"]
  http: [{route: [{destination: {host: a}}]}]
`);
  assert.deepEqual([...snap.routeTables.keys()], ['80', '8080']);
  const t80 = snap.routeTables.get('80')!;
  assert.equal(t80.exact.get('api.example.com')?.name, 'api.example.com:80');
  assert.deepEqual(t80.wildcards.map((w) => w.suffix), ['.wild.example.com']);
  assert.equal(snap.routeTables.get('8080')!.exact.get('api.example.com'), undefined);
});

void test('REGISTRY_ONLY catch-all and Sidecar reference', () => {
  const snap = compile(`${se('a', 'default', '[{number: 80, name: http, protocol: HTTP}]')}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default}
spec:
  egress: [{hosts: ["./*"]}]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`);
  assert.equal(snap.outboundTrafficPolicy, 'REGISTRY_ONLY');
  assert.deepEqual(snap.sidecar, { kind: 'Sidecar', namespace: 'default', name: 'default' });
  const fb = snap.routeTables.get('80')!.fallback!;
  assert.equal(fb.name, 'block_all');
  assert.deepEqual(fb.routes[0].action, { kind: 'blocked', status: 502 });
});

void test('egress port: each port table holds the services its governing listener imports; others fall to the catch-all', () => {
  const snap = compile(`${se('a', 'default', '[{number: 9080, name: http, protocol: HTTP}, {number: 7070, name: http-b, protocol: HTTP}]')}
---
${se('b', 'default', '[{number: 8080, name: http, protocol: HTTP}, {number: 9080, name: http-b, protocol: HTTP}]')}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: ported, namespace: default}
spec:
  egress:
  - port: {number: 9080, protocol: HTTP, name: http}
    hosts: ["./a.default.svc.cluster.local"]
  - hosts: ["./b.default.svc.cluster.local"]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`);
  const vhosts = (port: string) => [...(snap.routeTables.get(port)?.exact.values() ?? [])].map((v) => v.name).filter((n, i, all) => all.indexOf(n) === i);
  assert.deepEqual(vhosts('9080'), ['a.default.svc.cluster.local:9080']);
  assert.deepEqual(vhosts('8080'), ['b.default.svc.cluster.local:8080']);
  assert.equal(snap.routeTables.has('7070'), false, 'a:7070 is hidden by the catch-all');
  assert.deepEqual([...snap.clusters.keys()].filter((c) => c.startsWith('outbound|')).sort(), ['outbound|8080||b.default.svc.cluster.local', 'outbound|9080||a.default.svc.cluster.local']);
  // Host without a port: each service's only visible HTTP port.
  assert.equal(snap.defaultPorts.get('a'), 9080);
  assert.equal(snap.defaultPorts.get('b'), 8080);
});
