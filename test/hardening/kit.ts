/**
 * Test kit for the hostile-client hardening tests (framing, limits, HTTP/2 abuse, headers
 * and paths, regex, admin): an in-process proxy runtime (`isthmus run`, admin endpoint
 * included) in front of a recording upstream, a crash detector, raw TCP and raw HTTP/2
 * clients (a tiny frame builder and HPACK literal encoder), and the checks every test ends
 * with: no uncaught exception, `/ready` 200, the next 100 normal requests succeed, and the
 * upstream saw nothing it should not have.
 *
 * Everything listens on 127.0.0.1, port 0; every wait is bounded.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { adminGet, configDir, parseProm, promSum, startRuntime, waitFor, withTimeout, type ConfigDir, type RuntimeHandle } from '../support/harness.js';
import type { RunOptions } from '../../src/runtime/proxy-runtime.js';

export { adminGet, waitFor, withTimeout };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------- crash detector

/** Uncaught exceptions and unhandled rejections recorded since `installCrashDetector()`. */
export interface CrashDetector {
  errors: unknown[];
  /** Fails when anything was recorded. */
  assertNone(): void;
  dispose(): void;
}

/**
 * Listens for `uncaughtException` and `unhandledRejection` on this process (the proxy runs
 * in it): a proxy bug that throws from an event handler is recorded and fails the test's
 * checks instead of passing unnoticed (or taking every other test down with it).
 */
export function installCrashDetector(): CrashDetector {
  const errors: unknown[] = [];
  const record = (e: unknown): void => void errors.push(e);
  process.on('uncaughtException', record);
  process.on('unhandledRejection', record);
  return {
    errors,
    assertNone() {
      if (errors.length) {
        throw new Error(`uncaught error(s) in the proxy process:\n${errors.map((e) => (e instanceof Error ? e.stack ?? e.message : String(e))).join('\n')}`);
      }
    },
    dispose() {
      process.off('uncaughtException', record);
      process.off('unhandledRejection', record);
    },
  };
}

// ------------------------------------------------------------------------------ upstream

/** One request as it reached the upstream (recorded when its headers arrive). */
export interface Arrival {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  /** The whole request (body included) arrived. */
  complete: boolean;
}

/** An HTTP/1.1 upstream that records every connection and request head as it arrives. */
export interface RecordingUpstream {
  port: number;
  arrivals: Arrival[];
  connections: number;
  /** Answers a request; the default replies `web <url>` after reading the body. */
  respond: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  close(): Promise<void>;
}

export async function recordingUpstream(): Promise<RecordingUpstream> {
  const u: RecordingUpstream = {
    port: 0,
    arrivals: [],
    connections: 0,
    respond: (req, res) => {
      req.resume();
      req.on('end', () => res.end(`web ${req.url}`));
    },
    close: async () => undefined,
  };
  // Large header blocks must reach it (the proxy's limits are under test, not Node's 16 KiB).
  const server = http.createServer({ maxHeaderSize: 256 * 1024 }, (req, res) => {
    const a: Arrival = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, complete: false };
    u.arrivals.push(a);
    req.on('end', () => (a.complete = true));
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    u.respond(req, res);
  });
  server.on('connection', () => u.connections++);
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  u.port = (server.address() as AddressInfo).port;
  u.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return u;
}

// ------------------------------------------------------------------------------- fixture

/** ServiceEntry `web.default.svc.cluster.local:80` backed by the upstream. */
export function webService(port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web}
spec:
  hosts: [web.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - {address: 127.0.0.1, ports: {http: ${port}}}
---
`;
}

/** The Gateway port the gateway fixtures listen on (plus a random offset). */
export const GATEWAY_PORT = 8080;
/** The host normal requests use: `web` on the sidecar, `web.example.com` on the gateway. */
export function normalHost(role: 'sidecar' | 'gateway'): string {
  return role === 'gateway' ? 'web.example.com' : 'web';
}

/** A Gateway on GATEWAY_PORT for `*.example.com` and a VirtualService sending it to `web`. */
export function gatewayConfig(vsHttp = '  - route: [{destination: {host: web.default.svc.cluster.local}}]\n'): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: ${GATEWAY_PORT}, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web-gw}
spec:
  hosts: [web.example.com]
  gateways: [gw]
  http:
${vsHttp}---
`;
}

export interface Fixture {
  role: 'sidecar' | 'gateway';
  h: RuntimeHandle;
  cfg: ConfigDir;
  up: RecordingUpstream;
  crash: CrashDetector;
  /** The proxy listener port normal requests go to. */
  port: number;
  close(): Promise<void>;
}

