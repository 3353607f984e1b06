/**
 * Downstream limits with Envoy-like defaults (reliability-security.md §1.2, §2.3, §2.4,
 * §2.10): header bytes (60 KiB) and count (100) answered with 431 and never dropped
 * silently; headers, request and idle timeouts (slowloris, silent connections, slow POST,
 * stalled responses lose the connection, memory stays flat); a slow reader cannot make the
 * proxy buffer a large response (backpressure reaches the upstream); the connection limit.
 * Each limit is also shown to follow its setting.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import { allStalled, assertHealthy, pumpResponses, rawExchange, retainedBufferBytes, send, settle, sleep, startFixture, waitFor, type Fixture } from './kit.js';

/** Forces a full GC (for memory measurements that must not count garbage). */
v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let fx: Fixture; // defaults
let slow: Fixture; // short timeouts

before(async () => {
  fx = await startFixture();
  slow = await startFixture({
    run: { limits: { headersTimeoutMs: 1000, requestTimeoutMs: 1500, idleTimeoutMs: 2500, keepAliveTimeoutMs: 500 } },
  });
});
after(async () => {
  await fx?.close();
  await slow?.close();
});

/** A GET with `n` extra headers of `size` bytes each. */
function manyHeaders(path: string, n: number, size = 1): string {
  let s = `GET ${path} HTTP/1.1\r\nHost: web\r\nConnection: close\r\n`;
  for (let i = 0; i < n; i++) s += `x-h${i}: ${'v'.repeat(size)}\r\n`;
  return `${s}\r\n`;
}

// ----------------------------------------------------------------------- header limits

test('header bytes: just under 60 KiB is forwarded; over it (one big header, a 100 KiB cookie) gets 431 and the connection closes', { timeout: 20_000 }, async () => {
  const before = fx.up.arrivals.length;
  const ok = await rawExchange(fx.port, [`GET /big-ok HTTP/1.1\r\nHost: web\r\nConnection: close\r\nx-big: ${'a'.repeat(58 * 1024)}\r\n\r\n`]);
  assert.equal(ok.status, 200, ok.data.slice(0, 100));
  for (const [name, hdr] of [
    ['x-big', 'a'.repeat(61 * 1024)],
    ['cookie', `session=${'c'.repeat(100 * 1024)}`],
  ]) {
    const r = await rawExchange(fx.port, [`GET /too-big HTTP/1.1\r\nHost: web\r\n${name}: ${hdr}\r\n\r\n`]);
    assert.equal(r.status, 431, `${name}: ${r.data.slice(0, 100)}`);
    assert.ok(r.closed);
  }
  await settle(fx);
  assert.deepEqual(fx.up.arrivals.slice(before).map((a) => a.url), ['/big-ok']);
});

test('header count: 100 headers are forwarded intact; 101, and 2,100, get 431 (not silently cut down); h1 connection closed', { timeout: 20_000 }, async () => {
  const before = fx.up.arrivals.length;
  // Host + Connection + 98 = 100.
  const ok = await rawExchange(fx.port, [manyHeaders('/count-ok', 98)]);
  assert.equal(ok.status, 200, ok.data.slice(0, 100));
  await settle(fx);
  const seen = fx.up.arrivals.at(-1)!;
  assert.equal(seen.url, '/count-ok');
  for (let i = 0; i < 98; i++) assert.equal(seen.headers[`x-h${i}`], 'v', `x-h${i} lost`);
  for (const n of [99, 2098]) {
    const r = await rawExchange(fx.port, [manyHeaders('/count-over', n)]);
    assert.equal(r.status, 431, `${n + 2} headers: ${r.data.slice(0, 100)}`);
    assert.ok(r.closed);
  }
  await settle(fx);
  assert.deepEqual(fx.up.arrivals.slice(before).map((a) => a.url), ['/count-ok']);
  const log = fx.h.access.map((l) => JSON.parse(l) as { response_code: number; response_code_details: string }).filter((l) => l.response_code === 431);
  assert.ok(log.length >= 2 && log.every((l) => l.response_code_details === 'too_many_headers'), JSON.stringify(log));
});

