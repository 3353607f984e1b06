/**
 * "Does every request that matches B also match A?" for VirtualService match blocks.
 *
 * Used to find rules an earlier rule shadows (IST0130/IST0131). HTTP blocks are compared
 * in the form the compiler produces (`translateMatch`), so `{}` header matches, reserved
 * header keys and `ignoreUriCase` mean here exactly what they mean to the router, and
 * "catch-all" is the compiler's own `isCatchAllMatch`.
 *
 * The answer must never be a false "yes": a wrong "yes" tells users to delete a working
 * rule. Each test proves implication only in cases that are certain (equal values, a
 * prefix of the other side's value, `.*`, subset label maps...) and says "no" otherwise.
 * Regexes are compared by text, never by meaning.
 */
import type { HTTPMatchRequest, L4MatchAttributes, TLSMatchAttributes } from '../api/types.js';
import { hostSubsetOf, normalizeHost } from '../core/hosts.js';
import { isCatchAllMatch } from '../compile/translate-match.js';
import type { HeaderMatcher, QueryMatcher, RouteMatch, StringMatcher } from '../snapshot/types.js';

/**
 * An HTTP match block as the router evaluates it: the compiled request-time conditions,
 * the raw block for the config-time ones (port, sourceLabels, sourceNamespace; undefined =
 * a rule without `match`), and the gateways it applies to, resolved (match-level
 * `gateways`, else the VirtualService's, else `mesh`).
 */
export interface HttpBlock {
  match: HTTPMatchRequest | undefined;
  compiled: RouteMatch;
  gateways: ReadonlySet<string>;
}

export interface L4Block {
  match: L4MatchAttributes | undefined;
  gateways: ReadonlySet<string>;
}

export interface TlsBlock {
  match: TLSMatchAttributes;
  gateways: ReadonlySet<string>;
}

/** Accepts any value of a field that is present. */
function anyValue(m: StringMatcher): boolean {
  return m.kind === 'present' || (m.kind === 'regex' && m.re.source === '.*');
}

/** True when the text reads the same in either letter case (no cased letters). */
function caseless(s: string): boolean {
  return s.toLowerCase() === s.toUpperCase();
}

/**
 * Does every value accepted by `b` satisfy `a`? `alwaysPresent`: every request carries the
 * field (path, method, scheme, authority), so an unconstrained `b` is still covered by an
 * any-value `a`. `aCi` / `bCi`: the side ignores case and its exact/prefix value is stored
 * lower-cased (`ignoreUriCase`).
 */
export function stringImplies(
  a: StringMatcher | null,
  b: StringMatcher | null,
  alwaysPresent: boolean,
  aCi = false,
  bCi = false,
): boolean {
  if (a === null) return true;
  if (a.kind === 'present' || anyValue(a)) return b !== null || alwaysPresent;
  if (b === null || b.kind === 'present') return false;
  if (a.kind === 'regex') return b.kind === 'regex' && b.re.source === a.re.source && aCi === bCi;
  if (b.kind === 'regex') return false;
  // `b` accepts every spelling of its value; a case-sensitive `a` must then be caseless.
  if (bCi && !aCi && !caseless(a.value)) return false;
  const bVal = aCi && !bCi ? b.value.toLowerCase() : b.value;
  if (a.kind === 'exact') return b.kind === 'exact' && bVal === a.value;
  return bVal.startsWith(a.value);
}

function sameMatcher(a: StringMatcher, b: StringMatcher): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'present') return true;
  if (a.kind === 'regex') return b.kind === 'regex' && a.re.source === b.re.source;
  return (b as { value: string }).value === a.value;
}

function headersImply(a: readonly HeaderMatcher[], b: readonly HeaderMatcher[]): boolean {
  return a.every((ah) => {
    const same = b.filter((bh) => bh.name === ah.name && bh.invert === ah.invert);
    // An excluded header is only certainly excluded by the very same exclusion.
    if (ah.invert) return same.some((bh) => sameMatcher(ah.match, bh.match));
    return same.some((bh) => stringImplies(ah.match, bh.match, false));
  });
}

