/**
 * Broken config under load (issue #8 point 6; reliability-security.md §3.3 F7): while
 * clients keep sending requests, the watched config is replaced by invalid YAML, a schema
 * error, a webhook-rule error, a truncated file, a file written in two steps with a pause, an
 * empty file, a deleted file (named with -f) and a Kubernetes ConfigMap `..data` swap to a
 * broken version. Every request succeeds, every response comes from the last good snapshot
 * (a response header names the config version that produced it), each rejection is counted
 * and explained (log line, `/config_dump` `lastRejected`, `isthmus_config_reloads_total`),
 * and a valid file afterwards is live within 2 s.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { appendFileSync, mkdirSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configDir, parseProm, promSum, startRuntime, type RuntimeHandle } from '../support/harness.js';
import { startUpstream, type Upstream } from '../support/mesh.js';
import { adminGet, installCrashDetector, send, sleep, waitFor, withTimeout, type CrashDetector } from './kit.js';
import { serviceYaml } from './upstream-kit.js';

/** The VirtualService whose response header tells which config answered. */
function routeYaml(tag: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc}
spec:
  hosts: [svc]
  http:
  - route: [{destination: {host: svc}}]
    headers:
      response:
        set: {x-config: ${tag}}
    timeout: 5s
`;
}

interface Sample {
  status: number;
  config: string;
  error: string | null;
  /** performance.now() when the request was sent / answered. */
  sent: number;
  done: number;
}

/** `clients` keep-alive loops sending requests until `stop()`; every outcome is kept. */
function loadLoop(port: number, clients: number): { samples: Sample[]; stop(): Promise<void> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const samples: Sample[] = [];
  let running = true;
  const one = (i: number): Promise<Sample> =>
    new Promise((resolve) => {
      const sent = performance.now();
      const req = http.get({ host: '127.0.0.1', port, path: `/load-${i}`, headers: { host: 'svc' }, agent, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, config: String(res.headers['x-config'] ?? ''), error: null, sent, done: performance.now() }));
        res.on('error', (e) => resolve({ status: res.statusCode ?? 0, config: '', error: e.message, sent, done: performance.now() }));
      });
      req.on('timeout', () => req.destroy(new Error('client timeout')));
      req.on('error', (e) => resolve({ status: 0, config: '', error: e.message, sent, done: performance.now() }));
    });
  let n = 0;
  const loops = Array.from({ length: clients }, async () => {
    while (running) samples.push(await one(n++));
  });
  return {
    samples,
    stop: async () => {
      running = false;
      await withTimeout(Promise.all(loops), 10_000, 'the load loops to stop');
      agent.destroy();
    },
  };
}

interface Dump {
  version: number;
  inSync: boolean;
  lastRejected: { servingVersion: number; errorCount: number; diagnostics: Array<{ file: string; line: number; severity: string; path: string; message: string }> } | null;
}

async function dump(h: RuntimeHandle): Promise<Dump> {
  return JSON.parse((await adminGet(h.adminPort, '/config_dump')).body) as Dump;
}

async function rejectedTotal(h: RuntimeHandle): Promise<number> {
  return promSum(parseProm((await adminGet(h.adminPort, '/stats/prometheus')).body), 'isthmus_config_reloads_total', { result: 'rejected' });
}

/**
 * Asserts the loop's samples in [from, to): all 200 from the config tagged `tag`, and
 * enough of them to mean something.
 */
function assertServedBy(samples: readonly Sample[], tag: string, what: string): void {
  const bad = samples.filter((s) => s.status !== 200 || s.error !== null || s.config !== tag);
  assert.deepEqual(bad.slice(0, 5), [], `${what}: ${bad.length} of ${samples.length} requests failed or were not served by ${tag}`);
  assert.ok(samples.length >= 20, `${what}: only ${samples.length} requests ran`);
}

/** A runtime (`isthmus run` in process) over `paths`, with a crash detector. */
async function start(t: { after(fn: () => unknown): void }, paths: string[]): Promise<{ h: RuntimeHandle; crash: CrashDetector }> {
  const crash = installCrashDetector();
  t.after(() => crash.dispose());
  const h = await startRuntime(paths, { logFormat: 'json', debounceMs: 30 });
  t.after(() => h.close());
  return { h, crash };
}

/**
 * The end-of-test checks (kit.assertHealthy's, on this file's `svc` service): no uncaught
 * exception, `/ready` 200, and 100 normal requests on new connections all answered by the
 * upstream, which saw exactly those 100.
 */
async function assertServing(h: RuntimeHandle, crash: CrashDetector, up: Upstream): Promise<void> {
  crash.assertNone();
  assert.equal((await adminGet(h.adminPort, '/ready')).status, 200);
  const before = up.seen.length;
  let next = 0;
  const failures: string[] = [];
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < 100) {
        const i = next++;
        const r = await send(h.port, 'svc', `/normal-${i}`);
        if (r.status !== 200 || r.body !== `svc /normal-${i}`) failures.push(`#${i}: ${r.status} ${r.error ?? ''}`);
      }
    }),
  );
  assert.deepEqual(failures, [], `${failures.length} of 100 normal requests failed`);
  assert.deepEqual(up.seen.slice(before).filter((x) => !x.url.startsWith('/normal-')), []);
  assert.equal(up.seen.length - before, 100);
  crash.assertNone();
}

