import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  compareHostSpecificity,
  hostCovers,
  hostIntersection,
  hostMatches,
  hostSubsetOf,
  isIPAddress,
  isPartialWildcard,
  isWildcardHost,
  normalizeHost,
  resolveShortName,
  validateDNS1123Label,
  validateDNS1123Subdomain,
  validateFQDN,
  validateWildcardDomain,
  validateWildcardDomainOrIP,
} from './hosts.js';

void test('normalizeHost', () => {
  const cases: Array<[string, string]> = [
    ['Foo.COM', 'foo.com'],
    ['foo.com.', 'foo.com'],
    ['foo.com..', 'foo.com.'], // only one dot stripped
    ['*.Foo.com', '*.foo.com'],
    ['', ''],
    ['.', ''],
  ];
  for (const [i, o] of cases) assert.equal(normalizeHost(i), o, i);
});

void test('isWildcardHost / isIPAddress', () => {
  assert.equal(isWildcardHost('*'), true);
  assert.equal(isWildcardHost('*.foo.com'), true);
  assert.equal(isWildcardHost('*foo.com'), true);
  assert.equal(isWildcardHost('foo.*.com'), false);
  assert.equal(isIPAddress('10.0.0.1'), true);
  assert.equal(isIPAddress('::1'), true);
  assert.equal(isIPAddress('foo'), false);
});

void test('resolveShortName', () => {
  const cases: Array<[string, string, string | undefined, string]> = [
    ['reviews', 'default', undefined, 'reviews.default.svc.cluster.local'],
    ['reviews', 'foo', undefined, 'reviews.foo.svc.cluster.local'],
    ['Reviews', 'default', undefined, 'reviews.default.svc.cluster.local'],
    ['reviews', 'default', 'example.org', 'reviews.default.svc.example.org'],
    ['reviews.default', 'foo', undefined, 'reviews.default'], // has a dot: verbatim
    ['reviews.default.svc.cluster.local', 'foo', undefined, 'reviews.default.svc.cluster.local'],
    ['Foo.Example.COM', 'x', undefined, 'foo.example.com'],
    ['reviews.', 'default', undefined, 'reviews'], // absolute name: not expanded
    ['*', 'default', undefined, '*'],
    ['*.foo.com', 'default', undefined, '*.foo.com'],
    ['10.1.2.3', 'default', undefined, '10.1.2.3'],
    ['::1', 'default', undefined, '::1'],
    ['2001:DB8::1', 'default', undefined, '2001:db8::1'],
    ['', 'default', undefined, ''],
    ['reviews', '', undefined, 'reviews.svc.cluster.local'], // Istio skips an empty namespace
    ['reviews', 'default', '', 'reviews.default'],
  ];
  for (const [h, ns, d, want] of cases) {
    const got = d === undefined ? resolveShortName(h, ns) : resolveShortName(h, ns, d);
    assert.equal(got, want, `${h} in ${ns}`);
  }
});

void test('hostMatches is a symmetric overlap', () => {
  const cases: Array<[string, string, boolean]> = [
    ['foo.com', 'foo.com', true],
    ['foo.com', 'bar.com', false],
    ['*.com', 'foo.com', true],
    ['*.foo.com', '*.com', true],
    ['*.foo.com', 'foo.com', false],
    ['*.foo.com', 'a.b.foo.com', true],
    ['*', 'foo.com', true],
    ['*', '*.com', true],
    ['*', '*', true],
    ['*.bar.com', '*.foo.com', false],
    ['*.com', '*.org', false],
    ['Foo.COM', 'foo.com.', true],
    ['*foo.com', 'afoo.com', true], // partial wildcard: plain suffix semantics
    ['a.foo.com', 'b.foo.com', false],
  ];
  for (const [a, b, want] of cases) {
    assert.equal(hostMatches(a, b), want, `${a} ~ ${b}`);
    assert.equal(hostMatches(b, a), want, `${b} ~ ${a}`);
  }
});

void test('hostSubsetOf is directional', () => {
  const cases: Array<[string, string, boolean]> = [
    ['a.foo.com', '*.foo.com', true],
    ['a.b.foo.com', '*.foo.com', true],
    ['*.foo.com', '*.com', true],
    ['*.com', '*.foo.com', false],
    ['foo.com', '*', true],
    ['*.foo.com', '*', true],
    ['*', '*', true],
    ['*', '*.com', false],
    ['foo.com', '*.foo.com', false],
    ['*.foo.com', 'a.foo.com', false],
    ['foo.com', 'foo.com', true],
    ['foo.com', 'bar.com', false],
    ['*.foo.com', '*.foo.com', true],
    ['A.Foo.com', '*.FOO.com', true],
  ];
  for (const [a, b, want] of cases) assert.equal(hostSubsetOf(a, b), want, `${a} ⊂ ${b}`);
});

