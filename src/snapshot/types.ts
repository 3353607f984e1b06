/**
 * The compiled snapshot: everything one proxy needs to route, built once by the compiler
 * (pure) and frozen. The data plane reads only these types. Names follow Envoy:
 * Listener -> RouteTable -> VirtualHost -> Route -> Cluster -> Endpoint.
 */
import type { Re2 } from '../core/regex.js';
import type { Protocol, Resolution } from '../registry/types.js';

/** Who the snapshot is for. */
export interface ProxyIdentity {
  role: 'sidecar' | 'gateway';
  /** The proxy workload's namespace (exportTo, Sidecar selection, sourceNamespace). */
  namespace: string;
  /** The proxy workload's labels (Sidecar/Gateway selectors, sourceLabels). */
  labels: Readonly<Record<string, string>>;
  /**
   * Gateway role only: serve exactly these Gateway resources (`ns/name`) instead of the
   * ones whose `selector` matches `labels` (used by `explain --gateway`).
   */
  gateways?: readonly string[];
}

export interface CompileOptions {
  /** DNS suffix, default `cluster.local`. */
  domain: string;
  /** Mesh root namespace (root Sidecar / DestinationRule), default `istio-system`. */
  rootNamespace: string;
  /** Mesh-wide outbound policy when no Sidecar says otherwise (MeshConfig default ALLOW_ANY). */
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
}

export const DEFAULT_COMPILE_OPTIONS: CompileOptions = {
  domain: 'cluster.local',
  rootNamespace: 'istio-system',
  outboundTrafficPolicy: 'ALLOW_ANY',
};

/** `ns/name` of the config object a compiled item came from, for explain and dumps. */
export interface ConfigRef {
  kind: 'VirtualService' | 'DestinationRule' | 'Gateway' | 'ServiceEntry' | 'Sidecar';
  namespace: string;
  name: string;
}

// ---------------------------------------------------------------- matching

export type StringMatcher =
  | { kind: 'exact'; value: string }
  | { kind: 'prefix'; value: string }
  | { kind: 'regex'; re: Re2 }
  /** Header/query presence (`{}` or regex `*`). */
  | { kind: 'present' };

export interface HeaderMatcher {
  /** Lower-case header name; pseudo headers `:authority`, `:method`, `:path`, `:scheme` allowed. */
  name: string;
  match: StringMatcher;
  /** withoutHeaders: the route matches when this matcher does NOT (a missing header counts as ''). */
  invert: boolean;
}

export interface QueryMatcher {
  name: string;
  match: StringMatcher;
}

/** One compiled HTTPMatchRequest (all conditions ANDed). Config-time conditions are already applied. */
export interface RouteMatch {
  uri: StringMatcher | null;
  /** Exact/prefix URI match ignores case (`ignoreUriCase`); values are stored lower-cased then. */
  ignoreUriCase: boolean;
  scheme: StringMatcher | null;
  method: StringMatcher | null;
  authority: StringMatcher | null;
  headers: readonly HeaderMatcher[];
  queryParams: readonly QueryMatcher[];
  /** Listener/destination port the request must have arrived on, or null. */
  port: number | null;
  /** The match block's `name` (for route names and explain). */
  name: string | null;
}

// ---------------------------------------------------------------- policies (defaults filled in)

export interface HeaderOps {
  /** Overwrite-or-add, header names lower-case. */
  set: ReadonlyArray<readonly [string, string]>;
  /** Append-or-add. */
  add: ReadonlyArray<readonly [string, string]>;
  remove: readonly string[];
}

export interface HeaderPolicy {
  request: HeaderOps;
  response: HeaderOps;
}

export interface RetryPolicy {
  /** Number of retries (not counting the first try). */
  attempts: number;
  perTryTimeoutMs: number | null;
  /** Policy tokens (`connect-failure`, `5xx`, ...), numeric codes moved to retriableStatusCodes. */
  retryOn: readonly string[];
  retriableStatusCodes: readonly number[];
  /** Avoid previously tried hosts (Envoy `previous_hosts` predicate). */
  retryIgnorePreviousHosts: boolean;
  retryRemoteLocalities: boolean;
  /** Host selection attempts for the previous-hosts predicate (Istio: 5). */
  hostSelectionRetryMaxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** True when this is Istio's default policy (the VS set no `retries`). */
  isDefault: boolean;
}

export interface FaultPolicy {
  delay: { fixedDelayMs: number; percentage: number } | null;
  abort: { httpStatus: number | null; grpcStatus: string | null; percentage: number } | null;
}

export interface MirrorPolicy {
  cluster: string;
  host: string;
  port: number;
  subset: string | null;
  /** 0..100 */
  percentage: number;
}

