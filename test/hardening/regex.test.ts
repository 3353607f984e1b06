/**
 * Regex safety (reliability-security.md §2.13): config regexes run on RE2 semantics
 * (re2js, linear time), so patterns that make a backtracking engine explode
 * (`(a+)+$` on 'a'x50 + 'b' would take JavaScript's RegExp months: 10 s at 29 characters,
 * doubling with each one more) are answered in well under 50 ms, through the compiled snapshot's own matcher
 * and through the running proxy, with the event loop never stalled; backreferences and
 * lookaround, which no linear engine can run, are refused at validation.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadText } from '../../src/api/load.js';
import { validateResources } from '../../src/validate/index.js';
import { compile } from '../support/mesh.js';
import { matchRoute, selectRouteTable, selectVirtualHost, type RequestInfo } from '../../src/dataplane/router/match.js';
import { assertHealthy, send, settle, startFixture, webService, type Fixture } from './kit.js';

/** Known catastrophic-backtracking patterns and inputs that trigger them. */
const EVIL: Array<{ pattern: string; input: string }> = [
  { pattern: '(a+)+$', input: `/${'a'.repeat(50)}b` },
  { pattern: '/(a|aa)+$', input: `/${'a'.repeat(60)}!` },
  { pattern: '/(a|a)*c', input: `/${'a'.repeat(60)}d` },
  { pattern: '/w(\\w+-?)*$', input: `/${'word-'.repeat(30)}word!` },
  { pattern: '/(x+x+)+y', input: `/${'x'.repeat(5000)}` },
];

function vs(): string {
  const uri = EVIL.map((e, i) => `  - name: evil-uri-${i}
    match: [{uri: {regex: ${JSON.stringify(e.pattern)}}}]
    directResponse: {status: 418, body: {string: matched}}
`).join('');
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web.default.svc.cluster.local]
  http:
${uri}  - name: evil-header
    match: [{headers: {x-evil: {regex: "(a+)+$"}}}]
    directResponse: {status: 418, body: {string: matched}}
  - route: [{destination: {host: web.default.svc.cluster.local}}]
---
`;
}

let fx: Fixture;

before(async () => {
  fx = await startFixture({ yaml: vs() });
});
after(async () => {
  await fx?.close();
});

test('the real matcher (compiled snapshot, matchRoute) answers each pathological pattern in < 50 ms', () => {
  const snap = compile(webService(1) + vs(), { role: 'sidecar', namespace: 'default', labels: {} });
  for (const e of EVIL) {
    const ri: RequestInfo = { host: 'web', port: 80, method: 'GET', path: e.input, scheme: 'http', headers: { 'x-evil': `${'a'.repeat(50)}b` } };
    const table = selectRouteTable(snap, ri);
    assert.ok(table);
    const vhost = selectVirtualHost(table, 'web');
    assert.ok(vhost);
    const t0 = performance.now();
    const route = matchRoute(vhost, ri);
    const ms = performance.now() - t0;
    assert.ok(ms < 50, `${e.pattern} on ${e.input.length} chars took ${ms.toFixed(1)} ms`);
    assert.equal(route?.name ?? null, null, `${e.pattern} matched ${e.input}`);
    // And a string it does match is still matched (the engine is not just giving up).
    const hit = matchRoute(vhost, { ...ri, path: '/aaaa', headers: {} });
    assert.ok(hit?.name?.startsWith('evil-uri-'), `/aaaa matched ${hit?.name}`);
  }
});

test('through the proxy: pathological paths and header values are answered promptly; the event loop never stalls', { timeout: 20_000 }, async () => {
  // Warm up (connection pool, JIT) so the timings below are the regexes' own.
  assert.equal((await send(fx.port, 'web', '/0')).status, 200);
  const h = monitorEventLoopDelay({ resolution: 5 });
  h.enable();
  const before = fx.up.arrivals.length;
  try {
    for (const e of EVIL) {
      const t0 = performance.now();
      const r = await send(fx.port, 'web', e.input, { headers: { 'x-evil': `${'a'.repeat(50)}b` } });
      const ms = performance.now() - t0;
      assert.equal(r.status, 200, `${e.pattern}: ${r.status} ${r.body}`);
      // A backtracking engine would take months here; a loaded 2-core box, a few ms.
      assert.ok(ms < 500, `${e.pattern}: the request took ${ms.toFixed(1)} ms`);
    }
    assert.equal((await send(fx.port, 'web', '/aaaa')).status, 418);
    assert.equal((await send(fx.port, 'web', '/x', { headers: { 'x-evil': 'aaaa' } })).status, 418);
  } finally {
    h.disable();
  }
  const p99 = h.percentile(99) / 1e6;
  assert.ok(p99 < 50, `event-loop delay p99 ${p99.toFixed(1)} ms`);
  await settle(fx);
  assert.equal(fx.up.arrivals.length - before, EVIL.length);
});

test('patterns a linear-time engine cannot run (backreferences, lookaround) are refused when the config is validated', () => {
  for (const pattern of ['(a)\\1', '(?=a)a', '(?!a)b', '(?<=a)b']) {
    const l = loadText(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad, namespace: default}
spec:
  hosts: [web]
  http:
  - match: [{uri: {regex: ${JSON.stringify(pattern)}}}]
    route: [{destination: {host: web}}]
`, 'bad.yaml', { namespace: 'default' });
    const v = validateResources(l.resources);
    const errors = [...l.diagnostics, ...v.diagnostics].filter((d) => d.severity === 'error');
    assert.ok(errors.some((d) => /regex|regexp/i.test(d.message)), `${pattern}: ${errors.map((d) => d.message).join('; ') || 'accepted'}`);
  }
});

test('after the regex tests: process alive, /ready 200, 100 normal requests', { timeout: 30_000 }, async () => {
  await assertHealthy(fx);
});
