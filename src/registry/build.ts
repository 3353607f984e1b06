/**
 * File-mode service registry: ServiceEntry (+ WorkloadEntry) -> Service / ServiceEndpoint.
 * Follows Istio's ServiceEntry controller (`serviceentry/conversion.go`): one Service per
 * host, endpoints from inline `endpoints`, from WorkloadEntries picked by
 * `workloadSelector`, or — DNS resolution with neither — the host name itself.
 * istio-semantics.md §1.4, §1.6, §3.5, §3.8.
 */
import type { ConfigSet, ServiceEntry, WorkloadEntry, WorkloadEntrySpec } from '../api/types.js';
import { isIPAddress, isWildcardHost, resolveShortName } from '../core/hosts.js';
import type { Protocol, Registry, RegistryNote, Resolution, Service, ServiceEndpoint, ServicePort } from './types.js';

export interface BuildRegistryOptions {
  /** DNS suffix for short-name expansion (`cluster.local`). */
  domain: string;
}

const KNOWN_PROTOCOLS: ReadonlySet<string> = new Set<Protocol>([
  'HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS', 'REDIS', 'MYSQL',
]);

/**
 * Builds the registry from a validated config. Pure: the same ConfigSet always yields the
 * same services in the same order (ServiceEntry load order, first definer's position).
 * Same host from two ServiceEntries: the older one wins (creationTimestamp when both
 * have one, else load order), the other is reported in `notes`.
 */
export function buildRegistry(config: ConfigSet, opts: BuildRegistryOptions): Registry {
  const notes: RegistryNote[] = [];
  const services = new Map<string, Service>();
  const holders = new Map<string, ServiceEntry>();
  const selectedEntries = new Set<WorkloadEntry>();
  const entries = [...config.serviceEntries].sort((a, b) => a.seq - b.seq);
  const workloads = [...config.workloadEntries].sort((a, b) => a.seq - b.seq);

  for (const se of entries) {
    const origin = seOrigin(se);
    const shared = sharedEndpoints(se, workloads, selectedEntries, notes);
    const seen = new Set<string>();
    for (const rawHost of se.spec.hosts) {
      const hostname = resolveShortName(rawHost, se.meta.namespace, opts.domain);
      if (seen.has(hostname)) continue; // the same host listed twice in one entry
      seen.add(hostname);
      const svc = toService(se, hostname, shared, origin, notes);
      const existing = services.get(hostname);
      const holder = holders.get(hostname);
      if (!existing || !holder) {
        services.set(hostname, svc);
        holders.set(hostname, se);
        continue;
      }
      if (isOlder(se, holder)) {
        services.set(hostname, svc);
        holders.set(hostname, se);
        notes.push({ origin: existing.origin, message: `host ${hostname} is also defined by the older ${origin}; this definition is ignored` });
      } else {
        notes.push({ origin, message: `host ${hostname} is already defined by the older ${existing.origin}; this definition is ignored` });
      }
    }
  }

  for (const we of workloads) {
    if (!selectedEntries.has(we)) {
      notes.push({ origin: weOrigin(we), message: 'not selected by any ServiceEntry workloadSelector in its namespace' });
    }
  }
  return { services, notes };
}

/** True when `a` is older than `b`: creationTimestamp if both carry one, else load order. */
function isOlder(a: ServiceEntry, b: ServiceEntry): boolean {
  const ta = parseTime(a.meta.creationTimestamp);
  const tb = parseTime(b.meta.creationTimestamp);
  if (ta !== null && tb !== null && ta !== tb) return ta < tb;
  return a.seq < b.seq;
}

function parseTime(ts: string | undefined): number | null {
  if (ts === undefined) return null;
  const t = Date.parse(ts);
  return Number.isNaN(t) ? null : t;
}

const NONE: readonly string[] = Object.freeze([]);
const NO_PORTS: Readonly<Record<string, number>> = Object.freeze({});
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

function seOrigin(se: ServiceEntry): string {
  return `ServiceEntry ${se.meta.namespace}/${se.meta.name}`;
}

function weOrigin(we: WorkloadEntry): string {
  return `WorkloadEntry ${we.meta.namespace}/${we.meta.name}`;
}

function toService(se: ServiceEntry, hostname: string, shared: readonly ServiceEndpoint[], origin: string, notes: RegistryNote[]): Service {
  const spec = se.spec;
  const resolution: Resolution = spec.resolution ?? 'NONE';
  let endpoints = shared;
  // Istio turns the host itself into the one endpoint (STRICT_DNS on the name) only when
  // the entry has neither endpoints nor a selector.
  const dnsLike = resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN';
  if (dnsLike && !spec.endpoints?.length && !spec.workloadSelector && !isWildcardHost(hostname)) {
    endpoints = [hostEndpoint(hostname, origin)];
  }
  return {
    hostname,
    namespace: se.meta.namespace,
    ports: (spec.ports ?? []).map((p) => toPort(p, se, notes)),
    resolution,
    location: spec.location ?? 'MESH_EXTERNAL',
    // The validated spec is immutable once served (the store freezes it), so the registry
    // refers to its arrays and maps instead of copying them for every service and endpoint.
    addresses: spec.addresses ?? NONE,
    exportTo: normalizeExportTo(spec.exportTo, se.meta.namespace),
    endpoints,
    subjectAltNames: spec.subjectAltNames ?? NONE,
    origin,
    order: se.seq,
  };
}

