/**
 * Integration-test kit: real upstream servers on 127.0.0.1 (port 0), config compiled from
 * YAML with their ports, an in-process Proxy, and a small HTTP client. Everything started
 * here is closed by `close()`.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { loadText } from '../../src/api/load.js';
import { validateResources } from '../../src/validate/index.js';
import { buildRegistry } from '../../src/registry/build.js';
import { compileSnapshot } from '../../src/compile/index.js';
import type { ProxyIdentity, Snapshot } from '../../src/snapshot/types.js';
import { Proxy } from '../../src/dataplane/proxy.js';
import type { StreamInfo } from '../../src/dataplane/http/stream-info.js';

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Client port of the connection it came on (tells pooled connections apart). */
  remotePort?: number;
}

export interface Upstream {
  name: string;
  port: number;
  seen: SeenRequest[];
  /** Override the response per request. */
  respond: (req: SeenRequest, res: http.ServerResponse) => void;
  close(): Promise<void>;
}

/** An HTTP/1.1 upstream that answers `<name> <url>` and records what it saw. */
export async function startUpstream(name: string): Promise<Upstream> {
  const u: Upstream = {
    name,
    port: 0,
    seen: [],
    respond: (r, res) => {
      res.setHeader('x-upstream', name);
      res.end(`${name} ${r.url}`);
    },
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString(), remotePort: req.socket.remotePort };
      u.seen.push(seen);
      u.respond(seen, res);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  u.port = (server.address() as AddressInfo).port;
  u.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      server.closeAllConnections();
    });
  return u;
}

export function compile(yaml: string, proxy: ProxyIdentity): Snapshot {
  const l = loadText(yaml, 'test.yaml', { namespace: 'default' });
  const v = validateResources(l.resources);
  const errors = [...l.diagnostics, ...v.diagnostics].filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`test config invalid:\n${errors.map((d) => `${d.line}:${d.column} ${d.path} ${d.message}`).join('\n')}`);
  return compileSnapshot(v.config, buildRegistry(v.config, { domain: 'cluster.local' }), proxy);
}

export interface RunningProxy {
  port: number;
  proxy: Proxy;
  completed: StreamInfo[];
  /** Swap the snapshot (hot reload). */
  setSnapshot(s: Snapshot): void;
  close(): Promise<void>;
}

export async function startProxy(snap: Snapshot, opts: { rnd?: () => number; portOffset?: number; credentialsDir?: string } = {}): Promise<RunningProxy> {
  let current = snap;
  const completed: StreamInfo[] = [];
  const proxy = new Proxy({
    role: snap.proxy.role,
    outboundPort: 0,
    portOffset: opts.portOffset ?? 0,
    bindAddress: '127.0.0.1',
    credentialsDir: opts.credentialsDir ?? null,
    snapshot: () => current,
    onComplete: (i) => completed.push(i),
    log: () => undefined,
    rnd: opts.rnd,
  });
  let bound;
  try {
    bound = await proxy.start();
  } catch (e) {
    // start() rejects on the first busy port but keeps the listeners it bound before it;
    // the caller never gets this proxy (and may retry on other ports), so close them here,
    // or their servers keep the test process alive after every test has passed.
    await proxy.close();
    throw e;
  }
  return {
    port: bound[0]?.port ?? 0,
    proxy,
    completed,
    setSnapshot: (s) => {
      current = s;
      void proxy.reconcile(s);
    },
    close: () => proxy.close(),
  };
}

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** HTTP/1.1 request through the proxy. `target` may be a path or an absolute URL (forward-proxy form). */
export function request(
  port: number,
  host: string,
  target = '/',
  opts: { method?: string; headers?: Record<string, string>; body?: string; keepAlive?: boolean } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'GET',
        path: target,
        headers: { host, ...(opts.headers ?? {}) },
        agent: opts.keepAlive === false ? false : agent,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** HTTP/2 prior-knowledge (h2c) request through the proxy. */
export async function requestH2(port: number, authority: string, path = '/', headers: Record<string, string> = {}): Promise<Reply> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  try {
    return await new Promise<Reply>((resolve, reject) => {
      const s = session.request({ ':path': path, ':authority': authority, ...headers });
      const chunks: Buffer[] = [];
      let status = 0;
      let hdrs: http.IncomingHttpHeaders = {};
      s.on('response', (h) => {
        status = Number(h[':status']);
        hdrs = h as http.IncomingHttpHeaders;
      });
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => resolve({ status, headers: hdrs, body: Buffer.concat(chunks).toString() }));
      s.on('error', reject);
      s.end();
    });
  } finally {
    session.close();
  }
}

/** A seeded PRNG (mulberry32) for deterministic splits. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** ServiceEntry YAML for a service backed by the given upstreams (labels and optional weight per endpoint). */
export function serviceEntry(
  name: string,
  ns: string,
  port: number,
  endpoints: Array<{ port: number; labels: Record<string, string>; weight?: number }>,
  protocol = 'HTTP',
): string {
  const eps = endpoints
    .map(
      (e) =>
        `  - address: 127.0.0.1\n    ports: {http: ${e.port}}\n    labels: {${Object.entries(e.labels).map(([k, v]) => `${k}: ${v}`).join(', ')}}` +
        (e.weight !== undefined ? `\n    weight: ${e.weight}` : ''),
    )
    .join('\n');
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: http, protocol: ${protocol}}]
  endpoints:
${eps}
---
`;
}
