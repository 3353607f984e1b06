/**
 * The file source: the `-f` paths of `isthmus run`, watched, coalesced and debounced, emitted
 * as the full current set of `{path, text}` whenever the content actually changed.
 *
 * How watching works, and why this way:
 * - One plain (non-recursive) `fs.watch` per *directory*: every folder of a watched tree, and
 *   the parent folder of every file named directly. A directory watch sees create, delete,
 *   modify and rename of its children, so an editor's atomic save (write a temp file, rename
 *   it over the original) and a Kubernetes ConfigMap `..data` symlink swap are both seen
 *   without tracking inodes of files. Watching a file itself would follow the old inode and
 *   go silent after the first rename.
 * - Not `recursive: true`: on Linux, Node 20 emulates it in JavaScript with one watcher per
 *   file and per folder, and those inner watchers have no 'error' listener, so an inotify
 *   error there would crash the process. Here every handle has one.
 * - Any event only *schedules* a rescan (debounced, with a maximum wait so a steady stream of
 *   writes still lands). The rescan lists and reads everything again, re-arms watches whose
 *   directory was replaced (new inode), adds new sub-folders, drops vanished ones, and emits
 *   only when the fingerprint (paths + content hashes + read errors) differs from the last
 *   one emitted. Events are hints; the rescan is the truth, so a lost or spurious event can
 *   never leave us out of date for longer than the next event.
 *
 * Nothing here throws into the event loop: read errors become diagnostics (handed to the
 * control plane, which keeps the last good config), watch errors go to `onError`.
 */
import { readFileSync, realpathSync, statSync, watch, readdirSync, type FSWatcher } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { expandPaths } from '../api/load.js';
import type { Diagnostic } from '../core/diagnostics.js';
import { fingerprintOf, hashText, type SourceFile, type SourceUpdate } from './types.js';

export interface FileSourceOptions {
  /** Quiet time after the last event before rescanning (default 100 ms). */
  debounceMs?: number;
  /** Longest a rescan may be postponed by a continuous stream of events (default 1000 ms). */
  maxWaitMs?: number;
  /** Paths in diagnostics and updates are shown relative to this directory when inside it (default: cwd). */
  cwd?: string;
  /** Reads stdin for the path `-` (default: fd 0). Read once at start; stdin is never watched. */
  readStdin?: () => string;
  /** Watch problems (never config problems): a watch that could not be armed or failed. */
  onError?: (err: Error) => void;
  /** false: read once at start, never watch (default true). */
  watch?: boolean;
}

/** Same cap as the loader: a config file this large is a mistake, not config. */
const MAX_FILE_BYTES = 32 * 1024 * 1024;

interface DirWatch {
  handle: FSWatcher;
  /** `dev:ino` of the directory when armed; a different one means it was replaced. */
  identity: string;
}

interface ReadResult {
  files: SourceFile[];
  diagnostics: Diagnostic[];
  dirs: Set<string>;
}

/** Receives each changed config set. */
export type UpdateListener = (update: SourceUpdate) => void;

/**
 * Watches files and folders; emits the full config set when its content changes.
 * Usage: `const first = src.start(); src.onUpdate(u => ...); ... src.close()`.
 */
export class FileSource {
  readonly paths: readonly string[];
  private readonly debounceMs: number;
  private readonly maxWaitMs: number;
  private readonly cwd: string;
  private readonly readStdin: () => string;
  private readonly reportError: (err: Error) => void;
  private readonly watching: boolean;
  private readonly listeners = new Set<UpdateListener>();
  private readonly watchers = new Map<string, DirWatch>();
  /** Directories whose watch failed to arm, so a persistent failure is reported once. */
  private readonly failedDirs = new Set<string>();
  private stdin: { text: string } | { error: string } | null = null;
  private lastFingerprint: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pendingSince: number | null = null;
  private started = false;
  private isClosed = false;

