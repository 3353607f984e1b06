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
  if (!ok) return { findings };
  const spec = shareUnchanged(st.resource.spec, (raw.raw as { spec?: unknown }).spec);
  return { resource: spec === st.resource.spec ? st.resource : ({ ...st.resource, spec } as Resource), findings };
}

/**
 * The typed spec with every subtree that is equal to the raw document's replaced by the raw
 * one. The schema layer copies each object it checks, so a served config held the spec
 * twice (the raw document is kept for change fingerprints and cache identity): ~4 MB per
 * 1,000 services. Equality is strict: same keys in the same order, primitives `===`, so a
 * subtree the schema changed (nulls dropped, keys reordered, values normalised) keeps the
 * schema's copy and consumers see exactly what the schema produced. Runs once per
 * validated document (results are cached across reloads), never per request.
 */
export function shareUnchanged<T>(typed: T, raw: unknown): T {
  if (typed === raw || typed === null || typeof typed !== 'object' || raw === null || typeof raw !== 'object') return typed;
  if (!isPlain(typed) || !isPlain(raw) || Array.isArray(typed) !== Array.isArray(raw)) return typed;
  const t = typed as Record<string, unknown>;
  const r = raw as Record<string, unknown>;
  const tk = Object.keys(t);
  const rk = Object.keys(r);
  let same = tk.length === rk.length;
  const out: Record<string, unknown> | unknown[] = Array.isArray(typed) ? [] : {};
  for (let i = 0; i < tk.length; i++) {
    const k = tk[i];
    const child = Object.prototype.hasOwnProperty.call(r, k) ? shareUnchanged(t[k], r[k]) : t[k];
    if (same && (rk[i] !== k || child !== r[k])) same = false;
    (out as Record<string, unknown>)[k] = child;
  }
  if (same) return raw as T;
  // Keep the schema's object when no child could be shared (no needless copy).
  for (const k of tk) if ((out as Record<string, unknown>)[k] !== t[k]) return out as T;
  return typed;
}

/** JSON containers only: anything a schema transform built (a RegExp, a class) is left as is. */
function isPlain(v: object): boolean {
  if (Array.isArray(v)) return true;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Results of `validateOne` by raw document (object identity). A reload re-uses the parsed
 * documents of unchanged files, and with them their validation: each resource is judged on
 * its own, so the result cannot change while the document, its identity and the context do not.
 */
export type ValidationCache = WeakMap<object, CachedValidation>;

/**
 * One cached result. The identity it was computed for is kept as the resource's own strings
 * (no composed key string per resource: thousands of them outlive every reload).
 */
export interface CachedValidation {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly domain: string;
  readonly spec: unknown;
  readonly ok: boolean;
  readonly findings: readonly Finding[];
}

/** Shared by every cached result without findings (most of them). */
const NO_FINDINGS: readonly Finding[] = Object.freeze([]);

function validateCached(raw: RawResource, ctx: ValidateContext, cache: ValidationCache | undefined): { resource?: Resource; findings: readonly Finding[] } {
  if (!cache) return validateOne(raw, ctx);
  const hit = cache.get(raw.raw);
  if (hit && hit.kind === raw.kind && hit.namespace === raw.meta.namespace && hit.name === raw.meta.name && hit.domain === ctx.domain) {
    return { resource: hit.ok ? ({ ...raw, spec: hit.spec } as Resource) : undefined, findings: hit.findings };
  }
  const r = validateOne(raw, ctx);
  cache.set(raw.raw, {
    kind: raw.kind,
    namespace: raw.meta.namespace,
    name: raw.meta.name,
    domain: ctx.domain,
    spec: r.resource?.spec,
    ok: r.resource !== undefined,
    findings: r.findings.length > 0 ? r.findings : NO_FINDINGS,
  });
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