export interface CorsPolicyC {
  allowOrigins: readonly StringMatcher[];
  allowMethods: readonly string[];
  allowHeaders: readonly string[];
  exposeHeaders: readonly string[];
  /** Whole seconds, or null. */
  maxAgeSeconds: number | null;
  allowCredentials: boolean | null;
  unmatchedPreflights: 'FORWARD' | 'IGNORE';
}

export interface RewritePolicy {
  /** Replaces the matched prefix (or the exact path); implicit prefix `/` when the route had no URI match. */
  uri: string | null;
  /** The URI matcher the prefix rewrite applies to (Envoy prefix_rewrite needs it). */
  uriPrefix: string | null;
  uriRegex: { re: Re2; rewrite: string } | null;
  authority: string | null;
}

// ---------------------------------------------------------------- route actions

export interface WeightedDestination {
  /** `outbound|port|subset|fqdn` — may name a cluster absent from the snapshot (undefined subset => 503 NC). */
  cluster: string;
  host: string;
  port: number;
  subset: string | null;
  /** Relative weight (zero-weight destinations are dropped when there are several). */
  weight: number;
  headers: HeaderPolicy;
  /** Destination-level authority rewrite (only when the route sets none). */
  authority: string | null;
}

export type RouteAction =
  | { kind: 'route'; destinations: readonly WeightedDestination[]; totalWeight: number }
  | {
      kind: 'redirect';
      /** 301, 302, 303, 307 or 308. */
      status: number;
      uri: string | null;
      prefixRewrite: string | null;
      authority: string | null;
      scheme: string | null;
      port: number | null;
      derivePort: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT' | null;
    }
  | { kind: 'direct_response'; status: number; body: string | null }
  /** Passthrough (ALLOW_ANY) or blackhole (REGISTRY_ONLY / 502) catch-all. */
  | { kind: 'passthrough' }
  | { kind: 'blocked'; status: 502 };

export interface Route {
  /** Envoy route name: `<http.name>` or `<http.name>.<match.name>`, else null. */
  name: string | null;
  /** The VirtualService this came from; null for a service's default route. */
  virtualService: ConfigRef | null;
  /** Index into spec.http of the root VirtualService (after delegate merging: the root rule). */
  ruleIndex: number | null;
  /** Index into that rule's `match` list (null when the rule had none). */
  matchIndex: number | null;
  /** When merged from a delegate VirtualService: that delegate and its rule index. */
  delegate: { ref: ConfigRef; ruleIndex: number } | null;
  match: RouteMatch;
  action: RouteAction;
  timeoutMs: number | null;
  retry: RetryPolicy | null;
  fault: FaultPolicy | null;
  mirrors: readonly MirrorPolicy[];
  cors: CorsPolicyC | null;
  headers: HeaderPolicy;
  rewrite: RewritePolicy | null;
}

export interface VirtualHost {
  /** e.g. `reviews.default.svc.cluster.local:9080`, `allow_any`, `block_all`, `blackhole:80`. */
  name: string;
  /** Domains served (no ports); `*.x` wildcards and `*` allowed. */
  domains: readonly string[];
  routes: readonly Route[];
  /** Gateway `httpsRedirect`: every plain-HTTP request gets a 301 to https. */
  requireTls: boolean;
  /** VirtualServices whose routes are in this vhost (for explain/config_dump). */
  virtualServices: readonly ConfigRef[];
}

/** Routes for one port (sidecar: the service port; gateway: the server port). */
export interface RouteTable {
  /** Istio name: sidecar `"9080"`, gateway `http.8080` / `https.443.<portName>.<gw>.<ns>`. */
  name: string;
  port: number;
  /** Exact domain (lower-case, no trailing dot) -> vhost. */
  exact: ReadonlyMap<string, VirtualHost>;
  /** Wildcard suffix vhosts (`*.example.com` stored as `.example.com`), longest suffix first. */
  wildcards: ReadonlyArray<{ suffix: string; vhost: VirtualHost }>;
  /** The `*` vhost, or the catch-all (allow_any / block_all / blackhole), or null. */
  fallback: VirtualHost | null;
}

// ---------------------------------------------------------------- clusters

