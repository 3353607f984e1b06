/**
 * DestinationRule lookup for (client proxy, service host), istio-semantics.md §3.6, after
 * Istio's `PushContext.destinationRule` + `SidecarScope.DestinationRule`:
 *
 * 1. the client's namespace (its "namespace-local" rules: exported to `*`, `.` or that
 *    namespace; for a client in the root namespace only the root's private rules);
 * 2. else the service's namespace, rules exported to the client's namespace;
 * 3. else the root namespace, rules exported to the client's namespace.
 *
 * In each step the most specific DR host covering the service host is chosen first (exact
 * beats the longest wildcard); only then are the rules for that host filtered. In step 1 a
 * rule with `workloadSelector` selecting the client wins over selector-less rules; when the
 * chosen host has only selector rules and none selects the client the lookup ends with no
 * rule (as in Istio, whose lookup has already settled on that host).
 * Rules with the same host that apply together are merged, oldest first: subsets appended
 * (a repeated name is dropped, first wins), the first top-level trafficPolicy wins.
 */
import type { DestinationRule, Subset, TrafficPolicy } from '../api/types.js';
import { compareHostSpecificity, hostSubsetOf, normalizeHost, resolveShortName } from '../core/hosts.js';
import { labelsContain, normalizeExportTo } from '../registry/build.js';
import type { CompileOptions, ConfigRef } from '../snapshot/types.js';

/** A subset as seen after merging, with the rule that defined it. */
export interface EffectiveSubset {
  name: string;
  labels: Readonly<Record<string, string>>;
  trafficPolicy: TrafficPolicy | null;
  source: ConfigRef;
}

/** Which lookup step produced the rule. */
export type DestinationRuleScope = 'client-namespace' | 'service-namespace' | 'root-namespace';

/** The rule in effect for one (client, service) pair, merged from one or more DestinationRules. */
export interface EffectiveDestinationRule {
  /** The rules' resolved host (may be a wildcard covering the service host). */
  host: string;
  /** Namespace of the rules. */
  namespace: string;
  /** Top-level policy of the oldest rule that has one; null when none has. */
  trafficPolicy: TrafficPolicy | null;
  /** The rule that supplied `trafficPolicy`. */
  trafficPolicySource: ConfigRef | null;
  subsets: readonly EffectiveSubset[];
  /** The selector of the applied rules (null for namespace-wide rules). */
  workloadSelector: Readonly<Record<string, string>> | null;
  /** Every merged rule, oldest first; `sources[0]` is the primary one. */
  sources: readonly ConfigRef[];
  scope: DestinationRuleScope;
  /** Merge findings (dropped duplicate subsets). */
  notes: readonly string[];
}

