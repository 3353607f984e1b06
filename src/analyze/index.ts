/**
 * `isthmus analyze`: cross-resource problems no single resource shows, reported the way
 * `istioctl analyze` reports them (Istio's IST codes where Istio has one, `ISTHMUS-Axxx`
 * otherwise; see messages.ts).
 *
 * Every analyzer runs on the *valid* config and resolves names with the same functions
 * the compiler uses (short names, gateway refs, registry lookups, DestinationRule
 * lookup, Sidecar imports), so "analyze says OK" means the proxy will do it.
 */
import { sortDiagnostics, type Diagnostic } from '../core/diagnostics.js';
import type { ConfigSet } from '../api/types.js';
import { buildRegistry } from '../registry/build.js';
import { Report, type AnalyzeContext, type AnalyzeOptions, type Analyzer } from './context.js';
import { analyzeRoutes } from './routes.js';
import { analyzeGateways } from './gateways.js';
import { analyzeMeshConflicts } from './meshconflicts.js';
import { analyzeGatewayMerges } from './gatewaymerge.js';
import { analyzeDestinations } from './destinations.js';
import { analyzeSubsetRefs } from './subsets.js';
import { analyzeDestinationRules } from './destinationrules.js';
import { analyzeSidecars } from './sidecars.js';
import { analyzeDelegates } from './delegates.js';

export type { AnalyzeOptions } from './context.js';
export { MSG } from './messages.js';

/** Every analyzer, in reporting order (the output is sorted by position anyway). */
export const ANALYZERS: readonly Analyzer[] = [
  analyzeGateways,
  analyzeDelegates,
  analyzeDestinations,
  analyzeSubsetRefs,
  analyzeRoutes,
  analyzeMeshConflicts,
  analyzeGatewayMerges,
  analyzeDestinationRules,
  analyzeSidecars,
];

/** Runs every analyzer over a validated config; findings sorted by file position. */
export function analyze(config: ConfigSet, opts: AnalyzeOptions): Diagnostic[] {
  const ctx: AnalyzeContext = {
    config,
    domain: opts.domain,
    rootNamespace: opts.rootNamespace,
    registry: buildRegistry(config, { domain: opts.domain }),
  };
  const out = new Report();
  for (const a of ANALYZERS) a(ctx, out);
  return sortDiagnostics(dedupe(out.list));
}

/** The same finding reached twice (e.g. one host through two gateways) is shown once. */
function dedupe(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return list.filter((d) => {
    const key = [d.file, d.line, d.column, d.code, d.kind, d.namespace, d.name, d.path, d.message].join('\u0000');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
