/**
 * VirtualService references and shared match attributes (istio-semantics.md §4.1):
 * destinations and weights (V21–V26), gateway references (V8, V9), source labels and
 * namespaces (V33), destination subnets (V63) and the host-name rule for VSs bound to
 * gateways (V5 with the AUTO_PASSTHROUGH `outbound_.<port>_._.<host>` SNI form).
 */
import type { FieldPath } from '../core/diagnostics.js';
import { isIP, parseCIDR } from '../core/net.js';
import { validateDNS1123Label, validateFQDN, validateWildcardDomain } from '../core/hosts.js';
import { validateLabelKey, validateLabelValue } from '../core/names.js';
import type { Destination, Headers } from '../api/types.js';
import { isIstioDNSLabel, portRangeError } from './common.js';
import type { Findings } from './finding.js';
import { checkHeaderOperations } from './vs-strings.js';

/** V24–V26: host not `*` and a valid (wildcard) domain; subset a DNS label; port 1..65535. */
export function checkDestination(out: Findings, d: Destination | undefined, path: FieldPath): void {
  if (!d) return;
  if (d.host === '*') {
    out.error([...path, 'host'], `invalid destination host ${d.host}`);
  } else {
    const err = validateWildcardDomain(d.host);
    if (err) out.error([...path, 'host'], err);
  }
  if (d.subset !== undefined && d.subset !== '' && !isIstioDNSLabel(d.subset)) {
    out.error([...path, 'subset'], `subset name is invalid: ${d.subset}`);
  }
  // `port: {}` means port 0, which Istio rejects like any out-of-range number.
  if (d.port !== undefined) {
    const err = portRangeError(d.port.number);
    if (err) out.error([...path, 'port', 'number'], err);
  }
}

/** One entry of `route[]` in HTTP (with per-destination `headers`) or TCP/TLS routes. */
interface WeightedDestination {
  destination?: Destination;
  weight?: number;
  headers?: Headers;
}

/**
 * V21–V23 and per-destination header ops: each entry needs a destination; weights are
 * relative (the sum need not be 100, §0.1) but must be ≥ 0 and not all 0 when there are
 * several destinations. `path` is the path of the `route` list.
 */
export function checkRouteDestinations(out: Findings, dests: readonly WeightedDestination[] | undefined, path: FieldPath): void {
  if (!dests) return;
  let total = 0;
  dests.forEach((rd, i) => {
    const at = [...path, i];
    if (!rd.destination) out.error([...at, 'destination'], 'destination is required');
    checkHeaderOperations(out, rd.headers, [...at, 'headers']);
    checkDestination(out, rd.destination, [...at, 'destination']);
    const w = rd.weight ?? 0;
    if (w < 0) out.error([...at, 'weight'], `weight ${w} < 0`);
    total += w;
  });
  if (dests.length > 1 && total === 0) out.error(path, 'total destination weight = 0');
}

/**
 * V8/V9: gateway references are `mesh`, `<name>` or `<ns>/<name>` with DNS-label parts.
 * The legacy `name.ns.svc.cluster.local` form is accepted with a warning. Namespaces and
 * gateway names are Kubernetes object names, so upper case is refused (spec V8 `Ns/gw`).
 */
export function checkGatewayRefs(out: Findings, refs: readonly string[] | undefined, path: FieldPath): void {
  (refs ?? []).forEach((ref, i) => {
    const at = [...path, i];
    const slash = ref.indexOf('/');
    if (slash < 0) {
      if (ref.includes('.')) {
        const parts = ref.split('.');
        out.warn(
          at,
          `using legacy gatewayName format ${JSON.stringify(ref)}; prefer the <namespace>/<name> format: ${JSON.stringify(`${parts[1]}/${parts[0]}`)}`,
        );
      }
      const err = validateFQDN(ref);
      if (err) out.error(at, err);
      return;
    }
    const ns = ref.slice(0, slash);
    const name = ref.slice(slash + 1);
    if (ns === '' || name === '') out.error(at, 'config namespace and gateway name cannot be empty');
    if (validateDNS1123Label(ns)) out.error(at, `invalid value for namespace: ${JSON.stringify(ns)}`);
    if (validateDNS1123Label(name)) out.error(at, `invalid value for gateway name: ${JSON.stringify(name)}`);
  });
}

/** V33: `sourceLabels` keys and values are Kubernetes label keys/values. */
export function checkSourceLabels(out: Findings, labels: Record<string, string> | undefined, path: FieldPath): void {
  for (const [k, v] of Object.entries(labels ?? {})) {
    const keyErr = validateLabelKey(k);
    if (keyErr) out.error([...path, k], keyErr);
    const valErr = validateLabelValue(v);
    if (valErr) out.error([...path, k], valErr);
  }
}

/** V33: `sourceNamespace` names a namespace. */
export function checkSourceNamespace(out: Findings, ns: string | undefined, path: FieldPath): void {
  if (ns !== undefined && ns !== '' && !isIstioDNSLabel(ns)) out.error(path, `sourceNamespace match ${ns} is invalid`);
}

/** V26 for match ports: 0 means "unset" and is not checked. */
export function checkMatchPort(out: Findings, port: number | undefined, path: FieldPath): void {
  if (port === undefined || port === 0) return;
  const err = portRangeError(port);
  if (err) out.error(path, err);
}

/** V63: a destination subnet is a CIDR block (exactly one `/`) or a bare IP address. */
export function subnetError(s: string): string | null {
  const slashes = s.split('/').length - 1;
  if (slashes === 1) return parseCIDR(s).ok ? null : `${s} is not a valid CIDR block`;
  return isIP(s) ? null : `${s} is not a valid IP`;
}

const OUTBOUND_SNI_FORMAT = 'outbound_.<PORT>_._.<HOSTNAME>';

/**
 * V5 for a VS bound only to gateways: hosts are (wildcard) domains, and when the VS has
 * TLS SNI matches the AUTO_PASSTHROUGH name `outbound_.<port>_._.<host>` is also allowed
 * (its port part must contain a digit, its host part a letter).
 */
export function gatewayBoundHostError(host: string, sni: boolean): string | null {
  if (sni && host.startsWith('outbound_')) {
    if (host.length > 255) return `domain name ${JSON.stringify(host)} too long (max 255)`;
    const parts = host.split('_');
    if (parts.length < 4) return `domain name ${host} invalid, should follow '${OUTBOUND_SNI_FORMAT}' format`;
    const port = trimDots(parts[1]);
    const name = trimDots(parts[3]);
    if (!/[0-9]/.test(port)) {
      return `domain name ${JSON.stringify(host)} invalid (label ${JSON.stringify(port)} invalid). should follow ${OUTBOUND_SNI_FORMAT} format`;
    }
    if (!/[a-zA-Z]/.test(name)) {
      return `domain name ${JSON.stringify(host)} invalid (label ${JSON.stringify(name)} invalid). should follow ${OUTBOUND_SNI_FORMAT} format`;
    }
    return null;
  }
  return validateWildcardDomain(host);
}

function trimDots(s: string): string {
  return s.replace(/^\.+|\.+$/g, '');
}
