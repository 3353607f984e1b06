/**
 * Admin endpoint safety (reliability-security.md §1.2, §4.1): it listens on loopback only
 * by default; it has no endpoint that changes anything, and every method but GET/HEAD is
 * refused with 405 (Envoy's mutating endpoints, e.g. /quitquitquit, do not exist: 404, and
 * the proxy keeps serving); no private key (PEM markers, key bytes or key paths) appears in
 * any admin answer or in the operational and access logs, also after a broken key is
 * dropped into a watched credentials folder.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hasOpenssl, makeCerts, type TestCerts } from '../support/certs.js';
import { adminGet, assertHealthy, sleep, startFixture, waitFor, type Fixture } from './kit.js';

const skip = hasOpenssl() ? false : 'openssl CLI not found';
let certs: TestCerts;
let fx: Fixture;
let secrets: string;

/** A Gateway with HTTPS servers whose keys are a file path and a credentialName secret, and a DR with a client key. */
function tlsConfig(): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw-tls}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8443, name: https-file, protocol: HTTPS}
    hosts: [web.example.com]
    tls: {mode: SIMPLE, serverCertificate: ${certs.serverCert}, privateKey: ${certs.serverKey}}
  - port: {number: 9443, name: https-cred, protocol: HTTPS}
    hosts: [web.example.com]
    tls: {mode: SIMPLE, credentialName: web-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web-tls}
spec:
  hosts: [web.example.com]
  gateways: [gw-tls]
  http:
  - route: [{destination: {host: web.default.svc.cluster.local}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: other}
spec:
  hosts: [other.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 443, name: https, protocol: HTTPS}]
  endpoints:
  - {address: 127.0.0.1, ports: {https: 1}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web-mtls}
spec:
  host: other.default.svc.cluster.local
  trafficPolicy:
    tls: {mode: MUTUAL, clientCertificate: ${certs.clientCert}, privateKey: ${certs.clientKey}, caCertificates: ${certs.ca}}
---
`;
}

before(async () => {
  if (skip) return;
  certs = makeCerts(['web.example.com']);
  secrets = join(certs.dir, 'secrets');
  mkdirSync(join(secrets, 'web-cert'), { recursive: true });
  copyFileSync(certs.serverCert, join(secrets, 'web-cert', 'tls.crt'));
  copyFileSync(certs.serverKey, join(secrets, 'web-cert', 'tls.key'));
  fx = await startFixture({ role: 'gateway', yaml: tlsConfig(), run: { credentialsDir: secrets } });
});
after(async () => {
  await fx?.close();
  certs?.cleanup();
});

/** A request with any method to the admin port. */
function adminCall(port: number, method: string, path: string, body?: Buffer): Promise<{ status: number; allow: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body: Buffer.concat(chunks).toString() }));
    });
    req.on('timeout', () => req.destroy(new Error('admin timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

const PATHS = ['/', '/help', '/ready', '/healthz', '/config_dump', '/clusters', '/clusters?format=json', '/stats/prometheus', '/quitquitquit', '/drain_listeners', '/healthcheck/fail', '/logging', '/runtime_modify', '/reset_counters'];

test('admin: bound to 127.0.0.1 only; not reachable on another local address', { skip, timeout: 10_000 }, async (t) => {
  assert.ok(fx.h.logs.includes(`admin listening on 127.0.0.1:${fx.h.adminPort}`), fx.h.logs.join('\n'));
  const other = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
  if (!other) {
    t.diagnostic('no non-loopback IPv4 address on this machine: reachability from outside not checked');
    return;
  }
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect({ host: other.address, port: fx.h.adminPort });
    s.setTimeout(2000, () => (s.destroy(), resolve(true)));
    s.on('connect', () => (s.destroy(), resolve(false)));
    s.on('error', () => resolve(true));
  });
  assert.ok(refused, `the admin port answered on ${other.address}`);
});

test('admin: every method but GET/HEAD gets 405 on every path (no endpoint changes anything); Envoy-style mutating paths are 404 on GET', { skip, timeout: 20_000 }, async () => {
  for (const path of PATHS) {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await adminCall(fx.h.adminPort, method, path);
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(r.allow, 'GET, HEAD', `${method} ${path}`);
    }
  }
  // A large POST body is refused without being taken in.
  assert.equal((await adminCall(fx.h.adminPort, 'POST', '/quitquitquit', Buffer.alloc(4 * 1024 * 1024))).status, 405);
  for (const path of ['/quitquitquit', '/drain_listeners', '/healthcheck/fail', '/logging', '/runtime_modify', '/reset_counters']) {
    assert.equal((await adminGet(fx.h.adminPort, path)).status, 404, `GET ${path}`);
  }
  assert.equal((await adminCall(fx.h.adminPort, 'HEAD', '/ready')).status, 200);
  await assertHealthy(fx);
});

test('admin and logs: no private key anywhere (PEM markers, key bytes, key paths), also after a broken key arrives', { skip, timeout: 30_000 }, async () => {
  // Traffic over both HTTPS listeners, so the logs have something to say.
  for (const configPort of [8443, 9443]) {
    const port = fx.h.ports.find((p) => p.configPort === configPort)?.port;
    assert.ok(port, `listener ${configPort} not bound: ${JSON.stringify(fx.h.ports)}`);
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', port, path: '/tls', servername: 'web.example.com', headers: { host: 'web.example.com' }, ca: readFileSync(certs.ca), agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
    assert.equal(status, 200);
  }
  // A key that cannot be used lands in the watched secret: logged as an error, key not shown.
  const junkKey = `-----BEGIN PRIVATE KEY-----\n${Buffer.from('not-a-real-key-'.repeat(8)).toString('base64')}\n-----END PRIVATE KEY-----\n`;
  writeFileSync(join(secrets, 'web-cert', 'tls.key'), junkKey);
  await waitFor('the reload error to be logged', () => fx.h.logs.some((l) => /certificates not usable/.test(l)), 5000);
  await sleep(100);

  const texts: Array<[string, string]> = [];
  for (const path of PATHS.filter((p) => !/quit|drain|fail|logging|runtime|reset/.test(p))) texts.push([`admin ${path}`, (await adminGet(fx.h.adminPort, path)).body]);
  texts.push(['operational log', fx.h.logs.join('\n')], ['access log', fx.h.access.join('\n')]);
  const keyLines = (f: string): string[] => readFileSync(f, 'utf8').split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'));
  const secretsToFind = [
    'PRIVATE KEY',
    ...keyLines(certs.serverKey).slice(1, 4),
    ...keyLines(certs.clientKey).slice(1, 4),
    Buffer.from('not-a-real-key-'.repeat(8)).toString('base64').slice(0, 40),
    certs.serverKey,
    certs.clientKey,
  ];
  for (const [where, text] of texts) {
    for (const s of secretsToFind) assert.ok(!text.includes(s), `${where} contains ${s.slice(0, 40)}`);
  }
  const dump = JSON.parse(texts.find(([w]) => w === 'admin /config_dump')![1]) as unknown;
  const redacted = JSON.stringify(dump).match(/"privateKey":"[^"]*"/g) ?? [];
  assert.ok(redacted.length >= 2 && redacted.every((m) => m === '"privateKey":"[redacted]"'), redacted.join(' '));
  await assertHealthy(fx);
});
