/**
 * The gRPC `grpc-timeout` request header (gRPC over HTTP/2 spec: 1-8 digits and a unit,
 * `H` hours, `M` minutes, `S` seconds, `m` ms, `u` µs, `n` ns), read and written the way
 * Envoy does (`Grpc::Common::getGrpcTimeout` / `toGrpcTimeout`). Pure.
 *
 * How Istio + Envoy use it: every route Istio builds sets the deprecated
 * `max_grpc_timeout` to the VirtualService timeout (0 when there is none). For a gRPC
 * request Envoy then takes the header as the route timeout, capped by a non-zero VS timeout;
 * without the header the VS timeout applies (see {@link effectiveTimeoutMs}).
 */

const UNIT_MS: Readonly<Record<string, number>> = Object.freeze({ H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 });

/** Milliseconds of a `grpc-timeout` value, or null when absent or malformed (then ignored). */
export function parseGrpcTimeout(v: string | string[] | undefined): number | null {
  if (typeof v !== 'string') return null;
  const n = v.length;
  if (n < 2 || n > 9) return null;
  const per = UNIT_MS[v[n - 1]];
  if (per === undefined) return null;
  let x = 0;
  for (let i = 0; i < n - 1; i++) {
    const c = v.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return null;
    x = x * 10 + c;
  }
  // Sub-millisecond units round up, as Envoy does: 1500u is 2 ms, not 1.
  return per >= 1 ? x * per : Math.ceil(x * per);
}

/** A duration as a `grpc-timeout` value: milliseconds while they fit in 8 digits, then coarser units. */
export function formatGrpcTimeout(ms: number): string {
  let t = Math.max(0, Math.floor(ms));
  if (t <= 99_999_999) return `${t}m`;
  t = Math.floor(t / 1000);
  if (t <= 99_999_999) return `${t}S`;
  t = Math.floor(t / 60);
  if (t <= 99_999_999) return `${t}M`;
  return `${Math.min(99_999_999, Math.floor(t / 60))}H`;
}

/**
 * The route timeout Envoy applies (Router `FilterUtility::finalTimeout` with Istio's
 * `max_grpc_timeout` = the VS timeout): for gRPC requests a non-zero `grpc-timeout` wins,
 * capped by a non-zero route timeout; otherwise the route timeout. 0 = none.
 */
export function effectiveTimeoutMs(routeTimeoutMs: number | null, grpc: boolean, grpcTimeoutMs: number | null): number {
  const route = routeTimeoutMs !== null && routeTimeoutMs > 0 ? routeTimeoutMs : 0;
  if (!grpc || grpcTimeoutMs === null || grpcTimeoutMs <= 0) return route;
  return route > 0 && grpcTimeoutMs > route ? route : grpcTimeoutMs;
}
