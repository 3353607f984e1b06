/**
 * Sidecar L4 through CONNECT tunnels: VirtualService `tcp` routes (80/20 split,
 * destinationSubnets, sourceLabels) and `tls` routes by the tunnelled ClientHello's SNI,
 * MESH_EXTERNAL TLS services told apart by SNI, the outbound policy for unknown SNIs, and
 * the ClientHello wait giving up for server-first protocols.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { compile, seeded, startProxy, type RunningProxy } from '../support/mesh.js';
import { hasOpenssl, makeCerts, type TestCerts } from '../support/certs.js';
import { ClusterManager } from '../../src/dataplane/cluster/manager.js';
import { handleConnect } from '../../src/dataplane/http/connect.js';
import type { StreamInfo } from '../../src/dataplane/http/stream-info.js';

const skipTls = hasOpenssl() ? false : 'openssl CLI not found';
const servers: net.Server[] = [];
/** Connections accepted per upstream name. */
const accepted: Record<string, number> = {};

async function listen(s: net.Server): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

function echo(name: string): Promise<number> {
  accepted[name] = 0;
  return listen(
    net.createServer((c) => {
      accepted[name]++;
      c.on('error', () => undefined);
      c.on('data', (d) => c.write(`${name} ${d.toString()}`));
    }),
  );
}

let certs: TestCerts;
function tlsUpstream(name: string): Promise<number> {
  accepted[name] = 0;
  const s = https.createServer({ key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) }, (_req, res) => res.end(name));
  s.on('connection', () => accepted[name]++);
  return listen(s);
}

after(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  certs?.cleanup();
});

