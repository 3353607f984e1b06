/**
 * ServiceEntry `resolution: DNS` (Envoy STRICT_DNS) and `DNS_ROUND_ROBIN` (LOGICAL_DNS) at
 * runtime: names resolved off the request path and refreshed, every address its own
 * endpoint, the last good answer kept when a refresh fails; a name that never resolved is
 * dialled per connection (503 DF when that fails too).
 *
 * Two "addresses" of one name are two loopback servers on the same port: 127.0.0.1:P and
 * 127.0.0.2:P (Linux routes all of 127/8 to lo). The lookup is a fake the test controls,
 * except where the system resolver is the point (`localhost`, `.invalid`).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { promises as dnsPromises } from 'node:dns';
import type { AddressInfo } from 'node:net';
import { compile, request, startUpstream, type SeenRequest } from '../support/mesh.js';
import { waitFor } from '../support/harness.js';
import { Proxy } from '../../src/dataplane/proxy.js';
import type { StreamInfo } from '../../src/dataplane/http/stream-info.js';
import type { DnsAnswer } from '../../src/dataplane/cluster/dns.js';
import { clusterStatuses } from '../../src/admin/dump.js';
import { Flag } from '../../src/observability/flags.js';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

const sidecar = { role: 'sidecar' as const, namespace: 'default', labels: {} };

interface Server {
  host: string;
  seen: SeenRequest[];
  /** Status to answer with (200 by default). */
  status: number;
}

/** One server per loopback address, all on the same port. */
async function serversOnOnePort(hosts: string[]): Promise<{ port: number; servers: Server[] }> {
  for (let tries = 0; ; tries++) {
    const servers: Server[] = [];
    const closers: http.Server[] = [];
    let port = 0;
    try {
      for (const host of hosts) {
        const s: Server = { host, seen: [], status: 200 };
        const srv = http.createServer((req, res) => {
          s.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
          req.resume();
          res.writeHead(s.status, { 'x-served-by': host });
          res.end(`${host} ${req.url}`);
        });
        closers.push(srv);
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen(port, host, () => resolve());
        });
        port = (srv.address() as AddressInfo).port;
        servers.push(s);
      }
      cleanup.push(() => Promise.all(closers.map((c) => new Promise<void>((r) => (c.close(() => r()), c.closeAllConnections())))).then(() => undefined));
      return { port, servers };
    } catch (e) {
      // The port picked on the first address was taken on another: try a new one.
      for (const c of closers) c.close();
      if (tries >= 5) throw e;
    }
  }
}

