import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRe2 } from '../../core/regex.js';
import type {
  HeaderMatcher, Route, RouteMatch, RouteTable, Snapshot, StringMatcher, VirtualHost, WeightedDestination,
} from '../../snapshot/types.js';
import {
  headerValue, matchRoute, normalizeRequestHost, pickWeighted, resolveRequestPort, selectRouteTable, selectVirtualHost,
  type RequestInfo, type RouteTrace,
} from './match.js';

const exact = (value: string): StringMatcher => ({ kind: 'exact', value });
const prefix = (value: string): StringMatcher => ({ kind: 'prefix', value });
const present: StringMatcher = { kind: 'present' };
function regex(p: string): StringMatcher {
  const r = compileRe2(p);
  if (!r.ok) throw new Error(r.error);
  return { kind: 'regex', re: r.re };
}
const hdr = (name: string, match: StringMatcher, invert = false): HeaderMatcher => ({ name, match, invert });

function m(partial: Partial<RouteMatch>): RouteMatch {
  return { uri: null, ignoreUriCase: false, scheme: null, method: null, authority: null, headers: [], queryParams: [], port: null, name: null, ...partial };
}

function route(name: string, match: RouteMatch): Route {
  const none = { set: [], add: [], remove: [] };
  return {
    name, virtualService: null, ruleIndex: null, matchIndex: null, delegate: null, match,
    action: { kind: 'direct_response', status: 200, body: name },
    timeoutMs: null, retry: null, fault: null, mirrors: [], cors: null, headers: { request: none, response: none }, rewrite: null,
  };
}

function vhost(name: string, domains: string[], routes: Route[] = []): VirtualHost {
  return { name, domains, routes, requireTls: false, virtualServices: [] };
}

function req(partial: Partial<RequestInfo> = {}): RequestInfo {
  return { host: 'svc', port: 80, method: 'GET', path: '/', scheme: 'http', headers: {}, ...partial };
}

void test('normalizeRequestHost strips port, brackets, case and trailing dot', () => {
  const rows: Array<[string, string]> = [
    ['Foo.Example.COM', 'foo.example.com'],
    ['foo.example.com:12345', 'foo.example.com'],
    ['foo.example.com.', 'foo.example.com'],
    ['FOO.example.com.:8080', 'foo.example.com'],
    ['[::1]:8080', '::1'],
    ['[::1]', '::1'],
    ['fe80::1', 'fe80::1'],
    ['10.0.0.1:80', '10.0.0.1'],
  ];
  for (const [i, o] of rows) assert.equal(normalizeRequestHost(i), o, i);
});

void test('selectVirtualHost: exact, then longest wildcard suffix, then fallback', () => {
  const a = vhost('a', ['a.example.com']);
  const wide = vhost('wide', ['*.com']);
  const narrow = vhost('narrow', ['*.example.com']);
  const fb = vhost('fallback', ['*']);
  const table: RouteTable = {
    name: '80', port: 80,
    exact: new Map([['a.example.com', a]]),
    wildcards: [{ suffix: '.example.com', vhost: narrow }, { suffix: '.com', vhost: wide }],
    fallback: fb,
  };
  const rows: Array<[string, string | null]> = [
    ['a.example.com', 'a'],
    ['A.Example.com.:9999', 'a'],
    ['b.example.com', 'narrow'],
    ['x.b.example.com', 'narrow'],
    ['example.com', 'wide'], // `*.example.com` does not cover example.com itself
    ['other.org', 'fallback'],
  ];
  for (const [host, want] of rows) assert.equal(selectVirtualHost(table, host)?.name ?? null, want, host);
  assert.equal(selectVirtualHost({ ...table, fallback: null }, 'other.org'), null);
});

void test('headerValue: pseudo headers, multi-value join, host fallback', () => {
  const r = req({ host: 'h:1', method: 'PUT', path: '/p?q', scheme: 'https', headers: { x: ['a', 'b'], y: 'c' } });
  const rows: Array<[string, string | undefined]> = [
    [':authority', 'h:1'], [':method', 'PUT'], [':path', '/p?q'], [':scheme', 'https'], [':other', undefined],
    ['x', 'a,b'], ['y', 'c'], ['z', undefined], ['host', 'h:1'],
  ];
  for (const [name, want] of rows) assert.equal(headerValue(r, name), want, name);
});