function toPort(p: { number: number; protocol?: string; name: string; targetPort?: number }, se: ServiceEntry, notes: RegistryNote[]): ServicePort {
  return {
    name: p.name,
    number: p.number,
    protocol: toProtocol(p.protocol, p.name, se, notes),
    targetPort: p.targetPort && p.targetPort > 0 ? p.targetPort : p.number,
  };
}

function toProtocol(raw: string | undefined, portName: string, se: ServiceEntry, notes: RegistryNote[]): Protocol {
  const up = (raw ?? '').toUpperCase();
  if (up === '') return 'UNKNOWN';
  if (KNOWN_PROTOCOLS.has(up)) return up as Protocol;
  notes.push({ origin: seOrigin(se), message: `port ${portName}: protocol ${JSON.stringify(raw)} is not supported here; treated as UNKNOWN` });
  return 'UNKNOWN';
}

/**
 * exportTo as a set: absent/empty -> public (`*`, mesh default); `.` -> own namespace;
 * `~` -> nobody (empty set); any `*` makes it public.
 */
export function normalizeExportTo(exportTo: readonly string[] | undefined, namespace: string): '*' | ReadonlySet<string> {
  if (!exportTo || exportTo.length === 0) return '*';
  if (exportTo.includes('*')) return '*';
  const out = new Set<string>();
  for (const e of exportTo) {
    if (e === '~') continue;
    out.add(e === '.' ? namespace : e);
  }
  return out;
}

/** Endpoints shared by every host of the entry: inline `endpoints` or selected WorkloadEntries. */
function sharedEndpoints(
  se: ServiceEntry,
  workloads: readonly WorkloadEntry[],
  selected: Set<WorkloadEntry>,
  notes: RegistryNote[],
): ServiceEndpoint[] {
  const origin = seOrigin(se);
  const out: ServiceEndpoint[] = [];
  if (se.spec.endpoints) {
    se.spec.endpoints.forEach((ep, i) => {
      if (!ep.address) {
        notes.push({ origin, message: `endpoints[${i}] has no address (network-only endpoints are not supported); skipped` });
        return;
      }
      out.push(toEndpoint(ep, ep.labels ?? NO_LABELS, origin));
    });
    return out;
  }
  const selector = se.spec.workloadSelector?.labels;
  if (!selector) return out;
  if (Object.keys(selector).length === 0) {
    // Istio selects workloads only with a non-empty selector.
    notes.push({ origin, message: 'workloadSelector has no labels and selects no WorkloadEntry' });
    return out;
  }
  const resolution = se.spec.resolution ?? 'NONE';
  const dnsService = resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN';
  for (const we of workloads) {
    if (we.meta.namespace !== se.meta.namespace) continue;
    // Metadata labels take precedence over spec labels, as in Istio's ConvertWorkloadEntry.
    const labels = { ...(we.spec.labels ?? {}), ...we.meta.labels };
    if (!labelsContain(labels, selector)) continue;
    selected.add(we);
    const address = we.spec.address ?? '';
    if (address === '') {
      notes.push({ origin: weOrigin(we), message: `has no address (network-only endpoints are not supported); not added to ${origin}` });
      continue;
    }
    if (!dnsService && !isIPAddress(address)) {
      // Hostname and unix-socket workloads can only back DNS-resolved entries.
      notes.push({ origin: weOrigin(we), message: `address ${address} is not an IP; only DNS ServiceEntries can use it, so ${origin} does not` });
      continue;
    }
    out.push(toEndpoint(we.spec, labels, weOrigin(we)));
  }
  return out;
}

function toEndpoint(spec: WorkloadEntrySpec, labels: Readonly<Record<string, string>>, origin: string): ServiceEndpoint {
  return {
    address: spec.address ?? '',
    ports: spec.ports ?? NO_PORTS,
    labels,
    locality: spec.locality ?? '',
    // Envoy treats a zero weight as 1.
    weight: spec.weight && spec.weight > 0 ? spec.weight : 1,
    network: spec.network ?? '',
    serviceAccount: spec.serviceAccount ?? '',
    origin,
  };
}

function hostEndpoint(hostname: string, origin: string): ServiceEndpoint {
  return { address: hostname, ports: {}, labels: {}, locality: '', weight: 1, network: '', serviceAccount: '', origin };
}

/** Every selector label is present in `labels` with the same value. */
export function labelsContain(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean {
  for (const [k, v] of Object.entries(selector)) {
    if (!Object.hasOwn(labels, k) || labels[k] !== v) return false;
  }
  return true;
}
