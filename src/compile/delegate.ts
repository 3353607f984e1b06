/**
 * VirtualService delegation (istio-semantics.md §3.9; Istio `MergeHTTPRoutes`, `hasConflict`).
 *
 * A root rule `delegate: {name, namespace}` is replaced by the delegate VS's rules, each
 * merged with the root rule: match blocks combined (delegate block x root block, delegate
 * fields win, maps unioned), conflicting combinations dropped, unset policies inherited.
 */
import type { HTTPMatchRequest, HTTPRoute, StringMatch } from '../api/types.js';

/**
 * Can a delegate StringMatch narrow a root StringMatch? Both set: regex on either side is a
 * conflict (containment cannot be decided); exact must equal exact; a delegate prefix or
 * exact must start with the root prefix; an exact root does not admit a delegate prefix.
 */
export function stringMatchConflict(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (!root || !leaf) return false;
  const rootSet = root.exact !== undefined || root.prefix !== undefined || root.regex !== undefined;
  const leafSet = leaf.exact !== undefined || leaf.prefix !== undefined || leaf.regex !== undefined;
  if (!rootSet || !leafSet) return false;
  if (root.regex !== undefined || leaf.regex !== undefined) return true;
  if (root.exact !== undefined) return leaf.exact !== root.exact;
  const prefix = root.prefix!;
  if (leaf.prefix !== undefined) return !leaf.prefix.startsWith(prefix);
  return !leaf.exact!.startsWith(prefix);
}

function mapConflict(root: Record<string, StringMatch> | undefined, leaf: Record<string, StringMatch> | undefined): boolean {
  if (!leaf) return false;
  return Object.keys(leaf).some((k) => stringMatchConflict(root?.[k], leaf[k]));
}

/** Istio `hasConflict(root, leaf)`: the delegate block cannot be a refinement of the root block. */
export function matchConflict(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  if (stringMatchConflict(root.uri, leaf.uri)) return true;
  if (stringMatchConflict(root.scheme, leaf.scheme)) return true;
  if (stringMatchConflict(root.method, leaf.method)) return true;
  if (stringMatchConflict(root.authority, leaf.authority)) return true;
  if (mapConflict(root.headers, leaf.headers)) return true;
  if (mapConflict(root.withoutHeaders, leaf.withoutHeaders)) return true;
  if (mapConflict(root.queryParams, leaf.queryParams)) return true;
  if ((root.ignoreUriCase ?? false) !== (leaf.ignoreUriCase ?? false)) return true;
  if (root.port && leaf.port && root.port !== leaf.port) return true;
  if (root.sourceNamespace && leaf.sourceNamespace && leaf.sourceNamespace !== root.sourceNamespace) return true;
  for (const [k, v] of Object.entries(leaf.sourceLabels ?? {})) {
    const rv = root.sourceLabels?.[k];
    if (rv !== undefined && rv !== v) return true;
  }
  const rg = root.gateways ?? [];
  const lg = leaf.gateways ?? [];
  if (rg.length > 0 && lg.length > 0 && !lg.every((g) => rg.includes(g))) return true;
  return false;
}

function joinNames(root: string | undefined, leaf: string | undefined): string | undefined {
  if (!leaf) return root;
  return root ? `${root}-${leaf}` : leaf;
}

function unionMap<T>(root: Record<string, T> | undefined, leaf: Record<string, T> | undefined): Record<string, T> | undefined {
  if (!root && !leaf) return undefined;
  return { ...root, ...leaf };
}

/** Merges one (non-conflicting) pair of blocks; delegate fields win. */
export function mergeMatch(root: HTTPMatchRequest, leaf: HTTPMatchRequest): HTTPMatchRequest {
  return dropUndefined({
    ...leaf,
    name: joinNames(root.name, leaf.name),
    uri: leaf.uri ?? root.uri,
    scheme: leaf.scheme ?? root.scheme,
    method: leaf.method ?? root.method,
    authority: leaf.authority ?? root.authority,
    headers: unionMap(root.headers, leaf.headers),
    withoutHeaders: unionMap(root.withoutHeaders, leaf.withoutHeaders),
    queryParams: unionMap(root.queryParams, leaf.queryParams),
    sourceLabels: unionMap(root.sourceLabels, leaf.sourceLabels),
    port: leaf.port || root.port,
    sourceNamespace: leaf.sourceNamespace || root.sourceNamespace,
    gateways: leaf.gateways && leaf.gateways.length > 0 ? leaf.gateways : root.gateways,
    statPrefix: leaf.statPrefix || root.statPrefix,
    ignoreUriCase: leaf.ignoreUriCase ?? root.ignoreUriCase,
  });
}

/** Keeps merged objects shaped like parsed config (unset fields absent, not `undefined`). */
function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}

/**
 * Match blocks of a merged rule: either side empty => the other side; otherwise every
 * non-conflicting (delegate block, root block) pair, delegate-major. Empty result with both
 * sides non-empty means the delegate rule can never apply (it is dropped).
 */
export function mergeMatches(root: readonly HTTPMatchRequest[] | undefined, leaf: readonly HTTPMatchRequest[] | undefined): HTTPMatchRequest[] | undefined {
  if (!root || root.length === 0) return leaf ? [...leaf] : undefined;
  if (!leaf || leaf.length === 0) return [...root];
  const out: HTTPMatchRequest[] = [];
  for (const l of leaf) {
    for (const r of root) {
      if (!matchConflict(r, l)) out.push(mergeMatch(r, l));
    }
  }
  return out;
}

/**
 * One delegate rule merged under a root rule, or null when every block conflicts. Unset
 * delegate policies inherit the root's; names become `root-delegate`.
 */
export function mergeDelegateRule(root: HTTPRoute, leaf: HTTPRoute): HTTPRoute | null {
  const match = mergeMatches(root.match, leaf.match);
  if (match !== undefined && match.length === 0) return null;
  return dropUndefined({
    ...leaf,
    match,
    name: joinNames(root.name, leaf.name),
    rewrite: leaf.rewrite ?? root.rewrite,
    directResponse: leaf.directResponse ?? (leaf.route || leaf.redirect ? undefined : root.directResponse),
    timeout: leaf.timeout ?? root.timeout,
    retries: leaf.retries ?? root.retries,
    fault: leaf.fault ?? root.fault,
    mirror: leaf.mirror ?? (leaf.mirrors ? undefined : root.mirror),
    mirrorPercent: leaf.mirrorPercent ?? root.mirrorPercent,
    mirror_percent: leaf.mirror_percent ?? root.mirror_percent,
    mirrorPercentage: leaf.mirrorPercentage ?? root.mirrorPercentage,
    mirrors: leaf.mirrors ?? (leaf.mirror ? undefined : root.mirrors),
    corsPolicy: leaf.corsPolicy ?? root.corsPolicy,
    headers: leaf.headers ?? root.headers,
    delegate: undefined,
  });
}
