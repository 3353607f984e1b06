/** `isthmus analyze`: cross-resource findings (IST codes), after per-resource validation. */
import { formatDiagnostic, hasErrors, sortDiagnostics } from '../core/diagnostics.js';
import { analyze } from '../analyze/index.js';
import { loadConfig, type ConfigFlags } from './config.js';
import type { Output } from './output.js';
import { toJson } from './validate.js';

export interface AnalyzeFlags extends ConfigFlags {
  json: boolean;
}

export function runAnalyze(flags: AnalyzeFlags, out: Output): number {
  const cfg = loadConfig(flags);
  const findings = analyze(cfg.config, { domain: flags.domain, rootNamespace: 'istio-system' });
  // The validator's reachability warnings have analyzer twins with the same IST codes.
  const key = (d: { code?: string; file: string; line: number }): string => `${d.code}|${d.file}|${d.line}`;
  const ours = new Set(findings.map(key));
  const validation = cfg.diagnostics.filter((d) => !(d.code && ours.has(key(d))));
  const diags = sortDiagnostics([...validation, ...findings]);
  if (flags.json) out.stdout(JSON.stringify(diags.map(toJson), null, 2));
  else {
    for (const d of diags) out.stdout(formatDiagnostic(d));
    const errors = diags.filter((d) => d.severity === 'error').length;
    const summary = diags.length === 0
      ? `✔ No validation issues found when analyzing ${cfg.resourceCount} resources.`
      : `${errors} error(s), ${diags.length - errors} warning(s) in ${cfg.resourceCount} resources`;
    (errors ? out.stderr : out.stdout)(summary);
  }
  return hasErrors(diags) ? 1 : 0;
}
