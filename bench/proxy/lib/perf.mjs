// Summary of `perf script` output (perf record -e cpu-clock -g): unlike the V8 profile,
// perf samples only while the process is on the CPU, and it sees the kernel, so it answers
// "how much of the proxy's CPU is the kernel, and in which syscalls".

const KERNEL_PATHS = [
  [/\b(do_writev|ksys_write|__sys_sendto|__sys_sendmsg)\b/, 'send: write/writev (incl. the loopback receive it runs)'],
  [/\b(ksys_read|do_readv|__sys_recvfrom|__sys_recvmsg)\b/, 'receive: read'],
  [/\bdo_epoll_wait\b/, 'epoll_wait'],
  [/\b(__x64_sys_futex|do_futex)\b/, 'futex'],
  [/\b(exc_page_fault|asm_exc_page_fault)\b/, 'page faults'],
  [/\b(asm_sysvec_\w+|asm_common_interrupt)\b/, 'interrupts'],
  [/\b(__sys_accept4|__sys_connect|__sys_socket|__x64_sys_\w+)\b/, 'other syscalls'],
];

/** Where a leaf frame's code lives. */
function dsoClass(dso) {
  if (dso === '[kernel.kallsyms]') return 'kernel';
  if (/\/node$/.test(dso)) return 'node binary (V8 runtime/builtins, libuv, llhttp, node C++)';
  if (/perf-\d+\.map$/.test(dso) || dso.startsWith('[JIT]')) return 'JIT-compiled JavaScript';
  if (/libc\.so/.test(dso)) return 'libc';
  return dso || 'unknown';
}

/** @param {string} text perf script output  @returns {{samples, byDso, kernelByPath}} */
export function summarisePerf(text) {
  const byDso = new Map();
  const kernelByPath = new Map();
  let samples = 0;
  for (const block of text.split(/\n\s*\n/)) {
    const frames = block.split('\n').slice(1).filter((l) => /^\s+[0-9a-f]+ /.test(l));
    if (frames.length === 0) continue;
    samples++;
    const dso = /\(([^()]*)\)\s*$/.exec(frames[0])?.[1] ?? '';
    const cls = dsoClass(dso);
    byDso.set(cls, (byDso.get(cls) ?? 0) + 1);
    if (cls !== 'kernel') continue;
    const stack = frames.join('\n');
    const path = KERNEL_PATHS.find(([re]) => re.test(stack))?.[1] ?? 'other kernel';
    kernelByPath.set(path, (kernelByPath.get(path) ?? 0) + 1);
  }
  return { samples, byDso, kernelByPath };
}

export function formatPerf({ samples, byDso, kernelByPath }, requests) {
  const pct = (n) => `${((100 * n) / Math.max(1, samples)).toFixed(1).padStart(5)}%`;
  const out = [`perf: ${samples} on-CPU samples${requests ? ` (${requests} requests)` : ''}; share of the proxy's CPU time by where the sampled code lives:`];
  for (const [k, n] of [...byDso].sort((a, b) => b[1] - a[1])) out.push(`  ${pct(n)}  ${k}`);
  out.push('kernel samples by the syscall they run under (percent of all samples):');
  for (const [k, n] of [...kernelByPath].sort((a, b) => b[1] - a[1])) out.push(`  ${pct(n)}  ${k}`);
  return out;
}
