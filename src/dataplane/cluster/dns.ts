/**
 * ServiceEntry `resolution: DNS` and `DNS_ROUND_ROBIN` at runtime: Envoy's STRICT_DNS and
 * LOGICAL_DNS clusters (Istio: `DNS` => STRICT_DNS, `DNS_ROUND_ROBIN` => LOGICAL_DNS).
 *
 * Envoy's behaviour reproduced (strict_dns_cluster.cc, logical_dns_cluster.cc):
 * - Every endpoint host name is resolved off the request path, then again every refresh
 *   interval (Istio: mesh `dnsRefreshRate`, default 60 s; `respect_dns_ttl: true`, so a TTL
 *   in the answer, when the lookup gives one, sets the next refresh instead).
 * - STRICT_DNS: each address of a name is a host of its own, with the endpoint's labels,
 *   weight and locality. LOGICAL_DNS: one host per name, connecting to the FIRST address of
 *   the latest answer; its counters and ejection state stay with the name.
 * - A failed refresh changes nothing: the last good addresses keep serving, and the next
 *   try comes one refresh interval later (Envoy's fixed back-off when, as in Istio,
 *   `dns_failure_refresh_rate` is unset). A failed lookup never throws out of here.
 * - Lookup family: Istio asks V4_ONLY on an IPv4 proxy, V6_ONLY on an IPv6 one, ALL on a
 *   dual-stack one. The proxy's own addresses are unknown in file mode, so the default is
 *   Envoy's V4_PREFERRED: the IPv4 addresses when there are any, else the IPv6 ones.
 *
 * Departure from Envoy, on purpose: until a name has resolved once, Envoy's cluster has no
 * hosts (503 `no healthy upstream`, UH). Here the endpoint keeps its host name and each new
 * connection resolves it: a name that resolves later works at once, and one that never does
 * answers 503 with flag DF and Envoy's `DNS resolution failed` transport reason. (That
 * per-connection lookup is the HTTP client's, through the system resolver, even when a lookup
 * is injected here.)
 *
 * Names are resolved through `dns.lookup` (getaddrinfo), as Envoy's getaddrinfo resolver
 * does: `/etc/hosts` applies (so `localhost` works), but no TTL comes back. The lookup is
 * injectable, so tests need no DNS at all.
 */
import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import type { Cluster, Endpoint } from '../../snapshot/types.js';

/** Envoy's `dns_lookup_family`. */
export type DnsLookupFamily = 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';

/** One address of an answer; `ttlSeconds` only when the lookup knows it. */
export interface DnsAnswer {
  address: string;
  family: number;
  ttlSeconds?: number;
}

/** Resolves one name to all its addresses (both families); rejects when it does not resolve. */
export type DnsLookup = (hostname: string) => Promise<readonly DnsAnswer[]>;

/** The system resolver: getaddrinfo with every address (reads /etc/hosts). */
export const systemLookup: DnsLookup = (hostname) => dnsPromises.lookup(hostname, { all: true });

/** The timer functions the resolver needs (Node's globals fit; tests may pass fakes). */
export interface DnsTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What a name's resolution did, for logs: reported on changes, not on every refresh. */
export type DnsEvent =
  /** First answer (`previous` null) or a changed address list. */
  | { kind: 'resolved'; hostname: string; addresses: readonly string[]; previous: readonly string[] | null }
  /** `kept`: the addresses still in use (empty when the name never resolved). */
  | { kind: 'failed'; hostname: string; error: string; kept: readonly string[] }
  | { kind: 'recovered'; hostname: string; addresses: readonly string[] };

export interface DnsResolverOptions {
  lookup?: DnsLookup;
  /** Refresh interval (Istio's mesh `dnsRefreshRate`); default 60 s. */
  refreshMs?: number;
  /** Use a TTL from the answer as the next refresh (Istio sets `respect_dns_ttl`); default true. */
  respectTtl?: boolean;
  family?: DnsLookupFamily;
  /** A lookup still running after this long counts as failed (Envoy's c-ares default: 5 s). */
  timeoutMs?: number;
  timers?: DnsTimers;
  /** Lookups running at once (getaddrinfo holds a libuv pool thread each); default 2. */
  maxConcurrentLookups?: number;
  /** A name's address list changed (first resolution included): rebuild what uses it. */
  onChange?: (hostname: string) => void;
  onEvent?: (e: DnsEvent) => void;
}