/** The client side of the lookup: the proxy's namespace and labels. */
export interface DestinationRuleClient {
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

/** The service side of the lookup. */
export interface DestinationRuleTarget {
  hostname: string;
  /** Namespace of the service (its ServiceEntry); '' when unknown (step 2 is skipped). */
  namespace: string;
}

interface PreparedRule {
  ref: ConfigRef;
  host: string;
  namespace: string;
  exportTo: '*' | ReadonlySet<string>;
  selector: Readonly<Record<string, string>> | null;
  spec: DestinationRule['spec'];
  seq: number;
  time: number | null;
}

/** Rules of one scope, grouped by resolved host, each group oldest first. */
type HostGroups = ReadonlyMap<string, readonly PreparedRule[]>;

/** Precomputed per-namespace views of all DestinationRules; build once per config. */
export interface DestinationRuleIndex {
  readonly rootNamespace: string;
  /** Rules visible inside their own namespace, by namespace. */
  readonly namespaceLocal: ReadonlyMap<string, HostGroups>;
  /** Rules exported beyond their own namespace, by namespace. */
  readonly exported: ReadonlyMap<string, HostGroups>;
  /** Root-namespace rules private to the root namespace. */
  readonly rootLocal: HostGroups;
}

/** Indexes DestinationRules: hosts resolved against each rule's namespace, groups ordered oldest first. */
export function indexDestinationRules(
  rules: readonly DestinationRule[],
  opts: Pick<CompileOptions, 'domain' | 'rootNamespace'>,
): DestinationRuleIndex {
  const prepared = rules.map((r) => prepare(r, opts.domain)).sort(compareAge);
  const namespaceLocal = new Map<string, Map<string, PreparedRule[]>>();
  const exported = new Map<string, Map<string, PreparedRule[]>>();
  const rootLocal = new Map<string, PreparedRule[]>();
  for (const r of prepared) {
    const ownVisible = r.exportTo === '*' || r.exportTo.has(r.namespace);
    const privateOnly = r.exportTo !== '*' && r.exportTo.size === 1 && r.exportTo.has(r.namespace);
    if (ownVisible) addTo(namespaceLocal, r.namespace, r);
    if (!privateOnly && (r.exportTo === '*' || r.exportTo.size > 0)) addTo(exported, r.namespace, r);
    else if (privateOnly && r.namespace === opts.rootNamespace) push(rootLocal, r);
  }
  return { rootNamespace: opts.rootNamespace, namespaceLocal, exported, rootLocal };
}

/**
 * The DestinationRule in effect for `client` calling `service`, or null. Accepts a
 * prebuilt index (preferred when looking up many services) or the raw rules plus options.
 */
export function findDestinationRule(
  rules: DestinationRuleIndex | readonly DestinationRule[],
  client: DestinationRuleClient,
  service: DestinationRuleTarget,
  opts: Pick<CompileOptions, 'domain' | 'rootNamespace'> = { domain: 'cluster.local', rootNamespace: 'istio-system' },
): EffectiveDestinationRule | null {
  const index = isIndex(rules) ? rules : indexDestinationRules(rules, opts);
  const host = normalizeHost(service.hostname);

  // 1. The client's own namespace.
  const local = client.namespace === index.rootNamespace ? index.rootLocal : index.namespaceLocal.get(client.namespace);
  const localGroup = local ? mostSpecificGroup(local, host) : null;
  if (localGroup) {
    const chosen = selectForClient(localGroup, client);
    return chosen ? merge(chosen, 'client-namespace') : null;
  }

  // 2. The service's namespace, 3. the root namespace: only rules exported to the client.
  const steps: Array<[string, DestinationRuleScope]> = [];
  if (service.namespace !== '') steps.push([service.namespace, 'service-namespace']);
  steps.push([index.rootNamespace, 'root-namespace']);
  for (const [ns, scope] of steps) {
    const groups = index.exported.get(ns);
    const group = groups ? mostSpecificGroup(groups, host) : null;
    if (!group) continue;
    const visible = group.filter((r) => r.exportTo === '*' || r.exportTo.has(client.namespace));
    if (visible.length > 0) return merge(visible, scope);
  }
  return null;
}

function isIndex(x: DestinationRuleIndex | readonly DestinationRule[]): x is DestinationRuleIndex {
  return !Array.isArray(x);
}

function prepare(r: DestinationRule, domain: string): PreparedRule {
  const selector = r.spec.workloadSelector ? { ...(r.spec.workloadSelector.matchLabels ?? {}) } : null;
  const time = r.meta.creationTimestamp === undefined ? null : Date.parse(r.meta.creationTimestamp);
  return {
    ref: { kind: 'DestinationRule', namespace: r.meta.namespace, name: r.meta.name },
    host: resolveShortName(r.spec.host, r.meta.namespace, domain),
    namespace: r.meta.namespace,
    // A rule with a selector is never exported beyond its namespace.
    exportTo: selector ? new Set([r.meta.namespace]) : normalizeExportTo(r.spec.exportTo, r.meta.namespace),
    selector,
    spec: r.spec,
    seq: r.seq,
    time: time === null || Number.isNaN(time) ? null : time,
  };
}

/** Oldest first: creationTimestamp when both rules carry one, else load order. */
function compareAge(a: PreparedRule, b: PreparedRule): number {
  if (a.time !== null && b.time !== null && a.time !== b.time) return a.time - b.time;
  return a.seq - b.seq;
}

function addTo(m: Map<string, Map<string, PreparedRule[]>>, ns: string, r: PreparedRule): void {
  let groups = m.get(ns);
  if (!groups) m.set(ns, (groups = new Map()));
  push(groups, r);
}

function push(groups: Map<string, PreparedRule[]>, r: PreparedRule): void {
  const g = groups.get(r.host);
  if (g) g.push(r);
  else groups.set(r.host, [r]);
}

/** Rules of the most specific host covering `host` (exact, else the longest wildcard). */
function mostSpecificGroup(groups: HostGroups, host: string): readonly PreparedRule[] | null {
  const exact = groups.get(host);
  if (exact) return exact;
  let best: string | null = null;
  for (const h of groups.keys()) {
    if (!hostSubsetOf(host, h)) continue;
    if (best === null || compareHostSpecificity(h, best) < 0) best = h;
  }
  return best === null ? null : (groups.get(best) ?? null);
}

/**
 * Step-1 choice: the oldest selector rule selecting the client (merged with rules having
 * the same selector), else the namespace-wide rules, else nothing.
 */
function selectForClient(group: readonly PreparedRule[], client: DestinationRuleClient): PreparedRule[] | null {
  const match = group.find((r) => r.selector !== null && r.namespace === client.namespace && labelsContain(client.labels, r.selector));
  if (match) return group.filter((r) => r.selector !== null && sameLabels(r.selector, match.selector!));
  const plain = group.filter((r) => r.selector === null);
  return plain.length > 0 ? plain : null;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

function merge(rules: readonly PreparedRule[], scope: DestinationRuleScope): EffectiveDestinationRule {
  const subsets: EffectiveSubset[] = [];
  const names = new Set<string>();
  const notes: string[] = [];
  let trafficPolicy: TrafficPolicy | null = null;
  let trafficPolicySource: ConfigRef | null = null;
  for (const r of rules) {
    if (trafficPolicy === null && r.spec.trafficPolicy) {
      trafficPolicy = r.spec.trafficPolicy;
      trafficPolicySource = r.ref;
    }
    for (const s of r.spec.subsets ?? []) {
      if (names.has(s.name)) {
        notes.push(`duplicate subset ${s.name} in DestinationRule ${r.ref.namespace}/${r.ref.name} for host ${r.host} ignored (already defined)`);
        continue;
      }
      names.add(s.name);
      subsets.push(toSubset(s, r.ref));
    }
  }
  const first = rules[0];
  return {
    host: first.host,
    namespace: first.namespace,
    trafficPolicy,
    trafficPolicySource,
    subsets,
    workloadSelector: first.selector,
    sources: rules.map((r) => r.ref),
    scope,
    notes,
  };
}

function toSubset(s: Subset, source: ConfigRef): EffectiveSubset {
  return { name: s.name, labels: { ...(s.labels ?? {}) }, trafficPolicy: s.trafficPolicy ?? null, source };
}
