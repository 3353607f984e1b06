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
    const b = rt.breakers.stats();
    const d = cm.outliers.detector(c.name);
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
      breakerStats: {
        upstream_rq_pending_overflow: b.upstream_rq_pending_overflow,
        upstream_rq_retry_overflow: b.upstream_rq_retry_overflow,
        upstream_cx_overflow: b.upstream_cx_overflow,
        upstream_rq_pending_active: b.upstream_rq_pending_active,
        upstream_rq_active: b.upstream_rq_active,
        upstream_cx_active: b.upstream_cx_active,
      },
      outlierDetection: c.outlier !== null,
      outlier: d
        ? {
            ejectionsActive: d.ejectionsActive(),
            ejectionsEnforcedTotal: d.stats.ejections_enforced_total,
            ejectionsOverflow: d.stats.ejections_overflow,
            // Envoy's (deprecated) ejections_total: consecutive-5xx ejections allowed by max ejection %.
            ejectionsTotal: d.stats.ejections_enforced_consecutive_5xx,
          }
        : null,
      endpoints: rt.hosts.map((h) => {
        const st = h.state;
        return {
          address: h.address,
          port: h.port,
          health: st.healthy ? 'healthy' : 'ejected',
          weight: h.weight,
          locality: h.locality,
          labels: { ...h.labels },
          activeRequests: st.active,
          totalRequests: st.total,
          failures: st.failures,
          connections: cm.pools.stats(c.name, h.key).connected,
          ejected: st.ejected,
          ejectionReason: st.ejected ? st.ejectionReason : null,
          ejectedUntil: st.ejected && st.ejectedUntil !== null ? new Date(cm.wallClock(st.ejectedUntil)).toISOString() : null,
          ejectionCount: st.ejectionCount,
        };
      }),
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
        by.set(c.name, { ...c, breakerStats: { ...c.breakerStats }, outlier: c.outlier ? { ...c.outlier } : null, endpoints: c.endpoints.map((e) => ({ ...e })) });
        continue;
      }
      const pb = prev.breakerStats;
      for (const k of Object.keys(pb) as Array<keyof typeof pb>) pb[k] += c.breakerStats[k];
      if (prev.outlier && c.outlier) {
        // Every worker judges the same endpoints: the largest view of what is ejected now.
        prev.outlier.ejectionsActive = Math.max(prev.outlier.ejectionsActive, c.outlier.ejectionsActive);
        prev.outlier.ejectionsEnforcedTotal += c.outlier.ejectionsEnforcedTotal;
        prev.outlier.ejectionsOverflow += c.outlier.ejectionsOverflow;
        prev.outlier.ejectionsTotal += c.outlier.ejectionsTotal;
      }
      for (const e of c.endpoints) {
        const pe = prev.endpoints.find((x) => x.address === e.address && x.port === e.port);
        if (!pe) prev.endpoints.push({ ...e });
        else {
          pe.activeRequests += e.activeRequests;
          pe.totalRequests += e.totalRequests;
          pe.failures += e.failures;
          pe.connections += e.connections;
          pe.ejectionCount = Math.max(pe.ejectionCount, e.ejectionCount);
          if (e.ejected) {
            pe.health = 'ejected';
            if (!pe.ejected || (e.ejectedUntil ?? '') > (pe.ejectedUntil ?? '')) {
              pe.ejectionReason = e.ejectionReason;
              pe.ejectedUntil = e.ejectedUntil;
            }
            pe.ejected = true;
          }
        }
      }
    }
  }
  return [...by.values()];
}
