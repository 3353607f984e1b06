/**
 * The SnapshotStore: config texts in, one immutable ConfigState out, swapped in one step.
 *
 * `apply(files)` runs the whole pipeline — load -> validate -> registry -> compile —
 * synchronously and to the end *before* touching the one reference the data plane reads,
 * so a request either sees the old state or the new one, never a mix (architecture habit 1).
 * A request that read `current()` keeps that object; everything in it is frozen.
 *
 * Reject policy (architecture habit 2), chosen at construction:
 * - `all-or-nothing` (default, Istio/Caddy style): any error diagnostic — YAML syntax, an
 *   unreadable file, a schema or webhook violation, a duplicate — rejects the whole new
 *   input. The previous state keeps serving; the attempt is kept as `lastRejected` and
 *   counted. The very first input is rejected the same way (`current()` stays null); the
 *   caller decides whether that is fatal.
 * - `per-resource`: resources with errors (and documents that do not parse) are dropped
 *   and the rest is applied. Keeps the good part of a half-bad edit live, at the price that
 *   a broken resource *disappears* instead of keeping its last good version. Not default.
 *
 * Empty-file guard (both modes): a file that still exists but is now blank, while the
 * serving config has resources from it, is an error. A truncated or in-progress write
 * looks exactly like that, and applying it would delete every route in the file
 * (reliability-security.md F7 d). Deleting the file, or leaving a comment in it, removes its
 * resources as intended.
 *
 * Reloads are incremental where that cannot change the result: unchanged files keep their
 * parsed documents, unchanged documents their validation, and unchanged services their
 * registry and compiled parts (incremental.ts, src/compile/cache.ts). The output is always
 * what a cold compile of the whole new config would give (incremental.test.ts checks it).
 *
 * No timers, no I/O: the only side effects are the listeners. Time comes from `clock`.
 */
import { deepFreeze } from '../core/freeze.js';
import { loadText } from '../api/load.js';
import type { RawResource } from '../api/resource.js';
import type { ConfigSet } from '../api/types.js';
import { CompileCache } from '../compile/cache.js';
import { compileSnapshot } from '../compile/index.js';
import { sortDiagnostics, type Diagnostic } from '../core/diagnostics.js';
import { buildRegistry } from '../registry/build.js';
import type { Registry } from '../registry/types.js';
import type { CompileOptions, ProxyIdentity, Snapshot } from '../snapshot/types.js';
import { fingerprintOf, hashText, type SourceFile } from '../sources/types.js';
import { validateResources, type ValidationCache } from '../validate/index.js';
import { registryFor, ResourceInterner } from './incremental.js';
import { diffFingerprints, documentDigest, fingerprints, type ChangeSummary, type Fingerprints } from './summary.js';

export type ApplyMode = 'all-or-nothing' | 'per-resource';

export interface SnapshotStoreOptions {
  /** The proxy the snapshots are compiled for. */
  proxy: ProxyIdentity;
  compileOptions?: Partial<CompileOptions>;
  /** Namespace of resources without `metadata.namespace` (default: the proxy's namespace). */
  namespace?: string;
  /** Default `all-or-nothing`; see the module comment. */
  mode?: ApplyMode;
  /** Epoch milliseconds (default `Date.now`). */
  clock?: () => number;
  /**
   * The compiler (default `compileSnapshot`); a seam for tests. It gets the store's
   * CompileCache as its fifth argument: pass it on to keep reloads incremental.
   */
  compile?: typeof compileSnapshot;
}

/** One input file as recorded in a state (for /config_dump: what is serving, from where). */
export interface SourceInfo {
  readonly path: string;
  /** sha256 hex of the text. */
  readonly hash: string;
  /** Length of the text in UTF-16 code units (close enough to bytes for a status page). */
  readonly size: number;
}

