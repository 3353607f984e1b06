/**
 * Istio standard-metric label sets (istio.io "Istio Standard Metrics"), built once per series.
 */
import { formatFlags } from './flags.js';
import { UNKNOWN, type DestinationLabels, type WorkloadLabels } from './identity.js';

/** Istio's HTTP/gRPC metric labels, in the order an Istio sidecar emits them. */
export const ISTIO_HTTP_LABELS: readonly string[] = Object.freeze([
  'reporter',
  'source_workload', 'source_canonical_service', 'source_canonical_revision',
  'source_workload_namespace', 'source_principal', 'source_app', 'source_version', 'source_cluster',
  'destination_workload', 'destination_workload_namespace', 'destination_principal',
  'destination_app', 'destination_version', 'destination_service',
  'destination_canonical_service', 'destination_canonical_revision', 'destination_service_name',
  'destination_service_namespace', 'destination_cluster',
  'request_protocol', 'response_code', 'grpc_response_status', 'response_flags',
  'connection_security_policy',
]);

/** Istio's TCP metric labels: the HTTP set without `response_code` and `grpc_response_status`. */
export const ISTIO_TCP_LABELS: readonly string[] = Object.freeze(
  ISTIO_HTTP_LABELS.filter((l) => l !== 'response_code' && l !== 'grpc_response_status'),
);

/**
 * One series' labels, as a source reporter (this proxy is the client: sidecar outbound or
 * gateway) emits them. `code`/`grpc` are null for TCP series, which have neither label; for
 * HTTP `grpc` is `''` unless the request was gRPC with a known status, as in Istio.
 */
export function istioSeriesLabels(
  src: WorkloadLabels,
  d: Readonly<Required<DestinationLabels>>,
  protocol: 'http' | 'grpc' | 'tcp',
  code: string | null,
  grpc: string | null,
  flags: number,
): Readonly<Record<string, string>> {
  const l: Record<string, string> = {
    reporter: 'source',
    source_workload: src.workload,
    source_canonical_service: src.canonicalService,
    source_canonical_revision: src.canonicalRevision,
    source_workload_namespace: src.namespace,
    source_principal: src.principal,
    source_app: src.app,
    source_version: src.version,
    source_cluster: src.cluster,
    destination_workload: d.workload,
    destination_workload_namespace: d.workloadNamespace,
    destination_principal: d.principal,
    destination_app: d.app,
    destination_version: d.version,
    destination_service: d.service,
    destination_canonical_service: d.canonicalService,
    destination_canonical_revision: d.canonicalRevision,
    destination_service_name: d.serviceName,
    destination_service_namespace: d.serviceNamespace,
    destination_cluster: d.cluster,
    request_protocol: protocol,
  };
  if (code !== null) {
    l.response_code = code;
    l.grpc_response_status = grpc ?? '';
  }
  l.response_flags = formatFlags(flags);
  // A client cannot see whether the server checked its certificate; Istio reports `unknown`
  // on every source report (`mutual_tls`/`none` appear only on destination reports).
  l.connection_security_policy = UNKNOWN;
  return Object.freeze(l);
}
