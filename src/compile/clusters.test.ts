import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import type { ConfigSet } from '../api/types.js';
import { buildRegistry } from '../registry/build.js';
import { validateResources } from '../validate/index.js';
import { DEFAULT_COMPILE_OPTIONS, type Cluster, type ProxyIdentity } from '../snapshot/types.js';
import { buildClusters, clusterName } from './clusters.js';

function configOf(yaml: string): ConfigSet {
  const loaded = loadText(yaml, 'test.yaml', { namespace: 'default' });
  assert.deepEqual(loaded.diagnostics, []);
  const v = validateResources(loaded.resources);
  const errors = v.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.name}: ${d.path}: ${d.message}`);
  assert.deepEqual(errors, []);
  return v.config;
}

const PROXY: ProxyIdentity = { role: 'sidecar', namespace: 'default', labels: { app: 'productpage' } };

function clustersOf(yaml: string, proxy: ProxyIdentity = PROXY): Map<string, Cluster> {
  const config = configOf(yaml);
  const registry = buildRegistry(config, { domain: 'cluster.local' });
  return buildClusters({ services: [...registry.services.values()], config, proxy, opts: DEFAULT_COMPILE_OPTIONS });
}

function get(clusters: ReadonlyMap<string, Cluster>, name: string): Cluster {
  const c = clusters.get(name);
  assert.ok(c, `cluster ${name} missing; have ${[...clusters.keys()].join(', ')}`);
  return c;
}

void test('clusterName', () => {
  const rows: Array<[number, string | null, string, string]> = [
    [9080, 'v2', 'reviews.default.svc.cluster.local', 'outbound|9080|v2|reviews.default.svc.cluster.local'],
    [9080, null, 'reviews.default.svc.cluster.local', 'outbound|9080||reviews.default.svc.cluster.local'],
    [443, '', 'api.example.com', 'outbound|443||api.example.com'],
    [80, null, '*.example.com', 'outbound|80||*.example.com'],
  ];
  for (const [port, subset, host, want] of rows) assert.equal(clusterName(port, subset, host), want);
});

const REVIEWS = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: default}
spec:
  hosts: [reviews]
  location: MESH_INTERNAL
  resolution: STATIC
  ports:
  - {number: 9080, name: http, protocol: HTTP}
  - {number: 9443, name: grpc, protocol: GRPC, targetPort: 19443}
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v1, namespace: default}
spec: {address: 10.0.0.1, labels: {app: reviews, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v2, namespace: default}
spec: {address: 10.0.0.2, labels: {app: reviews, version: v2}, ports: {http: 19080}, weight: 4, locality: r1/z1}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-v3, namespace: default}
spec: {address: 10.0.0.3, labels: {app: reviews, version: v3}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: default}
spec:
  host: reviews
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 7}}
    portLevelSettings:
    - port: {number: 9443}
      loadBalancer: {simple: RANDOM}
  subsets:
  - {name: v1, labels: {version: v1}}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  - {name: v3, labels: {version: v3}}
  - {name: v4, labels: {version: v4}}
`;
const HOST = 'reviews.default.svc.cluster.local';

void test('default cluster plus one per subset, per port, in order', () => {
  const clusters = clustersOf(REVIEWS);
  const names = ['', 'v1', 'v2', 'v3', 'v4'];
  assert.deepEqual([...clusters.keys()], [
    ...names.map((s) => `outbound|9080|${s}|${HOST}`),
    ...names.map((s) => `outbound|9443|${s}|${HOST}`),
  ]);
});

void test('subset endpoint selection and endpoint ports', () => {
  const clusters = clustersOf(REVIEWS);
  const rows: Array<[string, string[]]> = [
    [`outbound|9080||${HOST}`, ['10.0.0.1:9080', '10.0.0.2:19080', '10.0.0.3:9080']],
    [`outbound|9080|v1|${HOST}`, ['10.0.0.1:9080']],
    [`outbound|9080|v2|${HOST}`, ['10.0.0.2:19080']],
    [`outbound|9443|v2|${HOST}`, ['10.0.0.2:19443']],
    [`outbound|9443||${HOST}`, ['10.0.0.1:19443', '10.0.0.2:19443', '10.0.0.3:19443']],
    // a subset selecting nothing is kept, empty: the data plane answers 503 UH
    [`outbound|9080|v4|${HOST}`, []],
  ];
  for (const [name, want] of rows) assert.deepEqual(get(clusters, name).endpoints.map((e) => `${e.address}:${e.port}`), want, name);
  const v2 = get(clusters, `outbound|9080|v2|${HOST}`).endpoints[0];
  assert.deepEqual(v2, { address: '10.0.0.2', port: 19080, labels: { app: 'reviews', version: 'v2' }, locality: 'r1/z1', weight: 4 });
});

