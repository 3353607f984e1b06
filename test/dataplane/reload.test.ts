/**
 * Hot reload through the real config pipeline (ProxyRuntime watching a temp folder):
 * routing switches under continuous load with zero failed requests; broken input (invalid
 * YAML, an invalid resource) changes nothing but a diagnostic, the rejected counter and
 * /config_dump; in-flight requests finish on their snapshot even when their cluster goes
 * away; endpoint runtime state (active requests) survives reloads. (Reloads with
 * --concurrency 2 are checked in admin.test.ts, on the same spawned CLI as the metrics.)
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, serviceEntry, startUpstream, type Upstream } from '../support/mesh.js';
import { adminGet, configDir, parseProm, promSum, sleep, startRuntime, waitFor, withTimeout, type RuntimeHandle } from '../support/harness.js';

let v1: Upstream, v2: Upstream;

before(async () => {
  [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
  for (const u of [v1, v2]) {
    u.respond = (r, res) => {
      const delay = /^\/slow(\d+)/.exec(r.url);
      const answer = (): void => {
        res.end(`${u.name} ${r.url}`);
      };
      if (delay) setTimeout(answer, Number(delay[1]));
      else answer();
    };
  }
});

after(async () => {
  await Promise.all([v1?.close(), v2?.close()]);
});

function services(subsets = ['v1', 'v2']): string {
  return (
    serviceEntry('reviews', 'default', 9080, [
      { port: v1.port, labels: { version: 'v1' } },
      { port: v2.port, labels: { version: 'v2' } },
    ]) +
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
${subsets.map((s) => `  - {name: ${s}, labels: {version: ${s}}}`).join('\n')}
---
`
  );
}

function routeTo(subset: string, extra = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - route: [{destination: {host: reviews, subset: ${subset}}}]
${extra}`;
}

interface Sample {
  start: number;
  end: number;
  status: number;
  body: string;
  error?: string;
}

/** `clients` concurrent loops of requests until `stop()`; every outcome recorded. */
function load(port: number, clients: number): { samples: Sample[]; stop: () => Promise<void> } {
  const samples: Sample[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async (_, c) => {
    while (running) {
      const start = performance.now();
      try {
        const r = await request(port, 'reviews', `/c${c}`);
        samples.push({ start, end: performance.now(), status: r.status, body: r.body });
      } catch (e) {
        samples.push({ start, end: performance.now(), status: 0, body: '', error: (e as Error).message });
      }
    }
  });
  return {
    samples,
    stop: async () => {
      running = false;
      await withTimeout(Promise.all(loops), 10_000, 'load clients to stop');
    },
  };
}

async function metrics(h: RuntimeHandle): Promise<ReturnType<typeof parseProm>> {
  return parseProm((await adminGet(h.adminPort, '/stats/prometheus')).body);
}

async function setup(t: { after: (fn: () => unknown) => void }, files: Record<string, string>): Promise<{ h: RuntimeHandle; write: (n: string, s: string) => void }> {
  const cfg = configDir();
  t.after(() => cfg.cleanup());
  for (const [n, s] of Object.entries(files)) cfg.write(n, s);
  const h = await startRuntime([cfg.dir]);
  t.after(() => h.close());
  return { h, write: (n, s) => void cfg.write(n, s) };
}

test('rewriting the config under load switches routing within 2 s with zero failed requests', { timeout: 30_000 }, async (t) => {
  const { h, write } = await setup(t, { 'services.yaml': services(), 'vs.yaml': routeTo('v1') });
  const l = load(h.port, 4);
  t.after(() => l.stop());
  await sleep(800);
  const writtenAt = performance.now();
  write('vs.yaml', routeTo('v2'));
  await sleep(2200);
  await l.stop();
  const s = l.samples;
  const failed = s.filter((x) => x.status !== 200);
  assert.deepEqual(failed, [], `${failed.length} of ${s.length} requests failed`);
  assert.ok(s.length > 40, `only ${s.length} requests in ~3 s`);
  assert.ok(s.some((x) => x.body.startsWith('v1') && x.start < writtenAt), 'v1 served before the change');
  const firstV2 = s.filter((x) => x.body.startsWith('v2')).sort((a, b) => a.end - b.end)[0];
  assert.ok(firstV2, 'routing never switched to v2');
  assert.ok(firstV2.end - writtenAt <= 2000, `switched after ${Math.round(firstV2.end - writtenAt)} ms`);
  // Once a v2 answer came back the new snapshot was live: every request started later is v2.
  const late = s.filter((x) => x.start > firstV2.end && !x.body.startsWith('v2'));
  assert.deepEqual(late, [], 'requests started after the switch still went to v1');
  assert.equal(h.rt.controller.current()!.version, 2);
  assert.equal(promSum(await metrics(h), 'isthmus_config_reloads_total', { result: 'applied' }), 1);
});

