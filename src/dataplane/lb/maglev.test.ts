import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPicker, hashKey, type LbHost, type Picker } from './index.js';
import { buildMaglevTable, isPrime, MaglevPicker, maglevTableSize } from './maglev.js';
import { host, hosts, maglev, seeded } from './testkit.js';

const KEYS = Array.from({ length: 20000 }, (_, i) => hashKey(`session-${i}`));

function assignment(p: Picker, keys = KEYS): string[] {
  const rnd = seeded(1);
  return keys.map((hash) => p.pick({ rnd, hash })!.key);
}

const PRIME_ROWS: Array<[number, boolean]> = [
  [1, false], [2, true], [3, true], [4, false], [9, false], [1009, true], [65537, true], [65535, false], [5000011, true], [10.5, false],
];
for (const [n, prime] of PRIME_ROWS) {
  test(`isPrime(${n}) = ${prime}`, () => assert.equal(isPrime(n), prime));
}

// Non-prime sizes (rejected by Istio validation, D15) are rounded up to the next prime.
const SIZE_ROWS: Array<[number | undefined, number]> = [
  [65537, 65537], [1000, 1009], [1009, 1009], [10.5, 11], [5000011, 5000011], [6000000, 5000011],
  [0, 65537], [-5, 65537], [NaN, 65537], [undefined, 65537],
];
for (const [requested, used] of SIZE_ROWS) {
  test(`table size ${requested} -> ${used}`, () => assert.equal(maglevTableSize(requested), used));
}

test('the picker uses the prime size (non-prime 1000 -> 1009)', () => {
  assert.equal((createPicker(maglev(1000), hosts(3)) as MaglevPicker).tableSize, 1009);
  assert.equal((createPicker(maglev(0), hosts(3)) as MaglevPicker).tableSize, 65537);
});

test('building a table with a non-prime size directly is an error', () => {
  assert.throws(() => buildMaglevTable(hosts(2), [1, 1], 1000), RangeError);
});

for (const n of [1, 3, 7, 50]) {
  test(`equal weights, ${n} hosts: every slot filled, shares differ by at most one slot`, () => {
    const table = buildMaglevTable(hosts(n), new Array<number>(n).fill(1), 65537);
    const counts = new Array<number>(n).fill(0);
    for (const i of table) counts[i]++;
    assert.equal(counts.reduce((a, b) => a + b, 0), 65537);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${Math.min(...counts)}..${Math.max(...counts)}`);
  });
}

test('weighted table shares follow weights', () => {
  const weights = [1, 3, 6];
  const table = buildMaglevTable(hosts(3), weights, 65537);
  const counts = [0, 0, 0];
  for (const i of table) counts[i]++;
  weights.forEach((w, i) => assert.ok(Math.abs(counts[i] / 65537 - w / 10) < 0.005, `${i}: ${counts[i]}`));
});

test('same hash -> same host, across rebuilds and host-list orders', () => {
  const list = hosts(8);
  const a = assignment(createPicker(maglev(), list));
  assert.deepEqual(assignment(createPicker(maglev(), list)), a);
  assert.deepEqual(assignment(createPicker(maglev(), [...list].reverse())), a);
});

for (const [n, removed] of [[10, 3], [5, 0], [20, 19]] as const) {
  test(`removing one of ${n} hosts moves about 1/${n} of the keys (<= 2x ideal)`, () => {
    const list = hosts(n);
    const before = assignment(createPicker(maglev(), list));
    const after = assignment(createPicker(maglev(), list.filter((_, i) => i !== removed)));
    let moved = 0;
    let ownMoved = 0;
    before.forEach((k, i) => {
      if (k !== after[i]) moved++;
      if (k === list[removed].key) ownMoved++;
    });
    assert.ok(ownMoved > 0 && moved >= ownMoved);
    assert.ok(moved / KEYS.length <= 2 / n, `moved ${moved} of ${KEYS.length}`);
  });
}

test('adding a host moves about its share of the keys (<= 2x ideal)', () => {
  const list = hosts(9);
  const before = assignment(createPicker(maglev(), list));
  const after = assignment(createPicker(maglev(), [...list, host(100)]));
  const moved = before.filter((k, i) => k !== after[i]).length;
  assert.ok(moved / KEYS.length <= 2 / 10, `moved ${moved}`);
});

test('an unhealthy host: only its keys move, spread over the others', () => {
  const list = hosts(6);
  const p = createPicker(maglev(), list);
  const before = assignment(p);
  list[4].healthy = false;
  const after = assignment(p);
  const receivers = new Map<string, number>();
  before.forEach((k, i) => {
    if (k !== list[4].key) assert.equal(after[i], k);
    else receivers.set(after[i], (receivers.get(after[i]) ?? 0) + 1);
  });
  assert.ok(!receivers.has(list[4].key));
  assert.equal(receivers.size, 5, 'every healthy host takes some of the keys');
  const total = [...receivers.values()].reduce((a, b) => a + b, 0);
  for (const c of receivers.values()) assert.ok(c / total > 0.1, `uneven spread ${[...receivers.values()]}`);
});

test('most hosts unhealthy (panic disabled): still finds the healthy one via probing', () => {
  const list = hosts(10);
  list.forEach((h, i) => { h.healthy = i === 7; });
  const p = createPicker(maglev(), list, { panicThresholdPercent: 0 });
  assert.ok(assignment(p, KEYS.slice(0, 2000)).every((k) => k === list[7].key));
});

test('avoid: a retry of the same key gets the same alternative host', () => {
  const list = hosts(5);
  const p = createPicker(maglev(), list);
  const rnd = seeded(4);
  for (const hash of KEYS.slice(0, 200)) {
    const first = p.pick({ rnd, hash })!;
    const avoid = new Set<LbHost>([first]);
    const second = p.pick({ rnd, hash, avoid })!;
    assert.notEqual(second, first);
    assert.equal(p.pick({ rnd, hash, avoid }), second);
  }
});

test('more hosts than slots: the table holds what it can, picks stay valid', () => {
  const list = hosts(20);
  const p = createPicker(maglev(11), list) as MaglevPicker;
  assert.equal(p.tableSize, 11);
  assert.equal(new Set(p.table).size, 11);
  const rnd = seeded(5);
  for (const hash of KEYS.slice(0, 100)) assert.ok(list.includes(p.pick({ rnd, hash })!));
});
