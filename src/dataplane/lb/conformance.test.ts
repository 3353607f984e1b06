/**
 * One conformance suite, run against every load-balancing algorithm: whatever the algorithm,
 * a picker never picks an unhealthy host while it has enough healthy ones, returns null for
 * an empty set, honours weights, honours `avoid`, and applies the panic threshold.
 * Algorithm-specific behaviour lives in the per-algorithm test files.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LbPolicy } from '../../snapshot/types.js';
import { createPicker, type LbHost, type Picker, type PickerOptions } from './index.js';
import { host, hosts, maglev, policy, ringHash, seeded, tally } from './testkit.js';

interface Algo {
  name: string;
  policy: LbPolicy;
  /** Consistent hashing: vary the request hash per pick (random keys). */
  hashed: boolean;
  /** Allowed absolute error of a host's share in the weight tests. */
  tolerance: number;
}

const ALGOS: Algo[] = [
  { name: 'LEAST_REQUEST', policy: policy('LEAST_REQUEST'), hashed: false, tolerance: 0.03 },
  { name: 'ROUND_ROBIN', policy: policy('ROUND_ROBIN'), hashed: false, tolerance: 0.03 },
  { name: 'RANDOM', policy: policy('RANDOM'), hashed: false, tolerance: 0.03 },
  { name: 'CONSISTENT_HASH ringHash', policy: ringHash(), hashed: true, tolerance: 0.04 },
  { name: 'CONSISTENT_HASH maglev', policy: maglev(), hashed: true, tolerance: 0.03 },
];

/** `count` picks from a fresh picker with a seeded generator (new random key per pick when hashed). */
function run(algo: Algo, list: LbHost[], count: number, opts: PickerOptions & { avoid?: ReadonlySet<LbHost>; seed?: number } = {}): Array<LbHost | null> {
  const picker = createPicker(algo.policy, list, opts);
  return drive(algo, picker, count, opts.seed ?? 7, opts.avoid);
}

function drive(algo: Algo, picker: Picker, count: number, seed: number, avoid?: ReadonlySet<LbHost>): Array<LbHost | null> {
  const rnd = seeded(seed);
  const keys = seeded(seed ^ 0x5eed);
  const out: Array<LbHost | null> = [];
  for (let i = 0; i < count; i++) {
    out.push(picker.pick({ rnd, hash: algo.hashed ? Math.floor(keys() * 2 ** 32) : undefined, avoid }));
  }
  return out;
}

function withHealth(n: number, unhealthy: readonly number[]): LbHost[] {
  const list = hosts(n);
  for (const i of unhealthy) list[i].healthy = false;
  return list;
}

