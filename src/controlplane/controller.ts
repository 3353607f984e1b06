/**
 * The config controller of `isthmus run`: FileSource -> SnapshotStore, with the progress
 * lines users read (`config v7 applied: 2 VirtualServices changed`, `config rejected: 1
 * error(s), still serving v6` + one `file:line:col: error Kind ns/name: path: message` line
 * per diagnostic), the counters the metrics layer exports, and the status /config_dump shows.
 */
import { formatDiagnostic, type Diagnostic } from '../core/diagnostics.js';
import { FileSource } from '../sources/files.js';
import type { SourceUpdate } from '../sources/types.js';
import type { CompileOptions, ProxyIdentity } from '../snapshot/types.js';
import { SnapshotStore, type ApplyMode, type ApplyResult, type ConfigState, type SourceInfo } from './store.js';
import { formatChangeSummary } from './summary.js';

/** Where progress goes; `cli/` passes the process logger, tests a recorder. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface ConfigControllerOptions {
  /** `-f` paths: files, folders, `-` for stdin (read once). */
  paths: readonly string[];
  proxy: ProxyIdentity;
  logger: Logger;
  compileOptions?: Partial<CompileOptions>;
  /** Namespace of resources without one (default: the proxy's). */
  namespace?: string;
  mode?: ApplyMode;
  /** File watch debounce (default 100 ms) and maximum postponement (default 1000 ms). */
  debounceMs?: number;
  maxWaitMs?: number;
  /** false: load once, never watch. */
  watch?: boolean;
  cwd?: string;
  readStdin?: () => string;
  clock?: () => number;
  /** Diagnostics logged per event before `... and N more` (default 50). */
  maxLoggedDiagnostics?: number;
}

/** What /config_dump shows about the config pipeline (JSON-ready). */
export interface ConfigStatus {
  /** Serving version; 0 when nothing is serving. */
  version: number;
  appliedAt: string | null;
  mode: ApplyMode;
  /** False when the newest input on disk was rejected and an older version is serving. */
  inSync: boolean;
  /** Files of the serving version. */
  sources: readonly SourceInfo[];
  watchedPaths: readonly string[];
  watchedDirectories: readonly string[];
  lastRejected: {
    at: string;
    errorCount: number;
    servingVersion: number;
    diagnostics: readonly Diagnostic[];
  } | null;
  counters: ControllerCounters;
}

/** Counters for the metrics layer (`config_applied_total`, `config_rejected_total`). */
export interface ControllerCounters {
  applied: number;
  rejected: number;
}

export class ConfigController {
  readonly store: SnapshotStore;
  readonly source: FileSource;
  private readonly log: Logger;
  private readonly maxLogged: number;
  private started = false;

  constructor(opts: ConfigControllerOptions) {
    this.log = opts.logger;
    this.maxLogged = opts.maxLoggedDiagnostics ?? 50;
    this.store = new SnapshotStore({
      proxy: opts.proxy,
      compileOptions: opts.compileOptions,
      namespace: opts.namespace,
      mode: opts.mode,
      clock: opts.clock,
    });
    this.source = new FileSource(opts.paths, {
      debounceMs: opts.debounceMs,
      maxWaitMs: opts.maxWaitMs,
      watch: opts.watch,
      cwd: opts.cwd,
      readStdin: opts.readStdin,
      onError: (e) => this.log.warn(`config watch: ${e.message}`),
    });
  }

  /**
   * Loads and applies the initial config synchronously, then starts watching. A rejected
   * first config leaves `current()` null; the caller decides to exit (then `close()`).
   * An exception from a `store.onChange` listener propagates here; on later reloads it is logged.
   */
  start(): ApplyResult {
    if (this.started) throw new Error('ConfigController already started');
    this.started = true;
    const first = this.source.start();
    this.source.onUpdate((u) => {
      try {
        this.handle(u);
      } catch (e) {
        // A failing onChange listener must not stop later reloads.
        this.log.error(`config listener failed: ${(e as Error).message}`);
      }
    });
    return this.handle(first);
  }

  /** The serving state (null before the first successful apply). */
  current(): ConfigState | null {
    return this.store.current();
  }

  counters(): ControllerCounters {
    const c = this.store.counters();
    return { applied: c.applied, rejected: c.rejected };
  }

  status(): ConfigStatus {
    const cur = this.store.current();
    const rej = this.store.lastRejected();
    return {
      version: cur?.version ?? 0,
      appliedAt: cur ? new Date(cur.appliedAt).toISOString() : null,
      mode: this.store.mode,
      inSync: this.store.inSync(),
      sources: cur?.sources ?? [],
      watchedPaths: this.source.paths,
      watchedDirectories: this.source.watchedDirectories(),
      lastRejected: rej
        ? { at: new Date(rej.at).toISOString(), errorCount: rej.errorCount, servingVersion: rej.servingVersion, diagnostics: rej.diagnostics }
        : null,
      counters: this.counters(),
    };
  }

  /** Stops watching. The last state stays readable. */
  close(): void {
    this.source.close();
  }

  private handle(u: SourceUpdate): ApplyResult {
    const prev = this.store.current();
    const r = this.store.apply(u.files, u.diagnostics);
    if (r.status === 'applied') {
      const dropped = r.droppedErrors > 0 ? `; ${r.droppedErrors} error(s), broken resources left out` : '';
      this.log.info(`config v${r.state.version} applied: ${formatChangeSummary(r.changes)}${dropped}`);
      // Warnings already reported for the previous version are not repeated on every reload.
      const before = new Set((prev?.diagnostics ?? []).map(formatDiagnostic));
      this.logDiagnostics(r.state.diagnostics.filter((d) => !before.has(formatDiagnostic(d))));
    } else if (r.status === 'rejected') {
      const serving = r.state ? `still serving v${r.state.version}` : 'no config is serving';
      this.log.error(`config rejected: ${r.rejected.errorCount} error(s), ${serving}`);
      this.logDiagnostics(r.rejected.diagnostics);
    }
    return r;
  }

  private logDiagnostics(ds: readonly Diagnostic[]): void {
    ds.slice(0, this.maxLogged).forEach((d) => (d.severity === 'error' ? this.log.error(formatDiagnostic(d)) : this.log.warn(formatDiagnostic(d))));
    if (ds.length > this.maxLogged) this.log.warn(`... and ${ds.length - this.maxLogged} more (see /config_dump)`);
  }
}
