/**
 * The server name (SNI) of a TLS ClientHello, read from the first bytes of a connection
 * without terminating TLS (for Gateway PASSTHROUGH servers). Pure; bounds-checked.
 */

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
