import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRe2, literalPrefix, validateRegex, type Re2 } from './regex.js';

function re(p: string): Re2 {
  const r = compileRe2(p);
  if (!r.ok) throw new Error(`unexpected compile failure for ${p}: ${r.error}`);
  return r.re;
}

void test('compileRe2 rejects non-RE2 syntax without throwing', () => {
  const cases: Array<[string, string]> = [
    ['(?=a)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?=`'],
    ['(?!a)', 'error parsing regexp: invalid or unsupported Perl syntax: `(?!`'],
    ['(?<=a)b', 'error parsing regexp: invalid named capture: `(?<=a)b`'],
    ['(a)\\1', 'error parsing regexp: invalid escape sequence: `\\1`'],
    ['[', 'error parsing regexp: missing closing ]: `[`'],
    ['(', 'error parsing regexp: missing closing ): `(`'],
    ['a**', 'error parsing regexp: invalid nested repetition operator: `**`'],
    ['a{1001}', 'error parsing regexp: invalid repeat count: `{1001}`'],
    ['\\Z', 'error parsing regexp: invalid escape sequence: `\\Z`'],
  ];
  for (const [p, reason] of cases) {
    const r = compileRe2(p);
    assert.deepEqual(r, { ok: false, error: `${reason}; Istio uses RE2 style regex-based match` }, p);
  }
});

void test('fullMatch has anchored, full-string semantics', () => {
  const cases: Array<[string, string, boolean]> = [
    ['a', 'a', true],
    ['a', 'ab', false],
    ['a', 'ba', false],
    ['a', '', false],
    ['(?i)abc', 'AbC', true],
    ['abc', 'ABC', false],
    ['/api/v1/.*', '/api/v1/products', true],
    ['/api/v1/.*', '/x/api/v1/products', false],
    ['^/api$', '/api', true],
    ['.*', '', true],
    ['.*', 'anything', true],
    ['.', '\n', false], // `.` excludes newline by default
    ['(?s).', '\n', true],
    ['jason|alice', 'alice', true],
    ['jason|alice', 'alicex', false],
    ['\\d{3}', '503', true],
    ['\\d{3}', '5030', false],
    ['[[:alpha:]]+', 'abc', true],
    ['\\pL+', 'héllo', true],
    ['(?P<v>v\\d)', 'v2', true],
    ['(?<v>v\\d)', 'v2', true],
    ['h.llo', 'héllo', true],
    ['h..llo', 'h😀llo', false], // `.` is one code point, not one UTF-16 unit
    ['h.llo', 'h😀llo', true],
  ];
  for (const [p, s, want] of cases) assert.equal(re(p).fullMatch(s), want, `${p} ~ ${JSON.stringify(s)}`);
});

void test('literal fast path agrees with the regex engine', () => {
  const literals = ['abc', '/api/v1/products', 'jason', 'a b', 'é', 'Chrome', '-_~!@#%&=:;"<>,/`\''];
  const inputs = ['abc', 'ABC', 'abcd', '', '/api/v1/products', '/api/v1/products/', 'jason', 'a b', 'é', 'e\u0301', 'Chrome'];
  for (const lit of literals) {
    const compiled = re(lit);
    // `(?:)` makes the same pattern bypass the literal shortcut.
    const slow = re(`(?:)${lit}`);
    for (const s of [...inputs, lit]) {
      assert.equal(compiled.fullMatch(s), slow.fullMatch(s), `${lit} vs ${JSON.stringify(s)}`);
    }
  }
  assert.equal(re('a.c').fullMatch('abc'), true); // `.` is not literal
  assert.equal(re('a\\.c').fullMatch('abc'), false);
  assert.equal(re('a\\.c').fullMatch('a.c'), true);
});

void test('catastrophic-backtracking pattern runs in linear time', () => {
  const p = re('(a+)+$');
  const input = `${'a'.repeat(30)}b`;
  const t0 = process.hrtime.bigint();
  const got = p.fullMatch(input);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(got, false);
  assert.ok(ms < 50, `took ${ms}ms`);
  // And a much longer input stays fast too.
  const t1 = process.hrtime.bigint();
  assert.equal(re('(a|aa)*c').fullMatch('a'.repeat(5000)), false);
  assert.ok(Number(process.hrtime.bigint() - t1) / 1e6 < 500);
});

