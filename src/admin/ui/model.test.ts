import { test } from 'node:test';
import assert from 'node:assert/strict';
import { edgeCounters, EdgeRateTracker, readEdgeFamilies, type EdgeStats } from '../../observability/edges.js';
import { buildDashboardState, clusterNodes, splitsOf, type SourceReading } from './model.js';
import { dest, fakeSource, meshState, statusOf, type FakeSource } from './testkit.js';
import type { ClusterStatus } from '../server.js';

const META = { atMs: 1_700_000_000_000, intervalMs: 1000, windowMs: 5000, errors: [] };

async function readingOf(s: FakeSource): Promise<SourceReading> {
  return { id: s.id, title: s.title, identity: s.identity(), ready: s.ready(), status: s.configStatus(), state: s.configState(), clusters: await s.clusters(), listeners: [] };
}

/** Rates for the sources' metrics: a zero baseline at t=0, the current counters at t=2s. */
function rates(sources: FakeSource[], before: ReturnType<typeof edgeCounters>): EdgeStats[] {
  const t = new EdgeRateTracker();
  t.add(0, before);
  return t.add(2000, edgeCounters(sources.flatMap((s) => readEdgeFamilies(s.metrics))));
}

test('splitsOf: one entry per weighted VirtualService rule, weights in percent; single-destination rules are not splits', () => {
  const state = meshState({ app: 'productpage', version: 'v1' });
  const splits = splitsOf(state.snapshot);
  assert.equal(splits.length, 1);
  assert.equal(splits[0].virtualService, 'default/reviews');
  assert.equal(splits[0].rule, 1);
  assert.equal(splits[0].name, 'canary');
  assert.deepEqual(splits[0].destinations.map((d) => [d.subset, d.percent]), [['v1', 75], ['v3', 25]]);
  assert.equal(splitsOf(state.snapshot), splits, 'cached per snapshot');
});

test('clusterNodes: every cluster maps to the workloads of its endpoints, labelled as metrics label them', () => {
  const nodes = clusterNodes(meshState({ app: 'productpage', version: 'v1' }).snapshot);
  assert.deepEqual(nodes.get('outbound|9080|v3|reviews.default.svc.cluster.local')?.map((n) => n.id), ['default/reviews-v3']);
  assert.deepEqual(nodes.get('outbound|9080||reviews.default.svc.cluster.local')?.map((n) => n.id), ['default/reviews-v1', 'default/reviews-v2', 'default/reviews-v3']);
});

test('graph: a node per service version before any traffic, proxies marked; no edges yet', async () => {
  const pp = fakeSource('productpage-v1', { app: 'productpage', version: 'v1' });
  const st = buildDashboardState([await readingOf(pp)], [], META);
  const ids = st.graph.nodes.map((n) => n.id).sort();
  assert.deepEqual(ids, ['default/details-v1', 'default/productpage-v1', 'default/reviews-v1', 'default/reviews-v2', 'default/reviews-v3']);
  const node = st.graph.nodes.find((n) => n.id === 'default/productpage-v1');
  assert.equal(node?.kind, 'proxy');
  assert.deepEqual(node?.proxies, [{ id: 'productpage-v1', role: 'sidecar' }]);
  assert.equal(st.graph.nodes.find((n) => n.id === 'default/reviews-v2')?.label, 'reviews v2');
  assert.deepEqual(st.graph.edges, []);
  assert.equal(st.sources[0].node, 'default/productpage-v1');
});

test('graph: measured edges carry rates, and the canary weights label the edges of the proxy that calls reviews only', async () => {
  const pp = fakeSource('productpage-v1', { app: 'productpage', version: 'v1' });
  const details = fakeSource('details-v1', { app: 'details', version: 'v1' });
  const baseline = edgeCounters([]);
  for (let i = 0; i < 30; i++) pp.metrics.recordRequest({ destination: dest('reviews', 'v1'), responseCode: i < 3 ? 503 : 200, durationMs: 5 });
  for (let i = 0; i < 10; i++) pp.metrics.recordRequest({ destination: dest('details', 'v1'), responseCode: 200, durationMs: 2 });
  const st = buildDashboardState([await readingOf(pp), await readingOf(details)], rates([pp, details], baseline), META);
  const edge = (id: string) => st.graph.edges.find((e) => e.id === id);
  const v1 = edge('default/productpage-v1 -> default/reviews-v1');
  assert.ok(v1, JSON.stringify(st.graph.edges.map((e) => e.id)));
  assert.equal(v1.rps, 15);
  assert.equal(v1.errorRate, 0.1);
  assert.ok(v1.p99Ms !== null && v1.p99Ms > 1 && v1.p99Ms <= 5);
  assert.deepEqual(v1.weights, [{ percent: 75, route: 'default/reviews http[1] "canary"' }]);
  // v3 has seen nothing yet, but productpage calls reviews: the configured 25% edge is drawn, idle.
  const v3 = edge('default/productpage-v1 -> default/reviews-v3');
  assert.ok(v3);
  assert.equal(v3.rps, 0);
  assert.equal(v3.requests, 0);
  assert.deepEqual(v3.weights.map((w) => w.percent), [25]);
  assert.equal(edge('default/productpage-v1 -> default/details-v1')?.weights.length, 0);
  // details' sidecar has the same route table but never calls reviews: no edge from it.
  assert.equal(st.graph.edges.filter((e) => e.source === 'default/details-v1').length, 0);
  // The split panel lists the rule once, for both proxies whose config has it.
  assert.equal(st.splits.length, 1);
  assert.deepEqual(st.splits[0].proxies, ['productpage-v1', 'details-v1']);
  assert.deepEqual(st.splits[0].destinations.map((d) => d.nodes), [['default/reviews-v1'], ['default/reviews-v3']]);
  // Both serve the same files and version: one config group.
  assert.equal(st.config.length, 1);
  assert.deepEqual(st.config[0].proxies, ['productpage-v1', 'details-v1']);
  assert.deepEqual(st.config[0].resources, { VirtualService: 2, DestinationRule: 1, Gateway: 1, ServiceEntry: 3 });
  assert.deepEqual(st.config[0].gateways, ['default/web']);
  assert.equal(st.config[0].files[0].path, 'mesh.yaml');
});

