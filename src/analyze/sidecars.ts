/**
 * Sidecar resources:
 * - IST0111 more than one Sidecar without `workloadSelector` in a namespace (which one
 *   applies is undefined in Istio; we take the oldest);
 * - ISTHMUS-A005 an egress host that imports no service and no VirtualService (a typo'd
 *   namespace or host silently hides everything it meant to expose). Whole-namespace
 *   imports (`ns/*`, `*\/*`) state intent rather than name a host and are not judged.
 * Imports are decided by the compiler's own `parseEgressHost` / `egressImports` (§3.7).
 */
import type { Sidecar } from '../api/types.js';
import { egressImports, isExportedTo, parseEgressHost, serviceExportedTo, virtualServiceHosts, type EgressScope } from '../compile/scope.js';
import { compareByAge } from '../compile/order.js';
import { fullName, type AnalyzeContext, type Report } from './context.js';
import { MSG, q, text } from './messages.js';

function importsSomething(sc: Sidecar, scope: EgressScope, ctx: AnalyzeContext): boolean {
  const ns = sc.meta.namespace;
  for (const svc of ctx.registry.services.values()) {
    if (serviceExportedTo(svc, ns) && egressImports(scope, svc.namespace, svc.hostname)) return true;
  }
  for (const vs of ctx.config.virtualServices) {
    if (!isExportedTo(vs.spec.exportTo, vs.meta.namespace, ns)) continue;
    if (virtualServiceHosts(vs, ctx.domain).some((h) => egressImports(scope, vs.meta.namespace, h))) return true;
  }
  return false;
}

function checkEgress(sc: Sidecar, ctx: AnalyzeContext, out: Report): void {
  (sc.spec.egress ?? []).forEach((listener, i) => {
    listener.hosts.forEach((entry, j) => {
      const parsed = parseEgressHost(entry, sc.meta.namespace);
      if (parsed.exclude || parsed.host.host === '*') return;
      const scope: EgressScope = { port: null, imports: [parsed.host], excludes: [] };
      if (importsSomething(sc, scope, ctx)) return;
      const where = parsed.host.namespace === null ? 'any namespace' : `namespace ${q(parsed.host.namespace)}`;
      out.add(
        sc,
        ['spec', 'egress', i, 'hosts', j],
        MSG.SidecarEgressHostImportsNothing,
        `egress host ${q(entry)} imports nothing: no service or VirtualService for ${parsed.host.host} in ${where} is visible to namespace ${q(sc.meta.namespace)}`,
      );
    });
  });
}

/** Analyzer entry. */
export function analyzeSidecars(ctx: AnalyzeContext, out: Report): void {
  const plainByNs = new Map<string, Sidecar[]>();
  for (const sc of ctx.config.sidecars) {
    checkEgress(sc, ctx, out);
    if (sc.spec.workloadSelector !== undefined) continue;
    const list = plainByNs.get(sc.meta.namespace);
    if (list) list.push(sc);
    else plainByNs.set(sc.meta.namespace, [sc]);
  }
  for (const [ns, list] of plainByNs) {
    if (list.length < 2) continue;
    const sorted = [...list].sort(compareByAge);
    const names = sorted.map((s) => s.meta.name);
    const message = `${text.multipleSidecarsNoSelector(names, ns)} Isthmus applies the oldest, ${fullName(sorted[0])}.`;
    for (const sc of list) out.add(sc, ['metadata', 'name'], MSG.MultipleSidecarsWithoutWorkloadSelectors, message);
  }
}
