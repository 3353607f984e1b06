/**
 * The oracle for the incremental reload: after every change, the store's snapshot (built
 * with the compile cache and a possibly re-used registry) must equal a cold
 * `compileSnapshot` of the same config — both as /config_dump JSON and structurally. The
 * compile seam records the cache stats, so the tests also prove the fast path was taken
 * (scope, clusters and routes re-used) for VirtualService-only changes and not taken when
 * something it depends on changed.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { snapshotToJson } from '../admin/dump.js';
import type { CompileCacheStats } from '../compile/cache.js';
import { compileSnapshot } from '../compile/index.js';
import { buildRegistry } from '../registry/build.js';
import type { ProxyIdentity } from '../snapshot/types.js';
import { hashText, type SourceFile } from '../sources/types.js';
import { SnapshotStore, type ConfigState } from './store.js';

const NS = ['ns-0', 'ns-1', 'ns-2', 'ns-3'];
const SERVICES = 24;

function svcYaml(i: number, weight = 80, extra = ''): string {
  const ns = NS[i % NS.length];
  const n = `svc-${i}`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${n}, namespace: ${ns}}
spec:
  hosts: [${n}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}${i % 6 === 0 ? ', {number: 80, name: http-web, protocol: HTTP}' : ''}]
  endpoints:
  - {address: 10.0.${i}.1, labels: {version: v1}}
  - {address: 10.0.${i}.2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${n}, namespace: ${ns}}
spec:
  host: ${n}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
${vsYaml(i, weight, extra)}`;
}

function vsYaml(i: number, weight = 80, extra = '', hosts = `[svc-${i}]`): string {
  const ns = NS[i % NS.length];
  const n = `svc-${i}`;
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${n}, namespace: ${ns}}
spec:
  hosts: ${hosts}
${extra}  http:
  - name: tester
    match: [{headers: {end-user: {exact: tester-${i}}}}]
    route: [{destination: {host: ${n}, subset: v2}}]
  - name: api
    match: [{uri: {prefix: /api}}, {uri: {regex: "/v[0-9]+/items"}}]
    route: [{destination: {host: ${n}, subset: v1}}]
    timeout: 3s
  - name: split
    route:
    - {destination: {host: ${n}, subset: v1}, weight: ${weight}}
    - {destination: {host: ${n}, subset: v2}, weight: ${100 - weight}}
`;
}

const WILDCARD = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wild, namespace: ns-1}
spec:
  hosts: ["*.ns-1.svc.cluster.local"]
  http:
  - route: [{destination: {host: svc-1.ns-1.svc.cluster.local, subset: v1}}]
`;

const delegateParent = (prefix: string): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: parent, namespace: ns-2}
spec:
  hosts: [parent.example.com]
  http:
  - match: [{uri: {prefix: ${prefix}}}]
    delegate: {name: child, namespace: ns-2}
  - route: [{destination: {host: svc-2.ns-2.svc.cluster.local}}]
`;

const delegateChild = (subset: string): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: child, namespace: ns-2}
spec:
  http:
  - match: [{uri: {prefix: /shop/cart}}]
    route: [{destination: {host: svc-6.ns-2.svc.cluster.local, subset: ${subset}}}]
  - route: [{destination: {host: svc-10.ns-2.svc.cluster.local}}]
`;

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;

const gatewayVs = (weight: number, gateways = '[istio-system/gw]'): string => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: front, namespace: ns-0}
spec:
  hosts: [www.example.com, svc-4.ns-0.svc.cluster.local]
  gateways: ${gateways}
  http:
  - match: [{uri: {prefix: /static}}]
    route: [{destination: {host: svc-4.ns-0.svc.cluster.local, port: {number: 9080}}}]
  - route:
    - {destination: {host: svc-8.ns-0.svc.cluster.local, port: {number: 9080}}, weight: ${weight}}
    - {destination: {host: svc-12.ns-0.svc.cluster.local, port: {number: 9080}}, weight: ${100 - weight}}
`;

const SIDECAR = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: ns-0}
spec:
  egress: [{hosts: ["./*", "ns-1/*"]}]
`;

type Files = Map<string, string>;

function baseFiles(): Files {
  const f: Files = new Map();
  for (let i = 0; i < SERVICES; i++) f.set(`mesh/svc-${i}.yaml`, svcYaml(i));
  f.set('mesh/wild.yaml', WILDCARD);
  f.set('mesh/parent.yaml', delegateParent('/shop'));
  f.set('mesh/child.yaml', delegateChild('v1'));
  f.set('mesh/gateway.yaml', GATEWAY);
  f.set('mesh/front.yaml', gatewayVs(90));
  return f;
}

const toSources = (f: Files): SourceFile[] => [...f].map(([path, text]) => ({ path, text, hash: hashText(text) }));

/** A change: what it does to the files, and whether it touches VirtualServices only. */
interface Change {
  name: string;
  edit: (f: Files) => void;
  vsOnly: boolean;
}

