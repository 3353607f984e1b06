import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LbPolicy } from '../../snapshot/types.js';
import { createPicker, type LbHost, type PickerOptions } from './index.js';
import { LocalityPicker } from './locality-picker.js';
import { localityMatch, localityPriority, planLocality, type LocalitySetting } from './locality.js';
import { host, policy, seeded, tally } from './testkit.js';

const LOCAL = 'us-west/zone1/rack1';

function setting(over: Partial<LocalitySetting> = {}): LocalitySetting {
  return { enabled: true, distribute: [], failover: [], failoverPriority: [], ...over };
}

function withLocality(kind: LbPolicy['kind'], loc: LocalitySetting | null = setting()): LbPolicy {
  return { ...policy(kind), locality: loc };
}

/** Hosts in the given localities (index = host number). */
function placed(localities: string[], healthy?: boolean[]): LbHost[] {
  return localities.map((locality, i) => host(i, { locality, healthy: healthy?.[i] ?? true }));
}

function shares(p: LbPolicy, list: LbHost[], count: number, opts: PickerOptions = { localLocality: LOCAL }): number[] {
  const picker = createPicker(p, list, opts);
  const rnd = seeded(12);
  const seen = tally(Array.from({ length: count }, () => picker.pick({ rnd })));
  return list.map((h) => (seen.get(h) ?? 0) / count);
}

const PRIORITY_ROWS: Array<[proxy: string, endpoint: string, failover: LocalitySetting['failover'], want: number]> = [
  ['us-west/zone1/rack1', 'us-west/zone1/rack1', [], 0],
  ['us-west/zone1/rack1', 'us-west/zone1/rack2', [], 1],
  ['us-west/zone1/rack1', 'us-west/zone2/rack1', [], 2],
  ['us-west/zone1/rack1', 'us-east/zone1/rack1', [], 3],
  ['us-west/zone1', 'us-west/zone1', [], 0],
  ['us-west/zone1', 'us-west', [], 2],
  ['us-west/zone1/rack1', '', [], 3],
  ['us-west/zone1/rack1', 'us-east/zone1', [{ from: 'us-west', to: 'us-east' }], 3],
  ['us-west/zone1/rack1', 'eu-west/zone1', [{ from: 'us-west', to: 'us-east' }], 4],
  ['us-west/zone1/rack1', 'eu-west/zone1', [{ from: 'ap-south', to: 'us-east' }], 3],
];
for (const [proxy, endpoint, failover, want] of PRIORITY_ROWS) {
  test(`priority of ${endpoint || '""'} seen from ${proxy}${failover.length ? ' with failover' : ''} = ${want}`, () => {
    assert.equal(localityPriority(proxy, endpoint, failover), want);
  });
}

const MATCH_ROWS: Array<[locality: string, rule: string, want: boolean]> = [
  ['us-west/zone1/rack1', 'us-west/zone1/rack1', true],
  ['us-west/zone1/rack1', 'us-west/zone1/*', true],
  ['us-west/zone1/rack1', 'us-west/*', true],
  ['us-west/zone1/rack1', 'us-west', true],
  ['us-west/zone1/rack1', '*', true],
  ['us-west/zone1/rack1', 'us-west/zone2/*', false],
  ['us-west/zone1/rack1', 'us-east/*', false],
  ['us-west/zone1/rack1', 'us-west/zone1/rack2', false],
];
for (const [locality, rule, want] of MATCH_ROWS) {
  test(`locality ${locality} matches ${rule}: ${want}`, () => assert.equal(localityMatch(locality, rule), want));
}

test('levels group hosts by priority, empty levels dropped', () => {
  const list = placed(['us-east/z/r', 'us-west/zone1/rack1', 'us-west/zone2/r', 'us-west/zone1/rack1']);
  const plan = planLocality(list, LOCAL, setting());
  assert.deepEqual(plan.levels.map((l) => l.map((h) => list.indexOf(h))), [[1, 3], [2], [0]]);
});

test('local hosts healthy: all traffic stays local', () => {
  const list = placed([LOCAL, LOCAL, 'us-west/zone2/a', 'us-east/a/b']);
  const s = shares(withLocality('ROUND_ROBIN'), list, 1000);
  assert.deepEqual(s.map((x) => x > 0), [true, true, false, false]);
});

test('gradual spill with overprovisioning 1.4: half the local level healthy -> 70% local, 30% next', () => {
  const list = placed([LOCAL, LOCAL, LOCAL, LOCAL, 'us-west/zone2/a', 'us-west/zone2/b'], [true, true, false, false, true, true]);
  const s = shares(withLocality('RANDOM'), list, 20000);
  assert.ok(Math.abs(s[0] + s[1] - 0.7) < 0.02, `local ${s[0] + s[1]}`);
  assert.ok(Math.abs(s[4] + s[5] - 0.3) < 0.02);
  assert.equal(s[2] + s[3], 0);
});

test('75% of the local level healthy still keeps all traffic local (140 * 3/4 >= 100)', () => {
  const list = placed([LOCAL, LOCAL, LOCAL, LOCAL, 'us-east/a/b'], [true, true, true, false, true]);
  const s = shares(withLocality('LEAST_REQUEST'), list, 4000);
  assert.equal(s[4], 0);
  assert.equal(s[3], 0);
});

test('local level fully ejected: fails over to the next level, then the next', () => {
  const list = placed([LOCAL, 'us-west/zone2/a', 'us-east/a/b'], [false, true, true]);
  assert.deepEqual(shares(withLocality('ROUND_ROBIN'), list, 100), [0, 1, 0]);
  list[1].healthy = false;
  assert.deepEqual(shares(withLocality('ROUND_ROBIN'), list, 100), [0, 0, 1]);
});

