/**
 * HTTPMatchRequest -> RouteMatch (istio-semantics.md §1.1 "HTTPMatchRequest", §2.1).
 *
 * Regexes are compiled here, once per snapshot, so the data plane never compiles. The
 * config-time conditions (sourceLabels, sourceNamespace, gateways) are applied by the
 * caller (vs.ts); only request-time conditions end up in the RouteMatch.
 */
import type { HTTPMatchRequest, StringMatch } from '../api/types.js';
import { compileRe2 } from '../core/regex.js';
import type { HeaderMatcher, QueryMatcher, RouteMatch, StringMatcher } from '../snapshot/types.js';

/** Why a match could not be compiled (the route is dropped with a note). */
export class MatchError extends Error {}

/** Header keys Istio ignores in `headers` (they have their own HTTPMatchRequest fields). */
const RESERVED_HEADER_KEYS = new Set(['uri', 'scheme', 'method', 'authority']);

function compileRegex(field: string, pattern: string): StringMatcher {
  const r = compileRe2(pattern);
  if (!r.ok) throw new MatchError(`${field}: ${r.error}`);
  return { kind: 'regex', re: r.re };
}

/**
 * A StringMatch on uri/scheme/method/authority. An empty `{}` sets no condition (Envoy's
 * default path specifier is prefix `/`). `lowerCase` applies `ignoreUriCase` to exact/prefix.
 */
export function toValueMatcher(field: string, sm: StringMatch | undefined, lowerCase = false): StringMatcher | null {
  if (!sm) return null;
  if (sm.exact !== undefined) return { kind: 'exact', value: lowerCase ? sm.exact.toLowerCase() : sm.exact };
  if (sm.prefix !== undefined) return { kind: 'prefix', value: lowerCase ? sm.prefix.toLowerCase() : sm.prefix };
  if (sm.regex !== undefined) return compileRegex(field, sm.regex);
  return null;
}

/** A StringMatch on a header or query parameter: `{}` and regex `*` mean "present". */
export function toPresenceMatcher(field: string, sm: StringMatch | undefined): StringMatcher {
  if (!sm || (sm.exact === undefined && sm.prefix === undefined && sm.regex === undefined) || sm.regex === '*') {
    return { kind: 'present' };
  }
  return toValueMatcher(field, sm) ?? { kind: 'present' };
}

function sortedKeys(m: Readonly<Record<string, unknown>> | undefined): string[] {
  return m ? Object.keys(m).sort() : [];
}

/** headers then withoutHeaders, each sorted by (lower-cased) name so output is deterministic. */
function headerMatchers(m: HTTPMatchRequest): HeaderMatcher[] {
  const out: HeaderMatcher[] = [];
  for (const [map, invert] of [[m.headers, false], [m.withoutHeaders, true]] as const) {
    if (!map) continue;
    const keys = Object.keys(map).map((key) => ({ key, name: key.toLowerCase() }));
    keys.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const { key, name } of keys) {
      if (RESERVED_HEADER_KEYS.has(name)) continue;
      out.push({ name, match: toPresenceMatcher(`header ${name}`, map[key]), invert });
    }
  }
  return out;
}

function queryMatchers(m: HTTPMatchRequest): QueryMatcher[] {
  return sortedKeys(m.queryParams).map((name) => ({ name, match: toPresenceMatcher(`queryParams ${name}`, m.queryParams![name]) }));
}

/** The catch-all match: no conditions at all (a rule without `match`). */
export const EMPTY_MATCH: RouteMatch = {
  uri: null,
  ignoreUriCase: false,
  scheme: null,
  method: null,
  authority: null,
  headers: [],
  queryParams: [],
  port: null,
  name: null,
};

/** Compiles one match block. Throws MatchError on a regex that does not compile. */
export function translateMatch(m: HTTPMatchRequest | null): RouteMatch {
  if (!m) return EMPTY_MATCH;
  const ignoreUriCase = m.ignoreUriCase === true;
  return {
    uri: toValueMatcher('uri', m.uri, ignoreUriCase),
    ignoreUriCase,
    scheme: toValueMatcher('scheme', m.scheme),
    method: toValueMatcher('method', m.method),
    authority: toValueMatcher('authority', m.authority),
    headers: headerMatchers(m),
    queryParams: queryMatchers(m),
    port: m.port ?? null,
    name: m.name ?? null,
  };
}

/**
 * Istio's `IsCatchAllRoute`: the path matches everything (no URI condition, prefix `/`, or
 * regex `.*`) and there are no header / query / method / scheme / authority conditions.
 * Routes after a catch-all can never be reached.
 */
export function isCatchAllMatch(m: RouteMatch): boolean {
  const u = m.uri;
  const anyPath = u === null || (u.kind === 'prefix' && u.value === '/') || (u.kind === 'regex' && (u.re.source === '.*' || u.re.source === '*'));
  return anyPath && m.headers.length === 0 && m.queryParams.length === 0 && m.scheme === null && m.method === null && m.authority === null;
}

/**
 * The path part a prefix rewrite replaces: the exact path or the prefix matched, `/` when
 * the route had no URI condition, null for a regex match (the whole path is replaced).
 */
export function rewritePrefixFor(m: RouteMatch): string | null {
  const u = m.uri;
  if (u === null) return '/';
  if (u.kind === 'exact' || u.kind === 'prefix') return u.value;
  return null;
}
