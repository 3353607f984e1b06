// CPU time and memory of a process tree, from /proc. The tree matters: nginx and HAProxy
// (master + worker) and `isthmus run --concurrency N` (primary + workers) are several
// processes, and the cost of all of them is the cost of the proxy.
import { readFileSync, readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * utime+stime (clock ticks, all threads incl. exited ones), stime alone (kernel: syscalls and
 * the loopback network stack they run), parent pid and command name.
 */
function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and ')': fields are counted after the last ')'.
    const close = s.lastIndexOf(')');
    const f = s.slice(close + 2).split(' ');
    return { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), sysTicks: Number(f[12]), comm: s.slice(s.indexOf('(') + 1, close) };
  } catch {
    return null;
  }
}

/** VmHWM (peak resident set) and VmRSS in kB. */
function memory(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0);
    return { hwmKb: kb('VmHWM'), rssKb: kb('VmRSS') };
  } catch {
    return { hwmKb: 0, rssKb: 0 };
  }
}

/** Every process now: pid -> {ppid, ticks, comm}. */
function allProcesses() {
  const out = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = stat(name);
    if (st) out.set(Number(name), st);
  }
  return out;
}

/** The pid and all its descendants alive now. */
export function processTree(root, all = allProcesses()) {
  const children = new Map();
  for (const [pid, st] of all) {
    if (!children.has(st.ppid)) children.set(st.ppid, []);
    children.get(st.ppid).push(pid);
  }
  const out = [];
  const todo = [Number(root)];
  while (todo.length > 0) {
    const p = todo.pop();
    out.push(p);
    todo.push(...(children.get(p) ?? []));
  }
  return out;
}

/**
 * Sum over the tree: CPU ticks, peak RSS, current RSS. Peak RSS is summed per process, an
 * upper bound of the tree's simultaneous peak (the processes need not peak together).
 */
export function treeSnapshot(root, all = allProcesses()) {
  const snap = { ticks: 0, sysTicks: 0, hwmKb: 0, rssKb: 0, pids: [] };
  for (const pid of processTree(root, all)) {
    const st = all.get(pid);
    if (!st) continue;
    const m = memory(pid);
    snap.ticks += st.ticks;
    snap.sysTicks += st.sysTicks;
    snap.hwmKb += m.hwmKb;
    snap.rssKb += m.rssKb;
    snap.pids.push(pid);
  }
  return snap;
}

/** Busy and total jiffies per CPU from /proc/stat (busy = all but idle and iowait). */
function cpuTimes() {
  const out = {};
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2].split(/\s+/).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    // `task` is what processes are charged for (user+nice+system): irq/softirq time is
    // accounted apart from tasks, so task time minus our processes' ticks is someone else's.
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    out[m[1]] = { busy: total - v[3] - v[4], task: v[0] + v[1] + v[2], total, steal: v[7] };
  }
  return out;
}

/**
 * Everything one measurement boundary needs: the proxy's and the upstream's trees, per-CPU
 * busy time, and every process's CPU ticks (to spot load that is not ours, e.g. a test run
 * on the same machine).
 */
export function systemSnapshot(sutPid, upstreamPid) {
  const all = allProcesses();
  return {
    self: process.pid,
    sut: sutPid ? treeSnapshot(sutPid, all) : null,
    upstream: upstreamPid ? treeSnapshot(upstreamPid, all) : null,
    cpus: cpuTimes(),
    procs: Object.fromEntries([...all].map(([pid, st]) => [pid, [st.ticks, st.comm]])),
  };
}

/**
 * CPU used between two system snapshots by processes that are neither the proxy, the
 * upstream nor the load generator: {ticks, top: [[comm, ticks]...]}.
 */
export function foreignCpu(before, after, loadgenNames = ['wrk', 'h2load']) {
  const ours = new Set([...(after.sut?.pids ?? []), ...(after.upstream?.pids ?? []), ...(before.sut?.pids ?? []), ...(before.upstream?.pids ?? []), before.self, after.self]);
  const byName = new Map();
  let ticks = 0;
  for (const [pid, [t, comm]] of Object.entries(after.procs)) {
    if (ours.has(Number(pid)) || loadgenNames.includes(comm)) continue;
    const d = t - (before.procs[pid]?.[0] ?? 0);
    if (d <= 0) continue;
    ticks += d;
    byName.set(comm, (byName.get(comm) ?? 0) + d);
  }
  return { ticks, top: [...byName].sort((a, b) => b[1] - a[1]).slice(0, 3) };
}

/** Fraction of all CPUs busy (any process, kernel included) over the next `ms`. */
export async function machineBusy(ms) {
  const sum = (c) => Object.values(c).reduce((a, x) => ({ busy: a.busy + x.busy, total: a.total + x.total }), { busy: 0, total: 0 });
  const a = sum(cpuTimes());
  await sleep(ms);
  const b = sum(cpuTimes());
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
}
