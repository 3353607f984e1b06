import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ALL_FLAGS_MASK,
  DOCUMENTED_FLAG_ORDER,
  Flag,
  RESPONSE_FLAGS,
  formatFlags,
  formatFlagsLong,
  parseFlags,
} from './flags.js';

void test('formatFlags prints codes in Envoy order', () => {
  const cases: Array<[number, string]> = [
    [0, '-'],
    [Flag.NR, 'NR'],
    [Flag.UH, 'UH'],
    [Flag.UF | Flag.URX, 'UF,URX'],
    [Flag.URX | Flag.UF, 'UF,URX'],
    // Envoy's printer walks its enum order, where DC sits after RLSE: DC+UF prints UF,DC.
    [Flag.DC | Flag.UF, 'UF,DC'],
    [Flag.UO | Flag.UH | Flag.LH, 'LH,UH,UO'],
    [Flag.DI | Flag.FI, 'DI,FI'],
    [Flag.UT | Flag.URX | Flag.UPE, 'UT,URX,UPE'],
    [Flag.DO, 'DO'],
    [Flag.DR, 'DR'],
    [ALL_FLAGS_MASK, RESPONSE_FLAGS.map((f) => f.code).join(',')],
    [1 << 30, '-'], // undefined bits are ignored
    [(1 << 30) | Flag.NC, 'NC'],
  ];
  for (const [mask, want] of cases) assert.equal(formatFlags(mask), want, `mask ${mask}`);
});

void test('formatFlagsLong prints long names', () => {
  const cases: Array<[number, string]> = [
    [0, '-'],
    [Flag.UH, 'NoHealthyUpstream'],
    [Flag.UF | Flag.URX, 'UpstreamConnectionFailure,UpstreamRetryLimitExceeded'],
    [Flag.NR | Flag.DC, 'NoRouteFound,DownstreamConnectionTermination'],
    [Flag.OM | Flag.DF, 'OverloadManagerTerminated,DnsResolutionFailed'],
  ];
  for (const [mask, want] of cases) assert.equal(formatFlagsLong(mask), want);
});

void test('flag table: bits, codes and names are consistent', () => {
  assert.equal(RESPONSE_FLAGS.length, 29);
  RESPONSE_FLAGS.forEach((f, i) => {
    assert.equal(f.bit, 2 ** i);
    assert.equal(Flag[f.code as keyof typeof Flag], f.bit, f.code);
  });
  assert.deepEqual(new Set(DOCUMENTED_FLAG_ORDER), new Set(RESPONSE_FLAGS.map((f) => f.code)));
  assert.equal(Object.keys(Flag).length, RESPONSE_FLAGS.length);
  // The bit values equal Envoy's ResponseFlag enum (e.g. LH=0x1, DC=0x4000, URX=0x8000).
  assert.equal(Flag.LH, 0x1);
  assert.equal(Flag.NR, 0x100);
  assert.equal(Flag.DC, 0x4000);
  assert.equal(Flag.URX, 0x8000);
  assert.equal(Flag.NC, 0x1000000);
});

void test('parseFlags round-trips and rejects unknown names', () => {
  const cases: Array<[string, number | null]> = [
    ['-', 0],
    ['', 0],
    ['UF,URX', Flag.UF | Flag.URX],
    ['URX, UF', Flag.UF | Flag.URX],
    ['NoHealthyUpstream', Flag.UH],
    ['UH,NoRouteFound', Flag.UH | Flag.NR],
    ['XX', null],
    ['UF,', null],
  ];
  for (const [s, want] of cases) assert.equal(parseFlags(s), want, s);
  for (let i = 0; i < RESPONSE_FLAGS.length; i++) {
    const m = (1 << i) | (1 << ((i + 7) % RESPONSE_FLAGS.length));
    assert.equal(parseFlags(formatFlags(m)), m);
    assert.equal(parseFlags(formatFlagsLong(m)), m);
  }
});
