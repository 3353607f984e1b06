import { test } from 'node:test';
import assert from 'node:assert/strict';
import { redirectLocation, splitHostPort, type RedirectAction } from './redirect.js';
import type { RouteMatch } from '../../snapshot/types.js';

const base: RedirectAction = { kind: 'redirect', status: 301, uri: null, prefixRewrite: null, authority: null, scheme: null, port: null, derivePort: null };
const noMatch: RouteMatch = { uri: null, ignoreUriCase: false, scheme: null, method: null, authority: null, headers: [], queryParams: [], port: null, name: null };
const prefix = (p: string): RouteMatch => ({ ...noMatch, uri: { kind: 'prefix', value: p } });
const req = { scheme: 'http' as const, host: 'shop.example.com', port: 80, path: '/old/item?id=7' };

const rows: Array<[string, Partial<RedirectAction>, RouteMatch, Partial<typeof req>, string]> = [
  ['uri replaces the path, query kept', { uri: '/new' }, noMatch, {}, 'http://shop.example.com/new?id=7'],
  ['uri with its own query replaces the query', { uri: '/new?x=1' }, noMatch, {}, 'http://shop.example.com/new?x=1'],
  ['authority', { authority: 'other.example.com' }, noMatch, {}, 'http://other.example.com/old/item?id=7'],
  ['scheme https drops the old default port', { scheme: 'https' }, noMatch, { host: 'shop.example.com:80' }, 'https://shop.example.com/old/item?id=7'],
  ['explicit port', { port: 8443, scheme: 'https' }, noMatch, {}, 'https://shop.example.com:8443/old/item?id=7'],
  ['default port of the new scheme is omitted', { port: 443, scheme: 'https' }, noMatch, {}, 'https://shop.example.com/old/item?id=7'],
  ['derivePort FROM_REQUEST_PORT', { derivePort: 'FROM_REQUEST_PORT' }, noMatch, { port: 8080 }, 'http://shop.example.com:8080/old/item?id=7'],
  ['derivePort FROM_PROTOCOL_DEFAULT drops the port', { derivePort: 'FROM_PROTOCOL_DEFAULT' }, noMatch, { host: 'shop.example.com:9000' }, 'http://shop.example.com/old/item?id=7'],
  ['original non-default port kept', {}, noMatch, { host: 'shop.example.com:9000' }, 'http://shop.example.com:9000/old/item?id=7'],
  ['prefixRewrite replaces the matched prefix', { prefixRewrite: '/v2/' }, prefix('/old/'), {}, 'http://shop.example.com/v2/item?id=7'],
  ['prefixRewrite with no uri match uses /', { prefixRewrite: '/v2/' }, noMatch, {}, 'http://shop.example.com/v2/old/item?id=7'],
];
for (const [name, a, m, r, want] of rows) {
  test(`redirect: ${name}`, () => {
    assert.equal(redirectLocation({ ...base, ...a }, m, { ...req, ...r }), want);
  });
}

test('splitHostPort', () => {
  assert.deepEqual(splitHostPort('a.b:80'), ['a.b', 80]);
  assert.deepEqual(splitHostPort('a.b'), ['a.b', null]);
  assert.deepEqual(splitHostPort('[::1]:8080'), ['::1', 8080]);
  assert.deepEqual(splitHostPort('::1'), ['::1', null]);
  assert.deepEqual(splitHostPort('a:notaport'), ['a', null]);
});
