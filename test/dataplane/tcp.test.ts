/** Gateway TCP servers with VirtualService tcp routes (Istio's tcp-echo task): an 80/20 split. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { compile, startProxy, seeded, type RunningProxy } from '../support/mesh.js';

const servers: net.Server[] = [];
const ports: number[] = [];
let p: RunningProxy;

async function echo(name: string): Promise<number> {
  const s = net.createServer((c) => {
    c.on('error', () => undefined);
    c.on('data', (d) => c.write(`${name} ${d.toString()}`));
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

before(async () => {
  ports.push(await echo('one'), await echo('two'));
  const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tcp-echo}
spec:
  hosts: [tcp-echo.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  endpoints:
  - {address: 127.0.0.1, ports: {tcp: ${ports[0]}}, labels: {version: v1}}
  - {address: 127.0.0.1, ports: {tcp: ${ports[1]}}, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcp-echo}
spec:
  host: tcp-echo
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp-echo-gateway}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp-echo}
spec:
  hosts: ["*"]
  gateways: [tcp-echo-gateway]
  tcp:
  - match: [{port: 31400}]
    route:
    - {destination: {host: tcp-echo, port: {number: 9000}, subset: v1}, weight: 80}
    - {destination: {host: tcp-echo, port: {number: 9000}, subset: v2}, weight: 20}
`;
  const snap = compile(yaml, { role: 'gateway', namespace: 'default', labels: { istio: 'ingressgateway' } });
  for (let attempt = 0; ; attempt++) {
    try {
      p = await startProxy(snap, { rnd: seeded(5), portOffset: 20000 + Math.floor(Math.random() * 20000) });
      break;
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
});

after(async () => {
  await p?.close();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

function exchange(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ host: '127.0.0.1', port }, () => c.write('hello'));
    c.setTimeout(5000, () => c.destroy(new Error('timeout')));
    c.once('data', (d) => {
      c.end();
      resolve(d.toString());
    });
    c.on('error', reject);
  });
}

test('a TCP route splits connections 80/20 between subsets, bytes piped both ways', async () => {
  const port = p.proxy.bound().find((b) => b.configPort === 31400)!.port;
  let one = 0;
  const n = 200;
  for (let i = 0; i < n; i += 20) {
    const replies = await Promise.all(Array.from({ length: 20 }, () => exchange(port)));
    for (const r of replies) {
      assert.match(r, /^(one|two) hello$/);
      if (r.startsWith('one')) one++;
    }
  }
  const pct = (100 * one) / n;
  assert.ok(Math.abs(pct - 80) <= 8, `v1 got ${pct}%`);
});