/** A name's state, for the admin endpoint and tests. */
export interface DnsNameStatus {
  hostname: string;
  /** null until the first successful resolution. */
  addresses: readonly string[] | null;
  lastError: string | null;
  /** Envoy cluster stats `update_attempt` / `update_success` / `update_failure`. */
  attempts: number;
  successes: number;
  failures: number;
}

interface Entry extends DnsNameStatus {
  addresses: string[] | null;
  timer: unknown;
  /** Set from queueing until the lookup's outcome is applied; `done` ends it. */
  inflight: Promise<void> | null;
  done: (() => void) | null;
  /** False once the name is no longer used: a late answer is dropped. */
  live: boolean;
  failing: boolean;
}

export const DEFAULT_DNS_REFRESH_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 5_000;
/** Half of libuv's default thread pool. */
const DEFAULT_MAX_CONCURRENT = 2;

/** True for an endpoint address that is a name to resolve (not an IP, not a unix socket). */
export function isDnsName(address: string): boolean {
  return address !== '' && isIP(address) === 0 && !address.startsWith('unix://');
}

/** True for clusters whose endpoint names the data plane resolves. */
export function isDnsCluster(c: Cluster): boolean {
  return c.resolution === 'DNS' || c.resolution === 'DNS_ROUND_ROBIN';
}

/** The names a cluster's endpoints need resolved (none unless it is a DNS cluster). */
export function dnsNamesOf(c: Cluster): string[] {
  if (!isDnsCluster(c)) return [];
  const out: string[] = [];
  for (const ep of c.endpoints) if (isDnsName(ep.address)) out.push(ep.address.toLowerCase());
  return out;
}

/** Addresses of the wanted family, de-duplicated, in answer order (anything not an IP is dropped). */
export function selectFamily(answers: readonly DnsAnswer[], family: DnsLookupFamily): string[] {
  const all: string[] = [];
  let v4 = 0;
  for (const a of answers) {
    const f = isIP(a.address);
    if (f === 0 || all.includes(a.address)) continue;
    all.push(a.address);
    if (f === 4) v4++;
  }
  const want = family === 'V4_ONLY' || (family === 'V4_PREFERRED' && v4 > 0) ? 4 : family === 'ALL' ? 0 : 6;
  return want === 0 ? all : all.filter((a) => isIP(a) === want);
}

/**
 * An endpoint as the cluster runtime uses it: a snapshot Endpoint, or one address a DNS name
 * resolved to.
 */
export interface RuntimeEndpoint extends Endpoint {
  /** The DNS name the address came from; absent for configured addresses. */
  hostname?: string;
  /**
   * The address the endpoint's state (counters, ejection) is kept under when it is not
   * `address`: LOGICAL_DNS keys it by the name, so it survives an address change.
   */
  stateAddress?: string;
}

/**
 * The endpoints of a cluster with DNS names replaced by what they resolved to (pure).
 * `addressesOf(name)`: the name's current addresses, null when it never resolved (the
 * endpoint then keeps the name, resolved per connection). STRICT_DNS: one endpoint per
 * address, an address already in the cluster is not added twice. LOGICAL_DNS: the first
 * address only. Other clusters: their endpoints as configured.
 */
