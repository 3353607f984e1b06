/**
 * Reachability warnings for VirtualService rules (istio-semantics.md §4.1 V65/V66, the
 * webhook's IST0130 "rule not used" and IST0131 "match not used"). Rules are evaluated in
 * order and the first match wins, so a rule after a catch-all never runs, and a match
 * block equal to — or, for URI prefixes, covered by — an earlier one never fires.
 */
import type { FieldPath } from '../core/diagnostics.js';
import type { HTTPMatchRequest, StringMatch, VirtualServiceSpec } from '../api/types.js';
import type { Findings } from './finding.js';

/** Runs the HTTP, TCP and TLS analyses over a spec. */
export function checkReachability(out: Findings, spec: VirtualServiceSpec): void {
  checkHttpReach(out, spec.http ?? []);
  checkL4Reach(out, spec.tcp ?? [], 'tcp');
  checkL4Reach(out, spec.tls ?? [], 'tls');
}

function unused(rule: string, reason: string): string {
  return `virtualService rule ${rule} not used (${reason})`;
}

function ineffective(rule: string, match: string, dup: string): string {
  return `virtualService rule ${rule} match ${match} is not used (duplicate/overlapping match in rule ${dup})`;
}

/** Istio names rules and matches by their `name` (quoted) or `#index`. */
function label(name: string | undefined, i: number): string {
  return name ? JSON.stringify(name) : `#${i}`;
}

/** What made later rules unreachable. */
type CatchAll = 'no-match' | 'match';

function afterCatchAllReason(kind: CatchAll, ruleHasMatches: boolean): string {
  if (kind === 'match') return 'route with catch-all match defined before';
  return ruleHasMatches ? 'route without matches defined before' : 'only the last rule can have no matches';
}

function checkHttpReach(out: Findings, rules: NonNullable<VirtualServiceSpec['http']>): void {
  const seen = new Map<string, number>();
  const prefixed: PrefixMatch[] = [];
  let catchAll: CatchAll | undefined;
  rules.forEach((r, i) => {
    const path: FieldPath = ['spec', 'http', i];
    const rule = label(r.name, i);
    const matches = r.match ?? [];
    if (catchAll) {
      out.warn(path, unused(rule, afterCatchAllReason(catchAll, matches.length > 0)), 'IST0130');
      return;
    }
    if (matches.length === 0) {
      catchAll = 'no-match';
      return;
    }
    let dups = 0;
    matches.forEach((m, j) => {
      const key = canonical(m, true);
      const first = seen.get(key);
      if (first !== undefined) {
        out.warn([...path, 'match', j], ineffective(rule, label(m.name, j), label(rules[first].name, first)), 'IST0131');
        dups++;
        return;
      }
      seen.set(key, i);
      const p = prefixMatch(m, rule, label(m.name, j), [...path, 'match', j]);
      if (p) prefixed.push(p);
    });
    if (dups === matches.length) out.warn(path, unused(rule, 'all matches used by prior rules'), 'IST0130');
    if (matches.some(isCatchAllMatch)) catchAll = 'match';
  });
  checkPrefixCoverage(out, prefixed);
}

/** TCP/TLS rules have no names; the analysis is the HTTP one without prefix coverage. */
function checkL4Reach(out: Findings, rules: ReadonlyArray<{ match?: readonly object[] }>, field: 'tcp' | 'tls'): void {
  const seen = new Map<string, number>();
  let catchAll = false;
  rules.forEach((r, i) => {
    const path: FieldPath = ['spec', field, i];
    const rule = `#${i}`;
    const matches = r.match ?? [];
    if (catchAll) {
      out.warn(path, unused(rule, afterCatchAllReason('no-match', matches.length > 0)), 'IST0130');
      return;
    }
    if (matches.length === 0) {
      catchAll = true;
      return;
    }
    let dups = 0;
    matches.forEach((m, j) => {
      const key = canonical(m, false);
      const first = seen.get(key);
      if (first !== undefined) {
        out.warn([...path, 'match', j], ineffective(rule, `#${j}`, `#${first}`), 'IST0131');
        dups++;
      } else {
        seen.set(key, i);
      }
    });
    if (dups === matches.length) out.warn(path, unused(rule, 'all matches used by prior rules'), 'IST0130');
  });
}

/**
 * A match block that matches every request: no conditions at all, or only a URI that
 * matches every path (`prefix: /`, `prefix: ""`, `regex: .*`). Names, stat prefixes and
 * case folding do not narrow it.
 */
function isCatchAllMatch(m: HTTPMatchRequest): boolean {
  const narrowing = Object.entries(m).filter(
    ([k, v]) => k !== 'name' && k !== 'statPrefix' && k !== 'ignoreUriCase' && k !== 'uri' && !isEmptyValue(v),
  );
  if (narrowing.length > 0) return false;
  const u = m.uri;
  return !u || u.prefix === '/' || u.prefix === '' || u.regex === '.*' || Object.keys(u).length === 0;
}

