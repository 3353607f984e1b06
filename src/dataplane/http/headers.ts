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
  /** Client address (the socket peer). */
  remoteAddress: string | undefined;
  /**
   * The client is at the edge (gateway: Envoy `use_remote_address: true`): x-forwarded-for
   * is rebuilt from the socket peer and x-forwarded-proto overwritten, keeping only what
   * `trustedHops` trusted proxies in front of us added. false on the sidecar, whose client
   * is the application itself (Envoy `use_remote_address: false`: forwarded headers kept).
   */
  appendXff: boolean;
  /**
   * Istio `gatewayTopology.numTrustedProxies` (Envoy `xff_num_trusted_hops`): how many
   * proxies in front of the gateway are trusted to have appended to x-forwarded-for.
   */
  trustedHops: number;
  /** Keep `te: trailers` (HTTP/2 / gRPC upstream). */
  keepTeTrailers: boolean;
}

/** `::ffff:1.2.3.4` -> `1.2.3.4` (IPv4 clients on a dual-stack socket). */
function plainIp(a: string): string {
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/**
 * x-forwarded-for at the edge: the last `hops` entries the client's chain carries (added
 * by trusted proxies) plus the socket peer; anything further left was written by the
 * client itself and is dropped, so no upstream can be fooled by a spoofed value. Also
 * returns the trusted client address (Envoy's x-envoy-external-address).
 */
function edgeForwardedFor(prev: string | string[] | undefined, hops: number, ip: string): { xff: string; external: string } {
  if (hops <= 0 || prev === undefined) return { xff: ip, external: ip };
  const parts = (Array.isArray(prev) ? prev.join(',') : prev).split(',');
  const kept: string[] = [];
  for (let i = Math.max(0, parts.length - hops); i < parts.length; i++) {
    const p = parts[i].trim();
    if (p !== '') kept.push(p);
  }
  if (kept.length === 0) return { xff: ip, external: ip };
  return { xff: `${kept.join(', ')}, ${ip}`, external: kept[0] };
}

/**
 * The headers the upstream sees, before route header operations: hop-by-hop headers,
 * client-sent `x-envoy-*` control headers and `x-forwarded-client-cert` removed (never
 * trusted from a client: Envoy's header sanitising and its default XFCC `SANITIZE`),
 * x-request-id generated when absent, x-forwarded-proto/-for set as Envoy does.
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
    if (c0 === 120 /* x */ && (name.startsWith('x-envoy-') || name === 'x-forwarded-client-cert')) continue;
    if (listed !== null && listed.has(name)) continue;
    out[name] = v;
  }
  if (out['x-request-id'] === undefined) out['x-request-id'] = randomUUID();
  if (inp.appendXff) {
    // At the edge the proxy knows the scheme; a client's claim counts only behind trusted proxies.
    if (inp.trustedHops <= 0 || out['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = inp.secure ? 'https' : 'http';
    if (inp.remoteAddress) {
      const f = edgeForwardedFor(out['x-forwarded-for'], inp.trustedHops, plainIp(inp.remoteAddress));
      out['x-forwarded-for'] = f.xff;
      out['x-envoy-external-address'] = f.external;
    } else delete out['x-forwarded-for'];
  } else if (out['x-forwarded-proto'] === undefined) out['x-forwarded-proto'] = inp.secure ? 'https' : 'http';
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
