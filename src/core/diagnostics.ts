/**
 * Diagnostics: the one shape every loader, validator, analyzer and compiler
 * finding takes, so the CLI can print `file:line:col: severity Kind ns/name: path: message`.
 */

export type Severity = 'error' | 'warning';

/** A position in a source file; 1-based line and column. */
export interface SourcePos {
  file: string;
  line: number;
  column: number;
}

export interface Diagnostic {
  file: string;
  line: number;
  column: number;
  severity: Severity;
  /** Resource kind, or '' when the problem is not inside a resource (e.g. YAML syntax). */
  kind: string;
  namespace: string;
  name: string;
  /** Field path inside the resource, e.g. `spec.http[0].route[1].weight`; '' for the whole resource. */
  path: string;
  message: string;
  /** Stable code for the kind of finding (analyze: IST-style codes; loader: `yaml-syntax` etc.). */
  code?: string;
}

/** A field path as a list of keys / indices, e.g. ['spec', 'http', 0, 'route']. */
export type FieldPath = ReadonlyArray<string | number>;

/** Renders a field path the way Istio/kubectl do: `spec.http[0].match[1].headers.x-user`. */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (out === '') out = seg;
    else out += `.${seg}`;
  }
  return out;
}

/** One line of `validate`/`analyze` text output. */
export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file}:${d.line}:${d.column}`;
  const who = d.kind ? ` ${d.kind} ${d.namespace}/${d.name}:` : '';
  const path = d.path ? ` ${d.path}:` : '';
  const code = d.code && d.code.startsWith('IST') ? ` [${d.code}]` : '';
  return `${where}: ${d.severity}${code}${who}${path} ${d.message}`;
}

export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return ds.sort(
    (a, b) =>
      a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || a.message.localeCompare(b.message),
  );
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}
