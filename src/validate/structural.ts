/**
 * Structural validation: what the Kubernetes API server would reject given Istio's CRD —
 * unknown fields (with a "did you mean" hint), wrong types, enum values, ranges and the
 * CRD's CEL rules — reported per field with the same wording kubectl users know.
 */
import type { z } from 'zod';
import type { FieldPath } from '../core/diagnostics.js';
import type { RawResource } from '../api/resource.js';
import type { Resource } from '../api/types.js';
import { RESOURCE_SCHEMAS } from '../api/schema/index.js';
import type { Finding } from './finding.js';

export interface StructuralResult {
  /** Present when the resource passed: spec typed, nulls normalised away. */
  resource?: Resource;
  findings: Finding[];
}

export function validateStructure(raw: RawResource): StructuralResult {
  const schema = RESOURCE_SCHEMAS[raw.kind] as z.ZodType;
  const r = schema.safeParse(raw.raw);
  if (r.success) {
    const parsed = r.data as { spec: unknown };
    return { resource: { ...raw, spec: parsed.spec } as Resource, findings: [] };
  }
  const findings: Finding[] = [];
  for (const issue of r.error.issues) findings.push(...issueToFindings(issue, schema, raw.raw));
  return { findings };
}

function issueToFindings(issue: z.core.$ZodIssue, root: z.ZodType, value: unknown): Finding[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(root, path);
      return issue.keys.map((k) => ({
        path: [...path, k],
        message: `unknown field "${k}"${hint(k, known)}`,
      }));
    }
    case 'invalid_type': {
      const input = valueAt(value, path);
      if (input === undefined) return [{ path, message: 'Required value' }];
      const expected = issue.expected === 'int' ? 'integer' : issue.expected;
      return [{ path, message: `Invalid value: ${show(input)}: must be of type ${expected}` }];
    }
    case 'invalid_value':
      return [
        {
          path,
          message: `Unsupported value: ${show(valueAt(value, path))}: supported values: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
        },
      ];
    case 'too_big':
      return [{ path, message: `Invalid value: ${show(valueAt(value, path))}: must be ${bound(issue, 'at most')}` }];
    case 'too_small':
      return [{ path, message: `Invalid value: ${show(valueAt(value, path))}: must be ${bound(issue, 'at least')}` }];
    case 'invalid_format':
      return [{ path, message: `Invalid value: ${show(valueAt(value, path))}: must be ${issue.format}` }];
    case 'custom':
      return [{ path, message: issue.message }];
    default:
      return [{ path, message: `Invalid value: ${issue.message}` }];
  }
}

function bound(issue: z.core.$ZodIssueTooBig | z.core.$ZodIssueTooSmall, word: string): string {
  const limit = 'maximum' in issue ? issue.maximum : (issue as z.core.$ZodIssueTooSmall).minimum;
  const incl = issue.inclusive === false ? (word === 'at most' ? 'less than' : 'greater than') : word;
  switch (issue.origin) {
    case 'array':
      return `${incl} ${limit} items`;
    case 'string':
      return `${incl} ${limit} characters`;
    default:
      return `${incl} ${limit}`;
  }
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) return String(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function valueAt(v: unknown, path: FieldPath): unknown {
  let cur = v;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

/** The field names the schema allows for the object at `path` (for "did you mean"). */
export function knownKeys(root: z.ZodType, path: FieldPath): string[] {
  let s: z.core.$ZodType | undefined = unwrap(root as unknown as z.core.$ZodType);
  for (const seg of path) {
    if (!s) return [];
    const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === 'object' && typeof seg === 'string') s = (def.shape as Record<string, z.core.$ZodType>)[seg];
    else if (def.type === 'array') s = def.element as z.core.$ZodType;
    else if (def.type === 'record') s = def.valueType as z.core.$ZodType;
    else return [];
    s = s ? unwrap(s) : undefined;
  }
  if (!s) return [];
  const def = s._zod.def as unknown as { type: string; shape?: Record<string, unknown> };
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

function unwrap(s: z.core.$ZodType): z.core.$ZodType {
  for (let i = 0; i < 10; i++) {
    const def = s._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === 'optional' || def.type === 'nullable' || def.type === 'default') s = def.innerType as z.core.$ZodType;
    else if (def.type === 'pipe') s = def.out as z.core.$ZodType;
    else break;
  }
  return s;
}

/** ` (did you mean "hosts"?)` when a known field is close enough to be a typo. */
export function hint(key: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  const k = key.toLowerCase().replace(/[_-]/g, '');
  for (const cand of known) {
    const c = cand.toLowerCase().replace(/[_-]/g, '');
    const d = c === k ? 0 : levenshtein(k, c);
    if (d < bestD) {
      bestD = d;
      best = cand;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(key.length / 3)));
  return best !== undefined && bestD <= limit ? ` (did you mean "${best}"?)` : '';
}

/** Edit distance counting an adjacent transposition as one edit (typos like `spce`). */
function levenshtein(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
