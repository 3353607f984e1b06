/**
 * Control-plane reload benchmark (not part of `npm test`). A generated mesh of N services,
 * one file per service (ServiceEntry + DestinationRule with two subsets + VirtualService of
 * three rules), held by a SnapshotStore. Then one VirtualService is changed (its split
 * weights) and the full file set is applied again, as the file source hands it over.
 *
 *   npm run bench:reload                 # N=5000 (script: node --expose-gc --import tsx bench/reload.ts)
 *   SERVICES=1000 ITERATIONS=20 STAGE_ITERATIONS=3 WATCH_ITERATIONS=5 npm run bench:reload
 *
 * At N=5000 a cold pass takes seconds, so the cold stage breakdown and the watched reloads
 * are few (3 and 2); the incremental store applies are 10 (a few minutes in all).
 *
 * Prints:
 * - SnapshotStore.apply end-to-end for the one-VirtualService change (median/min/max), and
 *   where the time goes: the same stages the store runs (hash+fingerprint, parse, validate,
 *   registry, compile, change diff, freeze), timed one by one on the same input;
 * - the whole reload path through ConfigController on real files (file rename -> fs.watch
 *   -> debounce -> rescan reads and hashes every file -> apply -> onChange);
 * - memory per 1,000 services: heap retained by the serving state / N x 1000, and the
 *   process heap after compile / N x 1000 (the formula, Node's own heap included).
 *
 * Goal (Performance issue): changing one VirtualService in a 5,000-service mesh applies in
 * < 100 ms. The store re-parses only changed files, re-validates only changed documents and
 * carries unchanged compile work over (src/controlplane/incremental.ts, src/compile/cache.ts);
 * the stage list shows what the same pipeline costs cold.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadText } from '../src/api/load.js';
import type { RawResource } from '../src/api/resource.js';
import type { CompileCacheStats } from '../src/compile/cache.js';
import { compileSnapshot } from '../src/compile/index.js';
import { ConfigController } from '../src/controlplane/controller.js';
import { SnapshotStore } from '../src/controlplane/store.js';
import { diffFingerprints, fingerprints } from '../src/controlplane/summary.js';
import { deepFreeze } from '../src/core/freeze.js';
import { buildRegistry } from '../src/registry/build.js';
import type { ProxyIdentity } from '../src/snapshot/types.js';
import { fingerprintOf, hashText, type SourceFile } from '../src/sources/types.js';
import { validateResources } from '../src/validate/index.js';
import { NAMESPACES, serviceYaml } from './mesh.js';

const N = Number(process.env.SERVICES ?? 5000);
/** Store applies of one changed VS (cheap now: incremental); the first ones also warm the JIT. */
const ITERATIONS = Number(process.env.ITERATIONS ?? 10);
/** Rounds of the cold stage-by-stage breakdown (each re-parses the whole mesh: slow). */
const STAGE_ITERATIONS = Number(process.env.STAGE_ITERATIONS ?? 3);
const WATCH_ITERATIONS = Number(process.env.WATCH_ITERATIONS ?? 2);
const DOMAIN = 'cluster.local';
const PROXY: ProxyIdentity = { role: 'sidecar', namespace: 'ns-0', labels: { app: 'bench' } };
const gc = (globalThis as { gc?: () => void }).gc;

const serviceFile = serviceYaml;

const filePath = (i: number): string => `mesh/ns-${i % NAMESPACES}/svc-${i}.yaml`;
const now = (): bigint => process.hrtime.bigint();
const msSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const stats = (xs: number[]): string => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}, n=${xs.length})`;
const mb = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MB`;
const heapUsed = (): number => {
  gc?.();
  return process.memoryUsage().heapUsed;
};

/** The mesh as the file source hands it over: every file with its sha256. */
function meshFiles(): SourceFile[] {
  const files: SourceFile[] = [];
  for (let i = 0; i < N; i++) {
    const text = serviceFile(i, 80);
    files.push({ path: filePath(i), text, hash: hashText(text) });
  }
  return files;
}

/** The i-th change: service `k` gets new split weights (never the same input twice in a row). */
function changeOne(files: SourceFile[], iteration: number): { files: SourceFile[]; k: number } {
  const k = (iteration * 997) % N;
  const text = serviceFile(k, 79 - (iteration % 50));
  const out = files.slice();
  out[k] = { path: filePath(k), text, hash: hashText(text) };
  return { files: out, k };
}

// ---------------------------------------------------------------- the store, in memory
const heapBase = heapUsed();
let files = meshFiles();
const heapWithTexts = heapUsed();

