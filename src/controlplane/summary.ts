/**
 * What changed between two applied configs, per kind, for the reload log line
 * (`config v7 applied: 2 VirtualServices changed, 1 DestinationRule added`) and /config_dump.
 * Pure. Resources are compared by their raw JSON with keys sorted, so re-ordering keys,
 * moving a resource to another file or editing comments is not a change.
 */
import { createHash } from 'node:crypto';
import { KINDS, type Kind, type RawResource } from '../api/resource.js';

/** `Kind/ns/name` -> digest of the canonical JSON of the whole resource. */
export type Fingerprints = ReadonlyMap<string, string>;

export interface KindChanges {
  /** `ns/name`, sorted. */
  readonly added: readonly string[];
  readonly changed: readonly string[];
  readonly removed: readonly string[];
}

export interface ChangeSummary {
  /** Only kinds with at least one change; in KINDS order when iterated. */
  readonly byKind: Readonly<Partial<Record<Kind, KindChanges>>>;
  /** Number of resources added + changed + removed. */
  readonly total: number;
}

const PLURAL: Record<Kind, string> = {
  VirtualService: 'VirtualServices',
  DestinationRule: 'DestinationRules',
  Gateway: 'Gateways',
  ServiceEntry: 'ServiceEntries',
  Sidecar: 'Sidecars',
  WorkloadEntry: 'WorkloadEntries',
};

/** JSON with object keys sorted at every level (arrays keep their order: it is meaningful). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

/**
 * SHA-256 (base64) of the canonical JSON: equal documents have equal digests, and ~44 bytes
 * are kept per resource instead of its whole JSON (a 1,000-service config: ~1.7 MB less).
 */
export function documentDigest(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('base64');
}

/** Digest of each resource's canonical JSON, keyed `Kind/ns/name`. */
export function fingerprints(resources: Iterable<RawResource>, cache?: WeakMap<object, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const r of resources) {
    let fp = cache?.get(r.raw);
    if (fp === undefined) {
      fp = documentDigest(r.raw);
      cache?.set(r.raw, fp);
    }
    out.set(`${r.kind}/${r.meta.namespace}/${r.meta.name}`, fp);
  }
  return out;
}

/** Compares two fingerprint sets. */
export function diffFingerprints(before: Fingerprints, after: Fingerprints): ChangeSummary {
  const acc = new Map<Kind, { added: string[]; changed: string[]; removed: string[] }>();
  const bucket = (key: string): { kind: Kind; name: string; b: { added: string[]; changed: string[]; removed: string[] } } => {
    const slash = key.indexOf('/');
    const kind = key.slice(0, slash) as Kind;
    let b = acc.get(kind);
    if (!b) {
      b = { added: [], changed: [], removed: [] };
      acc.set(kind, b);
    }
    return { kind, name: key.slice(slash + 1), b };
  };
  let total = 0;
  for (const [key, json] of after) {
    const old = before.get(key);
    if (old === json) continue;
    const { name, b } = bucket(key);
    (old === undefined ? b.added : b.changed).push(name);
    total++;
  }
  for (const key of before.keys()) {
    if (after.has(key)) continue;
    bucket(key).b.removed.push(key.slice(key.indexOf('/') + 1));
    total++;
  }
  const byKind: Partial<Record<Kind, KindChanges>> = {};
  for (const kind of KINDS) {
    const b = acc.get(kind);
    if (b) byKind[kind] = { added: b.added.sort(), changed: b.changed.sort(), removed: b.removed.sort() };
  }
  return { byKind, total };
}

/** `2 VirtualServices changed, 1 DestinationRule added` or `no resource changes`. */
export function formatChangeSummary(s: ChangeSummary): string {
  const parts: string[] = [];
  for (const kind of KINDS) {
    const c = s.byKind[kind];
    if (!c) continue;
    for (const verb of ['added', 'changed', 'removed'] as const) {
      const n = c[verb].length;
      if (n > 0) parts.push(`${n} ${n === 1 ? kind : PLURAL[kind]} ${verb}`);
    }
  }
  return parts.length ? parts.join(', ') : 'no resource changes';
}