export interface LbPolicy {
  kind: 'LEAST_REQUEST' | 'ROUND_ROBIN' | 'RANDOM' | 'PASSTHROUGH' | 'CONSISTENT_HASH';
  /** Present for CONSISTENT_HASH. */
  hash: {
    key:
      | { kind: 'header'; name: string }
      | { kind: 'cookie'; name: string; path: string | null; ttlMs: number | null; attributes: ReadonlyArray<{ name: string; value: string }> }
      | { kind: 'sourceIp' }
      | { kind: 'query'; name: string };
    algorithm: { kind: 'ringHash'; minimumRingSize: number } | { kind: 'maglev'; tableSize: number };
  } | null;
  /** localityLbSetting (enabled only matters with outlier detection). */
  locality: {
    enabled: boolean;
    distribute: ReadonlyArray<{ from: string; to: Readonly<Record<string, number>> }>;
    failover: ReadonlyArray<{ from: string; to: string }>;
    failoverPriority: readonly string[];
  } | null;
  warmup: { durationMs: number; minimumPercent: number; aggression: number } | null;
}

export interface ConnectionPoolPolicy {
  maxConnections: number;
  connectTimeoutMs: number;
  tcpKeepalive: { probes: number | null; timeMs: number | null; intervalMs: number | null } | null;
  maxConnectionDurationMs: number | null;
  /** TCP idle timeout; 0 disables. */
  tcpIdleTimeoutMs: number;
  http1MaxPendingRequests: number;
  http2MaxRequests: number;
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  maxRetries: number;
  httpIdleTimeoutMs: number;
  h2UpgradePolicy: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  useClientProtocol: boolean;
  maxConcurrentStreams: number;
  http2KeepAlive: { intervalMs: number; timeoutMs: number } | null;
}

export interface OutlierPolicy {
  consecutive5xxErrors: number;
  consecutiveGatewayErrors: number;
  consecutiveLocalOriginFailures: number;
  splitExternalLocalOriginErrors: boolean;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  /** Panic threshold; 0 disables panic routing. */
  minHealthPercent: number;
  httpErrorCodes: readonly number[];
}

export interface TlsPolicy {
  mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  sni: string | null;
  caCertificates: string | null;
  clientCertificate: string | null;
  /** Path only; key material is never loaded into the snapshot. */
  privateKey: string | null;
  credentialName: string | null;
  subjectAltNames: readonly string[];
  insecureSkipVerify: boolean;
  caCrl: string | null;
}

export interface Endpoint {
  /** IP or hostname (DNS clusters are resolved by the data plane). */
  address: string;
  port: number;
  labels: Readonly<Record<string, string>>;
  locality: string;
  weight: number;
}

export interface Cluster {
  /** `outbound|<port>|<subset>|<fqdn>`. */
  name: string;
  host: string;
  /** Namespace of the service (its ServiceEntry). */
  namespace: string;
  port: number;
  protocol: Protocol;
  subset: string | null;
  /** Subset selector labels (for explain: "subset v2 selects version=v2"). */
  subsetLabels: Readonly<Record<string, string>> | null;
  resolution: Resolution;
  endpoints: readonly Endpoint[];
  lb: LbPolicy;
  connectionPool: ConnectionPoolPolicy;
  /** null = no outlier detection (Istio adds none unless a DestinationRule sets it). */
  outlier: OutlierPolicy | null;
  tls: TlsPolicy | null;
  /** The DestinationRule(s) that shaped this cluster. */
  destinationRule: ConfigRef | null;
  location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
}

// ---------------------------------------------------------------- listeners and snapshot

export interface Listener {
  /** Sidecar: `virtualOutbound`; gateway: `0.0.0.0_<port>`. */
  name: string;
  /** Port from config (gateway server port); sidecar: 0 (bound to --outbound-port). */
  port: number;
  protocol: Protocol;
  /** Gateway servers on this port (for TLS/SNI in the Edge work); empty for the sidecar. */
  servers: ReadonlyArray<{ gateway: ConfigRef; serverIndex: number; hosts: readonly string[]; tlsMode: string | null; portName: string; tls: ServerTls | null }>;
  /** Gateway HTTP route table name for this port (`http.<port>`), or null. */
  routeTable: string | null;
  /** TCP servers: the VirtualService `tcp` route that serves the port, or null (connection closed). */
  tcpRoute: TcpRoute | null;
  /** TLS PASSTHROUGH servers: routes chosen by the ClientHello's SNI, in order (first match wins). */
  tlsRoutes?: readonly TlsRoute[];
}

/** A VirtualService `tls[]` match bound to a PASSTHROUGH listener. */
export interface TlsRoute extends TcpRoute {
  /** Lower-case; `*.x` wildcards and `*` allowed. */
  sniHosts: readonly string[];
}

/** A VirtualService `tcp[]` rule bound to a listener: weighted destinations for each connection. */
export interface TcpRoute {
  virtualService: ConfigRef;
  ruleIndex: number;
  destinations: ReadonlyArray<{ cluster: string; host: string; port: number; subset: string | null; weight: number }>;
  totalWeight: number;
}

