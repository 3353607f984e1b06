/**
 * The demo's operational log: seven proxies each report the same reload, so identical config
 * lines (`config v2 applied: 1 VirtualService changed`, `config rejected: ...` and their
 * `file:line:col: ...` diagnostics) arriving together are printed once; a line only some
 * proxies reported names them. Everything else (outlier ejections, warnings, errors) is
 * printed at once, prefixed with the proxy that said it.
 */

/** Lines about the config pipeline (the controller's progress and diagnostics). */
const CONFIG_LINE = /^(config |\.\.\. and \d+ more|\S+:\d+:\d+: (error|warning) )/;

export interface MeshLogOptions {
  /** Where finished lines go. */
  print: (line: string) => void;
  /** How many proxies report config lines. */
  proxies: number;
  /** How long to gather the same line from every proxy (default 400 ms). */
  windowMs?: number;
  /** Lines to drop (e.g. `listening on ...` while the demo prints its own table). */
  drop?: (line: string) => boolean;
}

interface Pending {
  line: string;
  from: string[];
}

export class MeshLog {
  private readonly pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | null = null;
  private readonly windowMs: number;

  constructor(private readonly opts: MeshLogOptions) {
    this.windowMs = opts.windowMs ?? 400;
  }

  /** A line from one proxy (`proxy` = `reviews-v2 sidecar`, `ingress gateway`). */
  line(proxy: string, line: string): void {
    if (this.opts.drop?.(line)) return;
    if (!CONFIG_LINE.test(line)) {
      this.opts.print(`${proxy}: ${line}`);
      return;
    }
    const p = this.pending.get(line);
    if (p) {
      if (!p.from.includes(proxy)) p.from.push(proxy);
      return;
    }
    this.pending.set(line, { line, from: [proxy] });
    this.timer ??= setTimeout(() => this.flush(), this.windowMs);
  }

  /** Prints what is gathered (in arrival order; only lines `keep` accepts) and clears it. */
  flush(keep: (line: string) => boolean = () => true): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const p of this.pending.values()) {
      if (!keep(p.line)) continue;
      this.opts.print(p.from.length >= this.opts.proxies ? p.line : `${p.line} (${p.from.join(', ')})`);
    }
    this.pending.clear();
  }
}
