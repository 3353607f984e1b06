/**
 * Traffic mirroring: fire-and-forget copies to the mirror clusters, sampled by percentage.
 * The copy never delays or fails the main request; its response is read and dropped.
 * The Host is kept as is (Istio disables Envoy's `-shadow` suffix by default).
 */
import type { AttemptHandler } from '../upstream/attempt.js';
import type { MirrorPolicy, Snapshot } from '../../snapshot/types.js';
import type { ClusterManager } from '../cluster/manager.js';
import type { HostRuntime } from '../cluster/host.js';
import type { HeaderMap } from './headers.js';

export interface MirrorRequest {
  method: string;
  path: string;
  headers: HeaderMap;
  body: Buffer | null;
  authority: string;
}

/** Reads the mirror's response and drops it. */
const DROP: AttemptHandler = {
  onStart: () => true,
  onHeaders() {},
  onData: () => true,
  onEnd() {},
  onError() {},
};

export function fireMirrors(mirrors: readonly MirrorPolicy[], clusters: ClusterManager, _snap: Snapshot, req: MirrorRequest, rnd: () => number): void {
  for (const m of mirrors) {
    if (m.percentage < 100 && rnd() * 100 >= m.percentage) continue;
    const c = clusters.get(m.cluster);
    if (!c) continue;
    const host = c.picker.pick({ rnd }) as HostRuntime | null;
    if (!host) continue;
    try {
      const pool = clusters.pools.h1(m.cluster, host.key, c.pool);
      const headers: HeaderMap = { ...req.headers, host: req.authority };
      delete headers['x-envoy-attempt-count'];
      pool.dispatch({ method: req.method, path: req.path, headers, body: req.body, authority: req.authority }, DROP);
    } catch {
      /* a mirror failure is never the caller's problem */
    }
  }
}
