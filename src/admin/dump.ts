/**
 * JSON views of runtime objects for /config_dump and /clusters. Maps become objects,
 * compiled regexes their source, and anything that could be key material is redacted.
 */
import type { Snapshot } from '../snapshot/types.js';
import type { ClusterManager } from '../dataplane/cluster/manager.js';
import type { ClusterStatus } from './server.js';

const REDACT = new Set(['privateKey', 'private_key', 'key', 'tls.key']);

/** A JSON-safe copy of a snapshot (no Maps, no functions, no private keys). */
export function snapshotToJson(snap: Snapshot): unknown {
  return JSON.parse(
    JSON.stringify(snap, function (this: unknown, k: string, v: unknown) {
      if (REDACT.has(k) && v !== null && v !== undefined) return '[redacted]';
      if (v instanceof Map) return Object.fromEntries(v);
      if (v instanceof Set) return [...v];
      if (v && typeof v === 'object' && 'fullMatch' in v && 'source' in v) return { regex: (v as { source: string }).source };
      return v;
    }),
  );
}

/** /clusters for one process. */
export function clusterStatuses(cm: ClusterManager): ClusterStatus[] {
  const out: ClusterStatus[] = [];
  for (const rt of cm.all()) {
    const c = rt.config;
    out.push({
      name: c.name,
      host: c.host,
      port: c.port,
      subset: c.subset,
      loadBalancer: c.lb.kind,
      destinationRule: c.destinationRule ? `${c.destinationRule.namespace}/${c.destinationRule.name}` : null,
      circuitBreakers: {
        maxConnections: c.connectionPool.maxConnections,
        maxPendingRequests: c.connectionPool.http1MaxPendingRequests,
        maxRequests: c.connectionPool.http2MaxRequests,
        maxRetries: c.connectionPool.maxRetries,
      },
      outlierDetection: c.outlier !== null,
      endpoints: rt.hosts.map((h) => ({
        address: h.address,
        port: h.port,
        health: h.state.healthy ? 'healthy' : 'ejected',
        weight: h.weight,
        locality: h.locality,
        labels: { ...h.labels },
        activeRequests: h.state.active,
        totalRequests: h.state.total,
        failures: h.state.failures,
        connections: cm.pools.stats(c.name, h.key).connected,
      })),
    });
  }
  return out;
}

/** Sums per-worker /clusters views (same cluster and endpoint => counters added). */
export function mergeClusterStatuses(parts: ClusterStatus[][]): ClusterStatus[] {
  const by = new Map<string, ClusterStatus>();
  for (const part of parts) {
    for (const c of part) {
      const prev = by.get(c.name);
      if (!prev) {
        by.set(c.name, { ...c, endpoints: c.endpoints.map((e) => ({ ...e })) });
        continue;
      }
      for (const e of c.endpoints) {
        const pe = prev.endpoints.find((x) => x.address === e.address && x.port === e.port);
        if (!pe) prev.endpoints.push({ ...e });
        else {
          pe.activeRequests += e.activeRequests;
          pe.totalRequests += e.totalRequests;
          pe.failures += e.failures;
          pe.connections += e.connections;
          if (e.health === 'ejected') pe.health = 'ejected';
        }
      }
    }
  }
  return [...by.values()];
}
