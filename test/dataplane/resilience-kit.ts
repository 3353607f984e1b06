/**
 * Helpers for the resilience tests (timeouts, retries, circuit breakers, outlier detection,
 * fault injection): upstreams that fail on cue, a port that never completes a TCP handshake,
 * an HTTP/2 upstream, concurrent request bursts with timings, and YAML builders.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Worker } from 'node:worker_threads';
import { startUpstream, type Reply, type SeenRequest, type Upstream } from '../support/mesh.js';

export const sidecar = { role: 'sidecar' as const, namespace: 'default', labels: { app: 'client' } };

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What a scripted upstream does with one request. */
export type Script = (req: SeenRequest, res: http.ServerResponse, n: number) => void;

/** An upstream whose answer is decided per request (`n` counts from 1). */
export async function scripted(name: string, script: Script): Promise<Upstream & { script: Script }> {
  const u = (await startUpstream(name)) as Upstream & { script: Script };
  u.script = script;
  let n = 0;
  u.respond = (r, res) => u.script(r, res, ++n);
  return u;
}

/** Answer `status` (with an optional delay and headers). */
export function answer(res: http.ServerResponse, status: number, body = '', delayMs = 0, headers: Record<string, string> = {}): void {
  const send = (): void => {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'text/plain', ...headers });
    res.end(body);
  };
  // Unref'd: a test that no longer waits for this answer must not wait for the timer either.
  if (delayMs > 0) setTimeout(send, delayMs).unref();
  else send();
}

/** A request with its wall time (ms). */
export async function timed(p: Promise<Reply>): Promise<Reply & { ms: number }> {
  const t0 = performance.now();
  const r = await p;
  return { ...r, ms: performance.now() - t0 };
}

/** HTTP/1.1 request on a fresh connection (concurrent bursts must not share a socket). */
export function fresh(port: number, host: string, path = '/', headers: Record<string, string> = {}, opts: { method?: string; body?: string | Buffer } = {}): Promise<Reply & { ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers: { host, ...headers }, agent: false, timeout: 15_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), ms: performance.now() - t0 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/**
 * A loopback port whose TCP handshakes never complete: a worker thread listens with a
 * backlog of 1 and never accepts (its event loop is blocked), two connections fill the
 * accept queue, and the kernel drops every later SYN. Connecting to it hangs until the
 * connect timeout, as to an unreachable host.
 */
export async function blackhole(): Promise<{ port: number; close(): Promise<void> }> {
  const flag = new SharedArrayBuffer(4);
  const w = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const net = require('node:net');
     const s = net.createServer(() => {});
     s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
       parentPort.postMessage(s.address().port);
       Atomics.wait(new Int32Array(workerData), 0, 0, 60000);
       s.close();
     });`,
    { eval: true, workerData: flag },
  );
  const port = await new Promise<number>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  const fillers: net.Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    await new Promise<void>((r) => s.once('connect', () => r()));
    fillers.push(s);
  }
  return {
    port,
    close: async () => {
      const a = new Int32Array(flag);
      Atomics.store(a, 0, 1);
      Atomics.notify(a, 0);
      for (const s of fillers) s.destroy();
      await w.terminate();
    },
  };
}

/** A loopback port nothing listens on (connection refused). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** An h2c upstream that records request headers and answers via `respond`. */
export interface H2Upstream {
  port: number;
  seen: http2.IncomingHttpHeaders[];
  respond: (h: http2.IncomingHttpHeaders, s: http2.ServerHttp2Stream) => void;
  close(): Promise<void>;
}

export async function startH2Upstream(): Promise<H2Upstream> {
  const u: H2Upstream = {
    port: 0,
    seen: [],
    respond: (_h, s) => s.respond({ ':status': 200 }, { endStream: true }),
    close: async () => undefined,
  };
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
    s.on('error', () => undefined);
  });
  server.on('stream', (s, h) => {
    s.on('error', () => undefined);
    u.seen.push(h);
    u.respond(h, s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  u.port = (server.address() as AddressInfo).port;
  u.close = () =>
    new Promise<void>((r) => {
      for (const s of sessions) s.destroy();
      server.close(() => r());
    });
  return u;
}

/** One h2c request through the proxy; resolves with status, headers (and trailers) and body. */
export function h2Request(port: number, headers: http2.OutgoingHttpHeaders): Promise<{ status: number; headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; body: string; ms: number }> {
  const t0 = performance.now();
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  return new Promise((resolve, reject) => {
    const s = session.request(headers, { endStream: true });
    let status = 0;
    let hdrs: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    s.on('response', (h) => {
      status = Number(h[':status']);
      hdrs = h;
    });
    s.on('trailers', (t) => (trailers = t));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      resolve({ status, headers: hdrs, trailers, body: Buffer.concat(chunks).toString(), ms: performance.now() - t0 });
      session.close();
    });
    s.on('error', (e) => {
      session.close();
      reject(e);
    });
  });
}

/** A ServiceEntry (STATIC, loopback endpoints) with optional localities. */
export function service(name: string, endpoints: Array<{ port: number; labels?: Record<string, string>; locality?: string }>, protocol = 'HTTP', port = 80): string {
  const eps = endpoints
    .map((e) => {
      const labels = Object.entries({ app: name, ...(e.labels ?? {}) }).map(([k, v]) => `${k}: ${v}`).join(', ');
      return `  - {address: 127.0.0.1, ports: {http: ${e.port}}, labels: {${labels}}${e.locality ? `, locality: ${e.locality}` : ''}}`;
    })
    .join('\n');
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: http, protocol: ${protocol}}]
  endpoints:
${eps}
---
`;
}

/** A VirtualService with one catch-all rule whose body (indented by 4) is `rule`. */
export function vs(host: string, rule: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${host}}
spec:
  hosts: [${host}]
  http:
  - route: [{destination: {host: ${host}}}]
${rule
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `    ${l}`)
  .join('\n')}
---
`;
}

/** A DestinationRule with `trafficPolicy` (indented by 4). */
export function dr(host: string, trafficPolicy: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${host}}
spec:
  host: ${host}
  trafficPolicy:
${trafficPolicy
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => `    ${l}`)
  .join('\n')}
---
`;
}

/** Cluster name of a service's default subset on port 80. */
export const clusterOf = (svc: string, port = 80): string => `outbound|${port}||${svc}.default.svc.cluster.local`;

/**
 * A one-shot latch for upstreams that must hold their answers until the test says so
 * (condition-based instead of "slow enough" delays, which a busy machine breaks). `wait`
 * resolves on `open()`, or after `maxMs` anyway, so a test whose condition never comes
 * fails on its assertions instead of hanging; `openedBy` tells which of the two happened.
 */
export function latch(maxMs: number): { wait: Promise<void>; open(): void; readonly openedBy: 'test' | 'timeout' | null } {
  let release: () => void = () => undefined;
  let openedBy: 'test' | 'timeout' | null = null;
  const wait = new Promise<void>((r) => (release = r));
  const timer = setTimeout(() => {
    if (openedBy === null) openedBy = 'timeout';
    release();
  }, maxMs);
  // The fallback must not keep the process alive once the test is done with the latch.
  timer.unref();
  return {
    wait,
    open() {
      if (openedBy === null) openedBy = 'test';
      clearTimeout(timer);
      release();
    },
    get openedBy() {
      return openedBy;
    },
  };
}