void test('compareHostSpecificity orders like MoreSpecific', () => {
  const input = ['*', '*.com', 'b.com', 'a.foo.com', '*.foo.com', 'a.com', 'foo.com', '*.a.foo.com'];
  const sorted = [...input].sort(compareHostSpecificity);
  assert.deepEqual(sorted, ['a.foo.com', 'foo.com', 'a.com', 'b.com', '*.a.foo.com', '*.foo.com', '*.com', '*']);
  assert.ok(compareHostSpecificity('foo.com', '*.foo.com') < 0);
  assert.ok(compareHostSpecificity('*.foo.com', 'foo.com') > 0);
  assert.ok(compareHostSpecificity('longer.com', 'a.com') < 0);
  assert.equal(compareHostSpecificity('a.com', 'A.com.'), 0);
});

void test('hostIntersection keeps the more specific side', () => {
  const cases: Array<[string, string, string | null]> = [
    ['*.example.com', 'a.example.com', 'a.example.com'],
    ['a.example.com', '*.example.com', 'a.example.com'],
    ['*', 'foo.com', 'foo.com'],
    ['foo.com', '*', 'foo.com'],
    ['*', '*', '*'],
    ['*.com', '*.foo.com', '*.foo.com'],
    ['*.foo.com', '*.com', '*.foo.com'],
    ['foo.com', 'foo.com', 'foo.com'],
    ['Foo.com', 'foo.COM.', 'foo.com'],
    ['foo.com', 'bar.com', null],
    ['*.foo.com', 'foo.com', null],
    ['*.a.com', '*.b.com', null],
  ];
  for (const [a, b, want] of cases) assert.equal(hostIntersection(a, b), want, `${a} ∩ ${b}`);
});

void test('hostCovers (request host against vhost domain)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['foo.com', 'foo.com', true],
    ['foo.com', 'bar.com', false],
    ['*', 'anything.example', true],
    ['*', '', true],
    ['*.foo.com', 'a.foo.com', true],
    ['*.foo.com', 'a.b.foo.com', true],
    ['*.foo.com', 'foo.com', false],
    ['*.foo.com', '.foo.com', false], // `*` stands for at least one character
    ['*.foo.com', 'afoo.com', false],
    ['*-bar.foo.com', 'baz-bar.foo.com', true],
    ['Foo.com', 'FOO.com.', true],
    ['*.foo.com', 'A.FOO.COM', true],
  ];
  for (const [p, h, want] of cases) assert.equal(hostCovers(p, h), want, `${p} covers ${h}`);
});

void test('validateFQDN', () => {
  const long63 = 'a'.repeat(63);
  const cases: Array<[string, string | null]> = [
    ['foo.com', null],
    ['Foo.Example.COM', null], // Istio labels are case-insensitive
    ['istio.io.', null], // trailing dot allowed
    ['localhost', null],
    ['a-b.c-d.com', null],
    [`${long63}.com`, null],
    ['123.com', null],
    ['foo.123', 'domain name "foo.123" invalid (top level domain "123" cannot be all-numeric)'],
    ['123', 'domain name "123" invalid (top level domain "123" cannot be all-numeric)'],
    ['10.0.0.1', 'domain name "10.0.0.1" invalid (top level domain "1" cannot be all-numeric)'],
    ['foo.-1', 'domain name "foo.-1" invalid (top level domain "-1" cannot be all-numeric)'], // Go Atoi accepts a sign
    ['foo_bar.com', 'domain name "foo_bar.com" invalid (label "foo_bar" invalid)'],
    ['foo..com', 'domain name "foo..com" invalid (label "" invalid)'],
    ['.foo.com', 'domain name ".foo.com" invalid (label "" invalid)'],
    ['-foo.com', 'domain name "-foo.com" invalid (label "-foo" invalid)'],
    ['foo-.com', 'domain name "foo-.com" invalid (label "foo-" invalid)'],
    [`${long63}a.com`, `domain name "${long63}a.com" invalid (label "${long63}a" invalid)`],
    ['*.foo.com', 'domain name "*.foo.com" invalid (label "*" invalid)'],
    ['', 'empty domain name not allowed'],
  ];
  for (const [h, want] of cases) assert.equal(validateFQDN(h), want, h);
  const tooLong = `${'a.'.repeat(128)}com`;
  assert.equal(validateFQDN(tooLong), `domain name "${tooLong}" too long (max 255)`);
  // exactly 255 is fine
  const max = `${'abcd.'.repeat(50)}abcde`;
  assert.equal(max.length, 255);
  assert.equal(validateFQDN(max), null);
});

