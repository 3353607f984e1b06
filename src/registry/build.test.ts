import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import type { ConfigSet } from '../api/types.js';
import { validateResources } from '../validate/index.js';
import { buildRegistry, labelsContain, normalizeExportTo } from './build.js';
import type { Service } from './types.js';

/** YAML -> ConfigSet through the real loader and validator; any rejection fails the test loudly. */
function configOf(yaml: string): ConfigSet {
  const loaded = loadText(yaml, 'test.yaml', { namespace: 'default' });
  assert.deepEqual(loaded.diagnostics, []);
  const v = validateResources(loaded.resources);
  const errors = v.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.name}: ${d.path}: ${d.message}`);
  assert.deepEqual(errors, []);
  return v.config;
}

function registryOf(yaml: string) {
  return buildRegistry(configOf(yaml), { domain: 'cluster.local' });
}

function svc(services: ReadonlyMap<string, Service>, host: string): Service {
  const s = services.get(host);
  assert.ok(s, `service ${host} missing; have ${[...services.keys()].join(', ')}`);
  return s;
}

const BASIC = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: web}
spec:
  hosts: [api.example.com, reviews, "*.wild.example.com"]
  ports:
  - {number: 80, name: http, protocol: http}
  - {number: 443, name: https, protocol: HTTPS, targetPort: 8443}
  - {number: 9000, name: raw}
  - {number: 9001, name: gw, protocol: grpc-web}
`;

void test('one Service per host, hosts resolved against the entry namespace, ports normalised', () => {
  const r = registryOf(BASIC);
  assert.deepEqual([...r.services.keys()], ['api.example.com', 'reviews.web.svc.cluster.local', '*.wild.example.com']);
  const s = svc(r.services, 'api.example.com');
  assert.deepEqual(s.ports, [
    { name: 'http', number: 80, protocol: 'HTTP', targetPort: 80 },
    { name: 'https', number: 443, protocol: 'HTTPS', targetPort: 8443 },
    { name: 'raw', number: 9000, protocol: 'UNKNOWN', targetPort: 9000 },
    { name: 'gw', number: 9001, protocol: 'GRPC-WEB', targetPort: 9001 },
  ]);
  const defaults = { namespace: s.namespace, resolution: s.resolution, location: s.location, exportTo: s.exportTo, endpoints: s.endpoints, origin: s.origin, addresses: s.addresses };
  assert.deepEqual(defaults, { namespace: 'web', resolution: 'NONE', location: 'MESH_EXTERNAL', exportTo: '*', endpoints: [], origin: 'ServiceEntry web/ext', addresses: [] });
  assert.equal(s.order, r.services.get('*.wild.example.com')!.order);
  assert.deepEqual(r.notes, []);
});

void test('normalizeExportTo', () => {
  const rows: Array<[string[] | undefined, '*' | string[]]> = [
    [undefined, '*'],
    [[], '*'],
    [['*'], '*'],
    [['.'], ['ns1']],
    [['~'], []],
    [['.', 'other'], ['ns1', 'other']],
    [['ns1'], ['ns1']],
    [['a', '*'], '*'],
  ];
  for (const [input, want] of rows) {
    const got = normalizeExportTo(input, 'ns1');
    assert.deepEqual(got === '*' ? '*' : [...got].sort(), want, JSON.stringify(input));
  }
});

void test('exportTo, location, resolution and addresses are carried over', () => {
  const r = registryOf(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: ns1}
spec:
  hosts: [a.example.com]
  addresses: [10.1.0.0/16]
  exportTo: ["."]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.1.0.1}]
  subjectAltNames: [spiffe://a]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b, namespace: ns1}
spec:
  hosts: [b.example.com]
  exportTo: ["~"]
  ports: [{number: 80, name: http, protocol: HTTP}]
`);
  const a = svc(r.services, 'a.example.com');
  assert.deepEqual([...(a.exportTo as Set<string>)], ['ns1']);
  assert.equal(a.location, 'MESH_INTERNAL');
  assert.equal(a.resolution, 'STATIC');
  assert.deepEqual(a.addresses, ['10.1.0.0/16']);
  assert.deepEqual(a.subjectAltNames, ['spiffe://a']);
  const b = svc(r.services, 'b.example.com');
  assert.notEqual(b.exportTo, '*');
  assert.equal((b.exportTo as Set<string>).size, 0);
});

void test('inline endpoints: fields copied, weight 0/unset becomes 1', () => {
  const r = registryOf(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: data}
spec:
  hosts: [db.internal]
  resolution: STATIC
  ports: [{number: 5432, name: tcp-pg, protocol: TCP}]
  endpoints:
  - {address: 10.0.0.1, weight: 3, labels: {version: v1}, locality: us-east1/a, network: n1, serviceAccount: sa1, ports: {tcp-pg: 15432}}
  - {address: 10.0.0.2, weight: 0}
  - {address: 10.0.0.3}
`);
  const eps = svc(r.services, 'db.internal').endpoints;
  assert.deepEqual(eps[0], {
    address: '10.0.0.1', ports: { 'tcp-pg': 15432 }, labels: { version: 'v1' }, locality: 'us-east1/a',
    weight: 3, network: 'n1', serviceAccount: 'sa1', origin: 'ServiceEntry data/db',
  });
  assert.deepEqual(eps.map((e) => [e.address, e.weight, e.locality, e.labels]), [
    ['10.0.0.1', 3, 'us-east1/a', { version: 'v1' }],
    ['10.0.0.2', 1, '', {}],
    ['10.0.0.3', 1, '', {}],
  ]);
});

const SELECTOR = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: vm, namespace: vms}
spec:
  hosts: [vm.vms.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 8080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-1, namespace: vms}
