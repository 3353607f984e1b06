/**
 * Checks shared by several kinds' semantic validators (istio-semantics.md §4): `exportTo`,
 * port protocols, selectors, the `ns/host` form of Gateway/Sidecar hosts and unix socket
 * addresses. Each returns findings with paths from the resource root.
 */
import type { FieldPath } from '../core/diagnostics.js';
import { validateWildcardDomain } from '../core/hosts.js';
import { isIP } from '../core/net.js';
import type { Finding } from './finding.js';

// ---------------------------------------------------------------------------------------
// Protocols (Istio `protocol.Parse`): names are case-insensitive; anything else, including
// the empty string, is "unsupported" (callers decide whether empty means sniffing).

/** A port protocol as Istio classifies it. */
export type Protocol =
  | 'TCP' | 'UDP' | 'GRPC' | 'GRPC-WEB' | 'HTTP' | 'HTTP_PROXY' | 'HTTP2' | 'HTTPS' | 'TLS'
  | 'MONGO' | 'REDIS' | 'MYSQL' | 'UNSUPPORTED';

const PROTOCOLS: ReadonlySet<string> = new Set([
  'TCP', 'UDP', 'GRPC', 'GRPC-WEB', 'HTTP', 'HTTP_PROXY', 'HTTP2', 'HTTPS', 'TLS', 'MONGO', 'REDIS', 'MYSQL',
]);

/** Parses a port protocol name ignoring case; unknown or empty names are `UNSUPPORTED`. */
export function parseProtocol(p: string | undefined): Protocol {
  const up = (p ?? '').toUpperCase();
  return PROTOCOLS.has(up) ? (up as Protocol) : 'UNSUPPORTED';
}

/** Protocols carried over HTTP (Istio `IsHTTP`). */
export function isHTTPProtocol(p: Protocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'HTTP_PROXY' || p === 'GRPC' || p === 'GRPC-WEB';
}

/** Protocols on top of TLS (Istio `IsTLS`). */
export function isTLSProtocol(p: Protocol): boolean {
  return p === 'HTTPS' || p === 'TLS';
}

/** Protocols that are plain TCP to the proxy (Istio `IsTCP`). */
export function isTCPProtocol(p: Protocol): boolean {
  return p === 'TCP' || p === 'HTTPS' || p === 'TLS' || p === 'MONGO' || p === 'REDIS' || p === 'MYSQL';
}

/** Istio `ValidateProtocol`: empty means sniffing and is fine; unknown names are not. */
export function protocolError(p: string | undefined): string | null {
  if (!p) return null;
  return parseProtocol(p) === 'UNSUPPORTED' ? `unsupported protocol: ${p}` : null;
}

/** Istio `ValidatePort`: 1..65535 (undefined counts as 0, as an unset proto field). */
export function portRangeError(n: number | undefined): string | null {
  const v = n ?? 0;
  return v >= 1 && v <= 65535 ? null : `port number ${v} must be in the range 1..65535`;
}

// ---------------------------------------------------------------------------------------
// Names

/** Istio's DNS label test is case-insensitive (`labels.IsDNS1123Label`), unlike Kubernetes'. */
const ISTIO_LABEL_RE = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/** Istio `labels.IsDNS1123Label`: letters of either case, digits and `-`, ≤ 63 characters. */
export function isIstioDNSLabel(s: string): boolean {
  return s.length <= 63 && ISTIO_LABEL_RE.test(s);
}

// ---------------------------------------------------------------------------------------
// exportTo (`validateExportTo`, istio-semantics.md §3.5)

export interface ExportToOptions {
  /** ServiceEntry may use `~` (visible to no one), but only alone. */
  serviceEntry?: boolean;
  /** A DestinationRule with a workloadSelector may only export to its own namespace. */
  drWithSelector?: boolean;
}

/**
 * Validates an `exportTo` list: entries are `.`, `*`, a namespace (DNS label) or — for
 * ServiceEntry only — `~`; no duplicates (`.` counts as the own namespace); `*` and `~`
 * must stand alone.
 */
export function validateExportTo(
  exportTo: readonly string[] | undefined,
  namespace: string,
  path: FieldPath,
  opts: ExportToOptions = {},
): Finding[] {
  const out: Finding[] = [];
  if (!exportTo || exportTo.length === 0) return out;
  const seen = new Set<string>();
  exportTo.forEach((e, i) => {
    const key = e === '.' ? namespace : e;
    const at = [...path, i];
    if (seen.has(key)) {
      out.push({
        path: at,
        message: key !== e ? `duplicate entries in exportTo: . and current namespace ${namespace}` : `duplicate entries in exportTo for entry ${e}`,
      });
      return;
    }
    if (e === '~' && opts.serviceEntry) {
      seen.add(key);
      return;
    }
    const err = visibilityError(key);
    if (err) out.push({ path: at, message: err });
    else seen.add(key);
  });
  if (opts.drWithSelector && seen.size > 0) {
    if (!seen.has(namespace)) {
      out.push({ path, message: 'destination rule with workload selector cannot have exportTo beyond current namespace' });
    } else if (seen.size > 1) {
      out.push({ path, message: 'destination rule with workload selector cannot have multiple entries in exportTo' });
    }
  }
  if (seen.has('*') && exportTo.length > 1) {
    out.push({ path, message: 'cannot have both public (*) and non-public exportTo values for a resource' });
  }
  if (seen.has('~') && exportTo.length > 1) {
    out.push({ path, message: 'cannot export service entry to no one (~) and someone' });
  }
  return out;
}

