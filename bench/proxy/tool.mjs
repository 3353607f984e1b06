// Helper CLI for run.sh and profile.sh (bench/proxy). Subcommands:
//   proc <pid>                                  tree CPU ticks / peak RSS as JSON
//   wait-quiet <maxSeconds> <limitPct>          wait until the machine is idle (exit 1 on timeout)
//   cpu-ms <before.json> <after.json>           CPU ms between two `proc` outputs
//   snap <out.json> <proxyPid|-> <upstreamPid>  measurement boundary (trees, CPUs, all processes)
//   gen-config <dir> <realistic|catchall|tcp> <upstreamPort> [services | listenPort for tcp]
//   record <rows.jsonl> key=value...            parse one measurement, append a row
//   na <rows.jsonl> run=.. scenario=.. target=.. note=.. [status=failed]
//   report <rows.jsonl> <meta.json> <out.json>  print the table + goals, write the JSON
//   meta <out.json> <repoRoot>                  machine, versions, knobs (from the environment)
//   host                                        the Host header the load generators send
//   profile-summary [--top N] [--skip-ms MS] <file.cpuprofile>...
//   perf-summary [requests] < perf-script.txt
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { foreignCpu, machineBusy, systemSnapshot, treeSnapshot } from './lib/proc.mjs';
import { parseH2load, parseWrk } from './lib/parse.mjs';
import { TARGET_HOST, generateConfig } from './lib/isthmus-config.mjs';
import { aggregate, checkGoals, formatGoals, formatTable, interferenceNotes, withRatios } from './lib/report.mjs';
import { formatSummary, summarise } from './lib/cpuprofile.mjs';
import { collectMeta } from './lib/meta.mjs';
import { formatPerf, summarisePerf } from './lib/perf.mjs';

const CLK_TCK = Number(process.env.CLK_TCK || 100);

const keyValues = (args) => Object.fromEntries(args.map((a) => [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]));
const readJson = (f) => (f && existsSync(f) ? JSON.parse(readFileSync(f, 'utf8')) : null);
const readRows = (f) => (existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)) : []);

/** CPU ms per 1,000 requests between two tree snapshots. */
function cpuPer1k(before, after, requests) {
  if (!before || !after || !(requests > 0)) return null;
  return (((after.ticks - before.ticks) / CLK_TCK) * 1000 * 1000) / requests;
}

function record(rowsFile, a) {
  const text = existsSync(a.out) ? readFileSync(a.out, 'utf8') : '';
  const r = a.tool === 'wrk' ? parseWrk(text) : parseH2load(text, a.log);
  const before = readJson(a.before);
  const after = readJson(a.after);
  const wallSec = Number(a.wall) || null;
  const busy = {};
  let steal = 0;
  for (const [cpu, x] of Object.entries(after.cpus)) {
    const b = before.cpus[cpu];
    const total = x.total - b.total;
    busy[cpu] = total > 0 ? (x.busy - b.busy) / total : null;
    steal += x.steal - b.steal;
  }
  const foreign = foreignCpu(before, after);
  // On the proxy's core, task time not charged to the proxy or the upstream (a.sutCpu is a
  // single CPU number; skipped when the proxy may run on several).
  let sutCoreForeignPct = null;
  if (/^\d+$/.test(a.sutCpu ?? '') && after.cpus[a.sutCpu] && wallSec) {
    const task = after.cpus[a.sutCpu].task - before.cpus[a.sutCpu].task;
    const ours = (after.sut ? after.sut.ticks - before.sut.ticks : 0) + (after.upstream.ticks - before.upstream.ticks);
    sutCoreForeignPct = (100 * Math.max(0, task - ours)) / CLK_TCK / wallSec;
  }
  const row = {
    run: a.run,
    scenario: a.scenario,
    target: a.target,
    status: r.rps > 0 ? 'ok' : 'failed',
    ...r,
    proxyCpuMsPer1k: cpuPer1k(before.sut, after.sut, r.requests),
    proxyPeakRssMb: after.sut ? after.sut.hwmKb / 1024 : null,
    proxyRssEndMb: after.sut ? after.sut.rssKb / 1024 : null,
    proxySysShare: after.sut && after.sut.ticks > before.sut.ticks ? (after.sut.sysTicks - before.sut.sysTicks) / (after.sut.ticks - before.sut.ticks) : null,
    proxyCpuUtil: after.sut && wallSec ? (after.sut.ticks - before.sut.ticks) / CLK_TCK / wallSec : null,
    upstreamCpuMsPer1k: cpuPer1k(before.upstream, after.upstream, r.requests),
    cpuBusy: busy,
    stealPct: wallSec ? (100 * steal) / CLK_TCK / wallSec : null,
    foreignCpuPct: wallSec ? (100 * foreign.ticks) / CLK_TCK / wallSec : null,
    foreignTop: foreign.top,
    sutCoreForeignPct,
    wallSec,
  };
  if (row.status !== 'ok') row.note = `no throughput parsed, see ${a.out}`;
  if (row.status !== 'ok') process.stderr.write(`WARN: ${a.target}/${a.scenario}: ${row.note}\n`);
  // Someone else's CPU use during the window skews every number: measure again (run.sh
  // retries on exit code 3), and flag the row if it is the last attempt.
  const limit = Number(a.noiseLimit ?? 10);
  const noise = Math.max(row.foreignCpuPct ?? 0, row.sutCoreForeignPct ?? 0);
  row.noisy = noise > limit;
  row.attempt = Number(a.attempt ?? 1);
  if (row.noisy) {
    const who = foreign.top.map(([n, t]) => `${n} ${t}`).join(', ') || 'unattributed';
    process.stderr.write(`WARN: ${a.target}/${a.scenario}: other processes used ${noise.toFixed(0)}% of a core during the measurement (ticks: ${who})\n`);
  }
  if (row.noisy && row.attempt < Number(a.maxAttempts ?? 1)) {
    appendFileSync(`${rowsFile}.discarded`, JSON.stringify(row) + '\n');
    process.exit(3);
  }
  appendFileSync(rowsFile, JSON.stringify(row) + '\n');
}

