import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  httpStatusText,
  validateHeaderName,
  validateLabelKey,
  validateLabels,
  validateLabelValue,
  validatePortName,
  validatePortNumber,
} from './names.js';

void test('validateLabelKey', () => {
  const valid = [
    'app',
    'App',
    'version',
    'a',
    'a.b_c-d',
    'app.kubernetes.io/name',
    'example.com/My_Label',
    'istio.io/rev',
    'topology.istio.io/network',
    'a'.repeat(63),
    `${'p'.repeat(253)}/x`,
  ];
  for (const k of valid) assert.equal(validateLabelKey(k), null, k);
  const invalid: Array<[string, string]> = [
    ['', 'invalid tag key: ""'],
    ['-app', 'invalid tag key: "-app"'],
    ['app-', 'invalid tag key: "app-"'],
    ['app name', 'invalid tag key: "app name"'],
    ['*', 'invalid tag key: "*"'],
    ['/name', 'invalid tag key: "/name"'],
    ['prefix/', 'invalid tag key: "prefix/"'],
    ['a/b/c', 'invalid tag key: "a/b/c"'],
    ['bad_prefix/name', 'invalid tag key: "bad_prefix/name"'],
    ['a'.repeat(64), `invalid tag key: "${'a'.repeat(64)}" (name is too long)`],
    [`${'p'.repeat(254)}/x`, `invalid tag key: "${'p'.repeat(254)}/x" (DNS prefix is too long)`],
  ];
  for (const [k, want] of invalid) assert.equal(validateLabelKey(k), want, k);
});

void test('validateLabelValue', () => {
  const valid = ['', 'v1', 'V1', 'v1.2_3-beta', '123', 'a'.repeat(63)];
  for (const v of valid) assert.equal(validateLabelValue(v), null, v);
  const invalid = ['-v1', 'v1-', 'v 1', '*', 'a/b', 'a'.repeat(64), 'é'];
  for (const v of invalid) assert.equal(validateLabelValue(v), `invalid tag value: ${JSON.stringify(v)}`, v);
});

void test('validateLabels', () => {
  const cases: Array<[Record<string, unknown>, string | null]> = [
    [{}, null],
    [{ app: 'reviews', version: 'v1' }, null],
    [{ 'app.kubernetes.io/name': 'x', empty: '' }, null],
    [{ app: '*' }, 'wildcard is not supported in selector'],
    [{ app: 'rev*' }, 'wildcard is not supported in selector'],
    [{ '*': 'x' }, 'wildcard is not supported in selector'],
    [{ 'bad key': 'x', app: '*' }, 'wildcard is not supported in selector'], // wildcard reported first
    [{ 'bad key': 'x' }, 'invalid tag key: "bad key"'],
    [{ '': 'x' }, 'invalid tag key: ""'],
    [{ app: 'bad value' }, 'invalid tag value: "bad value"'],
    [{ app: 1 }, 'invalid tag value for key "app": must be a string'],
    [{ app: null }, 'invalid tag value for key "app": must be a string'],
  ];
  for (const [labels, want] of cases) assert.equal(validateLabels(labels), want, JSON.stringify(labels));
});

void test('validateHeaderName', () => {
  const valid = [
    'x-user',
    'X-User',
    'end-user',
    'content-type',
    'x_custom',
    "x!#$%&'*+-.^_`|~1",
    ':authority',
    ':method',
    ':path',
    ':scheme',
    ':Path',
  ];
  for (const h of valid) assert.equal(validateHeaderName(h), null, h);
  const invalid: Array<[string, string]> = [
    ['', 'header name cannot be empty'],
    ['bad header', 'header name bad header is not a valid header name'],
    ['x:y', 'header name x:y is not a valid header name'],
    [':status', 'header name :status is not a valid header name'],
    [':foo', 'header name :foo is not a valid header name'],
    ['x(y)', 'header name x(y) is not a valid header name'],
    ['x/y', 'header name x/y is not a valid header name'],
    ['x"y', 'header name x"y is not a valid header name'],
    ['é', 'header name é is not a valid header name'],
  ];
  for (const [h, want] of invalid) assert.equal(validateHeaderName(h), want, h);
});

void test('validatePortName', () => {
  const valid = ['http', 'http-web', 'HTTP', 'tcp-8080', '9080', 'a', 'a'.repeat(62)];
  for (const n of valid) assert.equal(validatePortName(n), null, n);
  const invalid = ['', '-http', 'http-', 'http_web', 'http.web', '@', 'a b', 'a'.repeat(63)];
  for (const n of invalid) assert.equal(validatePortName(n), `invalid port name: ${n}`, n);
});

void test('validatePortNumber', () => {
  for (const n of [1, 80, 443, 9080, 65535]) assert.equal(validatePortNumber(n), null, String(n));
  const invalid: Array<[unknown, string]> = [
    [0, 'port number 0 must be in the range 1..65535'],
    [-1, 'port number -1 must be in the range 1..65535'],
    [65536, 'port number 65536 must be in the range 1..65535'],
    [70000, 'port number 70000 must be in the range 1..65535'],
    [80.5, 'port number 80.5 must be in the range 1..65535'],
    [NaN, 'port number NaN must be in the range 1..65535'],
    ['80', 'port number "80" must be in the range 1..65535'],
    [null, 'port number null must be in the range 1..65535'],
    [undefined, 'port number undefined must be in the range 1..65535'],
    [80n, 'port number 80 must be in the range 1..65535'],
  ];
  for (const [n, want] of invalid) assert.equal(validatePortNumber(n), want, String(n));
});

void test('httpStatusText follows Go net/http', () => {
  const cases: Array<[number, string | undefined]> = [
    [200, 'OK'],
    [404, 'Not Found'],
    [413, 'Request Entity Too Large'],
    [418, "I'm a teapot"],
    [425, 'Too Early'],
    [503, 'Service Unavailable'],
    [511, 'Network Authentication Required'],
    [306, undefined],
    [509, undefined],
    [599, undefined],
    [0, undefined],
    [99, undefined],
    [600, undefined],
    [503.5, undefined],
  ];
  for (const [code, want] of cases) assert.equal(httpStatusText(code), want, String(code));
  // Every documented code has a phrase.
  for (const code of [100, 101, 102, 103, 226, 308, 421, 428, 429, 431, 451, 506, 507, 508, 510]) {
    assert.equal(typeof httpStatusText(code), 'string', String(code));
  }
});
