import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OutlierDriver, type IntervalTimers } from './driver.js';
import { newOutlierState, type EjectionEvent, type OutlierHost } from './types.js';
import type { OutlierPolicy } from '../../snapshot/types.js';

/** A fake clock whose setInterval timers fire as `advance` moves time on. */
class FakeClock implements IntervalTimers {
  t = 0;
  private timers = new Map<number, { fn: () => void; ms: number; next: number }>();
  private ids = 0;
  setInterval(fn: () => void, ms: number): unknown {
    const id = ++this.ids;
    this.timers.set(id, { fn, ms, next: this.t + ms });
    return id;
  }
  clearInterval(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  get active(): Array<{ ms: number }> {
    return [...this.timers.values()].map((x) => ({ ms: x.ms }));
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let due: { fn: () => void; ms: number; next: number } | null = null;
      for (const x of this.timers.values()) if (x.next <= end && (!due || x.next < due.next)) due = x;
      if (!due) break;
      this.t = due.next;
      due.next += due.ms;
      due.fn();
    }
    this.t = end;
  }
}

const policy = (over: Partial<OutlierPolicy> = {}): OutlierPolicy => ({
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  consecutiveLocalOriginFailures: 5,
  splitExternalLocalOriginErrors: false,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 100,
  minHealthPercent: 0,
  httpErrorCodes: [],
  ...over,
});
const mkHosts = (n: number): OutlierHost[] => Array.from({ length: n }, () => ({ healthy: true, ...newOutlierState() }));

function setup() {
  const clock = new FakeClock();
  const events: Array<[string, EjectionEvent]> = [];
  const driver = new OutlierDriver({ timers: clock, now: () => clock.t, onEvent: (c, e) => events.push([c, e]) });
  return { clock, events, driver };
}

function failFive(driver: OutlierDriver, cluster: string, h: OutlierHost): void {
  for (let i = 0; i < 5; i++) driver.report(cluster, h, { kind: 'status', code: 500 });
}

test('driver: ejects on the 5th 500 at report time, returns the host at the first tick after base', () => {
  const { clock, events, driver } = setup();
  const hosts = mkHosts(2);
  driver.update('c1', policy(), hosts);
  assert.deepEqual(clock.active, [{ ms: 10_000 }]);
  clock.advance(3_000);
  failFive(driver, 'c1', hosts[0]);
  assert.deepEqual(events.map(([c, e]) => [c, e.action, e.at]), [['c1', 'eject', 3_000]]);
  assert.equal(hosts[0].healthy, false);
  // Ejected until 33 s; ticks at 10, 20, 30 keep it out, the 40 s tick brings it back.
  clock.advance(30_000);
  assert.equal(hosts[0].healthy, false);
  clock.advance(7_000);
  assert.deepEqual(events.map(([, e]) => [e.action, e.at]), [
    ['eject', 3_000],
    ['uneject', 40_000],
  ]);
  assert.equal(hosts[0].healthy, true);
});

test('driver: a cluster without a policy has no detector; results are ignored', () => {
  const { clock, driver } = setup();
  const hosts = mkHosts(1);
  assert.equal(driver.update('c1', null, hosts), null);
  failFive(driver, 'c1', hosts[0]);
  assert.equal(hosts[0].healthy, true);
  assert.deepEqual(clock.active, []);
});

test('driver: update keeps the detector and its ejections; an interval change re-arms the timer', () => {
  const { clock, driver } = setup();
  const hosts = mkHosts(2);
  const d1 = driver.update('c1', policy(), hosts);
  failFive(driver, 'c1', hosts[1]);
  const d2 = driver.update('c1', policy({ intervalMs: 1_000 }), hosts);
  assert.equal(d1, d2);
  assert.equal(hosts[1].ejected, true);
  assert.deepEqual(clock.active, [{ ms: 1_000 }]);
  clock.advance(30_000);
  assert.equal(hosts[1].ejected, false, 'returned by the 1 s sweep at 30 s');
  assert.equal(d2?.stats.ejections_enforced_total, 1);
});

test('driver: losing the policy returns ejected hosts and stops the timer', () => {
  const { clock, events, driver } = setup();
  const hosts = mkHosts(2);
  driver.update('c1', policy(), hosts);
  failFive(driver, 'c1', hosts[0]);
  clock.advance(1_000);
  driver.update('c1', null, hosts);
  assert.equal(hosts[0].healthy, true);
  assert.deepEqual(events.map(([, e]) => [e.action, e.at]), [
    ['eject', 0],
    ['uneject', 1_000],
  ]);
  assert.deepEqual(clock.active, []);
});

test('driver: retain drops clusters that are gone; close stops all timers', () => {
  const { clock, driver } = setup();
  driver.update('a', policy(), mkHosts(1));
  driver.update('b', policy({ intervalMs: 5_000 }), mkHosts(1));
  assert.equal(clock.active.length, 2);
  driver.retain(new Set(['b']));
  assert.equal(driver.detector('a'), undefined);
  assert.ok(driver.detector('b'));
  assert.deepEqual(clock.active, [{ ms: 5_000 }]);
  driver.close();
  assert.deepEqual(clock.active, []);
});

test('driver: new endpoints join the percentage base on update', () => {
  const { driver } = setup();
  const two = mkHosts(2);
  driver.update('c1', policy({ maxEjectionPercent: 50 }), two);
  failFive(driver, 'c1', two[0]);
  failFive(driver, 'c1', two[1]);
  assert.deepEqual(two.map((h) => h.ejected), [true, false], '2 of 2 would be 100 %');
  const four = [...two, ...mkHosts(2)];
  driver.update('c1', policy({ maxEjectionPercent: 50 }), four);
  failFive(driver, 'c1', two[1]);
  assert.deepEqual(four.map((h) => h.ejected), [true, true, false, false], '2 of 4 is 50 %');
});