test('graph: a request to a service with no known workload ends at a service node', async () => {
  const pp = fakeSource('productpage-v1', { app: 'productpage', version: 'v1' });
  pp.metrics.recordRequest({ destination: { service: 'httpbin.org' }, responseCode: 502 });
  const st = buildDashboardState([await readingOf(pp)], rates([pp], []), META);
  const n = st.graph.nodes.find((x) => x.id === 'svc:httpbin.org');
  assert.equal(n?.kind, 'service');
  assert.equal(n?.label, 'httpbin');
  assert.equal(st.graph.edges.find((e) => e.target === 'svc:httpbin.org')?.errorRate, 1);
});

test('config view: diagnostics of the serving version and the last rejected attempt, formatted file:line:col', async () => {
  const pp = fakeSource('productpage-v1', { app: 'productpage', version: 'v1' });
  const state = pp.configState();
  assert.ok(state);
  const status = statusOf(state);
  const r = await readingOf(pp);
  r.status = {
    ...status,
    inSync: false,
    lastRejected: {
      at: '2026-01-01T00:00:00.000Z', errorCount: 1, servingVersion: 1,
      diagnostics: [{ file: 'bad.yaml', line: 7, column: 9, severity: 'error', kind: 'VirtualService', namespace: 'default', name: 'reviews', path: 'spec.http[0].timeout', message: 'invalid duration' }],
    },
  };
  const g = buildDashboardState([r], [], META).config[0];
  assert.equal(g.inSync, false);
  assert.equal(g.lastRejected?.errorCount, 1);
  assert.deepEqual(g.lastRejected?.diagnostics, [{ severity: 'error', text: 'bad.yaml:7:9: error VirtualService default/reviews: spec.http[0].timeout: invalid duration' }]);
});

test('limits: nodes past the cap are counted, not sent (proxies first); clusters with traffic or ejections sort first', async () => {
  const pp = fakeSource('productpage-v1', { app: 'productpage', version: 'v1' });
  const ep = (total: number, ejected: boolean): ClusterStatus['endpoints'][number] => ({
    address: '127.0.0.1', port: 1, health: ejected ? 'ejected' : 'healthy', weight: 1, locality: '', labels: {}, activeRequests: 0, totalRequests: total,
    failures: 0, connections: 0, ejected, ejectionReason: ejected ? 'consecutive_5xx' : null, ejectedUntil: null, ejectionCount: ejected ? 1 : 0,
  });
  const cluster = (name: string, e: ClusterStatus['endpoints'][number]): ClusterStatus => ({
    name, host: name, port: 1, subset: null, loadBalancer: 'LEAST_REQUEST', destinationRule: null,
    circuitBreakers: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 1, maxRetries: 1 },
    breakerStats: { upstream_rq_pending_overflow: 0, upstream_rq_retry_overflow: 0, upstream_cx_overflow: 0, upstream_rq_pending_active: 0, upstream_rq_active: 0, upstream_cx_active: 0 },
    outlierDetection: true, outlier: null, endpoints: [e],
  });
  pp.clusterList = [cluster('a-idle', ep(0, false)), cluster('b-busy', ep(50, false)), cluster('c-ejected', ep(1, true))];
  const st = buildDashboardState([await readingOf(pp)], [], META, { maxNodes: 2, maxClustersPerSource: 2, maxDiagnostics: 10, maxSplits: 10 });
  assert.equal(st.graph.nodes.length, 2);
  assert.equal(st.graph.nodes[0].id, 'default/productpage-v1');
  assert.equal(st.graph.omittedNodes, 3);
  assert.deepEqual(st.clusters[0].clusters.map((c) => c.name), ['c-ejected', 'b-busy']);
  assert.equal(st.clusters[0].omitted, 1);
});

test('a gateway without an app label is drawn under its source id', async () => {
  const gw = fakeSource('ingress', { istio: 'ingressgateway' }, { role: 'gateway', state: meshState({ istio: 'ingressgateway' }, 'gateway') });
  const st = buildDashboardState([await readingOf(gw)], [], META);
  const n = st.graph.nodes.find((x) => x.kind === 'proxy');
  assert.equal(n?.id, 'default/unknown');
  assert.equal(n?.label, 'ingress');
  assert.deepEqual(n?.proxies, [{ id: 'ingress', role: 'gateway' }]);
});
