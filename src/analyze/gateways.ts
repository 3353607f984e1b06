/**
 * VirtualService -> Gateway references:
 * - IST0101 a named gateway does not exist (top-level or match-level `gateways`);
 * - IST0132 none of the gateway's server hosts (those open to the VirtualService's
 *   namespace) overlaps any VirtualService host, so the VirtualService never binds;
 * - ISTHMUS-A006 the VirtualService is not exported to the gateway's namespace, so the
 *   gateway never sees it (istio-semantics §3.4, §3.5).
 */
import type { FieldPath } from '../core/diagnostics.js';
import type { Gateway, VirtualService } from '../api/types.js';
import { hostMatches } from '../core/hosts.js';
import { parseServerHost } from '../compile/routes-gateway.js';
import { MESH_GATEWAY, normalizeGatewayName } from '../compile/vs.js';
import { isExportedTo, virtualServiceHosts } from '../compile/scope.js';
import { fullName, type AnalyzeContext, type Report } from './context.js';
import { MSG, q, text } from './messages.js';

/** Gateways by `ns/name`. */
export function gatewayIndex(gateways: readonly Gateway[]): Map<string, Gateway> {
  return new Map(gateways.map((g) => [fullName(g), g]));
}

/**
 * The server hosts of `gw` a VirtualService in `vsNamespace` may bind to: `host` and
 * `*\/host` are open to every namespace, `./host` to the gateway's own, `ns/host` to `ns`.
 */
export function serverHostsFor(gw: Gateway, vsNamespace: string): string[] {
  const out: string[] = [];
  for (const server of gw.spec.servers ?? []) {
    for (const entry of server.hosts) {
      const h = parseServerHost(entry, gw.meta.namespace);
      if (h.namespace === '*' || h.namespace === vsNamespace) out.push(h.host);
    }
  }
  return out;
}

/** Every gateway reference in a VirtualService with the path of the field naming it. */
export function gatewayRefs(vs: VirtualService): { ref: string; path: FieldPath; topLevel: boolean }[] {
  const out: { ref: string; path: FieldPath; topLevel: boolean }[] = [];
  (vs.spec.gateways ?? []).forEach((ref, i) => out.push({ ref, path: ['spec', 'gateways', i], topLevel: true }));
  for (const section of ['http', 'tls', 'tcp'] as const) {
    (vs.spec[section] ?? []).forEach((rule, r) => {
      (rule.match ?? []).forEach((m, k) => {
        (m.gateways ?? []).forEach((ref, g) =>
          out.push({ ref, path: ['spec', section, r, 'match', k, 'gateways', g], topLevel: false }),
        );
      });
    });
  }
  return out;
}

function analyzeVirtualService(vs: VirtualService, gateways: Map<string, Gateway>, ctx: AnalyzeContext, out: Report): void {
  const hosts = virtualServiceHosts(vs, ctx.domain);
  for (const { ref, path, topLevel } of gatewayRefs(vs)) {
    if (ref === MESH_GATEWAY) continue;
    const gw = gateways.get(normalizeGatewayName(ref, vs.meta.namespace));
    if (!gw) {
      out.add(vs, path, MSG.ReferencedResourceNotFound, text.referencedNotFound('gateway', ref));
      continue;
    }
    // Binding is decided by the top-level list; a match-level entry only narrows rules.
    if (!topLevel) continue;
    if (!isExportedTo(vs.spec.exportTo, vs.meta.namespace, gw.meta.namespace)) {
      out.add(
        vs,
        path,
        MSG.VirtualServiceNotExportedToGateway,
        `VirtualService ${fullName(vs)} is not exported to namespace ${q(gw.meta.namespace)} of Gateway ${fullName(gw)} (exportTo ${JSON.stringify(vs.spec.exportTo ?? [])}), so the gateway never uses it`,
      );
    }
    if (hosts.length === 0) continue; // a delegate: bound through its root
    const serverHosts = serverHostsFor(gw, vs.meta.namespace);
    if (!hosts.some((h) => serverHosts.some((s) => hostMatches(s, h)))) {
      out.add(vs, path, MSG.VirtualServiceHostNotFoundInGateway, text.hostNotFoundInGateway(vs.spec.hosts ?? [], fullName(vs), fullName(gw)));
    }
  }
}

/** Analyzer entry. */
export function analyzeGateways(ctx: AnalyzeContext, out: Report): void {
  const gateways = gatewayIndex(ctx.config.gateways);
  for (const vs of ctx.config.virtualServices) analyzeVirtualService(vs, gateways, ctx, out);
}
