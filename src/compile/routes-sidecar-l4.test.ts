import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import { formatDiagnostic } from '../core/diagnostics.js';
import { buildRegistry } from '../registry/build.js';
import type { ProxyIdentity, SidecarL4Route, SidecarL4Service, Snapshot } from '../snapshot/types.js';
import { validateResources } from '../validate/index.js';
import { compileSnapshot } from './index.js';
import { l4Kind } from './routes-sidecar-l4.js';

function compile(yaml: string, proxy: Partial<ProxyIdentity> = {}): Snapshot {
  const { resources, diagnostics } = loadText(yaml, 'fixture.yaml', { namespace: 'default' });
  assert.deepEqual(diagnostics, []);
  const v = validateResources(resources);
  assert.deepEqual(v.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  return compileSnapshot(v.config, buildRegistry(v.config, { domain: 'cluster.local' }), { role: 'sidecar', namespace: 'default', labels: {}, ...proxy });
}

function entry(snap: Snapshot, port: number, host: string): SidecarL4Service {
  const e = snap.sidecarL4?.get(port)?.find((s) => s.host === host);
  assert.ok(e, `no L4 entry for ${host}:${port}: ${JSON.stringify([...(snap.sidecarL4?.keys() ?? [])])}`);
  return e;
}

/** `vs tcp[rule] match[m] subnets -> cluster:weight,...` for compact assertions. */
const show = (r: SidecarL4Route | null): string =>
  r === null
    ? 'none'
    : `${r.virtualService ? `${r.virtualService.name} ${r.ruleIndex}/${r.matchIndex ?? '-'}` : 'default'}` +
      `${r.sniHosts.length ? ` sni=${r.sniHosts.join('|')}` : ''}${r.destinationSubnets.length ? ` net=${r.destinationSubnets.join('|')}` : ''}` +
      ` -> ${r.destinations.map((d) => `${d.cluster}:${d.weight}`).join(',')}`;

const SERVICES = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db}
spec:
  hosts: [db.default.svc.cluster.local]
  addresses: [10.9.0.1]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}, {number: 8080, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, labels: {version: v1}}, {address: 127.0.0.2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vip-tls}
spec:
  hosts: [secure.example.com]
  addresses: [240.0.0.7]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 443, name: tls, protocol: TLS}]
`;

void test('l4Kind: TCP-like and TLS-like ports; HTTP-like ports have none', () => {
  assert.deepEqual(['TCP', 'MONGO', 'REDIS', 'MYSQL', 'TLS', 'HTTPS', 'HTTP', 'GRPC', 'UNKNOWN'].map(l4Kind), ['tcp', 'tcp', 'tcp', 'tcp', 'tls', 'tls', null, null, null]);
});

void test('default L4 routes: TCP ports go to the service; TLS ports by SNI without a VIP, any SNI with one', () => {
  const snap = compile(SERVICES);
  assert.deepEqual([...(snap.sidecarL4?.keys() ?? [])], [443, 5432]);
  const db = entry(snap, 5432, 'db.default.svc.cluster.local');
  assert.equal(db.kind, 'tcp');
  assert.deepEqual(db.domains, ['db.default.svc.cluster.local', 'db.default', 'db.default.svc', 'db', '10.9.0.1']);
  assert.deepEqual(db.routes, []);
  assert.equal(show(db.fallback), 'default -> outbound|5432||db.default.svc.cluster.local:100');
  const ext = entry(snap, 443, 'api.example.com');
  assert.equal(ext.kind, 'tls');
  assert.equal(show(ext.fallback), 'default sni=api.example.com -> outbound|443||api.example.com:100');
  assert.equal(show(entry(snap, 443, 'secure.example.com').fallback), 'default -> outbound|443||secure.example.com:100');
  // The HTTP port stays in the HTTP route tables only.
  assert.equal(snap.sidecarL4?.get(8080), undefined);
});

void test('tcp routes: VS order, config-time sourceLabels/sourceNamespace/port/gateways, subnets kept, truncated after a catch-all', () => {
  const yaml = `${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db-split}
