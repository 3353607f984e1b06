/**
 * String hashing for consistent hashing: MurmurHash3, x86 32-bit variant (Austin Appleby's
 * public-domain algorithm, written here from its description), over the UTF-8 bytes of the
 * string. The bytes are produced on the fly from UTF-16 code units, so hashing allocates
 * nothing; lone surrogates are hashed as U+FFFD, exactly as `TextEncoder` would encode them.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** Mixes one 4-byte little-endian block `k` into the running hash `h`. */
function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, C2);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** MurmurHash3's finaliser: a cheap, well-mixing bijection on 32-bit integers. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * MurmurHash3 x86_32 of the UTF-8 encoding of `s` with the given seed; unsigned 32-bit result.
 * `murmur3('hello', 0) === 0x248bfa47`.
 */
export function murmur3(s: string, seed: number): number {
  let h = seed | 0;
  let block = 0; // bytes gathered for the current 4-byte block, little-endian
  let shift = 0; // bit position of the next byte in `block`
  let len = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    let enc: number; // up to 4 UTF-8 bytes, first byte lowest
    let nb: number;
    if (c < 0x80) {
      enc = c;
      nb = 1;
    } else if (c < 0x800) {
      enc = (0xc0 | (c >> 6)) | ((0x80 | (c & 63)) << 8);
      nb = 2;
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (d >= 0xdc00 && d <= 0xdfff) {
          const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          enc =
            (0xf0 | (cp >> 18)) |
            ((0x80 | ((cp >> 12) & 63)) << 8) |
            ((0x80 | ((cp >> 6) & 63)) << 16) |
            ((0x80 | (cp & 63)) << 24);
          nb = 4;
        } else {
          c = 0xfffd;
          enc = (0xe0 | (c >> 12)) | ((0x80 | ((c >> 6) & 63)) << 8) | ((0x80 | (c & 63)) << 16);
          nb = 3;
        }
      } else {
        enc = (0xe0 | (c >> 12)) | ((0x80 | ((c >> 6) & 63)) << 8) | ((0x80 | (c & 63)) << 16);
        nb = 3;
      }
    }
    for (let j = 0; j < nb; j++) {
      block |= ((enc >>> (j << 3)) & 0xff) << shift;
      shift += 8;
      if (shift === 32) {
        h = mixBlock(h, block);
        block = 0;
        shift = 0;
      }
    }
    len += nb;
  }
  if (shift !== 0) {
    let k = Math.imul(block, C1);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, C2);
  }
  return fmix32(h ^ len);
}

/**
 * Stable hash of a request's hash-policy value (header value, cookie, source IP, query
 * parameter) for CONSISTENT_HASH picking: MurmurHash3 x86_32, seed 0, over UTF-8.
 * Returns an unsigned 32-bit integer; the same string always gives the same number, on
 * every platform and in every process.
 */
export function hashKey(s: string): number {
  return murmur3(s, 0);
}
