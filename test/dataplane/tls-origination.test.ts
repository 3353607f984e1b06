/**
 * TLS origination from DestinationRule `tls` (Istio's egress "TLS origination" task): the app
 * speaks plain HTTP to port 80, the proxy opens TLS to the upstream, verifying it.
 * Certificates are made with the openssl CLI; the test skips where it is missing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { compile, request, startProxy } from '../support/mesh.js';
import { hasOpenssl, makeCerts, type TestCerts } from '../support/certs.js';

const skip = hasOpenssl() ? false : 'openssl CLI not found';

let certs: TestCerts | null = null;
let dir = '';
let server: https.Server | null = null;
let port = 0;
const seen: Array<{ sni: string | false; clientCert: boolean; path: string }> = [];

before(async () => {
  if (skip) return;
  certs = makeCerts(['secure.example.com', 'alt.example.com']);
  dir = certs.dir;
  server = https.createServer(
    { key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')), ca: readFileSync(join(dir, 'ca.pem')), requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const sock = req.socket as TLSSocket;
      seen.push({ sni: sock.servername ?? false, clientCert: sock.authorized, path: req.url ?? '' });
      res.end(`tls ${req.url} client-cert=${sock.authorized}`);
    },
  );
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  if (server) await new Promise<void>((r) => {
    server!.close(() => r());
    server!.closeAllConnections();
  });
  certs?.cleanup();
});

function config(tls: string): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secure}
spec:
  hosts: [secure.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${port}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: secure}
spec:
  host: secure.example.com
  trafficPolicy:
    portLevelSettings:
    - port: {number: 80}
      tls:
${tls}
`;
}

const sidecar = { role: 'sidecar' as const, namespace: 'default', labels: {} };

async function via(tls: string, path: string): Promise<{ status: number; body: string }> {
  const p = await startProxy(compile(config(tls), sidecar));
  try {
    const r = await request(p.port, 'secure.example.com', path);
    return { status: r.status, body: r.body };
  } finally {
    await p.close();
  }
}

test('SIMPLE: plain HTTP from the app, TLS to the upstream, verified against caCertificates, SNI = the service host', { skip }, async () => {
  const r = await via(`        mode: SIMPLE\n        caCertificates: ${join(dir, 'ca.pem')}`, '/simple');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, 'tls /simple client-cert=false');
  assert.equal(seen.at(-1)?.sni, 'secure.example.com');
});

test('SIMPLE: explicit sni and subjectAltNames are checked; a SAN mismatch fails the connection (503)', { skip }, async () => {
  const ok = await via(`        mode: SIMPLE\n        sni: alt.example.com\n        caCertificates: ${join(dir, 'ca.pem')}\n        subjectAltNames: [alt.example.com]`, '/san-ok');
  assert.equal(ok.status, 200, ok.body);
  assert.equal(seen.at(-1)?.sni, 'alt.example.com');
  const bad = await via(`        mode: SIMPLE\n        caCertificates: ${join(dir, 'ca.pem')}\n        subjectAltNames: [other.example.com]`, '/san-bad');
  assert.equal(bad.status, 503);
  assert.match(bad.body, /upstream connect error/);
});

test('SIMPLE without a CA the server is not trusted (503); insecureSkipVerify connects anyway', { skip }, async () => {
  const untrusted = await via('        mode: SIMPLE', '/untrusted');
  assert.equal(untrusted.status, 503);
  const skipVerify = await via('        mode: SIMPLE\n        insecureSkipVerify: true', '/skip');
  assert.equal(skipVerify.status, 200, skipVerify.body);
});

test('MUTUAL: the client certificate is presented and accepted by the server', { skip }, async () => {
  const r = await via(
    `        mode: MUTUAL\n        caCertificates: ${join(dir, 'ca.pem')}\n        clientCertificate: ${join(dir, 'client.pem')}\n        privateKey: ${join(dir, 'client.key')}`,
    '/mutual',
  );
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, 'tls /mutual client-cert=true');
});

test('a missing certificate file fails requests with 503, never the process', { skip }, async () => {
  const r = await via(`        mode: SIMPLE\n        caCertificates: ${join(dir, 'no-such-ca.pem')}`, '/missing');
  assert.equal(r.status, 503);
});
