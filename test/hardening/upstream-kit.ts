/**
 * Hostile upstreams for the hardening tests (Envoy's FakeUpstream, reduced to what these
 * tests need): a raw TCP upstream scripted byte by byte, a scripted HTTP/2 upstream, a
 * request that reports a cut-short response as an error instead of a short success, and the
 * access-log reader. The proxy fixture and the after-test checks are kit.ts's.
 *
 * Everything listens on 127.0.0.1, port 0; every wait is bounded.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { H2, frame, hpack, settings, waitFor, withTimeout, type Fixture } from './kit.js';

/** One connection accepted by a {@link RawUpstream}. */
export interface RawConnection {
  socket: net.Socket;
  /** Everything received so far. */
  received: Buffer;
  /** True once the proxy closed its side (FIN or RST) or the socket closed. */
  closed: boolean;
  /** Resolves when `closed` turns true. */
  whenClosed: Promise<void>;
}

/**
 * What a raw upstream does once a request head (up to CRLFCRLF) has arrived on a connection.
 * `n` counts request heads across all connections, from 1.
 */
export type RawScript = (c: RawConnection, head: string, n: number) => void;

/** A TCP server that answers HTTP/1.1 requests with whatever bytes the test scripts. */
export interface RawUpstream {
  port: number;
  /** Every connection ever accepted, in order. */
  connections: RawConnection[];
  /** Request heads received (one per request). */
  heads: string[];
  script: RawScript;
  /** Connections the proxy has not closed yet. */
  open(): number;
  close(): Promise<void>;
}

/**
 * A raw upstream running `script`. The socket allows half-open, so a script's `end()` is a
 * real half-close, and the proxy's FIN is seen as its close of the connection.
 */
export async function rawUpstream(script: RawScript): Promise<RawUpstream> {
  const u: RawUpstream = {
    port: 0,
    connections: [],
    heads: [],
    script,
    open: () => u.connections.filter((c) => !c.closed).length,
    close: async () => undefined,
  };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    let resolveClosed: () => void = () => undefined;
    const c: RawConnection = { socket, received: Buffer.alloc(0), closed: false, whenClosed: new Promise<void>((r) => (resolveClosed = r)) };
    u.connections.push(c);
    const closed = (): void => {
      c.closed = true;
      resolveClosed();
    };
    socket.on('error', () => undefined);
    socket.on('end', () => {
      closed();
      socket.end();
    });
    socket.on('close', closed);
    let scanned = 0;
    socket.on('data', (chunk: Buffer) => {
      c.received = Buffer.concat([c.received, chunk]);
      // The requests of these tests are bodiless, so a head ends each one.
      for (;;) {
        const end = c.received.indexOf('\r\n\r\n', scanned);
        if (end < 0) break;
        const head = c.received.subarray(scanned, end).toString('latin1');
        scanned = end + 4;
        u.heads.push(head);
        u.script(c, head, u.heads.length);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  u.port = (server.address() as AddressInfo).port;
  u.close = () =>
    new Promise<void>((r) => {
      for (const c of u.connections) c.socket.destroy();
      server.close(() => r());
    });
  return u;
}

/** Writes a complete, valid HTTP/1.1 response (`Content-Length` framed). */
export function okResponse(c: RawConnection, body = 'ok'): void {
  c.socket.write(`HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/**
 * Streams a chunked body for as long as the connection lives, honouring `write()`'s
 * backpressure; returns a counter of the body bytes written.
 */
export function endlessBody(c: RawConnection): { written: number } {
  const st = { written: 0 };
  const chunk = Buffer.alloc(64 * 1024, 0x78);
  const size = `${chunk.length.toString(16)}\r\n`;
  c.socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ntransfer-encoding: chunked\r\n\r\n');
  const pump = (): void => {
    while (!c.closed && !c.socket.destroyed) {
      st.written += chunk.length;
      c.socket.write(size);
      c.socket.write(chunk);
      if (!c.socket.write('\r\n')) {
        c.socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
  return st;
}

/** A scripted HTTP/2 (h2c) upstream that counts sessions and streams. */
export interface H2Hostile {
  port: number;
  /** Streams received, in order. */
  streams: number;
  sessions: number;
  openSessions(): number;
  script: (s: http2.ServerHttp2Stream, n: number) => void;
  close(): Promise<void>;
}

export async function h2Upstream(script: H2Hostile['script']): Promise<H2Hostile> {
  const live = new Set<http2.ServerHttp2Session>();
  const u: H2Hostile = { port: 0, streams: 0, sessions: 0, openSessions: () => live.size, script, close: async () => undefined };
  const server = http2.createServer();
  server.on('session', (s) => {
    u.sessions++;
    live.add(s);
    s.on('close', () => live.delete(s));
    s.on('error', () => undefined);
  });
  server.on('stream', (s) => {
    s.on('error', () => undefined);
    u.script(s, ++u.streams);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  u.port = (server.address() as AddressInfo).port;
  u.close = () =>
    new Promise<void>((r) => {
      for (const s of live) s.destroy();
      server.close(() => r());
    });
  return u;
}

/**
 * A frame-level HTTP/2 upstream for what node:http2 servers cannot be made to do (a
 * RST_STREAM after DATA without END_STREAM: `stream.close()` ends the stream first). It
 * answers the preface with SETTINGS, acknowledges the client's, and hands each request's
 * stream id to `onRequest` with a writer for raw frames.
 */
export interface RawH2Upstream {
  port: number;
  requests: number;
  close(): Promise<void>;
}

export async function rawH2Upstream(onRequest: (write: (b: Buffer) => void, streamId: number) => void): Promise<RawH2Upstream> {
  const sockets = new Set<net.Socket>();
  const u: RawH2Upstream = { port: 0, requests: 0, close: async () => undefined };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    const write = (b: Buffer): void => void (socket.writable && socket.write(b));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!prefaceSeen) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        prefaceSeen = true;
        write(settings());
      }
      while (buf.length >= 9) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < 9 + len) break;
        const type = buf[3];
        const flags = buf[4];
        const stream = buf.readUInt32BE(5) & 0x7fffffff;
        buf = buf.subarray(9 + len);
        if (type === H2.SETTINGS && (flags & H2.ACK) === 0) write(frame(H2.SETTINGS, H2.ACK, 0));
        else if (type === H2.HEADERS) {
          u.requests++;
          onRequest(write, stream);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  u.port = (server.address() as AddressInfo).port;
  u.close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return u;
}

/** A response HEADERS frame (`:status` and fields as HPACK literals, END_HEADERS set). */
export function h2ResponseHeaders(streamId: number, status: number, endStream = false, fields: ReadonlyArray<readonly [string, string]> = []): Buffer {
  return frame(H2.HEADERS, H2.END_HEADERS | (endStream ? H2.END_STREAM : 0), streamId, hpack([[':status', String(status)], ...fields]));
}

/** A STATIC ServiceEntry `<name>.default.svc.cluster.local:80` with one loopback endpoint. */
export function serviceYaml(name: string, port: number, protocol = 'HTTP'): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: ${protocol}}]
  endpoints:
  - {address: 127.0.0.1, ports: {http: ${port}}}
---
`;
}

/** One access-log line (JSON encoding): the fields these tests read. */
export interface AccessRecord {
  path: string;
  response_code: number;
  response_flags: string;
  response_code_details: string;
  upstream_transport_failure_reason: string | null;
}

/** Waits for the access-log line of the request to `path` (the log is flushed asynchronously). */
export function accessRecord(fx: Fixture, path: string, timeoutMs = 3000): Promise<AccessRecord> {
  return waitFor(
    `the access-log line for ${path}`,
    () => {
      for (const line of fx.h.access) {
        const r = JSON.parse(line) as AccessRecord;
        if (r.path === path) return r;
      }
      return null;
    },
    timeoutMs,
  );
}

/** What a client got: `error` is set when the response did not complete cleanly. */
export interface Outcome {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  trailers: Record<string, string | string[] | undefined>;
  error: string | null;
}

/**
 * A GET through the proxy on a fresh HTTP/1.1 connection that never rejects: a response
 * cut short resolves with `error` set (and what arrived), never like a complete one.
 */
export function get(port: number, host: string, path: string, timeoutMs = 10_000): Promise<Outcome> {
  return withTimeout(
    new Promise<Outcome>((resolve) => {
      let status = 0;
      let headers: http.IncomingHttpHeaders = {};
      let trailers: Outcome['trailers'] = {};
      const chunks: Buffer[] = [];
      let settled = false;
      const done = (error: string | null): void => {
        if (settled) return;
        settled = true;
        resolve({ status, headers, body: Buffer.concat(chunks), trailers, error });
      };
      const req = http.request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
        status = res.statusCode ?? 0;
        headers = res.headers;
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          trailers = res.trailers;
          done(res.complete ? null : 'incomplete response');
        });
        res.on('aborted', () => done('aborted'));
        res.on('error', (e) => done(e.message));
        res.on('close', () => done(res.complete ? null : 'closed before the end'));
      });
      req.on('error', (e) => done(e.message));
      req.end();
    }),
    timeoutMs,
    `GET ${path}`,
  );
}

