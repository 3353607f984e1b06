import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalJson, diffFingerprints, formatChangeSummary } from './summary.js';

test('canonicalJson sorts keys at every level, keeps array order', () => {
  const rows: Array<[unknown, string]> = [
    [{ b: 1, a: { d: [2, 1], c: null } }, '{"a":{"c":null,"d":[2,1]},"b":1}'],
    [[{ y: 1, x: 2 }], '[{"x":2,"y":1}]'],
    ['s', '"s"'],
  ];
  for (const [input, expected] of rows) assert.equal(canonicalJson(input), expected);
});

test('diff + format: per kind, added/changed/removed, plurals, KINDS order', () => {
  const rows: Array<{ before: Record<string, string>; after: Record<string, string>; expect: string; total: number }> = [
    { before: {}, after: {}, expect: 'no resource changes', total: 0 },
    { before: { 'VirtualService/a/x': '1' }, after: { 'VirtualService/a/x': '1' }, expect: 'no resource changes', total: 0 },
    {
      before: { 'VirtualService/a/x': '1', 'VirtualService/a/y': '1' },
      after: { 'VirtualService/a/x': '2', 'VirtualService/a/y': '2', 'DestinationRule/a/d': '1' },
      expect: '2 VirtualServices changed, 1 DestinationRule added',
      total: 3,
    },
    {
      before: { 'WorkloadEntry/a/w1': '1', 'WorkloadEntry/a/w2': '1', 'ServiceEntry/a/s': '1' },
      after: { 'Gateway/a/g': '1', 'Sidecar/a/s': '1' },
      expect: '1 Gateway added, 1 ServiceEntry removed, 1 Sidecar added, 2 WorkloadEntries removed',
      total: 5,
    },
  ];
  for (const row of rows) {
    const s = diffFingerprints(new Map(Object.entries(row.before)), new Map(Object.entries(row.after)));
    assert.equal(formatChangeSummary(s), row.expect);
    assert.equal(s.total, row.total);
  }
});

test('names are listed per verb, sorted, without the kind', () => {
  const s = diffFingerprints(
    new Map([['VirtualService/ns/b', '1'], ['VirtualService/ns/gone', '1']]),
    new Map([['VirtualService/ns/b', '2'], ['VirtualService/ns/z', '1'], ['VirtualService/ns/a', '1']]),
  );
  assert.deepEqual(s.byKind.VirtualService, { added: ['ns/a', 'ns/z'], changed: ['ns/b'], removed: ['ns/gone'] });
  assert.equal(s.byKind.DestinationRule, undefined);
});
