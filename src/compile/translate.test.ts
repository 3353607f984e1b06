import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HTTPMatchRequest, HTTPRoute } from '../api/types.js';
import type { Service } from '../registry/types.js';
import type { Cluster, Route } from '../snapshot/types.js';
import { Notes } from './order.js';
import { parseRetryOn } from './retry.js';
import { isCatchAllMatch, translateMatch } from './translate-match.js';
import { defaultServiceRoute, translateRoutes, type TranslateContext } from './translate.js';

const H = (n: string) => `${n}.default.svc.cluster.local`;

function svc(host: string, ports: number[]): Service {
  return {
    hostname: host, namespace: 'default', resolution: 'STATIC', location: 'MESH_INTERNAL', addresses: [], exportTo: '*', endpoints: [],
    subjectAltNames: [], origin: 'test', order: 0,
    ports: ports.map((p) => ({ name: `http-${p}`, number: p, protocol: 'HTTP', targetPort: p })),
  };
}

function ctx(clusters: Record<string, Partial<Cluster>> = {}): TranslateContext {
  return {
    listenerPort: 8080,
    services: new Map([[H('one'), svc(H('one'), [9080])], [H('multi'), svc(H('multi'), [80, 9090])]]),
    clusters: new Map(Object.entries(clusters).map(([k, v]) => [k, v as Cluster])),
    notes: new Notes(),
  };
}

const origin = { vs: { kind: 'VirtualService' as const, namespace: 'default', name: 'vs' }, ruleIndex: 3, delegate: null };

function one(http: HTTPRoute, c = ctx()): Route {
  const blocks = http.match ? http.match.map((match, index) => ({ match, index })) : null;
  const rs = translateRoutes(http, blocks, origin, c);
  assert.equal(rs.length, 1, JSON.stringify(c.notes.items));
  return rs[0];
}

const to = (host: string, extra: object = {}) => ({ destination: { host, ...extra } });

void test('weighted destinations: single gets 100, zero weights dropped, relative weights kept', () => {
  const rows: Array<[HTTPRoute, Array<[string, number]>, number]> = [
    [{ route: [{ ...to(H('one')), weight: 0 }] }, [['outbound|9080||' + H('one'), 100]], 100],
    [{ route: [{ ...to(H('one'), { subset: 'v1' }), weight: 80 }, { ...to(H('one'), { subset: 'v2' }), weight: 20 }] },
      [['outbound|9080|v1|' + H('one'), 80], ['outbound|9080|v2|' + H('one'), 20]], 100],
    [{ route: [{ ...to(H('one'), { subset: 'v1' }), weight: 1 }, { ...to(H('one'), { subset: 'v2' }), weight: 3 }] },
      [['outbound|9080|v1|' + H('one'), 1], ['outbound|9080|v2|' + H('one'), 3]], 4],
    [{ route: [{ ...to(H('one'), { subset: 'v1' }), weight: 100 }, { ...to(H('one'), { subset: 'v2' }), weight: 0 }] },
      [['outbound|9080|v1|' + H('one'), 100]], 100],
  ];
  for (const [http, want, total] of rows) {
    const a = one(http).action;
    assert.equal(a.kind, 'route');
    if (a.kind !== 'route') continue;
    assert.deepEqual(a.destinations.map((d) => [d.cluster, d.weight]), want);
    assert.equal(a.totalWeight, total);
  }
});

void test('destination port: explicit, the only port, else the listener port', () => {
  const rows: Array<[object, number]> = [
    [{ host: H('one') }, 9080],
    [{ host: H('one'), port: { number: 7000 } }, 7000],
    [{ host: H('multi') }, 8080],
    [{ host: H('multi'), port: { number: 9090 } }, 9090],
    [{ host: 'unknown.example.com' }, 8080],
  ];
  for (const [destination, port] of rows) {
    const a = one({ route: [{ destination: destination as { host: string } }] }).action;
    assert.ok(a.kind === 'route');
    assert.equal(a.destinations[0].port, port, JSON.stringify(destination));
  }
});

