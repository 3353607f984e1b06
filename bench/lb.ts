/**
 * Load-balancer micro-benchmark (not a test): nanoseconds per `pick` for every algorithm
 * with 3, 20 and 200 hosts, all healthy, plus a few named degraded scenarios.
 *
 *   node --import tsx bench/lb.ts
 *   PICKS=2000000 node --import tsx bench/lb.ts
 *
 * The random generator is a seeded mulberry32 (cheap, like the one a proxy would pass);
 * consistent-hash scenarios use a precomputed key hash per pick (the caller's `hashKey`
 * cost is printed separately).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LbPolicy } from '../src/snapshot/types.js';
import { createPicker, hashKey, type LbHost, type PickContext } from '../src/dataplane/lb/index.js';
import { host, hosts, maglev, policy, ringHash, seeded } from '../src/dataplane/lb/testkit.js';

const PICKS = Number(process.env.PICKS ?? 1_000_000);
const SIZES = [3, 20, 200];

/** Median of 5 timed runs of `PICKS` picks, in ns per pick. */
function measure(list: LbHost[], p: LbPolicy, opts = {}): number {
  const picker = createPicker(p, list, opts);
  const keys = Uint32Array.from({ length: 4096 }, (_, i) => hashKey(`user-${i}`));
  const ctx: PickContext = { rnd: seeded(1), hash: undefined };
  const useHash = p.kind === 'CONSISTENT_HASH';
  let sink = 0;
  const run = (n: number): void => {
    for (let i = 0; i < n; i++) {
      if (useHash) ctx.hash = keys[i & 4095];
      const h = picker.pick(ctx);
      if (h !== null) sink += h.port;
    }
  };
  run(Math.min(PICKS, 200_000)); // let the JIT settle
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    run(PICKS);
    times.push(Number(process.hrtime.bigint() - start) / PICKS);
  }
  if (sink === -1) console.log(sink); // keep the loop observable
  return times.sort((a, b) => a - b)[2];
}

function row(name: string, cells: string[]): void {
  console.log(name.padEnd(34) + cells.map((c) => c.padStart(10)).join(''));
}

const weighted = (n: number): LbHost[] => hosts(n, Array.from({ length: n }, (_, i) => 1 + (i % 4)));
const ejected = (frac: number) => (n: number): LbHost[] =>
  hosts(n).map((h, i) => ({ ...h, healthy: i >= Math.floor(n * frac) }));
const localityOn: LbPolicy = {
  ...policy('LEAST_REQUEST'),
  locality: { enabled: true, distribute: [], failover: [], failoverPriority: [] },
};

const SCENARIOS: Array<[string, LbPolicy, (n: number) => LbHost[], object]> = [
  ['LEAST_REQUEST (P2C)', policy('LEAST_REQUEST'), hosts, {}],
  ['LEAST_REQUEST (weighted, EDF)', policy('LEAST_REQUEST'), weighted, {}],
  ['ROUND_ROBIN', policy('ROUND_ROBIN'), hosts, {}],
  ['ROUND_ROBIN (weighted)', policy('ROUND_ROBIN'), weighted, {}],
  ['RANDOM', policy('RANDOM'), hosts, {}],
  ['RANDOM (weighted, alias)', policy('RANDOM'), weighted, {}],
  ['RING_HASH (min ring 1024)', ringHash(), hosts, {}],
  ['MAGLEV (table 65537)', maglev(), hosts, {}],
  ['-- P2C, 10% ejected', policy('LEAST_REQUEST'), ejected(0.1), {}],
  ['-- ROUND_ROBIN, 10% ejected', policy('ROUND_ROBIN'), ejected(0.1), {}],
  ['-- RING_HASH, 10% ejected', ringHash(), ejected(0.1), {}],
  ['-- MAGLEV, 10% ejected', maglev(), ejected(0.1), {}],
  ['-- P2C, 75% ejected (panic)', policy('LEAST_REQUEST'), ejected(0.75), {}],
  ['-- P2C, locality, 1/4 local', localityOn,
    (n) => Array.from({ length: n }, (_, i) => host(i, { locality: i % 4 === 0 ? 'r/z/s' : 'r/z2/s' })),
    { localLocality: 'r/z/s' }],
];

// Each scenario runs in its own process so one algorithm's JIT state (and a call site made
// megamorphic by the others) does not skew the next one.
const only = process.argv.indexOf('--scenario');
if (only >= 0) {
  const [, p, make, opts] = SCENARIOS[Number(process.argv[only + 1])];
  console.log(JSON.stringify(SIZES.map((n) => measure(make(n), p, opts))));
} else {
  console.log(`ns per pick (median of 5 x ${PICKS} picks, one process per row), node ${process.version}`);
  row('algorithm', SIZES.map((n) => `${n} hosts`));
  SCENARIOS.forEach(([name], i) => {
    const out = execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--scenario', String(i)], {
      env: process.env,
      encoding: 'utf8',
    });
    row(name, (JSON.parse(out) as number[]).map((ns) => ns.toFixed(1)));
  });
  const start = process.hrtime.bigint();
  let acc = 0;
  for (let i = 0; i < PICKS; i++) acc ^= hashKey(`session-${i & 1023}`);
  const ns = Number(process.hrtime.bigint() - start) / PICKS;
  console.log(`\nhashKey("session-NNN"), string building included: ${ns.toFixed(1)} ns (checksum ${acc >>> 0})`);
}
