/**
 * Fault injection through the proxy: abort percentages over many requests, the fixed delay
 * (flag DI, not counted against the route timeout), aborts never retried nor sent upstream,
 * gRPC status aborts, and Istio's "absent percentage = 0 %".
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { compile, request, seeded, startProxy, type RunningProxy, type Upstream } from '../support/mesh.js';
import { answer, fresh, h2Request, scripted, service, sidecar, startH2Upstream, timed, vs } from './resilience-kit.js';
import { Flag } from '../../src/observability/flags.js';
import type { StreamInfo } from '../../src/dataplane/http/stream-info.js';

const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

let u: Upstream;
async function setup(rule: string, rnd?: () => number): Promise<RunningProxy> {
  const up = await scripted('svc', (_r, res) => answer(res, 200, 'upstream'));
  u = up;
  cleanup.push(() => up.close());
  const p = await startProxy(compile(service('svc', [{ port: u.port }]) + vs('svc', rule), sidecar), { rnd });
  cleanup.push(() => p.close());
  return p;
}

const last = (p: RunningProxy): StreamInfo => p.completed[p.completed.length - 1];

test('a 50 % abort lands within ±6 points over 1,000 requests; aborted requests never reach the upstream', { timeout: 30_000 }, async () => {
  const p = await setup('fault: {abort: {httpStatus: 503, percentage: {value: 50}}}', seeded(42));
  const n = 1000;
  let aborted = 0;
  for (let i = 0; i < n; i++) {
    const r = await request(p.port, 'svc', `/${i}`);
    if (r.status === 503) {
      assert.equal(r.body, 'fault filter abort');
      aborted++;
    } else assert.equal(r.body, 'upstream');
  }
  const pct = (100 * aborted) / n;
  assert.ok(Math.abs(pct - 50) <= 6, `aborted ${pct} %`);
  assert.equal(u.seen.length, n - aborted);
  const fi = p.completed.filter((i) => i.flags === Flag.FI);
  assert.equal(fi.length, aborted);
  assert.ok(fi.every((i) => i.details === 'fault_filter_abort' && i.attempts === 0 && i.upstreamCluster === 'outbound|80||svc.default.svc.cluster.local'));
});

test('fixedDelay: the response comes after the delay (DI); the delay does not count against the route timeout', { timeout: 20_000 }, async () => {
  const p = await setup('timeout: 200ms\nfault: {delay: {fixedDelay: 400ms, percentage: {value: 100}}}');
  const r = await timed(request(p.port, 'svc', '/'));
  assert.equal(r.status, 200);
  assert.equal(r.body, 'upstream');
  assert.ok(r.ms >= 395 && r.ms < 900, `took ${r.ms.toFixed(0)} ms`);
  assert.equal(last(p).flags, Flag.DI);
});

test('delay and abort together: delayed first, then aborted (DI,FI)', { timeout: 20_000 }, async () => {
  const p = await setup('fault: {delay: {fixedDelay: 200ms, percentage: {value: 100}}, abort: {httpStatus: 418, percentage: {value: 100}}}');
  const r = await timed(request(p.port, 'svc', '/'));
  assert.equal(r.status, 418);
  assert.ok(r.ms >= 195, `took ${r.ms.toFixed(0)} ms`);
  assert.equal(last(p).flags, Flag.DI | Flag.FI);
  assert.equal(u.seen.length, 0);
});

test('an abort is never retried, even under retryOn 5xx', { timeout: 20_000 }, async () => {
  const p = await setup('retries: {attempts: 3, retryOn: 5xx}\nfault: {abort: {httpStatus: 503, percentage: {value: 100}}}');
  for (let i = 0; i < 3; i++) assert.equal((await request(p.port, 'svc', '/')).status, 503);
  assert.equal(u.seen.length, 0);
});

test('absent percentage means 0 %: nothing is delayed or aborted', { timeout: 20_000 }, async () => {
  const p = await setup('fault: {abort: {httpStatus: 500}, delay: {fixedDelay: 5s}}');
  for (let i = 0; i < 20; i++) {
    const r = await timed(request(p.port, 'svc', '/'));
    assert.equal(r.status, 200);
    assert.ok(r.ms < 1000);
  }
  assert.equal(u.seen.length, 20);
});

test('abort.grpcStatus: a gRPC client gets that grpc-status (Trailers-Only); a plain HTTP client gets 200 `fault filter abort`', { timeout: 20_000 }, async () => {
  const h2 = await startH2Upstream();
  cleanup.push(() => h2.close());
  const p = await startProxy(compile(service('rpc', [{ port: h2.port }], 'GRPC') + vs('rpc', 'fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}'), sidecar));
  cleanup.push(() => p.close());
  const r = await h2Request(p.port, { ':method': 'POST', ':path': '/test.Echo/Unary', ':authority': 'rpc', 'content-type': 'application/grpc', te: 'trailers' });
  assert.equal(r.status, 200);
  assert.equal(r.headers['grpc-status'], '14');
  assert.equal(r.headers['grpc-message'], 'fault filter abort');
  assert.equal(last(p).flags, Flag.FI);
  assert.equal(last(p).grpcStatus, '14');
  const plain = await fresh(p.port, 'rpc', '/');
  assert.equal(plain.status, 200);
  assert.equal(plain.body, 'fault filter abort');
  assert.equal(h2.seen.length, 0);
});
