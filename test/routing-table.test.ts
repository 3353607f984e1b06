/**
 * End-to-end routing table: (config fixture, proxy identity, request) -> outcome, through
 * the real pipeline (load -> validate -> registry -> compileSnapshot -> match).
 * Outcomes name the result kind, the VirtualService and rule that decided, the cluster
 * (Envoy name, so subset included) and the status for answers the proxy makes itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadText } from '../src/api/load.js';
import { formatDiagnostic } from '../src/core/diagnostics.js';
import { buildRegistry } from '../src/registry/build.js';
import { validateResources } from '../src/validate/index.js';
import { compileSnapshot } from '../src/compile/index.js';
import type { CompileOptions, ProxyIdentity, Route, Snapshot } from '../src/snapshot/types.js';
import { matchRoute, pickWeighted, resolveRequestPort, selectRouteTable, selectVirtualHost, type RequestInfo } from '../src/dataplane/router/match.js';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const SAMPLES = resolve(repoRoot, '..', 'shared', 'istio', 'samples', 'bookinfo', 'networking');

// ------------------------------------------------------------------------------ fixtures

const doc = (kind: string, name: string, spec: object, meta: object = {}): string =>
  JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind, metadata: { name, ...meta }, spec });
const yaml = (...docs: string[]): string => docs.join('\n---\n');
const fq = (n: string, ns = 'default') => `${n}.${ns}.svc.cluster.local`;
const cl = (port: number, subset: string, host: string) => `outbound|${port}|${subset}|${host}`;
const dest = (host: string, subset?: string, port?: number) => ({ destination: { host, ...(subset ? { subset } : {}), ...(port ? { port: { number: port } } : {}) } });

function service(name: string, ns: string, ports: Array<[number, string, string]>, extra: object = {}): string {
  return doc('ServiceEntry', name, {
    hosts: [fq(name, ns)],
    location: 'MESH_INTERNAL',
    resolution: 'STATIC',
    ports: ports.map(([number, n, protocol]) => ({ number, name: n, protocol })),
    endpoints: ['v1', 'v2', 'v3'].map((v, i) => ({ address: `10.${ns.length}.${name.length}.${i + 1}`, labels: { version: v } })),
    ...extra,
  }, { namespace: ns });
}
const subsets = (host: string, ns = 'default') =>
  doc('DestinationRule', host, { host, subsets: ['v1', 'v2', 'v3'].map((v) => ({ name: v, labels: { version: v } })) }, { namespace: ns });

const BOOKINFO_SERVICES = yaml(
  ...['productpage', 'reviews', 'ratings', 'details'].map((s) => service(s, 'default', [[9080, 'http', 'HTTP']])),
);

const BASE = yaml(
  BOOKINFO_SERVICES,
  subsets('reviews'),
  subsets('ratings'),
  service('httpbin', 'other', [[8000, 'http', 'HTTP']]),
  service('multi', 'default', [[80, 'http', 'HTTP'], [8080, 'http-alt', 'HTTP']]),
  doc('ServiceEntry', 'api', { hosts: ['api.example.com'], location: 'MESH_EXTERNAL', resolution: 'DNS', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] }),
  doc('ServiceEntry', 'wild', { hosts: ['*.wild.example.com'], location: 'MESH_EXTERNAL', resolution: 'NONE', ports: [{ number: 80, name: 'http', protocol: 'HTTP' }] }),
);

/** One rule per match kind on `reviews`, catch-all last. */
const KINDS = yaml(BASE, doc('VirtualService', 'kinds', {
  hosts: ['reviews'],
  http: [
    { name: 'uri-exact', match: [{ uri: { exact: '/exact' } }], route: [dest('reviews', 'v2')] },
    { name: 'uri-prefix', match: [{ uri: { prefix: '/prefix' } }], route: [dest('reviews', 'v2')] },
    { name: 'uri-regex', match: [{ uri: { regex: '/re/[0-9]+' } }], route: [dest('reviews', 'v3')] },
    { name: 'uri-case', match: [{ uri: { exact: '/Case' }, ignoreUriCase: true }], route: [dest('reviews', 'v3')] },
    { name: 'h-exact', match: [{ headers: { 'x-exact': { exact: 'a' } } }], route: [dest('reviews', 'v2')] },
    { name: 'h-prefix', match: [{ headers: { 'x-prefix': { prefix: 'pre' } } }], route: [dest('reviews', 'v2')] },
    { name: 'h-regex', match: [{ headers: { 'x-regex': { regex: '(?i)ab+c' } } }], route: [dest('reviews', 'v2')] },
    { name: 'h-present', match: [{ headers: { 'x-present': {} } }], route: [dest('reviews', 'v2')] },
    { name: 'without', match: [{ uri: { prefix: '/without' }, withoutHeaders: { 'x-debug': {} } }], route: [dest('reviews', 'v3')] },
    { name: 'q-exact', match: [{ uri: { prefix: '/query' }, queryParams: { q: { exact: '1' } } }], route: [dest('reviews', 'v3')] },
    { name: 'q-regex', match: [{ uri: { prefix: '/qre' }, queryParams: { id: { regex: '[0-9]+' } } }], route: [dest('reviews', 'v3')] },
    { name: 'q-present', match: [{ uri: { prefix: '/qp' }, queryParams: { flag: {} } }], route: [dest('reviews', 'v3')] },
    { name: 'q-bare', match: [{ uri: { prefix: '/qb' }, queryParams: { bare: { exact: '' } } }], route: [dest('reviews', 'v3')] },
    { name: 'method', match: [{ uri: { prefix: '/method' }, method: { exact: 'POST' } }], route: [dest('reviews', 'v2')] },
    { name: 'scheme', match: [{ scheme: { exact: 'https' } }], route: [dest('reviews', 'v3')] },
    { name: 'authority', match: [{ uri: { prefix: '/auth' }, authority: { prefix: 'reviews.default' } }], route: [dest('reviews', 'v3')] },
    { name: 'rest', route: [dest('reviews', 'v1')] },
  ],
}));

