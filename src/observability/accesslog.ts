/**
 * Buffered access logger: formats a line on the request path, writes off it.
 *
 * Lines accumulate in memory and go out in one `write` per event-loop turn (`setImmediate`),
 * or at once when the batch passes `flushBytes` (64 KiB), so a burst costs one write per
 * ~300 lines instead of one per request. A slow reader (a pipe nobody drains, a stuck log
 * shipper) must not grow the proxy's memory: once the stream reports backpressure (`write`
 * returned false) lines keep buffering only up to `maxPendingBytes` (1 MiB); past that they
 * are dropped and counted in `dropped` (exported as `isthmus_access_log_dropped_total`),
 * and buffering resumes on the stream's `drain`. Sizes are counted in UTF-16 code units,
 * which is bytes for the ASCII that log lines almost always are.
 */
import { StartTimeFormatter, formatterFor, type AccessLogEntry, type AccessLogFormat } from './accesslog-format.js';

export type { AccessLogEntry, AccessLogFormat } from './accesslog-format.js';

/** The subset of a Writable the logger uses (process.stdout, a file stream, a test sink). */
export interface LogSink {
  write(chunk: string): boolean;
  once(event: 'drain', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  off(event: 'drain' | 'error', listener: (...args: any[]) => void): unknown;
}

/** AccessLogger settings. */
export interface AccessLoggerOptions {
  /** `text` (Istio's default line) or `json`. Default `text`. */
  format?: AccessLogFormat;
  /** Where lines go. Default `process.stdout`. */
  out?: LogSink;
  /** Write as soon as the pending batch reaches this size. Default 64 KiB. */
  flushBytes?: number;
  /** While the sink is backpressured, buffer at most this much, then drop. Default 1 MiB. */
  maxPendingBytes?: number;
}

/** Buffered, backpressure-aware access logger. One per process; not shared across workers. */
export class AccessLogger {
  private readonly out: LogSink;
  private readonly fmt: (e: AccessLogEntry, t: StartTimeFormatter) => string;
  private readonly time = new StartTimeFormatter();
  private readonly flushBytes: number;
  private readonly maxPendingBytes: number;
  private chunks: string[] = [];
  private pendingBytes = 0;
  private scheduled: NodeJS.Immediate | null = null;
  private blocked = false;
  private closed = false;
  private failed = false;
  private drainWaiters: Array<() => void> = [];
  private linesWritten = 0;
  private linesDropped = 0;
  private readonly onDrain = (): void => {
    this.blocked = false;
    this.flush();
    if (!this.blocked) this.wakeDrainWaiters();
  };
  private readonly onError = (): void => {
    // EPIPE or similar: the reader is gone. Count what we cannot deliver instead of throwing
    // from an 'error' event nobody handles (which would crash the proxy).
    this.failed = true;
    this.linesDropped += this.chunks.length;
    this.chunks = [];
    this.pendingBytes = 0;
    this.wakeDrainWaiters();
  };

  constructor(opts: AccessLoggerOptions = {}) {
    this.out = opts.out ?? process.stdout;
    this.fmt = formatterFor(opts.format ?? 'text');
    this.flushBytes = opts.flushBytes ?? 64 * 1024;
    this.maxPendingBytes = Math.max(opts.maxPendingBytes ?? 1024 * 1024, this.flushBytes);
    this.out.on('error', this.onError);
  }

  /** Lines handed to the sink so far. */
  get written(): number {
    return this.linesWritten;
  }

  /** Lines dropped because the sink was backpressured past `maxPendingBytes`, failed, or closed. */
  get dropped(): number {
    return this.linesDropped;
  }

  /** Formats and queues one entry. Never blocks and never throws on sink trouble. */
  log(e: AccessLogEntry): void {
    if (this.closed || this.failed) {
      this.linesDropped++;
      return;
    }
    if (this.blocked && this.pendingBytes >= this.maxPendingBytes) {
      this.linesDropped++;
      return;
    }
    const line = this.fmt(e, this.time);
    this.chunks.push(line);
    this.pendingBytes += line.length;
    if (this.blocked) return; // 'drain' flushes
    if (this.pendingBytes >= this.flushBytes) this.flush();
    else if (this.scheduled === null) this.scheduled = setImmediate(this.flushScheduled);
  }

  private readonly flushScheduled = (): void => {
    this.scheduled = null;
    this.flush();
  };

  /** Writes the pending batch now (unless the sink is backpressured). */
  flush(): void {
    if (this.scheduled !== null) {
      clearImmediate(this.scheduled);
      this.scheduled = null;
    }
    if (this.blocked || this.failed || this.chunks.length === 0) return;
    const batch = this.chunks.length === 1 ? this.chunks[0] : this.chunks.join('');
    const n = this.chunks.length;
    this.chunks = [];
    this.pendingBytes = 0;
    this.linesWritten += n;
    const ok = this.out.write(batch);
    if (!ok) {
      this.blocked = true;
      this.out.once('drain', this.onDrain);
    }
  }

  /**
   * Flushes everything and waits until the sink has taken it (its buffer drained). Further
   * `log` calls are dropped. Does not end the sink: the logger does not own stdout.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.flush();
    if (this.blocked && !this.failed) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
    this.out.off('error', this.onError);
    this.out.off('drain', this.onDrain);
  }

  private wakeDrainWaiters(): void {
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }
}