interface Row {
  name: string;
  match: RouteMatch;
  req: Partial<RequestInfo>;
  want: boolean;
  failures?: string[];
}

const ROWS: Row[] = [
  { name: 'no conditions', match: m({}), req: {}, want: true },
  { name: 'uri exact', match: m({ uri: exact('/a') }), req: { path: '/a?x=1' }, want: true },
  { name: 'uri exact miss', match: m({ uri: exact('/a') }), req: { path: '/ab' }, want: false, failures: ['uri: exact "/a" ≠ "/ab"'] },
  { name: 'uri prefix is a character prefix', match: m({ uri: prefix('/foo') }), req: { path: '/foobar' }, want: true },
  { name: 'uri prefix miss', match: m({ uri: prefix('/api') }), req: { path: '/static/x' }, want: false, failures: ['uri: prefix "/api" does not match "/static/x"'] },
  { name: 'uri regex full match', match: m({ uri: regex('/v[0-9]+/.*') }), req: { path: '/v1/x' }, want: true },
  { name: 'uri regex not partial', match: m({ uri: regex('/v[0-9]+') }), req: { path: '/v1/x' }, want: false, failures: ['uri: regex "/v[0-9]+" does not match "/v1/x"'] },
  { name: 'uri regex ignores query', match: m({ uri: regex('/a') }), req: { path: '/a?b=c' }, want: true },
  { name: 'ignoreUriCase exact', match: m({ uri: exact('/abc'), ignoreUriCase: true }), req: { path: '/ABC' }, want: true },
  { name: 'ignoreUriCase prefix', match: m({ uri: prefix('/api'), ignoreUriCase: true }), req: { path: '/API/x' }, want: true },
  { name: 'case-sensitive by default', match: m({ uri: prefix('/api') }), req: { path: '/API/x' }, want: false },
  { name: 'ignoreUriCase miss message', match: m({ uri: prefix('/api'), ignoreUriCase: true }), req: { path: '/X' }, want: false, failures: ['uri: prefix "/api" (ignoring case) does not match "/X"'] },
  { name: 'method exact', match: m({ method: exact('POST') }), req: { method: 'POST' }, want: true },
  { name: 'method miss', match: m({ method: exact('POST') }), req: { method: 'GET' }, want: false, failures: ['method: exact "POST" ≠ "GET"'] },
  { name: 'scheme', match: m({ scheme: exact('https') }), req: { scheme: 'https' }, want: true },
  { name: 'scheme miss', match: m({ scheme: exact('https') }), req: {}, want: false, failures: ['scheme: exact "https" ≠ "http"'] },
  { name: 'authority is the raw Host incl. port', match: m({ authority: exact('a.com') }), req: { host: 'a.com:8080' }, want: false },
  { name: 'authority prefix', match: m({ authority: prefix('a.com') }), req: { host: 'a.com:8080' }, want: true },
  { name: 'header exact', match: m({ headers: [hdr('end-user', exact('jason'))] }), req: { headers: { 'end-user': 'jason' } }, want: true },
  { name: 'header exact miss', match: m({ headers: [hdr('end-user', exact('jason'))] }), req: { headers: { 'end-user': 'bob' } }, want: false, failures: ['header end-user: exact "jason" ≠ "bob"'] },
  { name: 'header missing', match: m({ headers: [hdr('end-user', exact('jason'))] }), req: {}, want: false, failures: ['header end-user: missing (want exact "jason")'] },
  { name: 'header present', match: m({ headers: [hdr('x', present)] }), req: { headers: { x: '' } }, want: true },
  { name: 'header present missing', match: m({ headers: [hdr('x', present)] }), req: {}, want: false, failures: ['header x: missing (want present)'] },
  { name: 'header multi-value joined', match: m({ headers: [hdr('x', exact('a,b'))] }), req: { headers: { x: ['a', 'b'] } }, want: true },
  { name: 'header regex', match: m({ headers: [hdr('x', regex('(?i)ja.*'))] }), req: { headers: { x: 'JASON' } }, want: true },
  { name: 'pseudo header :method', match: m({ headers: [hdr(':method', exact('DELETE'))] }), req: { method: 'DELETE' }, want: true },
  { name: 'withoutHeaders: missing header matches', match: m({ headers: [hdr('x', exact('v'), true)] }), req: {}, want: true },
  { name: 'withoutHeaders: other value matches', match: m({ headers: [hdr('x', exact('v'), true)] }), req: { headers: { x: 'w' } }, want: true },
  { name: 'withoutHeaders: same value fails', match: m({ headers: [hdr('x', exact('v'), true)] }), req: { headers: { x: 'v' } }, want: false, failures: ['header x: must not match exact "v" but is "v"'] },
  { name: 'withoutHeaders: missing counts as empty', match: m({ headers: [hdr('x', exact(''), true)] }), req: {}, want: false },
  { name: 'withoutHeaders present: absent ok', match: m({ headers: [hdr('x', present, true)] }), req: {}, want: true },
  { name: 'withoutHeaders present: present fails', match: m({ headers: [hdr('x', present, true)] }), req: { headers: { x: '1' } }, want: false, failures: ['header x: must be absent but is "1"'] },
  { name: 'query exact', match: m({ queryParams: [{ name: 'v', match: exact('2') }] }), req: { path: '/?a=1&v=2' }, want: true },
  { name: 'query first occurrence wins', match: m({ queryParams: [{ name: 'v', match: exact('2') }] }), req: { path: '/?v=1&v=2' }, want: false, failures: ['query v: exact "2" ≠ "1"'] },
  { name: 'query exact "" matches ?key', match: m({ queryParams: [{ name: 'debug', match: exact('') }] }), req: { path: '/x?debug' }, want: true },
  { name: 'query present', match: m({ queryParams: [{ name: 'debug', match: present }] }), req: { path: '/x?debug=1' }, want: true },
  { name: 'query missing', match: m({ queryParams: [{ name: 'debug', match: present }] }), req: { path: '/x' }, want: false, failures: ['query debug: missing (want present)'] },
  { name: 'query regex', match: m({ queryParams: [{ name: 'id', match: regex('[0-9]+') }] }), req: { path: '/x?id=42#frag' }, want: true },
  { name: 'port', match: m({ port: 9080 }), req: { port: 9080 }, want: true },
  { name: 'port miss', match: m({ port: 9080 }), req: { port: 80 }, want: false, failures: ['port: 9080 ≠ 80'] },
  {
    name: 'all failures listed',
    match: m({ uri: prefix('/a'), method: exact('POST'), headers: [hdr('x', exact('1'))] }),
    req: { path: '/b' },
    want: false,
    failures: ['uri: prefix "/a" does not match "/b"', 'method: exact "POST" ≠ "GET"', 'header x: missing (want exact "1")'],
  },
];

