/**
 * Envoy outlier detection for one cluster, as a pure state machine: results and interval
 * ticks go in with the current time, ejection events come out. No timers, no clock, no
 * randomness (Istio sets every enforcing_* to 100 or 0 and no ejection jitter).
 *
 * Envoy behaviour reproduced (arch overview "Outlier detection", OutlierDetection proto,
 * `outlier_detection_impl.cc`; Istio `applyOutlierDetection`):
 * - Counting. A 5xx bumps `consecutive5xx`; a 502/503/504 also bumps the gateway streak, any
 *   other 5xx resets it; anything else resets both. Not split: local-origin failures count
 *   as 503 (connect failure, reset) or 504 (timeout). Split: they bump only the local-origin
 *   streak, which a successful connection (or any response) resets, and 5xx counting sees only
 *   real responses.
 * - Ejection is inline: the result that brings a streak to its threshold ejects at once (not at
 *   the next interval). Gateway is checked before 5xx, so equal thresholds report the gateway
 *   reason. A threshold of 0 disables that detector (Istio: enforcing 0).
 * - After each detection the streak of that type restarts from 0, ejected or not; a host
 *   already ejected is not re-detected.
 * - max_ejection_percent: ejecting is allowed only if (ejected + 1) / hosts stays within it
 *   (Envoy >= 1.28 always respects it; with the default 10 % a cluster needs 10 hosts before
 *   anything is ejected). `alwaysEjectOneHost` gives the pre-1.28 / `always_eject_one_host`
 *   behaviour (the first ejection is always allowed).
 * - Ejection time = min(base_ejection_time x multiplier, max_ejection_time) with
 *   max_ejection_time = max(300 s, base) (Istio never sets it). The multiplier grows by one per
 *   ejection (until base x multiplier reaches max + base) and shrinks by one at every interval
 *   tick at which the host has been back in service for at least one interval.
 * - Return to service happens only at interval ticks: the first tick at which the ejection
 *   time has fully elapsed. It restarts all three streaks.
 * - Success-rate and failure-percentage detection are off (Istio sets their enforcing to 0).
 *
 * State lives in the hosts (see `types.ts`), so replacing the policy (`setPolicy`, a reload)
 * keeps ejections, streaks and multipliers.
 */
import type { OutlierPolicy } from '../../snapshot/types.js';
import {
  countedStatus,
  newOutlierStats,
  type EjectionEvent,
  type EjectionReason,
  type OutlierHost,
  type OutlierResult,
  type OutlierStats,
} from './types.js';

/** Envoy's default max_ejection_time (300 s); the effective cap is max(this, base). */
export const DEFAULT_MAX_EJECTION_TIME_MS = 300_000;

export interface OutlierDetectorOptions {
  /** Always allow the first ejection regardless of max_ejection_percent (Envoy `always_eject_one_host`). */
  alwaysEjectOneHost?: boolean;
}

export class OutlierDetector {
  private p: OutlierPolicy;
  private hosts: readonly OutlierHost[] = [];
  private members = new Set<OutlierHost>();
  private readonly alwaysEjectOne: boolean;
  /** Envoy `outlier_detection.*` counters; they survive setPolicy. */
  readonly stats: OutlierStats = newOutlierStats();

  constructor(policy: OutlierPolicy, opts: OutlierDetectorOptions = {}) {
    this.p = policy;
    this.alwaysEjectOne = opts.alwaysEjectOneHost ?? false;
  }

  get policy(): OutlierPolicy {
    return this.p;
  }

  /** New policy after a reload. Ejections stay; their end time follows the new base/max. */
  setPolicy(policy: OutlierPolicy): void {
    this.p = policy;
    for (const h of this.hosts) {
      if (h.ejected && h.lastEjectionTime !== null) h.ejectedUntil = h.lastEjectionTime + this.ejectionTimeMs(h);
    }
  }

  /**
   * The cluster's current endpoints (the percentage base). Call on every snapshot swap, before
   * any result: results for hosts not in this list never eject (the endpoint is gone).
   */
  setHosts(hosts: readonly OutlierHost[]): void {
    if (hosts === this.hosts) return;
    this.hosts = hosts;
    this.members = new Set(hosts);
  }

  /** Hosts currently ejected (Envoy gauge `outlier_detection.ejections_active`). */
  ejectionsActive(): number {
    let n = 0;
    for (const h of this.hosts) if (h.ejected) n++;
    return n;
  }

  /** The ejection time that applies to `host` now: min(base x multiplier, max). */
  ejectionTimeMs(host: OutlierHost): number {
    return Math.min(this.p.baseEjectionTimeMs * host.ejectionTimeMultiplier, this.maxEjectionTimeMs());
  }

  /** Records one attempt's result; returns the ejection it caused (or an overflow), if any. */
  onResult(host: OutlierHost, r: OutlierResult, now: number): EjectionEvent | null {
    const split = this.p.splitExternalLocalOriginErrors;
    switch (r.kind) {
      case 'connected':
        if (split) host.consecutiveLocalOriginFailure = 0;
        return null;
      case 'local':
        if (split) return this.localOriginFailure(host, now);
        return this.putStatus(host, r.failure === 'timeout' ? 504 : 503, now);
      case 'status':
        // A response means the connection worked (Envoy reported LocalOriginConnectSuccess first).
        if (split) host.consecutiveLocalOriginFailure = 0;
        return this.putStatus(host, countedStatus(r, this.p.httpErrorCodes), now);
    }
  }

