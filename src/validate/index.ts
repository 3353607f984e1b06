/**
 * Validation entry point: structural (CRD) then semantic (webhook) per resource. Each
 * resource is judged on its own, so one bad resource never hides the good ones.
 */
import type { Diagnostic } from '../core/diagnostics.js';
import type { Kind, RawResource } from '../api/resource.js';
import { resourceKey } from '../api/resource.js';
import type { ConfigSet, Resource } from '../api/types.js';
import { validateDNS1123Label, validateDNS1123Subdomain } from '../core/hosts.js';
import type { Finding, ValidateContext } from './finding.js';
import { validateStructure } from './structural.js';
import { validateVirtualService } from './virtualservice.js';
import { validateDestinationRule } from './destinationrule.js';
import { validateGateway } from './gateway.js';
import { validateServiceEntry } from './serviceentry.js';
import { validateSidecar } from './sidecar.js';
import { validateWorkloadEntry } from './workloadentry.js';

type KindValidator<K extends Kind> = (r: Resource<K>, ctx: ValidateContext) => Finding[];

const SEMANTIC: { [K in Kind]: KindValidator<K> } = {
  VirtualService: validateVirtualService,
  DestinationRule: validateDestinationRule,
  Gateway: validateGateway,
  ServiceEntry: validateServiceEntry,
  Sidecar: validateSidecar,
  WorkloadEntry: validateWorkloadEntry,
};

export interface ValidationResult {
  /** Every resource without errors (warnings allowed), grouped by kind, in load order. */
  config: ConfigSet;
  /** The same resources as a flat list. */
  valid: Resource[];
  diagnostics: Diagnostic[];
}

export const DEFAULT_VALIDATE_CONTEXT: ValidateContext = { domain: 'cluster.local' };

export function emptyConfigSet(): ConfigSet {
  return { virtualServices: [], destinationRules: [], gateways: [], serviceEntries: [], sidecars: [], workloadEntries: [] };
}

/** Validates one resource: structural first; semantic rules only when the shape is right. */
export function validateOne(raw: RawResource, ctx: ValidateContext = DEFAULT_VALIDATE_CONTEXT): { resource?: Resource; findings: Finding[] } {
  const findings: Finding[] = [...metadataFindings(raw)];
  const st = validateStructure(raw);
  findings.push(...st.findings);
  if (!st.resource) return { findings };
  const sem = (SEMANTIC[raw.kind] as KindValidator<Kind>)(st.resource, ctx);
  findings.push(...sem);
  const ok = !findings.some((f) => (f.severity ?? 'error') === 'error');
  return { resource: ok ? st.resource : undefined, findings };
}

/**
 * Results of `validateOne` by raw document (object identity). A reload re-uses the parsed
 * documents of unchanged files, and with them their validation: each resource is judged on
 * its own, so the result cannot change while the document, its identity and the context do not.
 */
export type ValidationCache = WeakMap<object, { key: string; spec: unknown; ok: boolean; findings: Finding[] }>;

function validateCached(raw: RawResource, ctx: ValidateContext, cache: ValidationCache | undefined): { resource?: Resource; findings: Finding[] } {
  if (!cache) return validateOne(raw, ctx);
  const key = `${resourceKey(raw)}|${ctx.domain}`;
  const hit = cache.get(raw.raw);
  if (hit && hit.key === key) return { resource: hit.ok ? ({ ...raw, spec: hit.spec } as Resource) : undefined, findings: hit.findings };
  const r = validateOne(raw, ctx);
  cache.set(raw.raw, { key, spec: r.resource?.spec, ok: r.resource !== undefined, findings: r.findings });
  return r;
}

export function validateResources(raws: readonly RawResource[], ctx: ValidateContext = DEFAULT_VALIDATE_CONTEXT, cache?: ValidationCache): ValidationResult {
  const config = emptyConfigSet();
  const valid: Resource[] = [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Map<string, RawResource>();
  for (const raw of raws) {
    const key = resourceKey(raw);
    const first = seen.get(key);
    if (first) {
      const p = raw.source.locate(['metadata', 'name']);
      const q = first.source.locate(['metadata', 'name']);
      diagnostics.push(toDiagnostic(raw, { path: ['metadata', 'name'], message: `duplicate ${raw.kind} ${raw.meta.namespace}/${raw.meta.name}: already defined at ${q.file}:${q.line}:${q.column}; this one is ignored` }, p));
      continue;
    }
    seen.set(key, raw);
    const { resource, findings } = validateCached(raw, ctx, cache);
    for (const f of findings) diagnostics.push(toDiagnostic(raw, f));
    if (resource) {
      valid.push(resource);
      addToSet(config, resource);
    }
  }
  return { config, valid, diagnostics };
}

export function addToSet(config: ConfigSet, r: Resource): void {
  switch (r.kind) {
    case 'VirtualService': config.virtualServices.push(r as Resource<'VirtualService'>); break;
    case 'DestinationRule': config.destinationRules.push(r as Resource<'DestinationRule'>); break;
    case 'Gateway': config.gateways.push(r as Resource<'Gateway'>); break;
    case 'ServiceEntry': config.serviceEntries.push(r as Resource<'ServiceEntry'>); break;
    case 'Sidecar': config.sidecars.push(r as Resource<'Sidecar'>); break;
    case 'WorkloadEntry': config.workloadEntries.push(r as Resource<'WorkloadEntry'>); break;
  }
}

function metadataFindings(raw: RawResource): Finding[] {
  const out: Finding[] = [];
  const nameErr = raw.kind === 'Gateway' ? validateDNS1123Label(raw.meta.name) : validateDNS1123Subdomain(raw.meta.name);
  if (nameErr) out.push({ path: ['metadata', 'name'], message: raw.kind === 'Gateway' ? `invalid gateway name: "${raw.meta.name}"` : `invalid name "${raw.meta.name}": ${nameErr}` });
  const nsErr = validateDNS1123Label(raw.meta.namespace);
  if (nsErr) out.push({ path: ['metadata', 'namespace'], message: `invalid namespace "${raw.meta.namespace}": ${nsErr}` });
  return out;
}

export function toDiagnostic(raw: RawResource, f: Finding, pos = raw.source.locate(f.path)): Diagnostic {
  return {
    file: pos.file,
    line: pos.line,
    column: pos.column,
    severity: f.severity ?? 'error',
    kind: raw.kind,
    namespace: raw.meta.namespace,
    name: raw.meta.name,
    path: formatFieldPath(f.path),
    message: f.message,
    ...(f.code ? { code: f.code } : {}),
  };
}

function formatFieldPath(path: Finding['path']): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (out === '') out = seg;
    else out += /^[A-Za-z0-9_]+$/.test(seg) ? `.${seg}` : `[${JSON.stringify(seg)}]`;
  }
  return out;
}
