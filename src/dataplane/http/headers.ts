/**
 * Header handling on the proxy path: hop-by-hop stripping (RFC 9110 §7.6.1), the headers
 * Envoy adds (x-request-id, x-forwarded-*, x-envoy-attempt-count ...), and the route's
 * set/add/remove operations.
 */
import { randomUUID } from 'node:crypto';
import type { HeaderOps } from '../../snapshot/types.js';

export type HeaderMap = Record<string, string | string[]>;
type InHeaders = Readonly<Record<string, string | string[] | undefined>>;

/** Never forwarded in either direction (plus anything named in `Connection`). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-authenticate',
  'http2-settings',
  'host',
]);

/** Names listed in a `Connection` header value (lower-case), or null when there is none. */
function connectionListed(v: string | string[] | undefined): Set<string> | null {
  if (v === undefined) return null;
  const s = Array.isArray(v) ? v.join(',') : v;
  if (s === '' || s === 'keep-alive' || s === 'close') return null;
  const out = new Set<string>();
  for (const p of s.split(',')) {
    const n = p.trim().toLowerCase();
    if (n) out.add(n);
  }
  return out;
}

export interface UpstreamHeaderInput {
  /** Downstream request headers (node-style, lower-case; may include h2 pseudo headers). */
  headers: InHeaders;
  /** Authority to send upstream (after rewrites). */
  authority: string;
  /** true when the downstream scheme was https. */
  secure: boolean;
  /** Client address, appended to x-forwarded-for when `appendXff`. */
  remoteAddress: string | undefined;
  appendXff: boolean;
  /** Keep `te: trailers` (HTTP/2 / gRPC upstream). */
  keepTeTrailers: boolean;
}

/**
 * The headers the upstream sees, before route header operations: hop-by-hop and client-sent
 * `x-envoy-*` control headers removed (they are not trusted), x-request-id generated when
 * absent, x-forwarded-proto/-for set as Envoy does.
 */
export function upstreamRequestHeaders(inp: UpstreamHeaderInput): HeaderMap {
  const src = inp.headers;
  const listed = connectionListed(src.connection);
  const out: HeaderMap = {};
  for (const name in src) {
    const v = src[name];
    if (v === undefined) continue;
    const c0 = name.charCodeAt(0);
    if (c0 === 58 /* : */) continue;
    if (HOP_BY_HOP.has(name)) {
      if (name === 'te' && inp.keepTeTrailers && typeof v === 'string' && v.toLowerCase().includes('trailers')) out.te = 'trailers';
      continue;
    }
    if (c0 === 120 /* x */ && name.startsWith('x-envoy-')) continue;
    if (listed !== null && listed.has(name)) continue;
    out[name] = v;
  }
  if (out['x-request-id'] === undefined) out['x-request-id'] = randomUUID();
  // At the edge (gateway: Envoy's use_remote_address) the proxy knows the scheme and
  // overwrites a client's claim; a sidecar keeps what the app set.
  if (inp.appendXff || out['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = inp.secure ? 'https' : 'http';
  if (inp.appendXff && inp.remoteAddress) {
    const prev = out['x-forwarded-for'];
    const ip = inp.remoteAddress.startsWith('::ffff:') ? inp.remoteAddress.slice(7) : inp.remoteAddress;
    out['x-forwarded-for'] = prev === undefined ? ip : `${Array.isArray(prev) ? prev.join(', ') : prev}, ${ip}`;
  }
  return out;
}

/** Response headers as the client sees them: hop-by-hop removed. */
export function downstreamResponseHeaders(src: Readonly<Record<string, string | string[] | undefined>>): HeaderMap {
  const listed = connectionListed(src.connection);
  const out: HeaderMap = {};
  for (const name in src) {
    const v = src[name];
    if (v === undefined || name.charCodeAt(0) === 58) continue;
    if (HOP_BY_HOP.has(name) && name !== 'host') continue;
    if (listed !== null && listed.has(name)) continue;
    out[name] = v;
  }
  return out;
}

/** Applies set/add/remove in Envoy's order: remove, then set (overwrite), then add (append). */
export function applyHeaderOps(h: HeaderMap, ops: HeaderOps): void {
  for (let i = 0; i < ops.remove.length; i++) delete h[ops.remove[i]];
  for (let i = 0; i < ops.set.length; i++) {
    const [k, v] = ops.set[i];
    h[k] = v;
  }
  for (let i = 0; i < ops.add.length; i++) {
    const [k, v] = ops.add[i];
    const prev = h[k];
    if (prev === undefined) h[k] = v;
    else if (Array.isArray(prev)) h[k] = [...prev, v];
    else h[k] = k === 'set-cookie' ? [prev, v] : `${prev},${v}`;
  }
}

export function hasOps(ops: HeaderOps): boolean {
  return ops.set.length + ops.add.length + ops.remove.length > 0;
}

/** First value of a header. */
export function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