  /**
   * The interval sweep: returns hosts whose ejection time has elapsed to service, then decays
   * the multiplier of hosts back in service for at least one interval. Also refreshes the
   * host list (same as setHosts).
   */
  tick(hosts: readonly OutlierHost[], now: number): EjectionEvent[] {
    this.setHosts(hosts);
    const events: EjectionEvent[] = [];
    for (const h of hosts) {
      if (!h.ejected || h.lastEjectionTime === null) continue;
      if (now - h.lastEjectionTime >= this.ejectionTimeMs(h)) events.push(this.uneject(h, now));
    }
    for (const h of hosts) {
      if (h.ejected || h.lastUnejectionTime === null || h.ejectionTimeMultiplier === 0) continue;
      if (now - h.lastUnejectionTime >= this.p.intervalMs) h.ejectionTimeMultiplier--;
    }
    return events;
  }

  /** Returns every ejected host to service (outlier detection removed from the cluster). */
  releaseAll(now: number): EjectionEvent[] {
    const events: EjectionEvent[] = [];
    for (const h of this.hosts) if (h.ejected) events.push(this.uneject(h, now));
    return events;
  }

  // ------------------------------------------------------------------ internals

  private maxEjectionTimeMs(): number {
    return Math.max(DEFAULT_MAX_EJECTION_TIME_MS, this.p.baseEjectionTimeMs);
  }

  private putStatus(host: OutlierHost, code: number, now: number): EjectionEvent | null {
    if (code < 500 || code > 599) {
      host.consecutive5xx = 0;
      host.consecutiveGatewayFailure = 0;
      return null;
    }
    let event: EjectionEvent | null = null;
    if (code === 502 || code === 503 || code === 504) {
      host.consecutiveGatewayFailure++;
      const t = this.p.consecutiveGatewayErrors;
      if (t > 0 && host.consecutiveGatewayFailure >= t) event = this.detect(host, 'consecutive_gateway_failure', now);
    } else {
      host.consecutiveGatewayFailure = 0;
    }
    host.consecutive5xx++;
    const t = this.p.consecutive5xxErrors;
    if (t > 0 && host.consecutive5xx >= t) event = this.detect(host, 'consecutive_5xx', now) ?? event;
    return event;
  }

  private localOriginFailure(host: OutlierHost, now: number): EjectionEvent | null {
    host.consecutiveLocalOriginFailure++;
    const t = this.p.consecutiveLocalOriginFailures;
    if (t > 0 && host.consecutiveLocalOriginFailure >= t) return this.detect(host, 'consecutive_local_origin_failure', now);
    return null;
  }

  /** A streak reached its threshold: try to eject, then restart that streak. */
  private detect(host: OutlierHost, reason: EjectionReason, now: number): EjectionEvent | null {
    if (host.ejected || !this.members.has(host)) return null;
    this.stats[`ejections_detected_${reason}`]++;
    const event = this.eject(host, reason, now);
    if (reason === 'consecutive_5xx') host.consecutive5xx = 0;
    else if (reason === 'consecutive_gateway_failure') host.consecutiveGatewayFailure = 0;
    else host.consecutiveLocalOriginFailure = 0;
    return event;
  }

  private eject(host: OutlierHost, reason: EjectionReason, now: number): EjectionEvent {
    const active = this.ejectionsActive();
    const maxPercent = Math.min(100, this.p.maxEjectionPercent);
    const allowed = (100 * (active + 1)) / this.hosts.length <= maxPercent || (this.alwaysEjectOne && active === 0);
    if (!allowed) {
      this.stats.ejections_overflow++;
      return { action: 'overflow', host, reason, at: now };
    }
    host.ejected = true;
    host.healthy = false;
    host.ejectionCount++;
    host.lastEjectionTime = now;
    if (host.ejectionTimeMultiplier * this.p.baseEjectionTimeMs < this.maxEjectionTimeMs() + this.p.baseEjectionTimeMs) {
      host.ejectionTimeMultiplier++;
    }
    host.ejectedUntil = now + this.ejectionTimeMs(host);
    host.ejectionReason = reason;
    this.stats.ejections_enforced_total++;
    this.stats[`ejections_enforced_${reason}`]++;
    return {
      action: 'eject',
      host,
      reason,
      at: now,
      until: host.ejectedUntil,
      ejectionCount: host.ejectionCount,
      multiplier: host.ejectionTimeMultiplier,
    };
  }

  private uneject(host: OutlierHost, now: number): EjectionEvent {
    const reason = host.ejectionReason;
    host.ejected = false;
    host.healthy = true;
    host.consecutive5xx = 0;
    host.consecutiveGatewayFailure = 0;
    host.consecutiveLocalOriginFailure = 0;
    host.lastUnejectionTime = now;
    host.ejectedUntil = null;
    host.ejectionReason = null;
    return { action: 'uneject', host, reason, at: now };
  }
}
