import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterManager } from './manager.js';
import { compile, serviceEntry } from '../../../test/support/mesh.js';
import type { IntervalTimers } from '../outlier/driver.js';

const PROXY = { role: 'sidecar' as const, namespace: 'default', labels: {} };
const CLUSTER_A = 'outbound|80||a.default.svc.cluster.local';
const CLUSTER_B = 'outbound|80||b.default.svc.cluster.local';

/** Timers that never fire and count what is armed (no real interval keeps the test alive). */
function fakeTimers(): IntervalTimers & { armed: number } {
  const t = {
    armed: 0,
    setInterval: () => {
      t.armed++;
      return t.armed;
    },
    clearInterval: () => {
      t.armed--;
    },
  };
  return t;
}

const TWO = serviceEntry('a', 'default', 80, [{ port: 9001, labels: { app: 'a' } }]) + serviceEntry('b', 'default', 80, [{ port: 9002, labels: { app: 'b' } }]);

test('runtimes are built on first use and kept: get() twice is the same runtime', () => {
  const cm = new ClusterManager({ timers: fakeTimers() });
  cm.update(compile(TWO, PROXY));
  const a = cm.get(CLUSTER_A);
  assert.ok(a, 'a cluster of the snapshot has a runtime');
  assert.equal(a.hosts.length, 1);
  assert.equal(a.hosts[0].port, 9001);
  assert.equal(cm.get(CLUSTER_A), a);
  assert.equal(cm.get('outbound|80||nope.default.svc.cluster.local'), undefined, 'a name not in the snapshot has none');
});

test('all() lists every cluster; unused ones through fresh throw-away runtimes, used ones as they are', () => {
  const cm = new ClusterManager({ timers: fakeTimers() });
  cm.update(compile(TWO, PROXY));
  const a = cm.get(CLUSTER_A)!;
  a.hosts[0].state.total = 7;
  const listed = [...cm.all()];
  assert.deepEqual(
    listed.map((rt) => rt.config.name).sort(),
    [CLUSTER_A, CLUSTER_B].sort(),
  );
  assert.equal(listed.find((rt) => rt.config.name === CLUSTER_A), a, 'a used cluster is reported with its live state');
  const b = listed.find((rt) => rt.config.name === CLUSTER_B)!;
  assert.equal(b.hosts[0].state.total, 0);
  assert.equal(b.hosts[0].port, 9002);
  assert.notEqual(cm.get(CLUSTER_B), b, 'reporting did not keep the throw-away runtime');
});

test('a used cluster keeps its runtime and host state across an unchanged reload; unused ones stay unbuilt', () => {
  const cm = new ClusterManager({ timers: fakeTimers() });
  cm.update(compile(TWO, PROXY));
  const a = cm.get(CLUSTER_A)!;
  a.hosts[0].state.active = 2;
  cm.update(compile(TWO, PROXY));
  assert.equal(cm.get(CLUSTER_A), a, 'same Cluster content: same runtime');
  // B was never used: a report shows fresh state and get() builds it now.
  const b = cm.get(CLUSTER_B)!;
  assert.equal(b.hosts[0].state.active, 0);
  const changed = serviceEntry('a', 'default', 80, [{ port: 9003, labels: { app: 'a' } }]) + serviceEntry('b', 'default', 80, [{ port: 9002, labels: { app: 'b' } }]);
  cm.update(compile(changed, PROXY));
  const a2 = cm.get(CLUSTER_A)!;
  assert.notEqual(a2, a);
  assert.equal(a2.hosts[0].port, 9003);
  assert.equal(a2.breakers, a.breakers, 'breakers are kept by cluster name');
});

test('clusters with outlier detection are built at once: their detector runs before any request', () => {
  const timers = fakeTimers();
  const cm = new ClusterManager({ timers });
  const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: a, namespace: default}
spec:
  host: a.default.svc.cluster.local
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 30s}
`;
  cm.update(compile(TWO + dr, PROXY));
  assert.ok(cm.outliers.detector(CLUSTER_A), 'the outlier cluster has a detector without any get()');
  assert.equal(cm.outliers.detector(CLUSTER_B), undefined);
  assert.equal(timers.armed, 1);
  // The detector judges the runtime's hosts: a get() returns the runtime built by update().
  const a = cm.get(CLUSTER_A)!;
  assert.equal([...cm.all()].find((rt) => rt.config.name === CLUSTER_A), a);
  cm.update(compile(TWO, PROXY));
  assert.equal(cm.outliers.detector(CLUSTER_A), undefined, 'the policy went away: detector dropped');
  assert.equal(timers.armed, 0);
});

test('a cluster removed from the config loses its runtime and its stats', () => {
  const removed: string[] = [];
  const cm = new ClusterManager({ timers: fakeTimers(), removeStats: (n) => removed.push(n) });
  cm.update(compile(TWO, PROXY));
  cm.get(CLUSTER_B)!.shared.stats.upstreamRqTotal++;
  cm.update(compile(serviceEntry('a', 'default', 80, [{ port: 9001, labels: { app: 'a' } }]), PROXY));
  assert.equal(cm.get(CLUSTER_B), undefined);
  assert.deepEqual(removed, [CLUSTER_B]);
  assert.deepEqual([...cm.all()].map((rt) => rt.config.name), [CLUSTER_A]);
});
