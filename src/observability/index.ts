/**
 * Observability for the data plane: response flags, Istio/Envoy Prometheus metrics, access log.
 * See README.md in this folder for metric names and the choices behind them.
 */
export {
  ALL_FLAGS_MASK,
  DOCUMENTED_FLAG_ORDER,
  Flag,
  RESPONSE_FLAGS,
  formatFlags,
  formatFlagsLong,
  parseFlags,
  type FlagCode,
  type ResponseFlagInfo,
} from './flags.js';
export {
  ClusterStats,
  DestinationHandle,
  ENVOY_DEFAULT_BUCKETS,
  ISTIO_HTTP_LABELS,
  ISTIO_TCP_LABELS,
  MeshMetrics,
  type AccessLogStatsSource,
  type ConfigReloadRecord,
  type MeshMetricsOptions,
  type MetricsCacheStats,
  type RequestRecord,
} from './metrics.js';
export { CLUSTER_STATS, type ClusterStatDef, type ClusterStatField } from './cluster-stats.js';
export {
  LATEST,
  UNKNOWN,
  destinationFor,
  resolveDestination,
  workloadLabels,
  type DestinationLabels,
  type WorkloadInfo,
  type WorkloadLabels,
} from './identity.js';
export type { MetricsSnapshot } from './aggregation.js';
export { AccessLogger, type AccessLoggerOptions, type LogSink } from './accesslog.js';
export {
  StartTimeFormatter,
  formatJson,
  formatText,
  type AccessLogEntry,
  type AccessLogFormat,
} from './accesslog-format.js';