  constructor(paths: readonly string[], opts: FileSourceOptions = {}) {
    this.paths = [...paths];
    this.debounceMs = opts.debounceMs ?? 100;
    this.maxWaitMs = Math.max(opts.maxWaitMs ?? 1000, this.debounceMs);
    this.cwd = opts.cwd ?? process.cwd();
    this.readStdin = opts.readStdin ?? (() => readFileSync(0, 'utf8'));
    this.reportError = opts.onError ?? (() => {});
    this.watching = opts.watch ?? true;
  }

  /** Reads everything once (synchronously), arms the watches, and returns the initial set. */
  start(): SourceUpdate {
    if (this.started) throw new Error('FileSource already started');
    this.started = true;
    if (this.paths.includes('-')) {
      try {
        this.stdin = { text: this.readStdin() };
      } catch (e) {
        this.stdin = { error: (e as Error).message };
      }
    }
    const r = this.read();
    if (this.watching) this.arm(r.dirs);
    const update = makeUpdate(r);
    this.lastFingerprint = update.fingerprint;
    return update;
  }

  /** Subscribes to changed sets (not the initial one, which `start` returns). */
  onUpdate(listener: UpdateListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Rescans now (also what the debounced watch events do; exposed for SIGHUP-style forced
   * reloads and tests). Emits and returns the update if anything changed, else null.
   */
  rescan(): SourceUpdate | null {
    if (this.isClosed || !this.started) return null;
    const r = this.read();
    if (this.watching) this.arm(r.dirs);
    const update = makeUpdate(r);
    if (update.fingerprint === this.lastFingerprint) return null;
    this.lastFingerprint = update.fingerprint;
    for (const l of [...this.listeners]) {
      try {
        l(update);
      } catch (e) {
        this.reportError(asError(e));
      }
    }
    return update;
  }

  /** Absolute paths of the directories currently watched (for status pages and tests). */
  watchedDirectories(): string[] {
    return [...this.watchers.keys()].sort();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Stops watching and drops listeners; safe to call twice. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const w of this.watchers.values()) closeQuietly(w.handle);
    this.watchers.clear();
    this.listeners.clear();
  }

  // ------------------------------------------------------------------ debounce

  private schedule(): void {
    if (this.isClosed) return;
    const now = Date.now();
    this.pendingSince ??= now;
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.max(0, Math.min(this.debounceMs, this.pendingSince + this.maxWaitMs - now));
    this.timer = setTimeout(() => this.flush(), delay);
  }

  private flush(): void {
    this.timer = null;
    this.pendingSince = null;
    try {
      this.rescan();
    } catch (e) {
      // A bug here must not take the proxy down; the next event retries.
      this.reportError(asError(e));
    }
  }

  // ------------------------------------------------------------------ reading

  private read(): ReadResult {
    const diagnostics: Diagnostic[] = [];
    const files: SourceFile[] = [];
    const dirs = new Set<string>();
    const explicit = new Set(this.paths.filter((p) => p !== '-').map((p) => resolve(p)));
    const seen = new Set<string>();
    for (const p of this.paths) if (p !== '-') this.watchDirsFor(p, dirs);
    for (const f of expandPaths(this.paths, diagnostics)) {
      if (f === '-') {
        if (seen.has('-')) continue;
        seen.add('-');
        if (this.stdin && 'text' in this.stdin) files.push({ path: '<stdin>', text: this.stdin.text, hash: hashText(this.stdin.text) });
        else if (this.stdin) diagnostics.push(fileDiag('<stdin>', `cannot read stdin: ${this.stdin.error}`));
        continue;
      }
      const abs = resolve(f);
      if (seen.has(abs)) continue; // a file named directly and inside a named folder loads once
      seen.add(abs);
      const shown = isAbsolute(f) ? displayPath(f, this.cwd) : f;
      addRealParent(abs, dirs);
      try {
        const st = statSync(abs);
        if (st.size > MAX_FILE_BYTES) {
          diagnostics.push(fileDiag(shown, `file is larger than ${MAX_FILE_BYTES} bytes`, 'file-too-large'));
          continue;
        }
        const text = readFileSync(abs, 'utf8');
        files.push({ path: shown, text, hash: hashText(text) });
      } catch (e) {
        // Vanished between listing and reading: its delete event brings another rescan.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !explicit.has(abs)) continue;
        diagnostics.push(fileDiag(shown, `cannot read file: ${(e as Error).message}`));
      }
    }
    return { files, diagnostics, dirs };
  }

