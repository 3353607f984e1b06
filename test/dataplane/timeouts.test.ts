/**
 * Timeouts through the proxy: the route timeout (504 UT, covering retries), none by default,
 * gRPC `grpc-timeout` (DEADLINE_EXCEEDED), the connect timeout against a port that never
 * answers a handshake, and the connection-pool lifetimes (idle timeout, max connection
 * duration, max requests per connection).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { compile, request, startProxy, type RunningProxy, type Upstream } from '../support/mesh.js';
import { answer, blackhole, clusterOf, dr, fresh, h2Request, scripted, service, sidecar, sleep, startH2Upstream, timed, vs, type Script } from './resilience-kit.js';
import { Flag } from '../../src/observability/flags.js';
import type { StreamInfo } from '../../src/dataplane/http/stream-info.js';

const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

async function setup(yaml: string): Promise<RunningProxy> {
  const p = await startProxy(compile(yaml, sidecar));
  cleanup.push(() => p.close());
  return p;
}

async function upstream(name: string, script: Script): Promise<Upstream> {
  const u = await scripted(name, script);
  cleanup.push(() => u.close());
  return u;
}

const last = (p: RunningProxy): StreamInfo => p.completed[p.completed.length - 1];

test('route timeout: a 3 s upstream with timeout 500ms gets 504 `upstream request timeout` (UT) in 0.5 s', { timeout: 20_000 }, async () => {
  const u = await upstream('svc', (_r, res) => answer(res, 200, 'late', 3000));
  const p = await setup(service('svc', [{ port: u.port }]) + vs('svc', 'timeout: 500ms'));
  const r = await fresh(p.port, 'svc', '/');
  assert.equal(r.status, 504);
  assert.equal(r.body, 'upstream request timeout');
  assert.ok(Math.abs(r.ms - 500) <= 200, `took ${r.ms.toFixed(0)} ms`);
  assert.equal(u.seen[0].headers['x-envoy-expected-rq-timeout-ms'], '500');
  assert.equal(last(p).flags, Flag.UT);
  assert.equal(last(p).details, 'upstream_response_timeout');
  assert.equal(p.proxy.clusters.get(clusterOf('svc'))!.shared.stats.upstreamRqTimeout, 1);
});

test('the route timeout covers every attempt and the back-off between them', { timeout: 20_000 }, async () => {
  const u = await upstream('svc', (_r, res) => answer(res, 503, '', 150));
  const p = await setup(service('svc', [{ port: u.port }]) + vs('svc', 'timeout: 400ms\nretries: {attempts: 10, retryOn: 5xx}'));
  const r = await fresh(p.port, 'svc', '/');
  assert.equal(r.status, 504);
  assert.ok(Math.abs(r.ms - 400) <= 200, `took ${r.ms.toFixed(0)} ms`);
  assert.ok(u.seen.length >= 2 && u.seen.length <= 3, `${u.seen.length} attempts`);
  assert.equal(last(p).flags & Flag.UT, Flag.UT);
});

test('no timeout by default: a 600 ms upstream is waited for; no x-envoy-expected-rq-timeout-ms', { timeout: 20_000 }, async () => {
  const u = await upstream('svc', (_r, res) => answer(res, 200, 'slow but fine', 600));
  const p = await setup(service('svc', [{ port: u.port }]));
  const r = await timed(request(p.port, 'svc', '/'));
  assert.equal(r.status, 200);
  assert.ok(r.ms >= 590, `took ${r.ms} ms`);
  assert.equal(u.seen[0].headers['x-envoy-expected-rq-timeout-ms'], undefined);
});

test('gRPC: grpc-timeout is the route timeout (capped by the VS timeout); the client gets DEADLINE_EXCEEDED', { timeout: 20_000 }, async () => {
  const u = await startH2Upstream();
  cleanup.push(() => u.close());
  // Never answers unless the proxy gives up first.
  u.respond = (_h, s) => {
    const t = setTimeout(() => s.destroyed || s.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '0' }, { endStream: true }), 3000);
    s.on('close', () => clearTimeout(t));
  };
  const p = await setup(service('rpc', [{ port: u.port }], 'GRPC') + service('capped', [{ port: u.port }], 'GRPC') + vs('capped', 'timeout: 200ms'));
  const call = (host: string, timeout?: string) =>
    h2Request(p.port, { ':method': 'POST', ':path': '/test.Echo/Unary', ':authority': host, 'content-type': 'application/grpc', te: 'trailers', ...(timeout ? { 'grpc-timeout': timeout } : {}) });

  const r = await call('rpc', '300m');
  assert.equal(r.status, 200);
  assert.equal(r.headers['grpc-status'], '4', 'DEADLINE_EXCEEDED');
  assert.equal(decodeURIComponent(String(r.headers['grpc-message'])), 'upstream request timeout');
  assert.ok(Math.abs(r.ms - 300) <= 200, `took ${r.ms.toFixed(0)} ms`);
  assert.equal(u.seen[0]['grpc-timeout'], '300m', 'the upstream is told the deadline');

  const c = await call('capped', '5S');
  assert.equal(c.headers['grpc-status'], '4');
  assert.ok(Math.abs(c.ms - 200) <= 200, `VS timeout caps grpc-timeout: took ${c.ms.toFixed(0)} ms`);
  assert.equal(u.seen[1]['grpc-timeout'], '200m');
  assert.equal(u.seen[1]['x-envoy-expected-rq-timeout-ms'], '200');
});

test('connectTimeout: a host that never completes the handshake fails after connectTimeout with 503 UF', { timeout: 20_000 }, async () => {
  const hole = await blackhole();
  cleanup.push(() => hole.close());
  const p = await setup(service('svc', [{ port: hole.port }]) + dr('svc', 'connectionPool: {tcp: {connectTimeout: 300ms}}') + vs('svc', 'retries: {attempts: 0}'));
  const r = await fresh(p.port, 'svc', '/');
  assert.equal(r.status, 503);
  assert.match(r.body, /reset reason: connection failure/);
  assert.ok(r.ms >= 280 && r.ms < 900, `took ${r.ms.toFixed(0)} ms`);
  assert.equal(last(p).flags, Flag.UF);
  const st = p.proxy.clusters.get(clusterOf('svc'))!.shared.stats;
  assert.equal(st.upstreamCxConnectFail, 1);
  assert.equal(st.upstreamCxConnectTimeout, 1);
});

test('http.idleTimeout closes idle upstream connections; maxConnectionDuration retires old ones; maxRequestsPerConnection: 1 uses a connection per request', { timeout: 20_000 }, async () => {
  // Connections told apart by socket identity (a closed connection's port can be reused).
  const ids = new WeakMap<object, number>();
  const conns: number[] = [];
  let next = 0;
  const u = await upstream('svc', (_r, res) => {
    const sock = res.socket as object;
    if (!ids.has(sock)) ids.set(sock, ++next);
    conns.push(ids.get(sock)!);
    answer(res, 200);
  });
  const yaml =
    service('keep', [{ port: u.port }]) +
    service('idle', [{ port: u.port }]) + dr('idle', 'connectionPool: {http: {idleTimeout: 150ms}}') +
    service('aged', [{ port: u.port }]) + dr('aged', 'connectionPool: {tcp: {maxConnectionDuration: 150ms}}') +
    service('once', [{ port: u.port }]) + dr('once', 'connectionPool: {http: {maxRequestsPerConnection: 1}}');
  const p = await setup(yaml);
  const ports = async (host: string, pauseMs: number): Promise<number[]> => {
    const from = u.seen.length;
    await request(p.port, host, '/');
    await sleep(pauseMs);
    await request(p.port, host, '/');
    await request(p.port, host, '/');
    return conns.slice(from);
  };
  const keep = await ports('keep', 350);
  assert.equal(new Set(keep).size, 1, 'default pool keeps its connection');
  const idle = await ports('idle', 350);
  assert.equal(idle[1], idle[2], 'busy connection reused');
  assert.notEqual(idle[0], idle[1], 'idle connection closed after idleTimeout');
  const aged = await ports('aged', 350);
  assert.notEqual(aged[0], aged[1], 'connection older than maxConnectionDuration replaced');
  const once = await ports('once', 0);
  assert.equal(new Set(once).size, 3, 'one request per connection');
});