/** Opens a CONNECT tunnel; resolves with the status and, on 200, the socket. */
function open(port: number, authority: string): Promise<{ status: number; socket: Duplex | null }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'CONNECT', path: authority, agent: false, timeout: 5000 });
    req.on('connect', (res, socket) => {
      socket.on('error', () => undefined);
      if (res.statusCode === 200) return resolve({ status: 200, socket });
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, socket: null });
    });
    req.on('response', (res) => resolve({ status: res.statusCode ?? 0, socket: null }));
    req.on('timeout', () => req.destroy(new Error('CONNECT timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** One line through a tunnel: the first reply, or '' when the tunnel is closed first. */
async function exchange(port: number, authority: string, line = 'hello'): Promise<string> {
  const t = await open(port, authority);
  assert.equal(t.status, 200, authority);
  const s = t.socket!;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply through ${authority}`)), 5000);
    s.once('data', (d: Buffer) => {
      clearTimeout(timer);
      s.destroy();
      resolve(d.toString());
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve('');
    });
    s.write(line);
  });
}

/** An HTTPS GET inside a tunnel with this SNI: the body, or null when the tunnel is closed. */
async function tlsThrough(port: number, authority: string, servername: string): Promise<string | null> {
  const t = await open(port, authority);
  assert.equal(t.status, 200, authority);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`TLS through ${authority} (${servername}) timed out`)), 5000);
    const s = tls.connect({ socket: t.socket as net.Socket, servername, ca: readFileSync(certs.ca) }, () => {
      s.write(`GET / HTTP/1.1\r\nhost: ${servername}\r\nconnection: close\r\n\r\n`);
    });
    let data = '';
    let secure = false;
    s.on('secureConnect', () => (secure = true));
    s.on('data', (d: Buffer) => (data += d.toString()));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(secure ? data.slice(data.indexOf('\r\n\r\n') + 4) : null);
    });
  });
}

/** The access-log entry matching `pred`, waited for (a tunnel is logged when it closes). */
async function logged(p: RunningProxy, pred: (i: StreamInfo) => boolean): Promise<StreamInfo | undefined> {
  const deadline = Date.now() + 3000;
  while (!p.completed.some(pred) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return p.completed.find(pred);
}

// ---------------------------------------------------------------------------------- TCP

const tcpPorts: Record<string, number> = {};
before(async () => {
  tcpPorts.v1 = await echo('v1');
  tcpPorts.v2 = await echo('v2');
});

function tcpConfig(): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db}
spec:
  hosts: [db.default.svc.cluster.local]
  addresses: [10.9.0.0/24]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  endpoints:
  - {address: 127.0.0.1, ports: {tcp: ${tcpPorts.v1}}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {tcp: ${tcpPorts.v2}}, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db}
spec:
  host: db
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db}
spec:
  hosts: [db]
  tcp:
  - match: [{sourceLabels: {app: batch}}]
    route: [{destination: {host: db, subset: v2}}]
  - match: [{destinationSubnets: [10.9.0.128/25]}]
    route: [{destination: {host: db, subset: v2}}]
  - route:
    - {destination: {host: db, subset: v1}, weight: 80}
    - {destination: {host: db, subset: v2}, weight: 20}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`;
}

test('sidecar TCP route: CONNECT tunnels split 80/20 between subsets, bytes piped both ways', async () => {
  const p = await startProxy(compile(tcpConfig(), { role: 'sidecar', namespace: 'default', labels: {} }), { rnd: seeded(7) });
  try {
    let v1 = 0;
    const n = 200;
    for (let i = 0; i < n; i += 20) {
      const replies = await Promise.all(Array.from({ length: 20 }, () => exchange(p.port, 'db:5432')));
      for (const r of replies) {
        assert.match(r, /^v[12] hello$/);
        if (r.startsWith('v1')) v1++;
      }
    }
    const pct = (100 * v1) / n;
    assert.ok(Math.abs(pct - 80) <= 8, `v1 got ${pct}%`);
    const log = await logged(p, (i) => i.method === 'CONNECT' && i.upstreamCluster.includes('|v1|'));
    assert.equal(log?.upstreamCluster, 'outbound|5432|v1|db.default.svc.cluster.local');
    assert.equal(log?.bytesReceived, 5);
  } finally {
    await p.close();
  }
});

test('sidecar TCP route: destinationSubnets match the dialled IP; sourceLabels match the proxy\'s own labels', async () => {
  const p = await startProxy(compile(tcpConfig(), { role: 'sidecar', namespace: 'default', labels: {} }), { rnd: seeded(3) });
  try {
    // 10.9.0.200 is inside the service's CIDR and the rule's 10.9.0.128/25: always v2.
    for (let i = 0; i < 10; i++) assert.equal(await exchange(p.port, '10.9.0.200:5432'), 'v2 hello');
    // 10.9.0.5 is the service too, but outside the subnet: the 80/20 rule (v1 shows up).
    const low = await Promise.all(Array.from({ length: 20 }, () => exchange(p.port, '10.9.0.5:5432')));
    assert.ok(low.some((r) => r === 'v1 hello'), low.join(','));
  } finally {
    await p.close();
  }
  const batch = await startProxy(compile(tcpConfig(), { role: 'sidecar', namespace: 'default', labels: { app: 'batch' } }), { rnd: seeded(3) });
  try {
    const replies = await Promise.all(Array.from({ length: 20 }, () => exchange(batch.port, 'db.default.svc.cluster.local:5432')));
    assert.deepEqual(new Set(replies), new Set(['v2 hello']));
  } finally {
    await batch.close();
  }
});

// ---------------------------------------------------------------------------------- TLS

const tlsPorts: Record<string, number> = {};
before(async () => {
  if (skipTls) return;
  certs = makeCerts(['api.example.com', 'other.example.com', 'unknown.example.com']);
  tlsPorts.A = await tlsUpstream('A');
  tlsPorts.B = await tlsUpstream('B');
  // The passthrough target: the services' port number is its real port.
  tlsPorts.C = await tlsUpstream('C');
});

function tlsConfig(policy: 'ALLOW_ANY' | 'REGISTRY_ONLY', extra = ''): string {
  const P = tlsPorts.C;
  const se = (name: string, port: number): string => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: ${P}, name: tls, protocol: TLS}]
  endpoints: [{address: 127.0.0.1, ports: {tls: ${port}}}]
---
`;
  return `${se('api', tlsPorts.A)}${se('other', tlsPorts.B)}apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default}
spec:
  outboundTrafficPolicy: {mode: ${policy}}
${extra}`;
}

const snapshotOf = (yaml: string, labels: Record<string, string> = {}) => compile(yaml, { role: 'sidecar', namespace: 'default', labels });
const count = (): number => accepted.A + accepted.B + accepted.C;

test('TLS in a CONNECT tunnel: the SNI picks the MESH_EXTERNAL service, whatever address was dialled', { skip: skipTls }, async () => {
  const p: RunningProxy = await startProxy(snapshotOf(tlsConfig('REGISTRY_ONLY')));
  try {
    const P = tlsPorts.C;
    assert.equal(await tlsThrough(p.port, `192.0.2.1:${P}`, 'api.example.com'), 'A');
    assert.equal(await tlsThrough(p.port, `192.0.2.1:${P}`, 'other.example.com'), 'B');
    assert.equal(await tlsThrough(p.port, `api.example.com:${P}`, 'api.example.com'), 'A');
    const log = await logged(p, (i) => i.upstreamCluster === `outbound|${P}||api.example.com`);
    assert.equal(log?.responseCode, 200);
  } finally {
    await p.close();
  }
});

test('REGISTRY_ONLY: an unknown SNI, no SNI or plain bytes on a TLS port get no byte through, even to a known name', { skip: skipTls }, async () => {
  const p = await startProxy(snapshotOf(tlsConfig('REGISTRY_ONLY')));
  try {
    const P = tlsPorts.C;
    const before = count();
    assert.equal(await tlsThrough(p.port, `127.0.0.1:${P}`, 'unknown.example.com'), null);
    assert.equal(await tlsThrough(p.port, `api.example.com:${P}`, 'unknown.example.com'), null);
    assert.equal(await tlsThrough(p.port, `API.Example.COM.:${P}`, 'Unknown.Example.com'), null);
    assert.equal(await exchange(p.port, `api.example.com:${P}`, 'GET / HTTP/1.1\r\n\r\n'), '');
    assert.equal(count(), before, 'no upstream saw a connection');
    const log = await logged(p, (i) => i.upstreamCluster === 'BlackHoleCluster');
    assert.equal(log?.details, 'registry_only');
  } finally {
    await p.close();
  }
});

test('ALLOW_ANY: an unknown SNI is passed through to the address dialled', { skip: skipTls }, async () => {
  const p = await startProxy(snapshotOf(tlsConfig('ALLOW_ANY')));
  try {
    assert.equal(await tlsThrough(p.port, `127.0.0.1:${tlsPorts.C}`, 'unknown.example.com'), 'C');
    assert.equal((await logged(p, (i) => i.method === 'CONNECT'))?.upstreamCluster, 'PassthroughCluster');
  } finally {
    await p.close();
  }
});

test('sidecar TLS route: a VirtualService tls rule sends an SNI elsewhere; sourceLabels pick the proxy', { skip: skipTls }, async () => {
  const vs = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api}
spec:
  hosts: [api.example.com]
  tls:
  - match: [{sniHosts: [api.example.com], sourceLabels: {app: canary}}]
    route: [{destination: {host: other.example.com}}]
  - match: [{sniHosts: [api.example.com]}]
    route: [{destination: {host: api.example.com}}]
`;
  const P = tlsPorts.C;
  const canary = await startProxy(snapshotOf(tlsConfig('REGISTRY_ONLY', vs), { app: 'canary' }));
  try {
    assert.equal(await tlsThrough(canary.port, `api.example.com:${P}`, 'api.example.com'), 'B');
    assert.equal(await tlsThrough(canary.port, `api.example.com:${P}`, 'other.example.com'), 'B');
  } finally {
    await canary.close();
  }
  const plain = await startProxy(snapshotOf(tlsConfig('REGISTRY_ONLY', vs), { app: 'web' }));
  try {
    assert.equal(await tlsThrough(plain.port, `api.example.com:${P}`, 'api.example.com'), 'A');
  } finally {
    await plain.close();
  }
});

