/** Pieces shared by the HTTP and L4 explanations: destinations with endpoints, cluster policy. */
import type { Cluster, Snapshot } from '../snapshot/types.js';
import type { ExplainDestination, ExplainPolicy } from './explain.js';

/** `ns/name`, or null. */
export const refName = (r: { namespace: string; name: string } | null): string | null => (r ? `${r.namespace}/${r.name}` : null);

function fmtLabels(l: Readonly<Record<string, string>>): string {
  return Object.entries(l).map(([k, v]) => `${k}=${v}`).join(',') || '{}';
}

/** A weighted destination with its cluster's endpoints (or why there are none). */
export function describeDestination(
  snap: Snapshot,
  d: { cluster: string; host: string; port: number; subset: string | null; weight: number },
  total: number,
): ExplainDestination {
  const c = snap.clusters.get(d.cluster);
  const weight = total > 0 ? Math.round((d.weight / total) * 10000) / 100 : 100;
  let note: string | null = null;
  if (!c) note = d.subset ? `subset "${d.subset}" is not defined by any DestinationRule visible to this proxy` : `no service ${d.host} port ${d.port} in the registry`;
  else if (c.resolution === 'NONE') note = 'resolution NONE: forwarded to the address the client asked for';
  else if (c.lb.kind === 'PASSTHROUGH') note = 'load balancer PASSTHROUGH: forwarded to the address the client asked for';
  else if (c.endpoints.length === 0)
    note = c.subsetLabels ? `subset labels ${fmtLabels(c.subsetLabels)} select no endpoint` : 'the service has no endpoints';
  return {
    host: d.host,
    port: d.port,
    subset: d.subset,
    weight,
    cluster: d.cluster,
    clusterFound: !!c,
    endpoints: c ? c.endpoints.map((e) => `${e.address.includes(':') ? `[${e.address}]` : e.address}:${e.port}`) : [],
    note,
  };
}

/** The cluster side of the policy (L4 routes have no timeout, retries or faults). */
export function l4Policy(c: Cluster): ExplainPolicy {
  return {
    timeoutMs: null, retries: null, fault: null, mirror: null, rewrite: null, cors: false,
    loadBalancer: c.lb.kind, consistentHash: c.lb.hash, connectionPool: c.connectionPool, outlierDetection: c.outlier, tls: c.tls,
    destinationRule: refName(c.destinationRule),
  };
}
