/**
 * Envoy-style per-cluster upstream statistics, rendered as Istio's sidecars render them:
 * `envoy_cluster_<stat>{cluster_name="outbound|9080|v1|reviews.default.svc.cluster.local"}`
 * (Istio's bootstrap extracts the cluster into a `cluster_name` label; the stat names are
 * Envoy's `cluster.<name>.<stat>` from its cluster-manager statistics docs, with `.` -> `_`).
 *
 * The data plane holds one {@link ClusterStats} per cluster name (from `MeshMetrics.cluster()`)
 * and bumps its fields directly: a property increment is the whole per-request cost. The
 * object is keyed by name, so it survives config reloads that rebuild the cluster.
 */
import type { Aggregator } from 'prom-client';

/** Live counters and gauges for one upstream cluster. Counters only ever go up. */
export class ClusterStats {
  /** `{cluster_name: name}`, built once for rendering. */
  readonly labels: Readonly<Record<string, string>>;
  /** Counter `upstream_rq_total`: requests sent upstream (each retry attempt counts). */
  upstreamRqTotal = 0;
  /** Gauge `upstream_rq_active`: requests in flight upstream. */
  upstreamRqActive = 0;
  /** Gauge `upstream_rq_pending_active`: requests waiting for a connection. */
  upstreamRqPendingActive = 0;
  /** Counter `upstream_rq_pending_overflow`: rejected by the pending/requests circuit breaker (UO). */
  upstreamRqPendingOverflow = 0;
  /** Counter `upstream_rq_timeout`: requests that hit the route timeout (UT). */
  upstreamRqTimeout = 0;
  /** Counter `upstream_rq_per_try_timeout`: attempts that hit the per-try timeout. */
  upstreamRqPerTryTimeout = 0;
  /** Counter `upstream_rq_retry`: retries sent. */
  upstreamRqRetry = 0;
  /** Counter `upstream_rq_retry_success`: retries that succeeded. */
  upstreamRqRetrySuccess = 0;
  /** Counter `upstream_rq_retry_overflow`: retries not sent because of the retry breaker/budget. */
  upstreamRqRetryOverflow = 0;
  /** Counter `upstream_rq_retry_limit_exceeded`: retries not sent because attempts ran out (URX). */
  upstreamRqRetryLimitExceeded = 0;
  /** Counter `upstream_rq_rx_reset`: requests reset by the upstream (UR). */
  upstreamRqRxReset = 0;
  /** Counter `upstream_cx_total`: connections opened. */
  upstreamCxTotal = 0;
  /** Gauge `upstream_cx_active`: connections open now. */
  upstreamCxActive = 0;
  /** Counter `upstream_cx_connect_fail`: connection failures (UF). */
  upstreamCxConnectFail = 0;
  /** Counter `upstream_cx_connect_timeout`: connections that hit the connect timeout. */
  upstreamCxConnectTimeout = 0;
  /** Counter `upstream_cx_overflow`: rejected by the connection circuit breaker. */
  upstreamCxOverflow = 0;
  /** Counter `upstream_cx_none_healthy`: no healthy host to connect to (UH). */
  upstreamCxNoneHealthy = 0;
  /** Gauge `circuit_breakers.default.cx_open`: 1 while the connection limit is reached. */
  cbCxOpen = 0;
  /** Gauge `circuit_breakers.default.rq_pending_open`: 1 while the pending-request limit is reached. */
  cbRqPendingOpen = 0;
  /** Gauge `circuit_breakers.default.rq_open`: 1 while the active-request limit is reached. */
  cbRqOpen = 0;
  /** Gauge `circuit_breakers.default.rq_retry_open`: 1 while the retry limit is reached. */
  cbRqRetryOpen = 0;
  /** Gauge `circuit_breakers.default.remaining_cx` (Istio sets `track_remaining`). */
  cbRemainingCx = 0;
  /** Gauge `circuit_breakers.default.remaining_pending`. */
  cbRemainingPending = 0;
  /** Gauge `circuit_breakers.default.remaining_rq`. */
  cbRemainingRq = 0;
  /** Gauge `circuit_breakers.default.remaining_retries`. */
  cbRemainingRetries = 0;
  /** Gauge `outlier_detection.ejections_active`: hosts ejected now. */
  outlierEjectionsActive = 0;
  /** Counter `outlier_detection.ejections_enforced_total`: ejections carried out. */
  outlierEjectionsEnforcedTotal = 0;
  /** Counter `outlier_detection.ejections_overflow`: ejections skipped because of max ejection %. */
  outlierEjectionsOverflow = 0;
  /**
   * Counter `outlier_detection.ejections_total` (deprecated in Envoy but what most dashboards
   * and runbooks query). As Envoy counts it: ejections for consecutive 5xx (and success rate)
   * allowed by max ejection %; gateway and local-origin ejections are not in it.
   */
  outlierEjectionsTotal = 0;

  constructor(readonly name: string) {
    this.labels = Object.freeze({ cluster_name: name });
  }
}

/** Numeric fields of ClusterStats. */
export type ClusterStatField = {
  [K in keyof ClusterStats]: ClusterStats[K] extends number ? K : never;
}[keyof ClusterStats];

