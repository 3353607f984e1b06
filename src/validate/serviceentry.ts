/**
 * Semantic (webhook) validation of a ServiceEntry (istio-semantics.md §4.4, S1–S15).
 * The schema already enforces host count and bare `*`, port range and duplicates, the
 * CIDR/resolution rule, NONE without endpoints, DNS_ROUND_ROBIN ≤ 1 endpoint, selector
 * xor endpoints and selector value wildcards; those are not repeated here.
 */
import type { FieldPath } from '../core/diagnostics.js';
import { validateFQDN, validateWildcardDomain } from '../core/hosts.js';
import { parseCIDR, isIP } from '../core/net.js';
import { validateLabels, validatePortName } from '../core/names.js';
import type { Resource, ServiceEntrySpec } from '../api/types.js';
import {
  isHTTPProtocol,
  isTCPProtocol,
  isTLSProtocol,
  parseProtocol,
  partialWildcardError,
  protocolError,
  validateExportTo,
  validateSelectorKeys,
} from './common.js';
import { validateWorkloadEntrySpec } from './workloadentry.js';
import { Findings, type Finding, type ValidateContext } from './finding.js';

/** Label by which a ServiceEntry opts out of VIP auto-allocation. */
const AUTOALLOCATE_LABEL = 'networking.istio.io/enable-autoallocate-ip';

type Endpoint = NonNullable<ServiceEntrySpec['endpoints']>[number];

/** Validates one ServiceEntry; paths are from the resource root. */
export function validateServiceEntry(r: Resource<'ServiceEntry'>, _ctx: ValidateContext): Finding[] {
  const spec = r.spec;
  const f = new Findings();
  const resolution = spec.resolution ?? 'NONE';

  // S15: selector keys (values are checked by the schema); an empty selector selects everything.
  const sel = spec.workloadSelector;
  if (sel) {
    const keyFindings = validateSelectorKeys(sel.labels, ['spec', 'workloadSelector', 'labels']);
    // Istio rejects the whole entry on a bad selector without looking further.
    if (keyFindings.length > 0) return keyFindings;
    if (Object.keys(sel.labels ?? {}).length === 0) {
      f.warn(['spec', 'workloadSelector'], 'service entry: workload selector specified without labels, will be applied to all services in namespace');
    }
  }

  // S1/S2: hosts.
  spec.hosts.forEach((h, i) => {
    if (h === '*') return; // rejected by the schema ("hostname cannot be wildcard")
    const err = validateWildcardDomain(h, { allowPartialWildcard: true });
    if (err) f.error(['spec', 'hosts', i], err);
    // DYNAMIC_DNS resolves arbitrary names under the wildcard, so partial wildcards are fine there.
    const pw = resolution === 'DYNAMIC_DNS' ? null : partialWildcardError(h);
    if (pw) f.warn(['spec', 'hosts', i], pw);
  });

  // S4: addresses (IPs or CIDR blocks).
  (spec.addresses ?? []).forEach((a, i) => {
    const parsed = (a.split('/').length - 1) === 1 ? parseCIDR(a) : isIP(a) ? null : { ok: false as const, error: `${a} is not a valid IP` };
    if (parsed && !parsed.ok) f.error(['spec', 'addresses', i], parsed.error);
  });

  // S5/S6: ports.
  const autoAllocate = resolution !== 'NONE' && (r.meta.labels[AUTOALLOCATE_LABEL] ?? '').toLowerCase() !== 'false' && !spec.addresses?.length;
  const portNames = new Set<string>();
  (spec.ports ?? []).forEach((p, i) => {
    const at = ['spec', 'ports', i];
    portNames.add(p.name);
    if (!spec.addresses?.length && !autoAllocate && (!p.protocol || p.protocol === 'TCP')) {
      f.warn(at, 'addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled');
    }
    const nameErr = validatePortName(p.name);
    if (nameErr) f.error([...at, 'name'], nameErr);
    const protoErr = protocolError(p.protocol);
    if (protoErr) f.error([...at, 'protocol'], protoErr);
  });

  f.list.push(...validateByResolution(spec, resolution, portNames, r.meta.labels));

  // S11: without an address, plain TCP cannot tell several hosts apart (HTTP has Host, TLS has SNI).
  if (resolution !== 'NONE' && spec.hosts.length > 1) {
    const i = (spec.ports ?? []).findIndex((p) => {
      const proto = parseProtocol(p.protocol);
      return !isHTTPProtocol(proto) && !isTLSProtocol(proto);
    });
    if (i >= 0) f.error(['spec', 'ports', i, 'protocol'], 'multiple hosts provided with non-HTTP, non-TLS ports');
  }

  // S13
  f.list.push(...validateExportTo(spec.exportTo, r.meta.namespace, ['spec', 'exportTo'], { serviceEntry: true }));
  return f.list;
}

