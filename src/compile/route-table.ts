/**
 * Assembling a RouteTable from virtual hosts, with Envoy's domain precedence precomputed:
 * exact domains in a map, `*.suffix` wildcards longest suffix first, `*` as the fallback.
 */
import { normalizeHost } from '../core/hosts.js';
import type { ConfigRef, RouteTable, VirtualHost } from '../snapshot/types.js';
import type { Notes } from './order.js';

/** Protocols whose ports get HTTP route tables (UNKNOWN = sniffed, treated as HTTP). */
export const HTTP_PROTOCOLS: ReadonlySet<string> = new Set(['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB', 'UNKNOWN']);

/**
 * Removes domains already claimed by an earlier vhost (Envoy rejects duplicates; Istio keeps
 * the first). Vhosts left with no domain are dropped. `owner` names the vhost's VS for notes.
 */
export function dedupeDomains(
  vhosts: ReadonlyArray<{ vhost: VirtualHost; owner: ConfigRef | null }>,
  notes: Notes,
  where: string,
): VirtualHost[] {
  const claimedBy = new Map<string, string>();
  const out: VirtualHost[] = [];
  for (const { vhost, owner } of vhosts) {
    const domains: string[] = [];
    for (const raw of vhost.domains) {
      const d = normalizeHost(raw);
      const prev = claimedBy.get(d);
      if (prev !== undefined) {
        if (owner) {
          notes.add(owner, `host ${d} on ${where} is already served by ${prev}; dropped (duplicate domain)`);
        }
        continue;
      }
      claimedBy.set(d, describe(vhost));
      domains.push(d);
    }
    if (domains.length > 0) out.push(domains.length === vhost.domains.length ? vhost : { ...vhost, domains });
  }
  return out;
}

function describe(v: VirtualHost): string {
  const vs = v.virtualServices[0];
  return vs ? `VirtualService ${vs.namespace}/${vs.name}` : `virtual host ${v.name}`;
}

/** Builds the lookup structure; `catchAll` is used when no vhost has the `*` domain. */
export function buildRouteTable(name: string, port: number, vhosts: readonly VirtualHost[], catchAll: VirtualHost | null): RouteTable {
  const exact = new Map<string, VirtualHost>();
  const wildcards: Array<{ suffix: string; vhost: VirtualHost }> = [];
  let fallback: VirtualHost | null = null;
  for (const v of vhosts) {
    for (const raw of v.domains) {
      const d = normalizeHost(raw);
      if (d === '*') fallback ??= v;
      else if (d.startsWith('*')) wildcards.push({ suffix: d.slice(1), vhost: v });
      else if (!exact.has(d)) exact.set(d, v);
    }
  }
  wildcards.sort((a, b) => b.suffix.length - a.suffix.length || (a.suffix < b.suffix ? -1 : a.suffix > b.suffix ? 1 : 0));
  return { name, port, exact, wildcards, fallback: fallback ?? catchAll };
}