/** Config-time conditions on `multi` (ports 80, 8080) and match-level gateways on ratings. */
const SOURCES = yaml(
  BASE,
  doc('VirtualService', 'sources', {
    hosts: ['multi'],
    http: [
      { name: 'port', match: [{ port: 8080 }], route: [dest('multi', undefined, 8080)] },
      { name: 'labels', match: [{ uri: { prefix: '/src' }, sourceLabels: { app: 'canary' } }], route: [dest('multi', undefined, 80)] },
      { name: 'namespace', match: [{ uri: { prefix: '/ns' }, sourceNamespace: 'other' }], route: [dest('multi', undefined, 80)] },
      { name: 'rest', route: [dest('multi', undefined, 80)] },
    ],
  }),
  doc('Gateway', 'gw', { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] }, { namespace: 'istio-system' }),
  doc('VirtualService', 'both', {
    hosts: ['ratings'],
    gateways: ['mesh', 'istio-system/gw'],
    http: [
      { name: 'for-mesh', match: [{ gateways: ['mesh'] }], route: [dest('ratings', 'v1')] },
      { name: 'for-gw', match: [{ gateways: ['istio-system/gw'] }], route: [dest('ratings', 'v2')] },
      { name: 'rest', route: [dest('ratings', 'v3')] },
    ],
  }),
);

const PRECEDENCE = yaml(
  BASE,
  doc('VirtualService', 'wild', { hosts: ['*.default.svc.cluster.local'], http: [{ route: [dest('details')] }] }, { creationTimestamp: '2020-01-01T00:00:00Z' }),
  doc('VirtualService', 'exact-pp', { hosts: ['productpage'], http: [{ route: [dest('productpage')] }] }, { creationTimestamp: '2024-01-01T00:00:00Z' }),
  doc('VirtualService', 'newer', { hosts: ['ratings'], http: [{ route: [dest('ratings', 'v2')] }] }, { creationTimestamp: '2024-06-01T00:00:00Z' }),
  doc('VirtualService', 'older', { hosts: [fq('ratings')], http: [{ route: [dest('ratings', 'v1')] }] }, { creationTimestamp: '2023-06-01T00:00:00Z' }),
  doc('VirtualService', 'first-wins', {
    hosts: ['reviews'],
    http: [
      { match: [{ uri: { prefix: '/a' } }], route: [dest('reviews', 'v1')] },
      { match: [{ uri: { prefix: '/a/b' } }], route: [dest('reviews', 'v2')] },
      { match: [{ uri: { prefix: '/' } }], route: [dest('reviews', 'v3')] },
      { match: [{ uri: { prefix: '/never' } }], route: [dest('reviews', 'v2')] },
    ],
  }),
);

const DELEGATE = yaml(
  BASE,
  doc('VirtualService', 'pp-root', {
    hosts: ['productpage'],
    http: [
      { name: 'api', match: [{ uri: { prefix: '/api' } }], delegate: { name: 'pp-api', namespace: 'default' }, timeout: '4s' },
      { name: 'home', route: [dest('productpage')] },
    ],
  }),
  doc('VirtualService', 'pp-api', {
    http: [
      { name: 'v2', match: [{ uri: { prefix: '/api/v2' } }], route: [dest('reviews', 'v2')] },
      { name: 'elsewhere', match: [{ uri: { prefix: '/web' } }], route: [dest('reviews', 'v3')] },
      { name: 'any', route: [dest('reviews', 'v1')] },
    ],
  }),
);

const GATEWAY = yaml(
  BASE,
  doc('Gateway', 'gw', {
    selector: { istio: 'ingressgateway' },
    servers: [
      { port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] },
      { port: { number: 80, name: 'http-redirect', protocol: 'HTTP' }, hosts: ['secure.example.com'], tls: { httpsRedirect: true } },
      { port: { number: 443, name: 'https', protocol: 'HTTPS' }, hosts: ['secure.example.com'], tls: { mode: 'SIMPLE', credentialName: 'secure-cert' } },
      { port: { number: 8081, name: 'http-unbound', protocol: 'HTTP' }, hosts: ['unbound.example.com'] },
    ],
  }, { namespace: 'istio-system' }),
  doc('VirtualService', 'shop-a', { hosts: ['shop.example.com'], gateways: ['istio-system/gw'], http: [{ route: [dest(fq('reviews'), 'v1')] }] }, { namespace: 'web', creationTimestamp: '2020-01-01T00:00:00Z' }),
  doc('VirtualService', 'shop-b', { hosts: ['shop.example.com'], gateways: ['istio-system/gw'], http: [{ match: [{ uri: { prefix: '/b' } }], route: [dest(fq('reviews'), 'v2')] }] }, { namespace: 'web', creationTimestamp: '2021-01-01T00:00:00Z' }),
  doc('VirtualService', 'secure', { hosts: ['secure.example.com'], gateways: ['istio-system/gw'], http: [{ route: [dest(fq('productpage'))] }] }, { namespace: 'web' }),
  doc('VirtualService', 'mesh-only', { hosts: ['details'], http: [{ route: [dest('details')] }] }),
  doc('VirtualService', 'redirects', {
    hosts: ['old.example.com'],
    gateways: ['istio-system/gw'],
    http: [
      { match: [{ uri: { prefix: '/moved' } }], redirect: { uri: '/new', redirectCode: 308 } },
      { match: [{ uri: { prefix: '/gone' } }], directResponse: { status: 410, body: { string: 'gone' } } },
      { match: [{ uri: { prefix: '/bad' } }], redirect: { uri: '/x', redirectCode: 305 } },
      { match: [{ uri: { prefix: '/' } }], redirect: { authority: 'new.example.com' } },
    ],
  }, { namespace: 'web' }),
);

