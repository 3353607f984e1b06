import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveTimeoutMs, formatGrpcTimeout, parseGrpcTimeout } from './grpc-timeout.js';

const PARSE: Array<[string | string[] | undefined, number | null]> = [
  ['1H', 3_600_000],
  ['2M', 120_000],
  ['3S', 3000],
  ['250m', 250],
  ['1500u', 2],
  ['1000u', 1],
  ['1n', 1],
  ['0m', 0],
  ['99999999m', 99_999_999],
  ['100000000m', null], // more than 8 digits
  ['10', null], // no unit
  ['m', null],
  ['1x', null],
  ['-1S', null],
  ['1.5S', null],
  ['', null],
  [undefined, null],
  [['1S', '2S'], null],
];

for (const [v, want] of PARSE) {
  test(`parseGrpcTimeout ${JSON.stringify(v)} -> ${want}`, () => assert.equal(parseGrpcTimeout(v), want));
}

const FORMAT: Array<[number, string]> = [
  [0, '0m'],
  [300, '300m'],
  [99_999_999, '99999999m'],
  [100_000_000, '100000S'],
  [99_999_999_000 * 60, '99999999M'],
];

for (const [ms, want] of FORMAT) {
  test(`formatGrpcTimeout ${ms} -> ${want}`, () => {
    assert.equal(formatGrpcTimeout(ms), want);
    assert.ok(parseGrpcTimeout(want)! <= ms);
  });
}

// [route timeout, gRPC request, grpc-timeout, effective]
const EFFECTIVE: Array<[number | null, boolean, number | null, number]> = [
  [null, false, null, 0],
  [500, false, null, 500],
  [500, false, 100, 500], // not a gRPC request: the header means nothing
  [null, true, null, 0],
  [null, true, 300, 300], // no VS timeout: the header is the timeout
  [500, true, 300, 300],
  [500, true, 5000, 500], // capped by the VS timeout
  [500, true, null, 500],
  [500, true, 0, 500], // 0 = infinite, so the VS timeout
  [0, true, 0, 0],
];

for (const [route, grpc, header, want] of EFFECTIVE) {
  test(`effectiveTimeoutMs route ${route} grpc ${grpc} header ${header} -> ${want}`, () => assert.equal(effectiveTimeoutMs(route, grpc, header), want));
}
