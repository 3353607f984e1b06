import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { AccessLogger, type AccessLogEntry } from './accesslog.js';
import { StartTimeFormatter, formatText } from './accesslog-format.js';

const ENTRY: AccessLogEntry = {
  startTime: Date.UTC(2024, 0, 2, 3, 4, 5, 6),
  method: 'GET',
  path: '/',
  protocol: 'HTTP/1.1',
  responseCode: 200,
  flags: 0,
  bytesReceived: 0,
  bytesSent: 10,
  durationMs: 1,
};
const LINE = formatText(ENTRY, new StartTimeFormatter());

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

/** A sink that records writes and completes them only when `release()` is called. */
function slowSink(highWaterMark: number): { sink: Writable; writes: string[]; release: () => void } {
  const writes: string[] = [];
  const held: Array<() => void> = [];
  const sink = new Writable({
    highWaterMark,
    decodeStrings: false,
    write(chunk: string, _enc, cb) {
      writes.push(chunk);
      held.push(() => cb());
    },
  });
  return {
    sink,
    writes,
    release: () => {
      while (held.length) held.shift()!();
    },
  };
}

/** A sink that completes writes immediately. */
function fastSink(): { sink: Writable; writes: string[] } {
  const writes: string[] = [];
  const sink = new Writable({
    decodeStrings: false,
    write(chunk: string, _enc, cb) {
      writes.push(chunk);
      cb();
    },
  });
  return { sink, writes };
}

void test('lines are batched and written on the next turn, not inline', async () => {
  const { sink, writes } = fastSink();
  const log = new AccessLogger({ out: sink });
  for (let i = 0; i < 3; i++) log.log(ENTRY);
  assert.equal(writes.length, 0, 'no write on the request path');
  await turn();
  assert.deepEqual(writes, [LINE + LINE + LINE]);
  assert.equal(log.written, 3);
  log.log(ENTRY);
  await turn();
  assert.deepEqual(writes, [LINE + LINE + LINE, LINE]);
  await log.close();
});

void test('a batch past flushBytes is written at once', async () => {
  const { sink, writes } = fastSink();
  const perFlush = 4;
  const log = new AccessLogger({ out: sink, flushBytes: LINE.length * perFlush });
  for (let i = 0; i < perFlush * 2 + 1; i++) log.log(ENTRY);
  assert.deepEqual(writes, [LINE.repeat(perFlush), LINE.repeat(perFlush)]);
  await turn();
  assert.deepEqual(writes, [LINE.repeat(perFlush), LINE.repeat(perFlush), LINE]);
  assert.equal(log.dropped, 0);
  await log.close();
});

void test('backpressure: buffers up to maxPendingBytes, then drops and counts', async () => {
  const { sink, writes, release } = slowSink(1);
  const maxLines = 5;
  const log = new AccessLogger({ out: sink, flushBytes: LINE.length, maxPendingBytes: LINE.length * maxLines });
  log.log(ENTRY); // flushes immediately (flushBytes = one line); write returns false -> blocked
  assert.equal(writes.length, 1);
  const extra = 12;
  for (let i = 0; i < extra; i++) log.log(ENTRY);
  assert.equal(writes.length, 1, 'nothing written while backpressured');
  assert.equal(log.dropped, extra - maxLines);
  assert.equal(log.written, 1);
  release(); // completes the write -> 'drain' -> pending batch goes out
  await turn();
  assert.equal(writes.length, 2);
  assert.equal(writes[1], LINE.repeat(maxLines));
  assert.equal(log.written, 1 + maxLines);
  release();
  await turn();
  log.log(ENTRY); // accepted again after drain
  assert.equal(writes.length, 3);
  assert.equal(log.dropped, extra - maxLines);
  release();
  await log.close();
});

void test('close() flushes pending lines, waits for drain, then drops', async () => {
  const { sink, writes, release } = slowSink(1);
  const log = new AccessLogger({ out: sink });
  log.log(ENTRY);
  log.log(ENTRY);
  let closed = false;
  const p = log.close().then(() => {
    closed = true;
  });
  assert.deepEqual(writes, [LINE + LINE]);
  await turn();
  assert.equal(closed, false, 'waits for the sink to drain');
  release();
  await p;
  assert.equal(closed, true);
  log.log(ENTRY);
  assert.equal(log.dropped, 1);
  assert.equal(writes.length, 1);
});

void test('a sink error does not throw; later lines are counted as dropped', async () => {
  const sink = new Writable({
    write(_c, _e, cb) {
      cb(new Error('EPIPE'));
    },
  });
  const log = new AccessLogger({ out: sink });
  log.log(ENTRY);
  await turn();
  await turn();
  log.log(ENTRY);
  log.log(ENTRY);
  assert.equal(log.dropped, 2);
  await log.close();
});

void test('json format writes one JSON object per line', async () => {
  const { sink, writes } = fastSink();
  const log = new AccessLogger({ out: sink, format: 'json' });
  log.log(ENTRY);
  log.log({ ...ENTRY, responseCode: 404 });
  await log.close();
  const lines = writes.join('').split('\n');
  assert.equal(lines.pop(), '');
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { response_code: number }).response_code), [200, 404]);
});
