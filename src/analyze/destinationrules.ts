/**
 * DestinationRules against the registry and against each other:
 * - IST0174 the rule's host matches no service;
 * - IST0173 a subset's labels select no endpoint of the services the host covers (the
 *   subset's cluster is empty: 503 UH). Services resolved by the original destination
 *   (`resolution: NONE`) ignore endpoints, so they are not judged;
 * - ISTHMUS-A003 rules merged for one host define the same subset; the later one is dropped;
 * - ISTHMUS-A004 rules merged for one host both set a top-level trafficPolicy; only the
 *   oldest applies. Merging is the compiler's `findDestinationRule` (istio-semantics §3.6).
 */
import type { DestinationRule } from '../api/types.js';
import { hostMatches, resolveShortName } from '../core/hosts.js';
import { findDestinationRule, indexDestinationRules, type DestinationRuleIndex } from '../compile/destinationrule.js';
import { labelsContain } from '../registry/build.js';
import type { Service } from '../registry/types.js';
import type { AnalyzeContext, Report } from './context.js';
import { MSG, q, text } from './messages.js';

function servicesMatching(ctx: AnalyzeContext, host: string): Service[] {
  return [...ctx.registry.services.values()].filter((s) => hostMatches(s.hostname, host));
}

function checkSubsetsSelect(dr: DestinationRule, services: Service[], out: Report): void {
  // Original-destination services never pick endpoints by label.
  const judged = services.filter((s) => s.resolution !== 'NONE');
  if (judged.length === 0) return;
  (dr.spec.subsets ?? []).forEach((subset, i) => {
    const labels = subset.labels ?? {};
    const selects = judged.some((s) => s.endpoints.some((ep) => labelsContain(ep.labels, labels)));
    if (!selects) out.add(dr, ['spec', 'subsets', i], MSG.DestinationRuleSubsetNotSelectPods, text.subsetSelectsNoPods(subset.name));
  });
}

/**
 * Which rules the compiler merges `dr` with: the lookup a client in the rule's own
 * namespace (selected by the rule, if it has a selector) makes for the rule's own host.
 */
function checkMerge(dr: DestinationRule, host: string, index: DestinationRuleIndex, ctx: AnalyzeContext, out: Report): void {
  const labels = dr.spec.workloadSelector?.matchLabels ?? {};
  const eff = findDestinationRule(index, { namespace: dr.meta.namespace, labels }, { hostname: host, namespace: dr.meta.namespace }, ctx);
  const self = (r: { namespace: string; name: string } | null) => r !== null && r.namespace === dr.meta.namespace && r.name === dr.meta.name;
  if (!eff || !eff.sources.some(self) || eff.sources.length < 2) return;
  (dr.spec.subsets ?? []).forEach((s, i) => {
    const kept = eff.subsets.find((e) => e.name === s.name);
    if (kept && !self(kept.source)) {
      out.add(
        dr,
        ['spec', 'subsets', i, 'name'],
        MSG.DuplicateSubsetInMergedDestinationRules,
        `subset ${q(s.name)} is already defined by DestinationRule ${kept.source.namespace}/${kept.source.name} for host ${host}; the rules are merged, the older definition is kept and this one is ignored`,
      );
    }
  });
  if (dr.spec.trafficPolicy && eff.trafficPolicySource && !self(eff.trafficPolicySource)) {
    const src = eff.trafficPolicySource;
    out.add(
      dr,
      ['spec', 'trafficPolicy'],
      MSG.IgnoredTrafficPolicyInMergedDestinationRules,
      `trafficPolicy is ignored: DestinationRules for host ${host} are merged and the top-level trafficPolicy of the older DestinationRule ${src.namespace}/${src.name} applies`,
    );
  }
}

/** Analyzer entry. */
export function analyzeDestinationRules(ctx: AnalyzeContext, out: Report): void {
  const index = indexDestinationRules(ctx.config.destinationRules, ctx);
  for (const dr of ctx.config.destinationRules) {
    const host = resolveShortName(dr.spec.host, dr.meta.namespace, ctx.domain);
    const services = servicesMatching(ctx, host);
    if (services.length === 0) out.add(dr, ['spec', 'host'], MSG.UnknownDestinationRuleHost, text.unknownDestinationRuleHost(dr.spec.host));
    else checkSubsetsSelect(dr, services, out);
    checkMerge(dr, host, index, ctx, out);
  }
}
