/**
 * VirtualService `http[]` rule checks (istio-semantics.md §4.1 V10–V59): action conflicts
 * and delegation, match requests, header operations, CORS, fault injection, mirroring,
 * redirect, direct response, retries, rewrite, destinations and timeout.
 */
import { Buffer } from 'node:buffer';
import type { FieldPath } from '../core/diagnostics.js';
import { validateDuration } from '../core/duration.js';
import { httpStatusText } from '../core/names.js';
import type {
  CorsPolicy, HTTPDirectResponse, HTTPFaultInjection, HTTPMatchRequest, HTTPRedirect, HTTPRetry, HTTPRewrite,
  HTTPRoute, Percent,
} from '../api/types.js';
import { portRangeError } from './common.js';
import type { Findings } from './finding.js';
import {
  checkDestination, checkGatewayRefs, checkMatchPort, checkRouteDestinations, checkSourceLabels, checkSourceNamespace,
} from './vs-refs.js';
import {
  checkAuthorityRewrite, checkHeaderOperations, checkRegex, checkStringMatch, corsHeaderNameError, isJwtClaimKey,
  matchHeaderNameError,
} from './vs-strings.js';

/** What an `http[]` rule needs to know about its VirtualService. */
export interface HttpRuleContext {
  out: Findings;
  /** The VS has no hosts: it is a delegate, so its rules may not delegate again. */
  isDelegateVs: boolean;
  /** Bound to gateways only (no `mesh` among non-empty `gateways`): JWT-claim keys allowed. */
  appliesToGateway: boolean;
  /** Top-level `gateways` as written, for the V10 message. */
  gateways: readonly string[];
}

/** Validates one `http[]` rule at `path` (`['spec', 'http', i]`). */
export function checkHTTPRoute(ctx: HttpRuleContext, r: HTTPRoute, path: FieldPath): void {
  const { out } = ctx;
  checkConflicts(ctx, r, path);
  (r.match ?? []).forEach((m, j) => checkMatchRequest(ctx, m, [...path, 'match', j]));
  checkHeaderOperations(out, r.headers, [...path, 'headers']);
  if (r.corsPolicy) checkCors(out, r.corsPolicy, [...path, 'corsPolicy']);
  if (r.fault) checkFault(out, r.fault, [...path, 'fault']);
  checkMirrors(out, r, path);
  if (r.redirect) checkRedirect(out, r.redirect, r.match, [...path, 'redirect']);
  if (r.directResponse) checkDirectResponse(out, r.directResponse, [...path, 'directResponse']);
  if (r.retries) checkRetries(out, r.retries, [...path, 'retries']);
  if (r.rewrite) checkRewrite(out, r.rewrite, [...path, 'rewrite']);
  checkAuthorityRewrite(out, r.rewrite?.authority, r.headers, path);
  checkRouteDestinations(out, r.route, [...path, 'route']);
  if (r.timeout !== undefined) checkDuration(out, r.timeout, [...path, 'timeout']);
}

/** V11–V20: exactly one action, no delegation from a delegate, mirror xor mirrors. */
function checkConflicts(ctx: HttpRuleContext, r: HTTPRoute, path: FieldPath): void {
  const { out } = ctx;
  const hasRoute = (r.route?.length ?? 0) > 0;
  if (!ctx.isDelegateVs && r.delegate) {
    // A root rule hands the whole action to the delegate VS (V18).
    const who = r.name ? `root HTTP route ${r.name}` : 'root HTTP route';
    if (r.redirect) out.error([...path, 'redirect'], `${who} must not specify redirect`);
    if (hasRoute) out.error([...path, 'route'], `${who} must not specify route`);
    if (r.directResponse) out.error([...path, 'directResponse'], `${who} must not specify direct_response`);
    return;
  }
  if (ctx.isDelegateVs && r.delegate) out.error([...path, 'delegate'], 'delegate HTTP route cannot contain delegate');
  if (r.redirect) {
    if (hasRoute) out.error([...path, 'route'], 'HTTP route cannot contain both route and redirect');
    if (r.fault) out.error([...path, 'fault'], 'HTTP route cannot contain both fault and redirect');
    if (r.rewrite) out.error([...path, 'rewrite'], 'HTTP route rule cannot contain both rewrite and redirect');
    if (r.directResponse) out.error([...path, 'directResponse'], 'HTTP route rule cannot contain both direct_response and redirect');
  } else if (r.directResponse) {
    if (hasRoute) out.error([...path, 'route'], 'HTTP route cannot contain both route and direct_response');
    if (r.fault) out.error([...path, 'fault'], 'HTTP route cannot contain both fault and direct_response');
    if (r.rewrite) out.error([...path, 'rewrite'], 'HTTP route rule cannot contain both rewrite and direct_response');
  } else if (!hasRoute) {
    out.error(path, 'HTTP route, redirect or direct_response is required');
  }
  if (r.mirror && (r.mirrors?.length ?? 0) > 0) out.error([...path, 'mirrors'], 'HTTP route cannot contain both mirror and mirrors');
}