void test('matchRoute: one condition per row', () => {
  for (const row of ROWS) {
    const v = vhost('v', ['*'], [route(row.name, row.match)]);
    const r = req(row.req);
    assert.equal(matchRoute(v, r) !== null, row.want, row.name);
    const trace: RouteTrace[] = [];
    assert.equal(matchRoute(v, r, trace) !== null, row.want, `${row.name} (traced)`);
    assert.equal(trace.length, 1);
    assert.equal(trace[0].matched, row.want);
    if (row.want) assert.deepEqual(trace[0].failures, [], row.name);
    else assert.ok(trace[0].failures.length > 0, row.name);
    if (row.failures) assert.deepEqual(trace[0].failures, row.failures, row.name);
  }
});

void test('matchRoute: first match wins and the trace stops there', () => {
  const v = vhost('v', ['*'], [
    route('a', m({ uri: prefix('/a') })),
    route('b', m({ uri: prefix('/') })),
    route('c', m({})),
  ]);
  assert.equal(matchRoute(v, req({ path: '/a/x' }))?.name, 'a');
  const trace: RouteTrace[] = [];
  assert.equal(matchRoute(v, req({ path: '/z' }), trace)?.name, 'b');
  assert.deepEqual(trace.map((t) => [t.route.name, t.matched]), [['a', false], ['b', true]]);
  assert.equal(matchRoute(vhost('empty', ['*']), req()), null);
});

