/**
 * Gateway MUTUAL / OPTIONAL_MUTUAL client-certificate checks beyond the CA chain: `caCrl`
 * (also a secret's `ca.crl` with credentialName), `subjectAltNames`, `verifyCertificateSpki`
 * and `verifyCertificateHash` (any listed value admits, as Envoy's CertificateValidationContext);
 * and `TLS`-protocol servers that terminate TLS, then route the plain bytes by `tcp` rules.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import { execSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, serviceEntry, startProxy, startUpstream, type RunningProxy, type Upstream } from '../support/mesh.js';
import { addClientCert, hasOpenssl, makeCerts, makeCrl, type TestCerts } from '../support/certs.js';

const skip = hasOpenssl() ? false : 'openssl CLI not found';
let certs: TestCerts;
let foreign: TestCerts;
let up: Upstream;
let p: RunningProxy;
let echo: net.Server;
type Pair = { cert: string; key: string };
let good: Pair;
let revoked: Pair;
let other: Pair;

/** SHA-256 fingerprint of a certificate as openssl prints it (upper case, colons). */
function fingerprint(pem: string): string {
  return execSync(`openssl x509 -in '${pem}' -noout -fingerprint -sha256`).toString().trim().split('=')[1];
}

/** base64 SHA-256 of a certificate's DER SubjectPublicKeyInfo, computed by openssl. */
function spki(pem: string): string {
  return execSync(`openssl x509 -in '${pem}' -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -binary | base64`).toString().trim();
}