/** A lookup the test steers: the current answer per name, or an error. */
function steeredLookup(): { set(name: string, a: string[] | Error): void; lookup: (h: string) => Promise<readonly DnsAnswer[]> } {
  const answers = new Map<string, string[] | Error>();
  return {
    set: (name, a) => answers.set(name, a),
    lookup: async (h) => {
      const a = answers.get(h);
      if (a === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${h}`), { code: 'ENOTFOUND' });
      if (a instanceof Error) throw a;
      return a.map((address) => ({ address, family: 4 }));
    },
  };
}

interface DnsProxy {
  port: number;
  proxy: Proxy;
  completed: StreamInfo[];
  logs: string[];
  cluster(name: string): ReturnType<typeof clusterStatuses>[number];
  /** Hot reload: swap in another config. */
  reload(yaml: string): Promise<void>;
}

async function startDnsProxy(yaml: string, dns: { lookup?: (h: string) => Promise<readonly DnsAnswer[]>; refreshMs?: number } = {}): Promise<DnsProxy> {
  let snap = compile(yaml, sidecar);
  const completed: StreamInfo[] = [];
  const logs: string[] = [];
  const proxy = new Proxy({
    role: 'sidecar',
    outboundPort: 0,
    portOffset: 0,
    bindAddress: '127.0.0.1',
    snapshot: () => snap,
    onComplete: (i) => completed.push(i),
    log: (l) => logs.push(l),
    dns,
  });
  const bound = await proxy.start();
  cleanup.push(() => proxy.close());
  return {
    port: bound[0].port,
    proxy,
    completed,
    logs,
    cluster: (name) => {
      const c = clusterStatuses(proxy.clusters).find((x) => x.name === name);
      assert.ok(c, `cluster ${name} in /clusters`);
      return c;
    },
    reload: (next) => {
      snap = compile(next, sidecar);
      return proxy.reconcile(snap);
    },
  };
}

function serviceEntry(host: string, port: number, resolution: 'DNS' | 'DNS_ROUND_ROBIN', endpoint: string, extra = ''): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${host.split('.')[0]}}
spec:
  hosts: [${host}]
  location: MESH_EXTERNAL
  resolution: ${resolution}
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:
  - address: ${endpoint}
    ports: {http: ${port}}
    labels: {version: v1}
    locality: us-east/zone-a
    weight: 7
---
${extra}`;
}

const CLUSTER = (host: string): string => `outbound|80||${host}`;

test('a DNS ServiceEntry endpoint `localhost` is resolved (system resolver, /etc/hosts) and reached on its IPv4 address', async (t) => {
  const sys = await dnsPromises.lookup('localhost', { all: true }).catch(() => []);
  if (!sys.some((a) => a.address === '127.0.0.1')) return t.skip('localhost does not resolve to 127.0.0.1 here');
  const up = await startUpstream('dns');
  cleanup.push(() => up.close());
  const p = await startDnsProxy(serviceEntry('named.example.com', up.port, 'DNS', 'localhost'));
  await p.proxy.clusters.dns.settled();
  const c = p.cluster(CLUSTER('named.example.com'));
  // V4_PREFERRED: the IPv4 address only, even where localhost is also ::1.
  assert.deepEqual(c.endpoints.map((e) => `${e.address}:${e.port}`), [`127.0.0.1:${up.port}`]);
  const r = await request(p.port, 'named.example.com', '/dns');
  assert.equal(r.status, 200, r.body);
  assert.equal(r.body, 'dns /dns');
  assert.equal(up.seen.at(-1)?.headers.host, 'named.example.com');
  assert.equal(p.completed.at(-1)?.upstreamHost, `127.0.0.1:${up.port}`);
});

test('a name with two addresses is two endpoints (labels, weight, locality carried); both get traffic', async () => {
  const { port, servers } = await serversOnOnePort(['127.0.0.1', '127.0.0.2']);
  const dns = steeredLookup();
  dns.set('two.example.com', ['127.0.0.1', '127.0.0.2']);
  const p = await startDnsProxy(serviceEntry('api.example.com', port, 'DNS', 'two.example.com'), { lookup: dns.lookup });
  await p.proxy.clusters.dns.settled();
  const eps = p.cluster(CLUSTER('api.example.com')).endpoints;
  assert.deepEqual(eps.map((e) => [e.address, e.port, e.weight, e.locality, e.labels.version]), [
    ['127.0.0.1', port, 7, 'us-east/zone-a', 'v1'],
    ['127.0.0.2', port, 7, 'us-east/zone-a', 'v1'],
  ]);
  // The default balancer (LEAST_REQUEST) picks at random among idle hosts: 20 requests miss
  // one of two hosts with probability 2^-19.
  for (let i = 0; i < 20; i++) assert.equal((await request(p.port, 'api.example.com', `/r${i}`)).status, 200);
  assert.ok(servers[0].seen.length >= 1 && servers[1].seen.length >= 1, `split ${servers[0].seen.length}/${servers[1].seen.length}`);
  assert.equal(servers[0].seen.length + servers[1].seen.length, 20);
  assert.equal(servers[1].seen[0].headers.host, 'api.example.com');
});

test('each address is outlier-detected on its own: a failing one is ejected, the other keeps serving', async () => {
  const { port, servers } = await serversOnOnePort(['127.0.0.1', '127.0.0.2']);
  servers[1].status = 500;
  const dns = steeredLookup();
  dns.set('od.example.com', ['127.0.0.1', '127.0.0.2']);
  const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: od}
spec:
  host: api2.example.com
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 1, interval: 10s, baseEjectionTime: 30s, maxEjectionPercent: 100}
`;
  const p = await startDnsProxy(serviceEntry('api2.example.com', port, 'DNS', 'od.example.com', dr), { lookup: dns.lookup });
  await p.proxy.clusters.dns.settled();
  for (let i = 0; i < 4; i++) await request(p.port, 'api2.example.com', '/');
  const eps = p.cluster(CLUSTER('api2.example.com')).endpoints;
  assert.deepEqual(eps.map((e) => [e.address, e.health]), [['127.0.0.1', 'healthy'], ['127.0.0.2', 'ejected']]);
  const before = servers[1].seen.length;
  for (let i = 0; i < 4; i++) assert.equal((await request(p.port, 'api2.example.com', '/')).status, 200);
  assert.equal(servers[1].seen.length, before, 'the ejected address gets nothing');
});

test('a refresh picks up a changed address set; a failed refresh keeps the last good addresses', async () => {
  const { port, servers } = await serversOnOnePort(['127.0.0.1', '127.0.0.2']);
  const dns = steeredLookup();
  dns.set('moving.example.com', ['127.0.0.1']);
  const p = await startDnsProxy(serviceEntry('moving.example.com', port, 'DNS', 'moving.example.com'), { lookup: dns.lookup, refreshMs: 50 });
  await p.proxy.clusters.dns.settled();
  assert.match((await request(p.port, 'moving.example.com', '/a')).body, /^127\.0\.0\.1 /);

  dns.set('moving.example.com', ['127.0.0.2']);
  await waitFor('the new address', () => p.cluster(CLUSTER('moving.example.com')).endpoints.map((e) => e.address).join() === '127.0.0.2');
  assert.match((await request(p.port, 'moving.example.com', '/b')).body, /^127\.0\.0\.2 /);
  assert.ok(p.logs.includes('dns: moving.example.com now resolves to 127.0.0.2 (was 127.0.0.1)'), p.logs.join('\n'));

  dns.set('moving.example.com', Object.assign(new Error('queryA ESERVFAIL moving.example.com'), { code: 'ESERVFAIL' }));
  const failuresBefore = p.proxy.clusters.dns.status()[0].failures;
  await waitFor('two failed refreshes', () => p.proxy.clusters.dns.status()[0].failures >= failuresBefore + 2);
  assert.deepEqual(p.cluster(CLUSTER('moving.example.com')).endpoints.map((e) => e.address), ['127.0.0.2']);
  const r = await request(p.port, 'moving.example.com', '/c');
  assert.equal(r.status, 200);
  assert.match(r.body, /^127\.0\.0\.2 /);
  assert.equal(servers[1].seen.at(-1)?.url, '/c');
  assert.equal(p.logs.filter((l) => l.startsWith('warning: dns: lookup of moving.example.com failed')).length, 1, 'one warning per failure streak');
});

test('DNS_ROUND_ROBIN (LOGICAL_DNS): one endpoint, on the first address, following it on refresh', async () => {
  const { port, servers } = await serversOnOnePort(['127.0.0.1', '127.0.0.2']);
  const dns = steeredLookup();
  dns.set('logical.example.com', ['127.0.0.2', '127.0.0.1']);
  const p = await startDnsProxy(serviceEntry('logical.example.com', port, 'DNS_ROUND_ROBIN', 'logical.example.com'), { lookup: dns.lookup, refreshMs: 50 });
  await p.proxy.clusters.dns.settled();
  assert.deepEqual(p.cluster(CLUSTER('logical.example.com')).endpoints.map((e) => e.address), ['127.0.0.2']);
  for (let i = 0; i < 4; i++) assert.equal((await request(p.port, 'logical.example.com', '/')).status, 200);
  assert.equal(servers[1].seen.length, 4);
  assert.equal(servers[0].seen.length, 0);

  dns.set('logical.example.com', ['127.0.0.1', '127.0.0.2']);
  await waitFor('the first address to move', () => p.cluster(CLUSTER('logical.example.com')).endpoints.map((e) => e.address).join() === '127.0.0.1');
  const ep = p.cluster(CLUSTER('logical.example.com')).endpoints[0];
  // The logical host keeps its counters across the address change.
  assert.equal(ep.totalRequests, p.completed.length);
  assert.equal((await request(p.port, 'logical.example.com', '/')).status, 200);
  assert.equal(servers[0].seen.length, 1);
});

test('a name that never resolves: 503 with flag DF (resolved per connection meanwhile), and the proxy keeps serving', async () => {
  const dns = steeredLookup(); // knows no name
  const p = await startDnsProxy(serviceEntry('named.example.com', 1, 'DNS', 'no-such-host.invalid'), { lookup: dns.lookup, refreshMs: 50 });
  await p.proxy.clusters.dns.settled();
  assert.deepEqual(p.cluster(CLUSTER('named.example.com')).endpoints.map((e) => e.address), ['no-such-host.invalid']);
  const r = await request(p.port, 'named.example.com', '/dns');
  assert.equal(r.status, 503);
  assert.match(r.body, /^upstream connect error or disconnect\/reset before headers\. reset reason: connection failure, transport failure reason: DNS resolution failed/);
  const info = p.completed.at(-1)!;
  assert.ok(info.flags & Flag.DF, `flags ${info.flags}`);
  assert.equal((await request(p.port, 'named.example.com', '/again')).status, 503);
  assert.ok(p.logs.some((l) => /^warning: dns: lookup of no-such-host\.invalid failed \(getaddrinfo ENOTFOUND no-such-host\.invalid\)/.test(l)), p.logs.join('\n'));
});

test('closing the proxy stops the DNS refresh timers', async () => {
  const dns = steeredLookup();
  dns.set('closing.example.com', ['127.0.0.1']);
  const p = await startDnsProxy(serviceEntry('closing.example.com', 1, 'DNS', 'closing.example.com'), { lookup: dns.lookup, refreshMs: 20 });
  await p.proxy.clusters.dns.settled();
  assert.equal(p.proxy.clusters.dns.status().length, 1);
  await p.proxy.close();
  assert.equal(p.proxy.clusters.dns.status().length, 0);
});

test('a config reload keeps resolved addresses: a changed cluster is rebuilt on them, a dropped name stops refreshing', async () => {
  const { port, servers } = await serversOnOnePort(['127.0.0.1', '127.0.0.2']);
  const dns = steeredLookup();
  dns.set('reload.example.com', ['127.0.0.1', '127.0.0.2']);
  const se = serviceEntry('reload.example.com', port, 'DNS', 'reload.example.com');
  const p = await startDnsProxy(se, { lookup: dns.lookup, refreshMs: 60_000 });
  await p.proxy.clusters.dns.settled();
  const dr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: rr}
spec:
  host: reload.example.com
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
`;
  await p.reload(se + dr);
  const c = p.cluster(CLUSTER('reload.example.com'));
  assert.equal(c.loadBalancer, 'ROUND_ROBIN');
  assert.deepEqual(c.endpoints.map((e) => e.address), ['127.0.0.1', '127.0.0.2'], 'no fall back to the name');
  for (let i = 0; i < 4; i++) assert.equal((await request(p.port, 'reload.example.com', '/')).status, 200);
  assert.deepEqual([servers[0].seen.length, servers[1].seen.length], [2, 2], 'round robin over both addresses');

  await p.reload(serviceEntry('other.example.com', port, 'DNS', '127.0.0.1'));
  assert.deepEqual(p.proxy.clusters.dns.status(), []);
});