let compileMs = 0;
let cacheStats: CompileCacheStats | null = null;
const store = new SnapshotStore({
  proxy: PROXY,
  compileOptions: { domain: DOMAIN },
  // The store's compiler seam, to see the compile share inside the real apply.
  compile: (config, registry, proxy, opts, cache) => {
    const t = now();
    const s = compileSnapshot(config, registry, proxy, opts, cache);
    compileMs = msSince(t);
    cacheStats = cache ? { ...cache.stats } : null;
    return s;
  },
});
let t = now();
const first = store.apply(files);
const firstMs = msSince(t);
if (first.status !== 'applied') throw new Error(`the generated mesh was not applied: ${JSON.stringify(first.status === 'rejected' ? first.rejected.diagnostics.slice(0, 3) : first)}`);
const resources = first.state.resourceCount;
const heapAfterCompile = heapUsed();
const firstCompileMs = compileMs;

const applyMs: number[] = [];
const compileInApply: number[] = [];
for (let i = 1; i <= ITERATIONS; i++) {
  const next = changeOne(files, i);
  t = now();
  const r = store.apply(next.files);
  applyMs.push(msSince(t));
  compileInApply.push(compileMs);
  if (r.status !== 'applied' || r.changes.total !== 1) throw new Error(`change ${i} was not applied as one change: ${r.status}`);
  files = next.files;
}
t = now();
const same = store.apply(files);
const unchangedMs = msSince(t);
if (same.status !== 'unchanged') throw new Error('re-applying the same input was not a no-op');

// ---------------------------------------------------------------- where the time goes
// The store's build, stage by stage, on the same kind of input (one file changed).
const stages = { 'hash + fingerprint': [] as number[], 'parse (YAML -> resources)': [] as number[], validate: [] as number[], registry: [] as number[], compile: [] as number[], 'change diff': [] as number[], freeze: [] as number[] };
function parseAll(input: readonly SourceFile[]): RawResource[] {
  const raws: RawResource[] = [];
  for (const f of input) raws.push(...loadText(f.text, f.path, { namespace: PROXY.namespace }, raws.length).resources);
  return raws;
}
let prevFps = fingerprints(validateResources(parseAll(files), { domain: DOMAIN }).valid);
for (let i = 1; i <= STAGE_ITERATIONS; i++) {
  const next = changeOne(files, ITERATIONS + i);
  let s = now();
  fingerprintOf(next.files.map((f) => ({ ...f, hash: f.hash ?? hashText(f.text) })), []);
  stages['hash + fingerprint'].push(msSince(s));
  s = now();
  const raws = parseAll(next.files);
  stages['parse (YAML -> resources)'].push(msSince(s));
  s = now();
  const v = validateResources(raws, { domain: DOMAIN });
  stages.validate.push(msSince(s));
  s = now();
  const registry = buildRegistry(v.config, { domain: DOMAIN });
  stages.registry.push(msSince(s));
  s = now();
  compileSnapshot(v.config, registry, PROXY, { domain: DOMAIN });
  stages.compile.push(msSince(s));
  s = now();
  const fps = fingerprints(v.valid);
  diffFingerprints(prevFps, fps);
  prevFps = fps;
  stages['change diff'].push(msSince(s));
  s = now();
  deepFreeze(v.config);
  deepFreeze(registry);
  stages.freeze.push(msSince(s));
}

console.log(`Isthmus reload benchmark: ${N} services (${resources} resources in ${N} files), change = one VirtualService's split weights`);
console.log(`  first apply (cold)          ${firstMs.toFixed(0)} ms (compile ${firstCompileMs.toFixed(0)} ms)`);
console.log(`  SnapshotStore.apply, 1 VS   ${stats(applyMs)}   goal < 100 ms: ${median(applyMs) < 100 ? 'MET' : 'NOT MET'}`);
console.log(`    of which compile (seam)   ${stats(compileInApply)}`);
if (cacheStats) {
  const c: CompileCacheStats = cacheStats;
  console.log(
    `    compile cache (last apply) registry/scope/clusters ${c.scopeReused ? 're-used' : 'rebuilt'}/${c.clustersReused ? 're-used' : 'rebuilt'}, ` +
      `prepared VS ${c.preparedHits} re-used + ${c.preparedMisses} new, VS routes ${c.routeHits} re-used + ${c.routeMisses} translated`,
  );
}
console.log(`  same input again            ${unchangedMs.toFixed(1)} ms (fingerprint only, status unchanged)`);
console.log('  where the time goes without the store caches (each stage timed alone, cold, same input shape; medians):');
let sum = 0;
for (const [name, xs] of Object.entries(stages)) {
  sum += median(xs);
  console.log(`    ${name.padEnd(28)}${median(xs).toFixed(1).padStart(8)} ms`);
}
console.log(`    ${'sum'.padEnd(28)}${sum.toFixed(1).padStart(8)} ms   (apply end-to-end median ${median(applyMs).toFixed(1)} ms)`);
const retained = heapAfterCompile - heapWithTexts;
console.log(`  memory${gc ? '' : ' (run with --expose-gc for exact figures: no GC before measuring)'}`);
console.log(`    heap retained by the serving state   ${mb(retained)}  = ${mb((retained / N) * 1000)} per 1,000 services`);
console.log(`    process heap after compile           ${mb(heapAfterCompile)}  = ${mb((heapAfterCompile / N) * 1000)} per 1,000 services (Node baseline ${mb(heapBase)}, config texts ${mb(heapWithTexts - heapBase)} included)`);

