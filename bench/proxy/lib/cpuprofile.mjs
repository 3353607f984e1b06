// Summary of V8 .cpuprofile files (node --cpu-prof): self time per function and per area
// (Isthmus module folder, Node internal module, npm package, GC), so "where does the time
// go" can be answered without opening DevTools.
import { readFileSync } from 'node:fs';

/**
 * Self time in microseconds per profile node id (a sample lasts until the next one).
 * Samples in the first `skipUs` of the profile (start-up, warm-up) are left out.
 */
function selfTimes(profile, skipUs) {
  const self = new Map();
  const { samples = [], timeDeltas = [] } = profile;
  const mean = samples.length > 1 ? (profile.endTime - profile.startTime) / samples.length : 0;
  let at = 0;
  for (let i = 0; i < samples.length; i++) {
    at += timeDeltas[i] ?? 0;
    if (at < skipUs) continue;
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : mean;
    self.set(samples[i], (self.get(samples[i]) ?? 0) + Math.max(0, dt));
  }
  return self;
}

/** Where a function lives, coarse enough to sum over. */
export function areaOf(callFrame) {
  const { url, functionName } = callFrame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const dist = /\/dist\/(.+)\/[^/]+\.js$/.exec(url);
  if (dist) return `isthmus ${dist[1]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node ').replace(/\/.*$/, '');
  return url;
}

const shortUrl = (url) => url.replace(/^file:\/\/.*?\/dist\//, 'dist/').replace(/^file:\/\/.*?\/node_modules\//, '');

/** Reads profiles and sums self time by function and by area. Times in ms. */
export function summarise(files, skipMs = 0) {
  const byFn = new Map();
  const byArea = new Map();
  const nativeByCaller = new Map();
  let total = 0;
  let idle = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8'));
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
    for (const [id, us] of selfTimes(profile, skipMs * 1000)) {
      const cf = nodes.get(id).callFrame;
      total += us;
      if (cf.functionName === '(idle)') {
        idle += us;
        continue;
      }
      const key = `${cf.functionName || '(anonymous)'}  ${cf.url ? `${shortUrl(cf.url)}:${cf.lineNumber + 1}` : ''}`.trim();
      byFn.set(key, (byFn.get(key) ?? 0) + us);
      const area = areaOf(cf);
      byArea.set(area, (byArea.get(area) ?? 0) + us);
      if (!cf.url && !cf.functionName.startsWith('(')) {
        // A native function (syscall wrappers like writev): which JS code called it.
        let p = parent.get(id);
        while (p && !p.callFrame.url) p = parent.get(p.id);
        const caller = p ? `${p.callFrame.functionName || '(anonymous)'}  ${shortUrl(p.callFrame.url)}:${p.callFrame.lineNumber + 1}` : '(root)';
        const k = `${cf.functionName} <- ${caller}`;
        nativeByCaller.set(k, (nativeByCaller.get(k) ?? 0) + us);
      }
    }
  }
  const busy = total - idle;
  const rows = (m) => [...m].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, ms: us / 1000, pct: busy > 0 ? (100 * us) / busy : 0 }));
  return { totalMs: total / 1000, idleMs: idle / 1000, busyMs: busy / 1000, functions: rows(byFn), areas: rows(byArea), nativeCallers: rows(nativeByCaller) };
}

export function formatSummary(s, top = 25) {
  const out = [`profiled ${s.totalMs.toFixed(0)} ms, busy ${s.busyMs.toFixed(0)} ms (idle ${s.idleMs.toFixed(0)} ms); percentages are of busy time`, '', `top ${top} functions by self time:`];
  for (const f of s.functions.slice(0, top)) out.push(`${f.pct.toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.name}`);
  out.push('', 'self time by area:');
  for (const a of s.areas.slice(0, top)) out.push(`${a.pct.toFixed(1).padStart(5)}%  ${a.ms.toFixed(0).padStart(6)} ms  ${a.name}`);
  out.push('', 'native functions by JS caller (top 10):');
  for (const a of s.nativeCallers.slice(0, 10)) out.push(`${a.pct.toFixed(1).padStart(5)}%  ${a.ms.toFixed(0).padStart(6)} ms  ${a.name}`);
  return out;
}
