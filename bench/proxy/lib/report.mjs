// Aggregation (median across runs), the one results table, and the issue's goals checked
// against the measured medians.

/** Display order of targets and scenarios. */
export const TARGET_ORDER = ['direct', 'haproxy', 'nginx', 'isthmus', 'isthmus-catchall', 'isthmus-1k', 'isthmus-c2', 'undici', 'node-http-proxy', 'node-tcp'];
export const SCENARIO_ORDER = ['h1-sat', 'h1-rate', 'h2-sat', 'tcp'];

const NUMERIC = ['rps', 'requests', 'p50', 'p99', 'proxyCpuMsPer1k', 'proxyPeakRssMb', 'proxyCpuUtil', 'proxySysShare', 'upstreamCpuMsPer1k', 'foreignCpuPct', 'sutCoreForeignPct', 'stealPct', 'wallSec'];

/** Median of the finite numbers in xs, or null. */
export function median(xs) {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return null;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const rank = (order, x) => (order.includes(x) ? order.indexOf(x) : order.length);

/**
 * One row per (scenario, target): medians over the runs' measurements, errors summed.
 * A pair with no successful measurement keeps the status (`n/a`, `failed`) and note of its first row.
 */
export function aggregate(rows) {
  const groups = new Map();
  for (const r of rows) {
    const key = `${r.scenario}\0${r.target}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  const out = [];
  for (const rs of groups.values()) {
    const ok = rs.filter((r) => r.status === 'ok');
    const base = { scenario: rs[0].scenario, target: rs[0].target, runs: ok.length };
    if (ok.length === 0) {
      out.push({ ...base, status: rs[0].status, note: rs[0].note ?? '' });
      continue;
    }
    const agg = { ...base, status: 'ok', errors: ok.reduce((a, r) => a + (r.errors ?? 0), 0), noisyRuns: ok.filter((r) => r.noisy).length };
    for (const k of NUMERIC) agg[k] = median(ok.map((r) => r[k]));
    out.push(agg);
  }
  return out.sort((a, b) => rank(SCENARIO_ORDER, a.scenario) - rank(SCENARIO_ORDER, b.scenario) || rank(TARGET_ORDER, a.target) - rank(TARGET_ORDER, b.target));
}

const find = (agg, scenario, target) => agg.find((r) => r.scenario === scenario && r.target === target && r.status === 'ok');
const ratio = (a, b) => (a != null && b != null && b !== 0 ? a / b : null);

/** Adds the ratio columns (ratio of medians) to each aggregated row. */
export function withRatios(agg) {
  return agg.map((r) => {
    if (r.status !== 'ok') return r;
    const hap = find(agg, r.scenario, 'haproxy');
    const dir = find(agg, r.scenario, 'direct');
    return {
      ...r,
      rpsVsHaproxy: ratio(r.rps, hap?.rps),
      rpsVsDirect: ratio(r.rps, dir?.rps),
      cpuVsHaproxy: ratio(r.proxyCpuMsPer1k, hap?.proxyCpuMsPer1k),
      addedP99Ms: r.scenario === 'h1-rate' && dir && r.p99 != null && dir.p99 != null ? r.p99 - dir.p99 : null,
    };
  });
}

const fmt = (v, digits = 0) => (v === null || v === undefined || Number.isNaN(v) ? '-' : Number(v).toFixed(digits));

/** The one table, as lines of text. An n/a row prints its note in place of the numbers. */
export function formatTable(rows) {
  const header = ['target', 'scenario', 'req/s', 'p50 ms', 'p99 ms', '+p99 vs direct', 'CPU-ms/1k req', 'kernel %', 'CPU x HAProxy', 'peak RSS MB', 'x HAProxy', 'x direct', 'errors'];
  const cells = (r) => [r.target, r.scenario, fmt(r.rps), fmt(r.p50, 3), fmt(r.p99, 3), fmt(r.addedP99Ms, 3), fmt(r.proxyCpuMsPer1k, 1), r.proxySysShare == null ? '-' : fmt(100 * r.proxySysShare, 0), fmt(r.cpuVsHaproxy, 2), fmt(r.proxyPeakRssMb, 1), fmt(r.rpsVsHaproxy, 2), fmt(r.rpsVsDirect, 2), String(r.errors)];
  const ok = rows.filter((r) => r.status === 'ok').map(cells);
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i === 0 ? 'target' : 'scenario']?.length ?? 0).filter(() => i < 2), ...ok.map((c) => c[i].length)));
  const line = (c) => c.map((x, i) => (i < 2 ? x.padEnd(width[i]) : x.padStart(width[i]))).join('  ');
  const out = [line(header), width.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows) {
    if (r.status === 'ok') out.push(line(cells(r)));
    else out.push(`${r.target.padEnd(width[0])}  ${r.scenario.padEnd(width[1])}  ${r.status}${r.note ? ` (${r.note})` : ''}`);
  }
  return out;
}

/**
 * The Performance issue's goals, checked against the medians. Each: {goal, want, floor,
 * measured, status} with status met | floor only | missed | not met | not measured | info.
 */
export function checkGoals(agg) {
  const goals = [];
  const judge = (value, goal, floor, higherIsBetter) => {
    if (value == null) return 'not measured';
    const ok = (limit) => (higherIsBetter ? value >= limit : value <= limit);
    if (ok(goal)) return 'met';
    if (floor != null && ok(floor)) return 'floor only';
    return 'missed';
  };
  const add = (goal, want, floor, measured, value, gv, fv, higher) =>
    goals.push({ goal, want, floor, measured, value, status: judge(value, gv, fv, higher) });

  const h1 = find(agg, 'h1-sat', 'isthmus');
  const h1hap = find(agg, 'h1-sat', 'haproxy');
  const r1 = ratio(h1?.rps, h1hap?.rps);
  add('HTTP/1.1 req/s, one worker, full features (h1-sat)', '>= 0.5x HAProxy', '>= 0.35x', r1 == null ? '-' : `${fmt(h1.rps)} vs ${fmt(h1hap.rps)} = ${fmt(r1, 2)}x`, r1, 0.5, 0.35, true);

  const c1 = ratio(h1?.proxyCpuMsPer1k, h1hap?.proxyCpuMsPer1k);
  add('CPU per request (h1-sat)', '<= 2.5x HAProxy', '<= 3.5x', c1 == null ? '-' : `${fmt(h1.proxyCpuMsPer1k, 1)} vs ${fmt(h1hap.proxyCpuMsPer1k, 1)} CPU-ms/1k = ${fmt(c1, 2)}x`, c1, 2.5, 3.5, false);

  const rate = find(agg, 'h1-rate', 'isthmus');
  const rateDirect = find(agg, 'h1-rate', 'direct');
  const added = rate && rateDirect && rate.p99 != null && rateDirect.p99 != null ? rate.p99 - rateDirect.p99 : null;
  add('added p99 at 2,000 req/s (h1-rate)', '<= 1.0 ms over direct', '<= 2 ms', added == null ? '-' : `${fmt(rate.p99, 3)} - ${fmt(rateDirect.p99, 3)} = +${fmt(added, 3)} ms`, added, 1.0, 2.0, false);

  const h2 = find(agg, 'h2-sat', 'isthmus');
  const h2hap = find(agg, 'h2-sat', 'haproxy');
  const r2 = ratio(h2?.rps, h2hap?.rps);
  add('HTTP/2 req/s (h2-sat)', '>= 0.4x HAProxy', '>= 0.25x', r2 == null ? '-' : `${fmt(h2.rps)} vs ${fmt(h2hap.rps)} = ${fmt(r2, 2)}x`, r2, 0.4, 0.25, true);

  const tcpRow = agg.find((r) => r.scenario === 'tcp' && r.target === 'isthmus');
  if (tcpRow && tcpRow.status !== 'ok') goals.push({ goal: 'TCP (tcp)', want: '>= 0.7x HAProxy TCP', floor: null, measured: `${tcpRow.status} (${tcpRow.note})`, value: null, status: 'not met' });
  else {
    const tcpHap = find(agg, 'tcp', 'haproxy');
    const rt = ratio(tcpRow?.rps, tcpHap?.rps);
    add('TCP (tcp)', '>= 0.7x HAProxy TCP', null, rt == null ? '-' : `${fmt(rt, 2)}x`, rt, 0.7, null, true);
  }

  const rich = find(agg, 'h1-sat', 'isthmus');
  const lean = find(agg, 'h1-sat', 'isthmus-catchall');
  const extra = rich && lean ? ratio(rich.proxyCpuMsPer1k, lean.proxyCpuMsPer1k) : null;
  add('realistic route table vs catch-all, CPU per request (h1-sat)', '<= +15%', null, extra == null ? '-' : `${fmt(rich.proxyCpuMsPer1k, 1)} vs ${fmt(lean.proxyCpuMsPer1k, 1)} CPU-ms/1k = +${fmt((extra - 1) * 100, 1)}%`, extra == null ? null : (extra - 1) * 100, 15, null, false);

  const big = find(agg, 'h1-sat', 'isthmus-1k');
  add('peak RSS per worker under load, 1,000-service config (h1-sat)', '<= 80 MB', '<= 128 MB', big ? `${fmt(big.proxyPeakRssMb, 1)} MB` : '-', big?.proxyPeakRssMb ?? null, 80, 128, false);

  const c2 = find(agg, 'h1-sat', 'isthmus-c2');
  const sc = ratio(c2?.rps, h1?.rps);
  goals.push({ goal: 'scaling: --concurrency 2 vs 1 (h1-sat, 2 cores shared with wrk)', want: 'document', floor: null, measured: sc == null ? '-' : `${fmt(c2.rps)} vs ${fmt(h1.rps)} req/s = ${fmt(sc, 2)}x`, value: sc, status: sc == null ? 'not measured' : 'info' });
  return goals;
}

export function formatGoals(goals) {
  const w = Math.max(...goals.map((g) => g.goal.length));
  return goals.map((g) => `${g.goal.padEnd(w)}  want ${g.want}${g.floor ? ` (floor ${g.floor})` : ''}: ${g.measured}  -> ${g.status.toUpperCase()}`);
}

/** Rows kept although something else used the machine during the measurement. */
export function interferenceNotes(agg) {
  return agg
    .filter((r) => r.status === 'ok' && r.noisyRuns > 0)
    .map((r) => `${r.target}/${r.scenario}: ${r.noisyRuns} of ${r.runs} run(s) measured while other processes ran (median: ${fmt(r.foreignCpuPct, 0)}% of a core in other processes, ${fmt(r.sutCoreForeignPct, 0)}% on the proxy's core, steal ${fmt(r.stealPct, 1)}%)`);
}
