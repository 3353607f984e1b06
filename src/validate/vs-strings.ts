/**
 * VirtualService string-level checks (istio-semantics.md §4.1 V27–V36, V59): StringMatch
 * values, regexes, header names in matches, and header names/values in header operations.
 * Each function reports into a {@link Findings} collector with the exact field path.
 */
import type { FieldPath } from '../core/diagnostics.js';
import { validateHeaderName } from '../core/names.js';
import { validateRegex } from '../core/regex.js';
import type { Headers, StringMatch } from '../api/types.js';
import type { Findings } from './finding.js';

/**
 * Checks one StringMatch (V27–V30). `where` is the name Istio puts in quotes at the start
 * of the message (`"method": prefix string match should not be empty`). An empty prefix
 * is only an error when `allowEmptyPrefix` is false: Envoy accepts `prefix: ""` for the
 * path but not for other string matchers.
 */
export function checkStringMatch(
  out: Findings,
  sm: StringMatch | null | undefined,
  where: string,
  path: FieldPath,
  allowEmptyPrefix = false,
): void {
  if (!sm) return;
  if (sm.prefix !== undefined && sm.prefix === '' && !allowEmptyPrefix) {
    out.error([...path, 'prefix'], `${JSON.stringify(where)}: prefix string match should not be empty`);
  }
  if (sm.regex !== undefined) checkRegex(out, sm.regex, where, [...path, 'regex']);
}

/** V27–V29 for a bare regex: non-empty, ≤ 1024 bytes, valid RE2. */
export function checkRegex(out: Findings, re: string, where: string, path: FieldPath): void {
  const err = validateRegex(re);
  if (err) out.error(path, `${JSON.stringify(where)}: ${withRe2Link(err)}`);
}

/** Istio appends the RE2 syntax page to compile errors; keep the same pointer for users. */
function withRe2Link(err: string): string {
  return err.endsWith('Istio uses RE2 style regex-based match')
    ? `${err} (https://github.com/google/re2/wiki/Syntax)`
    : err;
}

// ---------------------------------------------------------------------------------------
// Header names in matches (V31) and JWT-claim keys (V10)

const JWT_CLAIM_PREFIX = '@request.auth.claims';

/**
 * True for the JWT-claim routing form of a header key: `@request.auth.claims.a.b` or
 * `@request.auth.claims[a][b]` (prefix compared case-insensitively, as Istio does).
 */
export function isJwtClaimKey(name: string): boolean {
  if (!name.toLowerCase().startsWith(JWT_CLAIM_PREFIX)) return false;
  const rest = name.slice(JWT_CLAIM_PREFIX.length);
  if (rest.startsWith('.')) return rest.length > 1;
  return rest.startsWith('[') && rest.endsWith(']') && rest.length > 2;
}

/** The HTTP/2 pseudo headers Istio admits as match keys (compared as written). */
const MATCH_PSEUDO_HEADERS: ReadonlySet<string> = new Set([':method', ':scheme', ':authority', ':path', ':status']);

/** V31: a match key is a JWT claim, a pseudo header, or an RFC 7230 token. */
export function matchHeaderNameError(name: string): string | null {
  if (name === '') return 'header name cannot be empty';
  if (isJwtClaimKey(name) || MATCH_PSEUDO_HEADERS.has(name)) return null;
  return validateHeaderName(name);
}

/** V59: CORS allow/expose header names are tokens or `*`. */
export function corsHeaderNameError(name: string): string | null {
  if (name === '*') return null;
  if (name === '') return 'header name cannot be empty';
  // Pseudo headers are not tokens; names.ts admits them for matches, CORS does not.
  if (name.startsWith(':')) return `header name ${name} is not a valid header name`;
  return validateHeaderName(name);
}

// ---------------------------------------------------------------------------------------
// Header operations (V34–V36)

function isAuthorityHeaderName(name: string): boolean {
  const l = name.toLowerCase();
  return l === ':authority' || l === 'host';
}

/** Request `set`/`add`: no pseudo headers except the authority, which is a rewrite (V37). */
function requestWriteNameError(name: string): string | null {
  if (name === '') return 'header name cannot be empty';
  if (name.startsWith(':') && !isAuthorityHeaderName(name)) return `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`;
  return null;
}

/** Request `remove` and every response op: neither Host nor pseudo headers. */
function otherOpNameError(name: string): string | null {
  if (name === '') return 'header name cannot be empty';
  if (name.toLowerCase() === 'host') return `invalid header ${JSON.stringify(name)}: cannot set Host header`;
  if (name.startsWith(':')) return `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`;
  return null;
}

/** Control characters Envoy refuses in a header value (tab is allowed). */
// eslint-disable-next-line no-control-regex
const HEADER_VALUE_CTL_RE = /[\u0000-\u0008\u000A-\u001F\u007F]/;

