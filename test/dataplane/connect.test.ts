/** CONNECT on the sidecar listener (HTTPS_PROXY clients): service endpoints, passthrough, REGISTRY_ONLY, TCP metrics. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { compile, startProxy, type RunningProxy } from '../support/mesh.js';
import { ClusterManager } from '../../src/dataplane/cluster/manager.js';
import { handleConnect, type ConnectDeps } from '../../src/dataplane/http/connect.js';

let echo: net.Server;
let echoPort = 0;
let accepted = 0;

before(async () => {
  echo = net.createServer((s) => {
    accepted++;
    s.on('error', () => undefined);
    s.on('data', (d) => s.write(`echo:${d.toString()}`));
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoPort = (echo.address() as AddressInfo).port;
});
after(() => new Promise<void>((r) => echo.close(() => r())));

function config(policy: 'ALLOW_ANY' | 'REGISTRY_ONLY'): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tunnel}
spec:
  hosts: [tunnel.example.com]
  addresses: [240.0.0.1]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 7000, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1, ports: {tcp: ${echoPort}}}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default}
spec:
  outboundTrafficPolicy: {mode: ${policy}}
`;
}

/** Opens a CONNECT tunnel through the proxy and exchanges one message. */
function tunnel(p: Pick<RunningProxy, 'port'>, authority: string): Promise<{ status: number; reply: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: p.port, method: 'CONNECT', path: authority, agent: false, timeout: 5000 });
    req.on('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return resolve({ status: res.statusCode ?? 0, reply: '' });
      }
      socket.write('ping');
      socket.once('data', (d) => {
        socket.destroy();
        resolve({ status: 200, reply: d.toString() });
      });
    });
    req.on('response', (res) => resolve({ status: res.statusCode ?? 0, reply: '' }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('CONNECT to a registry host goes to its endpoint (not to the literal address)', async () => {
  const p = await startProxy(compile(config('REGISTRY_ONLY'), { role: 'sidecar', namespace: 'default', labels: {} }));
  try {
    const r = await tunnel(p, 'tunnel.example.com:7000');
    assert.deepEqual(r, { status: 200, reply: 'echo:ping' });
    const deadline = Date.now() + 3000;
    while (!p.completed.some((i) => i.method === 'CONNECT') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const log = p.completed.find((i) => i.method === 'CONNECT');
    assert.equal(log?.upstreamCluster, 'outbound|7000||tunnel.example.com');
  } finally {
    await p.close();
  }
});

test('CONNECT to an unknown host: ALLOW_ANY passes through; REGISTRY_ONLY answers 502 and dials nothing', async () => {
  const allow = await startProxy(compile(config('ALLOW_ANY'), { role: 'sidecar', namespace: 'default', labels: {} }));
  try {
    assert.deepEqual(await tunnel(allow, `127.0.0.1:${echoPort}`), { status: 200, reply: 'echo:ping' });
  } finally {
    await allow.close();
  }
  const deny = await startProxy(compile(config('REGISTRY_ONLY'), { role: 'sidecar', namespace: 'default', labels: {} }));
  try {
    const before = accepted;
    for (const target of [`127.0.0.1:${echoPort}`, `localhost:${echoPort}`, `LOCALHOST.:${echoPort}`]) {
      const r = await tunnel(deny, target);
      assert.equal(r.status, 502, target);
    }
    assert.equal(accepted, before, 'no connection reached the upstream');
  } finally {
    await deny.close();
  }
});

test('a tunnel to a service endpoint is reported to the TCP observer (istio_tcp_*) with its byte counts', async () => {
  const snap = compile(config('REGISTRY_ONLY'), { role: 'sidecar', namespace: 'default', labels: {} });
  const clusters = new ClusterManager();
  const events: string[] = [];
  const deps: ConnectDeps = {
    snapshot: () => snap,
    clusters,
    rnd: Math.random,
    now: Date.now,
    onComplete: () => undefined,
    connectTimeoutMs: 2000,
    tcp: {
      opened: (d) => events.push(`open ${d.service}`),
      closed: (d, sent, received, flags) => events.push(`close ${d.service} sent=${sent} received=${received} flags=${flags}`),
    },
  };
  const front = http.createServer();
  front.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => handleConnect(deps, req, socket, head));
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', () => r()));
  try {
    const r = await tunnel({ port: (front.address() as AddressInfo).port }, 'tunnel.example.com:7000');
    assert.deepEqual(r, { status: 200, reply: 'echo:ping' });
    const deadline = Date.now() + 3000;
    while (events.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(events, ['open tunnel.example.com', 'close tunnel.example.com sent=9 received=4 flags=0']);
  } finally {
    await new Promise<void>((r) => front.close(() => r()));
    await clusters.destroy();
  }
});
