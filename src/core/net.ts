/**
 * IP address and CIDR helpers used by validation (ServiceEntry `addresses`, TCP/TLS
 * `destinationSubnets`, WorkloadEntry addresses) and by L4 matching in the data plane.
 *
 * Addresses are parsed into a bigint so one code path serves both families and CIDR
 * containment is a single mask-and-compare.
 */
import { isIP as nodeIsIP } from 'node:net';

/**
 * True for a dotted-quad IPv4 address. Leading zeros (`01.2.3.4`) are rejected, as by
 * Go's `netip.ParseAddr`, because they are ambiguous (octal in some parsers).
 */
export function isIPv4(s: string): boolean {
  return nodeIsIP(s) === 4;
}

/**
 * True for an IPv6 address, including embedded-IPv4 forms (`::ffff:1.2.3.4`) and a zone
 * suffix (`fe80::1%eth0`) — Istio's `netutil.IsValidIPAddress` (netip) accepts zones too.
 * Brackets (`[::1]`) are not part of an address and are rejected.
 */
export function isIPv6(s: string): boolean {
  return nodeIsIP(s) === 6;
}

/** True when `s` is an IPv4 or IPv6 address (see {@link isIPv4}, {@link isIPv6}). */
export function isIP(s: string): boolean {
  return nodeIsIP(s) !== 0;
}

/** Result of {@link parseCIDR}. `base` is the network address (host bits cleared). */
export type ParsedCIDR =
  | { ok: true; family: 4 | 6; prefix: number; base: bigint }
  | { ok: false; error: string };

const V4_BITS = 32;
const V6_BITS = 128;

/**
 * Parses `a.b.c.d/n` or `x:y::z/n`; a bare address is accepted as a /32 or /128 (Istio's
 * `ValidateIPSubnet` does the same). Host bits may be set (`10.0.0.1/8`), as Go's
 * `net.ParseCIDR` allows; the returned `base` has them cleared.
 *
 * Errors use Istio's wording: `"1.2.3.4/33" is not a valid CIDR block` for a malformed
 * block and `foo is not a valid IP` for a malformed bare address.
 */
export function parseCIDR(s: string): ParsedCIDR {
  const slash = s.indexOf('/');
  if (slash < 0) {
    const addr = parseIP(s);
    if (!addr) return { ok: false, error: `${s} is not a valid IP` };
    const bits = addr.family === 4 ? V4_BITS : V6_BITS;
    return { ok: true, family: addr.family, prefix: bits, base: addr.value };
  }
  const bad: ParsedCIDR = { ok: false, error: `${JSON.stringify(s)} is not a valid CIDR block` };
  const addrPart = s.slice(0, slash);
  const prefixPart = s.slice(slash + 1);
  // Only plain decimal digits: no sign, no spaces, and at most 3 digits so
  // absurd lengths cannot sneak past parseInt.
  if (!/^[0-9]{1,3}$/.test(prefixPart)) return bad;
  const addr = parseIP(addrPart);
  if (!addr) return bad;
  const bits = addr.family === 4 ? V4_BITS : V6_BITS;
  const prefix = Number(prefixPart);
  if (prefix > bits) return bad;
  return { ok: true, family: addr.family, prefix, base: addr.value & prefixMask(prefix, bits) };
}

/**
 * True when `ip` lies inside `cidr` (a block or a bare address). Families must agree:
 * like Envoy's CIDR ranges, `::ffff:1.2.3.4` is not inside `1.2.3.0/24`. Any malformed
 * input yields false rather than an exception because this runs on the request path.
 */
export function ipInCidr(ip: string, cidr: string): boolean {
  const addr = parseIP(ip);
  if (!addr) return false;
  const block = parseCIDR(cidr);
  if (!block.ok || block.family !== addr.family) return false;
  const bits = addr.family === 4 ? V4_BITS : V6_BITS;
  return (addr.value & prefixMask(block.prefix, bits)) === block.base;
}

/** Mask with the top `prefix` bits of a `bits`-wide address set. */
function prefixMask(prefix: number, bits: number): bigint {
  if (prefix === 0) return 0n;
  const all = (1n << BigInt(bits)) - 1n;
  return all ^ ((1n << BigInt(bits - prefix)) - 1n);
}

/**
 * Address → integer. Zoned IPv6 (`%eth0`) is refused here: a zone has no meaning inside a
 * CIDR and Go's `net.ParseIP`/`ParseCIDR` reject it as well.
 */
function parseIP(s: string): { family: 4 | 6; value: bigint } | null {
  const fam = nodeIsIP(s);
  if (fam === 4) return { family: 4, value: v4ToBigInt(s) };
  if (fam === 6 && !s.includes('%')) return { family: 6, value: v6ToBigInt(s) };
  return null;
}

/** Input already validated by node:net, so no error paths. */
function v4ToBigInt(s: string): bigint {
  let v = 0n;
  for (const part of s.split('.')) v = (v << 8n) | BigInt(Number(part));
  return v;
}

/** Input already validated by node:net (at most one `::`, optional IPv4 tail). */
function v6ToBigInt(s: string): bigint {
  const groupsOf = (part: string): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    for (const g of part.split(':')) {
      if (g.includes('.')) {
        // Embedded IPv4 tail counts as two 16-bit groups.
        const v4 = Number(v4ToBigInt(g));
        out.push(Math.floor(v4 / 0x10000), v4 % 0x10000);
      } else {
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const dbl = s.indexOf('::');
  let groups: number[];
  if (dbl >= 0) {
    const head = groupsOf(s.slice(0, dbl));
    const tail = groupsOf(s.slice(dbl + 2));
    const fill = new Array<number>(8 - head.length - tail.length).fill(0);
    groups = [...head, ...fill, ...tail];
  } else {
    groups = groupsOf(s);
  }
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return v;
}
