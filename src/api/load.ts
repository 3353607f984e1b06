/**
 * Loading: files, folders and stdin -> RawResource[] + Diagnostic[].
 * Multi-document YAML, JSON, `kind: List`. Every resource keeps a locator into the YAML
 * AST so any later finding can name `file:line:col`. Loading never throws on bad input.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { Composer, LineCounter, Parser, parseAllDocuments, isAlias, isCollection, isMap, isSeq, isScalar, isPair, visit, Scalar, type Document, type Node } from 'yaml';
import type { Diagnostic, FieldPath, SourcePos } from '../core/diagnostics.js';
import { API_GROUP, API_VERSIONS, isKind, type RawResource, type SourceLocator } from './resource.js';

export interface LoadOptions {
  /** Namespace for resources without metadata.namespace. */
  namespace: string;
  /** Reads stdin when a path is `-`. */
  readStdin?: () => string;
  /** Paths in diagnostics are shown relative to this directory when possible (default: cwd). */
  cwd?: string;
}

export interface LoadResult {
  resources: RawResource[];
  diagnostics: Diagnostic[];
  /** Every file read (for the watcher and /config_dump). */
  files: string[];
  /** Per input (as shown in diagnostics): how many resources and diagnostics it produced. */
  perFile: Array<{ file: string; resources: number; diagnostics: number }>;
}

const CONFIG_EXT = /\.(ya?ml|json)$/i;
const MAX_FILE_BYTES = 32 * 1024 * 1024;

/** Expands files and folders (recursively, `*.yaml|*.yml|*.json`, sorted) into a file list. */
export function expandPaths(paths: readonly string[], diagnostics: Diagnostic[]): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch (e) {
      diagnostics.push(fileDiag(dir, `cannot read directory: ${(e as Error).message}`));
      return;
    }
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const p = join(dir, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (CONFIG_EXT.test(n)) out.push(p);
    }
  };
  for (const p of paths) {
    if (p === '-') {
      out.push('-');
      continue;
    }
    let st;
    try {
      st = statSync(p);
    } catch {
      diagnostics.push(fileDiag(p, 'no such file or directory', 'file-not-found'));
      continue;
    }
    if (st.isDirectory()) walk(p);
    else out.push(p);
  }
  return out;
}

/** Loads every resource from the given files/folders/stdin. */
export function loadPaths(paths: readonly string[], opts: LoadOptions): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const files = expandPaths(paths, diagnostics);
  const resources: RawResource[] = [];
  const perFile: LoadResult['perFile'] = [];
  const cwd = opts.cwd ?? process.cwd();
  for (const f of files) {
    let text: string;
    let shown = f;
    if (f === '-') {
      shown = '<stdin>';
      try {
        text = opts.readStdin ? opts.readStdin() : readFileSync(0, 'utf8');
      } catch (e) {
        diagnostics.push(fileDiag(shown, `cannot read stdin: ${(e as Error).message}`));
        continue;
      }
    } else {
      shown = isAbsolute(f) ? displayPath(f, cwd) : f;
      try {
        const st = statSync(f);
        if (st.size > MAX_FILE_BYTES) {
          diagnostics.push(fileDiag(shown, `file is larger than ${MAX_FILE_BYTES} bytes`, 'file-too-large'));
          continue;
        }
        text = readFileSync(f, 'utf8');
      } catch (e) {
        diagnostics.push(fileDiag(shown, `cannot read file: ${(e as Error).message}`));
        continue;
      }
    }
    const r = loadText(text, shown, opts, resources.length);
    resources.push(...r.resources);
    diagnostics.push(...r.diagnostics);
    perFile.push({ file: shown, resources: r.resources.length, diagnostics: r.diagnostics.length });
  }
  return { resources, diagnostics, files: files.filter((f) => f !== '-'), perFile };
}

function displayPath(f: string, cwd: string): string {
  const rel = relative(cwd, f);
  return rel && !rel.startsWith('..') ? rel : f;
}

