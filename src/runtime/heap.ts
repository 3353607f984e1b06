/**
 * Returning a config compile's garbage to the OS. Loading and compiling a large config
 * allocates several times what the result keeps (a 1,000-service mesh: ~150 MB allocated
 * for ~50 MB kept), and then the proxy goes quiet: V8 only collects the old generation when
 * more is allocated, so that garbage would stay in the process's RSS for as long as the
 * config does. One full collection shortly after each applied config gives it back.
 *
 * V8's `gc()` is reached through its documented `--expose-gc` flag, set at run time; when
 * the flag cannot be set the compactor is simply absent.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Debounced full collections: `schedule()` after applying a config. */
export class HeapCompactor {
  private timer: NodeJS.Timeout | null = null;

  private constructor(
    private readonly gc: () => void,
    private readonly delayMs: number,
  ) {}

  /** null when this V8 will not expose its collector. */
  static create(delayMs = 1000): HeapCompactor | null {
    try {
      const existing = (globalThis as { gc?: () => void }).gc;
      if (typeof existing === 'function') return new HeapCompactor(existing, delayMs);
      v8.setFlagsFromString('--expose-gc');
      const gc = runInNewContext('gc') as unknown;
      return typeof gc === 'function' ? new HeapCompactor(gc as () => void, delayMs) : null;
    } catch {
      return null;
    }
  }

  /** One full collection `delayMs` after the last call (a burst of reloads costs one). */
  schedule(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      // Compact this once: the config's survivors are spread over pages the compile filled,
      // and only moving them together lets V8 release those pages.
      v8.setFlagsFromString('--compact-on-every-full-gc');
      try {
        this.gc();
      } finally {
        v8.setFlagsFromString('--no-compact-on-every-full-gc');
      }
    }, this.delayMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