/** V36: a header value Envoy will accept (no control characters, well-formed `%VAR%`). */
export function headerValueError(value: string): string | null {
  if (HEADER_VALUE_CTL_RE.test(value)) return `header value configuration ${value} is invalid`;
  const err = formatterSyntaxError(value);
  return err ? `header value configuration: ${err}` : null;
}

/**
 * Where the scanner of Envoy's header formatter is while reading a value. Literal text
 * may contain `%%`; `%NAME%` and `%NAME(args)%` are substitutions whose arguments are
 * either one bare string or a JSON-ish array of quoted strings.
 */
const enum Scan {
  Text,
  VarName,
  ArgsOpen,
  ArgString,
  QuotedString,
  AfterString,
  ArgsClose,
  VarClose,
}

/**
 * Syntax check of Envoy's custom-header value format (the grammar Envoy's header parser
 * accepts, which Istio's webhook re-implements); null when well formed. The names inside
 * `%…%` are not checked, only the structure, so a value Envoy would NACK is refused here.
 */
function formatterSyntaxError(v: string): string | null {
  let state = Scan.Text;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    const last = i === v.length - 1;
    switch (state) {
      case Scan.Text:
        if (c !== '%') break;
        if (last) return 'invalid header configuration. Un-escaped %';
        if (v[i + 1] === '%') i++; // `%%` is a literal percent sign
        else state = Scan.VarName;
        break;
      case Scan.VarName:
        if (c === '%') state = Scan.Text;
        else if (c === '(') state = Scan.ArgsOpen;
        break;
      case Scan.ArgsOpen:
        if (c === '[') state = Scan.ArgString;
        else if (c !== ' ') state = Scan.QuotedString; // a bare argument is read like a string body
        break;
      case Scan.AfterString:
        if (c === ',') state = Scan.ArgString;
        else if (c === ']') state = Scan.ArgsClose;
        else if (c !== ' ') return "invalid header configuration. Expecting ',', ']', or whitespace";
        break;
      case Scan.ArgString:
        if (c === '"') state = Scan.QuotedString;
        else if (c !== ' ') return 'invalid header configuration. Expecting \'"\'';
        break;
      case Scan.QuotedString:
        if (c === '\\') {
          if (last) return 'invalid header configuration. Un-terminated backslash in JSON string';
          i++;
        } else if (c === ')') state = Scan.VarClose;
        else if (c === '"') state = Scan.AfterString;
        break;
      case Scan.ArgsClose:
        if (c === ')') state = Scan.VarClose;
        else if (c !== ' ') return "invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'";
        break;
      case Scan.VarClose:
        if (c === '%') state = Scan.Text;
        else if (c !== ' ') return "invalid header configuration. Expecting '%' or whitespace after";
        break;
    }
  }
  return state === Scan.Text ? null : `invalid header configuration. Un-terminated variable expression '${v}'`;
}

/**
 * V34–V36 for a `headers` block (route level or per destination). `path` is the path of
 * the `headers` field itself.
 */
export function checkHeaderOperations(out: Findings, h: Headers | undefined, path: FieldPath): void {
  if (!h) return;
  const sides = [
    ['request', h.request],
    ['response', h.response],
  ] as const;
  for (const [side, ops] of sides) {
    if (!ops) continue;
    const writeNameError = side === 'request' ? requestWriteNameError : otherOpNameError;
    for (const op of ['set', 'add'] as const) {
      for (const [name, value] of Object.entries(ops[op] ?? {})) {
        const at = [...path, side, op, name];
        const nameErr = writeNameError(name);
        if (nameErr) out.error(at, nameErr);
        const valueErr = headerValueError(value);
        if (valueErr) out.error(at, valueErr);
      }
    }
    (ops.remove ?? []).forEach((name, i) => {
      const err = otherOpNameError(name);
      if (err) out.error([...path, side, 'remove', i], err);
    });
  }
}

/**
 * V37: the authority may be rewritten in one place only — `rewrite.authority` or a
 * `host`/`:authority` entry in `headers.request.set|add`. Reports the first conflict.
 */
export function checkAuthorityRewrite(
  out: Findings,
  rewriteAuthority: string | undefined,
  h: Headers | undefined,
  routePath: FieldPath,
): void {
  let current = rewriteAuthority ?? '';
  for (const op of ['set', 'add'] as const) {
    for (const [name, value] of Object.entries(h?.request?.[op] ?? {})) {
      if (!isAuthorityHeaderName(name)) continue;
      if (current !== '') {
        out.error(
          [...routePath, 'headers', 'request', op, name],
          `authority header cannot be set multiple times: have ${JSON.stringify(current)}, attempting to set ${JSON.stringify(value)}`,
        );
        return;
      }
      current = value;
    }
  }
}