void test('validateWildcardDomain', () => {
  const cases: Array<[string, string | null]> = [
    ['*', null],
    ['*.foo.com', null],
    ['*.Foo.com', null],
    ['foo.com', null],
    ['bar.foo.com', null],
    ['reviews', null], // short names are syntactically valid domains
    ['foo_bar.com', 'domain name "foo_bar.com" invalid (label "foo_bar" invalid)'],
    ['foo*.com', 'domain name "foo*.com" invalid (label "foo*" invalid)'],
    ['*foo.com', 'partial wildcard "*foo.com" not allowed'],
    ['*-foo.com', 'partial wildcard "*-foo.com" not allowed'],
    ['foo.*.com', 'domain name "foo.*.com" invalid (label "*" invalid)'],
    ['*.*.com', 'domain name "*.*.com" invalid (label "*" invalid)'],
    ['**.com', 'domain name "**.com" invalid (label "**" invalid)'],
    ['*.foo.123', 'domain name "*.foo.123" invalid (top level domain "123" cannot be all-numeric)'],
    ['*.', null], // Istio quirk: `*` plus the allowed trailing empty label
    ['', 'empty domain name not allowed'],
  ];
  for (const [h, want] of cases) assert.equal(validateWildcardDomain(h), want, h);
  // Istio's own looser leftmost-label rule
  assert.equal(validateWildcardDomain('*foo.com', { allowPartialWildcard: true }), null);
  assert.equal(validateWildcardDomain('*-foo.com', { allowPartialWildcard: true }), null);
  assert.equal(
    validateWildcardDomain('foo*.com', { allowPartialWildcard: true }),
    'domain name "foo*.com" invalid (label "foo*" invalid)',
  );
});

void test('validateWildcardDomainOrIP', () => {
  assert.equal(validateWildcardDomainOrIP('10.0.0.1'), null);
  assert.equal(validateWildcardDomainOrIP('2001:db8::1'), null);
  assert.equal(validateWildcardDomainOrIP('*.foo.com'), null);
  assert.equal(validateWildcardDomainOrIP('foo_bar'), 'domain name "foo_bar" invalid (label "foo_bar" invalid)');
  assert.equal(
    validateWildcardDomainOrIP('10.0.0.256'),
    'domain name "10.0.0.256" invalid (top level domain "256" cannot be all-numeric)',
  );
});

void test('isPartialWildcard', () => {
  const cases: Array<[string, boolean]> = [
    ['*', false],
    ['*.foo.com', false],
    ['foo.com', false],
    ['*foo.com', true],
    ['*-foo.com', true],
    ['foo*.com', true],
    ['foo.*.com', true],
    ['*.*.com', true],
    ['*.', false],
  ];
  for (const [h, want] of cases) assert.equal(isPartialWildcard(h), want, h);
});

void test('validateDNS1123Label (Kubernetes, lowercase)', () => {
  const valid = ['a', 'abc', 'a-b', '0', '123-abc', 'a'.repeat(63)];
  const invalid = ['', 'A', 'aBc', '-a', 'a-', 'a_b', 'a.b', '*', 'a'.repeat(64), 'é'];
  for (const s of valid) assert.equal(validateDNS1123Label(s), null, s);
  for (const s of invalid) assert.notEqual(validateDNS1123Label(s), null, s);
  assert.equal(validateDNS1123Label('a'.repeat(64)), 'must be no more than 63 characters');
  assert.match(validateDNS1123Label('Bad_NS') ?? '', /lowercase RFC 1123 label/);
});

void test('validateDNS1123Subdomain (Kubernetes, lowercase)', () => {
  const valid = ['a', 'a.b', 'example.com', 'my-gw', 'a-1.b-2.c', `${'a'.repeat(63)}.${'b'.repeat(63)}`];
  const invalid = ['', 'A.b', 'a..b', '.a', 'a.', 'a_b', '-a.b', 'a-.b', '*.a'];
  for (const s of valid) assert.equal(validateDNS1123Subdomain(s), null, s);
  for (const s of invalid) assert.notEqual(validateDNS1123Subdomain(s), null, s);
  assert.equal(validateDNS1123Subdomain('a'.repeat(254)), 'must be no more than 253 characters');
  assert.match(validateDNS1123Subdomain('My.Name') ?? '', /lowercase RFC 1123 subdomain/);
});