/**
 * Sidecar outbound L4 routing for one service port that is not HTTP: `tcp` (TCP, MONGO,
 * REDIS, MYSQL) or `tls` (TLS, HTTPS: unterminated, routed by the ClientHello's SNI).
 * Built by compile/routes-sidecar-l4.ts; used by CONNECT tunnels and `explain tcp:// tls://`.
 */
export interface SidecarL4Service {
  /** Service FQDN (may be a wildcard such as `*.example.com`). */
  host: string;
  port: number;
  kind: 'tcp' | 'tls';
  /** Names a client may dial it by (serviceDomains: FQDN, short forms, VIPs), lower-case. */
  domains: readonly string[];
  /** ServiceEntry `addresses` (VIPs and CIDRs): destination IPs that select this service. */
  addresses: readonly string[];
  /**
   * VirtualService `tcp`/`tls` routes for this service, in evaluation order (first match
   * wins); config-time conditions (port, sourceLabels, sourceNamespace, gateways) applied.
   */
  routes: readonly SidecarL4Route[];
  /**
   * When no route matches: the service's own cluster (`tcp` always; `tls` only when no
   * VirtualService `tls` route applies, as Istio), else null = the outbound traffic policy.
   */
  fallback: SidecarL4Route | null;
}

/** One VirtualService `tcp`/`tls` match block compiled for the sidecar (or a default route). */
export interface SidecarL4Route {
  /** null for a service's default route. */
  virtualService: ConfigRef | null;
  /** Index into `spec.tcp` / `spec.tls`. */
  ruleIndex: number | null;
  /** Index into the rule's `match` list (null when the rule had none). */
  matchIndex: number | null;
  /** SNI patterns (lower-case; `*.x` and `*` allowed); empty = any (or no) SNI. */
  sniHosts: readonly string[];
  /** Destination IP must be in one of these CIDRs / addresses; empty = any. */
  destinationSubnets: readonly string[];
  destinations: TcpRoute['destinations'];
  totalWeight: number;
}

/** A Gateway server's TLS settings (file paths only; key material is read by the listener). */
export interface ServerTls {
  mode: string;
  /** serverCertificate/privateKey, or each of tlsCertificates. */
  certificates: ReadonlyArray<{ certificate: string; privateKey: string }>;
  caCertificates: string | null;
  credentialName: string | null;
  /** Client certificates must carry one of these SANs (MUTUAL/OPTIONAL_MUTUAL); empty = any. */
  subjectAltNames: readonly string[];
  /** Path of a PEM CRL: client certificates it revokes are refused. */
  caCrl: string | null;
  /** Base64 SHA-256 of the client certificate's SPKI; with `verifyCertificateHash`, any one must match. */
  verifyCertificateSpki: readonly string[];
  /** Hex SHA-256 of the client certificate's DER (colons allowed); any one must match. */
  verifyCertificateHash: readonly string[];
  minProtocolVersion: string | null;
  maxProtocolVersion: string | null;
  cipherSuites: readonly string[];
}

export interface Snapshot {
  readonly proxy: ProxyIdentity;
  readonly options: CompileOptions;
  readonly listeners: readonly Listener[];
  /** Route tables by name (sidecar: by port number as a string). */
  readonly routeTables: ReadonlyMap<string, RouteTable>;
  readonly clusters: ReadonlyMap<string, Cluster>;
  /** Effective outbound policy for this proxy (Sidecar or mesh default). */
  readonly outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /**
   * Sidecar: the default request port for a host given without a port (the service's only
   * HTTP port if it has exactly one, else 80). Keys: every vhost domain form.
   */
  readonly defaultPorts: ReadonlyMap<string, number>;
  /**
   * Sidecar: L4 (TCP/TLS) routing per non-HTTP service port, keyed by port number; absent
   * or empty on gateways.
   */
  readonly sidecarL4?: ReadonlyMap<number, readonly SidecarL4Service[]>;
  /** The Sidecar resource in effect, if any. */
  readonly sidecar: ConfigRef | null;
  /**
   * Sidecar: the egress listeners of the Sidecar in effect (position, port, hosts as written),
   * so `explain` can say which one governs a port; empty for gateways and without `egress`.
   */
  readonly sidecarEgress?: ReadonlyArray<{ readonly index: number | null; readonly port: number | null; readonly hosts: readonly string[] }>;
  /** Notes from compilation (dropped duplicate VirtualServices, missing delegates...). */
  readonly notes: ReadonlyArray<{ ref: ConfigRef | null; message: string }>;
}
