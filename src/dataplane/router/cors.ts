/**
 * CORS as Envoy's CORS filter applies a route's corsPolicy: preflights answered by the
 * proxy when the origin is allowed; allowed actual requests get the response headers.
 * Pure: decides, the handler acts.
 */
import type { CorsPolicyC } from '../../snapshot/types.js';
import { strMatch } from './match.js';

export type CorsDecision =
  /** Not a CORS request, or origin not allowed on an actual request: nothing to add. */
  | { kind: 'none' }
  /** Answer the preflight here with these headers (200). */
  | { kind: 'preflight'; headers: Record<string, string> }
  /** Forward; add these headers to the response. */
  | { kind: 'forward'; headers: Record<string, string> };

const NONE: CorsDecision = { kind: 'none' };

function originAllowed(p: CorsPolicyC, origin: string): boolean {
  // Envoy treats an exact `*` origin as "any origin".
  for (const m of p.allowOrigins) if ((m.kind === 'exact' && m.value === '*') || strMatch(m, origin)) return true;
  return false;
}

export function decideCors(p: CorsPolicyC, method: string, origin: string | undefined, requestMethod: string | undefined): CorsDecision {
  if (origin === undefined || origin === '') return NONE;
  const allowed = originAllowed(p, origin);
  const preflight = method === 'OPTIONS' && requestMethod !== undefined;
  if (preflight) {
    if (!allowed) return p.unmatchedPreflights === 'IGNORE' ? { kind: 'preflight', headers: {} } : NONE;
    const h: Record<string, string> = { 'access-control-allow-origin': origin };
    if (p.allowMethods.length) h['access-control-allow-methods'] = p.allowMethods.join(',');
    if (p.allowHeaders.length) h['access-control-allow-headers'] = p.allowHeaders.join(',');
    if (p.maxAgeSeconds !== null) h['access-control-max-age'] = String(p.maxAgeSeconds);
    if (p.allowCredentials) h['access-control-allow-credentials'] = 'true';
    return { kind: 'preflight', headers: h };
  }
  if (!allowed) return NONE;
  const h: Record<string, string> = { 'access-control-allow-origin': origin };
  if (p.allowCredentials) h['access-control-allow-credentials'] = 'true';
  if (p.exposeHeaders.length) h['access-control-expose-headers'] = p.exposeHeaders.join(',');
  return { kind: 'forward', headers: h };
}
