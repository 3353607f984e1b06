/** Deep freezing for immutable snapshots and config states. */

/**
 * Freezes `value` and everything reachable from it (Map/Set entries included; a Map's own
 * set/delete stay callable — callers only ever read them). Already-frozen objects are
 * skipped, which also ends cycles: an object is frozen before its children are visited.
 */
export function deepFreeze<T>(value: T): T {
  freeze(value);
  return value;
}

function freeze(v: unknown): void {
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return;
  Object.freeze(v);
  if (v instanceof Map) {
    for (const [k, x] of v) {
      freeze(k);
      freeze(x);
    }
    return;
  }
  if (v instanceof Set) {
    for (const x of v) freeze(x);
    return;
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) freeze(v[i]);
    return;
  }
  for (const k of Object.keys(v)) freeze((v as Record<string, unknown>)[k]);
}
