/**
 * IST0109 ConflictingMeshGatewayVirtualServiceHosts: several VirtualServices bound to
 * `mesh` define the same host. Sidecars do not merge them: the first in Istio's order
 * owns the host and the others are dropped as duplicates (istio-semantics §3.3.5). The
 * order, for a sidecar in namespace N: VirtualServices in N exported to N, then those
 * exported to N by name, then the public ones; within each group the oldest first.
 *
 * Istio's message is kept word for word; we add which VirtualService wins, where, and why.
 */
import type { VirtualService } from '../api/types.js';
import { exportGroup, MESH_GATEWAY, orderVirtualServices } from '../compile/vs.js';
import { virtualServiceHosts } from '../compile/scope.js';
import { fullName, type AnalyzeContext, type Report } from './context.js';
import { MSG, q, text } from './messages.js';
import { vsGateways } from './refs.js';

/** Stands for "any namespace not named anywhere in the config". */
const OTHER = '';

const GROUP_REASON = [
  'exported only inside its own namespace, which outranks VirtualServices exported elsewhere',
  'exported to that namespace by name, which outranks public VirtualServices',
  '',
];

/** The VirtualServices a sidecar in `clientNs` sees, in the compiler's order (first wins). */
function orderForSidecar(vss: readonly VirtualService[], clientNs: string): VirtualService[] {
  return orderVirtualServices(vss.map((resource) => ({ resource })), clientNs).map((x) => x.resource);
}

function whyFirst(winner: VirtualService, runnerUp: VirtualService, clientNs: string): string {
  const rw = exportGroup(winner, clientNs)!;
  const rr = exportGroup(runnerUp, clientNs)!;
  if (rw < rr) return GROUP_REASON[rw];
  const w = winner.meta.creationTimestamp !== undefined;
  const r = runnerUp.meta.creationTimestamp !== undefined;
  if (w && r) return 'the oldest by creationTimestamp';
  if (r) return 'the oldest: a missing creationTimestamp counts as oldest';
  return 'the oldest: defined first, as load order stands in for creationTimestamp';
}

interface Outcome {
  winner: VirtualService;
  losers: VirtualService[];
  reason: string;
  namespaces: string[];
}

function describe(outcomes: Outcome[], allCovered: boolean): string {
  return outcomes
    .map((o) => {
      const named = o.namespaces.filter((n) => n !== OTHER).map(q);
      const where =
        allCovered && outcomes.length === 1
          ? 'Sidecars in every namespace'
          : `Sidecars in ${[named.length ? `namespace${named.length > 1 ? 's' : ''} ${named.join(', ')}` : '', o.namespaces.includes(OTHER) ? 'all other namespaces' : ''].filter(Boolean).join(' and ')}`;
      return `${where} use ${fullName(o.winner)} (${o.reason}) and ignore ${o.losers.map(fullName).join(', ')}.`;
    })
    .join(' ');
}

/** Analyzer entry. */
export function analyzeMeshConflicts(ctx: AnalyzeContext, out: Report): void {
  const byHost = new Map<string, VirtualService[]>();
  for (const vs of ctx.config.virtualServices) {
    if (!vsGateways(vs).includes(MESH_GATEWAY)) continue;
    for (const h of new Set(virtualServiceHosts(vs, ctx.domain))) {
      const list = byHost.get(h);
      if (list) list.push(vs);
      else byHost.set(h, [vs]);
    }
  }
  for (const [host, vss] of byHost) {
    if (vss.length < 2) continue;
    const namespaces = new Set<string>([OTHER]);
    for (const vs of vss) {
      namespaces.add(vs.meta.namespace);
      for (const e of vs.spec.exportTo ?? []) if (e !== '*' && e !== '.' && e !== '~') namespaces.add(e);
    }
    const outcomes = new Map<string, Outcome>();
    const involved = new Set<VirtualService>();
    for (const ns of [...namespaces].sort()) {
      const seen = orderForSidecar(vss, ns);
      if (seen.length < 2) continue;
      const [winner, ...losers] = seen;
      seen.forEach((v) => involved.add(v));
      const key = seen.map(fullName).join(',');
      const o = outcomes.get(key);
      if (o) o.namespaces.push(ns);
      else outcomes.set(key, { winner, losers, reason: whyFirst(winner, losers[0], ns), namespaces: [ns] });
    }
    if (involved.size === 0) continue;
    const all = [...outcomes.values()];
    const allCovered = all.reduce((n, o) => n + o.namespaces.length, 0) === namespaces.size;
    const names = [...involved].map(fullName).sort().join(',');
    const message = `${text.conflictingMeshHosts(names, host)} ${describe(all, allCovered)}`;
    for (const vs of vss) {
      if (!involved.has(vs)) continue;
      const idx = virtualServiceHosts(vs, ctx.domain).indexOf(host);
      out.add(vs, ['spec', 'hosts', Math.max(idx, 0)], MSG.ConflictingMeshGatewayVirtualServiceHosts, message);
    }
  }
}
