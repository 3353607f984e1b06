/**
 * Observability hot-path benchmark (not part of `npm test`): nanoseconds per
 * `MeshMetrics.recordRequest` and per access-log entry, plus a prom-client-children baseline
 * (what the naive implementation would cost) and the scrape cost.
 *
 *   node --import tsx bench/observability.ts
 *   N=2000000 node --import tsx bench/observability.ts
 */
import { Writable } from 'node:stream';
import { Counter, Histogram, Registry } from 'prom-client';
import { ENVOY_DEFAULT_BUCKETS, ISTIO_HTTP_LABELS, MeshMetrics, type RequestRecord } from '../src/observability/metrics.js';
import { AccessLogger, type AccessLogEntry } from '../src/observability/accesslog.js';
import { StartTimeFormatter, formatJson, formatText } from '../src/observability/accesslog-format.js';
import { Flag } from '../src/observability/flags.js';

const N = Number(process.env.N ?? 1_000_000);
const ROUNDS = 5;

/** Median ns/op of `fn(i)` over ROUNDS rounds of `n` calls, after a warm-up round. */
function bench(name: string, n: number, fn: (i: number) => void): number {
  for (let i = 0; i < Math.min(n, 100_000); i++) fn(i);
  const per: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    per.push(Number(process.hrtime.bigint() - t0) / n);
  }
  per.sort((a, b) => a - b);
  const med = per[Math.floor(per.length / 2)];
  console.log(`${name.padEnd(58)} ${med.toFixed(1).padStart(9)} ns/op`);
  return med;
}

const source = { namespace: 'default', labels: { app: 'productpage', version: 'v1' } };
const dests = ['reviews', 'ratings', 'details', 'productpage'].map((s) =>
  Object.freeze({ service: `${s}.default.svc.cluster.local`, app: s, version: 'v1', workload: `${s}-v1`, workloadNamespace: 'default' }),
);

console.log(`N=${N} per round, median of ${ROUNDS} rounds, node ${process.version}\n`);
console.log('-- metrics --');
{
  const m = new MeshMetrics({ source });
  const h = m.destination(dests[0]);
  const rec: RequestRecord = { destination: h, responseCode: 200, durationMs: 12, requestBytes: 300, responseBytes: 4000 };
  bench('recordRequest (handle, one series)', N, () => m.recordRequest(rec));

  const recObj: RequestRecord = { destination: dests[0], responseCode: 200, durationMs: 12, requestBytes: 300, responseBytes: 4000 };
  bench('recordRequest (stable plain object, WeakMap hit)', N, () => m.recordRequest(recObj));

  const codes = [200, 200, 200, 200, 201, 404, 503, 200];
  const flags = [0, 0, 0, 0, 0, Flag.NR, Flag.UF | Flag.URX, 0];
  const handles = dests.map((d) => m.destination(d));
  bench('recordRequest (4 dests x 5 code/flag tuples, fresh record)', N, (i) =>
    m.recordRequest({
      destination: handles[i & 3],
      responseCode: codes[i & 7],
      flags: flags[i & 7],
      durationMs: (i % 997) * 0.7,
      requestBytes: 200,
      responseBytes: i % 50_000,
    }),
  );
  const c = m.cluster('outbound|9080||reviews.default.svc.cluster.local');
  bench('ClusterStats: rq_total++ / active++ / active--', N, () => {
    c.upstreamRqTotal++;
    c.upstreamRqActive++;
    c.upstreamRqActive--;
  });
}
{
  // Baseline: prom-client Counter + 3 Histograms through cached labels() children.
  const reg = new Registry();
  const names = [...ISTIO_HTTP_LABELS];
  const counter = new Counter({ name: 'istio_requests_total', help: 'x', labelNames: names, registers: [reg] });
  const hist = ['istio_request_duration_milliseconds', 'istio_request_bytes', 'istio_response_bytes'].map(
    (name) => new Histogram({ name, help: 'x', labelNames: names, buckets: [...ENVOY_DEFAULT_BUCKETS], registers: [reg] }),
  );
  const values = Object.fromEntries(names.map((n) => [n, n === 'reporter' ? 'source' : 'unknown']));
  const cc = counter.labels(values);
  const hc = hist.map((h) => h.labels(values));
  bench('baseline: prom-client children (inc + 3 observe)', Math.min(N, 200_000), () => {
    cc.inc();
    hc[0].observe(12);
    hc[1].observe(300);
    hc[2].observe(4000);
  });
}
{
  const m = new MeshMetrics({ source });
  for (let d = 0; d < 100; d++) {
    for (const code of [200, 404, 503]) m.recordRequest({ destination: { service: `svc-${d}.ns.svc.cluster.local` }, responseCode: code, durationMs: 5, requestBytes: 1, responseBytes: 1 });
  }
  for (let c = 0; c < 100; c++) m.cluster(`outbound|80||svc-${c}.ns.svc.cluster.local`);
  const t0 = process.hrtime.bigint();
  const rounds = 20;
  let bytes = 0;
  for (let r = 0; r < rounds; r++) bytes = (await m.render()).length;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / rounds;
  console.log(`${'render() 300 HTTP series + 100 clusters'.padEnd(58)} ${ms.toFixed(2).padStart(9)} ms (${(bytes / 1024).toFixed(0)} KiB)`);
  const t1 = process.hrtime.bigint();
  const snap = await m.snapshotForAggregation();
  const t2 = process.hrtime.bigint();
  const ipc = JSON.stringify(snap).length;
  const merged = await MeshMetrics.aggregate([snap, await m.snapshotForAggregation()]);
  const t3 = process.hrtime.bigint();
  console.log(`${'snapshotForAggregation() same registry'.padEnd(58)} ${(Number(t2 - t1) / 1e6).toFixed(2).padStart(9)} ms (${(ipc / 1024).toFixed(0)} KiB as JSON)`);
  console.log(`${'aggregate() of 2 such snapshots (incl. 2nd snapshot)'.padEnd(58)} ${(Number(t3 - t2) / 1e6).toFixed(2).padStart(9)} ms (${(merged.length / 1024).toFixed(0)} KiB)`);
}
{
  // The scrape size that matters for a demo-sized mesh: 6 destinations x 3 outcomes.
  const m = new MeshMetrics({ source });
  for (let d = 0; d < 6; d++) {
    for (const code of [200, 404, 503]) m.recordRequest({ destination: { service: `svc-${d}.ns.svc.cluster.local` }, responseCode: code, durationMs: 5, requestBytes: 1, responseBytes: 1 });
  }
  for (let c = 0; c < 6; c++) m.cluster(`outbound|80||svc-${c}.ns.svc.cluster.local`);
  await m.render();
  const t0 = process.hrtime.bigint();
  const text = await m.render();
  console.log(`${'render() 18 HTTP series + 6 clusters'.padEnd(58)} ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(2).padStart(9)} ms (${(text.length / 1024).toFixed(0)} KiB)`);
}