const CHANGES: Change[] = [
  { name: 'split weights', vsOnly: true, edit: (f) => f.set('mesh/svc-5.yaml', svcYaml(5, 30)) },
  {
    name: 'match reorder',
    vsOnly: true,
    edit: (f) => f.set('mesh/svc-7.yaml', svcYaml(7).replace(/( {2}- name: tester\n(?: {4}.*\n)+)( {2}- name: api\n(?: {4}.*\n)+)/, '$2$1')),
  },
  { name: 'host added', vsOnly: true, edit: (f) => f.set('mesh/svc-9.yaml', svcYaml(9).replace('hosts: [svc-9]', 'hosts: [svc-9, svc-13.ns-1.svc.cluster.local]')) },
  { name: 'host removed again', vsOnly: true, edit: (f) => f.set('mesh/svc-9.yaml', svcYaml(9)) },
  { name: 'exact host taken from a wildcard', vsOnly: true, edit: (f) => f.set('mesh/svc-3.yaml', svcYaml(3).replace('hosts: [svc-3]', 'hosts: [svc-3, svc-17.ns-1.svc.cluster.local]')) },
  { name: 'wildcard host narrowed', vsOnly: true, edit: (f) => f.set('mesh/wild.yaml', WILDCARD.replace('"*.ns-1.svc.cluster.local"', '"*.example.com", "*.cluster.local"')) },
  { name: 'wildcard VS deleted', vsOnly: true, edit: (f) => f.delete('mesh/wild.yaml') },
  { name: 'wildcard VS added back', vsOnly: true, edit: (f) => f.set('mesh/wild.yaml', WILDCARD) },
  { name: 'delegate child changed', vsOnly: true, edit: (f) => f.set('mesh/child.yaml', delegateChild('v2')) },
  { name: 'delegate parent changed', vsOnly: true, edit: (f) => f.set('mesh/parent.yaml', delegateParent('/store')) },
  { name: 'delegate child deleted', vsOnly: true, edit: (f) => f.delete('mesh/child.yaml') },
  { name: 'delegate child back', vsOnly: true, edit: (f) => f.set('mesh/child.yaml', delegateChild('v1')) },
  { name: 'gateway VS weights', vsOnly: true, edit: (f) => f.set('mesh/front.yaml', gatewayVs(40)) },
  { name: 'gateway VS bound to mesh too', vsOnly: true, edit: (f) => f.set('mesh/front.yaml', gatewayVs(40, '[istio-system/gw, mesh]')) },
  { name: 'gateway VS unbound (mesh only)', vsOnly: true, edit: (f) => f.set('mesh/front.yaml', gatewayVs(40, '[]')) },
  { name: 'exportTo own namespace', vsOnly: true, edit: (f) => f.set('mesh/svc-4.yaml', svcYaml(4, 80, '  exportTo: ["."]\n')) },
  { name: 'exportTo another namespace', vsOnly: true, edit: (f) => f.set('mesh/svc-8.yaml', svcYaml(8, 80, '  exportTo: [ns-1]\n')) },
  {
    name: 'rule dropped at compile time (notes replayed on later hits)',
    vsOnly: true,
    edit: (f) => f.set('mesh/svc-16.yaml', svcYaml(16).replace('  http:\n', '  http:\n  - match: [{uri: {prefix: /old}}]\n    redirect: {uri: /new, redirectCode: 305}\n')),
  },
  { name: 'missing subset (notes)', vsOnly: true, edit: (f) => f.set('mesh/svc-11.yaml', svcYaml(11).replace('subset: v2}}]', 'subset: v9}}]')) },
  { name: 'second VS for a taken host (duplicate notes)', vsOnly: true, edit: (f) => f.set('mesh/dup.yaml', vsYaml(14, 50, '', '[svc-14.ns-2.svc.cluster.local]').replace('name: svc-14,', 'name: dup,')) },
  { name: 'standalone host on port 80', vsOnly: true, edit: (f) => f.set('mesh/dup.yaml', vsYaml(14, 50, '', '[api.example.org]').replace('name: svc-14,', 'name: dup,')) },
  { name: 'VS deleted (later resources shift)', vsOnly: true, edit: (f) => f.set('mesh/svc-2.yaml', svcYaml(2).split('---\n').slice(0, 2).join('---\n')) },
  { name: 'VS added back', vsOnly: true, edit: (f) => f.set('mesh/svc-2.yaml', svcYaml(2)) },
  { name: 'DestinationRule subset removed', vsOnly: false, edit: (f) => f.set('mesh/svc-5.yaml', svcYaml(5, 30).replace(', {name: v2, labels: {version: v2}}', '')) },
  { name: 'ServiceEntry port added', vsOnly: false, edit: (f) => f.set('mesh/svc-1.yaml', svcYaml(1).replace('protocol: HTTP}]', 'protocol: HTTP}, {number: 8080, name: http-alt, protocol: HTTP}]')) },
  { name: 'Sidecar added', vsOnly: false, edit: (f) => f.set('mesh/sidecar.yaml', SIDECAR) },
  { name: 'weights under a Sidecar', vsOnly: true, edit: (f) => f.set('mesh/svc-15.yaml', svcYaml(15, 10)) },
  { name: 'Sidecar removed', vsOnly: false, edit: (f) => f.delete('mesh/sidecar.yaml') },
];