test('a broken file (invalid YAML, then an invalid resource) changes nothing but a diagnostic, the rejected counter and lastRejected', { timeout: 30_000 }, async (t) => {
  const { h, write } = await setup(t, { 'services.yaml': services(), 'vs.yaml': routeTo('v2') });
  const l = load(h.port, 4);
  t.after(() => l.stop());
  await sleep(200);
  const rejected = async (): Promise<number> => promSum(await metrics(h), 'isthmus_config_reloads_total', { result: 'rejected' });

  write('vs.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews\nspec: [unclosed\n');
  await waitFor('the YAML error to be rejected', async () => (await rejected()) === 1, 5000);
  let dump = JSON.parse((await adminGet(h.adminPort, '/config_dump')).body) as ConfigDump;
  assert.equal(dump.version, 1);
  assert.equal(dump.inSync, false);
  assert.ok(dump.lastRejected, 'no lastRejected');
  assert.equal(dump.lastRejected.servingVersion, 1);
  assert.ok(dump.lastRejected.diagnostics.some((d) => d.file.endsWith('vs.yaml') && d.severity === 'error'), JSON.stringify(dump.lastRejected.diagnostics));
  assert.ok(h.logs.some((x) => /^config rejected: \d+ error\(s\), still serving v1/.test(x)), h.logs.join('\n'));
  assert.ok(h.logs.some((x) => /vs\.yaml:\d+:\d+: error/.test(x)), 'the diagnostic line names the file and position');

  // Valid YAML, invalid resource (route and redirect together): rejected by validation.
  write('vs.yaml', routeTo('v1').replace('  - route:', '  - redirect: {uri: /x}\n    route:'));
  await waitFor('the invalid resource to be rejected', async () => (await rejected()) === 2, 5000);
  dump = JSON.parse((await adminGet(h.adminPort, '/config_dump')).body) as ConfigDump;
  assert.equal(dump.version, 1);
  assert.ok(dump.lastRejected?.diagnostics.some((d) => /route and redirect/.test(d.message)), JSON.stringify(dump.lastRejected?.diagnostics));
  await sleep(300);
  await l.stop();

  // Nothing changed while broken input was on disk: every request still routed to v2.
  const bad = l.samples.filter((x) => x.status !== 200 || !x.body.startsWith('v2'));
  assert.deepEqual(bad, [], `${bad.length} of ${l.samples.length} requests were not served by v2`);
  assert.equal(promSum(await metrics(h), 'isthmus_config_reloads_total', { result: 'applied' }), 0);

  // Fixing the file applies it.
  write('vs.yaml', routeTo('v1'));
  await waitFor('the fixed file to apply', () => h.rt.controller.current()!.version === 2, 5000);
  assert.equal((await request(h.port, 'reviews', '/')).body, 'v1 /');
  dump = JSON.parse((await adminGet(h.adminPort, '/config_dump')).body) as ConfigDump;
  assert.equal(dump.inSync, true);
});

interface ConfigDump {
  version: number;
  inSync: boolean;
  sources: Array<{ path: string; hash: string }>;
  lastRejected: { servingVersion: number; diagnostics: Array<{ file: string; severity: string; message: string }> } | null;
  snapshot: unknown;
}

test('an in-flight request finishes on its snapshot even when the reload removes its cluster', { timeout: 30_000 }, async (t) => {
  const { h, write } = await setup(t, { 'services.yaml': services(), 'vs.yaml': routeTo('v1') });
  const slow = request(h.port, 'reviews', '/slow1200');
  await waitFor('the slow request to reach v1', () => v1.seen.some((x) => x.url === '/slow1200'));
  // Subset v1 (and so its cluster) disappears; routing moves to v2.
  write('services.yaml', services(['v2']));
  write('vs.yaml', routeTo('v2'));
  await waitFor('the reload', () => h.rt.controller.current()!.version >= 2 && h.rt.controller.current()!.snapshot.clusters.size > 0 && !h.rt.controller.current()!.snapshot.clusters.has('outbound|9080|v1|reviews.default.svc.cluster.local'), 5000);
  assert.equal((await request(h.port, 'reviews', '/new')).body, 'v2 /new');
  const r = await slow;
  assert.equal(r.status, 200);
  assert.equal(r.body, 'v1 /slow1200');
});

test('endpoint runtime state survives reloads: /clusters keeps rq_active 1 for an endpoint with a request in flight', { timeout: 30_000 }, async (t) => {
  const { h, write } = await setup(t, { 'services.yaml': services(), 'vs.yaml': routeTo('v1') });
  const cluster = 'outbound|9080|v1|reviews.default.svc.cluster.local';
  const line = (text: string, stat: string): string | undefined => text.split('\n').find((x) => x === `${cluster}::127.0.0.1:${v1.port}::${stat}` || x.startsWith(`${cluster}::127.0.0.1:${v1.port}::${stat}::`));
  const slow = request(h.port, 'reviews', '/slow1500');
  await waitFor('the slow request to reach v1', () => v1.seen.some((x) => x.url === '/slow1500'));
  assert.equal(line((await adminGet(h.adminPort, '/clusters')).body, 'rq_active'), `${cluster}::127.0.0.1:${v1.port}::rq_active::1`);

  // A reload that leaves the cluster as it is (an unrelated route is added).
  write('vs.yaml', routeTo('v1', `  - match: [{uri: {prefix: /other}}]\n    route: [{destination: {host: reviews, subset: v2}}]\n`));
  await waitFor('reload 1', () => h.rt.controller.current()!.version === 2, 5000);
  assert.equal(line((await adminGet(h.adminPort, '/clusters')).body, 'rq_active'), `${cluster}::127.0.0.1:${v1.port}::rq_active::1`);

  // A reload that changes the cluster itself (its load balancer): state is kept per endpoint.
  write('services.yaml', services().replace('  subsets:', '  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n  subsets:'));
  await waitFor('reload 2', () => h.rt.controller.current()!.version === 3, 5000);
  const text = (await adminGet(h.adminPort, '/clusters')).body;
  assert.equal(line(text, 'rq_active'), `${cluster}::127.0.0.1:${v1.port}::rq_active::1`);

  assert.equal((await slow).status, 200);
  const after = await waitFor('rq_active back to 0', async () => {
    const x = (await adminGet(h.adminPort, '/clusters')).body;
    return line(x, 'rq_active')?.endsWith('::0') ? x : null;
  });
  assert.equal(line(after, 'rq_total'), `${cluster}::127.0.0.1:${v1.port}::rq_total::1`);
});
