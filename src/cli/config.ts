/**
 * The config pipeline every command shares: load -> validate, with the flags
 * `-f`, `--namespace`, `--domain`.
 */
import { loadPaths } from '../api/load.js';
import type { Diagnostic } from '../core/diagnostics.js';
import { validateResources, type ValidationResult } from '../validate/index.js';

export interface ConfigFlags {
  file: string[];
  namespace: string;
  domain: string;
}

export interface LoadedConfig extends ValidationResult {
  /** Loader + validation diagnostics, in input order. */
  diagnostics: Diagnostic[];
  files: string[];
  resourceCount: number;
}

export function loadConfig(flags: ConfigFlags): LoadedConfig {
  const loaded = loadPaths(flags.file, { namespace: flags.namespace });
  const v = validateResources(loaded.resources, { domain: flags.domain });
  // A file that holds nothing at all is almost always the wrong file: say so.
  const empty: Diagnostic[] = loaded.perFile
    .filter((f) => f.resources === 0 && f.diagnostics === 0)
    .map((f) => ({ file: f.file, line: 1, column: 1, severity: 'error', kind: '', namespace: '', name: '', path: '', message: 'no resources in this file (it is empty or holds only comments)', code: 'empty-file' }));
  return {
    ...v,
    diagnostics: [...loaded.diagnostics, ...empty, ...v.diagnostics],
    files: loaded.files,
    resourceCount: loaded.resources.length,
  };
}

/** `--domain cluster.local` is the default suffix; users may also pass `svc.cluster.local`. */
export function normaliseDomain(d: string): string {
  return d.replace(/^svc\./, '').replace(/\.$/, '');
}
