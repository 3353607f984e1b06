/**
 * The compiler entry point: (config, registry, proxy identity) -> frozen Snapshot.
 *
 * Flow: visibility (scope.ts) -> clusters (clusters.ts) -> route tables (routes-sidecar.ts /
 * routes-gateway.ts, built from vs.ts + translate.ts) -> listeners. Pure: the same inputs
 * always give an equal snapshot; nothing is read from the environment.
 */
import { deepFreeze } from '../core/freeze.js';
import type { ConfigSet } from '../api/types.js';
import type { Registry, Service } from '../registry/types.js';
import { DEFAULT_COMPILE_OPTIONS, type CompileOptions, type Listener, type ProxyIdentity, type RouteTable, type SidecarL4Service, type Snapshot } from '../snapshot/types.js';
import type { CompileCache } from './cache.js';
import { buildClusters } from './clusters.js';
import { Notes, refOf } from './order.js';
import { buildGatewayRoutes } from './routes-gateway.js';
import { buildSidecarRouteTables } from './routes-sidecar.js';
import { buildSidecarL4 } from './routes-sidecar-l4.js';
import { buildProxyScope, describeEgress } from './scope.js';
import { prepareVirtualServices } from './vs.js';

/**
 * Compiles the snapshot one proxy needs. `cache` (optional) carries work over from the
 * previous compile with the same cache; the result is the same as without it (cache.ts).
 */
export function compileSnapshot(config: ConfigSet, registry: Registry, proxy: ProxyIdentity, opts?: Partial<CompileOptions>, cache?: CompileCache): Snapshot {
  const options: CompileOptions = { ...DEFAULT_COMPILE_OPTIONS, ...opts };
  const notes = new Notes();
  cache?.begin();
  const newScope = () => buildProxyScope(config, registry, proxy, options);
  const scope = cache ? cache.scopeFor(config, registry, proxy, options, newScope) : newScope();
  const newClusters = () => buildClusters({ services: scope.services, config, proxy, opts: options });
  const clusters = cache ? cache.clustersFor(config, scope, newClusters) : newClusters();
  const virtualServices = cache ? cache.prepare(config, options.domain) : prepareVirtualServices(config, options.domain);

  let routeTables: Map<string, RouteTable>;
  let listeners: Listener[];
  let defaultPorts = new Map<string, number>();
  let sidecarL4 = new Map<number, SidecarL4Service[]>();
  if (proxy.role === 'sidecar') {
    const r = buildSidecarRouteTables({ scope, virtualServices, proxy, opts: options, clusters, notes, cache });
    routeTables = r.tables;
    defaultPorts = r.defaultPorts;
    sidecarL4 = buildSidecarL4({ scope, virtualServices, proxy, opts: options });
    listeners = [{ name: 'virtualOutbound', port: 0, protocol: 'HTTP', servers: [], routeTable: null, tcpRoute: null }];
  } else {
    const services = new Map<string, Service>(scope.services.map((s) => [s.hostname, s]));
    const r = buildGatewayRoutes({ config, virtualServices, proxy, services, clusters, notes, domain: options.domain, cache });
    routeTables = r.tables;
    listeners = r.listeners;
  }

  return deepFreeze<Snapshot>({
    proxy: { ...proxy, labels: { ...proxy.labels }, ...(proxy.gateways ? { gateways: [...proxy.gateways] } : {}) },
    options,
    listeners,
    routeTables,
    clusters,
    outboundTrafficPolicy: scope.outboundTrafficPolicy,
    defaultPorts,
    sidecarL4,
    sidecar: scope.sidecar ? refOf(scope.sidecar) : null,
    sidecarEgress: describeEgress(scope, proxy),
    notes: notes.items,
  });
}

export { deepFreeze };
