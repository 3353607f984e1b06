/**
 * The request hash for consistent-hash load balancing (DestinationRule consistentHash):
 * header, cookie (generated with `ttl` when absent, as Envoy does), source IP or query
 * parameter. No value -> undefined (the picker then picks at random, like Envoy).
 */
import { randomBytes } from 'node:crypto';
import type { LbPolicy } from '../../snapshot/types.js';
import { hashKey } from '../lb/hash.js';

type HashKey = NonNullable<LbPolicy['hash']>['key'];

export interface HashResult {
  hash: number | undefined;
  /** A Set-Cookie value to add to the response when a cookie was generated. */
  setCookie: string | null;
}

export function hashForRequest(
  key: HashKey,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  path: string,
  sourceIp: string,
  _rnd: () => number,
): HashResult {
  switch (key.kind) {
    case 'header': {
      const v = headers[key.name];
      if (v === undefined) return { hash: undefined, setCookie: null };
      return { hash: hashKey(Array.isArray(v) ? v.join(',') : v), setCookie: null };
    }
    case 'sourceIp':
      return { hash: sourceIp ? hashKey(sourceIp.startsWith('::ffff:') ? sourceIp.slice(7) : sourceIp) : undefined, setCookie: null };
    case 'query': {
      const v = queryParam(path, key.name);
      return { hash: v === undefined ? undefined : hashKey(v), setCookie: null };
    }
    case 'cookie': {
      const v = cookieValue(headers.cookie, key.name);
      if (v !== undefined) return { hash: hashKey(v), setCookie: null };
      if (key.ttlMs === null) return { hash: undefined, setCookie: null };
      const value = randomBytes(8).toString('hex');
      let c = `${key.name}=${value}`;
      if (key.ttlMs > 0) c += `; Max-Age=${Math.floor(key.ttlMs / 1000)}`;
      if (key.path) c += `; Path=${key.path}`;
      for (const a of key.attributes) c += a.value ? `; ${a.name}=${a.value}` : `; ${a.name}`;
      c += '; HttpOnly';
      return { hash: hashKey(value), setCookie: c };
    }
  }
}

function cookieValue(h: string | string[] | undefined, name: string): string | undefined {
  if (h === undefined) return undefined;
  const s = Array.isArray(h) ? h.join('; ') : h;
  for (const part of s.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function queryParam(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  for (const part of path.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    if (k === name) return eq < 0 ? '' : part.slice(eq + 1);
  }
  return undefined;
}