const PROXIES: Array<{ name: string; proxy: ProxyIdentity }> = [
  { name: 'sidecar in ns-0', proxy: { role: 'sidecar', namespace: 'ns-0', labels: { app: 'client' } } },
  { name: 'sidecar in ns-1', proxy: { role: 'sidecar', namespace: 'ns-1', labels: { app: 'client' } } },
  { name: 'ingress gateway', proxy: { role: 'gateway', namespace: 'istio-system', labels: { istio: 'ingressgateway' } } },
];

function storeFor(proxy: ProxyIdentity): { store: SnapshotStore; stats: () => CompileCacheStats | undefined } {
  let last: CompileCacheStats | undefined;
  const store = new SnapshotStore({
    proxy,
    namespace: 'ns-0',
    compileOptions: { domain: 'cluster.local' },
    compile: (config, registry, p, opts, cache) => {
      const s = compileSnapshot(config, registry, p, opts, cache);
      last = cache ? { ...cache.stats } : undefined;
      return s;
    },
  });
  return { store, stats: () => last };
}

/** The oracle: a cold compile of the applied config, with a freshly built registry. */
function assertSameAsFullCompile(state: ConfigState, proxy: ProxyIdentity, label: string): void {
  const registry = buildRegistry(state.config, { domain: 'cluster.local' });
  assert.deepEqual(snapshotToJson(state.snapshot), snapshotToJson(compileSnapshot(state.config, registry, proxy, { domain: 'cluster.local' })), `${label}: /config_dump JSON differs`);
  assert.deepEqual(state.snapshot, compileSnapshot(state.config, registry, proxy, { domain: 'cluster.local' }), `${label}: snapshot differs structurally`);
  assert.deepEqual(state.registry, registry, `${label}: registry differs`);
}

function apply(store: SnapshotStore, files: Files, label: string): ConfigState {
  const r = store.apply(toSources(files));
  assert.equal(r.status, 'applied', `${label}: ${r.status === 'rejected' ? JSON.stringify(r.rejected.diagnostics.slice(0, 2)) : r.status}`);
  return r.state!;
}

for (const { name, proxy } of PROXIES) {
  describe(`incremental reload equals a full compile: ${name}`, () => {
    it('after each change applied in sequence', () => {
      const { store, stats } = storeFor(proxy);
      const files = baseFiles();
      assertSameAsFullCompile(apply(store, files, 'base'), proxy, 'base');
      for (const c of CHANGES) {
        const prevRegistry = store.current()!.registry;
        c.edit(files);
        const state = apply(store, files, c.name);
        assertSameAsFullCompile(state, proxy, c.name);
        const s = stats()!;
        // A VS-only change keeps the registry unless the load order shifted (seq is part of a service).
        if (c.vsOnly && state.registry === prevRegistry) {
          assert.ok(s.scopeReused && s.clustersReused, `${c.name}: scope and clusters should be re-used`);
          assert.ok(s.preparedHits > 0, `${c.name}: prepared VSs should be re-used`);
          if (proxy.role === 'sidecar') assert.ok(s.routeHits > s.routeMisses, `${c.name}: most routes should be re-used (${s.routeHits}/${s.routeMisses})`);
        }
        if (!c.vsOnly) assert.ok(!s.clustersReused, `${c.name}: clusters must be recomputed`);
      }
    });

    it('after each change applied alone to the base mesh', () => {
      for (const c of CHANGES) {
        const { store } = storeFor(proxy);
        const files = baseFiles();
        apply(store, files, 'base');
        c.edit(files);
        const r = store.apply(toSources(files));
        if (r.status === 'unchanged') continue; // the change restores something the base already has
        assert.equal(r.status, 'applied', c.name);
        assertSameAsFullCompile(r.state!, proxy, `${c.name} (alone)`);
      }
    });
  });
}