/** Everything one applied config version is; frozen, never changed after the swap. */
export interface ConfigState {
  /** 1 for the first applied config, +1 per applied change. */
  readonly version: number;
  readonly snapshot: Snapshot;
  /** The validated resources the snapshot was compiled from. */
  readonly config: ConfigSet;
  readonly registry: Registry;
  /** Warnings (and, in per-resource mode, the errors of what was dropped), sorted by position. */
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: readonly SourceInfo[];
  /** Epoch ms of the swap. */
  readonly appliedAt: number;
  /** What this version changed relative to the previous one. */
  readonly changes: ChangeSummary;
  readonly resourceCount: number;
}

/** An input that was not applied. */
export interface RejectedAttempt {
  readonly at: number;
  readonly errorCount: number;
  /** All diagnostics of the attempt (errors and warnings), sorted by position. */
  readonly diagnostics: readonly Diagnostic[];
  readonly sources: readonly SourceInfo[];
  /** The version that kept serving; 0 when nothing was serving yet. */
  readonly servingVersion: number;
}

export type ApplyResult =
  | {
      status: 'applied';
      state: ConfigState;
      changes: ChangeSummary;
      /** Error diagnostics of dropped resources/files (per-resource mode only; else 0). */
      droppedErrors: number;
    }
  | { status: 'rejected'; rejected: RejectedAttempt; state: ConfigState | null }
  /** Same input as the previous attempt (whatever its outcome): nothing done. */
  | { status: 'unchanged'; state: ConfigState | null };

export interface StoreCounters {
  applied: number;
  rejected: number;
  unchanged: number;
  /** Applies that dropped something (per-resource mode). */
  partial: number;
}

export type ChangeListener = (state: ConfigState, changes: ChangeSummary) => void;
export type RejectListener = (rejected: RejectedAttempt, serving: ConfigState | null) => void;

/** Private companions of the serving state, needed to compute the next change. */
interface Serving {
  state: ConfigState;
  fingerprints: Fingerprints;
  /** Resources per source file, for the empty-file guard. */
  perFile: ReadonlyMap<string, number>;
}

export class SnapshotStore {
  readonly mode: ApplyMode;
  private readonly proxy: ProxyIdentity;
  private readonly compileOptions: Partial<CompileOptions>;
  private readonly namespace: string;
  private readonly domain: string;
  private readonly clock: () => number;
  private readonly compile: typeof compileSnapshot;
  private serving: Serving | null = null;
  private rejectedLast: RejectedAttempt | null = null;
  private lastInput: string | null = null;
  private lastOutcome: 'applied' | 'rejected' | null = null;
  private readonly count: StoreCounters = { applied: 0, rejected: 0, unchanged: 0, partial: 0 };
  /** Parsed documents of the last input, by path (re-used while the file's hash is unchanged). */
  private parsedFiles = new Map<string, ParsedFile>();
  /** Validation results by raw document, shared across reloads. */
  private readonly validationCache: ValidationCache = new WeakMap();
  /** Resource fingerprints (digests of the canonical JSON) by raw document. */
  private readonly fingerprintCache = new WeakMap<object, string>();
  /** Compile work carried from one version to the next (incremental.ts). */
  private readonly compileCache = new CompileCache({ documentKey: (raw) => this.documentKey(raw) });
  /** Unchanged resources keep their (frozen) objects across reloads. */
  private readonly interner = new ResourceInterner();
  private readonly changeListeners = new Set<ChangeListener>();
  private readonly rejectListeners = new Set<RejectListener>();

  constructor(opts: SnapshotStoreOptions) {
    this.proxy = opts.proxy;
    this.compileOptions = { ...opts.compileOptions };
    this.namespace = opts.namespace ?? opts.proxy.namespace;
    this.domain = opts.compileOptions?.domain ?? 'cluster.local';
    this.mode = opts.mode ?? 'all-or-nothing';
    this.clock = opts.clock ?? Date.now;
    this.compile = opts.compile ?? compileSnapshot;
  }

