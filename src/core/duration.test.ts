import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDurationMs, parseDuration, validateDuration } from './duration.js';

void test('parseDuration accepts Go duration strings', () => {
  const cases: Array<[string, number]> = [
    ['0', 0],
    ['-0', 0],
    ['+0', 0],
    ['0s', 0],
    ['1s', 1000],
    ['1.5s', 1500],
    ['.5s', 500],
    ['1.s', 1000],
    ['300ms', 300],
    ['10us', 0.01],
    ['10µs', 0.01], // U+00B5
    ['10μs', 0.01], // U+03BC
    ['5ns', 0.000005],
    ['1500us', 1.5],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1h30m15.5s', 5_415_500],
    ['1m1m', 120_000], // Go allows repeated units
    ['1s500ms', 1500],
    ['-1.5h', -5_400_000],
    ['+5s', 5000],
    ['0.001s', 1],
    ['1.0000000001s', 1000], // sub-ns fraction truncated
    ['2562047h', 2562047 * 3_600_000], // near int64 ns max
  ];
  for (const [s, want] of cases) {
    const got = parseDuration(s);
    assert.ok(got !== null, `${s} should parse`);
    assert.ok(Math.abs(got - want) < 1e-9, `${s}: got ${got}, want ${want}`);
  }
});

void test('parseDuration rejects invalid input', () => {
  const cases: unknown[] = [
    '',
    '1',
    '10',
    '0.0',
    's',
    '.s',
    '.',
    '-',
    '1x',
    '1 s',
    ' 1s',
    '1s ',
    '1S',
    '1sec',
    '1d',
    '1.2.3s',
    '--1s',
    '1h-30m',
    '3000000h', // overflows int64 nanoseconds
    1000,
    0,
    null,
    undefined,
    {},
  ];
  for (const s of cases) assert.equal(parseDuration(s), null, JSON.stringify(s));
});

void test('validateDuration', () => {
  const cases: Array<[string, { allowZero?: boolean; secondsPrecision?: boolean } | undefined, string | null]> = [
    ['1ms', undefined, null],
    ['1s', undefined, null],
    ['1.5s', undefined, null],
    ['1h30m', undefined, null],
    ['1000us', undefined, null],
    ['0s', undefined, 'duration must be greater than 1ms'],
    ['0', undefined, 'duration must be greater than 1ms'],
    ['0s', { allowZero: true }, null],
    ['0', { allowZero: true }, null],
    ['0.5ms', undefined, 'duration must be greater than 1ms'],
    ['0.5ms', { allowZero: true }, 'duration must be greater than 1ms'],
    ['999us', undefined, 'duration must be greater than 1ms'],
    ['-1s', undefined, 'duration must be greater than 1ms'],
    ['-1s', { allowZero: true }, 'duration must be greater than 1ms'],
    ['1500us', undefined, 'only durations to ms precision are supported'],
    ['1.0005s', undefined, 'only durations to ms precision are supported'],
    ['1000001ns', undefined, 'only durations to ms precision are supported'],
    ['abc', undefined, 'invalid duration "abc"'],
    ['', undefined, 'invalid duration ""'],
    ['10', undefined, 'invalid duration "10"'],
    ['5s', { secondsPrecision: true }, null],
    ['1m', { secondsPrecision: true }, null],
    ['1500ms', { secondsPrecision: true }, 'duration is accurate only to seconds precision'],
    ['1500us', { secondsPrecision: true }, 'only durations to ms precision are supported'],
    ['0s', { secondsPrecision: true }, 'duration must be greater than 1ms'],
    ['0s', { secondsPrecision: true, allowZero: true }, null],
  ];
  for (const [s, opts, want] of cases) assert.equal(validateDuration(s, opts), want, `${s} ${JSON.stringify(opts)}`);
});

void test('formatDurationMs', () => {
  const cases: Array<[number, string]> = [
    [0, '0s'],
    [1, '1ms'],
    [100, '100ms'],
    [1.5, '1.5ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [25, '25ms'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [90_500, '1m30.5s'],
    [3_600_000, '1h'],
    [5_400_000, '1h30m'],
    [3_605_000, '1h5s'],
    [86_400_000, '24h'],
    [0.25, '250us'],
    [0.0015, '1.5us'],
    [0.000005, '5ns'],
    [-1500, '-1.5s'],
    [0.1 + 0.2, '300us'],
  ];
  for (const [ms, want] of cases) assert.equal(formatDurationMs(ms), want, String(ms));
});

void test('formatDurationMs round-trips through parseDuration', () => {
  for (const ms of [0, 1, 7, 250, 1000, 1234, 59_999, 61_001, 3_599_999, 7_322_250, 0.5, 0.001]) {
    const back = parseDuration(formatDurationMs(ms));
    assert.ok(back !== null && Math.abs(back - ms) < 1e-9, `${ms} -> ${formatDurationMs(ms)} -> ${back}`);
  }
});
