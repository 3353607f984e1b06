import { test } from 'node:test';
import assert from 'node:assert/strict';
import { destinationFor, resolveDestination, workloadLabels, type WorkloadInfo, type WorkloadLabels } from './identity.js';

void test('workloadLabels applies Istio defaulting', () => {
  const cases: Array<[WorkloadInfo, Partial<WorkloadLabels>]> = [
    [{}, { workload: 'unknown', namespace: 'unknown', app: 'unknown', version: 'unknown', canonicalService: 'unknown', canonicalRevision: 'latest', principal: 'unknown', cluster: 'unknown' }],
    [{ namespace: 'default', labels: { app: 'reviews', version: 'v2' } },
      { workload: 'reviews-v2', namespace: 'default', app: 'reviews', version: 'v2', canonicalService: 'reviews', canonicalRevision: 'v2' }],
    [{ labels: { app: 'ratings' } }, { workload: 'ratings', app: 'ratings', version: 'unknown', canonicalService: 'ratings', canonicalRevision: 'latest' }],
    [{ workload: 'pp-deploy', labels: { app: 'productpage', version: 'v1' } }, { workload: 'pp-deploy', canonicalService: 'productpage' }],
    [{ workload: 'solo' }, { workload: 'solo', canonicalService: 'solo', app: 'unknown' }],
    [{ labels: { 'app.kubernetes.io/name': 'details', 'app.kubernetes.io/version': '1.2' } },
      { app: 'details', version: '1.2', canonicalService: 'details', canonicalRevision: '1.2' }],
    [{ labels: { app: 'reviews', version: 'v3', 'service.istio.io/canonical-name': 'reviews-svc', 'service.istio.io/canonical-revision': 'r3' } },
      { app: 'reviews', version: 'v3', canonicalService: 'reviews-svc', canonicalRevision: 'r3' }],
    [{ labels: { app: '' } }, { app: 'unknown', workload: 'unknown' }],
    [{ principal: 'spiffe://cluster.local/ns/a/sa/b', cluster: 'east' }, { principal: 'spiffe://cluster.local/ns/a/sa/b', cluster: 'east' }],
  ];
  for (const [info, want] of cases) {
    const got = workloadLabels(info);
    for (const [k, v] of Object.entries(want)) assert.equal(got[k as keyof WorkloadLabels], v, `${JSON.stringify(info)} ${k}`);
  }
});

void test('resolveDestination fills service name/namespace and defaults', () => {
  const cases: Array<[Parameters<typeof resolveDestination>[0], Partial<ReturnType<typeof resolveDestination>>]> = [
    [{ service: 'reviews.default.svc.cluster.local' }, { serviceName: 'reviews', serviceNamespace: 'default', workload: 'unknown', canonicalRevision: 'latest' }],
    [{ service: 'httpbin.org' }, { serviceName: 'httpbin', serviceNamespace: 'unknown' }],
    [{ service: 'localhost' }, { serviceName: 'localhost', serviceNamespace: 'unknown' }],
    [{ service: '' }, { service: 'unknown', serviceName: 'unknown' }],
    [{ service: 'x.y.svc.cluster.local', serviceName: 'given', serviceNamespace: 'ns' }, { serviceName: 'given', serviceNamespace: 'ns' }],
    [{ service: 'a.b.svc', app: 'a', version: 'v9' }, { canonicalService: 'a', canonicalRevision: 'v9' }],
  ];
  for (const [d, want] of cases) {
    const got = resolveDestination(d);
    for (const [k, v] of Object.entries(want)) assert.equal(got[k as keyof typeof got], v, `${d.service} ${k}`);
  }
});

void test('destinationFor uses endpoint labels when known', () => {
  assert.deepEqual(destinationFor('reviews.default.svc.cluster.local', 'default'), {
    service: 'reviews.default.svc.cluster.local',
    serviceNamespace: 'default',
  });
  const d = destinationFor('reviews.default.svc.cluster.local', 'default', { namespace: 'default', labels: { app: 'reviews', version: 'v1' } });
  assert.equal(d.workload, 'reviews-v1');
  assert.equal(d.workloadNamespace, 'default');
  assert.equal(d.app, 'reviews');
  assert.equal(d.version, 'v1');
  assert.equal(d.canonicalService, 'reviews');
  assert.equal(d.canonicalRevision, 'v1');
});
