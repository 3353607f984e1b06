/**
 * Access-log line formatting: Istio's default text format and its JSON encoding.
 *
 * Text (Istio's `meshConfig.accessLogFile` default, one line per request):
 *
 *     [%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
 *     %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS%
 *     "%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION%
 *     %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%"
 *     "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW%
 *     %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%
 *     %REQUESTED_SERVER_NAME% %ROUTE_NAME%
 *
 * Empty values print `-`, as Envoy does. JSON (`accessLogEncoding: JSON`) uses Istio's key
 * names; like Envoy's JSON formatter it writes keys sorted, numbers as numbers, the upstream
 * service time as a string (it is a header value) and missing values as `null`.
 */
import { formatFlags } from './flags.js';

/** One request as the access log needs it. Strings may be omitted or empty when unknown. */
export interface AccessLogEntry {
  /** Request start, ms since epoch. */
  startTime: number;
  method?: string;
  /** `x-envoy-original-path` if the request had one, else `:path`. */
  path?: string;
  /** `HTTP/1.0`, `HTTP/1.1`, `HTTP/2`. */
  protocol?: string;
  /** Status sent downstream; 0 when none. */
  responseCode: number;
  /** Response-flag mask (flags.ts). */
  flags: number;
  /** e.g. `via_upstream`, `route_not_found`, `upstream_reset_before_response_started{connection_failure}`. */
  responseCodeDetails?: string;
  connectionTerminationDetails?: string;
  upstreamTransportFailureReason?: string;
  bytesReceived: number;
  bytesSent: number;
  /** Total duration in ms (printed truncated to an integer, as Envoy does). */
  durationMs: number;
  /** Value of the `x-envoy-upstream-service-time` response header, if any. */
  upstreamServiceTime?: string | number;
  xForwardedFor?: string;
  userAgent?: string;
  requestId?: string;
  authority?: string;
  /** `ip:port` of the upstream endpoint that served the request. */
  upstreamHost?: string;
  /** Cluster name, e.g. `outbound|9080|v1|reviews.default.svc.cluster.local`. */
  upstreamCluster?: string;
  upstreamLocalAddress?: string;
  downstreamLocalAddress?: string;
  downstreamRemoteAddress?: string;
  requestedServerName?: string;
  routeName?: string;
}

/**
 * `%START_TIME%` in Envoy's default `%Y-%m-%dT%H:%M:%E3SZ` (UTC, millisecond) form.
 * Remembers the last second's prefix, so consecutive lines in the same second cost one
 * integer compare and a 3-digit pad instead of a Date allocation.
 */
export class StartTimeFormatter {
  private second = Number.NaN;
  private prefix = '';
  format(ms: number): string {
    const t = Math.floor(ms);
    const sec = Math.floor(t / 1000);
    if (sec !== this.second) {
      const iso = new Date(sec * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
      this.prefix = iso.slice(0, iso.length - 4);
      this.second = sec;
    }
    const frac = t - sec * 1000;
    return `${this.prefix}${frac < 10 ? '00' : frac < 100 ? '0' : ''}${frac}Z`;
  }
}

function s(v: string | undefined): string {
  return v === undefined || v === '' ? '-' : v;
}

function n(v: number): number {
  return Number.isFinite(v) ? Math.trunc(v) : 0;
}

function ust(v: string | number | undefined): string {
  if (v === undefined || v === '') return '-';
  return typeof v === 'number' ? String(Math.trunc(v)) : v;
}

/** One text line (with trailing newline) in Istio's default format. */
export function formatText(e: AccessLogEntry, time: StartTimeFormatter): string {
  return (
    `[${time.format(e.startTime)}] "${s(e.method)} ${s(e.path)} ${s(e.protocol)}" ` +
    `${n(e.responseCode)} ${formatFlags(e.flags)} ${s(e.responseCodeDetails)} ${s(e.connectionTerminationDetails)} ` +
    `"${s(e.upstreamTransportFailureReason)}" ${n(e.bytesReceived)} ${n(e.bytesSent)} ${n(e.durationMs)} ` +
    `${ust(e.upstreamServiceTime)} "${s(e.xForwardedFor)}" "${s(e.userAgent)}" "${s(e.requestId)}" ` +
    `"${s(e.authority)}" "${s(e.upstreamHost)}" ${s(e.upstreamCluster)} ${s(e.upstreamLocalAddress)} ` +
    `${s(e.downstreamLocalAddress)} ${s(e.downstreamRemoteAddress)} ${s(e.requestedServerName)} ${s(e.routeName)}\n`
  );
}

/** True if `v` has a character JSON must escape, or a surrogate (JSON.stringify escapes lone ones). */
function needsEscape(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

/** A JSON string literal, or `null` for a missing value. Plain text skips JSON.stringify. */
function j(v: string | undefined): string {
  if (v === undefined || v === '') return 'null';
  return needsEscape(v) ? JSON.stringify(v) : `"${v}"`;
}

/**
 * One JSON line (with trailing newline) with Istio's JSON access-log keys, sorted. Built as a
 * string rather than through JSON.stringify of an object, which costs ~8x more per line.
 */
export function formatJson(e: AccessLogEntry, time: StartTimeFormatter): string {
  const ustv = e.upstreamServiceTime;
  const upstreamServiceTime = typeof ustv === 'number' ? String(Math.trunc(ustv)) : ustv;
  return (
    `{"authority":${j(e.authority)},"bytes_received":${n(e.bytesReceived)},"bytes_sent":${n(e.bytesSent)},` +
    `"connection_termination_details":${j(e.connectionTerminationDetails)},` +
    `"downstream_local_address":${j(e.downstreamLocalAddress)},"downstream_remote_address":${j(e.downstreamRemoteAddress)},` +
    `"duration":${n(e.durationMs)},"method":${j(e.method)},"path":${j(e.path)},"protocol":${j(e.protocol)},` +
    `"request_id":${j(e.requestId)},"requested_server_name":${j(e.requestedServerName)},` +
    `"response_code":${n(e.responseCode)},"response_code_details":${j(e.responseCodeDetails)},` +
    `"response_flags":"${formatFlags(e.flags)}","route_name":${j(e.routeName)},"start_time":"${time.format(e.startTime)}",` +
    `"upstream_cluster":${j(e.upstreamCluster)},"upstream_host":${j(e.upstreamHost)},` +
    `"upstream_local_address":${j(e.upstreamLocalAddress)},"upstream_service_time":${j(upstreamServiceTime)},` +
    `"upstream_transport_failure_reason":${j(e.upstreamTransportFailureReason)},"user_agent":${j(e.userAgent)},` +
    `"x_forwarded_for":${j(e.xForwardedFor)}}\n`
  );
}

/** Access-log encodings. */
export type AccessLogFormat = 'text' | 'json';

/** The formatter for an encoding. */
export function formatterFor(format: AccessLogFormat): (e: AccessLogEntry, time: StartTimeFormatter) => string {
  return format === 'json' ? formatJson : formatText;
}
