/**
 * Outlier detection on the wire: an endpoint that always fails is ejected after its streak,
 * traffic avoids it until the ejection time has passed (and the next sweep), the ejection is
 * visible on /clusters and /stats/prometheus and survives a config reload; each detector
 * (5xx, gateway errors, local-origin failures with split, custom error codes) ejects for its
 * reason; Envoy >= 1.28's max ejection percent; the panic threshold (minHealthPercent).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { compile, request, startProxy, type RunningProxy, type Upstream } from '../support/mesh.js';
import { adminGet, configDir, parseProm, promSum, startRuntime, waitFor } from '../support/harness.js';
import { answer, clusterOf, deadPort, dr, scripted, service, sidecar, vs, type Script } from './resilience-kit.js';
import { clusterStatuses } from '../../src/admin/dump.js';
import type { ClusterStatus, EndpointStatus } from '../../src/admin/server.js';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function upstream(name: string, script: Script): Promise<Upstream> {
  const u = await scripted(name, script);
  cleanup.push(() => u.close());
  return u;
}

async function setup(yaml: string): Promise<RunningProxy> {
  const p = await startProxy(compile(yaml, sidecar));
  cleanup.push(() => p.close());
  return p;
}

const SVC = clusterOf('svc');
const endpoint = (c: ClusterStatus | undefined, port: number): EndpointStatus => c!.endpoints.find((e) => e.port === port)!;

test('an always-500 endpoint is ejected after consecutive5xxErrors; traffic avoids it until baseEjectionTime has passed; /clusters and metrics show it; a reload keeps it', { timeout: 30_000 }, async () => {
  const good = await upstream('good', (_r, res) => answer(res, 200, 'good'));
  const bad = await upstream('bad', (_r, res) => answer(res, 500, 'bad'));
  const policy = 'loadBalancer: {simple: ROUND_ROBIN}\noutlierDetection: {consecutive5xxErrors: 3, interval: 250ms, baseEjectionTime: 1s, maxEjectionPercent: 100}';
  const mesh = (extra = ''): string => service('svc', [{ port: good.port }, { port: bad.port }]) + dr('svc', policy) + vs('svc', `retries: {attempts: 0}${extra}`);
  const dir = configDir();
  cleanup.push(() => dir.cleanup());
  dir.write('mesh.yaml', mesh());
  const h = await startRuntime([dir.dir], { accessLog: false, debounceMs: 20 });
  cleanup.push(() => h.close());

  // Round robin: the bad endpoint gets every other request until its third 500 ejects it.
  let fails = 0;
  for (let i = 0; i < 6; i++) if ((await request(h.port, 'svc', '/')).status === 500) fails++;
  assert.equal(fails, 3);
  const ejectedAt = Date.now();
  assert.equal(bad.seen.length, 3);

  const json = (JSON.parse((await adminGet(h.adminPort, '/clusters?format=json')).body) as { cluster_statuses: ClusterStatus[] }).cluster_statuses;
  const e = endpoint(json.find((c) => c.name === SVC), bad.port);
  assert.equal(e.ejected, true);
  assert.equal(e.health, 'ejected');
  assert.equal(e.ejectionReason, 'consecutive_5xx');
  assert.equal(e.ejectionCount, 1);
  const until = Date.parse(e.ejectedUntil!);
  assert.ok(Math.abs(until - (ejectedAt + 1000)) < 300, `ejected until ${e.ejectedUntil}`);
  assert.equal(endpoint(json.find((c) => c.name === SVC), good.port).ejected, false);
  const text = (await adminGet(h.adminPort, '/clusters')).body;
  assert.ok(text.includes(`${SVC}::127.0.0.1:${bad.port}::health_flags::/failed_outlier_check\n`), text);
  assert.ok(text.includes(`${SVC}::127.0.0.1:${good.port}::health_flags::healthy\n`));
  const prom = parseProm((await adminGet(h.adminPort, '/stats/prometheus')).body);
  assert.equal(promSum(prom, 'envoy_cluster_outlier_detection_ejections_active', { cluster_name: SVC }), 1);
  assert.equal(promSum(prom, 'envoy_cluster_outlier_detection_ejections_total', { cluster_name: SVC }), 1);
  assert.equal(promSum(prom, 'envoy_cluster_outlier_detection_ejections_enforced_total', { cluster_name: SVC }), 1);
  assert.ok(h.logs.some((l) => l.includes(`ejected 127.0.0.1:${bad.port} from ${SVC} (consecutive_5xx`)), h.logs.join('\n'));

  // A reload that rebuilds the cluster's routes keeps the ejection (state lives per endpoint).
  dir.write('mesh.yaml', mesh('\ntimeout: 5s'));
  await waitFor('the reload', () => h.rt.controller.status().version === 2, 5000);
  for (let i = 0; i < 10; i++) assert.equal((await request(h.port, 'svc', '/')).status, 200);
  assert.equal(bad.seen.length, 3, 'the ejected endpoint got traffic');

  // Back after 1 s (at the first 250 ms sweep after it): the bad endpoint is tried again.
  await waitFor('the endpoint to return', async () => {
    await request(h.port, 'svc', '/');
    return bad.seen.length > 3;
  }, 4000, 50);
  const back = Date.now() - ejectedAt;
  assert.ok(back >= 950 && back < 2200, `returned after ${back} ms`);
  const prom2 = parseProm((await adminGet(h.adminPort, '/stats/prometheus')).body);
  assert.equal(promSum(prom2, 'envoy_cluster_outlier_detection_ejections_active', { cluster_name: SVC }), 0);
  assert.ok(h.logs.some((l) => l.includes(`127.0.0.1:${bad.port} of ${SVC} is back in service`)));
});

interface Row {
  policy: string;
  bad: Script | 'dead';
  reason: string;
}

const ROWS: Array<[string, Row]> = [
  ['consecutiveGatewayErrors: 502s eject for consecutive_gateway_failure', {
    policy: '{consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 100}',
    bad: (_r, res) => answer(res, 502),
    reason: 'consecutive_gateway_failure',
  }],
  ['local-origin failures without split count as 5xx (connect refused = 503)', {
    policy: '{consecutive5xxErrors: 3, maxEjectionPercent: 100}',
    bad: 'dead',
    reason: 'consecutive_5xx',
  }],
  ['splitExternalLocalOriginErrors: connect failures eject for consecutive_local_origin_failure', {
    policy: '{splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 2, consecutive5xxErrors: 0, maxEjectionPercent: 100}',
    bad: 'dead',
    reason: 'consecutive_local_origin_failure',
  }],
  ['outlierDetectionHttpErrorCodes: a listed non-5xx code counts as an error', {
    policy: '{consecutive5xxErrors: 2, outlierDetectionHttpErrorCodes: [418], maxEjectionPercent: 100}',
    bad: (_r, res) => answer(res, 418),
    reason: 'consecutive_5xx',
  }],
];

test('each detector ejects for its own reason', { timeout: 20_000 }, async (t) => {
  for (const [name, row] of ROWS) {
    await t.test(name, async () => {
      const good = await upstream('good', (_r, res) => answer(res, 200));
      const badPort = row.bad === 'dead' ? await deadPort() : (await upstream('bad', row.bad)).port;
      const p = await setup(service('svc', [{ port: good.port }, { port: badPort }]) + dr('svc', `loadBalancer: {simple: ROUND_ROBIN}\noutlierDetection: ${row.policy}`) + vs('svc', 'retries: {attempts: 0}'));
      for (let i = 0; i < 8; i++) await request(p.port, 'svc', '/');
      const e = endpoint(clusterStatuses(p.proxy.clusters).find((c) => c.name === SVC), badPort);
      assert.equal(e.ejected, true);
      assert.equal(e.ejectionReason, row.reason);
    });
  }
});

test('without outlierDetection (no DestinationRule block) nothing is ejected: an always-500 endpoint keeps its share', { timeout: 20_000 }, async () => {
  const good = await upstream('good', (_r, res) => answer(res, 200));
  const bad = await upstream('bad', (_r, res) => answer(res, 500));
  const p = await setup(service('svc', [{ port: good.port }, { port: bad.port }]) + dr('svc', 'loadBalancer: {simple: ROUND_ROBIN}') + vs('svc', 'retries: {attempts: 0}'));
  for (let i = 0; i < 20; i++) await request(p.port, 'svc', '/');
  assert.equal(bad.seen.length, 10);
  const c = clusterStatuses(p.proxy.clusters).find((x) => x.name === SVC)!;
  assert.equal(c.outlier, null);
  assert.equal(endpoint(c, bad.port).ejected, false);
  assert.equal(endpoint(c, bad.port).failures, 10);
});

test('maxEjectionPercent: Istio default 10 % with 2 endpoints ejects nothing (Envoy >= 1.28); the overflow is counted', { timeout: 20_000 }, async () => {
  const good = await upstream('good', (_r, res) => answer(res, 200));
  const bad = await upstream('bad', (_r, res) => answer(res, 500));
  const p = await setup(service('svc', [{ port: good.port }, { port: bad.port }]) + dr('svc', 'loadBalancer: {simple: ROUND_ROBIN}\noutlierDetection: {consecutive5xxErrors: 2}') + vs('svc', 'retries: {attempts: 0}'));
  for (let i = 0; i < 10; i++) await request(p.port, 'svc', '/');
  const c = clusterStatuses(p.proxy.clusters).find((x) => x.name === SVC)!;
  assert.equal(endpoint(c, bad.port).ejected, false);
  assert.equal(bad.seen.length, 5);
  assert.ok(c.outlier!.ejectionsOverflow >= 2, `overflow ${c.outlier!.ejectionsOverflow}`);
  assert.equal(c.outlier!.ejectionsActive, 0);
});

test('minHealthPercent (panic): with too few healthy endpoints the ejected one gets traffic again', { timeout: 20_000 }, async () => {
  const good = await upstream('good', (_r, res) => answer(res, 200));
  const bad = await upstream('bad', (_r, res) => answer(res, 500));
  const mesh = (minHealth: number): string =>
    service('svc', [{ port: good.port }, { port: bad.port }]) +
    dr('svc', `loadBalancer: {simple: ROUND_ROBIN}\noutlierDetection: {consecutive5xxErrors: 2, baseEjectionTime: 60s, maxEjectionPercent: 100${minHealth ? `, minHealthPercent: ${minHealth}` : ''}}`) +
    vs('svc', 'retries: {attempts: 0}');
  for (const [minHealth, badAfter] of [[0, 0], [60, 5]] as const) {
    const before = bad.seen.length;
    const p = await setup(mesh(minHealth));
    for (let i = 0; i < 4; i++) await request(p.port, 'svc', '/');
    assert.equal(endpoint(clusterStatuses(p.proxy.clusters).find((c) => c.name === SVC), bad.port).ejected, true);
    const mid = bad.seen.length;
    for (let i = 0; i < 10; i++) await request(p.port, 'svc', '/');
    assert.equal(bad.seen.length - mid, badAfter, `minHealthPercent ${minHealth}: requests to the ejected endpoint`);
    assert.equal(mid - before, 2);
    await p.close();
  }
});