spec:
  hosts: [db]
  tcp:
  - match: [{sourceLabels: {app: batch}}]
    route: [{destination: {host: db, subset: v2}}]
  - match: [{sourceNamespace: other}, {port: 5433}, {gateways: [some-gw]}]
    route: [{destination: {host: db, subset: v2}}]
  - match: [{destinationSubnets: [10.9.0.0/16]}, {gateways: [mesh], port: 5432, destinationSubnets: [192.168.0.0/24]}]
    route: [{destination: {host: db, subset: v1}}]
  - route:
    - {destination: {host: db, subset: v1}, weight: 80}
    - {destination: {host: db, subset: v2}, weight: 20}
  - route: [{destination: {host: db, subset: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db-later}
spec:
  hosts: [db.default.svc.cluster.local]
  tcp:
  - route: [{destination: {host: db, subset: v2}}]
`;
  const plain = entry(compile(yaml), 5432, 'db.default.svc.cluster.local');
  assert.deepEqual(plain.routes.map(show), [
    'db-split 2/0 net=10.9.0.0/16 -> outbound|5432|v1|db.default.svc.cluster.local:100',
    'db-split 2/1 net=192.168.0.0/24 -> outbound|5432|v1|db.default.svc.cluster.local:100',
    'db-split 3/- -> outbound|5432|v1|db.default.svc.cluster.local:80,outbound|5432|v2|db.default.svc.cluster.local:20',
  ]);
  // sourceLabels match the proxy's own labels: a batch workload gets rule 0 first, and it catches all.
  const batch = entry(compile(yaml, { labels: { app: 'batch', version: 'x' } }), 5432, 'db.default.svc.cluster.local');
  assert.deepEqual(batch.routes.map(show), ['db-split 0/0 -> outbound|5432|v2|db.default.svc.cluster.local:100']);
  // sourceNamespace: the proxy's namespace.
  const other = entry(compile(yaml, { namespace: 'other' }), 5432, 'db.default.svc.cluster.local');
  assert.equal(show(other.routes[0]), 'db-split 1/0 -> outbound|5432|v2|db.default.svc.cluster.local:100');
});

void test('tls routes: every fitting match in order, sniHosts kept, no default route once a tls route applies', () => {
  const yaml = `${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ext}
spec:
  hosts: [api.example.com, secure.example.com]
  tls:
  - match: [{sniHosts: [api.example.com], sourceLabels: {app: never}}]
    route: [{destination: {host: secure.example.com}}]
  - match: [{sniHosts: [api.example.com], port: 443}, {sniHosts: [api.example.com], port: 8443}]
    route:
    - {destination: {host: api.example.com}, weight: 90}
    - {destination: {host: secure.example.com}, weight: 10}
  - match: [{sniHosts: [secure.example.com], destinationSubnets: [240.0.0.0/8]}]
    route: [{destination: {host: secure.example.com, port: {number: 443}}}]
`;
  const snap = compile(yaml);
  const api = entry(snap, 443, 'api.example.com');
  assert.deepEqual(api.routes.map(show), [
    'ext 1/0 sni=api.example.com -> outbound|443||api.example.com:90,outbound|443||secure.example.com:10',
    'ext 2/0 sni=secure.example.com net=240.0.0.0/8 -> outbound|443||secure.example.com:100',
  ]);
  assert.equal(api.fallback, null);
});

void test('VirtualServices not bound to mesh, not exported, or hidden by the Sidecar egress do not apply', () => {
  const yaml = `${SERVICES}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: gw-only}
spec:
  hosts: [db]
  gateways: [some-gw]
  tcp: [{route: [{destination: {host: db, subset: v2}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: elsewhere}
spec:
  hosts: [db.default.svc.cluster.local]
  exportTo: [.]
  tcp: [{route: [{destination: {host: db.default.svc.cluster.local, subset: v2}}]}]
`;
  assert.deepEqual(entry(compile(yaml), 5432, 'db.default.svc.cluster.local').routes, []);
  const scoped = compile(`${yaml}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default}
spec:
  egress: [{hosts: [./api.example.com]}]
`);
  assert.equal(scoped.sidecarL4?.get(5432), undefined, 'db is not imported');
  assert.equal(scoped.sidecarL4?.get(443)?.length, 1);
});

void test('gateways get no sidecar L4 routes', () => {
  const snap = compile(SERVICES, { role: 'gateway', labels: { istio: 'ingressgateway' } });
  assert.equal(snap.sidecarL4?.size ?? 0, 0);
});