void test('cluster metadata and per-cluster policies', () => {
  const clusters = clustersOf(REVIEWS);
  const v2 = get(clusters, `outbound|9080|v2|${HOST}`);
  assert.deepEqual(
    { host: v2.host, namespace: v2.namespace, port: v2.port, protocol: v2.protocol, subset: v2.subset, subsetLabels: v2.subsetLabels, resolution: v2.resolution, location: v2.location, destinationRule: v2.destinationRule },
    { host: HOST, namespace: 'default', port: 9080, protocol: 'HTTP', subset: 'v2', subsetLabels: { version: 'v2' }, resolution: 'STATIC', location: 'MESH_INTERNAL', destinationRule: { kind: 'DestinationRule', namespace: 'default', name: 'reviews' } },
  );
  const rows: Array<[string, string, number]> = [
    // [cluster, lb kind, maxConnections]
    [`outbound|9080||${HOST}`, 'LEAST_REQUEST', 7],
    [`outbound|9080|v1|${HOST}`, 'LEAST_REQUEST', 7],
    [`outbound|9080|v2|${HOST}`, 'ROUND_ROBIN', 7],
    // port level on 9443: RANDOM, connection pool back to defaults
    [`outbound|9443||${HOST}`, 'RANDOM', 4294967295],
    [`outbound|9443|v2|${HOST}`, 'ROUND_ROBIN', 4294967295],
  ];
  for (const [name, lb, maxConn] of rows) {
    const c = get(clusters, name);
    assert.deepEqual([c.lb.kind, c.connectionPool.maxConnections], [lb, maxConn], name);
  }
  const d = get(clusters, `outbound|9080||${HOST}`);
  assert.equal(d.subset, null);
  assert.equal(d.subsetLabels, null);
  assert.equal(d.outlier, null);
  assert.equal(d.tls, null);
  assert.equal(get(clusters, `outbound|9443||${HOST}`).protocol, 'GRPC');
});

void test('without a visible DestinationRule only default clusters exist', () => {
  const hidden = REVIEWS.replace('host: reviews\n', 'host: reviews\n  exportTo: ["."]\n');
  const clusters = clustersOf(hidden, { role: 'sidecar', namespace: 'other', labels: {} });
  assert.deepEqual([...clusters.keys()], [`outbound|9080||${HOST}`, `outbound|9443||${HOST}`]);
  assert.equal(get(clusters, `outbound|9080||${HOST}`).destinationRule, null);
  assert.equal(get(clusters, `outbound|9080||${HOST}`).lb.kind, 'LEAST_REQUEST');
});

void test('resolution NONE and PASSTHROUGH load balancing: original destination, no endpoints', () => {
  const clusters = clustersOf(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: wild, namespace: default}
spec:
  hosts: ["*.example.com"]
  ports: [{number: 80, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: wild, namespace: default}
spec:
  host: "*.example.com"
  trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true}}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: static, namespace: default}
spec:
  hosts: [static.example.com]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.9.0.1}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: static, namespace: default}
spec:
  host: static.example.com
  trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}
`);
  const rows: Array<[string, string, string]> = [
    ['outbound|80||*.example.com', 'NONE', 'PASSTHROUGH'],
    ['outbound|80||static.example.com', 'STATIC', 'PASSTHROUGH'],
  ];
  for (const [name, resolution, lb] of rows) {
    const c = get(clusters, name);
    assert.deepEqual([c.resolution, c.lb.kind, c.lb.hash, c.endpoints], [resolution, lb, null, []], name);
  }
});

void test('DNS services point at the host name; unix endpoints have no port', () => {
  const clusters = clustersOf(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: default}
spec:
  hosts: [api.example.com]
  resolution: DNS
  ports: [{number: 443, name: https, protocol: HTTPS, targetPort: 8443}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: uds, namespace: default}
spec:
  hosts: [uds.local]
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: "unix:///var/run/app.sock"}]
`);
  assert.deepEqual(get(clusters, 'outbound|443||api.example.com').endpoints.map((e) => [e.address, e.port]), [['api.example.com', 8443]]);
  assert.deepEqual(get(clusters, 'outbound|80||uds.local').endpoints.map((e) => [e.address, e.port]), [['unix:///var/run/app.sock', 0]]);
});

void test('ISTIO_MUTUAL without subjectAltNames verifies the ServiceEntry SANs', () => {
  const yaml = (sans: string) => `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: m, namespace: default}
spec:
  hosts: [m.example.com]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.1.1.1}]
  subjectAltNames: ["spiffe://cluster.local/ns/default/sa/m"]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: m, namespace: default}
spec:
  host: m.example.com
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL${sans}}}
`;
  assert.deepEqual(get(clustersOf(yaml('')), 'outbound|80||m.example.com').tls?.subjectAltNames, ['spiffe://cluster.local/ns/default/sa/m']);
  assert.deepEqual(get(clustersOf(yaml(', subjectAltNames: [other]')), 'outbound|80||m.example.com').tls?.subjectAltNames, ['other']);
});

void test('the DestinationRule is looked up for this proxy (workloadSelector)', () => {
  const yaml = `${REVIEWS}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: for-productpage, namespace: default}
spec:
  host: reviews
  workloadSelector: {matchLabels: {app: productpage}}
  subsets: [{name: canary, labels: {version: v3}}]
`;
  const pp = clustersOf(yaml);
  assert.deepEqual([...pp.keys()].filter((k) => k.startsWith('outbound|9080|')), [`outbound|9080||${HOST}`, `outbound|9080|canary|${HOST}`]);
  assert.deepEqual(get(pp, `outbound|9080|canary|${HOST}`).destinationRule?.name, 'for-productpage');
  const other = clustersOf(yaml, { role: 'sidecar', namespace: 'default', labels: { app: 'ratings' } });
  assert.ok(other.has(`outbound|9080|v1|${HOST}`));
  assert.ok(!other.has(`outbound|9080|canary|${HOST}`));
});