/** V10, V26–V33 for one match block. */
function checkMatchRequest(ctx: HttpRuleContext, m: HTTPMatchRequest, path: FieldPath): void {
  const { out } = ctx;
  for (const field of ['headers', 'withoutHeaders'] as const) {
    for (const [name, sm] of Object.entries(m[field] ?? {})) {
      const at = [...path, field, name];
      // The schema already refuses null values; kept so the webhook rule holds on its own.
      if (sm === null || sm === undefined) out.error(at, `header match ${name} cannot be null`);
      const nameErr = matchHeaderNameError(name);
      if (nameErr) out.error(at, nameErr);
      if (!ctx.appliesToGateway && isJwtClaimKey(name)) {
        out.error(
          at,
          `JWT claim based routing (key: ${name}) is only supported for gateway, found no gateways: [${ctx.gateways.join(' ')}]`,
        );
      }
      // In withoutHeaders, regex `*` is a presence test rather than an RE2 pattern.
      if (field === 'headers' || sm?.regex !== '*') checkStringMatch(out, sm, field, at);
    }
  }
  // Envoy accepts an empty path prefix, but not an empty prefix for other matchers.
  checkStringMatch(out, m.uri, 'uri', [...path, 'uri'], true);
  checkStringMatch(out, m.scheme, 'scheme', [...path, 'scheme']);
  checkStringMatch(out, m.method, 'method', [...path, 'method']);
  checkStringMatch(out, m.authority, 'authority', [...path, 'authority']);
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) {
    checkStringMatch(out, sm, 'queryParams', [...path, 'queryParams', name]);
  }
  checkMatchPort(out, m.port, [...path, 'port']);
  checkSourceLabels(out, m.sourceLabels, [...path, 'sourceLabels']);
  checkGatewayRefs(out, m.gateways, [...path, 'gateways']);
  checkSourceNamespace(out, m.sourceNamespace, [...path, 'sourceNamespace']);
}

/** Go's `net/http` method names plus `*`. */
const CORS_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', '*']);

/** V59 (and V27–V29 for regex origins). */
function checkCors(out: Findings, c: CorsPolicy, path: FieldPath): void {
  (c.allowOrigins ?? []).forEach((o, i) => {
    const at = [...path, 'allowOrigins', i];
    const value = o.exact ?? o.prefix ?? o.regex ?? '';
    if (value === '') out.error(at, "'' is not a valid match type for CORS allow origins");
    else if (o.regex !== undefined) checkRegex(out, o.regex, 'corsPolicy.allowOrigins', [...at, 'regex']);
  });
  (c.allowMethods ?? []).forEach((m, i) => {
    if (!CORS_METHODS.has(m)) out.error([...path, 'allowMethods', i], `${JSON.stringify(m)} is not a supported HTTP method`);
  });
  for (const field of ['allowHeaders', 'exposeHeaders'] as const) {
    (c[field] ?? []).forEach((h, i) => {
      const err = corsHeaderNameError(h);
      if (err) out.error([...path, field, i], err);
    });
  }
  if (c.maxAge !== undefined) {
    const at = [...path, 'maxAge'];
    if (!checkDuration(out, c.maxAge, at)) return;
    // Envoy's access-control-max-age is whole seconds.
    if (validateDuration(c.maxAge, { secondsPrecision: true })) out.error(at, 'max_age duration is accurate only to seconds precision');
  }
}

const GRPC_STATUS_NAMES: ReadonlySet<string> = new Set([
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
]);