/** One exported cluster statistic. */
export interface ClusterStatDef {
  /** Prometheus name. */
  name: string;
  field: ClusterStatField;
  type: 'counter' | 'gauge';
  help: string;
  aggregator: Aggregator;
}

function def(
  stat: string,
  field: ClusterStatField,
  type: 'counter' | 'gauge',
  help: string,
  aggregator: Aggregator = 'sum',
): ClusterStatDef {
  return { name: `envoy_cluster_${stat}`, field, type, help, aggregator };
}

/**
 * Every exported statistic. Aggregation across worker processes is a sum (each worker has its
 * own pools and breakers), except `ejections_active`: every worker runs outlier detection on the
 * same hosts, so the merged value is the largest worker view (bounded by the host count, equal
 * to Envoy's when workers agree) rather than a multiple of it; and the circuit breakers' `*_open`
 * flags, which say whether any worker is at its limit.
 */
export const CLUSTER_STATS: readonly ClusterStatDef[] = Object.freeze([
  def('upstream_rq_total', 'upstreamRqTotal', 'counter', 'Total requests'),
  def('upstream_rq_active', 'upstreamRqActive', 'gauge', 'Total active requests'),
  def('upstream_rq_pending_active', 'upstreamRqPendingActive', 'gauge', 'Total active requests pending a connection pool connection'),
  def('upstream_rq_pending_overflow', 'upstreamRqPendingOverflow', 'counter',
    'Total requests that overflowed connection pool or requests circuit breaking and were failed'),
  def('upstream_rq_timeout', 'upstreamRqTimeout', 'counter', 'Total requests that timed out waiting for a response'),
  def('upstream_rq_per_try_timeout', 'upstreamRqPerTryTimeout', 'counter', 'Total requests that hit the per try timeout'),
  def('upstream_rq_retry', 'upstreamRqRetry', 'counter', 'Total request retries'),
  def('upstream_rq_retry_success', 'upstreamRqRetrySuccess', 'counter', 'Total request retry successes'),
  def('upstream_rq_retry_overflow', 'upstreamRqRetryOverflow', 'counter',
    'Total requests not retried due to circuit breaking or exceeding the retry budget'),
  def('upstream_rq_retry_limit_exceeded', 'upstreamRqRetryLimitExceeded', 'counter',
    'Total requests not retried due to exceeding the configured number of maximum retries'),
  def('upstream_rq_rx_reset', 'upstreamRqRxReset', 'counter', 'Total requests that were reset remotely'),
  def('upstream_cx_total', 'upstreamCxTotal', 'counter', 'Total connections'),
  def('upstream_cx_active', 'upstreamCxActive', 'gauge', 'Total active connections'),
  def('upstream_cx_connect_fail', 'upstreamCxConnectFail', 'counter', 'Total connection failures'),
  def('upstream_cx_connect_timeout', 'upstreamCxConnectTimeout', 'counter', 'Total connection connect timeouts'),
  def('upstream_cx_overflow', 'upstreamCxOverflow', 'counter',
    "Total times that the cluster's connection circuit breaker overflowed"),
  def('upstream_cx_none_healthy', 'upstreamCxNoneHealthy', 'counter',
    'Total times connection not established due to no healthy hosts'),
  def('circuit_breakers_default_cx_open', 'cbCxOpen', 'gauge', "Whether the connection circuit breaker is under its concurrency limit (0) or is at capacity (1)", 'max'),
  def('circuit_breakers_default_rq_pending_open', 'cbRqPendingOpen', 'gauge', 'Whether the pending requests circuit breaker is under its concurrency limit (0) or is at capacity (1)', 'max'),
  def('circuit_breakers_default_rq_open', 'cbRqOpen', 'gauge', 'Whether the requests circuit breaker is under its concurrency limit (0) or is at capacity (1)', 'max'),
  def('circuit_breakers_default_rq_retry_open', 'cbRqRetryOpen', 'gauge', 'Whether the retry circuit breaker is under its concurrency limit (0) or is at capacity (1)', 'max'),
  def('circuit_breakers_default_remaining_cx', 'cbRemainingCx', 'gauge', 'Number of remaining connections until the circuit breaker reaches its concurrency limit'),
  def('circuit_breakers_default_remaining_pending', 'cbRemainingPending', 'gauge', 'Number of remaining pending requests until the circuit breaker reaches its concurrency limit'),
  def('circuit_breakers_default_remaining_rq', 'cbRemainingRq', 'gauge', 'Number of remaining requests until the circuit breaker reaches its concurrency limit'),
  def('circuit_breakers_default_remaining_retries', 'cbRemainingRetries', 'gauge', 'Number of remaining retries until the circuit breaker reaches its concurrency limit'),
  def('outlier_detection_ejections_active', 'outlierEjectionsActive', 'gauge', 'Number of currently ejected hosts', 'max'),
  def('outlier_detection_ejections_enforced_total', 'outlierEjectionsEnforcedTotal', 'counter',
    'Number of enforced ejections due to any outlier type'),
  def('outlier_detection_ejections_overflow', 'outlierEjectionsOverflow', 'counter',
    'Number of ejections aborted due to the max ejection %'),
  def('outlier_detection_ejections_total', 'outlierEjectionsTotal', 'counter',
    'Number of ejections due to any outlier type (even if unenforced)'),
]);