function fileDiag(file: string, message: string, code = 'file-error', line = 1, column = 1): Diagnostic {
  return { file, line, column, severity: 'error', kind: '', namespace: '', name: '', path: '', message, code };
}

/** Parses one file's text. `seqBase` continues the load order across files. */
export function loadText(
  text: string,
  file: string,
  opts: Pick<LoadOptions, 'namespace'>,
  seqBase = 0,
): { resources: RawResource[]; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const resources: RawResource[] = [];
  if (text.includes('\u0000')) {
    const idx = text.indexOf('\u0000');
    const pos = lineCol(text, idx);
    diagnostics.push(fileDiag(file, 'file contains NUL bytes: not a YAML or JSON text file', 'not-text', pos.line, pos.column));
    return { resources, diagnostics };
  }
  const lc = new LineCounter();
  // Documents are composed and turned into plain values one at a time, so a large file never
  // has all its ASTs alive at once (a 1,000-service config's ASTs are tens of MB, and that
  // peak would stay in the process's RSS). Positions are found later by re-parsing on demand.
  const held = new ParsedFileRef(text);
  const at = (offset: number): { line: number; column: number } => {
    const p = lc.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const handle = (doc: Document.Parsed, docIndex: number): void => {
    if (doc.errors.length > 0) {
      for (const err of doc.errors) {
        const p = at(err.pos[0]);
        diagnostics.push(fileDiag(file, `YAML syntax error: ${parserMessage(err.message)}`, 'yaml-syntax', p.line, p.column));
      }
      return;
    }
    const root = doc.contents;
    if (root === null || (isScalar(root) && (root.value === null || root.value === undefined))) return; // empty doc
    fixColonScalars(doc, text);
    const badKeys = unsupportedKeys(doc);
    if (badKeys.length > 0) {
      for (const k of badKeys) {
        const p = at(k.offset);
        diagnostics.push(fileDiag(file, k.message, 'unsupported-key', p.line, p.column));
      }
      return;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      const p = at(root.range?.[0] ?? 0);
      diagnostics.push(fileDiag(file, `cannot read document ${docIndex + 1}: ${parserMessage((e as Error).message)}`, 'yaml-syntax', p.line, p.column));
      return;
    }
    const locator = new FileDocLocator(file, held, docIndex);
    collect(value, [], locator, file, opts.namespace, seqBase, resources, diagnostics);
  };
  let docIndex = 0;
  try {
    // logLevel 'error': the library's warnings (e.g. a stringified collection key) would go to
    // the process's stderr; what they warn about is reported as a diagnostic instead.
    const composer = new Composer({ uniqueKeys: true, prettyErrors: false, logLevel: 'error' });
    for (const doc of composer.compose(new Parser(lc.addNewLine).parse(text))) handle(doc as Document.Parsed, docIndex++);
  } catch (e) {
    diagnostics.push(fileDiag(file, `cannot parse: ${parserMessage((e as Error).message)}`, 'yaml-syntax'));
  }
  return { resources, diagnostics };
}

/**
 * In a flow sequence YAML 1.2 reads `[1.2.3.4, 001:db8::]` as a string and a one-pair map
 * `{"001:db8:": null}`; Kubernetes' YAML reader (and every user) means the string. Turn such
 * implicit single pairs written without any space back into the scalar they spell.
 */
function fixColonScalars(doc: Document.Parsed, text: string): void {
  visit(doc, {
    Seq(_key, seq) {
      if (!seq.flow) return;
      seq.items.forEach((item, i) => {
        if (!isMap(item) || item.items.length !== 1 || !item.range) return;
        const src = text.slice(item.range[0], item.range[1]).trim();
        const pair = item.items[0];
        const v = pair.value as Node | null;
        const nullValue = v === null || (isScalar(v) && v.value === null && (v.range?.[0] ?? 0) === (v.range?.[1] ?? 0));
        if (src.startsWith('{') || /\s/.test(src) || !src.includes(':') || !nullValue) return;
        const sc = new Scalar(src);
        sc.range = item.range;
        seq.items[i] = sc;
      });
    },
  });
}

/**
 * Mapping keys a resource cannot have, as offsets and messages:
 * - a mapping or sequence used as a key (`? [a, b]`): Kubernetes' YAML-to-JSON conversion
 *   rejects it, and a plain object could only hold it stringified;
 * - `__proto__`: the schema layer builds plain objects, where this key would set the
 *   prototype instead of becoming an entry, so it would vanish silently (a header match on
 *   it would turn into a catch-all). No Istio field or label key can be named so.
 */
function unsupportedKeys(doc: Document.Parsed): Array<{ offset: number; message: string }> {
  const out: Array<{ offset: number; message: string }> = [];
  visit(doc, {
    Pair(_key, pair) {
      let k = pair.key as Node | null;
      if (isAlias(k)) k = (k.resolve(doc) as Node | undefined) ?? null;
      const offset = (pair.key as Node | null)?.range?.[0] ?? 0;
      if (isCollection(k)) out.push({ offset, message: `a mapping key must be a string, not a ${isSeq(k) ? 'sequence' : 'mapping'}` });
      else if (isScalar(k) && k.value === '__proto__') out.push({ offset, message: 'the key "__proto__" is not supported: it cannot be represented as a field or map entry' });
    },
  });
  return out;
}

/** The parser's message, first line only; a stack overflow (absurd nesting) said plainly. */
function parserMessage(m: string): string {
  return /Maximum call stack size exceeded/.test(m) ? 'nested too deeply to read (thousands of levels)' : firstLine(m);
}

function firstLine(s: string): string {
  return s.split('\n')[0];
}

function lineCol(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, column: offset - last };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Turns one parsed document (or one `kind: List` item) into a RawResource or a diagnostic. */
function collect(
  value: unknown,
  base: FieldPath,
  doc: DocLocator,
  file: string,
  defaultNs: string,
  seqBase: number,
  out: RawResource[],
  diags: Diagnostic[],
): void {
  const pos = doc.locate(base);
  const diag = (message: string, code: string, path: FieldPath = [], severity: 'error' | 'warning' = 'error'): void => {
    const p = doc.locate([...base, ...path]);
    diags.push({ file, line: p.line, column: p.column, severity, kind: '', namespace: '', name: '', path: '', message, code });
  };
  if (!isObject(value)) {
    diags.push({ ...fileDiag(file, 'document is not a mapping: expected a Kubernetes-style resource with apiVersion, kind, metadata and spec', 'not-a-resource', pos.line, pos.column) });
    return;
  }
  const kind = value.kind;
  const apiVersion = value.apiVersion;
  if (kind === 'List' || (typeof kind === 'string' && kind.endsWith('List') && Array.isArray(value.items))) {
    if (!Array.isArray(value.items)) {
      diag('kind: List must have an items array', 'bad-list', ['items']);
      return;
    }
    value.items.forEach((item, i) => collect(item, [...base, 'items', i], doc, file, defaultNs, seqBase, out, diags));
    return;
  }
  if (typeof kind !== 'string' || kind === '') {
    diag('missing kind: every resource needs `kind` (e.g. VirtualService)', 'missing-kind');
    return;
  }
  if (typeof apiVersion !== 'string' || apiVersion === '') {
    diag(`missing apiVersion: use ${API_VERSIONS[0]}`, 'missing-api-version');
    return;
  }
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  if (!isKind(kind) || group !== API_GROUP) {
    diag(`${apiVersion} ${kind} is not an Istio networking resource; skipped`, 'unsupported-kind', ['kind'], 'warning');
    return;
  }
  if (!API_VERSIONS.includes(apiVersion)) {
    diag(`unsupported apiVersion "${apiVersion}" for ${kind}: use one of ${API_VERSIONS.join(', ')}`, 'unsupported-api-version', ['apiVersion']);
    return;
  }
  const md = value.metadata;
  if (!isObject(md) || typeof md.name !== 'string' || md.name === '') {
    diag(`${kind}: metadata.name is required`, 'missing-name', isObject(md) ? ['metadata'] : []);
    return;
  }
  if (md.namespace !== undefined && (typeof md.namespace !== 'string' || md.namespace === '')) {
    diag(`${kind} ${md.name}: metadata.namespace must be a non-empty string`, 'bad-namespace', ['metadata', 'namespace']);
    return;
  }
  const ns = (md.namespace as string | undefined) ?? defaultNs;
  // Most resources are a whole document: its locator serves as is (no per-resource object).
  const locator: SourceLocator = base.length === 0 ? doc : new SubLocator(doc, base);
  out.push({
    apiVersion,
    kind,
    meta: {
      name: md.name,
      namespace: ns,
      labels: stringMap(md.labels),
      annotations: stringMap(md.annotations),
      creationTimestamp: typeof md.creationTimestamp === 'string' ? md.creationTimestamp : undefined,
    },
    raw: value,
    source: locator,
    seq: seqBase + out.length,
  });
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = String(x);
  return out;
}

/**
 * Locators are plain class instances rather than closures: one per document (and one per
 * `kind: List` item), so a config of thousands of resources does not keep a closure and its
 * captured scope per resource for the life of the config.
 */
type DocLocator = SourceLocator;

/** A `kind: List` item: paths inside it are prefixed with `items[i]`. */
class SubLocator implements SourceLocator {
  constructor(
    private readonly doc: DocLocator,
    private readonly base: FieldPath,
  ) {}

  get file(): string {
    return this.doc.file;
  }

  locate(path: FieldPath): SourcePos {
    return this.doc.locate([...this.base, ...path]);
  }
}

/**
 * The parsed documents of one file, held weakly: a resource keeps only the file's text, and
 * positions are looked up in the AST while it is alive (right after loading, when validation
 * reports) or in a fresh parse when it has been collected (rare: a later diagnostic). Holding
 * the AST of every file for the life of a config cost ~45 MB per 1,000 services.
 */
class ParsedFileRef {
  private ref: WeakRef<{ docs: Document.Parsed[]; lc: LineCounter }> | null = null;
  constructor(private readonly text: string) {}

  get(): { docs: Document.Parsed[]; lc: LineCounter } {
    const live = this.ref?.deref();
    if (live) return live;
    const lc = new LineCounter();
    const parsed = parseAllDocuments(this.text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
    const fresh = { docs: (Array.isArray(parsed) ? parsed : [parsed]) as Document.Parsed[], lc };
    this.ref = new WeakRef(fresh);
    return fresh;
  }
}

/** Walks the YAML AST along `path`; stops at the deepest node that exists. */
class FileDocLocator implements SourceLocator {
  constructor(
    readonly file: string,
    private readonly held: ParsedFileRef,
    private readonly docIndex: number,
  ) {}

  locate(path: FieldPath): SourcePos {
    const { docs, lc } = this.held.get();
    const doc = docs[this.docIndex];
    let node: Node | null = (doc?.contents as Node | null) ?? null;
    let best = node?.range?.[0] ?? 0;
    for (const seg of path) {
      if (node && isMap(node)) {
        const pair = node.items.find((it) => isPair(it) && keyOf(it.key) === String(seg));
        if (!pair) break;
        const k = pair.key as Node | null;
        best = k?.range?.[0] ?? best;
        node = (pair.value as Node | null) ?? null;
      } else if (node && isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) break;
        best = item.range?.[0] ?? best;
        node = item;
      } else break;
    }
    const p = lc.linePos(best);
    return { file: this.file, line: p.line, column: p.col };
  }
}

function keyOf(k: unknown): string | undefined {
  if (isScalar(k)) return String(k.value);
  return undefined;
}
