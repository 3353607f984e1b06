/**
 * VirtualService `tls[]` and `tcp[]` rule checks (istio-semantics.md §4.1 V60–V63, plus
 * the shared V21–V26 destination and V8/V33 match-attribute rules).
 */
import type { FieldPath } from '../core/diagnostics.js';
import { hostSubsetOf, resolveShortName, validateWildcardDomain } from '../core/hosts.js';
import { isIP } from '../core/net.js';
import type { L4MatchAttributes, TCPRoute, TLSMatchAttributes, TLSRoute } from '../api/types.js';
import type { Findings } from './finding.js';
import { checkGatewayRefs, checkMatchPort, checkRouteDestinations, checkSourceLabels, gatewayBoundHostError, subnetError } from './vs-refs.js';

/** What an L4 rule needs to know about its VirtualService. */
export interface L4RuleContext {
  out: Findings;
  /** VS hosts as written (for messages). */
  hosts: readonly string[];
  /** VS hosts after short-name resolution against the VS namespace. */
  resolvedHosts: readonly string[];
  namespace: string;
  domain: string;
  /** Bound to gateways only: SNI hosts may use the AUTO_PASSTHROUGH `outbound_` form. */
  appliesToGateway: boolean;
}

/** V60–V62 for one `tls[]` rule at `path` (`['spec', 'tls', i]`). */
export function checkTLSRoute(ctx: L4RuleContext, t: TLSRoute, path: FieldPath): void {
  const { out } = ctx;
  if (t.match.length === 0) out.error([...path, 'match'], 'TLS route must have at least one match condition');
  t.match.forEach((m, j) => checkTLSMatch(ctx, m, [...path, 'match', j]));
  if ((t.route?.length ?? 0) === 0) out.error([...path, 'route'], 'TLS route is required');
  checkRouteDestinations(out, t.route, [...path, 'route']);
}

function checkTLSMatch(ctx: L4RuleContext, m: TLSMatchAttributes, path: FieldPath): void {
  const { out } = ctx;
  if (m.sniHosts.length === 0) out.error([...path, 'sniHosts'], 'TLS match must have at least one SNI host');
  m.sniHosts.forEach((sni, k) => checkSniHost(ctx, sni, [...path, 'sniHosts', k]));
  checkL4Attributes(out, m, path);
}

/**
 * V61/V62: an SNI host is a (wildcard) domain contained in some VS host; an IP literal
 * is admitted with a warning (SNI cannot carry IPs, most clients never send one).
 */
function checkSniHost(ctx: L4RuleContext, sni: string, path: FieldPath): void {
  const { out } = ctx;
  const err = ctx.appliesToGateway ? gatewayBoundHostError(sni, true) : validateWildcardDomain(sni);
  if (err) {
    if (isIP(sni)) out.warn(path, `using an IP address (${JSON.stringify(sni)}) goes against SNI spec and most clients do not support this`);
    else out.error(path, err);
    return;
  }
  const resolved = resolveShortName(sni, ctx.namespace, ctx.domain);
  if (ctx.resolvedHosts.some((h) => hostSubsetOf(resolved, h))) return;
  out.error(
    path,
    `SNI host ${JSON.stringify(sni)} is not a compatible subset of any of the virtual service hosts: [${ctx.hosts.join(', ')}]`,
  );
}

/** V63 and the TCP rule's destinations. */
export function checkTCPRoute(ctx: L4RuleContext, t: TCPRoute, path: FieldPath): void {
  const { out } = ctx;
  (t.match ?? []).forEach((m, j) => checkL4Attributes(out, m, [...path, 'match', j]));
  if ((t.route?.length ?? 0) === 0) out.error([...path, 'route'], 'TCP route is required');
  checkRouteDestinations(out, t.route, [...path, 'route']);
}

/** Attributes common to TLS and TCP matches: subnets, port, source labels, gateways. */
function checkL4Attributes(out: Findings, m: TLSMatchAttributes | L4MatchAttributes, path: FieldPath): void {
  (m.destinationSubnets ?? []).forEach((s, k) => {
    const err = subnetError(s);
    if (err) out.error([...path, 'destinationSubnets', k], err);
  });
  checkMatchPort(out, m.port, [...path, 'port']);
  checkSourceLabels(out, m.sourceLabels, [...path, 'sourceLabels']);
  checkGatewayRefs(out, m.gateways, [...path, 'gateways']);
}