  /** The serving state, or null before the first successful apply. O(1); read once per request. */
  current(): ConfigState | null {
    return this.serving?.state ?? null;
  }

  /** The last input that was rejected (kept after later successes, see `inSync`). */
  lastRejected(): RejectedAttempt | null {
    return this.rejectedLast;
  }

  /** True when the last input seen was applied, i.e. what is serving is what is on disk. */
  inSync(): boolean {
    return this.lastOutcome === 'applied';
  }

  counters(): Readonly<StoreCounters> {
    return { ...this.count };
  }

  /** Called after each swap. Returns an unsubscribe function. */
  onChange(listener: ChangeListener): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Called after each rejected input. Returns an unsubscribe function. */
  onReject(listener: RejectListener): () => void {
    this.rejectListeners.add(listener);
    return () => this.rejectListeners.delete(listener);
  }

  /**
   * Builds a new state from the full current set of config texts and swaps it in, or
   * rejects it. `sourceDiagnostics` are the source's own read errors (they count as errors).
   * Listener exceptions are rethrown after every listener ran and the swap is complete.
   */
  apply(files: readonly SourceFile[], sourceDiagnostics: readonly Diagnostic[] = []): ApplyResult {
    const hashed = files.map((f) => ({ path: f.path, text: f.text, hash: f.hash ?? hashText(f.text) }));
    const input = fingerprintOf(hashed, sourceDiagnostics);
    if (input === this.lastInput) {
      this.count.unchanged++;
      return { status: 'unchanged', state: this.current() };
    }
    this.lastInput = input;
    const sources = Object.freeze(hashed.map((f) => Object.freeze({ path: f.path, hash: f.hash, size: f.text.length })));

    const built = this.build(hashed, sourceDiagnostics);
    if (!built.ok) return this.reject(built.diagnostics, built.errorCount, sources);
    const errorCount = built.errorCount;

    const prev = this.serving;
    const fps = fingerprints(built.resources, this.fingerprintCache);
    const changes = deepFreeze(diffFingerprints(prev?.fingerprints ?? new Map(), fps));
    const state: ConfigState = Object.freeze({
      version: (prev?.state.version ?? 0) + 1,
      snapshot: built.snapshot,
      config: deepFreeze(built.config),
      registry: deepFreeze(built.registry),
      diagnostics: deepFreeze(built.diagnostics),
      sources,
      appliedAt: this.clock(),
      changes,
      resourceCount: built.resources.length,
    });
    // The swap: one assignment. Everything above was built off to the side.
    this.serving = { state, fingerprints: fps, perFile: countPerFile(built.resources) };
    this.lastOutcome = 'applied';
    this.count.applied++;
    if (errorCount > 0) this.count.partial++;
    notify(this.changeListeners, (l) => l(state, changes));
    return { status: 'applied', state, changes, droppedErrors: errorCount };
  }

  private reject(diagnostics: Diagnostic[], errorCount: number, sources: readonly SourceInfo[]): ApplyResult {
    const serving = this.current();
    const rejected: RejectedAttempt = deepFreeze({
      at: this.clock(),
      errorCount,
      diagnostics,
      sources,
      servingVersion: serving?.version ?? 0,
    });
    this.rejectedLast = rejected;
    this.lastOutcome = 'rejected';
    this.count.rejected++;
    notify(this.rejectListeners, (l) => l(rejected, serving));
    return { status: 'rejected', rejected, state: serving };
  }

  /** Digest of a raw document's canonical JSON, cached (the change summary uses the same strings). */
  private documentKey(raw: object): string {
    let fp = this.fingerprintCache.get(raw);
    if (fp === undefined) {
      fp = documentDigest(raw);
      this.fingerprintCache.set(raw, fp);
    }
    return fp;
  }

