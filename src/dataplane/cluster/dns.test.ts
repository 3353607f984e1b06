import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Cluster, Endpoint } from '../../snapshot/types.js';
import { DnsResolver, dnsEventLine, dnsNamesOf, expandEndpoints, selectFamily, type DnsAnswer, type DnsEvent, type DnsTimers } from './dns.js';

/** A manual clock: timers run only when `advance` passes their time. */
class FakeTimers implements DnsTimers {
  now = 0;
  private seq = 0;
  readonly pending = new Map<number, { at: number; fn: () => void }>();
  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.pending.set(id, { at: this.now + ms, fn });
    return id;
  }
  clearTimeout(h: unknown): void {
    this.pending.delete(h as number);
  }
  advance(ms: number): void {
    this.now += ms;
    for (const [id, t] of [...this.pending].sort((a, b) => a[1].at - b[1].at)) {
      if (t.at > this.now || !this.pending.has(id)) continue;
      this.pending.delete(id);
      t.fn();
    }
  }
}

/** A lookup whose answers the test sets per name; an Error value makes it reject. */
function fakeLookup(): { answers: Map<string, readonly string[] | Error>; calls: string[]; lookup: (h: string) => Promise<readonly DnsAnswer[]> } {
  const answers = new Map<string, readonly string[] | Error>();
  const calls: string[] = [];
  return {
    answers,
    calls,
    lookup: async (h) => {
      calls.push(h);
      const a = answers.get(h);
      if (a === undefined) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${h}`), { code: 'ENOTFOUND' });
      if (a instanceof Error) throw a;
      return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
  };
}

function ep(address: string, extra: Partial<Endpoint> = {}): Endpoint {
  return { address, port: 8080, labels: { version: 'v1' }, locality: 'r1/z1', weight: 3, ...extra };
}

function cluster(resolution: Cluster['resolution'], endpoints: Endpoint[]): Cluster {
  return { name: 'outbound|80||svc.example.com', resolution, endpoints } as unknown as Cluster;
}

test('selectFamily: V4_PREFERRED takes the IPv4 addresses, else the IPv6 ones; duplicates and non-IPs dropped', () => {
  const a = (...xs: string[]): DnsAnswer[] => xs.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  assert.deepEqual(selectFamily(a('::1', '127.0.0.1', '127.0.0.1', '10.0.0.2'), 'V4_PREFERRED'), ['127.0.0.1', '10.0.0.2']);
  assert.deepEqual(selectFamily(a('::1', 'fe80::1'), 'V4_PREFERRED'), ['::1', 'fe80::1']);
  assert.deepEqual(selectFamily(a('::1', '127.0.0.1'), 'V4_ONLY'), ['127.0.0.1']);
  assert.deepEqual(selectFamily(a('::1', '127.0.0.1'), 'V6_ONLY'), ['::1']);
  assert.deepEqual(selectFamily(a('::1', '127.0.0.1', 'not-an-ip'), 'ALL'), ['::1', '127.0.0.1']);
  assert.deepEqual(selectFamily(a('::1'), 'V4_ONLY'), []);
});

test('expandEndpoints: STRICT_DNS makes one endpoint per address, carrying labels, weight and locality', () => {
  const c = cluster('DNS', [ep('API.example.com'), ep('10.1.1.1', { weight: 1 })]);
  const out = expandEndpoints(c, (h) => (h === 'api.example.com' ? ['10.0.0.1', '10.0.0.2', '10.1.1.1'] : null));
  assert.deepEqual(out, [
    { ...ep('10.0.0.1'), hostname: 'api.example.com' },
    { ...ep('10.0.0.2'), hostname: 'api.example.com' },
    // The configured 10.1.1.1 endpoint is the same address again: the first one stays.
    { ...ep('10.1.1.1'), hostname: 'api.example.com' },
  ]);
  assert.deepEqual(dnsNamesOf(c), ['api.example.com']);
});

test('expandEndpoints: a name that never resolved stays as it is (dialled by name, per connection)', () => {
  const c = cluster('DNS', [ep('a.example.com'), ep('b.example.com')]);
  const out = expandEndpoints(c, (h) => (h === 'a.example.com' ? ['10.0.0.1'] : null));
  assert.deepEqual(out.map((e) => e.address), ['10.0.0.1', 'b.example.com']);
  assert.equal(out[1], c.endpoints[1]);
  // Resolved to nothing (a successful empty answer): no hosts from that name, as Envoy.
  assert.deepEqual(expandEndpoints(c, (h) => (h === 'a.example.com' ? [] : null)).map((e) => e.address), ['b.example.com']);
});

test('expandEndpoints: DNS_ROUND_ROBIN (LOGICAL_DNS) is one endpoint on the first address, its state kept by name', () => {
  const c = cluster('DNS_ROUND_ROBIN', [ep('api.example.com')]);
  assert.deepEqual(expandEndpoints(c, () => ['10.0.0.7', '10.0.0.8']), [{ ...ep('10.0.0.7'), hostname: 'api.example.com', stateAddress: 'api.example.com' }]);
  assert.deepEqual(expandEndpoints(c, () => []), []);
});

test('expandEndpoints: STATIC and NONE clusters, unix sockets and IPs are left alone', () => {
  const statik = cluster('STATIC', [ep('10.0.0.1')]);
  assert.equal(expandEndpoints(statik, () => ['1.2.3.4']), statik.endpoints);
  const none = cluster('NONE', [ep('a.example.com')]);
  assert.equal(expandEndpoints(none, () => ['1.2.3.4']), none.endpoints);
  const ips = cluster('DNS', [ep('10.0.0.1'), ep('unix:///tmp/s.sock')]);
  assert.equal(expandEndpoints(ips, () => ['1.2.3.4']), ips.endpoints);
  assert.deepEqual(dnsNamesOf(ips), []);
});

test('DnsResolver: first answer, periodic refresh picks up a changed set, a failed refresh keeps the last one', async () => {
  const t = new FakeTimers();
  const f = fakeLookup();
  const changes: string[] = [];
  const events: DnsEvent[] = [];
  const r = new DnsResolver({ lookup: f.lookup, timers: t, refreshMs: 1000, onChange: (h) => changes.push(h), onEvent: (e) => events.push(e) });
  f.answers.set('api.example.com', ['10.0.0.1', '10.0.0.2', '10.0.0.5']);
  r.retain(['API.example.com']);
  assert.equal(r.addresses('api.example.com'), null, 'nothing before the first answer');
  await r.settled();
  assert.deepEqual(r.addresses('api.example.com'), ['10.0.0.1', '10.0.0.2', '10.0.0.5']);
  assert.deepEqual(changes, ['api.example.com']);

  // Same set and first address, the rest reordered (round-robin DNS): no change.
  f.answers.set('api.example.com', ['10.0.0.1', '10.0.0.5', '10.0.0.2']);
  t.advance(1000);
  await r.settled();
  assert.equal(changes.length, 1);
  assert.equal(f.calls.length, 2);

  f.answers.set('api.example.com', ['10.0.0.3']);
  t.advance(999);
  await r.settled();
  assert.equal(f.calls.length, 2, 'not before the refresh interval');
  t.advance(1);
  await r.settled();
  assert.deepEqual(r.addresses('api.example.com'), ['10.0.0.3']);
  assert.equal(changes.length, 2);

  f.answers.set('api.example.com', Object.assign(new Error('queryA ESERVFAIL'), { code: 'ESERVFAIL' }));
  t.advance(1000);
  await r.settled();
  t.advance(1000);
  await r.settled();
  assert.deepEqual(r.addresses('api.example.com'), ['10.0.0.3'], 'last good addresses kept');
  assert.equal(changes.length, 2);
  const st = r.status()[0];
  assert.equal(st.attempts, 5);
  assert.equal(st.successes, 3);
  assert.equal(st.failures, 2);
  assert.match(st.lastError ?? '', /ESERVFAIL/);
  // One log-worthy failure per streak, then the recovery.
  f.answers.set('api.example.com', ['10.0.0.3']);
  t.advance(1000);
  await r.settled();
  assert.deepEqual(events.map((e) => e.kind), ['resolved', 'resolved', 'failed', 'recovered']);
  assert.equal(dnsEventLine(events[0]), null, 'a first answer is not logged');
  assert.equal(dnsEventLine(events[1]), 'dns: api.example.com now resolves to 10.0.0.3 (was 10.0.0.1, 10.0.0.5, 10.0.0.2)');
  assert.match(dnsEventLine(events[2]) ?? '', /^warning: dns: lookup of api\.example\.com failed \(queryA ESERVFAIL\); keeping its last addresses 10\.0\.0\.3$/);
  r.close();
  assert.equal(t.pending.size, 0, 'no timer left after close');
});

test('DnsResolver: a name that never resolves keeps retrying every interval, and says so once', async () => {
  const t = new FakeTimers();
  const f = fakeLookup();
  const events: DnsEvent[] = [];
  const r = new DnsResolver({ lookup: f.lookup, timers: t, refreshMs: 500, onEvent: (e) => events.push(e) });
  r.retain(['svc.invalid']);
  await r.settled();
  t.advance(500);
  await r.settled();
  assert.equal(r.addresses('svc.invalid'), null);
  assert.equal(f.calls.length, 2);
  assert.equal(events.length, 1);
  assert.match(dnsEventLine(events[0]) ?? '', /lookup of svc\.invalid failed \(getaddrinfo ENOTFOUND svc\.invalid\); each new connection resolves it/);
  r.close();
});

test('DnsResolver: a hung lookup fails after timeoutMs; a lookup that throws synchronously is a failure too', async () => {
  const t = new FakeTimers();
  let answer: ((a: DnsAnswer[]) => void) | null = null;
  const r = new DnsResolver({ lookup: () => new Promise((res) => (answer = res)), timers: t, refreshMs: 10_000, timeoutMs: 100 });
  r.retain(['slow.example.com']);
  t.advance(100);
  await r.settled();
  assert.match(r.status()[0].lastError ?? '', /timed out after 100 ms/);
  answer!([{ address: '10.0.0.1', family: 4 }]);
  assert.equal(r.addresses('slow.example.com'), null, 'a late answer is not taken');
  r.close();

  const r2 = new DnsResolver({ lookup: () => { throw new Error('boom'); }, timers: new FakeTimers() });
  r2.retain(['x.example.com']);
  await r2.settled();
  assert.equal(r2.status()[0].failures, 1);
  r2.close();
});

test('DnsResolver: a TTL in the answer sets the next refresh (respect_dns_ttl)', async () => {
  const t = new FakeTimers();
  let calls = 0;
  const r = new DnsResolver({
    lookup: async () => {
      calls++;
      return [{ address: '10.0.0.1', family: 4, ttlSeconds: 5 }, { address: '10.0.0.2', family: 4, ttlSeconds: 2 }];
    },
    timers: t,
    refreshMs: 60_000,
  });
  r.retain(['ttl.example.com']);
  await r.settled();
  t.advance(2000);
  await r.settled();
  assert.equal(calls, 2);
  r.close();
});

test('DnsResolver: retain forgets names no longer used (timer stopped) and a late answer is dropped', async () => {
  const t = new FakeTimers();
  const f = fakeLookup();
  f.answers.set('a.example.com', ['10.0.0.1']);
  f.answers.set('b.example.com', ['10.0.0.2']);
  const changes: string[] = [];
  const r = new DnsResolver({ lookup: f.lookup, timers: t, refreshMs: 1000, onChange: (h) => changes.push(h) });
  r.retain(['a.example.com', 'b.example.com']);
  r.retain(['a.example.com']); // b's lookup is in flight
  await r.settled();
  assert.deepEqual(changes, ['a.example.com']);
  assert.equal(r.addresses('b.example.com'), null);
  assert.equal(t.pending.size, 1, 'only a.example.com refreshes');
  assert.throws(() => new DnsResolver({ refreshMs: 0 }), /refreshMs must be a positive number/);
  r.close();
});

test('DnsResolver: at most maxConcurrentLookups run at once; a timed-out lookup holds its slot until it really ends', async () => {
  const t = new FakeTimers();
  const started: string[] = [];
  const finish = new Map<string, (a: DnsAnswer[]) => void>();
  const r = new DnsResolver({
    lookup: (h) => {
      started.push(h);
      return new Promise((res) => finish.set(h, res));
    },
    timers: t,
    timeoutMs: 100,
    maxConcurrentLookups: 2,
  });
  r.retain(['a.example.com', 'b.example.com', 'c.example.com']);
  assert.deepEqual(started, ['a.example.com', 'b.example.com']);
  t.advance(100); // both time out on our side, but getaddrinfo is still running
  await new Promise((res) => setImmediate(res));
  assert.equal(r.status().find((s) => s.hostname === 'a.example.com')?.failures, 1);
  assert.deepEqual(started, ['a.example.com', 'b.example.com']);
  finish.get('a.example.com')!([{ address: '10.0.0.1', family: 4 }]);
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(started, ['a.example.com', 'b.example.com', 'c.example.com']);
  assert.equal(r.addresses('a.example.com'), null, 'the late answer is not taken');
  finish.get('c.example.com')!([{ address: '10.0.0.3', family: 4 }]);
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(r.addresses('c.example.com'), ['10.0.0.3']);
  r.close();
  await r.settled();
});
