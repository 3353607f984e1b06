/**
 * Semantic (webhook) validation of a VirtualService: istio-semantics.md §4.1 V1–V66.
 * The structural schema has already checked shapes, enums and CRD rules; this file does
 * the VS-wide rules (delegation, hosts, gateways, exportTo) and hands each rule to the
 * per-protocol checks in vs-http.ts / vs-l4.ts and the reachability analysis in vs-reach.ts.
 */
import { hostMatches, isIPAddress, resolveShortName, validateWildcardDomain } from '../core/hosts.js';
import type { Resource, VirtualServiceSpec } from '../api/types.js';
import { validateExportTo } from './common.js';
import { Findings, type Finding, type ValidateContext } from './finding.js';
import { checkHTTPRoute, type HttpRuleContext } from './vs-http.js';
import { checkTCPRoute, checkTLSRoute, type L4RuleContext } from './vs-l4.js';
import { checkReachability } from './vs-reach.js';
import { checkGatewayRefs, gatewayBoundHostError } from './vs-refs.js';

const MESH_GATEWAY = 'mesh';

/**
 * Validates one VirtualService. Errors reject it; warnings (legacy gateway names,
 * deprecated fields, unreachable rules …) admit it. Paths are from the resource root.
 */
export function validateVirtualService(r: Resource<'VirtualService'>, ctx: ValidateContext): Finding[] {
  const out = new Findings();
  const spec = r.spec;
  const namespace = r.meta.namespace;
  const hosts = spec.hosts ?? [];
  const gateways = spec.gateways ?? [];
  // A VS without hosts can only be reached through a root VS's `delegate` (§3.9).
  const isDelegateVs = hosts.length === 0;

  if (isDelegateVs) {
    if (gateways.length > 0) out.error(['spec', 'gateways'], 'delegate virtual service must have no gateways specified');
    if ((spec.tls?.length ?? 0) > 0) out.error(['spec', 'tls'], 'delegate virtual service must have no tls route specified');
    if ((spec.tcp?.length ?? 0) > 0) out.error(['spec', 'tcp'], 'delegate virtual service must have no tcp route specified');
  }

  // No gateways means `mesh`; listing gateways without `mesh` takes the VS off sidecars.
  const appliesToGateway = gateways.length > 0 && !gateways.includes(MESH_GATEWAY);
  checkGatewayRefs(out, gateways, ['spec', 'gateways']);
  checkHosts(out, spec, hosts, appliesToGateway, namespace, ctx.domain);

  if ((spec.http?.length ?? 0) === 0 && (spec.tcp?.length ?? 0) === 0 && (spec.tls?.length ?? 0) === 0) {
    out.error(['spec'], 'http, tcp or tls must be provided in virtual service');
  }

  const httpCtx: HttpRuleContext = { out, isDelegateVs, appliesToGateway, gateways };
  (spec.http ?? []).forEach((rule, i) => checkHTTPRoute(httpCtx, rule, ['spec', 'http', i]));

  const l4Ctx: L4RuleContext = {
    out,
    hosts,
    resolvedHosts: hosts.map((h) => resolveShortName(h, namespace, ctx.domain)),
    namespace,
    domain: ctx.domain,
    appliesToGateway,
  };
  (spec.tls ?? []).forEach((rule, i) => checkTLSRoute(l4Ctx, rule, ['spec', 'tls', i]));
  (spec.tcp ?? []).forEach((rule, i) => checkTCPRoute(l4Ctx, rule, ['spec', 'tcp', i]));

  out.list.push(...validateExportTo(spec.exportTo, namespace, ['spec', 'exportTo']));
  checkReachability(out, spec);
  return out.list;
}

/**
 * V4–V7: every host is a (wildcard) domain or an IP; `*` alone is refused when the VS
 * applies to sidecars; and no two hosts overlap (compared after short-name expansion, so
 * `reviews` and `reviews.<ns>.svc.cluster.local` are duplicates).
 */
function checkHosts(
  out: Findings,
  spec: VirtualServiceSpec,
  hosts: readonly string[],
  appliesToGateway: boolean,
  namespace: string,
  domain: string,
): void {
  // The AUTO_PASSTHROUGH SNI form is only legal when the VS actually routes on SNI.
  const sni = (spec.tls ?? []).some((t) => t.match.some((m) => m.sniHosts.length > 0));
  let allValid = true;
  hosts.forEach((h, i) => {
    const err = appliesToGateway ? gatewayBoundHostError(h, sni) : validateWildcardDomain(h);
    if (err) {
      if (!isIPAddress(h)) {
        out.error(['spec', 'hosts', i], err);
        allValid = false;
      }
    } else if (!appliesToGateway && h === '*') {
      out.error(['spec', 'hosts', i], 'wildcard host * is not allowed for virtual services bound to the mesh gateway');
      allValid = false;
    }
  });
  // Overlap is only meaningful between well-formed names.
  if (!allValid) return;
  const resolved = hosts.map((h) => resolveShortName(h, namespace, domain));
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) {
      if (hostMatches(resolved[i], resolved[j])) {
        out.error(['spec', 'hosts', j], `duplicate hosts in virtual service: ${hosts[i]} & ${hosts[j]}`);
      }
    }
  }
}