  /** The directories to watch so that any change to what `p` names is seen. */
  private watchDirsFor(p: string, dirs: Set<string>): void {
    const abs = resolve(p);
    let isDir: boolean;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      // Missing: watch the nearest existing ancestor to notice it being created.
      const anc = nearestExistingDir(dirname(abs));
      if (anc) dirs.add(anc);
      return;
    }
    if (isDir) walkDirs(abs, dirs, new Set());
    else {
      dirs.add(dirname(abs));
      addRealParent(abs, dirs);
    }
  }

  // ------------------------------------------------------------------ watches

  /** Makes the set of watched directories equal `dirs`, re-arming replaced ones. */
  private arm(dirs: Set<string>): void {
    for (const [dir, w] of this.watchers) {
      if (!dirs.has(dir)) {
        closeQuietly(w.handle);
        this.watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      let identity: string;
      try {
        const st = statSync(dir);
        identity = `${st.dev}:${st.ino}`;
      } catch {
        continue; // gone since listing; the event that removed it schedules another rescan
      }
      const existing = this.watchers.get(dir);
      if (existing && existing.identity === identity) continue;
      if (existing) closeQuietly(existing.handle);
      this.watchers.delete(dir);
      try {
        const handle = watch(dir, { persistent: true }, () => this.schedule());
        handle.on('error', (e) => this.onWatchError(dir, handle, e));
        this.watchers.set(dir, { handle, identity });
        this.failedDirs.delete(dir);
      } catch (e) {
        if (!this.failedDirs.has(dir)) {
          this.failedDirs.add(dir);
          this.reportError(new Error(`cannot watch ${dir}: ${(e as Error).message}`));
        }
      }
    }
  }

  private onWatchError(dir: string, handle: FSWatcher, err: Error): void {
    this.reportError(new Error(`watch on ${dir} failed: ${err.message}`));
    closeQuietly(handle);
    if (this.watchers.get(dir)?.handle === handle) this.watchers.delete(dir);
    this.schedule(); // the rescan re-arms it if the directory is still there
  }
}

function makeUpdate(r: ReadResult): SourceUpdate {
  return { files: r.files, diagnostics: r.diagnostics, fingerprint: fingerprintOf(r.files, r.diagnostics) };
}

/** Every non-hidden directory under `dir` (same rule as the loader: dot names are skipped). */
function walkDirs(dir: string, out: Set<string>, visited: Set<string>): void {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    return;
  }
  if (visited.has(real)) return; // symlink loop
  visited.add(real);
  out.add(dir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (n.startsWith('.')) continue;
    const p = join(dir, n);
    try {
      if (statSync(p).isDirectory()) walkDirs(p, out, visited);
    } catch {
      // vanished or unreadable: the loader reports what matters
    }
  }
}

/** A symlinked file also changes when its target's folder changes (e.g. ConfigMap `..data`). */
function addRealParent(abs: string, dirs: Set<string>): void {
  try {
    const real = realpathSync(abs);
    if (real !== abs) dirs.add(dirname(real));
  } catch {
    // dangling link or vanished file: the listing reports it
  }
}

function nearestExistingDir(dir: string): string | null {
  for (let d = dir; ; d = dirname(d)) {
    try {
      if (statSync(d).isDirectory()) return d;
    } catch {
      // keep climbing
    }
    if (dirname(d) === d) return null;
  }
}

function displayPath(f: string, cwd: string): string {
  const rel = relative(cwd, f);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : f;
}

function fileDiag(file: string, message: string, code = 'file-error'): Diagnostic {
  return { file, line: 1, column: 1, severity: 'error', kind: '', namespace: '', name: '', path: '', message, code };
}

function closeQuietly(h: FSWatcher): void {
  try {
    h.close();
  } catch {
    // already closed
  }
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
