/**
 * The outlier-detection driver: one {@link OutlierDetector} per cluster NAME plus its interval
 * timer. The proxy owns one driver; timers and clock are injected so tests drive it with a
 * fake clock, and several proxies can share a process (no module state).
 *
 * Lifecycle (see the lead's wiring notes in the report):
 * - `update(cluster, policy, hosts)` on every snapshot swap, for every cluster. A cluster that
 *   gains a policy gets a detector and a timer; one that keeps it keeps its detector (state,
 *   stats) and only has its policy, host list and, if the interval changed, its timer
 *   refreshed; one that loses it has every ejected host returned and its timer stopped.
 * - `retain(names)` after the swap drops clusters that are gone.
 * - `report(cluster, host, result)` from the forwarder after each attempt.
 */
import type { OutlierPolicy } from '../../snapshot/types.js';
import { OutlierDetector, type OutlierDetectorOptions } from './detector.js';
import type { EjectionEvent, OutlierHost, OutlierResult } from './types.js';

/** The timer functions the driver needs (Node's globals fit; tests pass fakes). */
export interface IntervalTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface OutlierDriverOptions extends OutlierDetectorOptions {
  timers: IntervalTimers;
  /** Monotonic milliseconds (production: `performance.now()`). */
  now: () => number;
  /** Every event, from results and ticks alike (log it, update metrics). */
  onEvent?: (cluster: string, event: EjectionEvent) => void;
}

interface Entry {
  detector: OutlierDetector;
  hosts: readonly OutlierHost[];
  timer: unknown;
  intervalMs: number;
}

export class OutlierDriver {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly opts: OutlierDriverOptions) {}

  /** Applies one cluster's policy and endpoints; returns its detector (null = no detection). */
  update(cluster: string, policy: OutlierPolicy | null, hosts: readonly OutlierHost[]): OutlierDetector | null {
    const e = this.entries.get(cluster);
    if (!policy) {
      if (e) this.drop(cluster, e);
      return null;
    }
    if (!e) {
      const detector = new OutlierDetector(policy, this.opts);
      detector.setHosts(hosts);
      const entry: Entry = { detector, hosts, timer: null, intervalMs: policy.intervalMs };
      entry.timer = this.arm(cluster, entry);
      this.entries.set(cluster, entry);
      return detector;
    }
    e.detector.setPolicy(policy);
    e.detector.setHosts(hosts);
    e.hosts = hosts;
    if (policy.intervalMs !== e.intervalMs) {
      this.opts.timers.clearInterval(e.timer);
      e.intervalMs = policy.intervalMs;
      e.timer = this.arm(cluster, e);
    }
    return e.detector;
  }

  /** The detector of a cluster, if it has outlier detection. */
  detector(cluster: string): OutlierDetector | undefined {
    return this.entries.get(cluster)?.detector;
  }

  /** Reports one attempt's result; returns (and emits) the ejection it caused, if any. */
  report(cluster: string, host: OutlierHost, result: OutlierResult): EjectionEvent | null {
    const e = this.entries.get(cluster);
    if (!e) return null;
    const ev = e.detector.onResult(host, result, this.opts.now());
    if (ev) this.opts.onEvent?.(cluster, ev);
    return ev;
  }

  /** Runs one cluster's sweep now (what its timer does). */
  tick(cluster: string): EjectionEvent[] {
    const e = this.entries.get(cluster);
    if (!e) return [];
    const events = e.detector.tick(e.hosts, this.opts.now());
    for (const ev of events) this.opts.onEvent?.(cluster, ev);
    return events;
  }

  /** Forgets clusters not in `live` (returning their ejected hosts, stopping their timers). */
  retain(live: ReadonlySet<string>): void {
    for (const [name, e] of this.entries) if (!live.has(name)) this.drop(name, e);
  }

  /** Stops every timer (proxy shutdown). Host state is left as it is. */
  close(): void {
    for (const e of this.entries.values()) this.opts.timers.clearInterval(e.timer);
    this.entries.clear();
  }

  private arm(cluster: string, e: Entry): unknown {
    const handle = this.opts.timers.setInterval(() => {
      this.tick(cluster);
    }, Math.max(1, e.intervalMs));
    // A sweep timer must not keep the process alive on its own.
    (handle as { unref?: () => void } | null)?.unref?.();
    return handle;
  }

  private drop(cluster: string, e: Entry): void {
    this.opts.timers.clearInterval(e.timer);
    this.entries.delete(cluster);
    for (const ev of e.detector.releaseAll(this.opts.now())) this.opts.onEvent?.(cluster, ev);
  }
}
