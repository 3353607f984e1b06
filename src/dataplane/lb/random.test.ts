import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPicker, type LbHost } from './index.js';
import { buildAlias } from './random.js';
import { hosts, policy, seeded, tally } from './testkit.js';

function share(list: LbHost[], count: number, seed: number): number[] {
  const p = createPicker(policy('RANDOM'), list);
  const rnd = seeded(seed);
  const seen = tally(Array.from({ length: count }, () => p.pick({ rnd })));
  return list.map((h) => (seen.get(h) ?? 0) / count);
}

for (const seed of [1, 2, 3, 4, 5]) {
  test(`75/25 weights within 3 points over 2,000 picks (seed ${seed})`, () => {
    const [a] = share(hosts(2, [3, 1]), 2000, seed);
    assert.ok(Math.abs(a - 0.75) <= 0.03, `share ${a}`);
  });
}

const ALIAS_ROWS: number[][] = [[1, 1], [3, 1], [1, 2, 3, 4], [10, 1, 1, 1, 1, 1], [0.5, 2.5, 7]];
for (const weights of ALIAS_ROWS) {
  test(`alias table gives each outcome exactly its weight share: ${weights.join(':')}`, () => {
    const { prob, alias } = buildAlias(weights);
    const n = weights.length;
    const total = weights.reduce((a, b) => a + b, 0);
    const p = new Array<number>(n).fill(0);
    for (let i = 0; i < n; i++) {
      p[i] += prob[i] / n;
      p[alias[i]] += (1 - prob[i]) / n;
    }
    weights.forEach((w, i) => assert.ok(Math.abs(p[i] - w / total) < 1e-12, `outcome ${i}: ${p[i]}`));
  });
}

test('equal weights: uniform', () => {
  for (const s of share(hosts(5), 20000, 8)) assert.ok(Math.abs(s - 0.2) < 0.015, `${s}`);
});

test('a random generator that returns 1 does not break the picker', () => {
  const list = hosts(3, [1, 2, 3]);
  const p = createPicker(policy('RANDOM'), list);
  assert.ok(list.includes(p.pick({ rnd: () => 1 })!));
  assert.ok(list.includes(p.pick({ rnd: () => 0 })!));
});
