/**
 * Graceful drain of the real CLI (`isthmus run`, spawned): SIGTERM while a slow request is
 * in flight (the upstream answers ~1.5 s later, and never before the drain was seen) ->
 * /ready turns 503, new connections are refused, idle keep-alive connections are closed,
 * the request completes with 200 (and is access-logged), the process exits 0. With
 * --concurrency 1 and 2. And (in-process) the drain timeout bounds the wait.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { request, serviceEntry, startUpstream, type Upstream } from '../support/mesh.js';
import { adminGet, configDir, idleKeepAlive, spawnRun, startRuntime, waitFor, withTimeout, type ConfigDir } from '../support/harness.js';

let slow: Upstream;
let cfg: ConfigDir;
const held: Array<() => void> = [];

before(async () => {
  slow = await startUpstream('slow');
  slow.respond = (r, res) => {
    if (!r.url.startsWith('/hold')) return void res.end(`slow ${r.url}`);
    // Held until the test has seen the drain start (or 10 s pass): no timing assumptions.
    const answer = (): void => void (res.writableEnded || res.end(`slow ${r.url}`));
    held.push(answer);
    setTimeout(answer, 10_000).unref();
  };
  cfg = configDir();
  cfg.write('mesh.yaml', serviceEntry('slow', 'default', 80, [{ port: slow.port, labels: { version: 'v1' } }]));
});

after(async () => {
  cfg?.cleanup();
  await slow?.close();
});

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

for (const concurrency of [1, 2]) {
  test(`SIGTERM during a slow request (--concurrency ${concurrency}): /ready 503, no new connections, the request completes 200, exit 0`, { timeout: 45_000 }, async (t) => {
    const proxy = await spawnRun(['-f', cfg.dir, '--concurrency', String(concurrency), '--admin-port', '0', '--outbound-port', '0', '--drain-timeout', '10']);
    t.after(() => proxy.kill());
    assert.ok(proxy.port > 0 && proxy.adminPort > 0, proxy.stderr.join('\n'));
    assert.equal((await adminGet(proxy.adminPort, '/ready')).status, 200);
    assert.equal((await request(proxy.port, 'slow', '/fast', { keepAlive: false })).status, 200);

    // An idle keep-alive connection: the drain must close it, not wait for its timeout.
    const idle = await idleKeepAlive(proxy.port, 'slow', '/idle');
    t.after(() => idle.destroy());
    assert.equal(idle.status, 200);

    const path = `/hold-c${concurrency}`;
    const inFlight = request(proxy.port, 'slow', path, { keepAlive: false });
    await waitFor('the slow request to reach the upstream', () => slow.seen.some((x) => x.url === path), 5000);
    const reachedAt = Date.now();
    proxy.child.kill('SIGTERM');

    // While the request is still running: not ready, and the listener is closed.
    await waitFor('/ready to turn 503', async () => (await adminGet(proxy.adminPort, '/ready')).status === 503, 5000, 10);
    await waitFor('new connections to be refused', () => refused(proxy.port), 5000, 10);
    await withTimeout(idle.closed, 5000, 'the idle keep-alive connection to be closed by the drain');
    assert.equal(proxy.child.exitCode, null, 'the proxy must wait for the in-flight request');
    // The upstream answers ~1.5 s after the request reached it (or now, if the checks took longer).
    await new Promise((r) => setTimeout(r, 1500 - (Date.now() - reachedAt)));
    for (const answer of held.splice(0)) answer();

    const r = await withTimeout(inFlight, 10_000, 'the in-flight request');
    assert.equal(r.status, 200);
    assert.equal(r.body, `slow ${path}`);
    const exit = await withTimeout(proxy.exited, 15_000, 'the proxy to exit');
    assert.deepEqual(exit, { code: 0, signal: null }, proxy.stderr.join('\n'));
    // The access log was flushed before exit, including the drained request.
    assert.ok(proxy.stdout.some((l) => l.includes(`"GET ${path} HTTP/1.1" 200 - via_upstream`)), proxy.stdout.join('\n'));
  });
}

test('the drain is bounded by --drain-timeout: a request still running then is cut, and drain() says so', { timeout: 20_000 }, async (t) => {
  const h = await startRuntime([cfg.dir], { drainTimeoutMs: 400, accessLog: false });
  t.after(() => h.close());
  const path = '/hold-timeout';
  const inFlight = request(h.port, 'slow', path, { keepAlive: false }).then(
    (r) => `completed ${r.status}`,
    (e: Error) => `failed: ${e.message}`,
  );
  await waitFor('the request to reach the upstream', () => slow.seen.some((x) => x.url === path), 5000);
  const started = Date.now();
  const drained = h.rt.drain();
  assert.equal((await adminGet(h.adminPort, '/ready')).status, 503);
  assert.equal(await withTimeout(drained, 5000, 'the bounded drain'), false, 'drain() must report that requests were cut');
  const took = Date.now() - started;
  assert.ok(took >= 350 && took < 4000, `drain took ${took} ms for a 400 ms timeout`);
  assert.match(await withTimeout(inFlight, 5000, 'the cut request to fail'), /^failed: /);
  for (const answer of held.splice(0)) answer();
});
