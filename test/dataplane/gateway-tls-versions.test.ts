/**
 * Gateway ServerTLSSettings on the wire: `minProtocolVersion` (default TLS 1.2),
 * `maxProtocolVersion` and `cipherSuites`, checked with node:tls clients that offer only
 * certain versions or ciphers; per server when several share a port (chosen by SNI).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { compile, serviceEntry, startProxy, startUpstream, type RunningProxy, type Upstream } from '../support/mesh.js';
import { hasOpenssl, makeCerts, type TestCerts } from '../support/certs.js';

const skip = hasOpenssl() ? false : 'openssl CLI not found';
let certs: TestCerts;
let up: Upstream;
let p: RunningProxy;

function config(): string {
  const tlsOf = (extra: string): string => `{mode: SIMPLE, serverCertificate: ${certs.serverCert}, privateKey: ${certs.serverKey}${extra}}`;
  return (
    serviceEntry('web', 'default', 8000, [{ port: up.port, labels: { app: 'web' } }]) +
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8443, name: https-default, protocol: HTTPS}
    hosts: [a.example.com]
    tls: ${tlsOf('')}
  - port: {number: 9443, name: https-max12, protocol: HTTPS}
    hosts: [a.example.com]
    tls: ${tlsOf(', maxProtocolVersion: TLSV1_2')}
  - port: {number: 10443, name: https-min13, protocol: HTTPS}
    hosts: [a.example.com]
    tls: ${tlsOf(', minProtocolVersion: TLSV1_3')}
  - port: {number: 11443, name: https-ciphers, protocol: HTTPS}
    hosts: [a.example.com]
    tls: ${tlsOf(', cipherSuites: [ECDHE-RSA-AES256-GCM-SHA384]')}
  - port: {number: 13443, name: https-min11, protocol: HTTPS}
    hosts: [a.example.com]
    tls: ${tlsOf(', minProtocolVersion: TLSV1_1')}
  - port: {number: 12443, name: https-a, protocol: HTTPS}
    hosts: [a.example.com]
    tls: ${tlsOf('')}
  - port: {number: 12443, name: https-b, protocol: HTTPS}
    hosts: [b.example.com]
    tls: ${tlsOf(', maxProtocolVersion: TLSV1_2, cipherSuites: [ECDHE-RSA-AES256-GCM-SHA384]')}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [a.example.com, b.example.com]
  gateways: [gw]
  http:
  - route: [{destination: {host: web, port: {number: 8000}}}]
`
  );
}

before(async () => {
  if (skip) return;
  certs = makeCerts(['a.example.com', 'b.example.com']);
  up = await startUpstream('web');
  const snap = compile(config(), { role: 'gateway', namespace: 'default', labels: { istio: 'ingressgateway' } });
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
  await up?.close();
  certs?.cleanup();
});

const portOf = (configPort: number): number => p.proxy.bound().find((b) => b.configPort === configPort)!.port;

interface Handshake {
  protocol: string | null;
  cipher: string;
}

/** A handshake with only these versions/ciphers offered: the result, or the error message. */
function handshake(configPort: number, opts: tls.ConnectionOptions & { servername?: string } = {}): Promise<Handshake | string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: portOf(configPort), servername: 'a.example.com', ca: readFileSync(certs.ca), ...opts });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, 5000);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      const r = { protocol: s.getProtocol(), cipher: s.getCipher().name };
      s.end();
      resolve(r);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      resolve(e.message);
    });
  });
}

const ok = (r: Handshake | string): Handshake => {
  assert.equal(typeof r, 'object', `handshake failed: ${String(r)}`);
  return r as Handshake;
};
const refused = (r: Handshake | string, what: string): void => assert.equal(typeof r, 'string', `${what} was accepted: ${JSON.stringify(r)}`);

// A TLS 1.1 client: OpenSSL 3 only offers TLS 1.1 at security level 0.
const TLS11 = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' } as const;
const ONLY12 = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;
const ONLY13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;

test('default minimum TLS 1.2: a TLS 1.1 client is refused; TLS 1.2 and 1.3 clients are served', { skip }, async () => {
  refused(await handshake(8443, TLS11), 'TLS 1.1');
  assert.equal(ok(await handshake(8443, ONLY12)).protocol, 'TLSv1.2');
  assert.equal(ok(await handshake(8443, ONLY13)).protocol, 'TLSv1.3');
});

test('minProtocolVersion TLSV1_1: a TLS 1.1 client is served', { skip }, async () => {
  assert.equal(ok(await handshake(13443, TLS11)).protocol, 'TLSv1.1');
});

test('maxProtocolVersion TLSV1_2: a TLS 1.3-only client is refused, TLS 1.2 is served', { skip }, async () => {
  refused(await handshake(9443, ONLY13), 'TLS 1.3 only');
  assert.equal(ok(await handshake(9443)).protocol, 'TLSv1.2');
});

test('minProtocolVersion TLSV1_3: a client that stops at TLS 1.2 is refused', { skip }, async () => {
  refused(await handshake(10443, ONLY12), 'TLS 1.2 only');
  assert.equal(ok(await handshake(10443)).protocol, 'TLSv1.3');
});

test('cipherSuites: a TLS 1.2 client offering only another cipher is refused; the listed one is used', { skip }, async () => {
  refused(await handshake(11443, { ...ONLY12, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }), 'a cipher not in cipherSuites');
  assert.equal(ok(await handshake(11443, { ...ONLY12, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384' })).cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
  // The default list (no cipherSuites) accepts the AES128 suite.
  assert.equal(ok(await handshake(8443, { ...ONLY12, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' })).cipher, 'ECDHE-RSA-AES128-GCM-SHA256');
});

test('two servers on one port: each SNI gets its own server\'s versions and ciphers', { skip }, async () => {
  assert.equal(ok(await handshake(12443, { ...ONLY13, servername: 'a.example.com' })).protocol, 'TLSv1.3');
  refused(await handshake(12443, { ...ONLY13, servername: 'b.example.com' }), 'TLS 1.3 only to b (max TLS 1.2)');
  refused(await handshake(12443, { ...ONLY12, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', servername: 'b.example.com' }), 'AES128 to b');
  assert.equal(ok(await handshake(12443, { ...ONLY12, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', servername: 'a.example.com' })).cipher, 'ECDHE-RSA-AES128-GCM-SHA256');
  assert.equal(ok(await handshake(12443, { servername: 'b.example.com' })).protocol, 'TLSv1.2');
  // Requests are served through either server.
  for (const name of ['a.example.com', 'b.example.com']) assert.equal(await get(12443, name), 'web /hello');
});

function get(configPort: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: portOf(configPort), path: '/hello', servername, headers: { host: servername }, ca: readFileSync(certs.ca), agent: false, timeout: 5000 },
      (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}
