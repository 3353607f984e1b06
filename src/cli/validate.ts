/** `isthmus validate`: structural + semantic checks, one line per problem, exit 1 on any error. */
import { formatDiagnostic, hasErrors, sortDiagnostics, type Diagnostic } from '../core/diagnostics.js';
import { loadConfig, type ConfigFlags } from './config.js';
import type { Output } from './output.js';

export interface ValidateFlags extends ConfigFlags {
  json: boolean;
}

export function runValidate(flags: ValidateFlags, out: Output): number {
  const cfg = loadConfig(flags);
  const diags = sortDiagnostics(cfg.diagnostics);
  if (flags.json) {
    out.stdout(JSON.stringify(diags.map(toJson), null, 2));
  } else {
    for (const d of diags) out.stdout(formatDiagnostic(d));
    const errors = diags.filter((d) => d.severity === 'error').length;
    const warnings = diags.length - errors;
    const summary = `${cfg.valid.length} of ${cfg.resourceCount} resources valid in ${cfg.files.length || (flags.file.includes('-') ? 1 : 0)} file(s): ${errors} error(s), ${warnings} warning(s)`;
    (errors ? out.stderr : out.stdout)(summary);
  }
  return hasErrors(diags) ? 1 : 0;
}

/** The `--json` shape of interface.md. */
export function toJson(d: Diagnostic): Record<string, unknown> {
  return {
    file: d.file,
    line: d.line,
    column: d.column,
    severity: d.severity,
    kind: d.kind,
    namespace: d.namespace,
    name: d.name,
    path: d.path,
    message: d.message,
    ...(d.code ? { code: d.code } : {}),
  };
}
