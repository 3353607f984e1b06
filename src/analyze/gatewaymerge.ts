/**
 * ISTHMUS-A007 GatewayMergedRouteShadowed. Unlike sidecars, a gateway merges every
 * VirtualService bound to one host: their routes are concatenated (the VirtualService
 * order of §3.4: private to the gateway namespace, exported to it by name, public; oldest
 * first) and catch-all routes are moved to the end, keeping their order
 * (istio-semantics §3.4). So only the first catch-all can ever be reached; the catch-all
 * routes of later VirtualServices are dead. Istio reports nothing here.
 */
import type { Gateway, Server, VirtualService } from '../api/types.js';
import type { FieldPath } from '../core/diagnostics.js';
import { hostIntersection } from '../core/hosts.js';
import { isExportedTo, virtualServiceHosts } from '../compile/scope.js';
import { fullName, type AnalyzeContext, type Report } from './context.js';
import { MSG } from './messages.js';
import { MESH_GATEWAY, normalizeGatewayName, orderVirtualServices } from '../compile/vs.js';
import { httpIsCatchAll } from './matchcover.js';
import { gatewayIndex } from './gateways.js';
import { parseServerHost } from '../compile/routes-gateway.js';
import { httpRules } from './routes.js';

/** The first catch-all route of a VirtualService on gateway `gw`, with its rule label and path. */
function firstCatchAll(vs: VirtualService, gw: string): { label: string; path: FieldPath } | null {
  const rules = httpRules(vs);
  if (!rules) return null;
  for (let r = 0; r < rules.length; r++) {
    const rule = rules[r];
    for (let k = 0; k < rule.blocks.length; k++) {
      const b = rule.blocks[k];
      if (!rule.canShadow || !b.gateways.has(gw) || !httpIsCatchAll(b)) continue;
      return { label: rule.label, path: rule.hasMatch ? ['spec', 'http', r, 'match', k] : ['spec', 'http', r] };
    }
  }
  return null;
}

const HTTP_PROTOCOLS = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB']);
const TERMINATING = new Set(['SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL']);

/**
 * The route table a server's HTTP routes land in: plain HTTP servers on one port share
 * one table; each TLS-terminating server has its own; other servers carry no HTTP routes.
 */
function tableOf(server: Server, index: number): string | null {
  const protocol = (server.port.protocol ?? '').toUpperCase();
  if (HTTP_PROTOCOLS.has(protocol)) return `http.${server.port.number}`;
  // The proto default mode is PASSTHROUGH: only terminated TLS reaches HTTP routes.
  const mode = server.tls?.mode ?? 'PASSTHROUGH';
  if ((protocol === 'HTTPS' || protocol === 'TLS') && TERMINATING.has(mode)) return `server.${index}`;
  return null;
}

interface Binding {
  gw: Gateway;
  host: string;
  vss: VirtualService[];
}

/** (gateway, route table, bound host) -> VirtualServices merged there. */
function bindings(ctx: AnalyzeContext, gateways: Map<string, Gateway>): Map<string, Binding> {
  const out = new Map<string, Binding>();
  for (const vs of ctx.config.virtualServices) {
    const refs = new Set((vs.spec.gateways ?? []).map((g) => normalizeGatewayName(g, vs.meta.namespace)));
    const vsHosts = virtualServiceHosts(vs, ctx.domain);
    for (const ref of refs) {
      if (ref === MESH_GATEWAY) continue;
      const gw = gateways.get(ref);
      if (!gw || !isExportedTo(vs.spec.exportTo, vs.meta.namespace, gw.meta.namespace)) continue;
      (gw.spec.servers ?? []).forEach((server, index) => {
        const table = tableOf(server, index);
        if (table === null) return;
        const bound = new Set<string>();
        for (const entry of server.hosts) {
          const sh = parseServerHost(entry, gw.meta.namespace);
          if (sh.namespace !== '*' && sh.namespace !== vs.meta.namespace) continue;
          for (const h of vsHosts) {
            const i = hostIntersection(sh.host, h);
            if (i !== null) bound.add(i);
          }
        }
        for (const host of bound) {
          const key = `${ref}\u0000${table}\u0000${host}`;
          const entry = out.get(key);
          if (!entry) out.set(key, { gw, host, vss: [vs] });
          else if (!entry.vss.includes(vs)) entry.vss.push(vs);
        }
      });
    }
  }
  return out;
}

/** Analyzer entry. */
export function analyzeGatewayMerges(ctx: AnalyzeContext, out: Report): void {
  const gateways = gatewayIndex(ctx.config.gateways);
  for (const { gw, host, vss } of bindings(ctx, gateways).values()) {
    if (vss.length < 2) continue;
    const gwName = fullName(gw);
    const ordered = orderVirtualServices(vss.map((resource) => ({ resource })), gw.meta.namespace).map((x) => x.resource);
    let first: { vs: VirtualService; label: string } | null = null;
    for (const vs of ordered) {
      const c = firstCatchAll(vs, gwName);
      if (!c) continue;
      if (!first) {
        first = { vs, label: c.label };
        continue;
      }
      out.add(
        vs,
        c.path,
        MSG.GatewayMergedRouteShadowed,
        `catch-all route in rule ${c.label} is never used on Gateway ${gwName} for host ${host}: the gateway merges the VirtualServices ${ordered.map(fullName).join(', ')} in that order and moves catch-all routes last, so the catch-all in rule ${first.label} of ${fullName(first.vs)} takes every request first`,
      );
    }
  }
}