test('failover setting: the configured region comes before other regions', () => {
  const list = placed([LOCAL, 'eu-west/a/b', 'us-east/a/b'], [false, true, true]);
  const loc = setting({ failover: [{ from: 'us-west', to: 'us-east' }] });
  assert.deepEqual(shares(withLocality('RANDOM', loc), list, 200), [0, 0, 1]);
});

test('every level degraded below the panic threshold: total panic, load by host count, any host', () => {
  // each level 1/4 healthy: availability 35 + 35 < 100, 25% < 50% -> both levels in panic
  const list = placed(
    [LOCAL, LOCAL, LOCAL, LOCAL, 'us-east/a/b', 'us-east/a/b', 'us-east/a/b', 'us-east/a/b'],
    [true, false, false, false, true, false, false, false],
  );
  const s = shares(withLocality('RANDOM'), list, 20000);
  for (const x of s) assert.ok(Math.abs(x - 1 / 8) < 0.015, s.join(','));
});

test('degraded levels with panic disabled: loads scaled up, healthy hosts only', () => {
  const list = placed(
    [LOCAL, LOCAL, LOCAL, LOCAL, 'us-east/a/b', 'us-east/a/b', 'us-east/a/b', 'us-east/a/b'],
    [true, false, false, false, true, false, false, false],
  );
  const s = shares(withLocality('RANDOM'), list, 10000, { localLocality: LOCAL, panicThresholdPercent: 0 });
  assert.ok(Math.abs(s[0] - 0.5) < 0.02 && Math.abs(s[4] - 0.5) < 0.02, s.join(','));
});

test('no healthy host anywhere: null with panic disabled', () => {
  const list = placed([LOCAL, 'us-east/a/b'], [false, false]);
  const p = createPicker(withLocality('RANDOM'), list, { localLocality: LOCAL, panicThresholdPercent: 0 });
  assert.ok(p instanceof LocalityPicker);
  assert.equal(p.pick({ rnd: seeded(1) }), null);
});

test('distribute: locality weights split by `to`, unmatched localities get nothing', () => {
  const list = placed(['us-west/zone1/a', 'us-west/zone1/b', 'us-west/zone2/a', 'us-east/zone1/a']);
  const loc = setting({ distribute: [{ from: 'us-west/zone1/*', to: { 'us-west/zone1/*': 80, 'us-west/zone2/*': 20 } }] });
  const s = shares(withLocality('RANDOM', loc), list, 20000);
  assert.ok(Math.abs(s[0] + s[1] - 0.8) < 0.02 && Math.abs(s[2] - 0.2) < 0.02, s.join(','));
  assert.equal(s[3], 0);
});

test('distribute: a wildcard `to` is split over its localities by their endpoint weight', () => {
  const list = [host(0, { locality: 'r1/z1/s', weight: 1 }), host(1, { locality: 'r1/z2/s', weight: 3 })];
  const plan = planLocality(list, 'r1/z1/s', setting({ distribute: [{ from: '*', to: { 'r1/*': 100 } }] }));
  assert.deepEqual([...plan.weights[0]], [25, 75]);
});

test('distribute: first matching `from` wins; rules for other localities are ignored', () => {
  const list = placed(['r1/z1/s', 'r1/z2/s']);
  const loc = setting({
    distribute: [
      { from: 'r9/*', to: { 'r1/z2/*': 100 } },
      { from: 'r1/z1/*', to: { 'r1/z1/*': 100 } },
    ],
  });
  assert.deepEqual(shares(withLocality('ROUND_ROBIN', loc), list, 100, { localLocality: 'r1/z1/s' }), [1, 0]);
});

test('locality off: disabled setting, no setting, or unknown proxy locality', () => {
  const list = placed([LOCAL, 'us-east/a/b']);
  for (const [p, opts] of [
    [withLocality('ROUND_ROBIN', setting({ enabled: false })), { localLocality: LOCAL }],
    [withLocality('ROUND_ROBIN', null), { localLocality: LOCAL }],
    [withLocality('ROUND_ROBIN'), {}],
    [withLocality('ROUND_ROBIN'), { localLocality: '' }],
  ] as const) {
    assert.deepEqual(shares(p, list, 100, opts), [0.5, 0.5]);
  }
});

test('consistent hash across levels: a key keeps its host', () => {
  const list = placed([LOCAL, LOCAL, LOCAL, LOCAL, 'us-east/a/b', 'us-east/a/c'], [true, true, false, false, true, true]);
  const p = createPicker({ ...withLocality('CONSISTENT_HASH'), hash: { key: { kind: 'sourceIp' }, algorithm: { kind: 'ringHash', minimumRingSize: 1024 } } }, list, { localLocality: LOCAL });
  const rnd = seeded(1);
  for (let k = 0; k < 300; k++) {
    const first = p.pick({ rnd, hash: k * 2654435761 });
    for (let again = 0; again < 3; again++) assert.equal(p.pick({ rnd, hash: k * 2654435761 }), first);
  }
});

test('avoid: when the local level only has avoided hosts, another level serves the retry', () => {
  const list = placed([LOCAL, 'us-east/a/b']);
  const p = createPicker(withLocality('LEAST_REQUEST'), list, { localLocality: LOCAL });
  const rnd = seeded(1);
  assert.equal(p.pick({ rnd }), list[0]);
  assert.equal(p.pick({ rnd, avoid: new Set([list[0]]) }), list[1]);
  assert.equal(p.pick({ rnd, avoid: new Set(list) }), list[0]);
});
