/**
 * The `Location` of an HTTPRedirect, as Envoy's redirect action builds it. Pure; used by
 * the proxy and by `explain` so both answer the same.
 */
import type { RouteAction, RouteMatch } from '../../snapshot/types.js';

export type RedirectAction = Extract<RouteAction, { kind: 'redirect' }>;

export interface RedirectRequest {
  scheme: 'http' | 'https';
  /** Authority as received, may carry `:port`. */
  host: string;
  /** Port the request arrived on (listener / route-table port). */
  port: number;
  /** Raw path including `?query`. */
  path: string;
}

const DEFAULT_PORT: Record<string, number> = { http: 80, https: 443 };

export function redirectLocation(a: RedirectAction, match: RouteMatch, req: RedirectRequest): string {
  const scheme = a.scheme ?? req.scheme;
  const [origHost, origPort] = splitHostPort(req.host);
  const host = a.authority ? splitHostPort(a.authority)[0] : origHost;
  let port: number | null;
  if (a.port !== null) port = a.port;
  else if (a.derivePort === 'FROM_REQUEST_PORT') port = req.port;
  else if (a.derivePort === 'FROM_PROTOCOL_DEFAULT') port = null;
  else if (a.authority) port = splitHostPort(a.authority)[1];
  else port = origPort;
  // A scheme change drops a port that was only the old scheme's default (http://x:80 -> https://x).
  if (a.port === null && a.derivePort === null && a.scheme && a.scheme !== req.scheme && port === DEFAULT_PORT[req.scheme]) port = null;
  if (port !== null && port === DEFAULT_PORT[scheme]) port = null;

  const q = req.path.indexOf('?');
  const path = q < 0 ? req.path : req.path.slice(0, q);
  const query = q < 0 ? '' : req.path.slice(q);
  let newPath = path;
  let newQuery = query;
  if (a.uri !== null) {
    const uq = a.uri.indexOf('?');
    newPath = uq >= 0 ? a.uri.slice(0, uq) : a.uri;
    if (uq >= 0) newQuery = a.uri.slice(uq);
  } else if (a.prefixRewrite !== null) {
    const prefix = match.uri && match.uri.kind === 'prefix' ? match.uri.value : '/';
    const matched = match.ignoreUriCase ? path.toLowerCase().startsWith(prefix) : path.startsWith(prefix);
    newPath = matched ? a.prefixRewrite + path.slice(prefix.length) : path;
  }
  const hostPart = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${scheme}://${hostPart}${port !== null ? `:${port}` : ''}${newPath}${newQuery}`;
}

/** `host:port` -> [host, port|null]; IPv6 literals in brackets keep their brackets off. */
export function splitHostPort(authority: string): [string, number | null] {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    const host = authority.slice(1, end < 0 ? undefined : end);
    const rest = end < 0 ? '' : authority.slice(end + 1);
    const port = rest.startsWith(':') ? Number(rest.slice(1)) : NaN;
    return [host, Number.isInteger(port) && port > 0 ? port : null];
  }
  const i = authority.lastIndexOf(':');
  if (i < 0 || authority.indexOf(':') !== i) return [authority, null];
  const port = Number(authority.slice(i + 1));
  return [authority.slice(0, i), Number.isInteger(port) && port > 0 && port < 65536 ? port : null];
}
