import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadText, loadPaths } from './load.js';

const ns = { namespace: 'default' };

test('multi-document YAML: each resource keeps its position and namespace', () => {
  const text = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: a
spec:
  hosts: [a]
---
# comment only document
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: b
  namespace: prod
spec:
  host: b
`;
  const r = loadText(text, 'f.yaml', ns);
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.resources.length, 2);
  assert.equal(r.resources[0].kind, 'VirtualService');
  assert.equal(r.resources[0].meta.namespace, 'default');
  assert.equal(r.resources[1].meta.namespace, 'prod');
  assert.deepEqual(r.resources[0].source.locate(['spec', 'hosts']), { file: 'f.yaml', line: 6, column: 3 });
  assert.deepEqual(r.resources[0].source.locate(['spec', 'hosts', 0]), { file: 'f.yaml', line: 6, column: 11 });
  assert.deepEqual(r.resources[1].source.locate(['spec', 'host']), { file: 'f.yaml', line: 16, column: 3 });
  // A path that does not exist points at the deepest node that does.
  assert.deepEqual(r.resources[1].source.locate(['spec', 'subsets', 0]), { file: 'f.yaml', line: 15, column: 1 });
  assert.ok(r.resources[0].seq < r.resources[1].seq);
});

test('kind: List items are loaded with positions inside the list', () => {
  const text = `apiVersion: v1
kind: List
items:
- apiVersion: networking.istio.io/v1alpha3
  kind: Gateway
  metadata: {name: gw}
  spec:
    servers: []
`;
  const r = loadText(text, 'l.yaml', ns);
  assert.equal(r.resources.length, 1);
  assert.equal(r.resources[0].kind, 'Gateway');
  assert.deepEqual(r.resources[0].source.locate(['spec', 'servers']), { file: 'l.yaml', line: 8, column: 5 });
});

test('JSON input is accepted', () => {
  const r = loadText('{"apiVersion":"networking.istio.io/v1","kind":"Sidecar","metadata":{"name":"s"},"spec":{}}', 'x.json', ns);
  assert.equal(r.resources.length, 1);
  assert.equal(r.diagnostics.length, 0);
});

const bad: Array<[string, string, RegExp, number]> = [
  ['YAML syntax error', 'kind: VirtualService\nmetadata: {name: a\n', /YAML syntax error/, 3],
  ['duplicate key', 'kind: a\nkind: b\n', /YAML syntax error.*unique/i, 2],
  ['scalar document', 'just a string\n', /not a mapping/, 1],
  ['binary garbage', 'abc\u0000\u0001\u0002', /NUL bytes/, 1],
  ['missing kind', 'apiVersion: networking.istio.io/v1\nmetadata: {name: a}\n', /missing kind/, 1],
  ['missing apiVersion', 'kind: VirtualService\nmetadata: {name: a}\n', /missing apiVersion/, 1],
  ['missing name', 'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {}\nspec: {}\n', /metadata.name is required/, 3],
  ['bad version', 'apiVersion: networking.istio.io/v2\nkind: VirtualService\nmetadata: {name: a}\n', /unsupported apiVersion/, 1],
];
for (const [name, text, re, line] of bad) {
  test(`bad input gives a positioned error: ${name}`, () => {
    const r = loadText(text, 'bad.yaml', ns);
    assert.equal(r.resources.length, 0);
    const errs = r.diagnostics.filter((d) => d.severity === 'error');
    assert.ok(errs.length >= 1, JSON.stringify(r.diagnostics));
    assert.match(errs[0].message, re);
    assert.equal(errs[0].file, 'bad.yaml');
    assert.equal(errs[0].line, line);
  });
}

test('other kinds are a warning, not an error', () => {
  const r = loadText('apiVersion: v1\nkind: Service\nmetadata: {name: a}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: g}\n', 'k.yaml', ns);
  assert.equal(r.resources.length, 0);
  assert.equal(r.diagnostics.length, 2);
  assert.ok(r.diagnostics.every((d) => d.severity === 'warning' && /skipped/.test(d.message)));
});

test('empty file and empty documents give nothing', () => {
  assert.deepEqual(loadText('', 'e.yaml', ns), { resources: [], diagnostics: [] });
  assert.deepEqual(loadText('---\n---\n', 'e.yaml', ns), { resources: [], diagnostics: [] });
});

test('folders are read recursively, only yaml/yml/json, sorted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'isthmus-load-'));
  try {
    mkdirSync(join(dir, 'sub'));
    const doc = (n: string) => `apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: ${n}}\nspec: {}\n`;
    writeFileSync(join(dir, 'b.yaml'), doc('b'));
    writeFileSync(join(dir, 'a.yml'), doc('a'));
    writeFileSync(join(dir, 'sub', 'c.json'), JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 'c' }, spec: {} }));
    writeFileSync(join(dir, 'notes.txt'), 'ignored');
    const r = loadPaths([dir], ns);
    assert.deepEqual(r.resources.map((x) => x.meta.name), ['a', 'b', 'c']);
    assert.equal(r.files.length, 3);
    const missing = loadPaths([join(dir, 'nope.yaml')], ns);
    assert.equal(missing.diagnostics[0].code, 'file-not-found');
    const stdin = loadPaths(['-'], { ...ns, readStdin: () => doc('s') });
    assert.equal(stdin.resources[0].meta.name, 's');
    assert.equal(stdin.resources[0].source.file, '<stdin>');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an IPv6 literal in a flow sequence stays a string (as Kubernetes reads it)', () => {
  const r = loadText('apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: a}\nspec:\n  addresses: [1.2.3.4, 001:db8::, {k: v}]\n', 'v6.yaml', ns);
  assert.deepEqual((r.resources[0].raw.spec as { addresses: unknown[] }).addresses, ['1.2.3.4', '001:db8::', { k: 'v' }]);
});
