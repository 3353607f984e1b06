/**
 * Outbound clusters for one proxy: per visible service and port, the default cluster
 * `outbound|<port>||<host>` plus one `outbound|<port>|<subset>|<host>` per subset of the
 * DestinationRule in effect for this proxy (istio-semantics.md §1.2, §2.2, §3.6, §3.8).
 */
import type { ConfigSet } from '../api/types.js';
import { labelsContain } from '../registry/build.js';
import type { Service, ServiceEndpoint, ServicePort } from '../registry/types.js';
import type { LbPolicy, Cluster, CompileOptions, Endpoint, ProxyIdentity, TlsPolicy } from '../snapshot/types.js';
import { findDestinationRule, indexDestinationRules, type DestinationRuleIndex, type EffectiveDestinationRule, type EffectiveSubset } from './destinationrule.js';
import { compileClusterPolicy, PolicyCache, type ClusterPolicy } from './policy.js';

/** Envoy cluster name: `outbound|9080|v2|reviews.default.svc.cluster.local`; no subset -> `outbound|9080||host`. */
export function clusterName(port: number, subset: string | null, host: string): string {
  return `outbound|${port}|${subset ?? ''}|${host}`;
}

export interface BuildClustersArgs {
  /** The services visible to the proxy (Sidecar egress and exportTo already applied). */
  services: readonly Service[];
  config: ConfigSet;
  proxy: ProxyIdentity;
  opts: CompileOptions;
  /** A DestinationRule index built once for the config (built from `config` when absent). */
  destinationRules?: DestinationRuleIndex;
}

/**
 * Builds every outbound cluster for the proxy, in service order, then port order, default
 * cluster before subsets (subsets in DestinationRule order). Pure and deterministic.
 */
export function buildClusters(args: BuildClustersArgs): Map<string, Cluster> {
  const index = args.destinationRules ?? indexDestinationRules(args.config.destinationRules, args.opts);
  const out = new Map<string, Cluster>();
  const cache = new PolicyCache();
  for (const svc of args.services) {
    const dr = findDestinationRule(index, args.proxy, { hostname: svc.hostname, namespace: svc.namespace });
    for (const port of svc.ports) {
      const def = buildCluster(svc, port, dr, null, cache);
      out.set(def.name, def);
      for (const subset of dr?.subsets ?? []) {
        const c = buildCluster(svc, port, dr, subset, cache);
        out.set(c.name, c);
      }
    }
  }
  return out;
}

/**
 * The LB as it takes effect: resolution NONE means original-destination; Istio applies
 * locality failover only with outlier detection, while `distribute` always applies.
 */
function effectiveLb(l: LbPolicy, none: boolean, outlier: boolean): LbPolicy {
  const base = none ? { ...l, kind: 'PASSTHROUGH' as const, hash: null, warmup: null } : l;
  const loc = base.locality;
  const effective = loc && loc.enabled && (loc.distribute.length > 0 || outlier) ? loc : null;
  return effective === loc ? base : { ...base, locality: effective };
}

function buildCluster(svc: Service, port: ServicePort, dr: EffectiveDestinationRule | null, subset: EffectiveSubset | null, cache: PolicyCache): Cluster {
  const policy = compileClusterPolicy(dr?.trafficPolicy, subset?.trafficPolicy, port.number, cache);
  const lb = cache.get(cache.lbFor(svc.resolution === 'NONE', policy.outlier !== null), policy.lb, (l) =>
    effectiveLb(l, svc.resolution === 'NONE', policy.outlier !== null),
  );
  // Original-destination clusters (resolution NONE, or a PASSTHROUGH load balancer) carry no
  // endpoints: the data plane connects to the address the client dialled.
  const passthrough = lb.kind === 'PASSTHROUGH';
  const endpoints = passthrough ? [] : selectEndpoints(svc.endpoints, subset?.labels ?? null).map((ep) => toEndpoint(ep, port));
  return {
    name: clusterName(port.number, subset?.name ?? null, svc.hostname),
    host: svc.hostname,
    namespace: svc.namespace,
    port: port.number,
    protocol: port.protocol,
    subset: subset?.name ?? null,
    subsetLabels: subset ? subset.labels : null,
    resolution: svc.resolution,
    endpoints,
    lb,
    connectionPool: policy.connectionPool,
    outlier: policy.outlier,
    tls: withServiceSans(policy, svc),
    destinationRule: subset ? subset.source : (dr?.sources[0] ?? null),
    location: svc.location,
  };
}

/** Endpoints whose labels contain every subset label (all of them without a subset). */
function selectEndpoints(endpoints: readonly ServiceEndpoint[], labels: Readonly<Record<string, string>> | null): readonly ServiceEndpoint[] {
  return labels ? endpoints.filter((ep) => labelsContain(ep.labels, labels)) : endpoints;
}

/** Endpoint port: the WorkloadEntry's override for the port name, else the service targetPort; unix sockets have none. */
function toEndpoint(ep: ServiceEndpoint, port: ServicePort): Endpoint {
  const override = ep.ports[port.name];
  const p = ep.address.startsWith('unix://') ? 0 : override !== undefined && override > 0 ? override : port.targetPort;
  return { address: ep.address, port: p, labels: ep.labels, locality: ep.locality, weight: ep.weight };
}

/** ISTIO_MUTUAL without DR subjectAltNames verifies the service's own SANs (ServiceEntry subjectAltNames). */
function withServiceSans(policy: ClusterPolicy, svc: Service): TlsPolicy | null {
  const tls = policy.tls;
  if (tls && tls.mode === 'ISTIO_MUTUAL' && tls.subjectAltNames.length === 0 && svc.subjectAltNames.length > 0) {
    return { ...tls, subjectAltNames: [...svc.subjectAltNames] };
  }
  return tls;
}
