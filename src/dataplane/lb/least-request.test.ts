import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPicker, type LbHost } from './index.js';
import { EdfPicker } from './edf.js';
import { P2CPicker } from './least-request.js';
import { hosts, policy, seeded, tally } from './testkit.js';

const LR = policy('LEAST_REQUEST');

function picks(list: LbHost[], count: number, seed = 3): Map<LbHost | null, number> {
  const p = createPicker(LR, list);
  const rnd = seeded(seed);
  return tally(Array.from({ length: count }, () => p.pick({ rnd })));
}

function withActive(active: number[], weights?: number[]): LbHost[] {
  const list = hosts(active.length, weights);
  active.forEach((a, i) => { list[i].activeRequests = a; });
  return list;
}

test('equal weights use P2C, unequal weights the load-scaled EDF schedule', () => {
  assert.ok(createPicker(LR, hosts(3)) instanceof P2CPicker);
  assert.ok(createPicker(LR, hosts(3, [5, 5, 5])) instanceof P2CPicker);
  assert.ok(createPicker(LR, hosts(3, [1, 2, 1])) instanceof EdfPicker);
});

// rows: active requests per host -> hosts that must never be picked
const P2C_ROWS: Array<[active: number[], never: number[]]> = [
  [[5, 0], [0]],
  [[0, 5], [1]],
  [[9, 0, 0], [0]],
  [[3, 1, 2, 0], [0]],
  [[1, 1, 7, 1, 1, 1], [2]],
];
for (const [active, never] of P2C_ROWS) {
  test(`P2C: the strictly busiest host gets nothing: active ${active.join(',')}`, () => {
    const list = withActive(active);
    const seen = picks(list, 4000);
    for (const i of never) assert.equal(seen.get(list[i]), undefined);
  });
}

test('P2C prefers the less-loaded host: more active requests -> fewer picks', () => {
  const list = withActive([0, 1, 2, 3]);
  const seen = picks(list, 20000);
  const counts = list.map((h) => seen.get(h) ?? 0);
  // Expected shares for distinct pairs: 3/6, 2/6, 1/6, 0.
  assert.ok(counts[0] > counts[1] && counts[1] > counts[2] && counts[2] > counts[3], counts.join(','));
  assert.ok(Math.abs(counts[0] / 20000 - 0.5) < 0.02);
  assert.ok(Math.abs(counts[1] / 20000 - 1 / 3) < 0.02);
  assert.equal(counts[3], 0);
});

test('P2C with equal load is uniform', () => {
  const list = hosts(4);
  const seen = picks(list, 20000);
  for (const h of list) assert.ok(Math.abs((seen.get(h) ?? 0) / 20000 - 0.25) < 0.02);
});

test('P2C keeps a slow host from piling up requests (simulated in-flight counts)', () => {
  // Host 0 completes a request with probability 0.1 per tick, the others 0.5.
  const list = hosts(4);
  const p = createPicker(LR, list);
  const rnd = seeded(11);
  const served = new Map<LbHost, number>();
  for (let tick = 0; tick < 20000; tick++) {
    const h = p.pick({ rnd })!;
    h.activeRequests++;
    served.set(h, (served.get(h) ?? 0) + 1);
    for (const x of list) if (x.activeRequests > 0 && rnd() < (x === list[0] ? 0.1 : 0.5)) x.activeRequests--;
  }
  const slow = served.get(list[0]) ?? 0;
  for (const x of list.slice(1)) assert.ok(slow < (served.get(x) ?? 0) / 2, `slow host ${slow} vs ${served.get(x)}`);
});

test('weighted: no load -> exact proportions, evenly interleaved', () => {
  const list = hosts(2, [1, 3]);
  const p = createPicker(LR, list);
  const rnd = seeded(1);
  const order = Array.from({ length: 400 }, () => p.pick({ rnd }));
  for (let i = 0; i < 400; i += 4) {
    assert.equal(order.slice(i, i + 4).filter((h) => h === list[0]).length, 1, `window at ${i}`);
  }
});

test('weighted: effective weight is weight / (active + 1)', () => {
  // weights 1 and 3, host 1 has 5 in flight: 1/1 vs 3/6 -> shares 2/3 and 1/3.
  const list = withActive([0, 5], [1, 3]);
  const seen = picks(list, 6000);
  assert.ok(Math.abs((seen.get(list[0]) ?? 0) / 6000 - 2 / 3) < 0.03, `${seen.get(list[0])}`);
});

test('weighted: an unhealthy heavy host does not stall the schedule', () => {
  const list = hosts(3, [100, 1, 1]);
  list[0].healthy = false;
  const seen = picks(list, 1000);
  assert.equal(seen.get(list[0]), undefined);
  assert.ok(Math.abs((seen.get(list[1]) ?? 0) - 500) <= 2);
});