test('a watched folder: invalid YAML, schema and rule errors, truncated, two-step and empty writes under load: zero failed requests, last good config serves, each rejection reported', { timeout: 60_000 }, async (t) => {
  const up = await startUpstream('svc');
  const cfg = configDir('isthmus-config-faults-');
  t.after(async () => {
    await up.close();
    cfg.cleanup();
  });
  cfg.write('services.yaml', serviceYaml('svc', up.port));
  const vsPath = cfg.write('vs.yaml', routeYaml('good-1'));
  const { h, crash } = await start(t, [cfg.dir]);
  const load = loadLoop(h.port, 4);
  t.after(() => load.stop());
  await waitFor('traffic to flow', () => load.samples.length >= 20, 5000);

  const good = routeYaml('good-1');
  // Cut inside a flow mapping, so the first part is not valid YAML on its own.
  const cut = good.indexOf('{destination') + 5;
  const faults: Array<[string, () => Promise<void> | void, RegExp]> = [
    ['invalid YAML', () => void cfg.write('vs.yaml', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: svc\nspec: [\n'), /YAML syntax error/],
    ['schema error', () => void cfg.write('vs.yaml', good.replace('timeout: 5s', 'timeout: {seconds: five}')), /^spec\.http\[0\]\.timeout: Invalid value/],
    ['webhook-rule error', () => void cfg.write('vs.yaml', good.replace('  - route:', '  - redirect: {uri: /x}\n    route:')), /route and redirect/i],
    ['truncated in place', () => writeFileSync(vsPath, good.slice(0, cut)), /YAML syntax error/],
    ['empty file', () => writeFileSync(vsPath, ''), /file is empty/],
  ];
  let rejected = await rejectedTotal(h);
  for (const [name, fault, why] of faults) {
    const from = load.samples.length;
    await fault();
    await waitFor(`${name}: the rejection`, async () => (await rejectedTotal(h)) > rejected, 5000);
    rejected = await rejectedTotal(h);
    const d = await dump(h);
    assert.equal(d.version, 1, `${name}: the serving version changed`);
    assert.equal(d.inSync, false, name);
    assert.ok(d.lastRejected && d.lastRejected.servingVersion === 1 && d.lastRejected.errorCount > 0, `${name}: ${JSON.stringify(d.lastRejected)}`);
    assert.ok(
      d.lastRejected.diagnostics.some((x) => x.severity === 'error' && x.file.endsWith('vs.yaml') && why.test(`${x.path}: ${x.message}`)),
      `${name}: no diagnostic on vs.yaml matching ${why}: ${JSON.stringify(d.lastRejected.diagnostics)}`,
    );
    await sleep(150);
    assertServedBy(load.samples.slice(from), 'good-1', name);
  }
  assert.ok(h.logs.some((l) => /^config rejected: \d+ error\(s\), still serving v1$/.test(l)), h.logs.join('\n'));

  // A file written in two steps with a pause (a slow editor, a copy over the network): the
  // first part alone is rejected; once complete it applies within 2 s, and every request
  // sent after the switch sees it.
  const next = routeYaml('good-2');
  const from = load.samples.length;
  writeFileSync(vsPath, next.slice(0, cut));
  await waitFor('the first half to be rejected', async () => (await rejectedTotal(h)) > rejected, 5000);
  await sleep(250);
  const completedAt = performance.now();
  appendFileSync(vsPath, next.slice(cut));
  await waitFor('the completed file to serve', () => load.samples.some((s) => s.config === 'good-2'), 2000);
  const switched = load.samples.find((s) => s.config === 'good-2') as Sample;
  assert.ok(switched.done - completedAt <= 2000);
  assertServedBy(load.samples.slice(from).filter((s) => s.sent < completedAt), 'good-1', 'half-written file');
  await sleep(300);
  await load.stop();
  const all = load.samples;
  const failed = all.filter((s) => s.status !== 200 || s.error !== null);
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${all.length} requests failed during the faults`);
  const late = all.filter((s) => s.sent > switched.done && s.config !== 'good-2');
  assert.deepEqual(late.slice(0, 5), [], 'requests sent after the switch were served by the old config');
  const d = await dump(h);
  assert.equal(d.inSync, true);
  assert.equal(d.version, 2, 'only the completed file made a new version');
  await assertServing(h, crash, up);
});

test('a config file named with -f is deleted under load: rejected (no such file), the last good config keeps serving; recreated, it applies', { timeout: 60_000 }, async (t) => {
  const up = await startUpstream('svc');
  const cfg = configDir('isthmus-config-faults-');
  t.after(async () => {
    await up.close();
    cfg.cleanup();
  });
  const services = cfg.write('services.yaml', serviceYaml('svc', up.port));
  const vs = cfg.write('vs.yaml', routeYaml('good-1'));
  const { h, crash } = await start(t, [services, vs]);
  const load = loadLoop(h.port, 4);
  t.after(() => load.stop());
  await waitFor('traffic to flow', () => load.samples.length >= 20, 5000);

  let from = load.samples.length;
  unlinkSync(vs);
  await waitFor('the rejection', async () => (await rejectedTotal(h)) === 1, 5000);
  const d = await dump(h);
  assert.equal(d.version, 1);
  assert.ok(d.lastRejected?.diagnostics.some((x) => x.file.endsWith('vs.yaml') && /no such file/.test(x.message)), JSON.stringify(d.lastRejected));
  await sleep(200);
  assertServedBy(load.samples.slice(from), 'good-1', 'file deleted');

  // Deleted and at once recreated (what `rm && cp` does): one change, no gap.
  from = load.samples.length;
  writeFileSync(vs, routeYaml('good-2'));
  await waitFor('the recreated file to apply', () => h.rt.controller.current()?.version === 2, 2000);
  unlinkSync(vs);
  writeFileSync(vs, routeYaml('good-3'));
  await waitFor('the replaced file to apply', () => h.rt.controller.current()?.version === 3, 2000);
  await sleep(200);
  await load.stop();
  const failed = load.samples.filter((s) => s.status !== 200 || s.error !== null);
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${load.samples.length} requests failed`);
  assert.ok(load.samples.slice(from).every((s) => ['good-1', 'good-2', 'good-3'].includes(s.config)));
  assert.equal(h.rt.controller.counters().rejected, 1, 'the delete-and-recreate was seen as a deletion');
  await assertServing(h, crash, up);
});

test('a Kubernetes ConfigMap volume (`..data` symlink swap) switching to a broken version is rejected under load; the next good version applies', { timeout: 60_000 }, async (t) => {
  const up = await startUpstream('svc');
  const cfg = configDir('isthmus-config-faults-');
  t.after(async () => {
    await up.close();
    cfg.cleanup();
  });
  // kubelet's layout: ..<timestamp>/ holds the files, ..data -> it, and each key -> ..data/key.
  let gen = 0;
  const publish = (files: Record<string, string>): void => {
    const dir = join(cfg.dir, `..v${++gen}`);
    mkdirSync(dir);
    for (const [n, text] of Object.entries(files)) writeFileSync(join(dir, n), text);
    const tmp = join(cfg.dir, '..data_tmp');
    symlinkSync(`..v${gen}`, tmp);
    renameSync(tmp, join(cfg.dir, '..data'));
    if (gen > 1) rmSync(join(cfg.dir, `..v${gen - 1}`), { recursive: true, force: true });
  };
  const services = serviceYaml('svc', up.port);
  publish({ 'services.yaml': services, 'vs.yaml': routeYaml('good-1') });
  for (const n of ['services.yaml', 'vs.yaml']) symlinkSync(join('..data', n), join(cfg.dir, n));
  const { h, crash } = await start(t, [cfg.dir]);
  const load = loadLoop(h.port, 4);
  t.after(() => load.stop());
  await waitFor('traffic to flow', () => load.samples.length >= 20, 5000);

  publish({ 'services.yaml': services, 'vs.yaml': routeYaml('good-1').replace('[{destination', '[{{destination') });
  await waitFor('the broken version to be rejected', async () => (await rejectedTotal(h)) === 1, 5000);
  assert.equal((await dump(h)).version, 1);
  await sleep(200);
  publish({ 'services.yaml': services, 'vs.yaml': routeYaml('good-2') });
  await waitFor('the good version to serve', () => load.samples.some((s) => s.config === 'good-2'), 2000);
  await sleep(200);
  await load.stop();
  const failed = load.samples.filter((s) => s.status !== 200 || s.error !== null);
  assert.deepEqual(failed.slice(0, 5), [], `${failed.length} of ${load.samples.length} requests failed`);
  assert.ok(load.samples.every((s) => s.config === 'good-1' || s.config === 'good-2'));
  await assertServing(h, crash, up);
});