const VISIBILITY = yaml(
  BASE,
  doc('VirtualService', 'private-vs', { hosts: [fq('httpbin', 'other')], exportTo: ['.'], http: [{ directResponse: { status: 418 } }] }, { namespace: 'other' }),
  service('secret', 'other', [[7000, 'http', 'HTTP']], { exportTo: ['.'] }),
  doc('Sidecar', 'scoped', { egress: [{ hosts: ['./*', `default/${fq('reviews')}`] }] }, { namespace: 'scoped' }),
  doc('Sidecar', 'locked', { egress: [{ hosts: ['./*'] }], outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } }, { namespace: 'locked' }),
  doc('Sidecar', 'emptyotp', { egress: [{ hosts: ['*/*'] }], outboundTrafficPolicy: {} }, { namespace: 'emptyotp' }),
  doc('Sidecar', 'excl', { egress: [{ hosts: ['*/*', `~default/${fq('ratings')}`] }] }, { namespace: 'excl' }),
  doc('Sidecar', 'ported', { egress: [{ port: { number: 8080, protocol: 'HTTP', name: 'alt' }, hosts: ['other/*'] }, { hosts: ['default/*'] }] }, { namespace: 'ported' }),
);

const POLICIES = yaml(BASE, doc('VirtualService', 'details-policy', {
  hosts: ['details'],
  http: [
    { name: 'undefined-subset', match: [{ uri: { prefix: '/undefined' } }], route: [dest('details', 'v9')] },
    { name: 'tuned', timeout: '2s', retries: { attempts: 3, retryOn: '5xx,503' }, route: [dest('details')] },
  ],
}));

// ------------------------------------------------------------------------------ the harness

interface Outcome {
  kind: 'route' | 'redirect' | 'direct_response' | 'no_route' | 'passthrough' | 'blocked' | 'no_listener';
  /** Status the proxy answers with itself (404, 502, 301...), 503 for a missing cluster; null when forwarded. */
  status: number | null;
  vs: string | null;
  rule: number | null;
  cluster: string | null;
}

interface Row {
  name: string;
  fixture: string;
  proxy?: Partial<ProxyIdentity>;
  opts?: Partial<CompileOptions>;
  url: string;
  /** Gateway listener port (default: the URL's port or the scheme's). */
  port?: number;
  method?: string;
  headers?: Record<string, string>;
  rnd?: number;
  want: Partial<Outcome>;
  check?: (route: Route) => void;
}

const cache = new Map<string, Snapshot>();
function snapshotFor(fixture: string, proxy: ProxyIdentity, opts: Partial<CompileOptions> = {}): Snapshot {
  const key = JSON.stringify([fixture, proxy, opts]);
  const hit = cache.get(key);
  if (hit) return hit;
  const { resources, diagnostics } = loadText(fixture, 'fixture.yaml', { namespace: 'default' });
  assert.deepEqual(diagnostics.map(formatDiagnostic), []);
  const v = validateResources(resources);
  assert.deepEqual(v.diagnostics.filter((d) => d.severity === 'error').map(formatDiagnostic), []);
  const snap = compileSnapshot(v.config, buildRegistry(v.config, { domain: 'cluster.local' }), proxy, opts);
  cache.set(key, snap);
  return snap;
}