describe('incremental reload: fast path and fall-backs', () => {
  const proxy = PROXIES[0].proxy;

  it('a split-weight change re-uses the registry, scope, clusters and every other VS translation', () => {
    const { store, stats } = storeFor(proxy);
    const files = baseFiles();
    const first = apply(store, files, 'base');
    files.set('mesh/svc-5.yaml', svcYaml(5, 10));
    const next = apply(store, files, 'weights');
    assert.equal(next.registry, first.registry);
    assert.equal(next.snapshot.clusters, first.snapshot.clusters);
    const s = stats()!;
    assert.equal(s.preparedMisses, 2, 'the changed VS and the delegate parent are prepared again');
    assert.ok(s.routeMisses <= 4, `only the changed VS (and the delegate parent) are translated again: ${s.routeMisses} misses`);
    const table = (st: ConfigState) => st.snapshot.routeTables.get('9080')!.exact;
    const changed = table(next).get('svc-5.ns-1.svc.cluster.local')!;
    assert.match(JSON.stringify(changed.routes.at(-1)), /"weight":10\b.*"weight":90\b/);
    assert.notEqual(changed.routes, table(first).get('svc-5.ns-1.svc.cluster.local')!.routes);
    // An untouched VS keeps its translated routes (the same frozen objects).
    assert.equal(table(next).get('svc-6.ns-2.svc.cluster.local')!.routes, table(first).get('svc-6.ns-2.svc.cluster.local')!.routes);
  });

  it('a shifted load order rebuilds the registry (seq is part of a service)', () => {
    const { store, stats } = storeFor(proxy);
    const files = baseFiles();
    const first = apply(store, files, 'base');
    files.set('mesh/svc-2.yaml', svcYaml(2).split('---\n').slice(0, 2).join('---\n'));
    const next = apply(store, files, 'VS deleted');
    assert.notEqual(next.registry, first.registry);
    assert.equal(stats()!.scopeReused, false);
    assertSameAsFullCompile(next, proxy, 'VS deleted');
  });

  it('a rejected edit leaves the cache consistent for the next good one', () => {
    const { store } = storeFor(proxy);
    const files = baseFiles();
    apply(store, files, 'base');
    files.set('mesh/svc-5.yaml', svcYaml(5, 30).replace('weight: 70', 'weight: -5'));
    assert.equal(store.apply(toSources(files)).status, 'rejected');
    files.set('mesh/svc-5.yaml', svcYaml(5, 25));
    assertSameAsFullCompile(apply(store, files, 'good again'), proxy, 'good again');
  });
});

describe('incremental reload: random single-VirtualService edits (seeded)', () => {
  /** mulberry32: a small deterministic PRNG, so a failure replays with the same seed. */
  function rng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const EDITS: Array<(i: number, r: () => number) => string> = [
    (i, r) => vsYaml(i, Math.floor(r() * 101)),
    (i, r) => vsYaml(i, 50, '', `[svc-${i}, svc-${Math.floor(r() * SERVICES)}.${NS[Math.floor(r() * NS.length)]}.svc.cluster.local]`),
    (i, r) => vsYaml(i, 50, `  exportTo: [${['"."', 'ns-1', '"*"', 'ns-3'][Math.floor(r() * 4)]}]\n`),
    (i) => vsYaml(i, 50, '  gateways: [istio-system/gw, mesh]\n', `[svc-${i}, "*.example.com"]`),
    (i) => vsYaml(i, 50, '', `["*.${NS[i % NS.length]}.svc.cluster.local"]`),
    () => '',
  ];

  for (const seed of [1, 2, 3]) {
    for (const { name, proxy } of [PROXIES[0], PROXIES[2]]) {
      it(`seed ${seed}, ${name}: 30 random edits, each equal to a full compile`, () => {
        const r = rng(seed);
        const { store } = storeFor(proxy);
        const files = baseFiles();
        apply(store, files, 'base');
        for (let step = 0; step < 30; step++) {
          const i = Math.floor(r() * SERVICES);
          const vs = EDITS[Math.floor(r() * EDITS.length)](i, r);
          const [se, dr] = svcYaml(i).split('---\n');
          files.set(`mesh/svc-${i}.yaml`, vs ? `${se}---\n${dr}---\n${vs}` : `${se}---\n${dr}`);
          const res = store.apply(toSources(files));
          if (res.status === 'unchanged') continue;
          assert.equal(res.status, 'applied', `step ${step}`);
          assertSameAsFullCompile(res.state!, proxy, `seed ${seed} step ${step} (svc-${i})`);
        }
      });
    }
  }
});