// Which stage's output holds the memory: keep each stage's result alive, GC, and look at the
// heap growth (the store keeps all of these in its state, plus change fingerprints).
if (gc) {
  const h0 = heapUsed();
  const raws = parseAll(files);
  const h1 = heapUsed();
  const v = validateResources(raws, { domain: DOMAIN });
  const h2 = heapUsed();
  const registry = buildRegistry(v.config, { domain: DOMAIN });
  const h3 = heapUsed();
  const snapshot = compileSnapshot(v.config, registry, PROXY, { domain: DOMAIN });
  const h4 = heapUsed();
  const fps = fingerprints(v.valid);
  const h5 = heapUsed();
  const per1k = (bytes: number): string => `${mb((bytes / N) * 1000).padStart(9)} per 1,000 services`;
  console.log('    retained heap by stage output (what a ConfigState holds):');
  console.log(`      parsed resources (raw JSON + source locators)  ${per1k(h1 - h0)}`);
  console.log(`      validated config (typed resources)             ${per1k(h2 - h1)}`);
  console.log(`      registry                                       ${per1k(h3 - h2)}`);
  console.log(`      compiled snapshot                              ${per1k(h4 - h3)}`);
  console.log(`      change fingerprints                            ${per1k(h5 - h4)}`);
  // Keep them reachable until measured.
  if ([raws, v, registry, snapshot, fps].some((x) => x === undefined)) console.log('unreachable');
}

// ---------------------------------------------------------------- the whole reload path
// Real files, the real watcher: rename a rewritten file into place and wait for the swap.
const dir = mkdtempSync(join(tmpdir(), 'isthmus-reload-'));
try {
  for (let i = 0; i < N; i++) {
    mkdirSync(join(dir, `mesh/ns-${i % NAMESPACES}`), { recursive: true });
    writeFileSync(join(dir, filePath(i)), serviceFile(i, 80));
  }
  const controller = new ConfigController({
    paths: [join(dir, 'mesh')],
    proxy: PROXY,
    compileOptions: { domain: DOMAIN },
    logger: { info: () => {}, warn: () => {}, error: (m) => console.error(m) },
  });
  t = now();
  if (controller.start().status !== 'applied') throw new Error('controller did not apply the mesh');
  const startMs = msSince(t);
  const watchMs: number[] = [];
  for (let i = 1; i <= WATCH_ITERATIONS; i++) {
    const k = (i * 389) % N;
    const swapped = new Promise<void>((resolve) => {
      const off = controller.store.onChange(() => {
        off();
        resolve();
      });
    });
    const tmp = join(dir, `.tmp-${i}`);
    writeFileSync(tmp, serviceFile(k, 60 - i));
    t = now();
    renameSync(tmp, join(dir, filePath(k)));
    await swapped;
    watchMs.push(msSince(t));
  }
  controller.close();
  console.log(`  through ConfigController on ${N} real files (fs.watch, 100 ms default debounce, rescan reads + hashes every file):`);
  console.log(`    initial load + apply       ${startMs.toFixed(0)} ms`);
  console.log(`    rename -> serving           ${stats(watchMs)}`);
  // Timings are only as good as the machine was quiet: a load average above the core count
  // means other work competed with this benchmark.
  const [one, five] = loadavg();
  console.log(`  load average at the end: ${one.toFixed(2)} (1 min), ${five.toFixed(2)} (5 min) on ${cpus().length} cores${five > 1.2 ? '  <- the machine was busy: figures are inflated' : ''}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
