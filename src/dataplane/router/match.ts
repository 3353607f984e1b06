/**
 * Request matching over a compiled Snapshot: the hot path shared by the proxy and
 * `explain`. Pure and allocation-light: regexes, domain maps and defaults are all
 * precomputed by the compiler; here we only compare.
 *
 * Order of decisions (Envoy): route table by port (sidecar) or listener (gateway) ->
 * virtual host by Host (port ignored; exact, then longest `*.suffix`, then fallback) ->
 * first matching route -> weighted destination.
 */
import type {
  HeaderMatcher, Route, RouteMatch, RouteTable, Snapshot, StringMatcher, VirtualHost, WeightedDestination,
} from '../../snapshot/types.js';

/** The parts of a request routing looks at. */
export interface RequestInfo {
  /** Authority as received, may include `:port`. */
  host: string;
  /** The route-table port (sidecar: the service port dialled; gateway: the listener port). */
  port: number;
  method: string;
  /** Raw path including `?query`. */
  path: string;
  scheme: 'http' | 'https';
  /** Node-style lower-case header names. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
}

/** One evaluated route, for explain. */
export interface RouteTrace {
  route: Route;
  matched: boolean;
  /** One human-readable line per condition that did not hold (empty when matched). */
  failures: string[];
}

// ------------------------------------------------------------------------------ hosts

/**
 * Host as vhost matching sees it: port removed (`a.com:8080`, `[::1]:80`), brackets of an
 * IPv6 literal removed, lower-cased, one trailing dot dropped.
 */
export function normalizeRequestHost(host: string): string {
  let h = host;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf(']');
    if (end > 0) h = h.slice(1, end);
  } else {
    const colon = h.lastIndexOf(':');
    // A single colon separates the port; several colons is a bare IPv6 literal.
    if (colon >= 0 && h.indexOf(':') === colon) h = h.slice(0, colon);
  }
  h = h.toLowerCase();
  if (h.charCodeAt(h.length - 1) === 46 /* . */) h = h.slice(0, -1);
  return h;
}

/** Port given in `host:port` / `[v6]:port`, or null. */
export function explicitPort(host: string): number | null {
  let portPart: string | null = null;
  if (host.charCodeAt(0) === 91) {
    const end = host.indexOf(']');
    if (end > 0 && host.charCodeAt(end + 1) === 58) portPart = host.slice(end + 2);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon >= 0 && host.indexOf(':') === colon) portPart = host.slice(colon + 1);
  }
  if (portPart === null || portPart === '' || !/^[0-9]+$/.test(portPart)) return null;
  const n = Number(portPart);
  return n >= 1 && n <= 65535 ? n : null;
}

/**
 * The port a request addresses: the one in `host:port`, else the host's default from the
 * snapshot (a service's only HTTP port), else 80.
 */
export function resolveRequestPort(snap: Snapshot, host: string): number {
  const p = explicitPort(host);
  if (p !== null) return p;
  const h = normalizeRequestHost(host);
  const direct = snap.defaultPorts.get(h);
  if (direct !== undefined) return direct;
  // Wildcard service hosts (`*.example.com`): try each parent suffix.
  for (let i = h.indexOf('.'); i >= 0; i = h.indexOf('.', i + 1)) {
    const w = snap.defaultPorts.get(`*${h.slice(i)}`);
    if (w !== undefined) return w;
  }
  return 80;
}

/** Envoy server-name precedence for an HTTPS listener: exact, longest wildcard, `*`. */
function serverHostRank(pattern: string, host: string): number {
  if (pattern === host) return Number.MAX_SAFE_INTEGER;
  if (pattern === '*') return 0;
  if (pattern.charCodeAt(0) === 42 /* * */) {
    const suffix = pattern.slice(1);
    return host.length > suffix.length && host.endsWith(suffix) ? suffix.length : -1;
  }
  return -1;
}

/**
 * The route table for a request: sidecar by port; gateway by the listener on the port
 * (plain HTTP: its shared table; HTTPS: the terminating server whose hosts best cover the
 * request host, standing in for SNI).
 */