test('a TLS port whose client sends nothing (server-first) is routed without SNI after the ClientHello wait', async () => {
  const banner = await listen(net.createServer((c) => c.end('220 banner\r\n')));
  const snap = compile(
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: smtp}
spec:
  hosts: [smtp.example.com]
  addresses: [240.0.0.9]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 2525, name: tls, protocol: TLS}]
  endpoints: [{address: 127.0.0.1, ports: {tls: ${banner}}}]
`,
    { role: 'sidecar', namespace: 'default', labels: {} },
  );
  const clusters = new ClusterManager();
  const completed: StreamInfo[] = [];
  const deps = { snapshot: () => snap, clusters, rnd: Math.random, now: Date.now, onComplete: (i: StreamInfo) => completed.push(i), connectTimeoutMs: 2000, sniffTimeoutMs: 150 };
  const front = http.createServer();
  front.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => handleConnect(deps, req, socket, head));
  const port = await listen(front);
  try {
    const t = await open(port, 'smtp.example.com:2525');
    assert.equal(t.status, 200);
    const started = Date.now();
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no banner')), 3000);
      t.socket!.once('data', (d: Buffer) => {
        clearTimeout(timer);
        t.socket!.destroy();
        resolve(d.toString());
      });
    });
    assert.equal(line, '220 banner\r\n');
    assert.ok(Date.now() - started >= 100, 'waited for a ClientHello first');
  } finally {
    await clusters.destroy();
  }
});
