/**
 * Subsets named by VirtualService routes and mirrors:
 * - IST0101 `host+subset in destinationrule` / `mirror+subset in destinationrule`: no
 *   DestinationRule for that host defines the subset (requests get 503 NC);
 * - ISTHMUS-A002: some DestinationRule defines it, but not the one the proxy applying the
 *   route actually uses (the lookup order client namespace > service namespace > root
 *   namespace of istio-semantics §3.6 picked another rule, or none).
 * The lookup is the compiler's own `findDestinationRule`.
 */
import type { DestinationRule, VirtualService } from '../api/types.js';
import { hostSubsetOf, resolveShortName } from '../core/hosts.js';
import { findDestinationRule, indexDestinationRules, type DestinationRuleIndex } from '../compile/destinationrule.js';
import { serviceExportedTo } from '../compile/scope.js';
import { fullName, type AnalyzeContext, type Report } from './context.js';
import { vsDestinations, type DestinationRef } from './destinations.js';
import { gatewayIndex } from './gateways.js';
import { MSG, q, text } from './messages.js';
import { routeClients, servicesFor, type RouteClient } from './refs.js';

/** DestinationRules (any namespace) whose host covers `host` and that define `subset`. */
function definers(rules: readonly DestinationRule[], host: string, subset: string, domain: string): DestinationRule[] {
  return rules.filter(
    (dr) => hostSubsetOf(host, resolveShortName(dr.spec.host, dr.meta.namespace, domain)) && (dr.spec.subsets ?? []).some((s) => s.name === subset),
  );
}

function checkSubset(
  vs: VirtualService,
  d: DestinationRef,
  clients: RouteClient[],
  index: DestinationRuleIndex,
  ctx: AnalyzeContext,
  out: Report,
): void {
  const subset = d.dest.subset;
  if (subset === undefined || subset === '') return;
  const host = resolveShortName(d.dest.host, vs.meta.namespace, ctx.domain);
  const services = servicesFor(ctx.registry, host);
  const failing: { client: RouteClient; uses: string }[] = [];
  for (const c of clients) {
    const svc = services.find((s) => serviceExportedTo(s, c.namespace)) ?? services[0];
    const eff = findDestinationRule(index, c, { hostname: host, namespace: svc?.namespace ?? '' }, ctx);
    if (eff?.subsets.some((s) => s.name === subset)) continue;
    const uses = eff
      ? `DestinationRule ${eff.sources.map((r) => `${r.namespace}/${r.name}`).join(' + ')}, which has no subset ${q(subset)}`
      : 'no DestinationRule for this host';
    failing.push({ client: c, uses });
  }
  if (failing.length === 0) return;
  const path = [...d.path, 'subset'];
  const found = definers(ctx.config.destinationRules, host, subset, ctx.domain);
  if (found.length === 0) {
    const reftype = d.mirror ? 'mirror+subset in destinationrule' : 'host+subset in destinationrule';
    out.add(vs, path, MSG.ReferencedResourceNotFound, text.referencedNotFound(reftype, `${d.dest.host}+${subset}`));
    return;
  }
  const where = failing.map((f) => `${f.client.describe} use${f.client.describe.startsWith('Gateway') ? 's' : ''} ${f.uses}`).join('; ');
  out.add(
    vs,
    path,
    MSG.SubsetNotInEffectiveDestinationRule,
    `subset ${q(subset)} of host ${q(host)} is defined in DestinationRule ${found.map(fullName).join(', ')}, but ${where} (a DestinationRule in the client's namespace is used first, then the service's namespace, then the root namespace)`,
  );
}

/** Analyzer entry. */
export function analyzeSubsetRefs(ctx: AnalyzeContext, out: Report): void {
  const index = indexDestinationRules(ctx.config.destinationRules, ctx);
  const gateways = gatewayIndex(ctx.config.gateways);
  for (const vs of ctx.config.virtualServices) {
    let clients = routeClients(vs, gateways);
    if (clients.length === 0) clients = [{ namespace: vs.meta.namespace, labels: {}, describe: `sidecars in namespace ${q(vs.meta.namespace)}` }];
    for (const d of vsDestinations(vs)) checkSubset(vs, d, clients, index, ctx, out);
  }
}