export function selectRouteTable(snap: Snapshot, req: RequestInfo): RouteTable | null {
  if (snap.proxy.role === 'sidecar') return snap.routeTables.get(String(req.port)) ?? null;
  for (const l of snap.listeners) {
    if (l.port !== req.port) continue;
    if (l.routeTable !== null) return snap.routeTables.get(l.routeTable) ?? null;
    const host = normalizeRequestHost(req.host);
    let best: RouteTable | null = null;
    let bestRank = -1;
    for (const s of l.servers) {
      // Same naming as the compiler (routes-gateway.ts httpsTableName).
      const t = snap.routeTables.get(`https.${l.port}.${s.portName}.${s.gateway.name}.${s.gateway.namespace}`);
      if (!t) continue;
      for (const h of s.hosts) {
        const r = serverHostRank(h, host);
        if (r > bestRank) {
          bestRank = r;
          best = t;
        }
      }
    }
    return best;
  }
  return null;
}

/** The virtual host for a Host value: exact domain, then longest `*.suffix`, then fallback. */
export function selectVirtualHost(table: RouteTable, host: string): VirtualHost | null {
  const h = normalizeRequestHost(host);
  const exact = table.exact.get(h);
  if (exact) return exact;
  const w = table.wildcards;
  for (let i = 0; i < w.length; i++) {
    const s = w[i].suffix;
    if (h.length > s.length && h.endsWith(s)) return w[i].vhost;
  }
  return table.fallback;
}

// ------------------------------------------------------------------------------ routes

/** Per-request lazily computed views (path without query, lower-cased path, query map). */
interface ReqView {
  req: RequestInfo;
  path: string;
  lowerPath: string | undefined;
  query: Map<string, string> | undefined;
}

function makeView(req: RequestInfo): ReqView {
  const q = req.path.indexOf('?');
  return { req, path: q < 0 ? req.path : req.path.slice(0, q), lowerPath: undefined, query: undefined };
}

function lowerPath(v: ReqView): string {
  return (v.lowerPath ??= v.path.toLowerCase());
}

/** Query parameters, first occurrence wins, values as sent (Envoy does not decode them). */
function queryOf(v: ReqView): Map<string, string> {
  if (v.query) return v.query;
  const m = new Map<string, string>();
  const p = v.req.path;
  const q = p.indexOf('?');
  if (q >= 0) {
    let end = p.indexOf('#', q);
    if (end < 0) end = p.length;
    let start = q + 1;
    while (start <= end) {
      let amp = p.indexOf('&', start);
      if (amp < 0 || amp > end) amp = end;
      if (amp > start) {
        const eq = p.indexOf('=', start);
        const key = eq >= 0 && eq < amp ? p.slice(start, eq) : p.slice(start, amp);
        const val = eq >= 0 && eq < amp ? p.slice(eq + 1, amp) : '';
        if (!m.has(key)) m.set(key, val);
      }
      start = amp + 1;
    }
  }
  v.query = m;
  return m;
}

/** A header's value: pseudo headers from the request line, several values joined with `,`. */
export function headerValue(req: RequestInfo, name: string): string | undefined {
  if (name.charCodeAt(0) === 58 /* : */) {
    switch (name) {
      case ':authority':
        return req.host;
      case ':method':
        return req.method;
      case ':path':
        return req.path;
      case ':scheme':
        return req.scheme;
      default:
        return undefined;
    }
  }
  const v = req.headers[name];
  if (v === undefined) return name === 'host' ? req.host : undefined;
  return typeof v === 'string' ? v : v.join(',');
}

/** Does `v` satisfy the compiled StringMatch (exact / prefix / RE2 full match / presence)? */
export function strMatch(m: StringMatcher, v: string): boolean {
  switch (m.kind) {
    case 'exact':
      return v === m.value;
    case 'prefix':
      return v.startsWith(m.value);
    case 'regex':
      return m.re.fullMatch(v);
    case 'present':
      return true;
  }
}

/** withoutHeaders: a missing header counts as '' (Envoy treat_missing_header_as_empty). */
function headerMatches(h: HeaderMatcher, req: RequestInfo): boolean {
  const v = headerValue(req, h.name);
  if (v === undefined) return h.invert && (h.match.kind === 'present' || !strMatch(h.match, ''));
  return strMatch(h.match, v) !== h.invert;
}

function uriValue(m: RouteMatch, v: ReqView): string {
  return m.ignoreUriCase && m.uri !== null && m.uri.kind !== 'regex' ? lowerPath(v) : v.path;
}

function routeMatches(m: RouteMatch, v: ReqView): boolean {
  const req = v.req;
  if (m.port !== null && m.port !== req.port) return false;
  if (m.uri !== null && !strMatch(m.uri, uriValue(m, v))) return false;
  if (m.method !== null && !strMatch(m.method, req.method)) return false;
  if (m.scheme !== null && !strMatch(m.scheme, req.scheme)) return false;
  if (m.authority !== null && !strMatch(m.authority, req.host)) return false;
  const hs = m.headers;
  for (let i = 0; i < hs.length; i++) if (!headerMatches(hs[i], req)) return false;
  const qs = m.queryParams;
  if (qs.length > 0) {
    const query = queryOf(v);
    for (let i = 0; i < qs.length; i++) {
      const val = query.get(qs[i].name);
      if (val === undefined || !strMatch(qs[i].match, val)) return false;
    }
  }
  return true;
}

