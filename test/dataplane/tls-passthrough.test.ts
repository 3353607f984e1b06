/** Gateway TLS PASSTHROUGH: two SNI names routed to two upstream TLS servers without terminating. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { compile, startProxy, type RunningProxy } from '../support/mesh.js';
import { hasOpenssl, makeCerts, type TestCerts } from '../support/certs.js';
import { readSni } from '../../src/dataplane/listener/sni.js';

const skip = hasOpenssl() ? false : 'openssl CLI not found';
let certs: TestCerts;
const servers: https.Server[] = [];
let p: RunningProxy;

async function upstream(name: string): Promise<number> {
  const s = https.createServer({ key: readFileSync(certs.serverKey), cert: readFileSync(certs.serverCert) }, (req, res) => res.end(`${name} ${req.url}`));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as AddressInfo).port;
}

function se(name: string, port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}}
spec:
  hosts: [${name}.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 443, name: tls, protocol: TLS}]
  endpoints: [{address: 127.0.0.1, ports: {tls: ${port}}}]
---
`;
}

before(async () => {
  if (skip) return;
  certs = makeCerts(['a.example.com', 'b.example.com']);
  const [pa, pb] = [await upstream('A'), await upstream('B')];
  const yaml =
    se('a', pa) +
    se('b', pb) +
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*.example.com"]
    tls: {mode: PASSTHROUGH}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: sni}
spec:
  hosts: ["*.example.com"]
  gateways: [gw]
  tls:
  - match: [{port: 443, sniHosts: [a.example.com]}]
    route: [{destination: {host: a.example.com, port: {number: 443}}}]
  - match: [{port: 443, sniHosts: [b.example.com]}]
    route: [{destination: {host: b.example.com, port: {number: 443}}}]
`;
  const snap = compile(yaml, { role: 'gateway', namespace: 'default', labels: { istio: 'ingressgateway' } });
  for (let attempt = 0; ; attempt++) {
    try {
      p = await startProxy(snap, { portOffset: 20000 + Math.floor(Math.random() * 20000) });
      break;
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
});

after(async () => {
  if (skip) return;
  await p?.close();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  certs?.cleanup();
});

function get(sni: string): Promise<string> {
  const port = p.proxy.bound().find((b) => b.configPort === 443)!.port;
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/x', servername: sni, headers: { host: sni }, ca: readFileSync(certs.ca), agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

test('two SNI names reach two upstream TLS servers; TLS is end to end (the upstream certificate)', { skip }, async () => {
  assert.equal(await get('a.example.com'), 'A /x');
  assert.equal(await get('b.example.com'), 'B /x');
});

test('an SNI name no route covers: the connection is closed', { skip }, async () => {
  await assert.rejects(get('c.example.com'));
});

test('readSni parses a real ClientHello and rejects non-TLS bytes', { skip }, async () => {
  const hello = await new Promise<Buffer>((resolve) => {
    // A raw TCP server captures what a TLS client sends first: its ClientHello.
    const raw = net.createServer((s) =>
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
        raw.close();
      }),
    );
    raw.listen(0, '127.0.0.1', () => {
      const c = tls.connect({ host: '127.0.0.1', port: (raw.address() as AddressInfo).port, servername: 'Name.Example.com', rejectUnauthorized: false });
      c.on('error', () => undefined);
    });
  });
  assert.deepEqual(readSni(hello), { kind: 'sni', name: 'name.example.com' });
  assert.deepEqual(readSni(hello.subarray(0, 3)), { kind: 'need-more' });
  assert.deepEqual(readSni(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'not-tls' });
});
