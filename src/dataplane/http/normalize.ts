/**
 * Request path normalisation, as Istio's `meshConfig.pathNormalization` configures Envoy
 * (istio.io/latest/docs/reference/config/security/normalization):
 *
 * - `NONE`: the path is used as received.
 * - `BASE` (Istio's default, Envoy `normalize_path`): RFC 3986 normalisation: percent-encoded
 *   unreserved characters (`ALPHA DIGIT - . _ ~`) are decoded once (never twice), `.` and
 *   `..` segments are resolved (RFC 3986 §5.2.4), and `\` becomes `/`.
 * - `MERGE_SLASHES`: BASE, then runs of `/` are merged (Envoy `merge_slashes`).
 * - `DECODE_AND_MERGE_SLASHES`: `%2F`/`%2f` and `%5C`/`%5c` are decoded first, then
 *   MERGE_SLASHES.
 *
 * In every mode a `%00` in the path is rejected (400) and a `#fragment` is dropped (Envoy
 * strips it: CVE-2021-39156). The query is never touched. The result is what the router
 * matches *and* what is sent upstream: matching one string and forwarding another is the
 * authorisation-bypass class these modes exist to close (CVE-2021-31920).
 *
 * Cost: one pass over the path's characters with no allocation when nothing needs changing
 * (the common case); the rewriting pass runs only for paths that contain `%`, `\`, `#`, a
 * `.` segment, or (merging modes) `//`.
 */

/** Istio `meshConfig.pathNormalization.normalization`. */
export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';

export const PATH_NORMALIZATIONS: readonly PathNormalization[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

const SLASH = 47;
const BACKSLASH = 92;
const DOT = 46;
const PERCENT = 37;
const QUESTION = 63;
const HASH = 35;

/** Value of one hex digit, or -1. */
function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** RFC 3986 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function unreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === DOT || c === 95 || c === 126;
}

/**
 * The normalised request target (`path[?query]`), or null when the request must be
 * rejected with 400 (`%00` in the path). `*` (OPTIONS) and anything not starting with `/`
 * are returned as they are.
 */
export function normalizePath(target: string, mode: PathNormalization): string | null {
  if (target.charCodeAt(0) !== SLASH) return target;
  const merge = mode === 'MERGE_SLASHES' || mode === 'DECODE_AND_MERGE_SLASHES';
  const none = mode === 'NONE';
  // Fast scan of the path part: does anything need rewriting?
  const n = target.length;
  let end = n;
  let dirty = false;
  let hasPercent = false;
  for (let i = 0; i < n; i++) {
    const c = target.charCodeAt(i);
    if (c === QUESTION || c === HASH) {
      end = i;
      break;
    }
    if (c === PERCENT) {
      hasPercent = true;
      dirty = true;
    } else if (c === BACKSLASH) dirty = true;
    else if (c === SLASH) {
      const next = target.charCodeAt(i + 1);
      if (next === DOT || (merge && next === SLASH)) dirty = true;
    }
  }
  // A fragment is never part of what is matched or forwarded.
  const hash = end < n ? target.indexOf('#', end) : -1;
  const tail = end === n ? '' : hash < 0 ? target.slice(end) : target.slice(end, hash);
  if (!dirty) return hash < 0 ? target : target.slice(0, end) + tail;
  if (none) {
    if (hasPercent && hasNul(target, end)) return null;
    return hash < 0 ? target : target.slice(0, end) + tail;
  }
  const decoded = decode(target, end, mode === 'DECODE_AND_MERGE_SLASHES');
  if (decoded === null) return null;
  let path = removeDotSegments(decoded);
  if (merge) path = mergeSlashes(path);
  return path + tail;
}

/** Is there a `%00` in target[0, end)? */
function hasNul(target: string, end: number): boolean {
  for (let i = target.indexOf('%'); i >= 0 && i + 2 < end; i = target.indexOf('%', i + 1)) {
    if (target.charCodeAt(i + 1) === 48 && target.charCodeAt(i + 2) === 48) return true;
  }
  return false;
}

/**
 * One decoding pass over target[0, end): unreserved escapes decoded, `%2F`/`%5C` too when
 * `slashes`, every `\` turned into `/`; other escapes kept as sent. Null on `%00`.
 */
function decode(target: string, end: number, slashes: boolean): string | null {
  let out = '';
  let from = 0;
  for (let i = 0; i < end; i++) {
    const c = target.charCodeAt(i);
    if (c === BACKSLASH) {
      out += target.slice(from, i) + '/';
      from = i + 1;
      continue;
    }
    if (c !== PERCENT || i + 2 >= end) continue;
    const hi = hexVal(target.charCodeAt(i + 1));
    const lo = hexVal(target.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) continue;
    const v = hi * 16 + lo;
    if (v === 0) return null;
    let rep: string | null = null;
    if (unreserved(v)) rep = String.fromCharCode(v);
    else if (slashes && (v === SLASH || v === BACKSLASH)) rep = '/';
    if (rep === null) continue;
    out += target.slice(from, i) + rep;
    from = i + 3;
    i += 2;
  }
  return out + target.slice(from, end);
}

/** RFC 3986 §5.2.4 for an absolute path: `.` dropped, `..` removes the previous segment. */
function removeDotSegments(path: string): string {
  if (path.indexOf('/.') < 0) return path;
  const segs = path.split('/');
  const out: string[] = [];
  const last = segs.length - 1;
  for (let i = 1; i <= last; i++) {
    const s = segs[i];
    if (s === '.' || s === '..') {
      if (s === '..' && out.length > 0) out.pop();
      // A trailing dot segment leaves a directory: `/a/b/..` is `/a/`.
      if (i === last) out.push('');
      continue;
    }
    out.push(s);
  }
  return '/' + out.join('/');
}

/** Runs of `/` become one. */
function mergeSlashes(path: string): string {
  if (path.indexOf('//') < 0) return path;
  let out = '';
  let prevSlash = false;
  let from = 0;
  for (let i = 0; i < path.length; i++) {
    const isSlash = path.charCodeAt(i) === SLASH;
    if (isSlash && prevSlash) {
      out += path.slice(from, i);
      from = i + 1;
    }
    prevSlash = isSlash;
  }
  return out + path.slice(from);
}