export interface FixtureOptions {
  role?: 'sidecar' | 'gateway';
  /** Extra config after the `web` ServiceEntry (and, for a gateway, its Gateway + VS). */
  yaml?: string;
  /** Gateway VS `http:` rules (replacing the catch-all route to web). */
  gatewayHttp?: string;
  run?: Partial<RunOptions>;
}

/** A proxy runtime (admin included) in front of a recording upstream, with a crash detector. */
export async function startFixture(o: FixtureOptions = {}): Promise<Fixture> {
  const role = o.role ?? 'sidecar';
  const crash = installCrashDetector();
  const up = await recordingUpstream();
  const cfg = configDir('isthmus-hardening-');
  cfg.write('config.yaml', webService(up.port) + (role === 'gateway' ? gatewayConfig(o.gatewayHttp) : '') + (o.yaml ?? ''));
  const base: Partial<RunOptions> = role === 'gateway' ? { role, labels: { istio: 'ingressgateway' } } : {};
  let h: RuntimeHandle | null = null;
  let lastError: unknown = null;
  // Gateway ports are fixed: shift them into a random free range, retrying on a clash.
  for (let attempt = 0; attempt < 6 && h === null; attempt++) {
    const portOffset = role === 'gateway' ? 20_000 + Math.floor(Math.random() * 30_000) : 0;
    try {
      h = await startRuntime([cfg.dir], { accessLog: true, logFormat: 'json', ...base, portOffset, ...o.run });
    } catch (e) {
      lastError = e;
      if (role !== 'gateway' || !/already in use/.test((e as Error).message)) break;
    }
  }
  if (h === null) {
    crash.dispose();
    cfg.cleanup();
    await up.close();
    throw lastError;
  }
  const handle = h;
  return {
    role,
    h: handle,
    cfg,
    up,
    crash,
    port: role === 'gateway' ? handle.ports.find((p) => p.configPort === GATEWAY_PORT)?.port ?? handle.port : handle.port,
    close: async () => {
      await handle.close();
      await up.close();
      cfg.cleanup();
      crash.dispose();
    },
  };
}

/** The `web` cluster's name in the fixtures' config. */
const WEB_CLUSTER = 'outbound|80||web.default.svc.cluster.local';

/**
 * Waits (bounded) until the proxy has no request in flight and the upstream has seen
 * everything the proxy sent it, so late upstream arrivals are counted by the test that
 * caused them, not by the next one. The proxy is done with a request as soon as its
 * downstream goes away, but bytes it already wrote still reach the upstream (in this
 * process) later: on a busy machine the upstream accepts the proxy's connections from the
 * backlog and parses their requests seconds afterwards. So also wait until the upstream has
 * accepted every connection the proxy opened to it and no new request has arrived for a
 * moment. Those two waits are best effort (a connection the kernel dropped is never
 * accepted): a test then asserts on what arrived.
 */
export async function settle(fx: Fixture, timeoutMs = 3000): Promise<void> {
  const handler = fx.h.rt.proxy?.handler;
  if (!handler) return;
  await waitFor('the proxy to finish its requests', () => handler.active === 0, timeoutMs, 10);
  const opened = async (): Promise<number> =>
    promSum(parseProm((await adminGet(fx.h.adminPort, '/stats/prometheus')).body), 'envoy_cluster_upstream_cx_total', { cluster_name: WEB_CLUSTER });
  await waitFor('the upstream to accept every connection the proxy opened', async () => fx.up.connections >= (await opened()), 10_000, 20).catch(() => undefined);
  let last = -1;
  await waitFor('upstream arrivals to stop', () => {
    const n = fx.up.arrivals.length;
    const quiet = n === last;
    last = n;
    return quiet;
  }, 10_000, 50).catch(() => undefined);
}

/** A plain request on a fresh connection; never rejects (status 0 and `error` on failure). */
export function send(
  port: number,
  host: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string | string[]>; body?: string | Buffer; timeoutMs?: number } = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; error: string | null }> {
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host, ...opts.headers }, agent: false, timeout: opts.timeoutMs ?? 5000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), error: null }));
        res.on('error', (e) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: '', error: e.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', (e) => resolve({ status: 0, headers: {}, body: '', error: e.message }));
    req.end(opts.body);
  });
}

/**
 * The checks every hardening test ends with: no uncaught exception, `/ready` 200, and the
 * next 100 normal requests (fresh connections, 10 at a time) all answered 200 by the
 * upstream, which saw exactly those 100 and nothing else.
 */