void test('pickWeighted walks cumulative weights', () => {
  const d = (cluster: string, weight: number): WeightedDestination => ({
    cluster, host: 'h', port: 80, subset: null, weight, headers: { request: { set: [], add: [], remove: [] }, response: { set: [], add: [], remove: [] } }, authority: null,
  });
  const dests = [d('a', 80), d('b', 20)];
  const rows: Array<[number, string]> = [[0, 'a'], [0.5, 'a'], [0.7999, 'a'], [0.8, 'b'], [0.9999, 'b']];
  for (const [rnd, want] of rows) assert.equal(pickWeighted(dests, 100, rnd).cluster, want, String(rnd));
  // Relative weights: 1:3.
  const rel = [d('x', 1), d('y', 3)];
  assert.equal(pickWeighted(rel, 4, 0.24).cluster, 'x');
  assert.equal(pickWeighted(rel, 4, 0.25).cluster, 'y');
  // Distribution over a fine grid matches the weights.
  let a = 0;
  for (let i = 0; i < 1000; i++) if (pickWeighted(dests, 100, i / 1000).cluster === 'a') a++;
  assert.equal(a, 800);
});

function fakeSnapshot(partial: Partial<Snapshot>): Snapshot {
  return {
    proxy: { role: 'sidecar', namespace: 'default', labels: {} },
    options: { domain: 'cluster.local', rootNamespace: 'istio-system', outboundTrafficPolicy: 'ALLOW_ANY' },
    listeners: [], routeTables: new Map(), clusters: new Map(), outboundTrafficPolicy: 'ALLOW_ANY',
    defaultPorts: new Map(), sidecar: null, notes: [],
    ...partial,
  };
}

void test('resolveRequestPort: explicit port, default port map, wildcard key, else 80', () => {
  const snap = fakeSnapshot({ defaultPorts: new Map([['reviews', 9080], ['reviews.default.svc.cluster.local', 9080], ['*.example.com', 8000]]) });
  const rows: Array<[string, number]> = [
    ['reviews', 9080],
    ['Reviews.default.svc.cluster.local.', 9080],
    ['reviews:9090', 9090],
    ['a.example.com', 8000],
    ['a.b.example.com', 8000],
    ['unknown.com', 80],
    ['[::1]:8443', 8443],
    ['[::1]', 80],
    ['host:notaport', 80],
  ];
  for (const [host, want] of rows) assert.equal(resolveRequestPort(snap, host), want, host);
});

void test('selectRouteTable: sidecar by port, gateway by listener and HTTPS server host', () => {
  const t80: RouteTable = { name: '80', port: 80, exact: new Map(), wildcards: [], fallback: null };
  const side = fakeSnapshot({ routeTables: new Map([['80', t80]]) });
  assert.equal(selectRouteTable(side, req({ port: 80 })), t80);
  assert.equal(selectRouteTable(side, req({ port: 81 })), null);

  const http: RouteTable = { ...t80, name: 'http.8080', port: 8080 };
  const a: RouteTable = { ...t80, name: 'https.443.https-a.gw.istio-system', port: 443 };
  const b: RouteTable = { ...t80, name: 'https.443.https-b.gw.istio-system', port: 443 };
  const gw = { kind: 'Gateway' as const, namespace: 'istio-system', name: 'gw' };
  const gateway = fakeSnapshot({
    proxy: { role: 'gateway', namespace: 'istio-system', labels: {} },
    routeTables: new Map([[http.name, http], [a.name, a], [b.name, b]]),
    listeners: [
      { name: '0.0.0.0_8080', port: 8080, protocol: 'HTTP', servers: [], routeTable: 'http.8080', tcpRoute: null },
      {
        name: '0.0.0.0_443', port: 443, protocol: 'HTTPS', routeTable: null, tcpRoute: null,
        servers: [
          { gateway: gw, serverIndex: 1, hosts: ['*.example.com'], tlsMode: 'SIMPLE', portName: 'https-a', tls: null },
          { gateway: gw, serverIndex: 2, hosts: ['b.example.com'], tlsMode: 'SIMPLE', portName: 'https-b', tls: null },
        ],
      },
    ],
  });
  assert.equal(selectRouteTable(gateway, req({ port: 8080 })), http);
  assert.equal(selectRouteTable(gateway, req({ port: 443, host: 'a.example.com', scheme: 'https' })), a);
  assert.equal(selectRouteTable(gateway, req({ port: 443, host: 'b.example.com:443', scheme: 'https' })), b);
  assert.equal(selectRouteTable(gateway, req({ port: 443, host: 'other.org', scheme: 'https' })), null);
  assert.equal(selectRouteTable(gateway, req({ port: 9999 })), null);
});
