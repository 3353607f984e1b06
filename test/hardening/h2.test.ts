/**
 * HTTP/2 abuse over raw frames on an h2c connection (reliability-security.md §2.2, §2.4,
 * §2.10): the advertised limits (100 concurrent streams, 64 KiB stream window, 1 MiB
 * connection window, 60 KiB header list); streams over the limit refused and never sent
 * upstream; rapid reset (CVE-2023-44487), its variant without RST_STREAM, and the
 * CONTINUATION flood (incl. the abrupt-close shape of CVE-2024-27983) end in GOAWAY or a
 * closed connection with no upstream storm; PING/SETTINGS/empty-DATA/WINDOW_UPDATE/PRIORITY
 * floods; too many headers; a peer that never opens its window cannot make the proxy
 * buffer a large response.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  allStalled, assertHealthy, frame, getHeaders, H2, hpack, pumpResponses, rawH2, retainedBufferBytes, rstStream, settings, settle, sleep, startFixture, waitFor, withTimeout, writeAll,
  type Fixture, type RawH2,
} from './kit.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

let fx: Fixture;

before(async () => {
  fx = await startFixture();
});
after(async () => {
  await fx?.close();
});

const GET = (path: string): Buffer => hpack(getHeaders('web', path));

/** Waits until the connection is closed or a GOAWAY came; returns which. */
async function goneAway(c: RawH2, ms: number): Promise<'goaway' | 'closed'> {
  await waitFor('GOAWAY or close', () => c.closed || c.goaway() !== null, ms, 10);
  return c.goaway() !== null ? 'goaway' : 'closed';
}

test('SETTINGS: 100 concurrent streams, 64 KiB stream window, 60 KiB header list; the connection window is raised to 1 MiB', { timeout: 10_000 }, async (t) => {
  const c = await rawH2(fx.port);
  t.after(() => c.destroy());
  const s = await c.waitFrame((f) => f.type === H2.SETTINGS && (f.flags & H2.ACK) === 0, 3000, 'server SETTINGS');
  const values = new Map<number, number>();
  for (let i = 0; i + 6 <= s.payload.length; i += 6) values.set(s.payload.readUInt16BE(i), s.payload.readUInt32BE(i + 2));
  assert.equal(values.get(3), 100, 'SETTINGS_MAX_CONCURRENT_STREAMS');
  assert.equal(values.get(4), 64 * 1024, 'SETTINGS_INITIAL_WINDOW_SIZE');
  assert.equal(values.get(6), 60 * 1024, 'SETTINGS_MAX_HEADER_LIST_SIZE');
  const wu = await c.waitFrame((f) => f.type === H2.WINDOW_UPDATE && f.stream === 0, 3000, 'connection WINDOW_UPDATE');
  assert.equal(wu.payload.readUInt32BE(0) & 0x7fffffff, 1024 * 1024 - 65_535);
});

test('300 streams at once: at most 100 reach the upstream, the rest are refused (REFUSED_STREAM) or the connection goes away', { timeout: 20_000 }, async (t) => {
  // The upstream holds every answer, so the first streams stay open.
  const held: Array<() => void> = [];
  const prev = fx.up.respond;
  fx.up.respond = (req, res) => {
    if (!req.url?.startsWith('/conc-')) return prev(req, res);
    held.push(() => res.end('late'));
  };
  t.after(() => {
    fx.up.respond = prev;
    held.forEach((f) => f());
  });
  const before = fx.up.arrivals.length;
  const c = await rawH2(fx.port);
  t.after(() => c.destroy());
  const frames: Buffer[] = [];
  for (let i = 0; i < 300; i++) frames.push(frame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, 1 + 2 * i, GET(`/conc-${i}`)));
  await writeAll(c, frames);
  await waitFor('refusals or GOAWAY', () => c.frames.filter((f) => f.type === H2.RST_STREAM).length >= 100 || c.goaway() !== null || c.closed, 5000);
  await sleep(300);
  const refused = c.frames.filter((f) => f.type === H2.RST_STREAM && f.payload.readUInt32BE(0) === 7 /* REFUSED_STREAM */);
  const arrived = fx.up.arrivals.slice(before).filter((a) => a.url.startsWith('/conc-'));
  t.diagnostic(`${refused.length} REFUSED_STREAM, ${arrived.length} upstream, goaway=${c.goaway()}`);
  assert.ok(arrived.length <= 100, `${arrived.length} streams reached the upstream`);
  assert.ok(refused.length >= 100 || c.goaway() !== null, 'streams over the limit were neither refused nor was the connection closed');
  // No refused stream was sent upstream.
  const refusedPaths = new Set(refused.map((f) => `/conc-${(f.stream - 1) / 2}`));
  assert.ok(arrived.every((a) => !refusedPaths.has(a.url)), 'a refused stream reached the upstream');
  c.destroy();
  held.splice(0).forEach((f) => f());
  await settle(fx);
});

