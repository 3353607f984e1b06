import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPicker, hashKey, type LbHost, type Picker } from './index.js';
import { buildRing, MAX_RING_SIZE, RingHashPicker, ringPointCounts } from './ring-hash.js';
import { host, hosts, ringHash, seeded } from './testkit.js';

const KEYS = Array.from({ length: 20000 }, (_, i) => hashKey(`user-${i}`));

/** Host key chosen for every test key. */
function assignment(p: Picker, keys = KEYS): string[] {
  const rnd = seeded(1);
  return keys.map((hash) => p.pick({ rnd, hash })!.key);
}

const COUNT_ROWS: Array<[weights: number[], min: number, counts: number[]]> = [
  [[1, 1, 1], 1024, [512, 512, 512]], // 1024/3 -> next power of two per unit of weight
  [[1, 3], 1024, [256, 768]],
  [[1, 1, 1, 1], 1024, [256, 256, 256, 256]],
  [[5, 5], 1024, [640, 640]],
  [[1, 2], 10, [4, 8]],
  [Array<number>(2000).fill(1), 1024, Array<number>(2000).fill(1)], // more hosts than the minimum: one point each
];
for (const [weights, min, counts] of COUNT_ROWS) {
  test(`ring points: weights ${weights.length > 4 ? `${weights.length} x 1` : weights.join(':')}, minimum ${min}`, () => {
    assert.deepEqual([...ringPointCounts(weights, min)], counts);
  });
}

test('ring size is capped at 8M points', () => {
  const counts = ringPointCounts([1, 1], MAX_RING_SIZE * 4);
  assert.equal(counts[0] + counts[1], MAX_RING_SIZE);
});

test('ring is sorted and at least the minimum size', () => {
  const list = hosts(3);
  const ring = buildRing(list, [1, 1, 1], 1024);
  assert.ok(ring.hashes.length >= 1024);
  for (let i = 1; i < ring.hashes.length; i++) assert.ok(ring.hashes[i - 1] <= ring.hashes[i]);
  const perHost = [0, 0, 0];
  for (const h of ring.hosts) perHost[h]++;
  assert.deepEqual(perHost, [512, 512, 512]);
});

test('same hash -> same host, across rebuilds and host-list orders', () => {
  const list = hosts(8);
  const a = assignment(createPicker(ringHash(), list));
  assert.deepEqual(assignment(createPicker(ringHash(), list)), a);
  assert.deepEqual(assignment(createPicker(ringHash(), [...list].reverse())), a);
});

for (const [n, removed] of [[10, 3], [5, 0], [20, 19]] as const) {
  test(`removing one of ${n} hosts moves only its keys (<= 2x the ideal 1/${n})`, () => {
    const list = hosts(n);
    const before = assignment(createPicker(ringHash(), list));
    const after = assignment(createPicker(ringHash(), list.filter((_, i) => i !== removed)));
    let moved = 0;
    before.forEach((k, i) => {
      if (k === after[i]) return;
      moved++;
      assert.equal(k, list[removed].key, 'a key of a remaining host moved');
    });
    assert.ok(moved / KEYS.length <= 2 / n, `moved ${moved}`);
    assert.ok(moved > 0);
  });
}

test('adding a host takes keys only for itself (<= 2x the ideal share)', () => {
  const list = hosts(9);
  const before = assignment(createPicker(ringHash(), list));
  const added = host(100);
  const after = assignment(createPicker(ringHash(), [...list, added]));
  let moved = 0;
  before.forEach((k, i) => {
    if (k === after[i]) return;
    moved++;
    assert.equal(after[i], added.key);
  });
  assert.ok(moved / KEYS.length <= 2 / 10, `moved ${moved}`);
});

test('an unhealthy host: its keys walk to the next host on the ring, nobody else moves', () => {
  const list = hosts(6);
  const p = createPicker(ringHash(), list);
  const before = assignment(p);
  list[2].healthy = false;
  const after = assignment(p);
  const receivers = new Set<string>();
  before.forEach((k, i) => {
    if (k !== list[2].key) assert.equal(after[i], k);
    else receivers.add(after[i]);
  });
  assert.ok(!receivers.has(list[2].key));
  assert.ok(receivers.size >= 3, `keys of the ejected host went to ${receivers.size} hosts`);
  // Same answer as a ring built without the host.
  assert.deepEqual(after, assignment(createPicker(ringHash(), list.filter((_, i) => i !== 2))));
});

test('avoid walks on deterministically: a retry of the same key gets the same alternative', () => {
  const list = hosts(5);
  const p = createPicker(ringHash(), list);
  const rnd = seeded(2);
  for (const hash of KEYS.slice(0, 200)) {
    const first = p.pick({ rnd, hash })!;
    const avoid = new Set<LbHost>([first]);
    const second = p.pick({ rnd, hash, avoid })!;
    assert.notEqual(second, first);
    assert.equal(p.pick({ rnd, hash, avoid }), second);
  }
});

test('no request hash: a random point (still a valid, healthy host)', () => {
  const list = hosts(4);
  const p = createPicker(ringHash(), list);
  const rnd = seeded(3);
  const seen = new Set(Array.from({ length: 200 }, () => p.pick({ rnd })));
  assert.equal(seen.size, 4);
});

test('minimumRingSize <= 0 means the default 1024', () => {
  const p = createPicker(ringHash(0), hosts(2)) as RingHashPicker;
  assert.equal(p.ring.hashes.length, 1024);
});

test('bucket index: lookups agree with a plain scan of the ring, including the wrap', () => {
  for (const [n, min] of [[1, 1], [2, 3], [3, 1024], [50, 4096]] as const) {
    const list = hosts(n);
    const ring = buildRing(list, new Array<number>(n).fill(1), min);
    const p = createPicker(ringHash(min), list);
    const rnd = seeded(9);
    const probes = [0, 1, 2 ** 32 - 1, ring.hashes[0], ring.hashes[ring.hashes.length - 1], ring.hashes[ring.hashes.length - 1] + 1];
    for (let i = 0; i < 300; i++) probes.push(Math.floor(rnd() * 2 ** 32));
    for (const h of probes) {
      let idx = ring.hashes.findIndex((x) => x >= (h >>> 0));
      if (idx < 0) idx = 0;
      assert.equal(p.pick({ rnd, hash: h }), list[ring.hosts[idx]], `n=${n} hash=${h}`);
    }
  }
});