export function expandEndpoints(c: Cluster, addressesOf: (hostname: string) => readonly string[] | null): readonly RuntimeEndpoint[] {
  if (!isDnsCluster(c) || !c.endpoints.some((ep) => isDnsName(ep.address))) return c.endpoints;
  const logical = c.resolution === 'DNS_ROUND_ROBIN';
  const out: RuntimeEndpoint[] = [];
  const seen = new Set<string>();
  const add = (ep: RuntimeEndpoint): void => {
    const k = `${ep.address}|${ep.port}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push(ep);
  };
  for (const ep of c.endpoints) {
    if (!isDnsName(ep.address)) {
      add(ep);
      continue;
    }
    const name = ep.address.toLowerCase();
    const addrs = addressesOf(name);
    if (addrs === null) add(ep);
    else if (logical) {
      if (addrs.length > 0) add({ ...ep, address: addrs[0], hostname: name, stateAddress: name });
    } else for (const a of addrs) add({ ...ep, address: a, hostname: name });
  }
  return out;
}

/**
 * Resolves the names in use and keeps them fresh. One entry per name, shared by every
 * cluster that uses it (a name behind several ports or subsets is looked up once).
 */
export class DnsResolver {
  private readonly names = new Map<string, Entry>();
  private readonly lookup: DnsLookup;
  private readonly refreshMs: number;
  private readonly respectTtl: boolean;
  private readonly family: DnsLookupFamily;
  private readonly timeoutMs: number;
  private readonly timers: DnsTimers;
  private readonly maxConcurrent: number;
  private readonly queue: Entry[] = [];
  private running = 0;
  private closed = false;

  constructor(private readonly opts: DnsResolverOptions = {}) {
    this.lookup = opts.lookup ?? systemLookup;
    this.refreshMs = positive(opts.refreshMs, DEFAULT_DNS_REFRESH_MS, 'refreshMs');
    this.timeoutMs = positive(opts.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs');
    this.maxConcurrent = positive(opts.maxConcurrentLookups, DEFAULT_MAX_CONCURRENT, 'maxConcurrentLookups');
    this.respectTtl = opts.respectTtl ?? true;
    this.family = opts.family ?? 'V4_PREFERRED';
    this.timers = opts.timers ?? { setTimeout: unrefTimeout, clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
  }

  /** The name's current addresses, or null when it has not resolved yet. */
  addresses(hostname: string): readonly string[] | null {
    return this.names.get(hostname.toLowerCase())?.addresses ?? null;
  }

  /** Starts resolving names not seen before and forgets (timers stopped) the ones not listed. */
  retain(hostnames: Iterable<string>): void {
    if (this.closed) return;
    const keep = new Set<string>();
    for (const h of hostnames) keep.add(h.toLowerCase());
    for (const [h, e] of this.names) {
      if (keep.has(h)) continue;
      this.stop(e);
      this.names.delete(h);
    }
    for (const h of keep) {
      if (this.names.has(h)) continue;
      const e: Entry = { hostname: h, addresses: null, lastError: null, attempts: 0, successes: 0, failures: 0, timer: null, inflight: null, done: null, live: true, failing: false };
      this.names.set(h, e);
      this.resolve(e);
    }
  }

  /** Resolves when the lookups queued or running now are applied (tests: "the first answers are in"). */
  async settled(): Promise<void> {
    await Promise.all([...this.names.values()].map((e) => e.inflight));
  }

  status(): DnsNameStatus[] {
    return [...this.names.values()].map((e) => ({
      hostname: e.hostname,
      addresses: e.addresses ? [...e.addresses] : null,
      lastError: e.lastError,
      attempts: e.attempts,
      successes: e.successes,
      failures: e.failures,
    }));
  }

  /** Stops every timer; answers still on their way are dropped. */
  close(): void {
    this.closed = true;
    for (const e of this.names.values()) this.stop(e);
    this.names.clear();
    for (const e of this.queue.splice(0)) e.done?.();
  }

  private stop(e: Entry): void {
    e.live = false;
    if (e.timer !== null) this.timers.clearTimeout(e.timer);
    e.timer = null;
  }

  /** Queues a lookup of the name (one at a time per name). */
  private resolve(e: Entry): void {
    e.timer = null;
    if (!e.live || e.inflight) return;
    let settle!: () => void;
    e.inflight = new Promise<void>((r) => (settle = r));
    e.done = () => {
      e.inflight = null;
      e.done = null;
      settle();
    };
    this.queue.push(e);
    this.pump();
  }

  /**
   * Starts queued lookups while fewer than `maxConcurrentLookups` run. getaddrinfo runs on
   * libuv's thread pool (4 threads, shared with fs and crypto), so a burst of names, or a
   * DNS server that does not answer, must not take all of it.
   */
  private pump(): void {
    while (!this.closed && this.running < this.maxConcurrent && this.queue.length > 0) {
      const e = this.queue.shift()!;
      if (!e.live) {
        e.done?.();
        continue;
      }
      this.running++;
      e.attempts++;
      const lookup = this.startLookup(e.hostname);
      // The slot frees when the lookup really ends, not at our timeout: until then a hung
      // getaddrinfo still holds its thread.
      const release = (): void => {
        this.running--;
        this.pump();
      };
      void lookup.then(release, release);
      void this.run(e, lookup).finally(() => e.done?.());
    }
  }

  private startLookup(hostname: string): Promise<readonly DnsAnswer[]> {
    try {
      return this.lookup(hostname);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private async run(e: Entry, lookup: Promise<readonly DnsAnswer[]>): Promise<void> {
    let next = this.refreshMs;
    try {
      const answers = await this.withTimeout(lookup, e.hostname);
      if (!e.live) return;
      const addrs = selectFamily(answers, this.family);
      e.successes++;
      e.lastError = null;
      if (this.respectTtl) {
        let ttl = Infinity;
        for (const a of answers) if (a.ttlSeconds !== undefined && a.ttlSeconds > 0) ttl = Math.min(ttl, a.ttlSeconds);
        if (ttl !== Infinity) next = ttl * 1000;
      }
      const previous = e.addresses;
      const changed = previous === null || !sameAddresses(previous, addrs);
      const wasFailing = e.failing;
      e.failing = false;
      e.addresses = addrs;
      if (changed) {
        this.opts.onEvent?.({ kind: 'resolved', hostname: e.hostname, addresses: addrs, previous });
        this.opts.onChange?.(e.hostname);
      } else if (wasFailing) this.opts.onEvent?.({ kind: 'recovered', hostname: e.hostname, addresses: addrs });
    } catch (err) {
      if (!e.live) return;
      e.failures++;
      e.lastError = (err as Error)?.message ?? String(err);
      // Envoy keeps the hosts it has; only the first failure of a streak is worth a log line.
      if (!e.failing) this.opts.onEvent?.({ kind: 'failed', hostname: e.hostname, error: e.lastError, kept: e.addresses ?? [] });
      e.failing = true;
    } finally {
      if (e.live && !this.closed) e.timer = this.timers.setTimeout(() => this.resolve(e), next);
    }
  }

  /** The lookup, failed after `timeoutMs` (getaddrinfo can hang for a long time). */
  private withTimeout(p: Promise<readonly DnsAnswer[]>, hostname: string): Promise<readonly DnsAnswer[]> {
    return new Promise((resolve, reject) => {
      const t = this.timers.setTimeout(() => reject(new Error(`DNS lookup of ${hostname} timed out after ${this.timeoutMs} ms`)), this.timeoutMs);
      p.then(
        (a) => {
          this.timers.clearTimeout(t);
          resolve(a);
        },
        (err: unknown) => {
          this.timers.clearTimeout(t);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}

/** Same set and same first address (LOGICAL_DNS follows the first; order alone is no change otherwise). */
function sameAddresses(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length || a[0] !== b[0]) return false;
  const s = new Set(a);
  return b.every((x) => s.has(x));
}

function positive(v: number | undefined, dflt: number, what: string): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`DNS resolver: ${what} must be a positive number, got ${v}`);
  return v;
}

/** A timer that does not keep the process alive (a proxy exits when its listeners close). */
function unrefTimeout(fn: () => void, ms: number): NodeJS.Timeout {
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
}

/**
 * The operational log line for an event, or null when it is not worth one (a first answer
 * is routine; changes, failures and recoveries are not).
 */
export function dnsEventLine(e: DnsEvent): string | null {
  switch (e.kind) {
    case 'resolved':
      return e.previous === null ? null : `dns: ${e.hostname} now resolves to ${list(e.addresses)} (was ${list(e.previous)})`;
    case 'failed':
      return e.kept.length
        ? `warning: dns: lookup of ${e.hostname} failed (${e.error}); keeping its last addresses ${list(e.kept)}`
        : `warning: dns: lookup of ${e.hostname} failed (${e.error}); each new connection resolves it until a lookup succeeds`;
    case 'recovered':
      return `dns: lookup of ${e.hostname} works again (${list(e.addresses)})`;
  }
}

function list(addrs: readonly string[]): string {
  return addrs.length ? addrs.join(', ') : 'no address';
}