test('rapid reset: 20,000 HEADERS+RST_STREAM pairs end in GOAWAY/close with far fewer than 2,000 upstream requests; nothing leaks', { timeout: 30_000 }, async (t) => {
  const before = fx.up.arrivals.length;
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const c = await rawH2(fx.port);
  t.after(() => c.destroy());
  const pairs = (function* () {
    for (let i = 0; i < 20_000; i++) {
      const id = 1 + 2 * i;
      yield Buffer.concat([frame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, id, GET(`/rr-${i}`)), rstStream(id)]);
    }
  })();
  const t0 = performance.now();
  await writeAll(c, pairs, 15_000);
  const how = await goneAway(c, 5000);
  t.diagnostic(`${how} after ${Math.round(performance.now() - t0)} ms; GOAWAY code ${c.goaway()}`);
  c.destroy();
  await settle(fx, 5000);
  const arrived = fx.up.arrivals.length - before;
  t.diagnostic(`${arrived} upstream requests`);
  assert.ok(arrived < 2000, `${arrived} upstream requests started`);
  gc();
  assert.ok(process.memoryUsage().heapUsed - heap0 < 32 * 1024 * 1024, 'heap grew by more than 32 MiB');
});

test('reset storm without RST_STREAM: 20,000 malformed HEADERS (no :path, upper-case name, connection header) end in GOAWAY/close, nothing upstream', { timeout: 30_000 }, async (t) => {
  const before = fx.up.arrivals.length;
  const c = await rawH2(fx.port);
  t.after(() => c.destroy());
  const bad = [
    hpack([[':method', 'GET'], [':scheme', 'http'], [':authority', 'web']]),
    hpack([...getHeaders('web', '/bad'), ['X-Upper', '1']]),
    hpack([...getHeaders('web', '/bad'), ['connection', 'keep-alive']]),
  ];
  const frames = (function* () {
    for (let i = 0; i < 20_000; i++) yield frame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, 1 + 2 * i, bad[i % 3]);
  })();
  await writeAll(c, frames, 15_000);
  const how = await goneAway(c, 5000);
  t.diagnostic(`${how}; GOAWAY code ${c.goaway()}`);
  c.destroy();
  await settle(fx);
  assert.deepEqual(fx.up.arrivals.slice(before).map((a) => a.url), []);
});

test('CONTINUATION flood: HEADERS + 4,000 x 1 KiB CONTINUATION end in GOAWAY/close, nothing upstream; then 100 floods cut off abruptly (CVE-2024-27983 shape)', { timeout: 40_000 }, async (t) => {
  const before = fx.up.arrivals.length;
  const block = hpack(getHeaders('web', '/cont'));
  const cont = frame(H2.CONTINUATION, 0, 1, hpack([['x-filler', 'f'.repeat(1000)]]));
  const c = await rawH2(fx.port);
  t.after(() => c.destroy());
  await writeAll(c, (function* () {
    yield frame(H2.HEADERS, H2.END_STREAM, 1, block);
    for (let i = 0; i < 4000; i++) yield cont;
  })());
  const how = await goneAway(c, 5000);
  t.diagnostic(`${how}; GOAWAY code ${c.goaway()}`);
  c.destroy();
  for (let round = 0; round < 100; round++) {
    const a = await rawH2(fx.port);
    a.write(frame(H2.HEADERS, H2.END_STREAM, 1, block));
    for (let i = 0; i < 20; i++) a.write(cont);
    a.socket.resetAndDestroy();
  }
  await settle(fx);
  assert.deepEqual(fx.up.arrivals.slice(before).map((x) => x.url), []);
  fx.crash.assertNone();
});