function report(rowsFile, metaFile, outFile) {
  const rows = readRows(rowsFile);
  const agg = withRatios(aggregate(rows));
  const goals = checkGoals(agg);
  const meta = readJson(metaFile) ?? {};
  console.log(`\nIsthmus proxy benchmark, run ${meta.runId ?? '?'}: median of ${meta.knobs?.RUNS ?? '?'} run(s), ${meta.knobs?.DURATION ?? '?'} s each; loadgen on CPU ${meta.pinning?.loadgen ?? '?'}, proxy + upstream on CPU ${meta.pinning?.sut ?? '?'}`);
  for (const l of formatTable(agg)) console.log(l);
  const rich = agg.find((r) => r.scenario === 'h1-rate' && r.target === 'isthmus' && r.status === 'ok');
  const lean = agg.find((r) => r.scenario === 'h1-rate' && r.target === 'isthmus-catchall' && r.status === 'ok');
  if (rich && lean && rich.proxyCpuMsPer1k && lean.proxyCpuMsPer1k) {
    console.log(`\nfeature cost at 2,000 req/s (h1-rate): realistic ${rich.proxyCpuMsPer1k.toFixed(1)} vs catch-all ${lean.proxyCpuMsPer1k.toFixed(1)} CPU-ms/1k req (+${((rich.proxyCpuMsPer1k / lean.proxyCpuMsPer1k - 1) * 100).toFixed(1)}%)`);
  }
  const noisy = interferenceNotes(agg);
  if (noisy.length > 0) {
    console.log('\nmeasured with interference (treat these rows with care):');
    for (const l of noisy) console.log(`  ${l}`);
  }
  console.log('\nGoals (Performance issue):');
  for (const l of formatGoals(goals)) console.log(`  ${l}`);
  mkdirSync(join(outFile, '..'), { recursive: true });
  writeFileSync(outFile, JSON.stringify({ ...meta, summary: agg, goals, measurements: rows }, null, 2) + '\n');
  console.log(`\nresults written to ${outFile}`);
}

const [cmd, ...args] = process.argv.slice(2);
switch (cmd) {
  case 'proc':
    process.stdout.write(JSON.stringify(treeSnapshot(args[0])) + '\n');
    break;
  case 'gen-config': {
    const [dir, kind, port, services] = args;
    mkdirSync(dir, { recursive: true });
    const n = services ? Number(services) : undefined;
    const files = generateConfig(kind, kind === 'tcp' ? { upstreamPort: Number(port), listenPort: n } : { upstreamPort: Number(port), services: n });
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    break;
  }
  case 'wait-quiet': {
    // Only called while our own processes are idle: any load now is someone else's.
    const [maxSeconds, limit] = args.map(Number);
    const deadline = Date.now() + maxSeconds * 1000;
    let busy = await machineBusy(1000);
    let waited = false;
    while (busy * 100 > limit && Date.now() < deadline) {
      if (!waited) process.stderr.write(`waiting for the machine to be idle (busy ${(busy * 100).toFixed(0)}% of all CPUs; up to ${maxSeconds}s)\n`);
      waited = true;
      busy = await machineBusy(2000);
    }
    if (busy * 100 > limit) {
      process.stderr.write(`WARN: machine still busy (${(busy * 100).toFixed(0)}% of all CPUs); measuring anyway\n`);
      process.exit(1);
    }
    break;
  }
  case 'cpu-ms': {
    const [b, a] = args.map(readJson);
    process.stdout.write(`${Math.round(((a.ticks - b.ticks) * 1000) / CLK_TCK)}\n`);
    break;
  }
  case 'snap':
    writeFileSync(args[0], JSON.stringify(systemSnapshot(args[1] === '-' ? null : args[1], args[2])));
    break;
  case 'record':
    record(args[0], keyValues(args.slice(1)));
    break;
  case 'na':
    appendFileSync(args[0], JSON.stringify({ status: 'n/a', ...keyValues(args.slice(1)) }) + '\n');
    break;
  case 'report':
    report(args[0], args[1], args[2]);
    break;
  case 'meta':
    writeFileSync(args[0], JSON.stringify(collectMeta(process.env, args[1]), null, 2) + '\n');
    break;
  case 'host':
    process.stdout.write(TARGET_HOST + '\n');
    break;
  case 'perf-summary':
    for (const l of formatPerf(summarisePerf(readFileSync(0, 'utf8')), args[0])) console.log(l);
    break;
  case 'profile-summary': {
    let top = 25;
    let skipMs = 0;
    const files = [];
    for (let i = 0; i < args.length; i++) {
      if (args[i] === '--top') top = Number(args[++i]);
      else if (args[i] === '--skip-ms') skipMs = Number(args[++i]);
      else files.push(args[i]);
    }
    for (const l of formatSummary(summarise(files, skipMs), top)) console.log(l);
    break;
  }
  default:
    console.error('usage: tool.mjs proc|gen-config|record|na|report|profile-summary ...');
    process.exit(2);
}
