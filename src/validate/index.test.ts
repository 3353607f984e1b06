import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import { shareUnchanged, validateResources, type ValidationCache } from './index.js';

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: default}
spec:
  hosts: [r.default.svc.cluster.local]
  http:
  - name: api
    match: [{uri: {prefix: /api}}]
    route: [{destination: {host: r.default.svc.cluster.local}}]
    timeout: 5s
`;

test('shareUnchanged: equal subtrees become the raw objects, changed ones keep the typed copy', () => {
  const raw = { a: { x: 1, y: [1, 2] }, b: { k: 'v', n: null }, c: [{ p: 1 }, { q: 2 }] };
  const typed = { a: { x: 1, y: [1, 2] }, b: { k: 'v' }, c: [{ p: 1 }, { q: 3 }] };
  const out = shareUnchanged(typed, raw);
  assert.deepEqual(out, typed, 'the value is unchanged');
  assert.notEqual(out, raw);
  assert.equal(out.a, raw.a, 'an equal subtree is the raw one');
  assert.equal(out.b, typed.b, 'a subtree the schema changed (null dropped) stays typed');
  assert.equal(out.c[0], raw.c[0]);
  assert.equal(out.c[1], typed.c[1]);
  assert.equal(shareUnchanged({ ...raw }, raw), raw, 'wholly equal: the raw object itself');
});

test('shareUnchanged: key order, array-vs-object and non-JSON objects are not shared', () => {
  const reordered = shareUnchanged({ b: 1, a: 2 }, { a: 2, b: 1 });
  assert.deepEqual(Object.keys(reordered), ['b', 'a'], 'the schema order is kept');
  const arr = [1];
  assert.equal(shareUnchanged(arr, { 0: 1 }), arr);
  const re = /x/;
  assert.equal(shareUnchanged(re, {}), re, 'a built object is never replaced');
  const typed = { m: new Map([['a', 1]]) };
  assert.equal(shareUnchanged(typed, { m: {} }).m, typed.m);
  assert.equal(shareUnchanged('s', 's'), 's');
});

test('validated specs share the raw document instead of holding a second copy', () => {
  const l = loadText(VS, 'vs.yaml', { namespace: 'default' });
  const v = validateResources(l.resources);
  assert.equal(v.diagnostics.length, 0);
  const vs = v.config.virtualServices[0];
  const rawSpec = (l.resources[0].raw as { spec: { http: unknown[]; hosts: unknown[] } }).spec;
  assert.equal(vs.spec.http?.[0], rawSpec.http[0]);
  assert.equal(vs.spec.hosts, rawSpec.hosts);
});

test('the validation cache answers for the same document, namespace and domain only', () => {
  const cache: ValidationCache = new WeakMap();
  const l = loadText(VS, 'vs.yaml', { namespace: 'default' });
  const first = validateResources(l.resources, { domain: 'cluster.local' }, cache);
  const again = validateResources(l.resources, { domain: 'cluster.local' }, cache);
  assert.equal(again.config.virtualServices[0].spec, first.config.virtualServices[0].spec, 'a hit re-uses the cached spec');
  const hit = cache.get(l.resources[0].raw)!;
  assert.equal(hit.ok, true);
  assert.equal(hit.findings.length, 0);
  // Same document under another default namespace: judged afresh (and cached for it).
  const moved = { ...l.resources[0], meta: { ...l.resources[0].meta, namespace: 'other' } };
  validateResources([moved], { domain: 'cluster.local' }, cache);
  assert.equal(cache.get(l.resources[0].raw)!.namespace, 'other');
  validateResources(l.resources, { domain: 'example.org' }, cache);
  assert.equal(cache.get(l.resources[0].raw)!.domain, 'example.org');
});

test('a cached rejection keeps its findings', () => {
  const bad = VS.replace('timeout: 5s', 'timeout: 5parsecs');
  const cache: ValidationCache = new WeakMap();
  const l = loadText(bad, 'vs.yaml', { namespace: 'default' });
  const first = validateResources(l.resources, undefined, cache);
  const again = validateResources(l.resources, undefined, cache);
  assert.equal(first.config.virtualServices.length, 0);
  assert.ok(first.diagnostics.some((d) => d.severity === 'error'));
  assert.deepEqual(again.diagnostics, first.diagnostics);
});
