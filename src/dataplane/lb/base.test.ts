import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MODE_ANY, MODE_HEALTHY, MODE_NONE, hostWeight, modeFor, normalizeThreshold, type Mode } from './base.js';
import { host, hosts } from './testkit.js';

const THRESHOLD_ROWS: Array<[number | undefined, number]> = [
  [undefined, 50], [NaN, 50], [Infinity, 50], [0, 0], [30, 30], [-5, 0], [150, 100],
];
for (const [given, want] of THRESHOLD_ROWS) {
  test(`panic threshold ${given} -> ${want}`, () => assert.equal(normalizeThreshold(given), want));
}

const WEIGHT_ROWS: Array<[number, number]> = [[1, 1], [7, 7], [0.5, 0.5], [0, 1], [-3, 1], [NaN, 1], [Infinity, 1]];
for (const [given, want] of WEIGHT_ROWS) {
  test(`host weight ${given} -> ${want}`, () => assert.equal(hostWeight(host(0, { weight: given })), want));
}

// rows: hosts, unhealthy count, threshold -> mode
const MODE_ROWS: Array<[n: number, bad: number, threshold: number, want: Mode]> = [
  [4, 0, 50, MODE_HEALTHY],
  [4, 2, 50, MODE_HEALTHY], // 50% is not below 50%
  [4, 3, 50, MODE_ANY],
  [4, 4, 50, MODE_ANY],
  [4, 3, 0, MODE_HEALTHY],
  [4, 4, 0, MODE_NONE],
  [3, 1, 70, MODE_ANY], // 66.7% < 70%
  [10, 1, 100, MODE_ANY],
  [10, 0, 100, MODE_HEALTHY],
];
for (const [n, bad, threshold, want] of MODE_ROWS) {
  test(`${n - bad}/${n} healthy, threshold ${threshold} -> mode ${want}`, () => {
    const list = hosts(n);
    for (let i = 0; i < bad; i++) list[i].healthy = false;
    assert.equal(modeFor(list, threshold), want);
  });
}
