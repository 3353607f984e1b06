/**
 * IST0130 VirtualServiceUnreachableRule and IST0131 VirtualServiceIneffectiveMatch:
 * rules and match blocks that an earlier one in the same VirtualService always takes first.
 *
 * Rules are tried in order and the first match wins (istio-semantics §3.3.6), so a block
 * is dead when some earlier block accepts every request it accepts. A rule without
 * `match` accepts everything; so does a `prefix: /` or `regex: .*` uri block with no other
 * condition. When every block of a rule is dead, the rule is unreachable (IST0130);
 * otherwise each dead block is reported on its own (IST0131).
 */
import type { FieldPath } from '../core/diagnostics.js';
import type { VirtualService } from '../api/types.js';
import type { AnalyzeContext, Report } from './context.js';
import { MSG, text } from './messages.js';
import { blockGateways, ruleLabel } from './refs.js';
import { MatchError, translateMatch } from '../compile/translate-match.js';
import { httpCovers, httpIsCatchAll, l4Covers, tlsCovers, type HttpBlock, type L4Block, type TlsBlock } from './matchcover.js';

export interface RuleBlocks<B> {
  label: string;
  /** The rule's match blocks; a rule without `match` has one block standing for "everything". */
  blocks: B[];
  hasMatch: boolean;
  /** A delegating rule's real matches live in the delegate, so it shadows nothing itself. */
  canShadow: boolean;
}

/** One finding of the scan, before it is turned into a message. */
export type Shadowing =
  | { kind: 'rule'; rule: number; reason: string }
  | { kind: 'match'; rule: number; match: number; byRule: number };

/**
 * Scans rules in order and says which rules / blocks an earlier block covers.
 * `covers(a, b)`: every request matching b matches a. `catchAll(a)`: a covers everything.
 */
export function findShadowed<B>(
  rules: readonly RuleBlocks<B>[],
  covers: (a: B, b: B) => boolean,
  catchAll: (a: B) => boolean,
): Shadowing[] {
  const out: Shadowing[] = [];
  const live: { block: B; rule: number }[] = [];
  rules.forEach((rule, j) => {
    const coveredBy: ({ block: B; rule: number } | undefined)[] = [];
    // Blocks of this rule that survive; a later block of the same rule can be covered by them.
    const own: { block: B; rule: number }[] = [];
    rule.blocks.forEach((b, k) => {
      coveredBy[k] = live.find((e) => covers(e.block, b)) ?? own.find((e) => covers(e.block, b));
      if (!coveredBy[k]) own.push({ block: b, rule: j });
    });
    if (own.length === 0) {
      out.push({ kind: 'rule', rule: j, reason: reasonFor(rule, coveredBy.map((c) => c!), rules, catchAll) });
      return;
    }
    coveredBy.forEach((c, k) => {
      if (c) out.push({ kind: 'match', rule: j, match: k, byRule: c.rule });
    });
    if (rule.canShadow) live.push(...own);
  });
  return out;
}

function reasonFor<B>(
  rule: RuleBlocks<B>,
  coverers: { block: B; rule: number }[],
  rules: readonly RuleBlocks<B>[],
  catchAll: (a: B) => boolean,
): string {
  const noMatch = coverers.find((c) => !rules[c.rule].hasMatch);
  // Istio's own wording for the two classic cases.
  if (noMatch) return rule.hasMatch ? 'route without matches defined before' : 'only the last rule can have no matches';
  const all = coverers.find((c) => catchAll(c.block));
  if (all) return `rule ${rules[all.rule].label} matches every request`;
  return 'all matches used by prior rules';
}

export function httpRules(vs: VirtualService): RuleBlocks<HttpBlock>[] | null {
  try {
    return (vs.spec.http ?? []).map((r, i) => {
      const matches = r.match ?? [];
      const blocks: HttpBlock[] = matches.length
        ? matches.map((m) => ({ match: m, compiled: translateMatch(m), gateways: blockGateways(vs, m.gateways) }))
        : [{ match: undefined, compiled: translateMatch(null), gateways: blockGateways(vs, undefined) }];
      return { label: ruleLabel(r.name, i), blocks, hasMatch: matches.length > 0, canShadow: !r.delegate };
    });
  } catch (e) {
    // A regex the compiler cannot build: validation reports it; nothing to compare here.
    if (e instanceof MatchError) return null;
    throw e;
  }
}

function tcpRules(vs: VirtualService): RuleBlocks<L4Block>[] {
  return (vs.spec.tcp ?? []).map((r, i) => {
    const matches = r.match ?? [];
    const blocks: L4Block[] = matches.length
      ? matches.map((m) => ({ match: m, gateways: blockGateways(vs, m.gateways) }))
      : [{ match: undefined, gateways: blockGateways(vs, undefined) }];
    return { label: ruleLabel(undefined, i), blocks, hasMatch: matches.length > 0, canShadow: true };
  });
}

function tlsRules(vs: VirtualService): RuleBlocks<TlsBlock>[] {
  return (vs.spec.tls ?? []).map((r, i) => ({
    label: ruleLabel(undefined, i),
    blocks: r.match.map((m) => ({ match: m, gateways: blockGateways(vs, m.gateways) })),
    hasMatch: true,
    canShadow: true,
  }));
}

function reportAll<B>(
  vs: VirtualService,
  section: 'http' | 'tcp' | 'tls',
  rules: RuleBlocks<B>[],
  found: Shadowing[],
  out: Report,
  matchLabel: (rule: number, match: number) => string,
): void {
  for (const s of found) {
    const rulePath: FieldPath = ['spec', section, s.rule];
    if (s.kind === 'rule') {
      out.add(vs, rulePath, MSG.VirtualServiceUnreachableRule, text.unreachableRule(rules[s.rule].label, s.reason));
    } else {
      out.add(
        vs,
        [...rulePath, 'match', s.match],
        MSG.VirtualServiceIneffectiveMatch,
        text.ineffectiveMatch(rules[s.rule].label, matchLabel(s.rule, s.match), rules[s.byRule].label),
      );
    }
  }
}

/** Shadowed rules and matches in one VirtualService's http, tcp and tls sections. */
export function analyzeVirtualServiceRoutes(vs: VirtualService, out: Report): void {
  const http = httpRules(vs);
  if (http) {
    reportAll(vs, 'http', http, findShadowed(http, httpCovers, httpIsCatchAll), out, (r, m) =>
      ruleLabel(vs.spec.http?.[r].match?.[m].name, m),
    );
  }
  const tcp = tcpRules(vs);
  const l4All = (a: L4Block) => l4Covers(a, { match: undefined, gateways: a.gateways });
  reportAll(vs, 'tcp', tcp, findShadowed(tcp, l4Covers, l4All), out, (_r, m) => `#${m}`);
  const tls = tlsRules(vs);
  reportAll(vs, 'tls', tls, findShadowed(tls, tlsCovers, () => false), out, (_r, m) => `#${m}`);
}

/** Analyzer entry: every VirtualService, delegates included. */
export function analyzeRoutes(ctx: AnalyzeContext, out: Report): void {
  for (const vs of ctx.config.virtualServices) analyzeVirtualServiceRoutes(vs, out);
}
