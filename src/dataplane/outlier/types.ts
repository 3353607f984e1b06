/**
 * Outlier-detection data: the per-endpoint state the detector reads and writes, the results
 * the forwarder reports, and the events the detector returns.
 *
 * The state lives in the caller's per-endpoint record (`HostState`, keyed `cluster|address`),
 * not in the detector, so ejections survive snapshot swaps exactly like in-flight counts do.
 * `HostState` satisfies {@link OutlierHost} once it carries the {@link OutlierState} fields;
 * initialise them with {@link newOutlierState}.
 */

/** Why a host was ejected (Envoy `OutlierEjectionType` names, as /clusters and stats spell them). */
export type EjectionReason = 'consecutive_5xx' | 'consecutive_gateway_failure' | 'consecutive_local_origin_failure';

export const EJECTION_REASONS: readonly EjectionReason[] = Object.freeze([
  'consecutive_5xx',
  'consecutive_gateway_failure',
  'consecutive_local_origin_failure',
]);

/** Outlier fields to add to the per-endpoint runtime state. Times are the detector's `now` clock (ms). */
export interface OutlierState {
  /** 5xx answers in a row (plus local-origin failures mapped to 503/504 when not split). */
  consecutive5xx: number;
  /** 502/503/504 answers in a row (plus mapped local-origin failures when not split). */
  consecutiveGatewayFailure: number;
  /** Local-origin failures in a row (counted only with splitExternalLocalOriginErrors). */
  consecutiveLocalOriginFailure: number;
  /** Ejected by outlier detection (Envoy health flag FAILED_OUTLIER_CHECK). */
  ejected: boolean;
  /** Envoy's ejection-time multiplier: +1 per ejection, -1 per interval spent healthy. */
  ejectionTimeMultiplier: number;
  /** Ejections ever (Envoy `num_ejections`), for /clusters and event logs. */
  ejectionCount: number;
  lastEjectionTime: number | null;
  lastUnejectionTime: number | null;
  /** When the current ejection ends (earliest; the host returns at the first interval tick after). */
  ejectedUntil: number | null;
  /** Reason of the current ejection; null when not ejected. */
  ejectionReason: EjectionReason | null;
}

/**
 * What the detector needs from one endpoint. `healthy` is the flag the load balancers skip on
 * (`LbHost.healthy`); the detector sets it false on ejection and true on return.
 */
export interface OutlierHost extends OutlierState {
  healthy: boolean;
}

/** Fresh outlier fields (spread into a new HostState). */
export function newOutlierState(): OutlierState {
  return {
    consecutive5xx: 0,
    consecutiveGatewayFailure: 0,
    consecutiveLocalOriginFailure: 0,
    ejected: false,
    ejectionTimeMultiplier: 0,
    ejectionCount: 0,
    lastEjectionTime: null,
    lastUnejectionTime: null,
    ejectedUntil: null,
    ejectionReason: null,
  };
}

/**
 * One outcome of one upstream attempt, reported by the forwarder.
 * - `status`: response headers arrived with this HTTP status. For gRPC pass the
 *   `grpc-status` of the headers (trailers-only replies) as `grpcStatus`: Envoy then judges
 *   the mapped HTTP status ({@link grpcToHttpStatus}) instead.
 * - `local`: a locally originated failure: `connect` (could not connect, or the connection
 *   failed before a response), `reset` (connection reset / closed / stream reset by the peer),
 *   `timeout` (per-try or route timeout fired while waiting for the response).
 * - `connected`: the pool handed the attempt a connection (Envoy LocalOriginConnectSuccess);
 *   only matters with splitExternalLocalOriginErrors, where it ends a local-origin streak.
 */
export type OutlierResult =
  | { kind: 'status'; code: number; grpcStatus?: number | null }
  | { kind: 'local'; failure: 'connect' | 'reset' | 'timeout' }
  | { kind: 'connected' };

/** What changed after a result or a tick (for logs, /clusters and metrics). */
export type EjectionEvent =
  /** The host was ejected until `until` (returns at the first interval tick at or after it). */
  | {
      action: 'eject';
      host: OutlierHost;
      reason: EjectionReason;
      at: number;
      until: number;
      /** Envoy `num_ejections` after this one. */
      ejectionCount: number;
      /** The multiplier applied: ejection time = min(base x multiplier, max_ejection_time). */
      multiplier: number;
    }
  /** Detected, but max_ejection_percent forbade the ejection (Envoy `ejections_overflow`). */
  | { action: 'overflow'; host: OutlierHost; reason: EjectionReason; at: number }
  /** The host returned to service. `reason` is why it had been ejected. */
  | { action: 'uneject'; host: OutlierHost; reason: EjectionReason | null; at: number };

/** Detector counters in Envoy's names (cluster stats `outlier_detection.*`). */
export interface OutlierStats {
  ejections_enforced_total: number;
  ejections_overflow: number;
  ejections_enforced_consecutive_5xx: number;
  ejections_enforced_consecutive_gateway_failure: number;
  ejections_enforced_consecutive_local_origin_failure: number;
  ejections_detected_consecutive_5xx: number;
  ejections_detected_consecutive_gateway_failure: number;
  ejections_detected_consecutive_local_origin_failure: number;
}

export function newOutlierStats(): OutlierStats {
  return {
    ejections_enforced_total: 0,
    ejections_overflow: 0,
    ejections_enforced_consecutive_5xx: 0,
    ejections_enforced_consecutive_gateway_failure: 0,
    ejections_enforced_consecutive_local_origin_failure: 0,
    ejections_detected_consecutive_5xx: 0,
    ejections_detected_consecutive_gateway_failure: 0,
    ejections_detected_consecutive_local_origin_failure: 0,
  };
}

// gRPC status -> HTTP status, as Envoy maps it for outlier detection (Google API error model).
const GRPC_TO_HTTP: readonly number[] = [200, 499, 500, 400, 504, 404, 409, 403, 429, 400, 409, 400, 501, 500, 503, 500, 401];

/** The HTTP status Envoy judges a gRPC reply by (`grpc-status` 14 UNAVAILABLE -> 503, unknown -> 500). */
export function grpcToHttpStatus(grpcStatus: number): number {
  return Number.isInteger(grpcStatus) && grpcStatus >= 0 && grpcStatus < GRPC_TO_HTTP.length ? GRPC_TO_HTTP[grpcStatus] : 500;
}

/**
 * The status outlier detection counts for a response.
 * Without `outlierDetectionHttpErrorCodes` it is the status itself (or the gRPC-mapped one).
 * With them (Istio installs a cluster `outlier_detection.error_matcher` on `:status`), Envoy
 * reports a matching response as an error - its own status if that is a 5xx, else 500 - and
 * every other response as 200, i.e. success, even a 5xx.
 */
export function countedStatus(r: { code: number; grpcStatus?: number | null }, httpErrorCodes: readonly number[]): number {
  if (httpErrorCodes.length > 0) {
    if (!httpErrorCodes.includes(r.code)) return 200;
    return r.code >= 500 && r.code <= 599 ? r.code : 500;
  }
  if (r.grpcStatus !== undefined && r.grpcStatus !== null) return grpcToHttpStatus(r.grpcStatus);
  return r.code;
}
