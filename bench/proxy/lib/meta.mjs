// What a result file needs to be read later: the machine, tool versions, knobs, pinning.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** First line of a command's version output (some tools print it on stderr). */
function version(command) {
  try {
    return execFileSync('sh', ['-c', `${command} 2>&1 || true`], { encoding: 'utf8' }).trim().split('\n')[0] || null;
  } catch {
    return null;
  }
}

/** @param {Record<string,string|undefined>} env  @param {string} root repo root */
export function collectMeta(env, root) {
  const knobs = {};
  for (const k of ['RUNS', 'DURATION', 'WARMUP', 'CONNS', 'RATE', 'RATE_CONNS', 'RATE_DURATION', 'H2_CONNS', 'H2_STREAMS', 'BODY_BYTES', 'REALISTIC_SERVICES', 'BIG_SERVICES', 'SCENARIOS', 'TARGETS']) knobs[k] = env[k];
  let isthmusVersion = null;
  try {
    isthmusVersion = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')).version;
  } catch {
    /* not fatal */
  }
  return {
    runId: env.RUN_ID,
    startedAt: new Date().toISOString(),
    machine: {
      cpu: os.cpus()[0]?.model ?? null,
      cores: os.cpus().length,
      memoryGb: Math.round(os.totalmem() / 2 ** 30),
      kernel: `${os.type()} ${os.release()}`,
    },
    versions: {
      node: process.version,
      isthmus: isthmusVersion,
      nginx: version('nginx -v'),
      haproxy: version('haproxy -v'),
      wrk: version('wrk -v'),
      h2load: version('h2load --version'),
    },
    knobs,
    pinning: { loadgen: env.LOADGEN_CPU, sut: env.SUT_CPU, note: 'load generator alone on one core; proxy and upstream share the other (isthmus-c2 may use both)' },
    hostHeader: env.TARGET_HOST,
  };
}