void test('replaceAll uses RE2 \\N substitutions', () => {
  const cases: Array<[string, string, string, string]> = [
    // pattern, input, rewrite, expected
    ['^/service/([^/]+)(/.*)$', '/service/foo/v1/api', '\\2/instance/\\1', '/v1/api/instance/foo'],
    ['^/service/([^/]+)(/.*)$', '/other/foo/v1', '\\2/instance/\\1', '/other/foo/v1'], // no match: unchanged
    ['/v1/', '/v1/a/v1/b', '/v2/', '/v2/a/v2/b'], // every match replaced
    ['^/v1/', '/v1/a/v1/b', '/v2/', '/v2/a/v1/b'], // ^ anchors to the start of input only
    ['(a)(b)?', 'ac', '[\\1\\2]', '[a]c'], // unmatched group inserts nothing
    ['b+', 'abbbc', '\\0\\0', 'abbbbbbc'], // \0 = whole match
    ['x', 'axb', '$1$$', 'a$1$$b'], // `$` is literal
    ['x', 'axb', '$&', 'a$&b'],
    ['x', 'axb', '\\\\', 'a\\b'], // `\\` = one backslash
    ['(x)', 'axb', 'Y\\1\\qZ\\1', 'aYxb'], // invalid escape ends the substitution
    ['x', 'axb', 'y\\', 'ayb'], // trailing backslash: same
    ['(x)', 'axb', '\\2', 'axb'], // reference to a missing group: no-op
    ['x', 'axb', '\\1', 'axb'],
    ['a*', 'baaac', '-', '-b-c-'], // empty matches follow RE2::GlobalReplace
    ['', 'abc', '-', '-a-b-c-'],
    ['', '😀', '-', '-😀-'], // never splits a surrogate pair
    ['(?i)ABC', 'xabcx', 'Z', 'xZx'],
    ['/+', '//a///b', '/', '/a/b'],
    ['^(.*)$', '', 'x', 'x'],
  ];
  for (const [p, input, rw, want] of cases) {
    assert.equal(re(p).replaceAll(input, rw), want, `${p} on ${input} -> ${rw}`);
  }
});

void test('Re2.source keeps the pattern', () => {
  assert.equal(re('a+b').source, 'a+b');
  assert.equal(re('abc').source, 'abc');
});

void test('validateRegex', () => {
  assert.equal(validateRegex('^/api/.*$'), null);
  assert.equal(validateRegex('(?i)abc'), null);
  assert.equal(validateRegex(''), 'regex string match should not be empty');
  assert.equal(validateRegex('a'.repeat(1024)), null);
  assert.equal(validateRegex('a'.repeat(1025)), 'regex is too large, max length allowed is 1024');
  // Length is counted in UTF-8 bytes, like Go's len().
  assert.equal(validateRegex('é'.repeat(513)), 'regex is too large, max length allowed is 1024');
  assert.equal(
    validateRegex('(?=a)'),
    'error parsing regexp: invalid or unsupported Perl syntax: `(?=`; Istio uses RE2 style regex-based match',
  );
  assert.match(validateRegex('(a)\\1') ?? '', /^error parsing regexp: invalid escape sequence/);
});

void test('literal prefix prefilter agrees with the engine', () => {
  const rows: Array<[string, string]> = [
    ['/api/v[0-9]+/items/[a-z0-9-]+', '/api/v'],
    ['ab*c', 'a'],
    ['ab+c', 'ab'],
    ['ab?c', 'a'],
    ['ab{0,2}c', 'a'],
    ['a|b', ''],
    ['(?i)abc', ''],
    ['.*', ''],
  ];
  for (const [pat, want] of rows) assert.equal(literalPrefix(pat), want, pat);
  const inputs = ['/api/v1/items/a-1', '/api/x', 'abbc', 'ac', 'abc', 'c', 'ABC', '/API/v1/items/x'];
  for (const [pat] of rows) {
    const c = compileRe2(pat);
    assert.ok(c.ok);
    const re = compileRe2(`(?:${pat})`);
    assert.ok(re.ok);
    for (const s of inputs) assert.equal(c.re.fullMatch(s), re.re.fullMatch(s), `${pat} on ${s}`);
  }
});
