import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmix32, hashKey, murmur3 } from './hash.js';
import { seeded } from './testkit.js';

// Published MurmurHash3 x86_32 test vectors.
const VECTORS: Array<[string, number, number]> = [
  ['', 0, 0x00000000],
  ['', 1, 0x514e28b7],
  ['', 0xffffffff, 0x81f16f39],
  ['a', 0, 0x3c2569b2],
  ['abc', 0, 0xb3dd93fa],
  ['abcd', 0, 0x43ed676a],
  ['hello', 0, 0x248bfa47],
  ['hello, world', 0, 0x149bbb7f],
  ['The quick brown fox jumps over the lazy dog', 0, 0x2e4ff723],
];
for (const [s, seed, want] of VECTORS) {
  test(`murmur3(${JSON.stringify(s)}, ${seed}) = 0x${want.toString(16)}`, () => assert.equal(murmur3(s, seed), want));
}

/** Straightforward MurmurHash3 over an explicit byte array, to check the streaming UTF-8 path. */
function reference(bytes: Uint8Array, seed: number): number {
  let h = seed | 0;
  const blocks = bytes.length >> 2;
  const mix = (k: number): number => {
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    return Math.imul(k, 0x1b873593);
  };
  for (let i = 0; i < blocks; i++) {
    const k = bytes[4 * i] | (bytes[4 * i + 1] << 8) | (bytes[4 * i + 2] << 16) | (bytes[4 * i + 3] << 24);
    h ^= mix(k);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  const tail = bytes.length & 3;
  for (let j = tail - 1; j >= 0; j--) k = (k << 8) | bytes[4 * blocks + j];
  if (tail) h ^= mix(k);
  return fmix32(h ^ bytes.length);
}

const UNICODE_ROWS = ['é', 'naïve café', '日本語のキー', '🙂 emoji 🚀', 'x\uD800y', '\uDC00', 'a\uD83D', 'ß'.repeat(13)];
for (const s of UNICODE_ROWS) {
  test(`UTF-8 streaming equals hashing the encoded bytes: ${JSON.stringify(s)}`, () => {
    assert.equal(murmur3(s, 0), reference(new TextEncoder().encode(s), 0));
  });
}

test('random strings: streaming equals the reference', () => {
  const rnd = seeded(99);
  for (let i = 0; i < 500; i++) {
    const len = Math.floor(rnd() * 40);
    const s = String.fromCharCode(...Array.from({ length: len }, () => Math.floor(rnd() * 0x10000)));
    const seed = Math.floor(rnd() * 2 ** 32);
    assert.equal(murmur3(s, seed), reference(new TextEncoder().encode(s), seed), `case ${i}`);
  }
});

test('hashKey is murmur3 with seed 0 and is unsigned 32-bit', () => {
  assert.equal(hashKey('hello'), 0x248bfa47);
  for (const s of ['a', 'b', '10.0.0.1', 'user-42']) {
    const h = hashKey(s);
    assert.ok(Number.isInteger(h) && h >= 0 && h < 2 ** 32);
  }
});
