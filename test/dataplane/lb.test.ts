/**
 * Load balancing against real upstreams: ROUND_ROBIN, RANDOM, LEAST_REQUEST (the default),
 * consistent hash on header / cookie (generated with ttl) / query parameter / source IP,
 * ring hash and Maglev stability when an endpoint is removed by a hot reload, endpoint
 * weights, and the upstream protocol choice (h2UpgradePolicy, useClientProtocol, HTTP2 port).
 * Requests are sequential wherever the balancer's state makes the expected result exact.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { compile, request, requestH2, serviceEntry, startProxy, startUpstream, type RunningProxy, type Upstream } from '../support/mesh.js';
import { clusterStatuses } from '../../src/admin/dump.js';
import { adminGet, configDir, startDualUpstream, startRuntime, waitFor, type DualUpstream } from '../support/harness.js';

const sidecar = { role: 'sidecar' as const, namespace: 'default', labels: { app: 'client' } };

let ups: Upstream[] = [];
let dual: DualUpstream;
let p: RunningProxy;
/** Responses held open by the `/hang` path, released by `releaseHung()`. */
const hung: http.ServerResponse[] = [];

function eps(n: number, weights?: number[]): Array<{ port: number; labels: Record<string, string>; weight?: number }> {
  return ups.slice(0, n).map((u, i) => ({ port: u.port, labels: { name: u.name }, ...(weights ? { weight: weights[i] } : {}) }));
}

function dr(host: string, trafficPolicy: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${host}}
spec:
  host: ${host}
  trafficPolicy:
${trafficPolicy.replace(/^/gm, '    ')}
---
`;
}

function config(): string {
  return (
    serviceEntry('rr', 'default', 80, eps(3)) +
    dr('rr', 'loadBalancer: {simple: ROUND_ROBIN}') +
    serviceEntry('rnd', 'default', 80, eps(3)) +
    dr('rnd', 'loadBalancer: {simple: RANDOM}') +
    serviceEntry('lr', 'default', 80, eps(3)) +
    serviceEntry('hdr', 'default', 80, eps(4)) +
    dr('hdr', 'loadBalancer: {consistentHash: {httpHeaderName: x-user}}') +
    serviceEntry('cookie', 'default', 80, eps(4)) +
    dr('cookie', 'loadBalancer: {consistentHash: {httpCookie: {name: sticky, path: /, ttl: 60s}}}') +
    serviceEntry('query', 'default', 80, eps(4)) +
    dr('query', 'loadBalancer: {consistentHash: {httpQueryParameterName: user}}') +
    serviceEntry('srcip', 'default', 80, eps(4)) +
    dr('srcip', 'loadBalancer: {consistentHash: {useSourceIp: true}}') +
    serviceEntry('wrr', 'default', 80, eps(2, [3, 1])) +
    dr('wrr', 'loadBalancer: {simple: ROUND_ROBIN}') +
    serviceEntry('wlr', 'default', 80, eps(2, [3, 1])) +
    serviceEntry('h1only', 'default', 80, [{ port: dual.port, labels: {} }]) +
    serviceEntry('upgrade', 'default', 80, [{ port: dual.port, labels: {} }]) +
    dr('upgrade', 'connectionPool: {http: {h2UpgradePolicy: UPGRADE}}') +
    serviceEntry('clientproto', 'default', 80, [{ port: dual.port, labels: {} }]) +
    dr('clientproto', 'connectionPool: {http: {useClientProtocol: true}}') +
    serviceEntry('h2port', 'default', 80, [{ port: dual.port, labels: {} }], 'HTTP2')
  );
}

before(async () => {
  ups = await Promise.all(['u0', 'u1', 'u2', 'u3', 'u4'].map((n) => startUpstream(n)));
  for (const u of ups) {
    u.respond = (r, res) => {
      if (r.url.startsWith('/hang')) {
        hung.push(res);
        return;
      }
      res.setHeader('x-upstream', u.name);
      res.end(u.name);
    };
  }
  dual = await startDualUpstream('dual');
  p = await startProxy(compile(config(), sidecar));
});

after(async () => {
  releaseHung();
  await p?.close();
  await Promise.all([...ups.map((u) => u.close()), dual?.close()]);
});

function releaseHung(): void {
  for (const res of hung.splice(0)) res.end('released');
}

/** Sends `n` sequential requests and counts answers per upstream name. */
async function tally(host: string, n: number, path = '/', headers: Record<string, string> = {}): Promise<{ counts: Map<string, number>; order: string[] }> {
  const counts = new Map<string, number>();
  const order: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await request(p.port, host, path, { headers });
    assert.equal(r.status, 200, `${host}: ${r.status} ${r.body}`);
    counts.set(r.body, (counts.get(r.body) ?? 0) + 1);
    order.push(r.body);
  }
  return { counts, order };
}

test('ROUND_ROBIN: 3 endpoints x 300 sequential requests, each endpoint gets 100 ±1, in strict rotation', { timeout: 30_000 }, async () => {
  const { counts, order } = await tally('rr', 300);
  assert.equal(counts.size, 3);
  for (const [name, c] of counts) assert.ok(Math.abs(c - 100) <= 1, `${name} got ${c}`);
  // Strict rotation: every window of 3 consecutive answers names 3 different endpoints.
  for (let i = 0; i + 3 <= order.length; i++) assert.equal(new Set(order.slice(i, i + 3)).size, 3, `window at ${i}: ${order.slice(i, i + 3).join(',')}`);
});

test('RANDOM: every endpoint gets a fair share (300 requests, each 100 ±45) and the order is not a rotation', { timeout: 30_000 }, async () => {
  const { counts, order } = await tally('rnd', 300);
  assert.equal(counts.size, 3);
  for (const [name, c] of counts) assert.ok(c >= 55 && c <= 145, `${name} got ${c}`);
  let repeats = 0;
  for (let i = 1; i < order.length; i++) if (order[i] === order[i - 1]) repeats++;
  // Random picks repeat the previous endpoint about 1/3 of the time; a rotation never does.
  assert.ok(repeats > 30, `only ${repeats} immediate repeats: looks like round robin`);
});

test('LEAST_REQUEST is the default: spreads idle load over all endpoints, and avoids a busy one', { timeout: 30_000 }, async () => {
  const lr = clusterStatuses(p.proxy.clusters).find((x) => x.host === 'lr.default.svc.cluster.local');
  assert.equal(lr?.loadBalancer, 'LEAST_REQUEST');
  const idle = await tally('lr', 150);
  assert.equal(idle.counts.size, 3);
  for (const [name, c] of idle.counts) assert.ok(c >= 25, `${name} got only ${c} of 150`);

  // One request held open on some endpoint: P2C compares the pair and never picks the busy
  // endpoint while another of the pair is idle, so 60 new requests all go elsewhere.
  const seenBefore = ups.map((u) => u.seen.length);
  const held = request(p.port, 'lr', '/hang');
  const busy = await waitFor('the held request to reach an upstream', () => ups.find((u, i) => u.seen.length > seenBefore[i] && u.seen.at(-1)!.url === '/hang'));
  const after = await tally('lr', 60);
  assert.equal(after.counts.get(busy.name) ?? 0, 0, `busy endpoint ${busy.name} still got requests: ${JSON.stringify([...after.counts])}`);
  releaseHung();
  assert.equal((await held).body, 'released');
});

test('endpoint weights: ROUND_ROBIN 3:1 gives exactly 150/50 of 200; LEAST_REQUEST 3:1 gives 75% ±5', { timeout: 30_000 }, async () => {
  const rr = await tally('wrr', 200);
  assert.ok(Math.abs((rr.counts.get('u0') ?? 0) - 150) <= 1, JSON.stringify([...rr.counts]));
  assert.ok(Math.abs((rr.counts.get('u1') ?? 0) - 50) <= 1, JSON.stringify([...rr.counts]));
  const lr = await tally('wlr', 200);
  const share = (100 * (lr.counts.get('u0') ?? 0)) / 200;
  assert.ok(Math.abs(share - 75) <= 5, `u0 got ${share}%`);
});

test('consistent hash on a header: a key always reaches the same endpoint; keys spread', { timeout: 30_000 }, async () => {
  const home = new Map<string, string>();
  for (let round = 0; round < 3; round++) {
    for (let k = 0; k < 40; k++) {
      const r = await request(p.port, 'hdr', '/', { headers: { 'x-user': `user-${k}` } });
      const prev = home.get(`user-${k}`);
      if (prev) assert.equal(r.body, prev, `user-${k} moved`);
      else home.set(`user-${k}`, r.body);
    }
  }
  assert.ok(new Set(home.values()).size >= 3, `40 keys landed on ${new Set(home.values()).size} endpoints`);
});

test('consistent hash on a cookie: generated with Max-Age and Path when absent; replaying it sticks', { timeout: 30_000 }, async () => {
  const first = await request(p.port, 'cookie', '/');
  const sc = first.headers['set-cookie'];
  assert.ok(sc && sc.length === 1, `no Set-Cookie: ${JSON.stringify(first.headers)}`);
  const m = /^sticky=([^;]+);/.exec(sc[0]);
  assert.ok(m, sc[0]);
  assert.match(sc[0], /; Max-Age=60(;|$)/);
  assert.match(sc[0], /; Path=\/(;|$)/);
  for (let i = 0; i < 20; i++) {
    const r = await request(p.port, 'cookie', '/', { headers: { cookie: `other=1; sticky=${m[1]}` } });
    assert.equal(r.body, first.body, `request ${i} with the cookie moved`);
    assert.equal(r.headers['set-cookie'], undefined, 'no new cookie when the client sent one');
  }
  // Different generated cookies land on different endpoints (fresh clients spread).
  const homes = new Set<string>();
  for (let i = 0; i < 30; i++) homes.add((await request(p.port, 'cookie', '/')).body);
  assert.ok(homes.size >= 2, `30 new clients all on ${[...homes].join(',')}`);
});

test('consistent hash on a query parameter: sticky per value, spread across values', { timeout: 30_000 }, async () => {
  const home = new Map<string, string>();
  for (let round = 0; round < 3; round++) {
    for (let k = 0; k < 30; k++) {
      const r = await request(p.port, 'query', `/q?a=1&user=u${k}&b=2`);
      const prev = home.get(`u${k}`);
      if (prev) assert.equal(r.body, prev, `user=u${k} moved`);
      else home.set(`u${k}`, r.body);
    }
  }
  assert.ok(new Set(home.values()).size >= 3);
});

test('consistent hash on the source IP: each client address sticks to one endpoint', { timeout: 30_000 }, async (t) => {
  // The whole 127/8 is loopback on Linux; elsewhere only 127.0.0.1 may exist.
  const addrs = Array.from({ length: 16 }, (_, i) => `127.0.0.${i + 1}`);
  const usable: string[] = [];
  for (const a of addrs) if (await canBind(a)) usable.push(a);
  const home = new Map<string, string>();
  for (let round = 0; round < 3; round++) {
    for (const a of usable) {
      const r = await requestFrom(a, 'srcip');
      const prev = home.get(a);
      if (prev) assert.equal(r, prev, `${a} moved`);
      else home.set(a, r);
    }
  }
  t.diagnostic(`${usable.length} source addresses, ${new Set(home.values()).size} endpoints`);
  if (usable.length < 8) t.diagnostic(`only ${usable.length} loopback source addresses usable: spread not checked`);
  else assert.ok(new Set(home.values()).size >= 2, `${usable.length} source IPs all on one endpoint`);
});

function canBind(addr: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: p.port, localAddress: addr });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function requestFrom(localAddress: string, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: p.port, path: '/', headers: { host }, localAddress, agent: false, timeout: 5000 }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (b += c));
      res.on('end', () => resolve(b));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('upstream protocol: HTTP port -> HTTP/1.1; h2UpgradePolicy UPGRADE -> HTTP/2; useClientProtocol follows the client; HTTP2 port -> HTTP/2', { timeout: 30_000 }, async () => {
  assert.equal((await request(p.port, 'h1only', '/')).body, 'dual 1.1');
  assert.equal((await requestH2(p.port, 'h1only', '/')).body, 'dual 1.1', 'default: h2 downstream still h1 upstream');
  assert.equal((await request(p.port, 'upgrade', '/')).body, 'dual 2.0');
  assert.equal((await request(p.port, 'clientproto', '/')).body, 'dual 1.1');
  assert.equal((await requestH2(p.port, 'clientproto', '/')).body, 'dual 2.0');
  assert.equal((await request(p.port, 'h2port', '/')).body, 'dual 2.0');
  // The HTTP/2 upstream request carries the route's authority, not the h1 Host header.
  const last = dual.seen.at(-1)!;
  assert.equal(last.headers[':authority'], 'h2port');
});

test('hot reload of the ServiceEntry: removing an endpoint moves only its own keys (ring hash and Maglev)', { timeout: 30_000 }, async (t) => {
  const cfg = configDir();
  t.after(() => cfg.cleanup());
  const yaml = (n: number): string =>
    serviceEntry('ring', 'default', 80, eps(n)) +
    dr('ring', 'loadBalancer: {consistentHash: {httpHeaderName: x-user}}') +
    serviceEntry('mag', 'default', 80, eps(n)) +
    dr('mag', 'loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 65537}}}');
  cfg.write('mesh.yaml', yaml(5));
  const h = await startRuntime([cfg.dir], { accessLog: false });
  t.after(() => h.close());
  const keys = Array.from({ length: 120 }, (_, i) => `key-${i}`);
  const map = async (host: string): Promise<Map<string, string>> => {
    const m = new Map<string, string>();
    for (const k of keys) m.set(k, (await request(h.port, host, '/', { headers: { 'x-user': k } })).body);
    return m;
  };
  const before = { ring: await map('ring'), mag: await map('mag') };
  const version = h.rt.controller.current()!.version;
  cfg.write('mesh.yaml', yaml(4)); // u4 removed
  await waitFor('the reload', () => h.rt.controller.current()!.version > version, 5000);
  const admin = JSON.parse((await adminGet(h.adminPort, '/clusters?format=json')).body) as { cluster_statuses: Array<{ host: string; endpoints: unknown[] }> };
  assert.equal(admin.cluster_statuses.find((c) => c.host === 'ring.default.svc.cluster.local')!.endpoints.length, 4);
  for (const host of ['ring', 'mag'] as const) {
    const after = await map(host);
    let lost = 0;
    let movedOthers = 0;
    for (const k of keys) {
      const was = before[host].get(k)!;
      const now = after.get(k)!;
      assert.notEqual(now, 'u4', `${host}: ${k} still on the removed endpoint`);
      if (was === 'u4') lost++;
      else if (now !== was) movedOthers++;
    }
    t.diagnostic(`${host}: lost ${lost}, moved others ${movedOthers}`);
    assert.ok(lost > 0, `${host}: no key was on u4`);
    // Modulo hashing would move ~80% of all keys; a consistent hash moves the removed
    // endpoint's keys plus at most a few others.
    assert.ok(movedOthers <= keys.length * 0.05, `${host}: ${movedOthers} keys of surviving endpoints moved`);
  }
});
