import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ParseError, ResponseParser, type ResponseHeaders } from './h1-parser.js';

interface Seen {
  status: number | null;
  headers: ResponseHeaders | null;
  body: string;
  ended: boolean;
  trailers: ResponseHeaders | null;
}

/** Feeds `wire` in pieces of `step` bytes (0 = all at once). */
function parse(wire: string, opts: { head?: boolean; step?: number; max?: number } = {}): Seen & { parser: ResponseParser } {
  const seen: Seen = { status: null, headers: null, body: '', ended: false, trailers: null };
  const p = new ResponseParser(
    {
      onHead(status, headers) {
        seen.status = status;
        seen.headers = headers;
      },
      onBody(chunk) {
        seen.body += chunk.toString('latin1');
      },
      onEnd(trailers) {
        seen.ended = true;
        seen.trailers = trailers;
      },
    },
    opts.max ?? 1024,
  );
  p.expect(opts.head ?? false);
  const buf = Buffer.from(wire, 'latin1');
  const step = opts.step ?? 0;
  if (step === 0) p.execute(buf);
  else for (let i = 0; i < buf.length; i += step) p.execute(buf.subarray(i, i + step));
  return { ...seen, parser: p };
}

const OK: { name: string; wire: string; head?: boolean; status: number; body: string; ended: boolean; keepAlive: boolean; headers?: ResponseHeaders; trailers?: ResponseHeaders | null }[] = [
  { name: 'content-length', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello', status: 200, body: 'hello', ended: true, keepAlive: true, headers: { 'content-length': '5', 'x-a': '1' } },
  { name: 'no reason phrase', wire: 'HTTP/1.1 204\r\n\r\n', status: 204, body: '', ended: true, keepAlive: true },
  { name: 'chunked with extension', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n', status: 200, body: 'hello world', ended: true, keepAlive: true, trailers: null },
  { name: 'chunked with trailers', wire: 'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\ngrpc-status: 0\r\ngrpc-message: fine\r\n\r\n', status: 200, body: 'ok', ended: true, keepAlive: true, trailers: { 'grpc-status': '0', 'grpc-message': 'fine' } },
  { name: 'repeated headers become arrays', wire: 'HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\ncontent-length: 0\r\n\r\n', status: 200, body: '', ended: true, keepAlive: true, headers: { 'set-cookie': ['a=1', 'b=2'], 'content-length': '0' } },
  { name: '100 Continue is skipped', wire: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok', status: 201, body: 'ok', ended: true, keepAlive: true },
  { name: 'HEAD: no body despite content-length', wire: 'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n', head: true, status: 200, body: '', ended: true, keepAlive: true },
  { name: '304 has no body', wire: 'HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n', status: 304, body: '', ended: true, keepAlive: true },
  { name: 'connection: close', wire: 'HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 1\r\n\r\nx', status: 200, body: 'x', ended: true, keepAlive: false },
  { name: 'HTTP/1.0 closes by default', wire: 'HTTP/1.0 200 OK\r\ncontent-length: 1\r\n\r\nx', status: 200, body: 'x', ended: true, keepAlive: false },
  { name: 'HTTP/1.0 keep-alive', wire: 'HTTP/1.0 200 OK\r\nConnection: keep-alive\r\ncontent-length: 1\r\n\r\nx', status: 200, body: 'x', ended: true, keepAlive: true },
  { name: 'no framing: read until close', wire: 'HTTP/1.1 200 OK\r\n\r\nsome bytes', status: 200, body: 'some bytes', ended: false, keepAlive: false },
  { name: 'TE and CL: chunked wins, no reuse', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n', status: 200, body: 'a', ended: true, keepAlive: false },
  { name: 'identical repeated content-length', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nab', status: 200, body: 'ab', ended: true, keepAlive: true },
  { name: 'OWS around values is trimmed', wire: 'HTTP/1.1 200 OK\r\nx-a: \t v \t\r\ncontent-length: 0\r\n\r\n', status: 200, body: '', ended: true, keepAlive: true, headers: { 'x-a': 'v', 'content-length': '0' } },
];

for (const c of OK) {
  for (const step of [0, 1, 7]) {
    test(`parses: ${c.name} (step ${step})`, () => {
      const r = parse(c.wire, { head: c.head, step });
      assert.equal(r.status, c.status);
      assert.equal(r.body, c.body);
      assert.equal(r.ended, c.ended);
      assert.equal(r.parser.keepAlive, c.keepAlive);
      if (c.headers) assert.deepEqual(r.headers, c.headers);
      if (c.trailers !== undefined) assert.deepEqual(r.trailers, c.trailers);
    });
  }
}

test('a read-until-close body ends when the connection closes', () => {
  const r = parse('HTTP/1.1 200 OK\r\n\r\nabc');
  assert.equal(r.ended, false);
  assert.equal(r.parser.readsUntilClose, true);
  assert.equal(r.parser.finishOnClose(), true);
});

test('a content-length body cut short does not end on close', () => {
  const r = parse('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc');
  assert.equal(r.parser.finishOnClose(), false);
});

const BAD: { name: string; wire: string; code: string }[] = [
  { name: 'not HTTP', wire: 'garbage garbage\r\n\r\n', code: 'HPE_INVALID_CONSTANT' },
  { name: 'HTTP/2 status line', wire: 'HTTP/2 200 OK\r\n\r\n', code: 'HPE_INVALID_CONSTANT' },
  { name: 'two-digit status', wire: 'HTTP/1.1 20 OK\r\n\r\n', code: 'HPE_INVALID_CONSTANT' },
  { name: 'status 600', wire: 'HTTP/1.1 600 What\r\n\r\n', code: 'HPE_INVALID_STATUS' },
  { name: 'obs-fold', wire: 'HTTP/1.1 200 OK\r\nx-a: 1\r\n  folded\r\n\r\n', code: 'HPE_INVALID_HEADER_TOKEN' },
  { name: 'space before colon', wire: 'HTTP/1.1 200 OK\r\nx-a : 1\r\n\r\n', code: 'HPE_INVALID_HEADER_TOKEN' },
  { name: 'no colon', wire: 'HTTP/1.1 200 OK\r\nx-a\r\n\r\n', code: 'HPE_INVALID_HEADER_TOKEN' },
  { name: 'bare LF in head', wire: 'HTTP/1.1 200 OK\r\nx-a: 1\nx-b: 2\r\n\r\n', code: 'HPE_LF_EXPECTED' },
  { name: 'bare CR in head', wire: 'HTTP/1.1 200 OK\r\nx-a: 1\rx-b: 2\r\n\r\n', code: 'HPE_LF_EXPECTED' },
  { name: 'NUL in a value', wire: 'HTTP/1.1 200 OK\r\nx-a: a\0b\r\n\r\n', code: 'HPE_LF_EXPECTED' },
  { name: 'conflicting content-length', wire: 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', code: 'HPE_UNEXPECTED_CONTENT_LENGTH' },
  { name: 'negative content-length', wire: 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', code: 'HPE_INVALID_CONTENT_LENGTH' },
  { name: 'content-length with a sign', wire: 'HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello', code: 'HPE_INVALID_CONTENT_LENGTH' },
  { name: 'invalid chunk size', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', code: 'HPE_INVALID_CHUNK_SIZE' },
  { name: 'chunk size overflow', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n', code: 'HPE_INVALID_CHUNK_SIZE' },
  { name: 'chunk data without CRLF', wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc', code: 'HPE_STRICT' },
  { name: 'chunk extension flood', wire: `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;${'x'.repeat(5000)}`, code: 'HPE_CHUNK_EXTENSIONS_OVERFLOW' },
  { name: 'head larger than the limit', wire: `HTTP/1.1 200 OK\r\nx-big: ${'y'.repeat(2000)}\r\n\r\n`, code: 'HPE_HEADER_OVERFLOW' },
  { name: 'bytes after the response', wire: 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nxEXTRA', code: 'HPE_CLOSED_CONNECTION' },
  { name: '101 nobody asked for', wire: 'HTTP/1.1 101 Switching Protocols\r\n\r\n', code: 'HPE_INVALID_STATUS' },
];

for (const c of BAD) {
  for (const step of [0, 3]) {
    test(`refuses: ${c.name} (step ${step})`, () => {
      assert.throws(
        () => parse(c.wire, { step }),
        (e: unknown) => e instanceof ParseError && e.code === c.code,
      );
    });
  }
}

test('data with no request outstanding is an error', () => {
  const p = new ResponseParser({ onHead() {}, onBody() {}, onEnd() {} }, 1024);
  assert.throws(() => p.execute(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')), (e: unknown) => e instanceof ParseError);
});

test('the parser can be re-armed for the next response on the same connection', () => {
  const bodies: string[] = [];
  const p = new ResponseParser({ onHead() {}, onBody: (c) => bodies.push(c.toString()), onEnd() {} }, 1024);
  p.expect(false);
  p.execute(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na'));
  assert.equal(p.busy, false);
  p.expect(false);
  p.execute(Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb'));
  assert.deepEqual(bodies, ['a', 'b']);
});
