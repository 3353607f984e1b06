import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MeshMetrics } from '../../observability/metrics.js';
import { edgeCounters } from '../../observability/edges.js';
import { defaultSourceId, primaryDashboardSource } from './source.js';
import { dest, meshState } from './testkit.js';
import type { ClusterStatus } from '../server.js';
import type { ConfigController } from '../../controlplane/controller.js';

test('defaultSourceId: the workload name, else the role; always URL-safe', () => {
  assert.equal(defaultSourceId({ role: 'sidecar', namespace: 'ns', labels: { app: 'reviews', version: 'v2' } }), 'reviews-v2');
  assert.equal(defaultSourceId({ role: 'gateway', namespace: 'ns', labels: { istio: 'ingressgateway' } }), 'gateway');
  assert.equal(defaultSourceId({ role: 'sidecar', namespace: 'ns', labels: { app: 'a b/c' } }), 'a-b-c');
});

test('primaryDashboardSource (--concurrency N): one IPC round per tick, clusters merged, worker edges summed', async () => {
  const worker = (): MeshMetrics => new MeshMetrics({ source: { namespace: 'default', labels: { app: 'productpage', version: 'v1' } } });
  const w1 = worker();
  const w2 = worker();
  w1.recordRequest({ destination: dest('reviews', 'v1'), responseCode: 200, durationMs: 1 });
  w2.recordRequest({ destination: dest('reviews', 'v1'), responseCode: 503, durationMs: 1 });
  const ep = (total: number): ClusterStatus['endpoints'][number] => ({
    address: '127.0.0.1', port: 9, health: 'healthy', weight: 1, locality: '', labels: {}, activeRequests: 0, totalRequests: total,
    failures: 0, connections: 0, ejected: false, ejectionReason: null, ejectedUntil: null, ejectionCount: 0,
  });
  const cluster = (total: number): ClusterStatus => ({
    name: 'c', host: 'h', port: 9, subset: null, loadBalancer: 'LEAST_REQUEST', destinationRule: null,
    circuitBreakers: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 1, maxRetries: 1 },
    breakerStats: { upstream_rq_pending_overflow: 0, upstream_rq_retry_overflow: 0, upstream_cx_overflow: 0, upstream_rq_pending_active: 0, upstream_rq_active: 0, upstream_cx_active: 0 },
    outlierDetection: false, outlier: null, endpoints: [ep(total)],
  });
  let rounds = 0;
  const state = meshState({ app: 'productpage', version: 'v1' });
  const controller = { status: () => ({ version: state.version }), current: () => state } as unknown as ConfigController;
  const src = primaryDashboardSource({
    identity: { role: 'sidecar', namespace: 'default', labels: { app: 'productpage', version: 'v1' } },
    controller,
    ready: () => true,
    gather: async () => {
      rounds++;
      return [
        { metrics: await w1.snapshotForAggregation(), clusters: [cluster(3)] },
        { metrics: await w2.snapshotForAggregation(), clusters: [cluster(4)] },
      ];
    },
  });
  assert.equal(src.id, 'productpage-v1');
  const [clusters, families] = await Promise.all([src.clusters(), src.requestMetrics()]);
  assert.equal(rounds, 1, 'clusters and metrics of one tick share one gather');
  assert.equal(clusters.length, 1);
  assert.equal(clusters[0].endpoints[0].totalRequests, 7);
  const [e] = edgeCounters(families);
  assert.equal(e.key, 'default/productpage-v1 -> default/reviews-v1');
  assert.equal(e.requests, 2);
  assert.equal(e.errors, 1);
  assert.equal(src.configState(), state);
});
