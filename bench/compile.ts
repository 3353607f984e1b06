/**
 * Control-plane benchmark (not part of `npm test`): a generated mesh of N services x 2
 * subsets and N VirtualServices, run through the whole pipeline. Prints the time of each
 * stage and the median cost of one route lookup (route table -> virtual host -> first
 * matching route), the hot path the proxy runs per request.
 *
 *   npm run bench:compile                 # N=5000
 *   SERVICES=1000 npm run bench:compile
 *
 * Targets (issue "Foundation"): compile < 2 s, lookup < 5 µs median on a 2-core machine.
 */
import { loadText } from '../src/api/load.js';
import { validateResources } from '../src/validate/index.js';
import { buildRegistry } from '../src/registry/build.js';
import { compileSnapshot } from '../src/compile/index.js';
import { matchRoute, selectRouteTable, selectVirtualHost, type RequestInfo } from '../src/dataplane/router/match.js';
import { NAMESPACES, serviceYaml } from './mesh.js';

const N = Number(process.env.SERVICES ?? 5000);

function generate(n: number): string {
  const docs: string[] = [];
  for (let i = 0; i < n; i++) docs.push(serviceYaml(i));
  return docs.join('---\n');
}

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const mb = (b: number): string => `${(b / 1024 / 1024).toFixed(0)} MB`;

const text = generate(N);
let t = process.hrtime.bigint();
const loaded = loadText(text, 'generated.yaml', { namespace: 'default' });
const tLoad = ms(t);
t = process.hrtime.bigint();
const v = validateResources(loaded.resources);
const tValidate = ms(t);
if (v.diagnostics.some((d) => d.severity === 'error')) {
  console.error(v.diagnostics.slice(0, 5));
  throw new Error('generated config is invalid');
}
t = process.hrtime.bigint();
const registry = buildRegistry(v.config, { domain: 'cluster.local' });
const tRegistry = ms(t);
t = process.hrtime.bigint();
const snap = compileSnapshot(v.config, registry, { role: 'sidecar', namespace: 'ns-0', labels: { app: 'bench' } });
const tCompile = ms(t);
const heap = process.memoryUsage();

// Route lookups: a fixed, varied request mix (cheap deterministic PRNG).
let seed = 42;
const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const requests: RequestInfo[] = [];
for (let i = 0; i < 4096; i++) {
  const k = Math.floor(rnd() * N);
  const kind = i % 4;
  const host = kind === 0 ? `svc-${k}.ns-${k % NAMESPACES}.svc.cluster.local:9080` : `svc-${k}.ns-${k % NAMESPACES}:9080`;
  requests.push({
    host,
    port: 9080,
    method: kind === 1 ? 'POST' : 'GET',
    path: kind === 1 ? '/api/v1/orders' : kind === 2 ? '/api/v2/items/abc-123' : '/productpage?u=1',
    scheme: 'http',
    headers: { host, 'user-agent': 'bench', ...(kind === 3 ? { 'end-user': `tester-${k}` } : {}) },
  });
}
let found = 0;
const lookup = (r: RequestInfo): void => {
  const table = selectRouteTable(snap, r);
  const vh = table && selectVirtualHost(table, r.host);
  if (vh && matchRoute(vh, r)) found++;
};
for (let i = 0; i < 20000; i++) lookup(requests[i & 4095]); // warm-up
const BATCH = 2000;
const samples: number[] = [];
for (let b = 0; b < 200; b++) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < BATCH; i++) lookup(requests[(b * BATCH + i) & 4095]);
  samples.push(Number(process.hrtime.bigint() - t0) / BATCH);
}
samples.sort((a, b) => a - b);
const median = samples[samples.length >> 1] / 1000;
const p99 = samples[Math.floor(samples.length * 0.99)] / 1000;

const compileTotal = tRegistry + tCompile;
console.log(`Isthmus control-plane benchmark: ${N} services x 2 subsets, ${N} VirtualServices (3 rules each), ${loaded.resources.length} resources`);
console.log(`  parse YAML          ${tLoad.toFixed(0)} ms`);
console.log(`  validate            ${tValidate.toFixed(0)} ms`);
console.log(`  registry            ${tRegistry.toFixed(0)} ms`);
console.log(`  compile snapshot    ${tCompile.toFixed(0)} ms   (${snap.clusters.size} clusters, ${snap.routeTables.size} route tables)`);
console.log(`  compile total       ${compileTotal.toFixed(0)} ms   target < 2000 ms  ${compileTotal < 2000 ? 'OK' : 'MISSED'}`);
console.log(`  route lookup        median ${median.toFixed(2)} µs, p99 of batches ${p99.toFixed(2)} µs   target < 5 µs  ${median < 5 ? 'OK' : 'MISSED'}`);
console.log(`  lookups that found a route: ${((found / (20000 + 200 * BATCH)) * 100).toFixed(1)}%`);
console.log(`  heap used after compile ${mb(heap.heapUsed)}, rss ${mb(heap.rss)}`);