for (const algo of ALGOS) {
  describe(`conformance: ${algo.name}`, () => {
    test('empty host set -> null', () => {
      for (const opts of [{}, { panicThresholdPercent: 0 }, { avoid: new Set([host(1)]) }]) {
        assert.deepEqual(run(algo, [], 5, opts), [null, null, null, null, null]);
      }
    });

    test('exposes the hosts it was built over', () => {
      const list = hosts(3);
      const p = createPicker(algo.policy, list);
      assert.equal(p.hosts.length, 3);
      list.forEach((h, i) => assert.equal(p.hosts[i], h));
    });

    test('single host is always picked; alone and unhealthy: panic picks it, no panic -> null', () => {
      const list = hosts(1);
      assert.ok(run(algo, list, 50).every((h) => h === list[0]));
      list[0].healthy = false;
      assert.ok(run(algo, list, 50).every((h) => h === list[0]));
      assert.ok(run(algo, list, 50, { panicThresholdPercent: 0 }).every((h) => h === null));
    });

    const healthRows: Array<[n: number, unhealthy: number[]]> = [
      [3, [0]],
      [6, [1, 4]],
      [10, [0, 1, 2, 3]],
      [20, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]],
    ];
    for (const [n, bad] of healthRows) {
      test(`never picks an unhealthy host while enough are healthy: ${n} hosts, ejected ${bad.join(',')}`, () => {
        const list = withHealth(n, bad);
        const seen = tally(run(algo, list, 200 * n));
        for (const i of bad) assert.equal(seen.get(list[i]), undefined, `picked unhealthy host ${i}`);
        assert.equal(seen.get(null), undefined);
        for (let i = 0; i < n; i++) if (!bad.includes(i)) assert.ok(seen.get(list[i]), `healthy host ${i} never picked`);
      });
    }

    test('health is read live: an ejected host stops being picked, and comes back', () => {
      const list = hosts(4);
      const picker = createPicker(algo.policy, list);
      list[2].healthy = false;
      assert.equal(tally(drive(algo, picker, 800, 1)).get(list[2]), undefined);
      list[2].healthy = true;
      assert.ok(tally(drive(algo, picker, 800, 2)).get(list[2]));
    });

    test('panic: fewer healthy than the threshold -> all hosts are candidates', () => {
      const list = withHealth(4, [0, 1, 2]); // 25% healthy < 50%
      const seen = tally(run(algo, list, 4000));
      for (const h of list) assert.ok((seen.get(h) ?? 0) > 400, `host ${h.key} starved in panic: ${seen.get(h)}`);
    });

    test('panic threshold is strict: exactly at the threshold is not panic', () => {
      const list = withHealth(4, [0, 1]); // 50% healthy, threshold 50
      const seen = tally(run(algo, list, 2000));
      assert.equal(seen.get(list[0]), undefined);
      assert.equal(seen.get(list[1]), undefined);
    });

    test('custom threshold: 80% with 75% healthy panics', () => {
      const list = withHealth(4, [0]);
      assert.ok(tally(run(algo, list, 2000, { panicThresholdPercent: 80 })).get(list[0]));
      assert.equal(tally(run(algo, list, 2000, { panicThresholdPercent: 70 })).get(list[0]), undefined);
    });

    test('panic disabled (0): only healthy hosts, however few', () => {
      const list = withHealth(5, [0, 1, 2, 3]);
      assert.ok(run(algo, list, 1000, { panicThresholdPercent: 0 }).every((h) => h === list[4]));
    });

    test('no healthy host: null with panic disabled, any host with panic', () => {
      const list = withHealth(3, [0, 1, 2]);
      assert.ok(run(algo, list, 100, { panicThresholdPercent: 0 }).every((h) => h === null));
      const seen = tally(run(algo, list, 1500));
      for (const h of list) assert.ok(seen.get(h), `host ${h.key} never picked in total panic`);
    });

    const weightRows: Array<[weights: number[], picks: number]> = [
      [[1, 3], 8000],
      [[1, 2, 5], 8000],
      [[10, 10, 20, 60], 10000],
    ];
    for (const [weights, picks] of weightRows) {
      test(`honours weights ${weights.join(':')}`, () => {
        const list = hosts(weights.length, weights);
        const total = weights.reduce((a, b) => a + b, 0);
        const seen = tally(run(algo, list, picks));
        weights.forEach((w, i) => {
          const share = (seen.get(list[i]) ?? 0) / picks;
          assert.ok(Math.abs(share - w / total) <= algo.tolerance, `host ${i}: share ${share.toFixed(3)}, want ${(w / total).toFixed(3)}`);
        });
      });
    }

    test('weights of unhealthy hosts are redistributed over the healthy ones in proportion', () => {
      const list = hosts(3, [2, 1, 1]);
      list[1].healthy = false;
      const seen = tally(run(algo, list, 8000));
      assert.equal(seen.get(list[1]), undefined);
      const share = (seen.get(list[0]) ?? 0) / 8000;
      assert.ok(Math.abs(share - 2 / 3) <= algo.tolerance + 0.01, `share ${share}`);
    });

    test('avoid: never an avoided host while another eligible one exists', () => {
      const list = hosts(5);
      const avoid = new Set([list[0], list[3]]);
      const seen = tally(run(algo, list, 1500, { avoid }));
      assert.equal(seen.get(list[0]), undefined);
      assert.equal(seen.get(list[3]), undefined);
      for (const i of [1, 2, 4]) assert.ok(seen.get(list[i]), `host ${i} never picked`);
    });

    test('avoid + unhealthy: the one healthy, non-avoided host', () => {
      const list = withHealth(3, [0]);
      const avoid = new Set([list[1]]);
      assert.ok(run(algo, list, 500, { avoid }).every((h) => h === list[2]));
    });

    test('avoid covering every eligible host: best available (a healthy host), never null', () => {
      const list = withHealth(3, [2]);
      const avoid = new Set([list[0], list[1]]);
      const got = run(algo, list, 500, { avoid });
      assert.ok(got.every((h) => h === list[0] || h === list[1]));
    });

    test('avoid in panic: unhealthy hosts are candidates, avoided ones are not', () => {
      const list = withHealth(4, [0, 1, 2]);
      const avoid = new Set([list[3], list[0]]);
      const seen = tally(run(algo, list, 1000, { avoid }));
      assert.equal(seen.get(list[3]), undefined);
      assert.equal(seen.get(list[0]), undefined);
      assert.ok(seen.get(list[1]) && seen.get(list[2]));
    });

    test('deterministic: same seed, same picks; hosts are not mutated', () => {
      const a = hosts(7, [1, 2, 3, 1, 2, 3, 1]);
      const b = hosts(7, [1, 2, 3, 1, 2, 3, 1]);
      const ka = run(algo, a, 300, { seed: 42 }).map((h) => h?.key);
      const kb = run(algo, b, 300, { seed: 42 }).map((h) => h?.key);
      assert.deepEqual(ka, kb);
      assert.deepEqual(a, hosts(7, [1, 2, 3, 1, 2, 3, 1]));
    });
  });
}

test('PASSTHROUGH: no host of its own, always null (the caller forwards to the original destination)', () => {
  const list = hosts(3);
  const p = createPicker(policy('PASSTHROUGH'), list);
  assert.equal(p.pick({ rnd: seeded(1), hash: 5 }), null);
  assert.equal(p.hosts, list);
});
