/**
 * The service registry model: what the mesh knows exists. In file mode it is built
 * from ServiceEntry (+ WorkloadEntry); later Kubernetes Services/EndpointSlices feed the
 * same shape. Plain data, no behaviour.
 */

export type Protocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'GRPC-WEB' | 'HTTP2' | 'MONGO' | 'TCP' | 'TLS' | 'REDIS' | 'MYSQL' | 'UNKNOWN';
export type Resolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN' | 'DYNAMIC_DNS';

export interface ServicePort {
  name: string;
  number: number;
  /** Upper-cased protocol; '' (unset) is reported as 'UNKNOWN' (Istio would sniff). */
  protocol: Protocol;
  /** Port on the endpoints (ServiceEntry `targetPort`, default = number). */
  targetPort: number;
}

export interface ServiceEndpoint {
  /** IP, hostname (DNS resolution) or `unix:///path`. */
  address: string;
  /** Per-port-name overrides of the endpoint port (WorkloadEntry `ports`). */
  ports: Readonly<Record<string, number>>;
  labels: Readonly<Record<string, string>>;
  /** `region/zone/subzone` or ''. */
  locality: string;
  /** LB weight; 1 when unset (Envoy treats 0 as 1). */
  weight: number;
  network: string;
  serviceAccount: string;
  /** Where this endpoint came from: `ServiceEntry ns/name` or `WorkloadEntry ns/name`. */
  origin: string;
}

export interface Service {
  /** FQDN (lower-case), may be a wildcard like `*.example.com`. */
  hostname: string;
  /** Namespace of the config that defined it. */
  namespace: string;
  ports: readonly ServicePort[];
  resolution: Resolution;
  location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  /** VIPs / CIDRs from `addresses`. */
  addresses: readonly string[];
  /** Normalised exportTo: '*' = public, otherwise the set of namespaces (empty = none, `~`). */
  exportTo: '*' | ReadonlySet<string>;
  endpoints: readonly ServiceEndpoint[];
  subjectAltNames: readonly string[];
  /** `ServiceEntry ns/name` that defined it. */
  origin: string;
  /** Ordering key standing in for creationTimestamp (oldest wins on collisions). */
  order: number;
}

export interface Registry {
  /** All services, keyed by hostname; on collisions the oldest ServiceEntry wins. */
  readonly services: ReadonlyMap<string, Service>;
  /** Findings while building (collisions, WorkloadEntries that match nothing...). */
  readonly notes: readonly RegistryNote[];
}

export interface RegistryNote {
  origin: string;
  message: string;
}