/** V43–V48. */
function checkFault(out: Findings, f: HTTPFaultInjection, path: FieldPath): void {
  if (!f.abort && !f.delay) out.error(path, 'HTTP fault injection must have an abort and/or a delay');
  const a = f.abort;
  if (a) {
    const at = [...path, 'abort'];
    checkFaultPercentage(out, a.percentage, [...at, 'percentage']);
    if (a.grpcStatus !== undefined) {
      if (!GRPC_STATUS_NAMES.has(a.grpcStatus)) {
        out.error(
          [...at, 'grpcStatus'],
          `gRPC status ${JSON.stringify(a.grpcStatus)} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`,
        );
      }
    } else if (a.http2Error !== undefined) {
      out.error([...at, 'http2Error'], 'HTTP/2 abort fault injection not supported yet');
    } else if (a.httpStatus !== undefined) {
      const err = httpStatusRangeError(a.httpStatus);
      if (err) out.error([...at, 'httpStatus'], err);
    } else {
      out.warn(at, 'abort configured, but error type not set');
    }
  }
  const d = f.delay;
  if (d) {
    const at = [...path, 'delay'];
    checkFaultPercentage(out, d.percentage, [...at, 'percentage']);
    if (d.fixedDelay !== undefined) checkDuration(out, d.fixedDelay, [...at, 'fixedDelay']);
    if (d.exponentialDelay !== undefined) {
      checkDuration(out, d.exponentialDelay, [...at, 'exponentialDelay']);
      out.error([...at, 'exponentialDelay'], 'exponentialDelay not supported yet');
    }
  }
}

/** V44: 0, or within [0.0001, 100]. */
function checkFaultPercentage(out: Findings, p: Percent | undefined, path: FieldPath): void {
  if (!p) return;
  const v = p.value ?? 0;
  if (v < 0 || v > 100 || (v > 0 && v < 0.0001)) {
    out.error([...path, 'value'], `percentage ${goFloat(v)} is neither 0.0, nor in range [0.0001, 100.0]`);
  }
}

/** V45/V54: Istio accepts 200..600 although its message says 599. */
function httpStatusRangeError(status: number): string | null {
  return status < 200 || status > 600 ? `HTTP status ${status} is not in range 200-599` : null;
}