export async function assertHealthy(fx: Fixture): Promise<void> {
  fx.crash.assertNone();
  const ready = await adminGet(fx.h.adminPort, '/ready');
  assert.equal(ready.status, 200, `/ready: ${ready.status} ${ready.body}`);
  const before = fx.up.arrivals.length;
  const host = normalHost(fx.role);
  let next = 0;
  const failures: string[] = [];
  await withTimeout(
    Promise.all(
      Array.from({ length: 10 }, async () => {
        while (next < 100) {
          const i = next++;
          const r = await send(fx.port, host, `/normal-${i}`);
          if (r.status !== 200 || r.body !== `web /normal-${i}`) failures.push(`#${i}: ${r.status} ${r.error ?? ''} ${r.body.slice(0, 80)}`);
        }
      }),
    ),
    20_000,
    '100 normal requests',
  );
  assert.deepEqual(failures, [], `${failures.length} of the 100 normal requests failed`);
  const seen = fx.up.arrivals.slice(before).map((a) => a.url);
  assert.equal(seen.length, 100, `the upstream saw ${seen.length} requests, not the 100 normal ones: ${seen.filter((u) => !u.startsWith('/normal-')).join(' ')}`);
  assert.ok(seen.every((u) => u.startsWith('/normal-')), `unexpected upstream requests: ${seen.filter((u) => !u.startsWith('/normal-')).join(' ')}`);
  fx.crash.assertNone();
}

/** One large upstream response and how far its writer got. */
export interface PumpStats {
  written: number;
  /** performance.now() when write() last returned false without a 'drain' since; 0 when flowing. */
  stalledSince: number;
  closed: boolean;
}

/**
 * Makes the fixture's upstream answer `path` with `total` bytes written as fast as the
 * proxy takes them (honouring write() / 'drain'); returns the live stats of each response
 * and a function restoring the previous responder.
 */
export function pumpResponses(fx: Fixture, path: string, total: number): { streams: PumpStats[]; restore(): void } {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const streams: PumpStats[] = [];
  const prev = fx.up.respond;
  fx.up.respond = (req, res) => {
    if (req.url !== path) return prev(req, res);
    const st: PumpStats = { written: 0, stalledSince: 0, closed: false };
    streams.push(st);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
    res.on('close', () => (st.closed = true));
    const pump = (): void => {
      while (st.written < total && !st.closed) {
        st.written += chunk.length;
        if (!res.write(chunk)) {
          st.stalledSince = performance.now();
          res.once('drain', () => {
            st.stalledSince = 0;
            pump();
          });
          return;
        }
      }
      if (st.written >= total) res.end();
    };
    pump();
  };
  return { streams, restore: () => (fx.up.respond = prev) };
}

/** Every response in `streams` has been stalled for at least `ms`. */
export function allStalled(streams: readonly PumpStats[], n: number, ms: number): boolean {
  return streams.length === n && streams.every((s) => s.stalledSince > 0 && performance.now() - s.stalledSince > ms);
}

// ---------------------------------------------------------------------------- raw TCP

/** What a raw exchange got back. */
export interface RawResult {
  /** Everything the proxy sent (latin1). */
  data: string;
  /** Status of the first response line, or 0. */
  status: number;
  /** The proxy closed the connection (FIN or reset) within the wait. */
  closed: boolean;
  ms: number;
}

/**
 * Writes `chunks` on a new connection (with `gapMs` between them) and collects the answer
 * until the proxy closes the connection or `timeoutMs` passes.
 */
export function rawExchange(port: number, chunks: Array<string | Buffer>, opts: { timeoutMs?: number; gapMs?: number } = {}): Promise<RawResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      const data = Buffer.concat(got).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(data);
      resolve({ data, status: m ? Number(m[1]) : 0, closed, ms: performance.now() - t0 });
    };
    const timer = setTimeout(() => finish(false), opts.timeoutMs ?? 3000);
    s.on('data', (c: Buffer) => got.push(c));
    s.on('error', () => finish(true));
    s.on('close', () => finish(true));
    s.on('end', () => finish(true));
    const writeAll = async (): Promise<void> => {
      for (let i = 0; i < chunks.length && !done; i++) {
        if (i > 0 && opts.gapMs) await sleep(opts.gapMs);
        if (!done && s.writable) s.write(chunks[i]);
      }
    };
    s.on('connect', () => void writeAll());
  });
}

// ------------------------------------------------------------------------- raw HTTP/2

export const H2 = {
  DATA: 0,
  HEADERS: 1,
  PRIORITY: 2,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
  END_STREAM: 0x1,
  ACK: 0x1,
  END_HEADERS: 0x4,
} as const;

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/** One HTTP/2 frame: 9-byte header (length, type, flags, stream id) + payload. */
export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream & 0x7fffffff, 5);
  return Buffer.concat([h, payload]);
}