void test('redirect codes and direct responses', () => {
  const r301 = one({ redirect: { uri: '/new' } }).action;
  assert.deepEqual(r301, { kind: 'redirect', status: 301, uri: '/new', prefixRewrite: null, authority: null, scheme: null, port: null, derivePort: null });
  for (const code of [302, 303, 307, 308]) {
    const a = one({ redirect: { authority: 'x', redirectCode: code, derivePort: 'FROM_REQUEST_PORT' } }).action;
    assert.ok(a.kind === 'redirect');
    assert.equal(a.status, code);
    assert.equal(a.derivePort, 'FROM_REQUEST_PORT');
  }
  const c = ctx();
  assert.deepEqual(translateRoutes({ redirect: { uri: '/x', redirectCode: 305 } }, null, origin, c), []);
  assert.match(c.notes.items[0].message, /redirect code 305 is not supported/);
  assert.deepEqual(one({ directResponse: { status: 503, body: { string: 'down' } } }).action, { kind: 'direct_response', status: 503, body: 'down' });
  assert.deepEqual(one({ directResponse: { status: 200, body: { bytes: Buffer.from('héllo').toString('base64') } } }).action, { kind: 'direct_response', status: 200, body: 'héllo' });
  assert.deepEqual(one({ directResponse: { status: 204 } }).action, { kind: 'direct_response', status: 204, body: null });
});

void test('rewrite: prefix anchor from the match, regex rewrite, authority precedence', () => {
  const m = (uri: object): HTTPMatchRequest => ({ uri });
  const rows: Array<[HTTPMatchRequest | null, string | null]> = [
    [m({ prefix: '/api' }), '/api'],
    [m({ exact: '/login' }), '/login'],
    [null, '/'],
    [m({ regex: '/v[0-9]/.*' }), null],
    [{ uri: { prefix: '/API' }, ignoreUriCase: true }, '/api'],
  ];
  for (const [match, prefix] of rows) {
    const r = one({ ...(match ? { match: [match] } : {}), rewrite: { uri: '/v2' }, route: [to(H('one'))] });
    assert.equal(r.rewrite?.uri, '/v2');
    assert.equal(r.rewrite?.uriPrefix, prefix, JSON.stringify(match));
  }
  const rx = one({ rewrite: { uriRegexRewrite: { match: '^/a/(.*)$', rewrite: '/b/\\1' } }, route: [to(H('one'))] }).rewrite!;
  assert.equal(rx.uriRegex?.re.replaceAll('/a/x', rx.uriRegex.rewrite), '/b/x');
  assert.equal(rx.uri, null);

  const auth = (http: HTTPRoute) => {
    const r = one({ route: [{ ...to(H('one')), headers: { request: { set: { host: 'dest.example' } } } }], ...http });
    const a = r.action;
    assert.ok(a.kind === 'route');
    return [r.rewrite?.authority ?? null, a.destinations[0].authority];
  };
  assert.deepEqual(auth({ rewrite: { authority: 'rw' } }), ['rw', null]);
  assert.deepEqual(auth({ headers: { request: { set: { ':authority': 'set' }, add: { host: 'add' } } } }), ['set', null]);
  assert.deepEqual(auth({ headers: { request: { add: { Host: 'add' } } } }), ['add', null]);
  assert.deepEqual(auth({}), [null, 'dest.example']);
});

void test('header operations: lower-case, sorted, host and pseudo headers removed', () => {
  const r = one({
    route: [to(H('one'))],
    headers: {
      request: { set: { 'X-B': '2', 'x-a': '1', host: 'h' }, add: { ':path': '/x', 'x-c': '3' }, remove: ['X-Remove'] },
      response: { set: { 'x-resp': 'r' } },
    },
  });
  assert.deepEqual(r.headers.request.set, [['x-a', '1'], ['x-b', '2']]);
  assert.deepEqual(r.headers.request.add, [['x-c', '3']]);
  assert.deepEqual(r.headers.request.remove, ['x-remove']);
  assert.deepEqual(r.headers.response.set, [['x-resp', 'r']]);
  assert.equal(r.rewrite?.authority, 'h');
});

