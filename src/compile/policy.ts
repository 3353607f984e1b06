/**
 * DestinationRule TrafficPolicy -> the snapshot's cluster policies, every default filled
 * in (istio-semantics.md §1.2, §2.2; Istio `cluster_traffic_policy.go`,
 * `util.MergeSubsetTrafficPolicy`).
 *
 * Which blocks apply to a (port, subset) cluster:
 * 1. DR level: the top-level policy, or — when one of its `portLevelSettings` names the
 *    port — that entry alone (its unset blocks fall back to the defaults, not to DR level);
 * 2. subset level, worked out the same way on the subset's own policy, then laid over (1):
 *    a block the subset sets replaces the DR block; a subset port-level entry replaces all
 *    four blocks (loadBalancer, connectionPool, outlierDetection, tls), set or not.
 */
import type {
  ClientTLSSettings, ConnectionPoolSettings, ConsistentHashLB, LoadBalancerSettings, OutlierDetection, TrafficPolicy,
} from '../api/types.js';
import { parseDuration } from '../core/duration.js';
import type { ConnectionPoolPolicy, LbPolicy, OutlierPolicy, TlsPolicy } from '../snapshot/types.js';

/** Envoy/Istio numbers used when a field is unset. */
export const POLICY_DEFAULTS = Object.freeze({
  /** Istio overrides Envoy's 1024/1024/1024/3 circuit-breaker thresholds with uint32 max. */
  circuitBreakerMax: 4294967295,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 3_600_000,
  maxConcurrentStreams: 2147483647,
  ringHashMinimumRingSize: 1024,
  maglevTableSize: 65537,
  consecutive5xxErrors: 5,
  consecutiveLocalOriginFailures: 5,
  outlierIntervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 10,
  minHealthPercent: 0,
  warmupMinimumPercent: 10,
  warmupAggression: 1,
});

/** The four per-cluster blocks after DR/subset/port-level selection (undefined = default). */
export interface PolicyBlocks {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

/** A cluster's compiled policies. */
export interface ClusterPolicy {
  lb: LbPolicy;
  connectionPool: ConnectionPoolPolicy;
  outlier: OutlierPolicy | null;
  tls: TlsPolicy | null;
}

/** Picks the blocks that apply to `port` for a DR-level policy and an optional subset policy. */
export function selectPolicyBlocks(
  drPolicy: TrafficPolicy | null | undefined,
  subsetPolicy: TrafficPolicy | null | undefined,
  port: number,
): PolicyBlocks {
  const base = drPolicy ? forPort(drPolicy, port).blocks : {};
  if (!subsetPolicy) return base;
  const sub = forPort(subsetPolicy, port);
  const wholesale = sub.portLevel;
  return {
    loadBalancer: sub.blocks.loadBalancer !== undefined || wholesale ? sub.blocks.loadBalancer : base.loadBalancer,
    connectionPool: sub.blocks.connectionPool !== undefined || wholesale ? sub.blocks.connectionPool : base.connectionPool,
    outlierDetection: sub.blocks.outlierDetection !== undefined || wholesale ? sub.blocks.outlierDetection : base.outlierDetection,
    tls: sub.blocks.tls !== undefined || wholesale ? sub.blocks.tls : base.tls,
  };
}

/** The policy's blocks for `port`: its first port-level entry for that port, else its top level. */
function forPort(policy: TrafficPolicy, port: number): { blocks: PolicyBlocks; portLevel: boolean } {
  const entry = policy.portLevelSettings?.find((p) => p.port?.number !== undefined && p.port.number === port);
  const src = entry ?? policy;
  return {
    blocks: { loadBalancer: src.loadBalancer, connectionPool: src.connectionPool, outlierDetection: src.outlierDetection, tls: src.tls },
    portLevel: entry !== undefined,
  };
}

/** Compiles the policies of one (port, subset) cluster. */
export function compileClusterPolicy(
  drPolicy: TrafficPolicy | null | undefined,
  subsetPolicy: TrafficPolicy | null | undefined,
  port: number,
  cache?: PolicyCache,
): ClusterPolicy {
  const b = selectPolicyBlocks(drPolicy, subsetPolicy, port);
  if (!cache) {
    return {
      lb: compileLoadBalancer(b.loadBalancer),
      connectionPool: compileConnectionPool(b.connectionPool),
      outlier: compileOutlierDetection(b.outlierDetection),
      tls: compileTls(b.tls),
    };
  }
  return {
    lb: cache.get(cache.lb, b.loadBalancer, compileLoadBalancer),
    connectionPool: cache.get(cache.pool, b.connectionPool, compileConnectionPool),
    outlier: cache.get(cache.outlier, b.outlierDetection, compileOutlierDetection),
    tls: cache.get(cache.tls, b.tls, compileTls),
  };
}

/**
 * Memo for one compilation: the same settings block (by identity, or its absence) compiles
 * to one shared policy object. Thousands of clusters without a DestinationRule then share
 * one default pool/LB object instead of allocating (and freezing) their own.
 */
export class PolicyCache {
  readonly lb = new Map<unknown, LbPolicy>();
  readonly pool = new Map<unknown, ConnectionPoolPolicy>();
  readonly outlier = new Map<unknown, OutlierPolicy | null>();
  readonly tls = new Map<unknown, TlsPolicy | null>();
  /** Effective LB per compiled LB, by (resolution NONE, outlier detection on) (clusters.ts). */
  private readonly effectiveLb = [new Map<unknown, LbPolicy>(), new Map<unknown, LbPolicy>(), new Map<unknown, LbPolicy>(), new Map<unknown, LbPolicy>()];