function config(crl: string): string {
  const mtls = (extra: string): string => `{mode: MUTUAL, serverCertificate: ${certs.serverCert}, privateKey: ${certs.serverKey}, caCertificates: ${certs.ca}${extra}}`;
  const server = (port: number, tls: string): string => `  - port: {number: ${port}, name: https-${port}, protocol: HTTPS}
    hosts: [secure.example.com]
    tls: ${tls}
`;
  return (
    serviceEntry('web', 'default', 8000, [{ port: up.port, labels: { app: 'web' } }]) +
    `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo}
spec:
  hosts: [echo.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9000, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1, ports: {tcp: ${(echo.address() as AddressInfo).port}}}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tls-gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 9500, name: tls-simple, protocol: TLS}
    hosts: [secure.example.com]
    tls: {mode: SIMPLE, serverCertificate: ${certs.serverCert}, privateKey: ${certs.serverKey}}
  - port: {number: 9501, name: tls-mutual, protocol: TLS}
    hosts: [secure.example.com]
    tls: ${mtls(', subjectAltNames: [spiffe://cluster.local/ns/default/sa/client]')}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [secure.example.com]
  gateways: [tls-gw]
  tcp:
  - route: [{destination: {host: echo.default.svc.cluster.local, port: {number: 9000}}}]
---
` +
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
` +
    server(9443, mtls(`, caCrl: ${crl}`)) +
    server(9444, `{mode: OPTIONAL_MUTUAL, serverCertificate: ${certs.serverCert}, privateKey: ${certs.serverKey}, caCertificates: ${certs.ca}, caCrl: ${crl}}`) +
    server(9445, mtls(', subjectAltNames: [spiffe://cluster.local/ns/default/sa/client]')) +
    server(9446, mtls(`, verifyCertificateSpki: ["${spki(good.cert)}"]`)) +
    server(9447, mtls(`, verifyCertificateHash: ["00:11", "${fingerprint(good.cert)}"], verifyCertificateSpki: ["AAAA"]`)) +
    server(9448, '{mode: MUTUAL, credentialName: web-cert}') +
    server(9449, mtls(', subjectAltNames: [api.example.com]')) +
    `---
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
  foreign = makeCerts(['foreign.example.com']);
  good = { cert: certs.clientCert, key: certs.clientKey };
  // Same SAN as the good client: only the CRL tells them apart.
  revoked = addClientCert(certs, 'revoked', 'URI:spiffe://cluster.local/ns/default/sa/client');
  other = addClientCert(certs, 'other', 'DNS:*.example.com');
  const crl = makeCrl(certs, [revoked.cert]);
  // A Kubernetes-style secret with ca.crt and ca.crl for credentialName.
  const secret = join(certs.dir, 'secrets', 'web-cert');
  mkdirSync(secret, { recursive: true });
  copyFileSync(certs.serverCert, join(secret, 'tls.crt'));
  copyFileSync(certs.serverKey, join(secret, 'tls.key'));
  copyFileSync(certs.ca, join(secret, 'ca.crt'));
  copyFileSync(crl, join(secret, 'ca.crl'));
  up = await startUpstream('web');
  echo = net.createServer((c) => {
    c.on('error', () => undefined);
    c.on('data', (d) => c.write(`echo ${d.toString()}`));
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  const snap = compile(config(crl), { role: 'gateway', namespace: 'default', labels: { istio: 'ingressgateway' } });
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
  await new Promise<void>((r) => (echo ? echo.close(() => r()) : r()));
  certs?.cleanup();
  foreign?.cleanup();
});

function portOf(configPort: number): number {
  const b = p.proxy.bound().find((x) => x.configPort === configPort);
  assert.ok(b, `port ${configPort} is served`);
  return b.port;
}

/** GET over TLS with an optional client certificate; rejects when the proxy closes the connection. */
function get(configPort: number, client: Pair | null): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: portOf(configPort),
        path: '/hello',
        servername: 'secure.example.com',
        headers: { host: 'secure.example.com' },
        ca: readFileSync(certs.ca),
        agent: false,
        timeout: 5000,
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
      },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

async function served(configPort: number, client: Pair | null): Promise<void> {
  const r = await get(configPort, client);
  assert.equal(r.status, 200);
  assert.equal(r.body, 'web /hello');
}

test('caCrl (MUTUAL): a revoked client certificate is refused, an unrevoked one is served', { skip }, async () => {
  await assert.rejects(get(9443, revoked));
  await served(9443, good);
  // The revoked certificate is otherwise valid: a server without the CRL admits it.
  await served(9445, revoked);
});

test('caCrl (OPTIONAL_MUTUAL): no certificate is admitted; a revoked or untrusted one is refused', { skip }, async () => {
  await served(9444, null);
  await served(9444, good);
  await assert.rejects(get(9444, revoked));
  await assert.rejects(get(9444, { cert: foreign.clientCert, key: foreign.clientKey }));
});

test('credentialName: the secret\'s ca.crt and ca.crl verify client certificates', { skip }, async () => {
  await served(9448, good);
  await assert.rejects(get(9448, revoked));
  await assert.rejects(get(9448, null));
});

test('subjectAltNames: the client certificate must carry one of them', { skip }, async () => {
  await served(9445, good);
  await assert.rejects(get(9445, other));
});

test('subjectAltNames: a wildcard DNS SAN in the certificate covers a listed name', { skip }, async () => {
  await served(9449, other);
  await assert.rejects(get(9449, good));
});

test('verifyCertificateSpki: only the pinned public key is admitted', { skip }, async () => {
  await served(9446, good);
  await assert.rejects(get(9446, other));
});

test('verifyCertificateHash: any listed fingerprint admits (colons and case ignored), alongside a non-matching SPKI', { skip }, async () => {
  await served(9447, good);
  await assert.rejects(get(9447, other));
});

/** One line over TLS to a TLS-protocol gateway port; resolves with the reply (plain text from the echo upstream). */
function tlsExchange(configPort: number, client: Pair | null): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port: portOf(configPort),
      servername: 'secure.example.com',
      ca: readFileSync(certs.ca),
      ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
    });
    const timer = setTimeout(() => s.destroy(new Error('timed out')), 5000);
    let got = '';
    s.on('secureConnect', () => s.write('ping'));
    s.on('data', (d) => {
      got += d.toString();
      if (got.length >= 'echo ping'.length) s.end();
    });
    s.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on('close', () => {
      clearTimeout(timer);
      if (got) resolve(got);
      else reject(new Error('closed without a reply'));
    });
  });
}

test('TLS server, SIMPLE: TLS is terminated and the plain bytes routed by the tcp route', { skip }, async () => {
  assert.equal(await tlsExchange(9500, null), 'echo ping');
});

test('TLS server, MUTUAL: client certificates are checked before any byte is forwarded', { skip }, async () => {
  assert.equal(await tlsExchange(9501, good), 'echo ping');
  await assert.rejects(tlsExchange(9501, null));
  await assert.rejects(tlsExchange(9501, other));
});
