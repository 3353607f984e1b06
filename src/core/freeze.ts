/** Deep freezing for immutable snapshots and config states. */

/**
 * Freezes `value` and every object reachable from it (Map/Set entries included; a Map's own
 * set/delete stay callable — callers only ever read them). Already-frozen objects are
 * skipped, which also ends cycles: an object is frozen before its children are visited.
 *
 * Arrays are walked but not frozen themselves: V8 (Node 20) indexes frozen arrays several
 * times slower, and route tables are indexed on every request. Their `readonly` types keep
 * them unmodified at compile time; everything they hold is frozen.
 */
export function deepFreeze<T>(value: T): T {
  freeze(value, new WeakSet());
  return value;
}

function freeze(v: unknown, arrays: WeakSet<object>): void {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return;
  if (Array.isArray(v)) {
    if (arrays.has(v)) return;
    arrays.add(v);
    for (let i = 0; i < v.length; i++) freeze(v[i], arrays);
    return;
  }
  Object.freeze(v);
  if (v instanceof Map) {
    for (const [k, x] of v) {
      freeze(k, arrays);
      freeze(x, arrays);
    }
    return;
  }
  if (v instanceof Set) {
    for (const x of v) freeze(x, arrays);
    return;
  }
  for (const k of Object.keys(v)) freeze((v as Record<string, unknown>)[k], arrays);
}