/** S7–S10, S12, S14: rules that depend on the resolution mode. */
function validateByResolution(
  spec: ServiceEntrySpec,
  resolution: string,
  portNames: Set<string>,
  labels: Record<string, string>,
): Finding[] {
  const f = new Findings();
  const endpoints = spec.endpoints ?? [];
  const epPath = (i: number): FieldPath => ['spec', 'endpoints', i];
  switch (resolution) {
    case 'NONE':
      // S7: endpoints with NONE are rejected by the schema ("NONE mode cannot set endpoints").
      if (spec.workloadSelector) f.warn(['spec', 'workloadSelector'], 'workloadSelector should not be set when resolution mode is NONE');
      break;
    case 'STATIC':
      // S8/S14: static endpoints must be IPs or unix sockets, using the entry's port names.
      endpoints.forEach((ep, i) => f.list.push(...validateWorkloadEntrySpec(ep, epPath(i), { servicePorts: portNames, allowFQDN: false })));
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      // S9: with no endpoints the hosts themselves are resolved, so they must be concrete names.
      if (endpoints.length === 0) {
        for (let i = 0; i < spec.hosts.length; i++) {
          const err = validateFQDN(spec.hosts[i]);
          if (err) {
            f.error(
              ['spec', 'hosts', i],
              `hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode ${resolution}, ${err}`,
            );
            break;
          }
        }
      }
      // S10: more than one DNS_ROUND_ROBIN endpoint is rejected by the schema.
      endpoints.forEach((ep, i) => f.list.push(...validateDNSEndpoint(ep, epPath(i), portNames)));
      if (spec.addresses?.length && spec.hosts.length > 1) {
        const i = (spec.ports ?? []).findIndex((p) => isTCPProtocol(parseProtocol(p.protocol)));
        if (i >= 0) {
          f.warn(['spec', 'hosts'], 'service entry can not have more than one host specified simultaneously with address and tcp port');
        }
      }
      break;
    case 'DYNAMIC_DNS':
      // S12: a dynamic forward proxy resolves whatever name matches the wildcard, per request.
      spec.hosts.forEach((h, i) => {
        if (!h.startsWith('*')) f.error(['spec', 'hosts', i], `host must be wildcarded for resolution mode ${resolution}`);
      });
      // The run-together "generatedfrom" / "hostsfield" are Istio's exact wording.
      if (spec.addresses?.length) {
        f.error(
          ['spec', 'addresses'],
          `addresses cannot be set for resolution type ${resolution}. HTTP route domains will only be generatedfrom the hosts field values`,
        );
      }
      if (endpoints.length > 0) {
        f.error(
          ['spec', 'endpoints'],
          `endpoints cannot be set for resolution type ${resolution}. Destination IP address determined from hostsfield values`,
        );
      }
      (spec.ports ?? []).forEach((p, i) => {
        const proto = parseProtocol(p.protocol);
        if (proto !== 'HTTP' && proto !== 'TLS' && proto !== 'GRPC' && proto !== 'HTTP2') {
          f.error(['spec', 'ports', i, 'protocol'], `only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type ${resolution}`);
        }
      });
      if (spec.location === 'MESH_INTERNAL' && usesWaypoint(labels)) {
        f.error(['spec', 'location'], `location MESH_INTERNAL with resolution type ${resolution} is not supported when using waypoints`);
      }
      break;
  }
  return f.list;
}

/** True when the entry is bound to a waypoint proxy (`istio.io/use-waypoint` other than `none`). */
function usesWaypoint(labels: Record<string, string>): boolean {
  const v = labels['istio.io/use-waypoint'];
  return v !== undefined && v !== '' && v.toLowerCase() !== 'none';
}

/** DNS endpoints: an IP or an FQDN, valid labels, ports named after the entry's ports. */
function validateDNSEndpoint(ep: Endpoint, path: FieldPath, portNames: Set<string>): Finding[] {
  const f = new Findings();
  const addr = ep.address ?? '';
  if (!isIP(addr) && validateFQDN(addr)) {
    f.error([...path, 'address'], `endpoint address ${JSON.stringify(addr)} is not a valid FQDN or an IP address`);
  }
  const labelErr = ep.labels ? validateLabels(ep.labels) : null;
  if (labelErr) f.error([...path, 'labels'], labelErr);
  for (const [name, port] of Object.entries(ep.ports ?? {})) {
    if (!portNames.has(name)) f.error([...path, 'ports', name], `endpoint port ${port} is not defined by the service entry`);
    const err = validatePortName(name);
    if (err) f.error([...path, 'ports', name], err);
  }
  return f.list;
}