void test('retries: Istio default, disabled, user overrides', () => {
  const base = { route: [to(H('one'))] };
  const d = one(base).retry!;
  assert.deepEqual(
    { ...d, retryOn: [...d.retryOn] },
    {
      attempts: 2, perTryTimeoutMs: null, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
      retriableStatusCodes: [], retryIgnorePreviousHosts: true, retryRemoteLocalities: false, hostSelectionRetryMaxAttempts: 5,
      backoffBaseMs: 25, backoffMaxMs: 250, isDefault: true,
    },
  );
  assert.equal(one({ ...base, retries: { attempts: 0 } }).retry, null);
  const u = one({ ...base, retries: { attempts: 5, perTryTimeout: '2s', retryOn: '5xx, 503,gateway-error', backoff: '100ms', retryRemoteLocalities: true } }).retry!;
  assert.equal(u.attempts, 5);
  assert.equal(u.perTryTimeoutMs, 2000);
  assert.deepEqual(u.retryOn, ['5xx', 'gateway-error', 'retriable-status-codes']);
  assert.deepEqual(u.retriableStatusCodes, [503]);
  assert.equal(u.backoffBaseMs, 100);
  assert.equal(u.backoffMaxMs, 1000);
  assert.equal(u.retryRemoteLocalities, true);
  assert.equal(u.isDefault, false);
  assert.equal(u.hostSelectionRetryMaxAttempts, 5);
  const kept = one({ ...base, retries: { attempts: 3 } }).retry!;
  assert.deepEqual([...kept.retryOn], ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']);
  // Consistent hash on the destination cluster drops the previous-hosts predicate by default only.
  const ch = ctx({ [`outbound|9080||${H('one')}`]: { lb: { kind: 'CONSISTENT_HASH', hash: null, locality: null, warmup: null } } });
  assert.equal(one(base, ch).retry!.retryIgnorePreviousHosts, false);
  assert.equal(one({ ...base, retries: { attempts: 1 } }, ch).retry!.retryIgnorePreviousHosts, false);
  assert.equal(one({ ...base, retries: { attempts: 1, retryIgnorePreviousHosts: true } }, ch).retry!.retryIgnorePreviousHosts, true);
  assert.equal(one({ ...base, retries: { attempts: 1, retryIgnorePreviousHosts: false } }).retry!.retryIgnorePreviousHosts, false);
});

void test('parseRetryOn', () => {
  const rows: Array<[string, string[], number[]]> = [
    ['5xx', ['5xx'], []],
    ['retriable-status-codes,503', ['retriable-status-codes'], [503]],
    ['503, 504', ['retriable-status-codes'], [503, 504]],
    ['999,reset', ['999', 'reset'], []], // not an HTTP status: kept as a token
    [' , connect-failure ,', ['connect-failure'], []],
  ];
  for (const [i, tokens, codes] of rows) assert.deepEqual(parseRetryOn(i), { retryOn: tokens, codes }, i);
});

void test('timeout, fault and mirror defaults', () => {
  const base = { route: [to(H('one'))] };
  assert.equal(one(base).timeoutMs, null);
  assert.equal(one({ ...base, timeout: '1.5s' }).timeoutMs, 1500);
  assert.equal(one(base).fault, null);
  assert.deepEqual(one({ ...base, fault: { delay: { fixedDelay: '7s' } } }).fault, { delay: { fixedDelayMs: 7000, percentage: 0 }, abort: null });
  assert.deepEqual(one({ ...base, fault: { delay: { fixedDelay: '1s', percent: 30 } } }).fault!.delay, { fixedDelayMs: 1000, percentage: 30 });
  assert.deepEqual(one({ ...base, fault: { delay: { fixedDelay: '1s', percentage: { value: 12.5 } } } }).fault!.delay, { fixedDelayMs: 1000, percentage: 12.5 });
  assert.deepEqual(one({ ...base, fault: { abort: { httpStatus: 555 } } }).fault, { delay: null, abort: { httpStatus: 555, grpcStatus: null, percentage: 0 } });
  assert.deepEqual(one({ ...base, fault: { abort: { grpcStatus: 'UNAVAILABLE', percentage: { value: 100 } } } }).fault!.abort, { httpStatus: null, grpcStatus: 'UNAVAILABLE', percentage: 100 });

  const mirror = (http: HTTPRoute) => one({ ...base, ...http }).mirrors.map((m) => [m.cluster, m.percentage]);
  assert.deepEqual(mirror({ mirror: { host: H('one'), subset: 'v2' } }), [[`outbound|9080|v2|${H('one')}`, 100]]);
  assert.deepEqual(mirror({ mirror: { host: H('one') }, mirrorPercentage: { value: 0 } }), []);
  assert.deepEqual(mirror({ mirror: { host: H('one') }, mirrorPercentage: {} }), [], 'an empty Percent is 0%');
  assert.deepEqual(mirror({ mirror: { host: H('one') }, mirrorPercentage: { value: 33.3 } }), [[`outbound|9080||${H('one')}`, 33.3]]);
  assert.deepEqual(mirror({ mirror: { host: H('one') }, mirrorPercent: 40 }), [[`outbound|9080||${H('one')}`, 40]]);
  assert.deepEqual(mirror({ mirror: { host: H('one') }, mirror_percent: 10 }), [[`outbound|9080||${H('one')}`, 10]]);
  assert.deepEqual(mirror({ mirrors: [{ destination: { host: H('multi') } }, { destination: { host: H('one') }, percentage: { value: 5 } }] }), [
    [`outbound|8080||${H('multi')}`, 100],
    [`outbound|9080||${H('one')}`, 5],
  ]);
});

void test('cors policy', () => {
  const c = one({
    route: [to(H('one'))],
    corsPolicy: { allowOrigins: [{ exact: 'https://a.com' }, { regex: 'https://.*\\.b\\.com' }], allowMethods: ['GET'], maxAge: '24h', allowCredentials: true, unmatchedPreflights: 'IGNORE' },
  }).cors!;
  assert.equal(c.allowOrigins.length, 2);
  assert.equal(c.allowOrigins[1].kind, 'regex');
  assert.equal(c.maxAgeSeconds, 86400);
  assert.equal(c.allowCredentials, true);
  assert.equal(c.unmatchedPreflights, 'IGNORE');
  const legacy = one({ route: [to(H('one'))], corsPolicy: { allowOrigin: ['*'] } }).cors!;
  assert.deepEqual(legacy.allowOrigins, [{ kind: 'exact', value: '*' }]);
  assert.equal(legacy.unmatchedPreflights, 'FORWARD');
  assert.equal(legacy.maxAgeSeconds, null);
});

void test('route names and one route per match block', () => {
  const rs = translateRoutes(
    { name: 'canary', match: [{ name: 'jason', headers: { 'end-user': { exact: 'jason' } } }, { uri: { prefix: '/beta' } }], route: [to(H('one'))] },
    [{ match: { name: 'jason', headers: { 'end-user': { exact: 'jason' } } }, index: 0 }, { match: { uri: { prefix: '/beta' } }, index: 1 }],
    origin,
    ctx(),
  );
  assert.deepEqual(rs.map((r) => [r.name, r.matchIndex, r.ruleIndex]), [['canary.jason', 0, 3], ['canary', 1, 3]]);
  assert.equal(one({ route: [to(H('one'))] }).name, null);
});

void test('translateMatch: presence, reserved keys, ignoreUriCase, catch-all detection', () => {
  const m = translateMatch({
    uri: { prefix: '/API' },
    ignoreUriCase: true,
    headers: { 'X-Any': {}, star: { regex: '*' }, uri: { exact: 'ignored' }, ':method': { exact: 'GET' } },
    withoutHeaders: { debug: {} },
    queryParams: { q: {}, v: { exact: '' } },
    port: 9080,
  });
  assert.deepEqual(m.uri, { kind: 'prefix', value: '/api' });
  assert.deepEqual(m.headers.map((h) => [h.name, h.match.kind, h.invert]), [[':method', 'exact', false], ['star', 'present', false], ['x-any', 'present', false], ['debug', 'present', true]]);
  assert.deepEqual(m.queryParams.map((q) => [q.name, q.match]), [['q', { kind: 'present' }], ['v', { kind: 'exact', value: '' }]]);
  assert.equal(m.port, 9080);
  const rows: Array<[HTTPMatchRequest | null, boolean]> = [
    [null, true],
    [{ uri: { prefix: '/' } }, true],
    [{ uri: { regex: '.*' } }, true],
    [{ uri: {} }, true],
    [{ port: 80 }, true],
    [{ uri: { prefix: '/a' } }, false],
    [{ uri: { prefix: '/' }, headers: { x: {} } }, false],
    [{ uri: { prefix: '/' }, queryParams: { x: {} } }, false],
    [{ method: { exact: 'GET' } }, false],
  ];
  for (const [match, want] of rows) assert.equal(isCatchAllMatch(translateMatch(match)), want, JSON.stringify(match));
});

void test('regex that does not compile drops the rule with a note', () => {
  const c = ctx();
  const rs = translateRoutes({ match: [{ uri: { regex: '(?=a)' } }], route: [to(H('one'))] }, [{ match: { uri: { regex: '(?=a)' } }, index: 0 }], origin, c);
  assert.deepEqual(rs, []);
  assert.match(c.notes.items[0].message, /uri: error parsing regexp/);
});

void test('defaultServiceRoute', () => {
  const r = defaultServiceRoute(H('one'), 9080, new Map());
  assert.equal(r.name, 'default');
  assert.equal(r.virtualService, null);
  assert.ok(r.action.kind === 'route');
  assert.equal(r.action.destinations[0].cluster, `outbound|9080||${H('one')}`);
  assert.equal(r.retry?.isDefault, true);
  assert.equal(r.timeoutMs, null);
  assert.ok(isCatchAllMatch(r.match));
});