function request(snap: Snapshot, row: Row): RequestInfo {
  const m = /^(https?):\/\/([^/?#]+)(.*)$/.exec(row.url);
  if (!m) throw new Error(`bad url ${row.url}`);
  const scheme = m[1] as 'http' | 'https';
  const host = m[2];
  const explicit = /:([0-9]+)$/.exec(host);
  const port =
    snap.proxy.role === 'sidecar'
      ? resolveRequestPort(snap, host)
      : row.port ?? (explicit ? Number(explicit[1]) : scheme === 'https' ? 443 : 80);
  return { host, port, method: row.method ?? 'GET', path: m[3] || '/', scheme, headers: row.headers ?? {} };
}

function outcome(snap: Snapshot, req: RequestInfo, rnd: number): { out: Outcome; route: Route | null } {
  const none = { vs: null, rule: null, cluster: null };
  const table = selectRouteTable(snap, req);
  if (!table) {
    if (snap.proxy.role === 'gateway') return { out: { kind: 'no_listener', status: null, ...none }, route: null };
    return snap.outboundTrafficPolicy === 'ALLOW_ANY'
      ? { out: { kind: 'passthrough', status: null, ...none }, route: null }
      : { out: { kind: 'blocked', status: 502, ...none }, route: null };
  }
  const vh = selectVirtualHost(table, req.host);
  if (!vh) return { out: { kind: 'no_route', status: 404, ...none }, route: null };
  if (vh.requireTls && req.scheme === 'http') return { out: { kind: 'redirect', status: 301, ...none }, route: null };
  const r = matchRoute(vh, req);
  if (!r) return { out: { kind: 'no_route', status: 404, ...none }, route: null };
  const base = { vs: r.virtualService ? `${r.virtualService.namespace}/${r.virtualService.name}` : null, rule: r.ruleIndex, cluster: null };
  const a = r.action;
  switch (a.kind) {
    case 'route': {
      const d = pickWeighted(a.destinations, a.totalWeight, rnd);
      return { out: { kind: 'route', ...base, cluster: d.cluster, status: snap.clusters.has(d.cluster) ? null : 503 }, route: r };
    }
    case 'redirect':
      return { out: { kind: 'redirect', status: a.status, ...base }, route: r };
    case 'direct_response':
      return { out: { kind: 'direct_response', status: a.status, ...base }, route: r };
    case 'passthrough':
      return { out: { kind: 'passthrough', status: null, ...base }, route: r };
    case 'blocked':
      return { out: { kind: 'blocked', status: a.status, ...base }, route: r };
  }
}

function run(rows: readonly Row[]): void {
  for (const row of rows) {
    const proxy: ProxyIdentity = { role: 'sidecar', namespace: 'default', labels: {}, ...row.proxy };
    const snap = snapshotFor(row.fixture, proxy, row.opts);
    const { out, route } = outcome(snap, request(snap, row), row.rnd ?? 0);
    const got: Partial<Outcome> = {};
    for (const k of Object.keys(row.want) as Array<keyof Outcome>) (got as Record<string, unknown>)[k] = out[k];
    assert.deepEqual(got, row.want, `${row.name}: ${JSON.stringify(out)}`);
    if (row.check) {
      assert.ok(route, `${row.name}: no route to check`);
      row.check(route);
    }
  }
}

const GW: Partial<ProxyIdentity> = { role: 'gateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' } };
/** A forwarded request; VS and rule are checked only when given. */
const R = (cluster: string, vs?: string | null, rule?: number | null): Partial<Outcome> => ({
  kind: 'route', status: null, cluster, ...(vs !== undefined ? { vs } : {}), ...(rule !== undefined ? { rule } : {}),
});
const REVIEWS = fq('reviews');

// ------------------------------------------------------------------------------ rows

void test('match kinds (sidecar)', () => {
  const k = (rule: number, subset: string) => R(cl(9080, subset, REVIEWS), 'default/kinds', rule);
  run([
    { name: 'uri exact', fixture: KINDS, url: 'http://reviews/exact', want: k(0, 'v2') },
    { name: 'uri exact is not a prefix', fixture: KINDS, url: 'http://reviews/exact/x', want: k(16, 'v1') },
    { name: 'uri exact ignores query', fixture: KINDS, url: 'http://reviews/exact?x=1', want: k(0, 'v2') },
    { name: 'uri prefix', fixture: KINDS, url: 'http://reviews/prefix/a', want: k(1, 'v2') },
    { name: 'uri prefix is a character prefix', fixture: KINDS, url: 'http://reviews/prefixes', want: k(1, 'v2') },
    { name: 'uri prefix case-sensitive', fixture: KINDS, url: 'http://reviews/PREFIX', want: k(16, 'v1') },
    { name: 'uri regex full match', fixture: KINDS, url: 'http://reviews/re/42', want: k(2, 'v3') },
    { name: 'uri regex anchored', fixture: KINDS, url: 'http://reviews/re/42/x', want: k(16, 'v1') },
    { name: 'ignoreUriCase', fixture: KINDS, url: 'http://reviews/cASe', want: k(3, 'v3') },
    { name: 'header exact', fixture: KINDS, url: 'http://reviews/', headers: { 'x-exact': 'a' }, want: k(4, 'v2') },
    { name: 'header exact miss', fixture: KINDS, url: 'http://reviews/', headers: { 'x-exact': 'ab' }, want: k(16, 'v1') },
    { name: 'header prefix', fixture: KINDS, url: 'http://reviews/', headers: { 'x-prefix': 'prefix' }, want: k(5, 'v2') },
    { name: 'header regex (?i)', fixture: KINDS, url: 'http://reviews/', headers: { 'x-regex': 'ABBBC' }, want: k(6, 'v2') },
    { name: 'header regex anchored', fixture: KINDS, url: 'http://reviews/', headers: { 'x-regex': 'xabc' }, want: k(16, 'v1') },
    { name: 'header present (empty value)', fixture: KINDS, url: 'http://reviews/', headers: { 'x-present': '' }, want: k(7, 'v2') },
    { name: 'withoutHeaders: absent matches', fixture: KINDS, url: 'http://reviews/without', want: k(8, 'v3') },
    { name: 'withoutHeaders: present fails', fixture: KINDS, url: 'http://reviews/without', headers: { 'x-debug': '1' }, want: k(16, 'v1') },
    { name: 'query exact', fixture: KINDS, url: 'http://reviews/query?a=b&q=1', want: k(9, 'v3') },
    { name: 'query exact miss', fixture: KINDS, url: 'http://reviews/query?q=11', want: k(16, 'v1') },
    { name: 'query regex', fixture: KINDS, url: 'http://reviews/qre?id=123', want: k(10, 'v3') },
    { name: 'query regex miss', fixture: KINDS, url: 'http://reviews/qre?id=12a', want: k(16, 'v1') },
    { name: 'query present', fixture: KINDS, url: 'http://reviews/qp?flag=0', want: k(11, 'v3') },
    { name: 'query present missing', fixture: KINDS, url: 'http://reviews/qp?flags=0', want: k(16, 'v1') },
    { name: 'query exact "" matches ?key', fixture: KINDS, url: 'http://reviews/qb?bare', want: k(12, 'v3') },
    { name: 'method', fixture: KINDS, url: 'http://reviews/method', method: 'POST', want: k(13, 'v2') },
    { name: 'method miss', fixture: KINDS, url: 'http://reviews/method', method: 'GET', want: k(16, 'v1') },
    { name: 'scheme', fixture: KINDS, url: 'https://reviews:9080/', want: k(14, 'v3') },
    { name: 'authority', fixture: KINDS, url: 'http://reviews.default:9080/auth', want: k(15, 'v3') },
    { name: 'authority miss (short name)', fixture: KINDS, url: 'http://reviews/auth', want: k(16, 'v1') },
    { name: 'first match wins across kinds', fixture: KINDS, url: 'http://reviews/prefix', headers: { 'x-exact': 'a' }, want: k(1, 'v2') },
  ]);
});

void test('config-time conditions: port, sourceLabels, sourceNamespace, gateways', () => {
  const multi = fq('multi');
  run([
    { name: 'port 8080 rule', fixture: SOURCES, url: 'http://multi:8080/', want: R(cl(8080, '', multi), 'default/sources', 0) },
    { name: 'port 80 skips port rule', fixture: SOURCES, url: 'http://multi/', want: R(cl(80, '', multi), 'default/sources', 3) },
    { name: 'sourceLabels match', fixture: SOURCES, proxy: { labels: { app: 'canary', v: '1' } }, url: 'http://multi/src', want: { vs: 'default/sources', rule: 1 } },
    { name: 'sourceLabels mismatch', fixture: SOURCES, proxy: { labels: { app: 'web' } }, url: 'http://multi/src', want: { vs: 'default/sources', rule: 3 } },
    { name: 'sourceNamespace match', fixture: SOURCES, proxy: { namespace: 'other' }, url: 'http://multi.default/ns', want: { vs: 'default/sources', rule: 2 } },
    { name: 'sourceNamespace mismatch', fixture: SOURCES, url: 'http://multi/ns', want: { vs: 'default/sources', rule: 3 } },
    { name: 'match gateways: mesh', fixture: SOURCES, url: 'http://ratings/', want: R(cl(9080, 'v1', fq('ratings')), 'default/both', 0) },
    { name: 'match gateways: gateway', fixture: SOURCES, proxy: GW, url: `http://${fq('ratings')}/`, want: R(cl(9080, 'v2', fq('ratings')), 'default/both', 1) },
  ]);
});

void test('precedence', () => {
  run([
    { name: 'exact host beats an older wildcard VS', fixture: PRECEDENCE, url: 'http://productpage/', want: R(cl(9080, '', fq('productpage')), 'default/exact-pp', 0) },
    { name: 'wildcard VS covers other services', fixture: PRECEDENCE, url: 'http://details/', want: R(cl(9080, '', fq('details')), 'default/wild', 0) },
    { name: 'oldest VS owns the host on a sidecar', fixture: PRECEDENCE, url: 'http://ratings/', want: R(cl(9080, 'v1', fq('ratings')), 'default/older', 0) },
    { name: 'first match wins', fixture: PRECEDENCE, url: 'http://reviews/a/b', want: R(cl(9080, 'v1', REVIEWS), 'default/first-wins', 0) },
    { name: 'catch-all prefix /', fixture: PRECEDENCE, url: 'http://reviews/never', want: R(cl(9080, 'v3', REVIEWS), 'default/first-wins', 2) },
    { name: 'delegate rule', fixture: DELEGATE, url: 'http://productpage/api/v2/x', want: R(cl(9080, 'v2', REVIEWS), 'default/pp-root', 0) },
    {
      name: 'delegate inherits root timeout; conflicting delegate rule dropped',
      fixture: DELEGATE,
      url: 'http://productpage/api/web',
      want: R(cl(9080, 'v1', REVIEWS), 'default/pp-root', 0),
      check: (r) => {
        assert.equal(r.timeoutMs, 4000);
        assert.deepEqual(r.delegate && [r.delegate.ref.name, r.delegate.ruleIndex], ['pp-api', 2]);
        assert.equal(r.name, 'api-any');
      },
    },
    { name: 'after the delegate', fixture: DELEGATE, url: 'http://productpage/home', want: R(cl(9080, '', fq('productpage')), 'default/pp-root', 1) },
  ]);
});

void test('gateway binding and merging', () => {
  run([
    { name: 'merged VSs: specific route of the newer VS', fixture: GATEWAY, proxy: GW, url: 'http://shop.example.com/b/1', want: R(cl(9080, 'v2', REVIEWS), 'web/shop-b', 0) },
    { name: 'merged VSs: catch-all of the older VS moved last', fixture: GATEWAY, proxy: GW, url: 'http://shop.example.com/x', want: R(cl(9080, 'v1', REVIEWS), 'web/shop-a', 0) },
    { name: 'host case, trailing dot and port ignored', fixture: GATEWAY, proxy: GW, url: 'http://SHOP.Example.com.:12345/b', port: 80, want: R(cl(9080, 'v2', REVIEWS), 'web/shop-b', 0) },
    { name: 'unbound host on a served port', fixture: GATEWAY, proxy: GW, url: 'http://unknown.example.com/', want: { kind: 'no_route', status: 404 } },
    { name: 'mesh-only VS is not on the gateway', fixture: GATEWAY, proxy: GW, url: `http://${fq('details')}/`, want: { kind: 'no_route', status: 404 } },
    { name: 'httpsRedirect', fixture: GATEWAY, proxy: GW, url: 'http://secure.example.com/a', want: { kind: 'redirect', status: 301 } },
    { name: 'HTTPS server route table', fixture: GATEWAY, proxy: GW, url: 'https://secure.example.com/a', want: R(cl(9080, '', fq('productpage')), 'web/secure', 0) },
    { name: 'port with servers but no VS: 404', fixture: GATEWAY, proxy: GW, url: 'http://unbound.example.com:8081/', want: { kind: 'no_route', status: 404 } },
    { name: 'no listener', fixture: GATEWAY, proxy: GW, url: 'http://shop.example.com:9999/', want: { kind: 'no_listener' } },
    { name: 'redirect code', fixture: GATEWAY, proxy: GW, url: 'http://old.example.com/moved', want: { kind: 'redirect', status: 308, vs: 'web/redirects', rule: 0 } },
    { name: 'direct response', fixture: GATEWAY, proxy: GW, url: 'http://old.example.com/gone', want: { kind: 'direct_response', status: 410, vs: 'web/redirects', rule: 1 } },
    { name: 'unsupported redirect code: rule dropped', fixture: GATEWAY, proxy: GW, url: 'http://old.example.com/bad', want: { kind: 'redirect', status: 301, vs: 'web/redirects', rule: 3 } },
    { name: 'proxy without matching gateway', fixture: GATEWAY, proxy: { ...GW, labels: { istio: 'egress' } }, url: 'http://shop.example.com/', want: { kind: 'no_listener' } },
  ]);
});

void test('host rules (sidecar)', () => {
  const def = R(cl(9080, '', REVIEWS), null, null);
  run([
    { name: 'short name', fixture: BASE, url: 'http://reviews/', want: def },
    { name: 'name.ns', fixture: BASE, url: 'http://reviews.default/', want: def },
    { name: 'name.ns.svc', fixture: BASE, url: 'http://reviews.default.svc/', want: def },
    { name: 'upper-case FQDN with trailing dot', fixture: BASE, url: 'http://REVIEWS.default.svc.cluster.local./', want: def },
    { name: 'explicit port', fixture: BASE, url: 'http://reviews:9080/', want: def },
    { name: 'short name from another namespace is unknown', fixture: BASE, proxy: { namespace: 'other' }, url: 'http://reviews/', want: { kind: 'passthrough' } },
    { name: 'name.ns from another namespace', fixture: BASE, proxy: { namespace: 'other' }, url: 'http://reviews.default/', want: def },
    { name: 'other-namespace service', fixture: BASE, url: 'http://httpbin.other:8000/', want: R(cl(8000, '', fq('httpbin', 'other'))) },
    { name: 'multi-port service, port 80 default', fixture: BASE, url: 'http://multi/', want: R(cl(80, '', fq('multi'))) },
    { name: 'wildcard service host', fixture: BASE, url: 'http://a.wild.example.com/', want: R(cl(80, '', '*.wild.example.com')) },
    { name: '*.x does not cover x', fixture: BASE, url: 'http://wild.example.com/', want: { kind: 'passthrough' } },
    { name: 'external DNS service', fixture: BASE, url: 'http://api.example.com/', want: R(cl(80, '', 'api.example.com')) },
    { name: 'unknown host ALLOW_ANY', fixture: BASE, url: 'http://unknown.org/', want: { kind: 'passthrough', status: null } },
    { name: 'unknown port ALLOW_ANY', fixture: BASE, url: 'http://unknown.org:5555/', want: { kind: 'passthrough' } },
    {
      name: 'default route has Istio retries and no timeout',
      fixture: BASE,
      url: 'http://reviews/',
      want: def,
      check: (r) => {
        assert.equal(r.timeoutMs, null);
        assert.equal(r.retry?.attempts, 2);
        assert.equal(r.retry?.isDefault, true);
        assert.deepEqual([...(r.retry?.retryOn ?? [])], ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']);
      },
    },
  ]);
});

void test('visibility: exportTo, Sidecar egress, outbound traffic policy', () => {
  run([
    { name: 'VS exported only to its namespace: ignored elsewhere', fixture: VISIBILITY, url: 'http://httpbin.other:8000/', want: R(cl(8000, '', fq('httpbin', 'other'))) },
    { name: 'VS exported only to its namespace: used there', fixture: VISIBILITY, proxy: { namespace: 'other' }, url: 'http://httpbin:8000/', want: { kind: 'direct_response', status: 418, vs: 'other/private-vs' } },
    { name: 'service exported to "." invisible elsewhere', fixture: VISIBILITY, url: 'http://secret.other:7000/', want: { kind: 'passthrough' } },
    { name: 'service exported to "." visible in its namespace', fixture: VISIBILITY, proxy: { namespace: 'other' }, url: 'http://secret:7000/', want: R(cl(7000, '', fq('secret', 'other'))) },
    { name: 'Sidecar imports one host', fixture: VISIBILITY, proxy: { namespace: 'scoped' }, url: 'http://reviews.default:9080/', want: R(cl(9080, '', REVIEWS)) },
    { name: 'Sidecar: not imported host is unknown', fixture: VISIBILITY, proxy: { namespace: 'scoped' }, url: 'http://ratings.default:9080/', want: { kind: 'passthrough' } },
    { name: 'Sidecar REGISTRY_ONLY: not imported host blocked', fixture: VISIBILITY, proxy: { namespace: 'locked' }, url: 'http://ratings.default:9080/', want: { kind: 'blocked', status: 502 } },
    { name: 'outboundTrafficPolicy {} means REGISTRY_ONLY', fixture: VISIBILITY, proxy: { namespace: 'emptyotp' }, url: 'http://unknown.org/', want: { kind: 'blocked', status: 502 } },
    { name: 'outboundTrafficPolicy {}: known host still routed', fixture: VISIBILITY, proxy: { namespace: 'emptyotp' }, url: 'http://reviews.default:9080/', want: R(cl(9080, '', REVIEWS)) },
    { name: 'egress exclusion', fixture: VISIBILITY, proxy: { namespace: 'excl' }, url: 'http://ratings.default:9080/', want: { kind: 'passthrough' } },
    { name: 'egress exclusion leaves the rest', fixture: VISIBILITY, proxy: { namespace: 'excl' }, url: 'http://reviews.default:9080/', want: R(cl(9080, '', REVIEWS)) },
    { name: 'egress port listener governs its port', fixture: VISIBILITY, proxy: { namespace: 'ported' }, url: 'http://multi.default:8080/', want: { kind: 'passthrough' } },
    { name: 'egress port-less listener for other ports', fixture: VISIBILITY, proxy: { namespace: 'ported' }, url: 'http://multi.default:80/', want: R(cl(80, '', fq('multi'))) },
    { name: 'mesh REGISTRY_ONLY: unknown blocked (502)', fixture: BASE, opts: { outboundTrafficPolicy: 'REGISTRY_ONLY' }, url: 'http://unknown.org/', want: { kind: 'blocked', status: 502 } },
    { name: 'mesh REGISTRY_ONLY: unknown port blocked', fixture: BASE, opts: { outboundTrafficPolicy: 'REGISTRY_ONLY' }, url: 'http://unknown.org:5555/', want: { kind: 'blocked', status: 502 } },
    { name: 'mesh REGISTRY_ONLY: known routed', fixture: BASE, opts: { outboundTrafficPolicy: 'REGISTRY_ONLY' }, url: 'http://reviews/', want: R(cl(9080, '', REVIEWS)) },
  ]);
});

void test('policies and undefined subsets', () => {
  const details = fq('details');
  run([
    { name: 'undefined subset: cluster absent => 503', fixture: POLICIES, url: 'http://details/undefined', want: { kind: 'route', cluster: cl(9080, 'v9', details), status: 503, vs: 'default/details-policy', rule: 0 } },
    {
      name: 'timeout and user retries',
      fixture: POLICIES,
      url: 'http://details/',
      want: R(cl(9080, '', details), 'default/details-policy', 1),
      check: (r) => {
        assert.equal(r.timeoutMs, 2000);
        assert.equal(r.retry?.attempts, 3);
        assert.deepEqual([...(r.retry?.retryOn ?? [])], ['5xx', 'retriable-status-codes']);
        assert.deepEqual([...(r.retry?.retriableStatusCodes ?? [])], [503]);
        assert.equal(r.name, 'tuned');
      },
    },
  ]);
});

// ------------------------------------------------------------------------------ Bookinfo samples

const sample = (f: string): string => readFileSync(resolve(SAMPLES, f), 'utf8');
const bookinfo = (...files: string[]): string => yaml(BOOKINFO_SERVICES, sample('destination-rule-all.yaml'), ...files.map(sample));

void test('Bookinfo samples', { skip: !existsSync(SAMPLES) && 'shared/ not present' }, () => {
  const c = (svc: string, subset: string) => cl(9080, subset, fq(svc));
  const jason = { 'end-user': 'jason' };
  run([
    { name: 'reviews-test-v2: jason', fixture: bookinfo('virtual-service-reviews-test-v2.yaml'), url: 'http://reviews:9080/reviews/0', headers: jason, want: R(c('reviews', 'v2'), 'default/reviews', 0) },
    { name: 'reviews-test-v2: others', fixture: bookinfo('virtual-service-reviews-test-v2.yaml'), url: 'http://reviews:9080/reviews/0', headers: { 'end-user': 'bob' }, want: R(c('reviews', 'v1'), 'default/reviews', 1) },
    { name: 'reviews-test-v2: anonymous', fixture: bookinfo('virtual-service-reviews-test-v2.yaml'), url: 'http://reviews/', want: R(c('reviews', 'v1'), 'default/reviews', 1) },
    { name: 'jason-v2-v3: jason', fixture: bookinfo('virtual-service-reviews-jason-v2-v3.yaml'), url: 'http://reviews/', headers: jason, want: R(c('reviews', 'v2')) },
    { name: 'jason-v2-v3: others', fixture: bookinfo('virtual-service-reviews-jason-v2-v3.yaml'), url: 'http://reviews/', want: R(c('reviews', 'v3')) },
    { name: 'all-v1: productpage', fixture: bookinfo('virtual-service-all-v1.yaml'), url: 'http://productpage/', want: R(c('productpage', 'v1')) },
    { name: 'all-v1: ratings', fixture: bookinfo('virtual-service-all-v1.yaml'), url: 'http://ratings/', want: R(c('ratings', 'v1')) },
    { name: 'all-v1: details', fixture: bookinfo('virtual-service-all-v1.yaml'), url: 'http://details/', want: R(c('details', 'v1')) },
    { name: '80-20: low draw', fixture: bookinfo('virtual-service-reviews-80-20.yaml'), url: 'http://reviews/', rnd: 0.79, want: R(c('reviews', 'v1')) },
    { name: '80-20: high draw', fixture: bookinfo('virtual-service-reviews-80-20.yaml'), url: 'http://reviews/', rnd: 0.8, want: R(c('reviews', 'v2')) },
    { name: '90-10', fixture: bookinfo('virtual-service-reviews-90-10.yaml'), url: 'http://reviews/', rnd: 0.95, want: R(c('reviews', 'v2')) },
    { name: '50-v3', fixture: bookinfo('virtual-service-reviews-50-v3.yaml'), url: 'http://reviews/', rnd: 0.5, want: R(c('reviews', 'v3')) },
    { name: 'v2-v3', fixture: bookinfo('virtual-service-reviews-v2-v3.yaml'), url: 'http://reviews/', rnd: 0.1, want: R(c('reviews', 'v2')) },
    { name: 'reviews-v3', fixture: bookinfo('virtual-service-reviews-v3.yaml'), url: 'http://reviews/', want: R(c('reviews', 'v3')) },
    { name: 'details-v2', fixture: bookinfo('virtual-service-details-v2.yaml'), url: 'http://details/', want: R(c('details', 'v2')) },
    { name: 'ratings-db', fixture: bookinfo('virtual-service-ratings-db.yaml'), url: 'http://ratings/', want: R(c('ratings', 'v2')) },
    { name: 'ratings-mysql', fixture: bookinfo('virtual-service-ratings-mysql.yaml'), url: 'http://ratings/', want: R(c('ratings', 'v2-mysql')) },
    { name: 'ratings-mysql-vm', fixture: bookinfo('virtual-service-ratings-mysql-vm.yaml'), url: 'http://ratings/', want: R(c('ratings', 'v2-mysql-vm')) },
    {
      name: 'ratings-test-abort: jason aborted',
      fixture: bookinfo('virtual-service-ratings-test-abort.yaml'),
      url: 'http://ratings/',
      headers: jason,
      want: R(c('ratings', 'v1'), 'default/ratings', 0),
      check: (r) => assert.deepEqual(r.fault?.abort, { httpStatus: 500, grpcStatus: null, percentage: 100 }),
    },
    {
      name: 'ratings-test-delay: jason delayed 7s',
      fixture: bookinfo('virtual-service-ratings-test-delay.yaml'),
      url: 'http://ratings/',
      headers: jason,
      want: R(c('ratings', 'v1'), 'default/ratings', 0),
      check: (r) => assert.deepEqual(r.fault?.delay, { fixedDelayMs: 7000, percentage: 100 }),
    },
    {
      name: 'ratings-test-delay: others not delayed',
      fixture: bookinfo('virtual-service-ratings-test-delay.yaml'),
      url: 'http://ratings/',
      want: R(c('ratings', 'v1'), 'default/ratings', 1),
      check: (r) => assert.equal(r.fault, null),
    },
    {
      name: 'fault-injection-details-v1: first rule aborts everything with 555',
      fixture: yaml(BOOKINFO_SERVICES, sample('fault-injection-details-v1.yaml')),
      url: 'http://details/',
      want: R(c('details', 'v1'), 'default/details', 0),
      check: (r) => assert.deepEqual(r.fault?.abort, { httpStatus: 555, grpcStatus: null, percentage: 100 }),
    },
    { name: 'gateway /productpage', fixture: bookinfo('bookinfo-gateway.yaml'), proxy: GW, url: 'http://bookinfo.example.com:8080/productpage', want: R(c('productpage', ''), 'default/bookinfo', 0) },
    { name: 'gateway /static prefix', fixture: bookinfo('bookinfo-gateway.yaml'), proxy: GW, url: 'http://1.2.3.4:8080/static/app.js', want: R(c('productpage', ''), 'default/bookinfo', 0) },
    { name: 'gateway unmatched path', fixture: bookinfo('bookinfo-gateway.yaml'), proxy: GW, url: 'http://x:8080/admin', want: { kind: 'no_route', status: 404 } },
    { name: 'gateway port 80 not configured', fixture: bookinfo('bookinfo-gateway.yaml'), proxy: GW, url: 'http://x/productpage', want: { kind: 'no_listener' } },
    {
      name: 'egress-rule-google-apis: port 80 rerouted to 443',
      fixture: yaml(sample('egress-rule-google-apis.yaml')),
      url: 'http://www.googleapis.com/',
      want: R(cl(443, '', 'www.googleapis.com'), 'default/rewrite-port-for-googleapis', 0),
    },
  ]);
});