function visibilityError(v: string): string | null {
  if (v === '.' || v === '*') return null;
  if (v === '~') return 'exportTo ~ (none) is not allowed for Istio configuration objects';
  return isIstioDNSLabel(v) ? null : 'only .,*, or a valid DNS 1123 label is allowed as exportTo entry';
}

// ---------------------------------------------------------------------------------------
// Selectors

/**
 * Label-selector keys (ServiceEntry/Sidecar `workloadSelector.labels`): the CRD only
 * checks values, the webhook also rejects empty and wildcard keys.
 */
export function validateSelectorKeys(labels: Record<string, string> | undefined, path: FieldPath): Finding[] {
  const out: Finding[] = [];
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (k === '') out.push({ path: [...path, k], message: `empty key is not supported in selector: ${JSON.stringify(`${k}=${v}`)}` });
    if (k.includes('*')) out.push({ path: [...path, k], message: `wildcard is not supported in selector: ${JSON.stringify(`${k}=${v}`)}` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Addresses

export const UNIX_PREFIX = 'unix://';

/** Istio `ValidateUnixAddress` on the part after `unix://`: abstract (`@name`) or an absolute file path. */
export function unixAddressError(addr: string): string | null {
  if (addr === '') return 'unix address must not be empty';
  if (addr.startsWith('@')) return null;
  if (!addr.startsWith('/') || addr.endsWith('/')) return `${addr} is not an absolute path to a file`;
  return null;
}

/** Istio `ValidateIPAddress`. */
export function ipAddressError(addr: string): string | null {
  return isIP(addr) ? null : `${addr} is not a valid IP`;
}

// ---------------------------------------------------------------------------------------
// `ns/host` entries of Gateway servers and Sidecar egress listeners
// (`ValidateNamespaceSlashWildcardHostname`, istio-semantics.md G4–G6, C2–C3).

/** Istio `ValidatePartialWildCard`: a `*` anywhere but as a bare `*` or a leading `*.` label. */
export function partialWildcardError(host: string): string | null {
  return host.includes('*') && host.length !== 1 && !host.startsWith('*.') ? `partial wildcard ${JSON.stringify(host)} not allowed` : null;
}

function hostnamePartErrors(hostname: string, isGateway: boolean): string[] {
  const out: string[] = [];
  if (hostname !== '*' && !hostname.includes('.')) out.push('short names (non FQDN) are not allowed');
  // Partial wildcards get their own message below, so the domain check uses Istio's looser label rule.
  const err = validateWildcardDomain(hostname, { allowPartialWildcard: true });
  // A Gateway server may also name an IP address.
  if (err && !(isGateway && isIP(hostname))) out.push(err);
  const pw = partialWildcardError(hostname);
  if (pw) out.push(pw);
  return out;
}

/**
 * Validates one `[ns/]dnsName` host of a Gateway server (`ns/` optional, ns `*`, `.` or a
 * DNS label, IPs allowed) or of a Sidecar egress listener (`ns/` required, ns may be
 * `~`-prefixed). Returns the messages; the caller attaches the path of the entry.
 */
export function namespaceSlashHostErrors(hostname: string, isGateway: boolean): string[] {
  const slash = hostname.indexOf('/');
  if (slash < 0) {
    return isGateway ? hostnamePartErrors(hostname, true) : ['host must be of form namespace/dnsName'];
  }
  const ns = hostname.slice(0, slash);
  const dns = hostname.slice(slash + 1);
  const out: string[] = [];
  if (ns === '' || dns === '') out.push('config namespace and dnsName in host entry cannot be empty');
  if (isGateway) {
    if (ns !== '*' && ns !== '.' && !isIstioDNSLabel(ns)) out.push(`invalid namespace value ${JSON.stringify(ns)} in gateway`);
  } else {
    const bare = ns.startsWith('~') ? ns.slice(1) : ns;
    if (bare !== '' && bare !== '*' && bare !== '.' && !isIstioDNSLabel(bare)) {
      out.push(`invalid namespace value ${JSON.stringify(ns)} in sidecar`);
    }
  }
  out.push(...hostnamePartErrors(dns, isGateway));
  return out;
}
