import { test } from 'node:test';
import assert from 'node:assert/strict';
import { abortReply, decideFault, faultFires, grpcCode } from './fault.js';
import { seeded } from '../lb/testkit.js';
import { Flag } from '../../observability/flags.js';
import type { FaultPolicy } from '../../snapshot/types.js';

/** A generator that returns the given values in turn (and fails the test if over-drawn). */
function draws(...values: number[]): () => number {
  let i = 0;
  return () => {
    assert.ok(i < values.length, 'rnd drawn more often than expected');
    return values[i++];
  };
}

const delay = (percentage: number, fixedDelayMs = 100): FaultPolicy => ({ delay: { fixedDelayMs, percentage }, abort: null });
const abort = (percentage: number, httpStatus: number | null = 503, grpcStatus: string | null = null): FaultPolicy => ({
  delay: null,
  abort: { httpStatus, grpcStatus, percentage },
});

const rows: Array<[string, FaultPolicy | null, number[], { delayMs: number; abort: boolean; flags: number }]> = [
  ['no policy: nothing, no draw', null, [], { delayMs: 0, abort: false, flags: 0 }],
  ['delay 100%', delay(100), [0.999999], { delayMs: 100, abort: false, flags: Flag.DI }],
  ['delay 0% never fires', delay(0), [], { delayMs: 0, abort: false, flags: 0 }],
  ['delay 50%, draw below', delay(50), [0.4999], { delayMs: 100, abort: false, flags: Flag.DI }],
  ['delay 50%, draw at the boundary', delay(50), [0.5], { delayMs: 0, abort: false, flags: 0 }],
  ['delay of 0 ms is not injected', delay(100, 0), [0.1], { delayMs: 0, abort: false, flags: 0 }],
  ['abort 100%', abort(100), [0.9], { delayMs: 0, abort: true, flags: Flag.FI }],
  ['abort 10%, draw above', abort(10), [0.2], { delayMs: 0, abort: false, flags: 0 }],
  ['abort 0.0001% is one in a million', abort(0.0001), [0.0000005], { delayMs: 0, abort: true, flags: Flag.FI }],
  ['abort 0.0001%, second slot misses', abort(0.0001), [0.000001], { delayMs: 0, abort: false, flags: 0 }],
  [
    'delay and abort, both fire (delay drawn first)',
    { delay: { fixedDelayMs: 7000, percentage: 50 }, abort: { httpStatus: 500, grpcStatus: null, percentage: 50 } },
    [0.1, 0.2],
    { delayMs: 7000, abort: true, flags: Flag.DI | Flag.FI },
  ],
  [
    'delay and abort, only the abort fires',
    { delay: { fixedDelayMs: 7000, percentage: 50 }, abort: { httpStatus: 500, grpcStatus: null, percentage: 50 } },
    [0.9, 0.2],
    { delayMs: 0, abort: true, flags: Flag.FI },
  ],
  ['abort without an error type never fires', abort(100, null, null), [], { delayMs: 0, abort: false, flags: 0 }],
];

for (const [name, policy, values, want] of rows) {
  test(`decideFault: ${name}`, () => {
    const d = decideFault(policy, draws(...values));
    assert.equal(d.delayMs, want.delayMs);
    assert.equal(d.abort !== null, want.abort);
    assert.equal(d.flags, want.flags);
  });
}

test('decideFault: the abort carries the configured status', () => {
  assert.deepEqual(decideFault(abort(100, 418), () => 0).abort, { httpStatus: 418, grpcStatus: null });
  assert.deepEqual(decideFault(abort(100, null, 'UNAVAILABLE'), () => 0).abort, { httpStatus: null, grpcStatus: 'UNAVAILABLE' });
});

test('faultFires: per-million truncation like Istio (uint32(value*10000))', () => {
  // 0.00005% -> numerator floor(0.5) = 0: never fires, even for a zero draw.
  assert.equal(faultFires(0.00005, () => 0), false);
  assert.equal(faultFires(100, () => 0.9999999), true);
  assert.equal(faultFires(150, () => 0.9999999), true);
  assert.equal(faultFires(-1, () => 0), false);
  assert.equal(faultFires(Number.NaN, () => 0), false);
});

// Statistical rows: 10,000 seeded draws per row; the share must land within ±2 points.
const shares: Array<[string, FaultPolicy, 'delay' | 'abort', number]> = [
  ['abort 50%', abort(50), 'abort', 50],
  ['abort 10%', abort(10), 'abort', 10],
  ['abort 90%', abort(90), 'abort', 90],
  ['delay 50%', delay(50), 'delay', 50],
  ['delay 25%', delay(25), 'delay', 25],
];
for (const [name, policy, what, pct] of shares) {
  test(`decideFault: ${name} over 10,000 requests is within ±2 points`, () => {
    const rnd = seeded(0xfa17 + pct);
    let hits = 0;
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const d = decideFault(policy, rnd);
      if (what === 'abort' ? d.abort !== null : d.delayMs > 0) hits++;
    }
    const got = (hits / n) * 100;
    assert.ok(Math.abs(got - pct) <= 2, `${name}: ${got.toFixed(2)}% not within ±2 of ${pct}%`);
  });
}

test('decideFault: delay and abort are independent (joint share ~ product)', () => {
  const policy: FaultPolicy = { delay: { fixedDelayMs: 5, percentage: 50 }, abort: { httpStatus: 503, grpcStatus: null, percentage: 50 } };
  const rnd = seeded(42);
  const n = 10_000;
  let both = 0;
  let delayed = 0;
  let aborted = 0;
  for (let i = 0; i < n; i++) {
    const d = decideFault(policy, rnd);
    if (d.delayMs > 0) delayed++;
    if (d.abort) aborted++;
    if (d.delayMs > 0 && d.abort) both++;
  }
  assert.ok(Math.abs((delayed / n) * 100 - 50) <= 2);
  assert.ok(Math.abs((aborted / n) * 100 - 50) <= 2);
  assert.ok(Math.abs((both / n) * 100 - 25) <= 2, `both: ${(both / n) * 100}%`);
});

const grpcRows: Array<[string, number]> = [
  ['OK', 0],
  ['CANCELLED', 1],
  ['DEADLINE_EXCEEDED', 4],
  ['RESOURCE_EXHAUSTED', 8],
  ['UNIMPLEMENTED', 12],
  ['UNAVAILABLE', 14],
  ['UNAUTHENTICATED', 16],
  ['unavailable', 0], // names are case-sensitive in Istio's map
  ['toString', 0], // not fooled by Object.prototype
];
for (const [name, code] of grpcRows) {
  test(`grpcCode(${name}) = ${code}`, () => assert.equal(grpcCode(name), code));
}

test('abortReply: http status, gRPC trailers-only, gRPC status on a plain request', () => {
  assert.deepEqual(abortReply({ httpStatus: 503, grpcStatus: null }, false), {
    status: 503,
    headers: { 'content-type': 'text/plain' },
    body: 'fault filter abort',
  });
  const g = abortReply({ httpStatus: null, grpcStatus: 'UNAVAILABLE' }, true);
  assert.equal(g.status, 200);
  assert.equal(g.headers['grpc-status'], '14');
  const p = abortReply({ httpStatus: null, grpcStatus: 'UNAVAILABLE' }, false);
  assert.equal(p.status, 200);
  assert.equal(p.body, 'fault filter abort');
});
