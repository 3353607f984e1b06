import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HTTPMatchRequest, StringMatch } from '../api/types.js';
import { matchConflict, mergeDelegateRule, mergeMatches, stringMatchConflict } from './delegate.js';

void test('stringMatchConflict', () => {
  const rows: Array<[StringMatch | undefined, StringMatch | undefined, boolean]> = [
    [undefined, { prefix: '/x' }, false],
    [{ prefix: '/a' }, undefined, false],
    [{ prefix: '/a' }, { prefix: '/a/b' }, false],
    [{ prefix: '/a' }, { prefix: '/b' }, true],
    [{ prefix: '/a' }, { exact: '/a/x' }, false],
    [{ prefix: '/a' }, { exact: '/b' }, true],
    [{ exact: '/a' }, { exact: '/a' }, false],
    [{ exact: '/a' }, { exact: '/b' }, true],
    [{ exact: '/a' }, { prefix: '/a' }, true],
    [{ regex: '/a.*' }, { regex: '/a.*' }, true],
    [{ regex: '/a.*' }, { prefix: '/a' }, true],
    [{ prefix: '/a' }, { regex: '/a.*' }, true],
  ];
  for (const [r, l, want] of rows) assert.equal(stringMatchConflict(r, l), want, JSON.stringify([r, l]));
});

void test('matchConflict on other fields', () => {
  const rows: Array<[HTTPMatchRequest, HTTPMatchRequest, boolean]> = [
    [{ headers: { x: { exact: 'a' } } }, { headers: { x: { exact: 'b' } } }, true],
    [{ headers: { x: { exact: 'a' } } }, { headers: { y: { exact: 'b' } } }, false],
    [{ queryParams: { q: { exact: 'a' } } }, { queryParams: { q: { exact: 'b' } } }, true],
    [{ ignoreUriCase: true }, {}, true],
    [{ port: 80 }, { port: 8080 }, true],
    [{ port: 80 }, {}, false],
    [{ sourceNamespace: 'a' }, { sourceNamespace: 'b' }, true],
    [{ sourceLabels: { app: 'a' } }, { sourceLabels: { app: 'b' } }, true],
    [{ sourceLabels: { app: 'a' } }, { sourceLabels: { v: '1' } }, false],
    [{ gateways: ['ns/gw'] }, { gateways: ['ns/other'] }, true],
    [{ gateways: ['ns/gw', 'mesh'] }, { gateways: ['mesh'] }, false],
  ];
  for (const [r, l, want] of rows) assert.equal(matchConflict(r, l), want, JSON.stringify([r, l]));
});

void test('mergeMatches: cross product delegate-major, conflicts dropped, fields merged', () => {
  const root: HTTPMatchRequest[] = [{ name: 'r1', uri: { prefix: '/a' }, headers: { x: { exact: '1' } } }, { name: 'r2', uri: { prefix: '/b' } }];
  const leaf: HTTPMatchRequest[] = [{ name: 'l1', uri: { prefix: '/a/x' } }, { uri: { exact: '/b/y' }, headers: { y: { exact: '2' } } }];
  const out = mergeMatches(root, leaf)!;
  assert.deepEqual(
    out.map((m) => [m.name, m.uri, m.headers]),
    [
      ['r1-l1', { prefix: '/a/x' }, { x: { exact: '1' } }],
      ['r2', { exact: '/b/y' }, { y: { exact: '2' } }],
    ],
  );
  assert.deepEqual(mergeMatches(undefined, leaf), leaf);
  assert.deepEqual(mergeMatches(root, []), root);
  assert.deepEqual(mergeMatches([{ uri: { prefix: '/a' } }], [{ uri: { prefix: '/z' } }]), []);
});

void test('mergeDelegateRule: inherits unset policies, names joined, dropped when every block conflicts', () => {
  const merged = mergeDelegateRule(
    { name: 'root', match: [{ uri: { prefix: '/api' } }], delegate: { name: 'd' }, timeout: '5s', retries: { attempts: 1 }, headers: { request: { set: { a: '1' } } } },
    { name: 'leaf', match: [{ uri: { prefix: '/api/v1' } }], route: [{ destination: { host: 'x' } }], timeout: '1s' },
  )!;
  assert.equal(merged.name, 'root-leaf');
  assert.equal(merged.timeout, '1s');
  assert.deepEqual(merged.retries, { attempts: 1 });
  assert.deepEqual(merged.headers, { request: { set: { a: '1' } } });
  assert.deepEqual(merged.match, [{ uri: { prefix: '/api/v1' } }]);
  assert.ok(!('delegate' in merged));
  assert.equal(
    mergeDelegateRule({ match: [{ uri: { prefix: '/api' } }], delegate: { name: 'd' } }, { match: [{ uri: { prefix: '/web' } }], route: [{ destination: { host: 'x' } }] }),
    null,
  );
  // A delegate rule without match takes the root's blocks.
  assert.deepEqual(
    mergeDelegateRule({ match: [{ uri: { prefix: '/api' } }], delegate: { name: 'd' } }, { route: [{ destination: { host: 'x' } }] })!.match,
    [{ uri: { prefix: '/api' } }],
  );
});
