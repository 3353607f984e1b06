/**
 * Path normalisation per Istio's modes (istio.io/latest/docs/reference/config/security/normalization,
 * and the CVE cases of reliability-security.md §1.4): one table, every mode.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizePath, type PathNormalization } from './normalize.js';

/** input -> [NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES]; null = 400. */
const CASES: Array<[string, [string | null, string | null, string | null, string | null]]> = [
  ['/plain/path', ['/plain/path', '/plain/path', '/plain/path', '/plain/path']],
  ['/', ['/', '/', '/', '/']],
  ['*', ['*', '*', '*', '*']],
  ['/a/./b/../c', ['/a/./b/../c', '/a/c', '/a/c', '/a/c']],
  ['/a/b/..', ['/a/b/..', '/a/', '/a/', '/a/']],
  ['/a/b/.', ['/a/b/.', '/a/b/', '/a/b/', '/a/b/']],
  ['/../../etc/passwd', ['/../../etc/passwd', '/etc/passwd', '/etc/passwd', '/etc/passwd']],
  ['/public/%2e%2e/admin', ['/public/%2e%2e/admin', '/admin', '/admin', '/admin']],
  ['/public/.%2E/admin', ['/public/.%2E/admin', '/admin', '/admin', '/admin']],
  ['/.hidden/..x/x..', ['/.hidden/..x/x..', '/.hidden/..x/x..', '/.hidden/..x/x..', '/.hidden/..x/x..']],
  // Unreserved escapes are decoded once; others kept as sent.
  ['/some%2fdata/%61%62%63', ['/some%2fdata/%61%62%63', '/some%2fdata/abc', '/some%2fdata/abc', '/some/data/abc']],
  ['/%2D%2e%30%39%41%5A%5f%61%7A%7e', ['/%2D%2e%30%39%41%5A%5f%61%7A%7e', '/-.09AZ_az~', '/-.09AZ_az~', '/-.09AZ_az~']],
  ['/a%20b/%3F/%25', ['/a%20b/%3F/%25', '/a%20b/%3F/%25', '/a%20b/%3F/%25', '/a%20b/%3F/%25']],
  // No double decoding: %2561 is "%61", not "a".
  ['/%2561', ['/%2561', '/%2561', '/%2561', '/%2561']],
  ['/bad%zz/%4', ['/bad%zz/%4', '/bad%zz/%4', '/bad%zz/%4', '/bad%zz/%4']],
  // Backslashes.
  ['/some\\data', ['/some\\data', '/some/data', '/some/data', '/some/data']],
  ['/a\\..\\admin', ['/a\\..\\admin', '/admin', '/admin', '/admin']],
  ['/a%5C..%5Cadmin', ['/a%5C..%5Cadmin', '/a%5C..%5Cadmin', '/a%5C..%5Cadmin', '/admin']],
  ['/public%2F..%2Fadmin', ['/public%2F..%2Fadmin', '/public%2F..%2Fadmin', '/public%2F..%2Fadmin', '/admin']],
  // Slashes.
  ['//admin', ['//admin', '//admin', '/admin', '/admin']],
  ['/some//data///abc/', ['/some//data///abc/', '/some//data///abc/', '/some/data/abc/', '/some/data/abc/']],
  ['/a//../b', ['/a//../b', '/a/b', '/a/b', '/a/b']],
  ['/a%2F%2Fb', ['/a%2F%2Fb', '/a%2F%2Fb', '/a%2F%2Fb', '/a/b']],
  // %00 is always refused; in the query it is the application's business.
  ['/a%00b', [null, null, null, null]],
  ['/a%00', [null, null, null, null]],
  ['/a?x=%00', ['/a?x=%00', '/a?x=%00', '/a?x=%00', '/a?x=%00']],
  // The query is never touched.
  ['/a/../b?x=/../%2e&y=//', ['/a/../b?x=/../%2e&y=//', '/b?x=/../%2e&y=//', '/b?x=/../%2e&y=//', '/b?x=/../%2e&y=//']],
  ['/q?', ['/q?', '/q?', '/q?', '/q?']],
  // Fragments are dropped in every mode (CVE-2021-39156).
  ['/admin#x', ['/admin', '/admin', '/admin', '/admin']],
  ['/public#/../admin', ['/public', '/public', '/public', '/public']],
  ['/a?b=1#frag', ['/a?b=1', '/a?b=1', '/a?b=1', '/a?b=1']],
  ['/a/../b#f', ['/a/../b', '/b', '/b', '/b']],
];

const MODES: PathNormalization[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

for (const [input, want] of CASES) {
  test(`normalizePath ${JSON.stringify(input)}`, () => {
    MODES.forEach((mode, i) => assert.equal(normalizePath(input, mode), want[i], mode));
  });
}

test('an already normal path comes back as the same string (no copy on the hot path)', () => {
  const p = '/api/v1/items?id=7';
  for (const mode of MODES) assert.ok(Object.is(normalizePath(p, mode), p));
});

test('normalisation is idempotent', () => {
  for (const [input] of CASES) {
    for (const mode of MODES.slice(1)) {
      const once = normalizePath(input, mode);
      if (once === null || once.includes('%25')) continue;
      assert.equal(normalizePath(once, mode), once, `${mode} ${input}`);
    }
  }
});
