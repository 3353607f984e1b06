/**
 * Semantic (webhook) validation of a DestinationRule (istio-semantics.md §4.2, D1–D28).
 * Structural rules (types, enums, durations, oneofs, selector wildcards) already ran.
 */
import { validateDNS1123Label, validateWildcardDomain } from '../core/hosts.js';
import { validateLabels } from '../core/names.js';
import type { Resource } from '../api/types.js';
import { validateExportTo } from './common.js';
import { validateTrafficPolicy } from './dr-trafficpolicy.js';
import { Findings, type Finding, type ValidateContext } from './finding.js';

/** Validates one DestinationRule; paths are from the resource root. */
export function validateDestinationRule(r: Resource<'DestinationRule'>, _ctx: ValidateContext): Finding[] {
  const spec = r.spec;
  const ns = r.meta.namespace;
  const f = new Findings();

  // D1: Istio's wildcard-domain rule also admits `*foo.com`-style leading labels here.
  const hostErr = validateWildcardDomain(spec.host, { allowPartialWildcard: true });
  if (hostErr) f.error(['spec', 'host'], hostErr);

  f.list.push(...validateTrafficPolicy(spec.trafficPolicy, ns, ['spec', 'trafficPolicy']));

  // D2/D3: subsets.
  const names = new Set<string>();
  (spec.subsets ?? []).forEach((s, i) => {
    const at = ['spec', 'subsets', i];
    if (names.has(s.name)) f.error([...at, 'name'], `duplicate subset names: ${s.name}`);
    names.add(s.name);
    if (s.name === '') f.error([...at, 'name'], 'subset name cannot be empty');
    // Subset names end up in cluster names; the spec asks for a lowercase DNS-1123 label.
    else if (validateDNS1123Label(s.name)) f.error([...at, 'name'], `subset name is invalid: ${s.name}`);
    const labelErr = s.labels ? validateLabels(s.labels) : null;
    if (labelErr) f.error([...at, 'labels'], labelErr);
    f.list.push(...validateTrafficPolicy(s.trafficPolicy, ns, [...at, 'trafficPolicy']));
  });

  // D27: exportTo (a DR with a workloadSelector stays in its own namespace).
  f.list.push(...validateExportTo(spec.exportTo, ns, ['spec', 'exportTo'], { drWithSelector: spec.workloadSelector !== undefined }));

  // D28: wildcards and empty keys are rejected by the schema; an empty selector is only suspicious.
  const sel = spec.workloadSelector;
  if (sel && Object.keys(sel.matchLabels ?? {}).length === 0) {
    f.warn(['spec', 'workloadSelector'], 'workload selector specified without labels');
  }
  return f.list;
}