/** HPACK integer with an N-bit prefix (RFC 7541 §5.1); `first` holds the bits above the prefix. */
function hpackInt(n: number, prefixBits: number, first: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (n < max) return [first | n];
  const out = [first | max];
  n -= max;
  while (n >= 128) {
    out.push((n % 128) + 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** A header block of "literal without indexing, new name" fields, no Huffman (RFC 7541 §6.2.2). */
export function hpack(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of headers) {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    parts.push(Buffer.from([0x00]), Buffer.from(hpackInt(n.length, 7, 0)), n, Buffer.from(hpackInt(v.length, 7, 0)), v);
  }
  return Buffer.concat(parts);
}

/** The pseudo headers of a GET on `authority`. */
export function getHeaders(authority: string, path: string): Array<[string, string]> {
  return [[':method', 'GET'], [':scheme', 'http'], [':path', path], [':authority', authority]];
}

/** A SETTINGS frame (`[id, value]` pairs). */
export function settings(entries: ReadonlyArray<readonly [number, number]> = []): Buffer {
  const p = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, v], i) => {
    p.writeUInt16BE(id, i * 6);
    p.writeUInt32BE(v, i * 6 + 2);
  });
  return frame(H2.SETTINGS, 0, 0, p);
}

export function rstStream(stream: number, code = 8 /* CANCEL */): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(code);
  return frame(H2.RST_STREAM, 0, stream, p);
}

/** A frame the proxy sent. */
export interface InFrame {
  type: number;
  flags: number;
  stream: number;
  payload: Buffer;
}

/** A raw HTTP/2 connection: frames written as given, frames read parsed. */
export interface RawH2 {
  socket: net.Socket;
  frames: InFrame[];
  closed: boolean;
  /** Resolves when the connection is closed. */
  whenClosed: Promise<void>;
  write(b: Buffer): boolean;
  /** Resolves when a received frame satisfies `pred` (or throws after `ms`). */
  waitFrame(pred: (f: InFrame) => boolean, ms: number, what: string): Promise<InFrame>;
  /** The GOAWAY frame's error code, if one came. */
  goaway(): number | null;
  destroy(): void;
}

/** Connects, sends the client preface and an empty SETTINGS (never ACKs the server's). */
export async function rawH2(port: number): Promise<RawH2> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  await withTimeout(new Promise<void>((r) => socket.once('connect', () => r())), 3000, 'h2 connect');
  let buf: Buffer = Buffer.alloc(0);
  let resolveClosed: () => void = () => undefined;
  const c: RawH2 = {
    socket,
    frames: [],
    closed: false,
    whenClosed: new Promise<void>((r) => (resolveClosed = r)),
    write: (b) => (socket.writable ? socket.write(b) : false),
    waitFrame: (pred, ms, what) => waitFor(what, () => c.frames.find(pred) ?? null, ms, 10),
    goaway: () => {
      const g = c.frames.find((f) => f.type === H2.GOAWAY);
      return g ? g.payload.readUInt32BE(4) : null;
    },
    destroy: () => socket.destroy(),
  };
  socket.on('data', (d: Buffer) => {
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    while (buf.length >= 9) {
      const len = buf.readUIntBE(0, 3);
      if (buf.length < 9 + len) break;
      c.frames.push({ type: buf[3], flags: buf[4], stream: buf.readUInt32BE(5) & 0x7fffffff, payload: buf.subarray(9, 9 + len) });
      buf = buf.subarray(9 + len);
    }
  });
  socket.on('close', () => {
    c.closed = true;
    resolveClosed();
  });
  c.write(Buffer.concat([H2_PREFACE, settings()]));
  return c;
}

/** Writes `bufs` in order, waiting for 'drain' when the socket asks (bounded). */
export async function writeAll(c: RawH2, bufs: Iterable<Buffer>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const b of bufs) {
    if (c.closed || c.socket.destroyed) return;
    if (!c.write(b)) {
      await Promise.race([new Promise<void>((r) => c.socket.once('drain', () => r())), c.whenClosed, sleep(Math.max(0, deadline - Date.now()))]);
      if (Date.now() > deadline) return;
    }
  }
}

/**
 * Bytes held in ArrayBuffers plus external memory (the `arrayBuffers + external` of
 * process.memoryUsage()) once garbage is really gone. V8 frees the memory of dead
 * ArrayBuffers on a background thread after a GC, so a reading taken right after `gc()`
 * still counts buffers that are already garbage, the more so on a busy machine where that
 * thread runs late (a 256 MiB pump through the proxy leaves a lot of it). Garbage can only
 * add to a reading and live buffers are in every one, so the lowest of a few readings (GC,
 * short pause, read) is what is retained.
 */
export async function retainedBufferBytes(gc: () => void, samples = 3): Promise<number> {
  let lowest = Infinity;
  for (let i = 0; i < samples; i++) {
    gc();
    await sleep(20);
    const m = process.memoryUsage();
    lowest = Math.min(lowest, m.arrayBuffers + m.external);
  }
  return lowest;
}