console.log('\n-- access log --');
const entry: AccessLogEntry = {
  startTime: Date.now(),
  method: 'GET',
  path: '/reviews/0',
  protocol: 'HTTP/1.1',
  responseCode: 200,
  flags: 0,
  responseCodeDetails: 'via_upstream',
  bytesReceived: 0,
  bytesSent: 295,
  durationMs: 12,
  upstreamServiceTime: '11',
  userAgent: 'curl/8.5.0',
  requestId: '84961386-6d84-929d-98bd-c5aee93b5c88',
  authority: 'reviews:9080',
  upstreamHost: '127.0.0.1:18081',
  upstreamCluster: 'outbound|9080|v1|reviews.default.svc.cluster.local',
  upstreamLocalAddress: '127.0.0.1:50000',
  downstreamLocalAddress: '127.0.0.1:15001',
  downstreamRemoteAddress: '127.0.0.1:40000',
  routeName: 'default',
};
{
  const t = new StartTimeFormatter();
  let sink = 0;
  const base = entry.startTime;
  bench('formatText (same second)', N, (i) => {
    entry.startTime = base + (i & 255);
    sink += formatText(entry, t).length;
  });
  bench('formatJson (same second)', N, (i) => {
    entry.startTime = base + (i & 255);
    sink += formatJson(entry, t).length;
  });
  entry.startTime = base;
  if (sink === 42) console.log(sink);
}
for (const format of ['text', 'json'] as const) {
  // A sink that takes bytes and drops them: measures our cost, not the terminal's.
  let bytes = 0;
  const out = new Writable({
    decodeStrings: false,
    write(chunk: string, _e, cb) {
      bytes += chunk.length;
      cb();
    },
  });
  const log = new AccessLogger({ out, format });
  const n = Math.min(N, 1_000_000);
  // Include the batched writes: log n lines, then let pending flushes run.
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) log.log(entry);
  await log.close();
  const ns = Number(process.hrtime.bigint() - t0) / n;
  console.log(`${`AccessLogger.log ${format} (incl. batched writes)`.padEnd(58)} ${ns.toFixed(1).padStart(9)} ns/op  (${(bytes / n).toFixed(0)} B/line, dropped ${log.dropped})`);
}