  /** load -> guard -> validate -> registry -> compile; never throws. */
  private build(files: ReadonlyArray<Required<SourceFile>>, sourceDiagnostics: readonly Diagnostic[]): Built {
    const diagnostics: Diagnostic[] = [...sourceDiagnostics];
    const raws: RawResource[] = [];
    const parsed = new Map<string, ParsedFile>();
    for (const f of files) {
      const fromFile = this.serving?.perFile.get(f.path) ?? 0;
      if (fromFile > 0 && f.text.trim() === '') {
        diagnostics.push(emptyFileDiag(f.path, fromFile));
        continue;
      }
      // Unchanged files (same path and hash) keep their parsed documents: a one-line edit
      // in a large mesh re-parses one file, not all of them.
      let pf = this.parsedFiles.get(f.path);
      if (!pf || pf.hash !== f.hash) {
        const r = loadText(f.text, f.path, { namespace: this.namespace }, 0);
        pf = { hash: f.hash, resources: r.resources, diagnostics: r.diagnostics };
      }
      parsed.set(f.path, pf);
      // Load order stands in for creation time: renumber across files as a fresh load would.
      const base = raws.length;
      for (let i = 0; i < pf.resources.length; i++) {
        const r = pf.resources[i];
        raws.push(r.seq === base + i ? r : { ...r, seq: base + i });
      }
      diagnostics.push(...pf.diagnostics);
    }
    this.parsedFiles = parsed;
    const v = validateResources(raws, { domain: this.domain }, this.validationCache);
    diagnostics.push(...v.diagnostics);
    sortDiagnostics(diagnostics);
    const errorCount = diagnostics.filter((d) => d.severity === 'error').length;
    if (errorCount > 0 && this.mode === 'all-or-nothing') return { ok: false, diagnostics, errorCount };
    try {
      const config = this.interner.config(v.config);
      // Unchanged services keep the serving registry: the compile cache keys on its identity.
      const registry = registryFor(this.serving?.state ?? null, config, (raw) => this.documentKey(raw), () => buildRegistry(config, { domain: this.domain }));
      const snapshot = this.compile(config, registry, this.proxy, this.compileOptions, this.compileCache);
      return { ok: true, diagnostics, errorCount, resources: v.valid, config, registry, snapshot };
    } catch (e) {
      // A compiler bug must not take down the serving config: reject like any bad input.
      diagnostics.push(internalDiag(`cannot compile the config: ${(e as Error).message}`));
      return { ok: false, diagnostics, errorCount: errorCount + 1 };
    }
  }
}

interface ParsedFile {
  hash: string;
  resources: readonly RawResource[];
  diagnostics: readonly Diagnostic[];
}

type Built =
  | { ok: false; diagnostics: Diagnostic[]; errorCount: number }
  | { ok: true; diagnostics: Diagnostic[]; errorCount: number; resources: RawResource[]; config: ConfigSet; registry: Registry; snapshot: Snapshot };

function countPerFile(resources: readonly RawResource[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of resources) out.set(r.source.file, (out.get(r.source.file) ?? 0) + 1);
  return out;
}

function emptyFileDiag(file: string, resources: number): Diagnostic {
  return {
    file, line: 1, column: 1, severity: 'error', kind: '', namespace: '', name: '', path: '', code: 'empty-file',
    message: `file is empty but the serving config has ${resources} resource(s) from it; treated as an incomplete write. To remove them, delete the file or leave a comment in it`,
  };
}

function internalDiag(message: string): Diagnostic {
  return { file: '<config>', line: 1, column: 1, severity: 'error', kind: '', namespace: '', name: '', path: '', message, code: 'internal' };
}

/** Calls every listener even if one throws; rethrows afterwards. */
function notify<L>(listeners: ReadonlySet<L>, call: (l: L) => void): void {
  const errors: unknown[] = [];
  for (const l of [...listeners]) {
    try {
      call(l);
    } catch (e) {
      errors.push(e);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) throw new AggregateError(errors, 'SnapshotStore listeners failed');
}

