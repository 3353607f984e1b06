/**
 * Istio host-name semantics (`pkg/config/host`, `ResolveShortnameToFQDN`, the DNS checks in
 * `pkg/config/validation/agent`). See istio-semantics.md §3.1, §3.2 and §4.
 *
 * Only a leftmost `*` is a wildcard: `*.foo.com` or a bare `*`. Comparisons work on
 * normalized names (lowercase, no trailing dot); every comparison helper normalizes its
 * arguments itself so callers may pass config values as written.
 */
import { Buffer } from 'node:buffer';
import { isIP } from './net.js';

/** Lowercases and strips one trailing dot (`Foo.COM.` → `foo.com`), as vhost matching does. */
export function normalizeHost(h: string): string {
  const lower = h.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** True when the host starts with `*` (bare `*`, `*.foo.com`, or a partial `*foo.com`). */
export function isWildcardHost(h: string): boolean {
  return h.startsWith('*');
}

/** True for an IPv4 or IPv6 literal (hosts may be IPs in gateway VSs and ServiceEntries). */
export function isIPAddress(h: string): boolean {
  return isIP(h);
}

/**
 * Expands a Kubernetes short name: a host with no dot that is neither `*` nor an IP
 * becomes `<host>.<namespace>.svc.<domain>`, using the namespace of the *config object*.
 * Anything containing a dot is taken as written (`reviews.default` is NOT expanded) and
 * only normalized. The dot test runs on the raw input so `reviews.` stays an absolute name.
 * Empty namespace/domain parts are skipped, mirroring Istio.
 */
export function resolveShortName(host: string, namespace: string, domain = 'cluster.local'): string {
  if (host === '' || host === '*' || isIP(host) || host.includes('.')) return normalizeHost(host);
  let out = host;
  if (namespace !== '') out += `.${namespace}`;
  if (domain !== '') out += `.svc.${domain}`;
  return normalizeHost(out);
}

/**
 * Symmetric overlap (Istio `Name.Matches`): equal names, or a wildcard whose suffix (the
 * part after `*`) is a suffix of the other side. `*.com` ~ `foo.com`, `*.foo.com` ~ `*.com`,
 * `*` ~ anything; `*.foo.com` does not match `foo.com`.
 */
export function hostMatches(a: string, b: string): boolean {
  const x = normalizeHost(a);
  const y = normalizeHost(b);
  const xw = isWildcardHost(x);
  const yw = isWildcardHost(y);
  if (xw && yw) {
    // Two wildcards overlap when the shorter suffix is a suffix of the longer.
    return x.length < y.length ? y.slice(1).endsWith(x.slice(1)) : x.slice(1).endsWith(y.slice(1));
  }
  if (xw) return y.endsWith(x.slice(1));
  if (yw) return x.endsWith(y.slice(1));
  return x === y;
}

/**
 * Directional containment (Istio `Name.SubsetOf`): every name matched by `a` is matched by
 * `b`. `a.foo.com ⊂ *.foo.com`, `*.foo.com ⊂ *.com`, `*.com ⊄ *.foo.com`, `x ⊂ *`;
 * a wildcard is never a subset of a concrete name.
 */
export function hostSubsetOf(a: string, b: string): boolean {
  const x = normalizeHost(a);
  const y = normalizeHost(b);
  const xw = isWildcardHost(x);
  const yw = isWildcardHost(y);
  if (xw && yw) return x.length >= y.length && x.slice(1).endsWith(y.slice(1));
  if (xw) return false;
  if (yw) return x.endsWith(y.slice(1));
  return x === y;
}

/**
 * Sort comparator for Istio's `MoreSpecific`: concrete names before wildcards, then longer
 * before shorter, then lexical (code-unit order, for determinism). Negative when `a` is
 * more specific than `b`.
 */
export function compareHostSpecificity(a: string, b: string): number {
  const x = normalizeHost(a);
  const y = normalizeHost(b);
  const xw = isWildcardHost(x);
  const yw = isWildcardHost(y);
  if (xw !== yw) return xw ? 1 : -1;
  if (x.length !== y.length) return y.length - x.length;
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Intersection of two host patterns (gateway server host ∩ VS host): when they overlap,
 * the more specific side, normalized (server `*.example.com` ∩ VS `a.example.com` =
 * `a.example.com`; `*` ∩ x = x); otherwise null. With leading-`*` semantics one side of an
 * overlapping pair is always a subset of the other.
 */
export function hostIntersection(a: string, b: string): string | null {
  if (!hostMatches(a, b)) return null;
  const x = normalizeHost(a);
  const y = normalizeHost(b);
  if (hostSubsetOf(x, y)) return x;
  if (hostSubsetOf(y, x)) return y;
  // Unreachable for leading-wildcard names; keep the more specific one to be total.
  return compareHostSpecificity(x, y) <= 0 ? x : y;
}

/**
 * Does `pattern` match the concrete request `host` (Envoy vhost domain semantics)? Exact
 * equality, `*` covers everything, `*.foo.com` covers `a.foo.com` and `a.b.foo.com` but
 * not `foo.com`. The `*` must stand for at least one character, as in Envoy.
 * Both sides are normalized, so `Foo.com.` matches `foo.com`.
 */
export function hostCovers(pattern: string, host: string): boolean {
  const p = normalizeHost(pattern);
  const h = normalizeHost(host);
  if (p === '*') return true;
  if (p.startsWith('*')) {
    const suffix = p.slice(1);
    return h.length > suffix.length && h.endsWith(suffix);
  }
  return p === h;
}

// ---------------------------------------------------------------------------------------
// Validation. Messages follow Istio's wording (istio-semantics.md §4, V5/V6).

const MAX_DOMAIN_BYTES = 255;
const MAX_LABEL = 63;
const MAX_SUBDOMAIN = 253;
/** Istio's `IsDNS1123Label` is case-insensitive (unlike Kubernetes'), so domains may be mixed case. */
const DOMAIN_LABEL_RE = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
/** Kubernetes' strict, lowercase RFC 1123 label. */
const K8S_LABEL_RE = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;
const K8S_SUBDOMAIN_RE = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
/** Go `strconv.Atoi` accepts an optional sign; the int64 range is checked separately. */
const ATOI_RE = /^[+-]?[0-9]+$/;
const INT64_MAX = 9223372036854775807n;

function isDomainLabel(label: string): boolean {
  return label.length <= MAX_LABEL && DOMAIN_LABEL_RE.test(label);
}

/** Go's `strconv.Atoi` succeeds: digits with optional sign, within int64. */
function goAtoiOk(s: string): boolean {
  if (!ATOI_RE.test(s)) return false;
  const n = BigInt(s);
  return n <= INT64_MAX && n >= -INT64_MAX - 1n;
}

/** Length and emptiness checks shared by FQDNs and wildcard domains (byte length, as in Go). */
function checkPreconditions(name: string): string | null {
  if (Buffer.byteLength(name, 'utf8') > MAX_DOMAIN_BYTES) return `domain name ${JSON.stringify(name)} too long (max 255)`;
  if (name === '') return 'empty domain name not allowed';
  return null;
}

/**
 * Label-by-label check; one trailing empty label (`istio.io.`) is allowed. `shown` is the
 * name quoted in messages: Istio quotes only the part after a wildcard's first label
 * (`"*.com"` for `foo.*.com`); we quote the whole name the user wrote, which is clearer.
 */
function checkLabels(domain: string, shown = domain): string | null {
  const parts = domain.split('.');
  const tld = parts[parts.length - 1];
  if (goAtoiOk(tld)) {
    return `domain name ${JSON.stringify(shown)} invalid (top level domain ${JSON.stringify(tld)} cannot be all-numeric)`;
  }
  for (let i = 0; i < parts.length; i++) {
    const label = parts[i];
    if (i === parts.length - 1 && label === '') return null;
    if (!isDomainLabel(label)) return `domain name ${JSON.stringify(shown)} invalid (label ${JSON.stringify(label)} invalid)`;
  }
  return null;
}

/**
 * Validates a fully-qualified domain name (no wildcard): total ≤ 255 bytes, each label
 * `[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?` of ≤ 63 chars, top-level domain not numeric.
 * Returns null when valid, else e.g.
 * `domain name "foo.123" invalid (top level domain "123" cannot be all-numeric)`.
 */
export function validateFQDN(h: string): string | null {
  return checkPreconditions(h) ?? checkLabels(h);
}

/**
 * True when `h` uses `*` anywhere other than as a bare `*` or a whole leftmost `*.` label:
 * `*foo.com`, `foo*.com`, `foo.*.com`, `*.*.com`.
 */
export function isPartialWildcard(h: string): boolean {
  if (!h.includes('*') || h === '*') return false;
  return !(h.startsWith('*.') && !h.includes('*', 1));
}

/**
 * Validates a domain that may start with a wildcard label (`*.foo.com`) or be a bare `*`.
 * Partial wildcards are rejected with `partial wildcard "*foo.com" not allowed` when the
 * wildcard is in the leftmost label, and as an invalid label otherwise
 * (`domain name "foo.*.com" invalid (label "*" invalid)`).
 *
 * `opts.allowPartialWildcard` restores Istio's own, looser leftmost-label rule, which also
 * admits `*foo` and `*-foo` (ServiceEntry only warns about those; DYNAMIC_DNS uses them).
 */
export function validateWildcardDomain(h: string, opts: { allowPartialWildcard?: boolean } = {}): string | null {
  const pre = checkPreconditions(h);
  if (pre) return pre;
  const dot = h.indexOf('.');
  const first = dot < 0 ? h : h.slice(0, dot);
  if (first !== '*') {
    if (first.startsWith('*') && isDomainLabel(first.slice(first.startsWith('*-') ? 2 : 1))) {
      if (!opts.allowPartialWildcard) return `partial wildcard ${JSON.stringify(h)} not allowed`;
    } else if (!isDomainLabel(first)) {
      return `domain name ${JSON.stringify(h)} invalid (label ${JSON.stringify(first)} invalid)`;
    }
  }
  return dot < 0 ? null : checkLabels(h.slice(dot + 1), h);
}

/** Like {@link validateWildcardDomain}, but IPv4/IPv6 literals are also valid. */
export function validateWildcardDomainOrIP(h: string, opts: { allowPartialWildcard?: boolean } = {}): string | null {
  return isIP(h) ? null : validateWildcardDomain(h, opts);
}

/**
 * Kubernetes RFC 1123 label (namespaces, subset names, Gateway names): lowercase
 * alphanumerics and `-`, starting and ending alphanumeric, at most 63 characters.
 */
export function validateDNS1123Label(s: string): string | null {
  if (s.length > MAX_LABEL) return `must be no more than ${MAX_LABEL} characters`;
  if (!K8S_LABEL_RE.test(s)) {
    return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or '123-abc')";
  }
  return null;
}

/**
 * Kubernetes RFC 1123 subdomain (most object names): dot-separated lowercase labels, at
 * most 253 characters.
 */
export function validateDNS1123Subdomain(s: string): string | null {
  if (s.length > MAX_SUBDOMAIN) return `must be no more than ${MAX_SUBDOMAIN} characters`;
  if (!K8S_SUBDOMAIN_RE.test(s)) {
    return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com')";
  }
  return null;
}