test('control-frame floods: 10,000 PINGs or SETTINGS unread, a WINDOW_UPDATE of 0, empty DATA and PRIORITY floods: connection closed or bounded, process fine', { timeout: 40_000 }, async (t) => {
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const ping = frame(H2.PING, 0, 0, Buffer.alloc(8));
  for (const [name, make, mustClose] of [
    ['PING flood', () => Array.from({ length: 10_000 }, () => ping), true],
    ['SETTINGS flood', () => Array.from({ length: 10_000 }, () => settings([[3, 100]])), true],
    ['WINDOW_UPDATE 0 on the connection', () => [frame(H2.WINDOW_UPDATE, 0, 0, Buffer.alloc(4))], true],
    [
      'empty DATA flood',
      () => [frame(H2.HEADERS, H2.END_HEADERS, 1, hpack([...getHeaders('web', '/empty-data').map(([k, v]) => [k, k === ':method' ? 'POST' : v] as [string, string])])), ...Array.from({ length: 10_000 }, () => frame(H2.DATA, 0, 1))],
      false,
    ],
    ['PRIORITY flood', () => Array.from({ length: 10_000 }, (_, i) => frame(H2.PRIORITY, 0, 1 + 2 * i, Buffer.from([0, 0, 0, 0, 16]))), false],
  ] as Array<[string, () => Buffer[], boolean]>) {
    const c = await rawH2(fx.port);
    // Do not read what the proxy answers (the ACKs pile up on its side).
    c.socket.pause();
    await writeAll(c, make(), 10_000);
    await sleep(500);
    c.socket.resume();
    if (mustClose) {
      const how = await goneAway(c, 5000);
      t.diagnostic(`${name}: ${how}; GOAWAY code ${c.goaway()}`);
    } else t.diagnostic(`${name}: closed=${c.closed} goaway=${c.goaway()}`);
    c.destroy();
  }
  await settle(fx);
  gc();
  assert.ok(process.memoryUsage().heapUsed - heap0 < 32 * 1024 * 1024, 'heap grew by more than 32 MiB');
});

test('too many headers on HTTP/2: 101 get 431; far more are reset by the codec; a header list over 60 KiB is refused; nothing upstream', { timeout: 20_000 }, async (t) => {
  const before = fx.up.arrivals.length;
  const c = await rawH2(fx.port);
  t.after(() => c.destroy());
  // SETTINGS ACK, so the server can use its advertised limits.
  c.write(frame(H2.SETTINGS, H2.ACK, 0));
  const extra = (n: number, size = 1): Array<[string, string]> => Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v'.repeat(size)] as [string, string]);
  c.write(frame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, 1, hpack([...getHeaders('web', '/h2-count-ok'), ...extra(100)])));
  c.write(frame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, 3, hpack([...getHeaders('web', '/h2-count-over'), ...extra(101)])));
  c.write(frame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, 5, hpack([...getHeaders('web', '/h2-count-flood'), ...extra(500)])));
  const big = hpack([...getHeaders('web', '/h2-size-over'), ...extra(4, 16 * 1024)]);
  // Sent as HEADERS + CONTINUATION (the frame size limit is 16 KiB).
  const parts: Buffer[] = [];
  for (let off = 0; off < big.length; off += 16_000) parts.push(big.subarray(off, off + 16_000));
  parts.forEach((p, i) => c.write(frame(i === 0 ? H2.HEADERS : H2.CONTINUATION, (i === 0 ? H2.END_STREAM : 0) | (i === parts.length - 1 ? H2.END_HEADERS : 0), 7, p)));
  const answered = (id: number): boolean => c.frames.some((f) => f.stream === id && (f.type === H2.RST_STREAM || f.type === H2.HEADERS)) || c.closed || c.goaway() !== null;
  await waitFor('answers to streams 1, 3, 5 and 7', () => [1, 3, 5, 7].every(answered), 5000);
  const status = (id: number): string => {
    const rst = c.frames.find((f) => f.stream === id && f.type === H2.RST_STREAM);
    if (rst) return `rst:${rst.payload.readUInt32BE(0)}`;
    const h = c.frames.find((f) => f.stream === id && f.type === H2.HEADERS);
    // Our local replies are tiny: ':status' is HPACK-indexed or a literal; look for the digits.
    return h ? (h.payload.includes('431') ? '431' : h.payload[0] === 0x88 ? '200' : `headers:${h.payload.subarray(0, 4).toString('hex')}`) : 'none';
  };
  t.diagnostic(`1=${status(1)} 3=${status(3)} 5=${status(5)} 7=${status(7)} goaway=${c.goaway()}`);
  assert.equal(status(1), '200');
  assert.equal(status(3), '431');
  assert.ok(status(5) === '431' || status(5).startsWith('rst:') || c.goaway() !== null, status(5));
  assert.ok(status(7) === '431' || status(7).startsWith('rst:') || c.goaway() !== null, status(7));
  await settle(fx);
  assert.deepEqual(fx.up.arrivals.slice(before).map((a) => a.url), ['/h2-count-ok']);
});

