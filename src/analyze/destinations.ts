/**
 * VirtualService destination hosts and ports against the registry:
 * - IST0101 `host` / `mirror host`: no service (ServiceEntry host, exact or wildcard) serves it;
 * - ISTHMUS-A001: services serve it, but none is exported to the namespace of a proxy
 *   that applies the route (the VirtualService's own for `mesh`, the gateway's otherwise);
 * - IST0101 `host:port`: the destination port is not a port of the service;
 * - IST0112: no destination port while the service has several.
 * Short names resolve against the VirtualService's namespace (istio-semantics §3.1).
 */
import type { FieldPath } from '../core/diagnostics.js';
import type { Destination, VirtualService } from '../api/types.js';
import { resolveShortName } from '../core/hosts.js';
import { serviceExportedTo } from '../compile/scope.js';
import type { Service } from '../registry/types.js';
import type { AnalyzeContext, Report } from './context.js';
import { gatewayIndex } from './gateways.js';
import { MSG, q, text } from './messages.js';
import { routeClients, servicesFor, type RouteClient } from './refs.js';

/** One destination of a VirtualService with the path of its `Destination` object. */
export interface DestinationRef {
  dest: Destination;
  path: FieldPath;
  mirror: boolean;
}

/** Every route and mirror destination (http, tcp, tls) in document order. */
export function vsDestinations(vs: VirtualService): DestinationRef[] {
  const out: DestinationRef[] = [];
  (vs.spec.http ?? []).forEach((r, i) => {
    (r.route ?? []).forEach((rd, j) => out.push({ dest: rd.destination, path: ['spec', 'http', i, 'route', j, 'destination'], mirror: false }));
    if (r.mirror) out.push({ dest: r.mirror, path: ['spec', 'http', i, 'mirror'], mirror: true });
    (r.mirrors ?? []).forEach((m, j) => out.push({ dest: m.destination, path: ['spec', 'http', i, 'mirrors', j, 'destination'], mirror: true }));
  });
  for (const section of ['tcp', 'tls'] as const) {
    (vs.spec[section] ?? []).forEach((r, i) => {
      (r.route ?? []).forEach((rd, j) => out.push({ dest: rd.destination, path: ['spec', section, i, 'route', j, 'destination'], mirror: false }));
    });
  }
  return out;
}

function checkPorts(vs: VirtualService, d: DestinationRef, svc: Service, out: Report): void {
  const port = d.dest.port?.number;
  if (port !== undefined) {
    if (!svc.ports.some((p) => p.number === port)) {
      out.add(vs, [...d.path, 'port', 'number'], MSG.ReferencedResourceNotFound, text.referencedNotFound('host:port', `${d.dest.host}:${port}`));
    }
    return;
  }
  if (svc.ports.length > 1) {
    out.add(vs, [...d.path, 'host'], MSG.VirtualServiceDestinationPortSelectorRequired, text.portSelectorRequired(d.dest.host, svc.ports.map((p) => p.number)));
  }
}

function checkDestination(vs: VirtualService, d: DestinationRef, clients: RouteClient[], ctx: AnalyzeContext, out: Report): void {
  const host = resolveShortName(d.dest.host, vs.meta.namespace, ctx.domain);
  const services = servicesFor(ctx.registry, host);
  if (services.length === 0) {
    out.add(vs, [...d.path, 'host'], MSG.ReferencedResourceNotFound, text.referencedNotFound(d.mirror ? 'mirror host' : 'host', d.dest.host));
    return;
  }
  const blind = clients.filter((c) => !services.some((s) => serviceExportedTo(s, c.namespace)));
  if (blind.length > 0) {
    const s = services[0];
    out.add(
      vs,
      [...d.path, 'host'],
      MSG.DestinationHostNotVisible,
      `destination host ${q(host)} is defined by ${s.origin} but not exported to ${blind.map((c) => `namespace ${q(c.namespace)}`).join(', ')}, so ${blind.map((c) => c.describe).join(' and ')} cannot route to it`,
    );
  }
  const visible = services.find((s) => clients.every((c) => serviceExportedTo(s, c.namespace))) ?? services[0];
  checkPorts(vs, d, visible, out);
}

/** Analyzer entry. */
export function analyzeDestinations(ctx: AnalyzeContext, out: Report): void {
  const gateways = gatewayIndex(ctx.config.gateways);
  for (const vs of ctx.config.virtualServices) {
    const clients = routeClients(vs, gateways);
    for (const d of vsDestinations(vs)) checkDestination(vs, d, clients, ctx, out);
  }
}