test('header limits follow their settings (--max-request-headers-kb 8, --max-headers-count 20)', { timeout: 20_000 }, async (t) => {
  const small = await startFixture({ run: { limits: { maxHeaderSize: 8 * 1024, maxHeadersCount: 20 } } });
  t.after(() => small.close());
  assert.equal((await rawExchange(small.port, [manyHeaders('/a', 18)])).status, 200);
  assert.equal((await rawExchange(small.port, [manyHeaders('/b', 19)])).status, 431);
  assert.equal((await rawExchange(small.port, [manyHeaders('/c', 1, 7 * 1024)])).status, 200);
  assert.equal((await rawExchange(small.port, [manyHeaders('/d', 1, 9 * 1024)])).status, 431);
  await settle(small);
  assert.deepEqual(small.up.arrivals.map((a) => a.url), ['/a', '/c']);
  await assertHealthy(small);
});

test('after the header-limit tests: process alive, /ready 200, 100 normal requests', { timeout: 30_000 }, async () => {
  await assertHealthy(fx);
});

// --------------------------------------------------------------------------- timeouts

test('slowloris: 50 connections dribbling header bytes are answered 408 and closed at the headers timeout; normal requests stay fast', { timeout: 20_000 }, async () => {
  const before = slow.up.arrivals.length;
  const heapBefore = process.memoryUsage().heapUsed;
  const dribble = ['GET /slowloris HTTP/1.1\r\n', ...'Host: web\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'];
  const attacks = Array.from({ length: 50 }, () => rawExchange(slow.port, dribble, { gapMs: 100, timeoutMs: 6000 }));
  // Meanwhile a normal client is served promptly.
  await sleep(300);
  const t0 = performance.now();
  const r = await send(slow.port, 'web', '/during-slowloris');
  assert.equal(r.status, 200);
  assert.ok(performance.now() - t0 < 2000, `a normal request took ${Math.round(performance.now() - t0)} ms during the attack`);
  const results = await Promise.all(attacks);
  for (const a of results) {
    assert.ok(a.closed, 'a slowloris connection outlived the headers timeout');
    // The dribble would last 6 s: closing well before proves the timeout.
    assert.ok(a.ms < 4000, `closed after ${Math.round(a.ms)} ms (headers timeout 1000 ms)`);
    assert.equal(a.status, 408, a.data.slice(0, 80));
  }
  await settle(slow);
  assert.deepEqual(slow.up.arrivals.slice(before).map((a) => a.url), ['/during-slowloris']);
  gc();
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 16 * 1024 * 1024, 'heap grew by more than 16 MiB');
});

test('connections that send nothing, or stop inside the HTTP/2 preface, are closed at the headers timeout', { timeout: 20_000 }, async () => {
  const silent = await Promise.all(Array.from({ length: 20 }, () => rawExchange(slow.port, [], { timeoutMs: 5000 })));
  const preface = await Promise.all(Array.from({ length: 20 }, () => rawExchange(slow.port, ['PRI * HTTP/2.0\r\n'], { timeoutMs: 5000 })));
  for (const r of [...silent, ...preface]) {
    assert.ok(r.closed, 'an idle pre-protocol connection was kept');
    assert.ok(r.ms >= 900 && r.ms < 4000, `closed after ${Math.round(r.ms)} ms`);
  }
});

test('slow POST (Content-Length 1,000,000 at ~100 B/s): 408 at the request timeout, the upstream request aborted', { timeout: 20_000 }, async () => {
  const before = slow.up.arrivals.length;
  const chunks = ['POST /slow-post HTTP/1.1\r\nHost: web\r\nContent-Length: 1000000\r\n\r\n', ...Array.from({ length: 60 }, () => 'x'.repeat(10))];
  const r = await rawExchange(slow.port, chunks, { gapMs: 100, timeoutMs: 8000 });
  assert.ok(r.closed);
  // The upload would last 6 s: closing well before proves the timeout.
  assert.ok(r.ms < 5000, `closed after ${Math.round(r.ms)} ms (request timeout 1500 ms)`);
  assert.ok(r.status === 408 || r.status === 0, r.data.slice(0, 100));
  await settle(slow);
  const arrived = slow.up.arrivals.slice(before);
  assert.ok(arrived.every((a) => a.url === '/slow-post' && !a.complete), 'the slow POST completed upstream');
});

