import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPicker, type LbHost } from './index.js';
import { EdfPicker } from './edf.js';
import { buildRoundRobinOrder, RoundRobinPicker } from './round-robin.js';
import { hosts, policy, seeded, tally } from './testkit.js';

const RR = policy('ROUND_ROBIN');

function sequence(list: LbHost[], count: number, seed = 5): Array<LbHost | null> {
  const p = createPicker(RR, list);
  const rnd = seeded(seed);
  return Array.from({ length: count }, () => p.pick({ rnd }));
}

const ORDER_ROWS: Array<[weights: number[], order: number[] | null]> = [
  [[1, 1, 1], [0, 1, 2]],
  [[3, 1], [0, 0, 1, 0]],
  [[2, 4], [1, 0, 1]], // reduced by the gcd
  [[1, 1, 2], [2, 0, 1, 2]],
  [[1.5, 0.5], null], // not integers -> EDF
  [[40000, 30001], null], // period > 65536 -> EDF
];
for (const [weights, order] of ORDER_ROWS) {
  test(`round-robin order for weights ${weights.join(':')}`, () => {
    const got = buildRoundRobinOrder(weights);
    assert.deepEqual(got === null ? null : [...got], order);
  });
}

test('implementation choice: table for small integer periods, EDF otherwise', () => {
  assert.ok(createPicker(RR, hosts(3)) instanceof RoundRobinPicker);
  assert.ok(createPicker(RR, hosts(2, [3, 1])) instanceof RoundRobinPicker);
  assert.ok(createPicker(RR, hosts(2, [1.5, 0.5])) instanceof EdfPicker);
  assert.ok(createPicker(RR, hosts(2, [40000, 30001])) instanceof EdfPicker);
});

test('equal weights: strict rotation', () => {
  const list = hosts(5);
  const seq = sequence(list, 50).map((h) => list.indexOf(h!));
  for (let i = 1; i < seq.length; i++) assert.equal(seq[i], (seq[i - 1] + 1) % 5);
});

for (const [n, k] of [[3, 5], [7, 10], [20, 50], [200, 3]] as const) {
  test(`equal weights: ${n} hosts x ${k} rounds -> exactly ${k} each`, () => {
    const list = hosts(n);
    const seen = tally(sequence(list, n * k, n));
    for (const h of list) assert.equal(seen.get(h), k);
  });
}

test('even to +-1 per endpoint over 1,000 picks (several start offsets)', () => {
  for (const seed of [1, 2, 3, 4]) {
    const list = hosts(7);
    const counts = list.map((h) => tally(sequence(list, 1000, seed)).get(h) ?? 0);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, counts.join(','));
  }
});

test('the start position is random (from the first pick), the rotation is not', () => {
  const list = hosts(10);
  const firsts = new Set([1, 2, 3, 4, 5, 6].map((seed) => sequence(list, 1, seed)[0]));
  assert.ok(firsts.size > 1);
});

for (const seed of [1, 9, 17]) {
  test(`75/25 weights within 3 points over 2,000 picks (seed ${seed})`, () => {
    const list = hosts(2, [3, 1]);
    const share = (tally(sequence(list, 2000, seed)).get(list[0]) ?? 0) / 2000;
    assert.ok(Math.abs(share - 0.75) <= 0.03, `share ${share}`);
  });
}

test('weighted picks are interleaved, not bunched', () => {
  const list = hosts(2, [3, 1]);
  const seq = sequence(list, 400);
  let run = 0;
  let longest = 0;
  for (const h of seq) {
    run = h === list[0] ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  assert.ok(longest <= 3, `run of ${longest}`);
});

for (const weights of [[1.5, 0.5], [30000, 10001]]) {
  test(`EDF fallback keeps proportions: weights ${weights.join(':')}`, () => {
    const list = hosts(2, weights);
    const share = (tally(sequence(list, 4000)).get(list[0]) ?? 0) / 4000;
    assert.ok(Math.abs(share - weights[0] / (weights[0] + weights[1])) <= 0.005, `share ${share}`);
  });
}

test('an unhealthy host is skipped; the others stay even', () => {
  const list = hosts(4);
  list[1].healthy = false;
  const seen = tally(sequence(list, 999));
  assert.equal(seen.get(list[1]), undefined);
  for (const i of [0, 2, 3]) assert.equal(seen.get(list[i]), 333);
});