function queryImplies(a: readonly QueryMatcher[], b: readonly QueryMatcher[]): boolean {
  return a.every((aq) => b.some((bq) => bq.name === aq.name && stringImplies(aq.match, bq.match, false)));
}

function labelsImply(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  for (const [k, val] of Object.entries(a ?? {})) if (b?.[k] !== val) return false;
  return true;
}

function isSubset(b: ReadonlySet<string>, a: ReadonlySet<string>): boolean {
  for (const x of b) if (!a.has(x)) return false;
  return true;
}

interface ConfigTime {
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
}

/** Config-time conditions (which proxies / ports get the route): `a`'s must hold wherever `b`'s do. */
function configTimeImplies(a: ConfigTime | undefined, b: ConfigTime | undefined): boolean {
  // Port 0 means "any port", as unset does (the compiler's `matchAppliesTo`).
  const ap = a?.port || undefined;
  if (ap !== undefined && ap !== (b?.port || undefined)) return false;
  if (a?.sourceNamespace && a.sourceNamespace !== b?.sourceNamespace) return false;
  return labelsImply(a?.sourceLabels, b?.sourceLabels);
}

function hasConfigTime(m: ConfigTime | undefined): boolean {
  return Boolean(m?.port) || Boolean(m?.sourceNamespace) || Object.keys(m?.sourceLabels ?? {}).length > 0;
}

/**
 * Is the block a catch-all everywhere it applies: the compiler's catch-all (after it the
 * route list is cut) with no port / source condition limiting where it is installed.
 */
export function httpIsCatchAll(a: HttpBlock): boolean {
  return isCatchAllMatch(a.compiled) && !hasConfigTime(a.match);
}

/** Does HTTP block `a` take every request block `b` would match, wherever `b` applies? */
export function httpCovers(a: HttpBlock, b: HttpBlock): boolean {
  if (!isSubset(b.gateways, a.gateways)) return false;
  if (!configTimeImplies(a.match, b.match)) return false;
  const am = a.compiled;
  const bm = b.compiled;
  if (isCatchAllMatch(am)) return true;
  const aAnyPath = am.uri !== null && am.uri.kind === 'prefix' && am.uri.value === '/';
  if (!aAnyPath && !stringImplies(am.uri, bm.uri, true, am.ignoreUriCase, bm.ignoreUriCase)) return false;
  if (!stringImplies(am.scheme, bm.scheme, true)) return false;
  if (!stringImplies(am.method, bm.method, true)) return false;
  if (!stringImplies(am.authority, bm.authority, true)) return false;
  return headersImply(am.headers, bm.headers) && queryImplies(am.queryParams, bm.queryParams);
}

function subnetsImply(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (!a || a.length === 0) return true;
  if (!b || b.length === 0) return false;
  const set = new Set(a);
  return b.every((s) => set.has(s));
}

/** TCP: does block `a` take every connection block `b` would match? */
export function l4Covers(a: L4Block, b: L4Block): boolean {
  if (!isSubset(b.gateways, a.gateways)) return false;
  const am = a.match;
  const bm = b.match;
  if (!am) return true;
  if (!configTimeImplies(am, bm)) return false;
  if (am.sourceSubnet !== undefined && am.sourceSubnet !== bm?.sourceSubnet) return false;
  return subnetsImply(am.destinationSubnets, bm?.destinationSubnets);
}

/** TLS: does block `a` take every connection block `b` would match (SNI and L4 conditions)? */
export function tlsCovers(a: TlsBlock, b: TlsBlock): boolean {
  if (!isSubset(b.gateways, a.gateways)) return false;
  const am = a.match;
  const bm = b.match;
  if (!configTimeImplies(am, bm)) return false;
  if (!subnetsImply(am.destinationSubnets, bm.destinationSubnets)) return false;
  const aHosts = am.sniHosts.map(normalizeHost);
  return bm.sniHosts.every((h) => aHosts.some((s) => hostSubsetOf(h, s)));
}
