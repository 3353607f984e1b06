/**
 * Config age ordering and small config helpers shared by the route compiler.
 *
 * Istio resolves same-host conflicts by `creationTimestamp`, then name, then namespace
 * (`configCompareByCreationTime`). In file mode most resources carry no timestamp, so the
 * load order (`seq`) stands in for time.
 */
import type { RawResource } from '../api/resource.js';
import type { ConfigRef } from '../snapshot/types.js';

/** Anything with metadata and a load order (every Resource). */
export type Aged = Pick<RawResource, 'meta' | 'seq'>;

function timestampOf(r: Aged): number {
  const ts = r.meta.creationTimestamp;
  if (ts === undefined) return Number.NEGATIVE_INFINITY;
  const t = Date.parse(ts);
  // An unparseable timestamp counts as Go's zero time (oldest), like a missing one.
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

/**
 * Oldest first: creationTimestamp (missing = oldest, Go's zero time), then — only when
 * neither has a timestamp — load order, then name, then namespace. A lexicographic key, so
 * the order is total and transitive even when timestamps are mixed.
 */
export function compareByAge(a: Aged, b: Aged): number {
  const ta = timestampOf(a);
  const tb = timestampOf(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const sa = Number.isFinite(ta) ? 0 : a.seq;
  const sb = Number.isFinite(tb) ? 0 : b.seq;
  if (sa !== sb) return sa - sb;
  if (a.meta.name !== b.meta.name) return a.meta.name < b.meta.name ? -1 : 1;
  if (a.meta.namespace !== b.meta.namespace) return a.meta.namespace < b.meta.namespace ? -1 : 1;
  return 0;
}

/** The ConfigRef of a resource. */
export function refOf(r: { kind: string; meta: { namespace: string; name: string } }): ConfigRef {
  return { kind: r.kind as ConfigRef['kind'], namespace: r.meta.namespace, name: r.meta.name };
}

/** `ns/name` for messages. */
export function refKey(r: ConfigRef | { meta: { namespace: string; name: string } }): string {
  return 'meta' in r ? `${r.meta.namespace}/${r.meta.name}` : `${r.namespace}/${r.name}`;
}

/** Label selector semantics: every selector label present with the same value. */
export function labelsSubset(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (!selector) return true;
  for (const k of Object.keys(selector)) {
    if (labels[k] !== selector[k]) return false;
  }
  return true;
}

/** Collects compile notes (dropped duplicates, missing delegates...), de-duplicated. */
export class Notes {
  readonly items: Array<{ ref: ConfigRef | null; message: string }> = [];
  readonly #seen = new Set<string>();

  add(ref: ConfigRef | null, message: string): void {
    const key = `${ref ? `${ref.kind}/${ref.namespace}/${ref.name}` : ''}\u0000${message}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.items.push({ ref, message });
  }
}
