import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deepFreeze } from './freeze.js';

test('deepFreeze freezes every reachable object and Map/Set entry; arrays are walked, not frozen', () => {
  const inner = { a: [1, { b: 2 }] };
  const m = new Map([['k', { v: 1 }]]);
  const set = new Set([{ s: 1 }]);
  const o = deepFreeze({ inner, m, set });
  assert.ok(Object.isFrozen(o));
  assert.ok(Object.isFrozen(inner));
  assert.ok(!Object.isFrozen(inner.a), 'arrays stay unfrozen (V8 indexes frozen arrays slowly)');
  assert.ok(Object.isFrozen(inner.a[1]));
  assert.ok(Object.isFrozen(m.get('k')));
  assert.ok(Object.isFrozen([...set][0]));
  assert.throws(() => {
    (inner.a[1] as { b: number }).b = 3;
  }, TypeError);
});

test('deepFreeze ends on cycles and shared objects', () => {
  const a: { self?: unknown; list: unknown[] } = { list: [] };
  a.self = a;
  a.list.push(a, a.list);
  assert.equal(deepFreeze(a), a);
  assert.ok(Object.isFrozen(a));
});