  lbFor(none: boolean, outlier: boolean): Map<unknown, LbPolicy> {
    return this.effectiveLb[(none ? 2 : 0) + (outlier ? 1 : 0)];
  }

  get<I, O>(m: Map<unknown, O>, input: I, fn: (i: I) => O): O {
    if (m.has(input)) return m.get(input) as O;
    const v = fn(input);
    m.set(input, v);
    return v;
  }
}

/** Milliseconds of a validated duration, or `fallback` when unset (or, defensively, unparsable). */
function ms(d: string | undefined, fallback: number): number;
function ms(d: string | undefined, fallback: null): number | null;
function ms(d: string | undefined, fallback: number | null): number | null {
  if (d === undefined) return fallback;
  return parseDuration(d) ?? fallback;
}

/** Positive values count; 0/unset mean "use the default" (Istio cannot tell them apart). */
function positiveOr(v: number | undefined, fallback: number): number {
  return v !== undefined && v > 0 ? v : fallback;
}

/**
 * LoadBalancerSettings -> LbPolicy. `simple` unset/UNSPECIFIED/LEAST_CONN -> LEAST_REQUEST;
 * `consistentHash` -> ring hash (min ring 1024) or maglev (table 65537). A consistentHash
 * without a hash key hashes nothing stable, which Envoy turns into a random pick: RANDOM.
 * Locality settings default to the mesh's (`enabled`, no distribute/failover).
 */
export function compileLoadBalancer(lb: LoadBalancerSettings | undefined): LbPolicy {
  const locality = compileLocality(lb);
  if (lb?.consistentHash) {
    const hash = compileHash(lb.consistentHash);
    if (hash) return { kind: 'CONSISTENT_HASH', hash, locality, warmup: null };
    return { kind: 'RANDOM', hash: null, locality, warmup: null };
  }
  const kind: LbPolicy['kind'] =
    lb?.simple === 'RANDOM' ? 'RANDOM' : lb?.simple === 'ROUND_ROBIN' ? 'ROUND_ROBIN' : lb?.simple === 'PASSTHROUGH' ? 'PASSTHROUGH' : 'LEAST_REQUEST';
  const warmup = kind === 'ROUND_ROBIN' || kind === 'LEAST_REQUEST' ? compileWarmup(lb) : null;
  return { kind, hash: null, locality, warmup };
}

function compileHash(ch: ConsistentHashLB): NonNullable<LbPolicy['hash']> | null {
  let key: NonNullable<LbPolicy['hash']>['key'] | null = null;
  if (ch.httpHeaderName !== undefined) key = { kind: 'header', name: ch.httpHeaderName.toLowerCase() };
  else if (ch.httpCookie) {
    const c = ch.httpCookie;
    key = {
      kind: 'cookie',
      name: c.name,
      path: c.path ? c.path : null,
      // `ttl: 0s` (session cookie) is kept apart from an absent ttl (no cookie generated).
      ttlMs: ms(c.ttl, null),
      attributes: (c.attributes ?? []).map((a) => ({ name: a.name, value: a.value ?? '' })),
    };
  } else if (ch.useSourceIp) key = { kind: 'sourceIp' };
  else if (ch.httpQueryParameterName !== undefined) key = { kind: 'query', name: ch.httpQueryParameterName };
  if (!key) return null;
  const algorithm: NonNullable<LbPolicy['hash']>['algorithm'] = ch.maglev
    ? { kind: 'maglev', tableSize: positiveOr(ch.maglev.tableSize, POLICY_DEFAULTS.maglevTableSize) }
    : { kind: 'ringHash', minimumRingSize: positiveOr(ch.ringHash ? ch.ringHash.minimumRingSize : ch.minimumRingSize, POLICY_DEFAULTS.ringHashMinimumRingSize) };
  return { key, algorithm };
}

function compileLocality(lb: LoadBalancerSettings | undefined): LbPolicy['locality'] {
  const s = lb?.localityLbSetting;
  return {
    // A DR setting without `enabled` is on; no DR setting means the mesh default (on).
    enabled: s?.enabled !== false,
    distribute: (s?.distribute ?? []).map((d) => ({ from: d.from ?? '', to: { ...(d.to ?? {}) } })),
    failover: (s?.failover ?? []).map((f) => ({ from: f.from ?? '', to: f.to ?? '' })),
    failoverPriority: [...(s?.failoverPriority ?? [])],
  };
}

function compileWarmup(lb: LoadBalancerSettings | undefined): LbPolicy['warmup'] {
  if (lb?.warmup) {
    return {
      durationMs: ms(lb.warmup.duration, 0),
      minimumPercent: lb.warmup.minimumPercent ?? POLICY_DEFAULTS.warmupMinimumPercent,
      aggression: lb.warmup.aggression ?? POLICY_DEFAULTS.warmupAggression,
    };
  }
  if (lb?.warmupDurationSecs !== undefined) {
    return { durationMs: ms(lb.warmupDurationSecs, 0), minimumPercent: POLICY_DEFAULTS.warmupMinimumPercent, aggression: POLICY_DEFAULTS.warmupAggression };
  }
  return null;
}

/** ConnectionPoolSettings -> ConnectionPoolPolicy; 0/unset limits mean "unlimited" (uint32 max). */
export function compileConnectionPool(cp: ConnectionPoolSettings | undefined): ConnectionPoolPolicy {
  const tcp = cp?.tcp;
  const http = cp?.http;
  const max = POLICY_DEFAULTS.circuitBreakerMax;
  const ka = tcp?.tcpKeepalive;
  const h2ka = http?.http2KeepAlive;
  return {
    maxConnections: positiveOr(tcp?.maxConnections, max),
    connectTimeoutMs: ms(tcp?.connectTimeout, POLICY_DEFAULTS.connectTimeoutMs),
    tcpKeepalive: ka ? { probes: ka.probes ?? null, timeMs: ms(ka.time, null), intervalMs: ms(ka.interval, null) } : null,
    maxConnectionDurationMs: ms(tcp?.maxConnectionDuration, null),
    tcpIdleTimeoutMs: ms(tcp?.idleTimeout, POLICY_DEFAULTS.idleTimeoutMs),
    http1MaxPendingRequests: positiveOr(http?.http1MaxPendingRequests, max),
    http2MaxRequests: positiveOr(http?.http2MaxRequests, max),
    maxRequestsPerConnection: positiveOr(http?.maxRequestsPerConnection, 0),
    maxRetries: positiveOr(http?.maxRetries, max),
    // Istio falls back to the TCP idle timeout for the HTTP pool when http.idleTimeout is unset.
    httpIdleTimeoutMs: ms(http?.idleTimeout, ms(tcp?.idleTimeout, POLICY_DEFAULTS.idleTimeoutMs)),
    h2UpgradePolicy: http?.h2UpgradePolicy ?? 'DEFAULT',
    useClientProtocol: http?.useClientProtocol ?? false,
    maxConcurrentStreams: positiveOr(http?.maxConcurrentStreams, POLICY_DEFAULTS.maxConcurrentStreams),
    http2KeepAlive: h2ka && h2ka.interval !== undefined && h2ka.timeout !== undefined
      ? { intervalMs: ms(h2ka.interval, 0), timeoutMs: ms(h2ka.timeout, 0) }
      : null,
  };
}

/**
 * OutlierDetection -> OutlierPolicy; null when the block is absent (no detection at all).
 * Present: Envoy defaults for unset fields (5 consecutive 5xx, 10s interval, 30s base
 * ejection, 10% max ejection, panic threshold 0). Gateway errors count only when set.
 * The deprecated `consecutiveErrors` is ignored, as current Istio does.
 */
export function compileOutlierDetection(od: OutlierDetection | undefined): OutlierPolicy | null {
  if (!od) return null;
  return {
    consecutive5xxErrors: od.consecutive5xxErrors ?? POLICY_DEFAULTS.consecutive5xxErrors,
    consecutiveGatewayErrors: od.consecutiveGatewayErrors ?? 0,
    consecutiveLocalOriginFailures: positiveOr(od.consecutiveLocalOriginFailures, POLICY_DEFAULTS.consecutiveLocalOriginFailures),
    splitExternalLocalOriginErrors: od.splitExternalLocalOriginErrors ?? false,
    intervalMs: ms(od.interval, POLICY_DEFAULTS.outlierIntervalMs),
    baseEjectionTimeMs: ms(od.baseEjectionTime, POLICY_DEFAULTS.baseEjectionTimeMs),
    maxEjectionPercent: positiveOr(od.maxEjectionPercent, POLICY_DEFAULTS.maxEjectionPercent),
    minHealthPercent: od.minHealthPercent !== undefined && od.minHealthPercent > 0 ? od.minHealthPercent : POLICY_DEFAULTS.minHealthPercent,
    httpErrorCodes: [...(od.outlierDetectionHttpErrorCodes ?? [])],
  };
}

/**
 * ClientTLSSettings -> TlsPolicy; null when absent (auto-mTLS is the data plane's call).
 * `mode` defaults to DISABLE (proto enum 0). A null `caCertificates` means the system roots.
 */
export function compileTls(tls: ClientTLSSettings | undefined): TlsPolicy | null {
  if (!tls) return null;
  return {
    mode: tls.mode ?? 'DISABLE',
    sni: tls.sni ? tls.sni : null,
    caCertificates: tls.caCertificates ? tls.caCertificates : null,
    clientCertificate: tls.clientCertificate ? tls.clientCertificate : null,
    privateKey: tls.privateKey ? tls.privateKey : null,
    credentialName: tls.credentialName ? tls.credentialName : null,
    subjectAltNames: [...(tls.subjectAltNames ?? [])],
    insecureSkipVerify: tls.insecureSkipVerify ?? false,
    caCrl: tls.caCrl ? tls.caCrl : null,
  };
}