test('a stalled response (no bytes either way) loses its connection at the idle timeout, and the upstream request is aborted', { timeout: 20_000 }, async (t) => {
  let upstreamClosed = false;
  const prev = slow.up.respond;
  slow.up.respond = (req, res) => {
    if (req.url !== '/stall') return prev(req, res);
    res.on('close', () => (upstreamClosed = true));
  };
  t.after(() => (slow.up.respond = prev));
  const r = await rawExchange(slow.port, ['GET /stall HTTP/1.1\r\nHost: web\r\n\r\n'], { timeoutMs: 8000 });
  assert.ok(r.closed);
  assert.ok(r.ms >= 2000 && r.ms < 5000, `closed after ${Math.round(r.ms)} ms (idle timeout 2500 ms)`);
  await waitFor('the upstream request to be aborted', () => upstreamClosed, 3000);
});

test('an idle keep-alive connection is closed at the idle (keep-alive) timeout', { timeout: 20_000 }, async () => {
  const r = await rawExchange(slow.port, ['GET /ka HTTP/1.1\r\nHost: web\r\n\r\n'], { timeoutMs: 5000 });
  assert.equal(r.status, 200);
  assert.ok(r.closed && r.ms < 4000, `closed=${r.closed} after ${Math.round(r.ms)} ms (keep-alive timeout 500 ms)`);
});

// ------------------------------------------------------------------------ backpressure

test('slow readers: 4 clients that read nothing of a 256 MiB response make the upstream stall, not the proxy buffer it; the idle timeout reclaims them', { timeout: 40_000 }, async (t) => {
  const TOTAL = 256 * 1024 * 1024;
  const { streams, restore } = pumpResponses(slow, '/huge', TOTAL);
  t.after(restore);
  const base = await retainedBufferBytes(gc);
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect({ host: '127.0.0.1', port: slow.port });
    s.on('error', () => undefined);
    s.write('GET /huge HTTP/1.1\r\nHost: web\r\n\r\n');
    // Read the first bytes, then never again.
    s.once('data', () => s.pause());
    sockets.push(s);
  }
  t.after(() => sockets.forEach((s) => s.destroy()));
  // Every upstream response stalls (write() false, no 'drain' for 500 ms) well short of its end.
  await waitFor('all 4 upstream responses to stall', () => allStalled(streams, 4, 500), 15_000, 50);
  const written = streams.reduce((a, s) => a + s.written, 0);
  const grew = (await retainedBufferBytes(gc)) - base;
  t.diagnostic(`upstream wrote ${(written / 2 ** 20).toFixed(1)} MiB in total before stalling; proxy buffers grew by ${(grew / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(streams.every((s) => s.written < TOTAL / 2), 'an upstream response was pulled through although nobody read it');
  assert.ok(grew < 16 * 1024 * 1024, `buffers grew by ${(grew / 2 ** 20).toFixed(1)} MiB with 4 stalled readers`);
  // No bytes move any more: the idle timeout (2.5 s) closes the connections and aborts upstream.
  await waitFor('the idle timeout to close the stalled responses', () => streams.every((s) => s.closed), 8000, 50);
});

test('after the timeout and backpressure tests: process alive, /ready 200, 100 normal requests', { timeout: 30_000 }, async () => {
  await assertHealthy(slow);
});

// ------------------------------------------------------------------------ connections

test('--max-connections 12: the 13th connection is closed at once; once some close, new ones are served', { timeout: 20_000 }, async (t) => {
  const lim = await startFixture({ run: { limits: { maxConnections: 12 } } });
  t.after(() => lim.close());
  const held: net.Socket[] = [];
  for (let i = 0; i < 12; i++) {
    const s = net.connect({ host: '127.0.0.1', port: lim.port });
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('connect', () => r()));
    held.push(s);
  }
  t.after(() => held.forEach((s) => s.destroy()));
  await sleep(100);
  const over = await rawExchange(lim.port, ['GET /over HTTP/1.1\r\nHost: web\r\n\r\n'], { timeoutMs: 3000 });
  assert.ok(over.closed && over.status === 0, `over the limit: ${over.status} closed=${over.closed}`);
  assert.ok(over.ms < 1000);
  for (const s of held) s.destroy();
  await sleep(200);
  await settle(lim);
  assert.deepEqual(lim.up.arrivals.map((a) => a.url), []);
  await assertHealthy(lim);
});