/** V20 (the conflict), V57, V58 and mirror destinations. */
function checkMirrors(out: Findings, r: HTTPRoute, path: FieldPath): void {
  // `mirror_percent` is the proto name of the same deprecated field.
  for (const field of ['mirrorPercent', 'mirror_percent'] as const) {
    const v = r[field];
    if (v === undefined) continue;
    if (v > 100) out.error([...path, field], `mirror_percent must have a max value of 100 (it has ${v})`);
    out.warn([...path, field], 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead');
  }
  if (r.mirrorPercentage) {
    const v = r.mirrorPercentage.value ?? 0;
    const at = [...path, 'mirrorPercentage', 'value'];
    if (v > 100) out.error(at, `mirror_percentage must have a max value of 100 (it has ${v.toFixed(6)})`);
    if (v < 0) out.error(at, `mirror_percentage must have a min value of 0 (it has ${v.toFixed(6)})`);
  }
  checkDestination(out, r.mirror, [...path, 'mirror']);
  (r.mirrors ?? []).forEach((m, i) => {
    const at = [...path, 'mirrors', i];
    if (!m.destination) {
      out.error([...at, 'destination'], 'destination is required for mirrors');
      return;
    }
    checkDestination(out, m.destination, [...at, 'destination']);
    if (m.percentage) {
      const v = m.percentage.value ?? 0;
      const vp = [...at, 'percentage', 'value'];
      if (v > 100) out.error(vp, `mirror percentage must have a max value of 100 (it has ${v.toFixed(6)})`);
      if (v < 0) out.error(vp, `mirror percentage must have a min value of 0 (it has ${v.toFixed(6)})`);
    }
  });
}

/** V49–V53 and the redirect port; like Istio, only the first problem is reported. */
function checkRedirect(out: Findings, rd: HTTPRedirect, matches: HTTPMatchRequest[] | undefined, path: FieldPath): void {
  if (rd.uri && rd.prefixRewrite) {
    out.error([...path, 'prefixRewrite'], 'redirect may only specify one of uri or prefix_rewrite');
    return;
  }
  if (rd.prefixRewrite && (matches ?? []).some((m) => m.uri !== undefined && m.uri.prefix === undefined)) {
    out.error([...path, 'prefixRewrite'], 'redirect prefix_rewrite requires all URI matches to use prefix match type');
    return;
  }
  if (!rd.uri && !rd.prefixRewrite && !rd.authority && rd.port === undefined && rd.derivePort === undefined && !rd.scheme) {
    out.error(path, 'redirect must specify URI, authority, scheme, or port');
    return;
  }
  if (rd.redirectCode !== undefined && rd.redirectCode !== 0 && (rd.redirectCode < 300 || rd.redirectCode > 399)) {
    out.error([...path, 'redirectCode'], `${rd.redirectCode} is not a valid redirect code, must be 3xx`);
    return;
  }
  if (rd.scheme && rd.scheme !== 'http' && rd.scheme !== 'https') {
    out.error([...path, 'scheme'], 'invalid redirect scheme, must be "http" or "https"');
    return;
  }
  if (rd.port !== undefined && rd.port > 0) {
    const err = portRangeError(rd.port);
    if (err) out.error([...path, 'port'], err);
  }
}

const KIB = 1024;
const MIB = 1024 * KIB;

/** V54: status range; body size (error above 1 MiB, warning above 100 KiB). */
function checkDirectResponse(out: Findings, dr: HTTPDirectResponse, path: FieldPath): void {
  if (dr.body) {
    const size =
      dr.body.string !== undefined
        ? Buffer.byteLength(dr.body.string, 'utf8')
        : dr.body.bytes !== undefined
          ? Buffer.from(dr.body.bytes, 'base64').length
          : 0;
    if (size > MIB) out.error([...path, 'body'], 'large direct_responses may impact control plane performance, must be less than 1MB');
    else if (size > 100 * KIB) out.warn([...path, 'body'], 'large direct_responses may impact control plane performance');
  }
  const err = httpStatusRangeError(dr.status);
  if (err) out.error([...path, 'status'], err);
}

/** Envoy's `x-envoy-retry-on` and `x-envoy-retry-grpc-on` policies that Istio accepts. */
const RETRY_ON_POLICIES: ReadonlySet<string> = new Set([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers', 'envoy-ratelimited', 'http3-post-connect-failure',
  'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable',
]);

/** Go `strconv.Atoi` syntax; tokens with spaces are not numbers (V41: no trimming). */
const ATOI_RE = /^[+-]?[0-9]+$/;

function isRetryOnToken(t: string): boolean {
  if (RETRY_ON_POLICIES.has(t)) return true;
  return ATOI_RE.test(t) && httpStatusText(Number(t)) !== undefined;
}

/** V39–V42. */
function checkRetries(out: Findings, r: HTTPRetry, path: FieldPath): void {
  const attempts = r.attempts ?? 0;
  if (attempts < 0) out.error([...path, 'attempts'], 'attempts cannot be negative');
  if (attempts === 0 && (r.perTryTimeout !== undefined || (r.retryOn ?? '') !== '' || r.retryRemoteLocalities !== undefined)) {
    out.error(path, 'http retry policy configured when attempts are set to 0 (disabled)');
  }
  if (r.perTryTimeout !== undefined) checkDuration(out, r.perTryTimeout, [...path, 'perTryTimeout']);
  if (r.retryOn) {
    for (const t of r.retryOn.split(',')) {
      if (!isRetryOnToken(t)) out.error([...path, 'retryOn'], `${JSON.stringify(t)} is not a valid retryOn policy`);
    }
  }
  if (r.backoff !== undefined) checkDuration(out, r.backoff, [...path, 'backoff']);
}

/** V55/V56; like Istio, only the first problem is reported. */
function checkRewrite(out: Findings, w: HTTPRewrite, path: FieldPath): void {
  if (w.uri && w.uriRegexRewrite) {
    out.error(path, 'rewrite may only contain one of URI or UriRegexRewrite');
    return;
  }
  if (!w.uri && !w.uriRegexRewrite && !w.authority) {
    out.error(
      path,
      'rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified',
    );
    return;
  }
  const rr = w.uriRegexRewrite;
  if (!rr) return;
  if (!rr.match || !rr.rewrite) {
    out.error([...path, 'uriRegexRewrite'], 'UriRegexRewrite requires both Rewrite and Match fields to be specified');
    return;
  }
  checkRegex(out, rr.match, 'HTTPRewrite.UriRegexRewrite.Match', [...path, 'uriRegexRewrite', 'match']);
}

/**
 * V38/V42: ≥ 1ms and whole milliseconds. The schema runs the same check first, so this
 * only fires when the spec did not come through the structural pass. True when valid.
 */
function checkDuration(out: Findings, d: string, path: FieldPath): boolean {
  const err = validateDuration(d);
  if (err) out.error(path, err);
  return err === null;
}

/** Go's `%v` for a float64: shortest form, exponent notation below 1e-4 or from 1e21. */
function goFloat(v: number): string {
  const a = Math.abs(v);
  if (v === 0 || (a >= 1e-4 && a < 1e21)) return String(v);
  return v.toExponential().replace(/e([+-])(\d)$/, 'e$10$2');
}