test('a peer that never opens its flow-control window cannot make the proxy buffer a 64 MiB response: the upstream stalls', { timeout: 30_000 }, async (t) => {
  const { streams, restore } = pumpResponses(fx, '/h2-huge', 64 * 1024 * 1024);
  t.after(restore);
  const base = await retainedBufferBytes(gc);
  const c = await rawH2(fx.port);
  t.after(() => c.destroy());
  c.write(frame(H2.SETTINGS, H2.ACK, 0));
  c.write(frame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, 1, GET('/h2-huge')));
  await waitFor('the upstream response to stall', () => allStalled(streams, 1, 500), 15_000, 50);
  const grew = (await retainedBufferBytes(gc)) - base;
  const received = c.frames.filter((f) => f.type === H2.DATA).reduce((a, f) => a + f.payload.length, 0);
  t.diagnostic(`client got ${received} DATA bytes; upstream wrote ${(streams[0].written / 2 ** 20).toFixed(1)} MiB; proxy buffers grew ${(grew / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(received <= 65_535, `${received} DATA bytes sent past the client's window`);
  assert.ok(streams[0].written < 32 * 1024 * 1024, 'the upstream response was pulled through');
  assert.ok(grew < 16 * 1024 * 1024, `buffers grew by ${(grew / 2 ** 20).toFixed(1)} MiB`);
  c.destroy();
  await withTimeout(waitFor('the upstream response to be aborted', () => streams[0].closed, 5000), 6000, 'abort');
});

test('an HTTP/2 session with nothing moving (idle, or a stream the peer never reads) is closed at the stream idle timeout', { timeout: 20_000 }, async (t) => {
  const short = await startFixture({ run: { limits: { idleTimeoutMs: 1000 } } });
  t.after(() => short.close());
  const { streams, restore } = pumpResponses(short, '/h2-stuck', 16 * 1024 * 1024);
  t.after(restore);
  const idle = await rawH2(short.port);
  const stuck = await rawH2(short.port);
  t.after(() => (idle.destroy(), stuck.destroy()));
  stuck.write(frame(H2.HEADERS, H2.END_HEADERS | H2.END_STREAM, 1, hpack(getHeaders('web', '/h2-stuck'))));
  const t0 = performance.now();
  await Promise.all([goneAway(idle, 5000), goneAway(stuck, 5000)]);
  const ms = performance.now() - t0;
  assert.ok(ms > 700 && ms < 4000, `closed after ${Math.round(ms)} ms (idle timeout 1000 ms)`);
  await waitFor('the stuck upstream response to be aborted', () => streams.length === 1 && streams[0].closed, 5000);
  await assertHealthy(short);
});

test('after the HTTP/2 abuse: process alive, /ready 200, 100 normal requests, upstream clean', { timeout: 30_000 }, async () => {
  await settle(fx);
  await assertHealthy(fx);
});