spec: {address: 10.2.0.1, labels: {app: vm, version: v1}, weight: 2, ports: {http: 18080}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-2, namespace: vms, labels: {version: v2}}
spec: {address: 10.2.0.2, labels: {app: vm, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: vm-other-ns, namespace: elsewhere}
spec: {address: 10.2.0.3, labels: {app: vm}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: not-vm, namespace: vms}
spec: {address: 10.2.0.4, labels: {app: other}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: meta-only, namespace: vms, labels: {app: vm}}
spec: {address: 10.2.0.5}
`;

void test('workloadSelector picks WorkloadEntries of the same namespace whose labels contain the selector', () => {
  const r = registryOf(SELECTOR);
  const eps = svc(r.services, 'vm.vms.svc.cluster.local').endpoints;
  assert.deepEqual(eps.map((e) => [e.origin, e.address, e.labels, e.weight, e.ports]), [
    ['WorkloadEntry vms/vm-1', '10.2.0.1', { app: 'vm', version: 'v1' }, 2, { http: 18080 }],
    // metadata labels override spec labels
    ['WorkloadEntry vms/vm-2', '10.2.0.2', { app: 'vm', version: 'v2' }, 1, {}],
    ['WorkloadEntry vms/meta-only', '10.2.0.5', { app: 'vm' }, 1, {}],
  ]);
  assert.deepEqual(r.notes.map((n) => n.origin).sort(), ['WorkloadEntry elsewhere/vm-other-ns', 'WorkloadEntry vms/not-vm']);
});

void test('DNS resolution: the host is the endpoint only without endpoints and selector', () => {
  const r = registryOf(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: default}
spec:
  hosts: [a.example.com, b.example.com]
  resolution: DNS
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns-sel, namespace: default}
spec:
  hosts: [sel.example.com]
  resolution: DNS
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: none}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns-eps, namespace: default}
spec:
  hosts: [eps.example.com]
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: backend.example.net}]
`);
  const rows: Array<[string, string[]]> = [
    ['a.example.com', ['a.example.com']],
    ['b.example.com', ['b.example.com']],
    ['sel.example.com', []],
    ['eps.example.com', ['backend.example.net']],
  ];
  for (const [host, addrs] of rows) assert.deepEqual(svc(r.services, host).endpoints.map((e) => e.address), addrs, host);
  assert.equal(svc(r.services, 'a.example.com').endpoints[0].weight, 1);
  assert.equal(svc(r.services, 'a.example.com').endpoints[0].origin, 'ServiceEntry default/dns');
});

void test('hostname WorkloadEntries back only DNS entries', () => {
  const yaml = (resolution: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se, namespace: default}
spec:
  hosts: [svc.example.com]
  resolution: ${resolution}
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: x}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: byname, namespace: default}
spec: {address: vm.example.net, labels: {app: x}}
`;
  const dns = registryOf(yaml('DNS'));
  assert.deepEqual(svc(dns.services, 'svc.example.com').endpoints.map((e) => e.address), ['vm.example.net']);
  assert.deepEqual(dns.notes, []);
  const stat = registryOf(yaml('STATIC'));
  assert.deepEqual(svc(stat.services, 'svc.example.com').endpoints, []);
  assert.equal(stat.notes.length, 1);
  assert.equal(stat.notes[0].origin, 'WorkloadEntry default/byname');
});

void test('same host from two ServiceEntries: the oldest wins and the loser is noted', () => {
  const two = (aMeta: string, bMeta: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: ns-a${aMeta}}
spec:
  hosts: [shared.example.com, only-a.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: b, namespace: ns-b${bMeta}}
spec:
  hosts: [shared.example.com]
  ports: [{number: 8080, name: http, protocol: HTTP}]
`;
  const rows: Array<[string, string, string, string]> = [
    // [a metadata, b metadata, winner, loser]
    ['', '', 'ServiceEntry ns-a/a', 'ServiceEntry ns-b/b'],
    [', creationTimestamp: "2024-05-01T00:00:00Z"', ', creationTimestamp: "2024-01-01T00:00:00Z"', 'ServiceEntry ns-b/b', 'ServiceEntry ns-a/a'],
    [', creationTimestamp: "2024-01-01T00:00:00Z"', ', creationTimestamp: "2024-05-01T00:00:00Z"', 'ServiceEntry ns-a/a', 'ServiceEntry ns-b/b'],
    // only one timestamp: load order decides
    [', creationTimestamp: "2024-05-01T00:00:00Z"', '', 'ServiceEntry ns-a/a', 'ServiceEntry ns-b/b'],
  ];
  for (const [am, bm, winner, loser] of rows) {
    const r = registryOf(two(am, bm));
    const s = svc(r.services, 'shared.example.com');
    assert.equal(s.origin, winner, `${am} / ${bm}`);
    assert.equal(s.ports[0].number, winner.endsWith('/a') ? 80 : 8080);
    assert.deepEqual(r.notes.map((n) => n.origin), [loser]);
    assert.match(r.notes[0].message, /shared\.example\.com/);
    // ordering key is the load order of the defining entry
    assert.equal(s.order, winner.endsWith('/a') ? 0 : 1);
    assert.ok(r.services.has('only-a.example.com'));
  }
});

void test('labelsContain', () => {
  const rows: Array<[Record<string, string>, Record<string, string>, boolean]> = [
    [{ a: '1', b: '2' }, { a: '1' }, true],
    [{ a: '1' }, { a: '1', b: '2' }, false],
    [{ a: '1' }, { a: '2' }, false],
    [{}, {}, true],
    [{ a: '' }, { a: '' }, true],
    [{}, { a: '' }, false],
  ];
  for (const [labels, sel, want] of rows) assert.equal(labelsContain(labels, sel), want, JSON.stringify([labels, sel]));
});