/**
 * The same over HTTP/2 (h2c prior knowledge): a stream reset with an error code, or
 * closed without END_STREAM, resolves with `error` set.
 */
export function getH2(port: number, authority: string, path: string, timeoutMs = 10_000): Promise<Outcome> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  return withTimeout(
    new Promise<Outcome>((resolve) => {
      let status = 0;
      let headers: http.IncomingHttpHeaders = {};
      let trailers: Outcome['trailers'] = {};
      const chunks: Buffer[] = [];
      let ended = false;
      let settled = false;
      const done = (error: string | null): void => {
        if (settled) return;
        settled = true;
        session.close();
        resolve({ status, headers, body: Buffer.concat(chunks), trailers, error });
      };
      const s = session.request({ ':path': path, ':authority': authority }, { endStream: true });
      s.on('response', (h) => {
        status = Number(h[':status']);
        headers = h as http.IncomingHttpHeaders;
      });
      s.on('trailers', (t) => (trailers = t));
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => (ended = true));
      s.on('error', (e) => done(e.message));
      // Node ends the readable side on RST_STREAM too: only the reset code tells them apart.
      s.on('close', () => done(s.rstCode !== undefined && s.rstCode !== http2.constants.NGHTTP2_NO_ERROR ? `stream reset (code ${s.rstCode})` : ended ? null : 'closed before the end'));
    }),
    timeoutMs,
    `h2 GET ${path}`,
  ).catch((e: Error) => {
    session.destroy();
    throw e;
  });
}

/** Waits until `u` has no connection the proxy still holds open. */
export function waitNoOpenConnections(u: RawUpstream, what: string, timeoutMs = 2000): Promise<boolean> {
  return waitFor(`${what}: the proxy to close its upstream connections (${u.open()} open)`, () => u.open() === 0, timeoutMs);
}
