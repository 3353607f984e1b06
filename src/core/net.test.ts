import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipInCidr, isIP, isIPv4, isIPv6, parseCIDR } from './net.js';

void test('isIPv4 / isIPv6 / isIP', () => {
  const cases: Array<[string, boolean, boolean]> = [
    // input, v4, v6
    ['1.2.3.4', true, false],
    ['255.255.255.255', true, false],
    ['0.0.0.0', true, false],
    ['256.1.1.1', false, false],
    ['01.2.3.4', false, false],
    ['1.2.3', false, false],
    [' 1.2.3.4', false, false],
    ['::', false, true],
    ['::1', false, true],
    ['2001:db8::1', false, true],
    ['::ffff:1.2.3.4', false, true],
    ['fe80::1%eth0', false, true],
    ['[::1]', false, false],
    ['1::2::3', false, false],
    ['foo.com', false, false],
    ['', false, false],
  ];
  for (const [s, v4, v6] of cases) {
    assert.equal(isIPv4(s), v4, `isIPv4(${s})`);
    assert.equal(isIPv6(s), v6, `isIPv6(${s})`);
    assert.equal(isIP(s), v4 || v6, `isIP(${s})`);
  }
});

void test('parseCIDR accepts blocks and bare addresses', () => {
  const cases: Array<[string, 4 | 6, number, bigint]> = [
    ['10.0.0.0/8', 4, 8, 0x0a000000n],
    ['10.1.2.3/8', 4, 8, 0x0a000000n], // host bits cleared
    ['1.2.3.4', 4, 32, 0x01020304n],
    ['1.2.3.4/32', 4, 32, 0x01020304n],
    ['0.0.0.0/0', 4, 0, 0n],
    ['192.168.1.255/24', 4, 24, 0xc0a80100n],
    ['::/0', 6, 0, 0n],
    ['::1', 6, 128, 1n],
    ['2001:db8::/32', 6, 32, 0x20010db8n << 96n],
    ['2001:db8:ffff::1/32', 6, 32, 0x20010db8n << 96n],
    ['::ffff:1.2.3.4/128', 6, 128, 0xffff01020304n],
    ['1:2:3:4:5:6:7:8', 6, 128, 0x00010002000300040005000600070008n],
    ['1::8', 6, 128, (1n << 112n) | 8n],
  ];
  for (const [s, family, prefix, base] of cases) {
    const r = parseCIDR(s);
    assert.deepEqual(r, { ok: true, family, prefix, base }, s);
  }
});

void test('parseCIDR rejects malformed input with Istio wording', () => {
  const cases: Array<[string, string]> = [
    ['1.2.3.4/33', '"1.2.3.4/33" is not a valid CIDR block'],
    ['::1/129', '"::1/129" is not a valid CIDR block'],
    ['1.2.3.4/', '"1.2.3.4/" is not a valid CIDR block'],
    ['1.2.3.4/-1', '"1.2.3.4/-1" is not a valid CIDR block'],
    ['1.2.3.4/8/8', '"1.2.3.4/8/8" is not a valid CIDR block'],
    ['1.2.3/8', '"1.2.3/8" is not a valid CIDR block'],
    ['fe80::1%eth0/64', '"fe80::1%eth0/64" is not a valid CIDR block'],
    ['foo', 'foo is not a valid IP'],
    ['fe80::1%eth0', 'fe80::1%eth0 is not a valid IP'],
    ['', ' is not a valid IP'],
  ];
  for (const [s, error] of cases) assert.deepEqual(parseCIDR(s), { ok: false, error }, s);
});

void test('ipInCidr', () => {
  const cases: Array<[string, string, boolean]> = [
    ['10.1.2.3', '10.0.0.0/8', true],
    ['11.1.2.3', '10.0.0.0/8', false],
    ['1.2.3.4', '1.2.3.4', true],
    ['1.2.3.5', '1.2.3.4', false],
    ['1.2.3.4', '0.0.0.0/0', true],
    ['192.168.1.7', '192.168.1.0/29', true],
    ['192.168.1.8', '192.168.1.0/29', false],
    ['2001:db8::5', '2001:db8::/32', true],
    ['2001:db9::5', '2001:db8::/32', false],
    ['::1', '::/0', true],
    ['::ffff:1.2.3.4', '1.2.3.0/24', false], // families must agree
    ['1.2.3.4', '::/0', false],
    ['bogus', '10.0.0.0/8', false],
    ['10.0.0.1', 'bogus', false],
  ];
  for (const [ip, cidr, want] of cases) assert.equal(ipInCidr(ip, cidr), want, `${ip} in ${cidr}`);
});
