/**
 * The live dashboard of a running proxy (`isthmus run`'s admin endpoint, /ui): while traffic
 * flows, /ui/events pushes a graph edge per destination version with a non-zero rate, the
 * error rate and p99, and the canary's current weights; the weights follow a hot reload; a
 * rejected config shows up with its file:line diagnostics; /ui/explain answers exactly what
 * `isthmus explain` prints for the same request.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, serviceEntry, startUpstream, type Upstream } from '../support/mesh.js';
import { adminGet, configDir, startRuntime, type ConfigDir, type RuntimeHandle } from '../support/harness.js';
import { openEvents } from '../../src/admin/ui/testkit.js';
import type { DashboardState, GraphEdge } from '../../src/admin/ui/types.js';
import { runExplain } from '../../src/cli/explain.js';

const V1_EDGE = 'default/productpage-v1 -> default/reviews-v1';
const V2_EDGE = 'default/productpage-v1 -> default/reviews-v2';

let v1: Upstream;
let v2: Upstream;
let cfg: ConfigDir;
let h: RuntimeHandle;

function mesh(w1: number, w2: number): string {
  return (
    serviceEntry('reviews', 'default', 9080, [
      { port: v1.port, labels: { app: 'reviews', version: 'v1' } },
      { port: v2.port, labels: { app: 'reviews', version: 'v2' } },
    ]) +
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - name: canary
    route:
    - {destination: {host: reviews, subset: v1}, weight: ${w1}}
    - {destination: {host: reviews, subset: v2}, weight: ${w2}}
`
  );
}

/** Sends requests through the sidecar until stopped (a few in flight at a time). */
function traffic(): { stop(): Promise<number> } {
  let running = true;
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (running) {
      await request(h.port, 'reviews:9080', '/reviews/1');
      sent++;
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const workers = [worker(), worker(), worker()];
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return sent;
    },
  };
}

const edge = (s: DashboardState, id: string): GraphEdge | undefined => s.graph.edges.find((e) => e.id === id);

before(async () => {
  v1 = await startUpstream('v1');
  v2 = await startUpstream('v2');
  // v2 fails every other request: the dashboard must show its error rate.
  let n = 0;
  v2.respond = (_r, res) => {
    res.statusCode = n++ % 2 === 0 ? 500 : 200;
    res.end('v2');
  };
  cfg = configDir();
  cfg.write('mesh.yaml', mesh(70, 30));
  h = await startRuntime([cfg.dir], { labels: { app: 'productpage', version: 'v1' }, accessLog: false });
});

after(async () => {
  await h?.close();
  cfg?.cleanup();
  await v1?.close();
  await v2?.close();
});

test('/ui/events during traffic: an edge per version with a non-zero rate, errors, p99 and the split weights', { timeout: 30_000 }, async (t) => {
  const events = await openEvents(h.adminPort);
  t.after(() => events.close());
  assert.equal(events.status, 200);
  const load = traffic();
  let sent = 0;
  try {
    const s = await events.waitFor((st) => (edge(st, V1_EDGE)?.rps ?? 0) > 0 && (edge(st, V2_EDGE)?.rps ?? 0) > 0, 10_000, 'edges to v1 and v2 with a rate');
    const e1 = edge(s, V1_EDGE) as GraphEdge;
    const e2 = edge(s, V2_EDGE) as GraphEdge;
    assert.deepEqual(e1.weights, [{ percent: 70, route: 'default/reviews http[1] "canary"' }]);
    assert.deepEqual(e2.weights, [{ percent: 30, route: 'default/reviews http[1] "canary"' }]);
    assert.equal(e1.errorRate, 0);
    assert.ok(e2.errorRate !== null && e2.errorRate > 0.3 && e2.errorRate < 0.7, `v2 fails half its requests: ${e2.errorRate}`);
    assert.ok(e1.p99Ms !== null && e1.p99Ms > 0, 'p99 from the duration histogram');
    assert.deepEqual(e1.services, ['reviews.default.svc.cluster.local']);
    // The graph knows both versions and the proxy itself.
    const nodes = new Map(s.graph.nodes.map((n) => [n.id, n]));
    assert.equal(nodes.get('default/productpage-v1')?.kind, 'proxy');
    assert.equal(nodes.get('default/reviews-v2')?.version, 'v2');
    // Endpoint health from the same data as /clusters.
    const c = s.clusters[0].clusters.find((x) => x.name === 'outbound|9080|v1|reviews.default.svc.cluster.local');
    assert.ok(c && c.endpoints[0].totalRequests > 0 && c.endpoints[0].health === 'healthy');
    assert.deepEqual(s.splits.map((sp) => [sp.virtualService, sp.destinations.map((d) => d.percent)]), [['default/reviews', [70, 30]]]);
  } finally {
    sent = await load.stop();
  }
  assert.ok(sent > 0);
});

test('/ui/explain answers what `isthmus explain` prints for the same request', { timeout: 20_000 }, async () => {
  const res = await fetch(`http://127.0.0.1:${h.adminPort}/ui/explain`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: 'http://reviews:9080/reviews/1', headers: { 'end-user': 'jason' } }),
  });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { source: string; configVersion: number; text: string; result: { routeName: string; destinations: Array<{ subset: string }> } };
  assert.equal(body.source, 'productpage-v1');
  assert.equal(body.result.routeName, 'jason');
  assert.deepEqual(body.result.destinations.map((d) => d.subset), ['v2']);
  const printed: string[] = [];
  const code = runExplain(
    'http://reviews:9080/reviews/1',
    { file: [cfg.dir], namespace: 'default', domain: 'cluster.local', method: 'GET', header: ['end-user: jason'], labels: 'app=productpage,version=v1', json: false },
    { stdout: (l) => printed.push(l), stderr: () => undefined },
  );
  assert.equal(code, 0);
  assert.equal(body.text, printed.join('\n'));
  // The admin help lists the dashboard; the other admin paths are unchanged.
  assert.match((await adminGet(h.adminPort, '/help')).body, /\/ui \(live dashboard/);
  assert.equal((await adminGet(h.adminPort, '/ready')).status, 200);
});

test('the dashboard follows the config: new weights after a hot reload, a rejected file with its diagnostics', { timeout: 30_000 }, async (t) => {
  const events = await openEvents(h.adminPort);
  t.after(() => events.close());
  cfg.write('mesh.yaml', mesh(50, 50));
  const shifted = await events.waitFor((s) => s.splits[0]?.destinations.map((d) => d.percent).join('/') === '50/50', 8000, 'the 50/50 split');
  assert.equal(shifted.config[0].version, 2);
  assert.equal(shifted.sources[0].version, 2);
  cfg.write('bad.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bad}\nspec:\n  hosts: [bad]\n  http:\n  - timeout: 0s\n    route: [{destination: {host: bad}}]\n');
  const rejected = await events.waitFor((s) => s.config[0]?.lastRejected !== null && s.config[0]?.inSync === false, 8000, 'the rejected config');
  const g = rejected.config[0];
  assert.equal(g.version, 2, 'v2 keeps serving');
  assert.ok(g.lastRejected && g.lastRejected.errorCount >= 1);
  assert.ok(g.lastRejected.diagnostics.some((d) => d.severity === 'error' && /bad\.yaml:7:\d+: error VirtualService default\/bad: /.test(d.text)), JSON.stringify(g.lastRejected.diagnostics));
  cfg.remove('bad.yaml');
  await events.waitFor((s) => s.config[0]?.inSync === true, 8000, 'back in sync');
});
