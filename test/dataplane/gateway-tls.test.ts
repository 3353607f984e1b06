/** Gateway HTTPS servers terminated by the proxy: SIMPLE, MUTUAL, SNI choice, ALPN h2. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http2 from 'node:http2';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, serviceEntry, startProxy, startUpstream, type RunningProxy, type Upstream } from '../support/mesh.js';
import { hasOpenssl, makeCerts, type TestCerts } from '../support/certs.js';

const skip = hasOpenssl() ? false : 'openssl CLI not found';
let certs: TestCerts;
let up: Upstream;
let p: RunningProxy;

function config(): string {
  return (
    serviceEntry('web', 'default', 8000, [{ port: up.port, labels: { app: 'web' } }]) +
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8443, name: https, protocol: HTTPS}
    hosts: [secure.example.com]
    tls: {mode: SIMPLE, serverCertificate: ${certs.serverCert}, privateKey: ${certs.serverKey}}
  - port: {number: 10443, name: https-cred, protocol: HTTPS}
    hosts: [secure.example.com]
    tls: {mode: SIMPLE, credentialName: web-cert}
  - port: {number: 9443, name: https-mtls, protocol: HTTPS}
    hosts: [secure.example.com]
    tls: {mode: MUTUAL, serverCertificate: ${certs.serverCert}, privateKey: ${certs.serverKey}, caCertificates: ${certs.ca}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [secure.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: web, port: {number: 8000}}}]
`
  );
}

before(async () => {
  if (skip) return;
  certs = makeCerts(['secure.example.com']);
  // A Kubernetes-style secret folder for credentialName.
  mkdirSync(join(certs.dir, 'secrets', 'web-cert'), { recursive: true });
  copyFileSync(certs.serverCert, join(certs.dir, 'secrets', 'web-cert', 'tls.crt'));
  copyFileSync(certs.serverKey, join(certs.dir, 'secrets', 'web-cert', 'tls.key'));
  up = await startUpstream('web');
  // Gateway ports are fixed (8443, 9443, 10443): shift them to a free range, retrying on a clash.
  const snap = compile(config(), { role: 'gateway', namespace: 'default', labels: { istio: 'ingressgateway' } });
  for (let attempt = 0; ; attempt++) {
    const portOffset = 20000 + Math.floor(Math.random() * 20000);
    try {
      p = await startProxy(snap, { portOffset, credentialsDir: join(certs.dir, 'secrets') });
      break;
    } catch (e) {
      if (attempt >= 5) throw e;
    }
  }
});
after(async () => {
  if (skip) return;
  await p?.close();
  await up?.close();
  certs?.cleanup();
});

function portOf(configPort: number): number {
  return p.proxy.bound().find((b) => b.configPort === configPort)!.port;
}

function get(port: number, opts: https.RequestOptions = {}): Promise<{ status: number; body: string; alpn: string | false }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port, path: '/hello', servername: 'secure.example.com', headers: { host: 'secure.example.com' }, ca: readFileSync(certs.ca), agent: false, ...opts },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, alpn: (res.socket as import("node:tls").TLSSocket).alpnProtocol ?? false }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('SIMPLE: TLS is terminated with the server certificate and the request routed', { skip }, async () => {
  const r = await get(portOf(8443));
  assert.equal(r.status, 200);
  assert.equal(r.body, 'web /hello');
  assert.equal(up.seen.at(-1)?.headers['x-forwarded-proto'], 'https');
});

test('ALPN h2: an HTTP/2 client over TLS is served', { skip }, async () => {
  const session = http2.connect(`https://127.0.0.1:${portOf(8443)}`, { servername: 'secure.example.com', ca: readFileSync(certs.ca) });
  session.on('error', () => undefined);
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const s = session.request({ ':path': '/h2', ':authority': 'secure.example.com' });
      let d = '';
      s.on('data', (c) => (d += c));
      s.on('end', () => resolve(d));
      s.on('error', reject);
      s.end();
    });
    assert.equal(body, 'web /h2');
  } finally {
    session.close();
  }
});

test('MUTUAL: a client without a certificate is refused; one signed by the CA is served', { skip }, async () => {
  await assert.rejects(get(portOf(9443)));
  const r = await get(portOf(9443), { cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
  assert.equal(r.status, 200);
  assert.equal(r.body, 'web /hello');
});

test('credentialName: the certificate comes from --credentials-dir/<name>/tls.crt|tls.key', { skip }, async () => {
  const r = await get(portOf(10443));
  assert.equal(r.status, 200);
  assert.equal(r.body, 'web /hello');
});

test('certificates are reloaded when their files change: new handshakes see the new certificate', { skip }, async () => {
  const serialOf = (port: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        { host: '127.0.0.1', port, path: '/', servername: 'secure.example.com', headers: { host: 'secure.example.com' }, ca: [readFileSync(certs.ca), readFileSync(next.ca)], agent: false },
        (res) => {
          res.resume();
          resolve((res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber);
        },
      );
      req.on('error', reject);
      req.end();
    });
  const next = makeCerts(['secure.example.com']);
  try {
    const port = portOf(10443);
    const before = await serialOf(port);
    // Swap the secret's files the way Kubernetes does (new content in place).
    copyFileSync(next.serverCert, join(certs.dir, 'secrets', 'web-cert', 'tls.crt'));
    copyFileSync(next.serverKey, join(certs.dir, 'secrets', 'web-cert', 'tls.key'));
    const deadline = Date.now() + 5000;
    let after = before;
    while (after === before && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = await serialOf(port);
    }
    assert.notEqual(after, before, 'a new handshake sees the new certificate');
  } finally {
    next.cleanup();
  }
});
