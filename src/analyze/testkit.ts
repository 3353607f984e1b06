/**
 * Test helpers for analyzer tests: YAML fixture -> load -> validate -> analyze, and a
 * compact rendering of findings (`CODE Kind ns/name path`) for table assertions.
 */
import assert from 'node:assert/strict';
import type { Diagnostic } from '../core/diagnostics.js';
import { loadText } from '../api/load.js';
import { validateResources } from '../validate/index.js';
import { analyze } from './index.js';

export const OPTS = { domain: 'cluster.local', rootNamespace: 'istio-system' };

/** Loads a multi-document fixture (default namespace `default`), checks it is valid, analyzes it. */
export function analyzeYaml(yaml: string, opts = OPTS): Diagnostic[] {
  const loaded = loadText(yaml, 'fixture.yaml', { namespace: 'default' });
  const result = validateResources(loaded.resources, { domain: opts.domain });
  const errors = [...loaded.diagnostics, ...result.diagnostics].filter((d) => d.severity === 'error');
  assert.deepEqual(errors.map((d) => `${d.path}: ${d.message}`), [], 'fixture must be valid');
  return analyze(result.config, opts);
}

/** `CODE Kind ns/name path` for each finding whose code is in `codes` (all when omitted). */
export function summary(ds: readonly Diagnostic[], codes?: readonly string[]): string[] {
  return ds.filter((d) => !codes || codes.includes(d.code ?? '')).map((d) => `${d.code} ${d.kind} ${d.namespace}/${d.name} ${d.path}`);
}

/** The one finding with this code (fails otherwise). */
export function only(ds: readonly Diagnostic[], code: string): Diagnostic {
  const hits = ds.filter((d) => d.code === code);
  assert.equal(hits.length, 1, `expected one ${code}, got ${hits.length}: ${JSON.stringify(summary(ds))}`);
  return hits[0];
}

/** A ServiceEntry fixture: `host` in namespace `ns` with one HTTP port and labelled STATIC endpoints. */
export function serviceEntry(
  name: string,
  host: string,
  opts: { ns?: string; ports?: number[]; endpoints?: Record<string, string>[]; exportTo?: string[]; resolution?: string } = {},
): string {
  const ports = (opts.ports ?? [9080]).map((p) => `  - {number: ${p}, name: http-${p}, protocol: HTTP}`).join('\n');
  const eps = (opts.endpoints ?? [{}])
    .map((labels, i) => `  - address: 10.0.0.${i + 1}\n    labels: ${JSON.stringify(labels)}`)
    .join('\n');
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${opts.ns ?? 'default'}}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: ${opts.resolution ?? 'STATIC'}
${opts.exportTo ? `  exportTo: ${JSON.stringify(opts.exportTo)}\n` : ''}  ports:
${ports}
${opts.resolution === 'NONE' ? '' : `  endpoints:\n${eps}\n`}---
`;
}