function isEmptyValue(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === '' || v === 0) return true;
  if (Array.isArray(v)) return v.length === 0;
  return typeof v === 'object' && Object.keys(v as object).length === 0;
}

/**
 * Order-independent serialization of a match for equality: keys sorted, `name` dropped
 * (it does not affect routing) and unset-equivalent top-level values (false, 0, '', {},
 * []) dropped. StringMatch contents are kept as written: `{}` (presence) ≠ `{exact: ""}`.
 */
function canonical(m: object, dropName: boolean): string {
  const top: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m)) {
    if ((dropName && k === 'name') || isEmptyValue(v)) continue;
    top[k] = v;
  }
  return stableStringify(top);
}

function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v as object).filter((k) => (v as Record<string, unknown>)[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

// ---------------------------------------------------------------------------------------
// Prefix coverage: `prefix: /a` before `prefix: /a/b` with the same other conditions.

/** A condition on one string: absent (anything), presence only, or a StringMatch. */
type Cond = { kind: 'present' } | { kind: 'exact' | 'prefix' | 'regex'; value: string };

interface PrefixMatch {
  rule: string;
  match: string;
  path: FieldPath;
  prefix: string;
  /** Conditions compared by equality only (port, scheme, sources, gateways, case folding). */
  rest: string;
  method?: Cond;
  authority?: Cond;
  headers: Map<string, Cond>;
  queryParams: Map<string, Cond>;
  /** withoutHeaders are compared by equality: a looser exclusion is not a looser match. */
  withoutHeaders: string;
}

function cond(sm: StringMatch | undefined): Cond | undefined {
  if (!sm) return undefined;
  if (sm.exact !== undefined) return { kind: 'exact', value: sm.exact };
  if (sm.prefix !== undefined) return { kind: 'prefix', value: sm.prefix };
  if (sm.regex !== undefined) return { kind: 'regex', value: sm.regex };
  return { kind: 'present' };
}

function condMap(m: Record<string, StringMatch> | undefined): Map<string, Cond> {
  const out = new Map<string, Cond>();
  for (const [k, v] of Object.entries(m ?? {})) out.set(k, cond(v) ?? { kind: 'present' });
  return out;
}

function prefixMatch(m: HTTPMatchRequest, rule: string, match: string, path: FieldPath): PrefixMatch | undefined {
  const prefix = m.uri?.prefix;
  if (!prefix) return undefined;
  return {
    rule,
    match,
    path,
    prefix,
    rest: stableStringify({
      port: m.port || undefined,
      scheme: m.scheme,
      sourceLabels: m.sourceLabels,
      gateways: m.gateways,
      sourceNamespace: m.sourceNamespace || undefined,
      ignoreUriCase: m.ignoreUriCase || undefined,
    }),
    method: cond(m.method),
    authority: cond(m.authority),
    headers: condMap(m.headers),
    queryParams: condMap(m.queryParams),
    withoutHeaders: stableStringify(m.withoutHeaders ?? {}),
  };
}

/** Does condition `a` admit every value `b` admits? */
function condCovers(a: Cond | undefined, b: Cond | undefined): boolean {
  if (!a) return true;
  if (!b) return false;
  if (a.kind === 'present') return true;
  if (b.kind === 'present') return false;
  if (a.kind === b.kind && a.value === b.value) return true;
  return a.kind === 'prefix' && b.kind !== 'regex' && b.value.startsWith(a.value);
}

/** Same keys on both sides, each of `a`'s conditions at least as loose as `b`'s. */
function mapCovers(a: Map<string, Cond>, b: Map<string, Cond>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, ca] of a) {
    if (!b.has(k) || !condCovers(ca, b.get(k))) return false;
  }
  return true;
}

function covers(a: PrefixMatch, b: PrefixMatch): boolean {
  return (
    b.prefix.startsWith(a.prefix) &&
    a.rest === b.rest &&
    a.withoutHeaders === b.withoutHeaders &&
    condCovers(a.method, b.method) &&
    condCovers(a.authority, b.authority) &&
    mapCovers(a.headers, b.headers) &&
    mapCovers(a.queryParams, b.queryParams)
  );
}

function checkPrefixCoverage(out: Findings, ms: readonly PrefixMatch[]): void {
  for (let j = 1; j < ms.length; j++) {
    const b = ms[j];
    // Exact duplicates never get here (reported above), so any cover is a strict overlap.
    const a = ms.slice(0, j).find((x) => covers(x, b));
    if (!a) continue;
    out.warn(b.path, ineffective(b.rule, `${b.match} of prefix ${b.prefix}`, `${a.match} of prefix ${a.prefix} on ${a.rule}`), 'IST0131');
  }
}
