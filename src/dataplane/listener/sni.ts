/**
 * The server name (SNI) of a TLS ClientHello, read from the first bytes of a connection
 * without terminating TLS (Gateway PASSTHROUGH servers, TLS inside sidecar CONNECT tunnels),
 * and the runtime match of L4 routes on it (`sniHosts`, `destinationSubnets`). Pure;
 * bounds-checked.
 */
import { ipInCidr } from '../../core/net.js';

export type SniResult =
  | { kind: 'need-more' }
  | { kind: 'not-tls' }
  | { kind: 'sni'; name: string | null };

/** Parses a TLS record holding a ClientHello; `name` is null when the client sent no SNI. */
export function readSni(b: Buffer): SniResult {
  if (b.length < 5) return { kind: 'need-more' };
  if (b[0] !== 22 || b[1] !== 3) return { kind: 'not-tls' }; // handshake record, TLS 1.x
  const recordLen = b.readUInt16BE(3);
  if (b.length < 5 + recordLen) return { kind: 'need-more' };
  let p = 5;
  const end = 5 + recordLen;
  if (b[p] !== 1) return { kind: 'not-tls' }; // ClientHello
  p += 4; // type + 3-byte length
  p += 2 + 32; // client version + random
  if (p >= end) return { kind: 'not-tls' };
  p += 1 + b[p]; // session id
  if (p + 2 > end) return { kind: 'not-tls' };
  p += 2 + b.readUInt16BE(p); // cipher suites
  if (p >= end) return { kind: 'not-tls' };
  p += 1 + b[p]; // compression methods
  if (p + 2 > end) return { kind: 'sni', name: null }; // no extensions
  const extEnd = Math.min(end, p + 2 + b.readUInt16BE(p));
  p += 2;
  while (p + 4 <= extEnd) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    p += 4;
    if (type === 0 && p + 5 <= extEnd) {
      // server_name: list length (2), name type (1, 0 = host_name), name length (2), name
      const nameLen = b.readUInt16BE(p + 3);
      if (b[p + 2] === 0 && p + 5 + nameLen <= extEnd) return { kind: 'sni', name: b.toString('latin1', p + 5, p + 5 + nameLen).toLowerCase() };
    }
    p += len;
  }
  return { kind: 'sni', name: null };
}

/** Does an SNI pattern (`a.com`, `*.a.com`, `*`) cover the name? */
export function sniCovers(pattern: string, name: string): boolean {
  if (pattern === '*' || pattern === name) return true;
  if (pattern.startsWith('*.')) return name.length > pattern.length - 1 && name.endsWith(pattern.slice(1));
  return false;
}

/** What an L4 route is matched on: the ClientHello's SNI and the destination address. */
export interface L4Connection {
  /** Lower-case server name; null when the bytes are not TLS or the client sent none. */
  sni: string | null;
  /** The destination IP (the address dialled or the service VIP), null when unknown. */
  destinationIp: string | null;
}

/** The runtime conditions of an L4 route (VirtualService `tls`/`tcp` match). */
export interface L4Conditions {
  /** Empty = any (or no) SNI. */
  readonly sniHosts: readonly string[];
  /** Empty = any destination. */
  readonly destinationSubnets?: readonly string[];
}

/** One evaluated L4 route, for explain. */
export interface L4TraceRow<R> {
  route: R;
  matched: boolean;
  failures: string[];
}

/** Do the route's runtime conditions hold? Failed conditions are appended to `failures`. */
export function l4RouteMatches(r: L4Conditions, c: L4Connection, failures?: string[]): boolean {
  let ok = true;
  if (r.sniHosts.length > 0) {
    if (c.sni === null) {
      ok = false;
      failures?.push(`sniHosts [${r.sniHosts.join(', ')}]: the connection carries no SNI (not TLS, or no server name sent)`);
    } else if (!r.sniHosts.some((h) => sniCovers(h, c.sni as string))) {
      ok = false;
      failures?.push(`sniHosts [${r.sniHosts.join(', ')}] do not cover SNI "${c.sni}"`);
    }
  }
  const subnets = r.destinationSubnets ?? [];
  if (subnets.length > 0) {
    const ip = c.destinationIp;
    if (ip === null) {
      ok = false;
      failures?.push(`destinationSubnets [${subnets.join(', ')}]: the destination is not an IP address`);
    } else if (!subnets.some((s) => ipInCidr(ip, s))) {
      ok = false;
      failures?.push(`destination ${ip} is not in destinationSubnets [${subnets.join(', ')}]`);
    }
  }
  return ok;
}

/**
 * The first route whose runtime conditions hold (VirtualService `tls`/`tcp` rules are ordered;
 * the first match wins). With `trace`, every route up to and including the match is recorded.
 */
export function firstL4Match<R extends L4Conditions>(routes: readonly R[], c: L4Connection, trace?: Array<L4TraceRow<R>>): R | null {
  for (const r of routes) {
    const failures: string[] | undefined = trace ? [] : undefined;
    const matched = l4RouteMatches(r, c, failures);
    trace?.push({ route: r, matched, failures: failures ?? [] });
    if (matched) return r;
  }
  return null;
}