// ------------------------------------------------------------------------------ explain

/** `exact "x"`, `prefix "/a"`, `regex "^a.*"`, `present`. */
export function describeMatcher(m: StringMatcher): string {
  switch (m.kind) {
    case 'exact':
      return `exact ${JSON.stringify(m.value)}`;
    case 'prefix':
      return `prefix ${JSON.stringify(m.value)}`;
    case 'regex':
      return `regex ${JSON.stringify(m.re.source)}`;
    case 'present':
      return 'present';
  }
}

function mismatch(label: string, m: StringMatcher, actual: string, suffix = ''): string {
  if (m.kind === 'exact') return `${label}: exact ${JSON.stringify(m.value)}${suffix} ≠ ${JSON.stringify(actual)}`;
  return `${label}: ${describeMatcher(m)}${suffix} does not match ${JSON.stringify(actual)}`;
}

function headerFailure(h: HeaderMatcher, req: RequestInfo): string | null {
  if (headerMatches(h, req)) return null;
  const v = headerValue(req, h.name);
  const label = `header ${h.name}`;
  if (h.invert) {
    return h.match.kind === 'present'
      ? `${label}: must be absent but is ${JSON.stringify(v)}`
      : `${label}: must not match ${describeMatcher(h.match)} but is ${JSON.stringify(v ?? '')}`;
  }
  if (v === undefined) return `${label}: missing (want ${describeMatcher(h.match)})`;
  return mismatch(label, h.match, v);
}

/** Every failed condition of a match, in evaluation order. */
function explainMatch(m: RouteMatch, v: ReqView): string[] {
  const req = v.req;
  const out: string[] = [];
  if (m.port !== null && m.port !== req.port) out.push(`port: ${m.port} ≠ ${req.port}`);
  if (m.uri !== null && !strMatch(m.uri, uriValue(m, v))) {
    out.push(mismatch('uri', m.uri, v.path, m.ignoreUriCase && m.uri.kind !== 'regex' ? ' (ignoring case)' : ''));
  }
  if (m.method !== null && !strMatch(m.method, req.method)) out.push(mismatch('method', m.method, req.method));
  if (m.scheme !== null && !strMatch(m.scheme, req.scheme)) out.push(mismatch('scheme', m.scheme, req.scheme));
  if (m.authority !== null && !strMatch(m.authority, req.host)) out.push(mismatch('authority', m.authority, req.host));
  for (const h of m.headers) {
    const f = headerFailure(h, req);
    if (f !== null) out.push(f);
  }
  if (m.queryParams.length > 0) {
    const query = queryOf(v);
    for (const q of m.queryParams) {
      const val = query.get(q.name);
      if (val === undefined) out.push(`query ${q.name}: missing (want ${describeMatcher(q.match)})`);
      else if (!strMatch(q.match, val)) out.push(mismatch(`query ${q.name}`, q.match, val));
    }
  }
  return out;
}

/**
 * The first route of the vhost whose match holds, or null (404 NR). With `trace`, every
 * route evaluated is recorded with the conditions that failed; without it nothing extra is
 * computed.
 */
export function matchRoute(vhost: VirtualHost, req: RequestInfo, trace?: RouteTrace[]): Route | null {
  const routes = vhost.routes;
  const v = makeView(req);
  if (trace === undefined) {
    for (let i = 0; i < routes.length; i++) if (routeMatches(routes[i].match, v)) return routes[i];
    return null;
  }
  for (const route of routes) {
    const failures = explainMatch(route.match, v);
    const matched = failures.length === 0;
    trace.push({ route, matched, failures });
    if (matched) return route;
  }
  return null;
}

/**
 * Weighted pick: `rnd` in [0,1) scaled to `total`, walking cumulative weights. Pure, so
 * callers pass their own random source (tests pass fixed values).
 */
export function pickWeighted(dests: readonly WeightedDestination[], total: number, rnd: number): WeightedDestination {
  const target = rnd * total;
  let acc = 0;
  for (let i = 0; i < dests.length; i++) {
    acc += dests[i].weight;
    if (target < acc) return dests[i];
  }
  return dests[dests.length - 1];
}
