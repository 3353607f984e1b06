/**
 * Semantic (webhook) validation of a Sidecar (istio-semantics.md §4.5, C1–C13). The
 * connection-pool and server-TLS checks are shared with DestinationRule and Gateway.
 */
import type { FieldPath } from '../core/diagnostics.js';
import { validateDNS1123Label, validateFQDN, validateWildcardDomain } from '../core/hosts.js';
import { validatePortName, validatePortNumber } from '../core/names.js';
import type { IstioEgressListener, IstioIngressListener, Resource, SidecarSpec } from '../api/types.js';
import {
  UNIX_PREFIX,
  ipAddressError,
  isHTTPProtocol,
  isTLSProtocol,
  namespaceSlashHostErrors,
  parseProtocol,
  protocolError,
  unixAddressError,
  validateSelectorKeys,
} from './common.js';
import { validateConnectionPool } from './dr-trafficpolicy.js';
import { validateServerTLS } from './gateway.js';
import { Findings, type Finding, type ValidateContext } from './finding.js';

/** Validates one Sidecar; paths are from the resource root. */
export function validateSidecar(r: Resource<'Sidecar'>, _ctx: ValidateContext): Finding[] {
  const spec = r.spec;
  const f = new Findings();

  const sel = spec.workloadSelector;
  if (sel) {
    const keyFindings = validateSelectorKeys(sel.labels, ['spec', 'workloadSelector', 'labels']);
    // Istio rejects the whole Sidecar on a bad selector without looking further.
    if (keyFindings.length > 0) return keyFindings;
    if (Object.keys(sel.labels ?? {}).length === 0) {
      f.warn(['spec', 'workloadSelector'], 'sidecar: workload selector specified without labels, will be applied to all services in namespace');
    }
  }

  // C1
  if (!spec.egress?.length && !spec.ingress?.length && !spec.outboundTrafficPolicy && !spec.inboundConnectionPool) {
    f.error(['spec'], 'sidecar: empty configuration provided');
    return f.list;
  }

  const ingressPorts = new Set<number>();
  (spec.ingress ?? []).forEach((l, i) => f.list.push(...validateIngress(l, ['spec', 'ingress', i], ingressPorts)));
  f.list.push(...validateConnectionPool(spec.inboundConnectionPool, ['spec', 'inboundConnectionPool']));
  f.list.push(...validateEgressListeners(spec.egress ?? [], r.meta.namespace));
  f.list.push(...validateOutboundTrafficPolicy(spec.outboundTrafficPolicy, ['spec', 'outboundTrafficPolicy']));
  return f.list;
}

function validateIngress(l: IstioIngressListener, path: FieldPath, seenPorts: Set<number>): Finding[] {
  const f = new Findings();
  const port = l.port;
  const pp = [...path, 'port'];
  // C13
  if ((port.targetPort ?? 0) > 0) f.error([...pp, 'targetPort'], 'targetPort has no impact on Sidecars');
  const nameErr = port.name ? validatePortName(port.name) : null;
  if (nameErr) f.error([...pp, 'name'], nameErr);
  const protoErr = protocolError(port.protocol);
  if (protoErr) f.error([...pp, 'protocol'], protoErr);
  const num = port.number ?? 0;
  const numErr = validatePortNumber(num);
  if (numErr) f.error([...pp, 'number'], numErr);
  if (l.bind) {
    const err = ipAddressError(l.bind);
    if (err) f.error([...path, 'bind'], err);
  }
  // C6
  if (seenPorts.has(num)) f.error([...pp, 'number'], 'sidecar: ports on IP bound listeners must be unique');
  seenPorts.add(num);

  // C8
  if (l.defaultEndpoint) {
    for (const msg of defaultEndpointErrors(l.defaultEndpoint)) f.error([...path, 'defaultEndpoint'], msg);
  }

  // C9: the sidecar terminates TLS with files only; gateway-only features are rejected.
  const tls = l.tls;
  if (tls) {
    const tp = [...path, 'tls'];
    if (tls.subjectAltNames?.length) f.error([...tp, 'subjectAltNames'], 'sidecar: subjectAltNames is not supported in ingress tls');
    if (tls.httpsRedirect) f.error([...tp, 'httpsRedirect'], 'sidecar: httpsRedirect is not supported');
    if (tls.credentialName) f.error([...tp, 'credentialName'], 'sidecar: credentialName is not currently supported');
    if (tls.credentialNames?.length) f.error([...tp, 'credentialNames'], 'sidecar: credentialNames is not currently supported');
    if (tls.tlsCertificates?.length) f.error([...tp, 'tlsCertificates'], 'sidecar: tls_certificates is not currently supported');
    if (tls.mode === 'ISTIO_MUTUAL' || tls.mode === 'AUTO_PASSTHROUGH') {
      f.error([...tp, 'mode'], `configuration is invalid: cannot set mode to ${tls.mode} in sidecar ingress tls`);
    }
    if (!isTLSProtocol(parseProtocol(port.protocol))) f.error(tp, 'server cannot have TLS settings for non HTTPS/TLS ports');
    f.list.push(...validateServerTLS(tls, tp));
  }

  f.list.push(...validateConnectionPool(l.connectionPool, [...path, 'connectionPool']));
  if (l.connectionPool?.http && !isHTTPProtocol(parseProtocol(port.protocol))) {
    f.warn(
      [...path, 'connectionPool', 'http'],
      `sidecar: HTTP connection pool settings are configured for port ${num} (${JSON.stringify(port.name ?? '')}) but its protocol is not HTTP (${port.protocol ?? ''}); only TCP settings will apply`,
    );
  }
  return f.list;
}

/**
 * C8: `127.0.0.1:P`, `0.0.0.0:P`, `[::1]:P`, `[::]:P`, `:P` or `unix://path`. The
 * host/port split follows Go's `net.SplitHostPort`.
 */
function defaultEndpointErrors(ep: string): string[] {
  if (ep.startsWith(UNIX_PREFIX)) {
    const err = unixAddressError(ep.slice(UNIX_PREFIX.length));
    return err ? [err] : [];
  }
  const out: string[] = [];
  const split = splitHostPort(ep);
  if ('error' in split) out.push(split.error);
  const { host, port } = 'error' in split ? { host: '', port: '' } : split;
  if (host !== '' && host !== '127.0.0.1' && host !== '0.0.0.0' && host !== '::1' && host !== '::') {
    out.push('sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset');
  }
  if (!/^[+-]?[0-9]+$/.test(port)) {
    out.push(`sidecar: defaultEndpoint port (${port}) is not a number: strconv.Atoi: parsing ${JSON.stringify(port)}: invalid syntax`);
  } else {
    const err = validatePortNumber(Number(port));
    if (err) out.push(err);
  }
  return out;
}

/** Go `net.SplitHostPort` (enough of it for `host:port` and `[v6]:port`). */
function splitHostPort(s: string): { host: string; port: string } | { error: string } {
  const colon = s.lastIndexOf(':');
  if (colon < 0) return { error: `address ${s}: missing port in address` };
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return { error: `address ${s}: missing ']' in address` };
    if (end + 1 !== colon) return { error: `address ${s}: ${end + 1 === s.length ? 'missing port in address' : 'unexpected address'}` };
    return { host: s.slice(1, end), port: s.slice(colon + 1) };
  }
  const host = s.slice(0, colon);
  if (host.includes(':')) return { error: `address ${s}: too many colons in address` };
  if (host.includes('[') || host.includes(']')) return { error: `address ${s}: unexpected '[' in address` };
  return { host, port: s.slice(colon + 1) };
}

function validateEgressListeners(egress: readonly IstioEgressListener[], namespace: string): Finding[] {
  const f = new Findings();
  const ipPorts = new Set<number>();
  const udsBinds = new Set<string>();
  let catchAllFound = false;
  egress.forEach((l, i) => {
    const path = ['spec', 'egress', i];
    // C5: the port-less listener catches everything not claimed above it, so it must come last.
    if (!l.port) {
      if (catchAllFound) {
        f.error(path, 'sidecar: egress can have only one listener with empty port');
        return;
      }
      if (i === egress.length - 1) catchAllFound = true;
      else f.error(path, 'sidecar: the egress listener with empty port should be the last listener in the list');
    } else {
      const pp = [...path, 'port'];
      if ((l.port.targetPort ?? 0) > 0) f.error([...pp, 'targetPort'], 'targetPort has no impact on Sidecars');
      f.list.push(...validateEgressPortBind(l, path));
      const bind = l.bind ?? '';
      if ((l.port.number ?? 0) === 0) {
        if (udsBinds.has(bind)) f.error([...path, 'bind'], 'sidecar: unix domain socket values for listeners must be unique');
        udsBinds.add(bind);
      } else {
        // C6
        if (ipPorts.has(l.port.number ?? 0)) f.error([...pp, 'number'], 'sidecar: ports on IP bound listeners must be unique');
        ipPorts.add(l.port.number ?? 0);
      }
    }
    f.list.push(...validateEgressHosts(l.hosts, namespace, [...path, 'hosts']));
  });
  return f.list;
}

/** C7: port 0 means a unix-socket listener, which must bind a socket and not use iptables capture. */
function validateEgressPortBind(l: IstioEgressListener, path: FieldPath): Finding[] {
  const f = new Findings();
  const port = l.port!;
  const pp = [...path, 'port'];
  const bind = l.bind ?? '';
  const nameErr = port.name ? validatePortName(port.name) : null;
  if (nameErr) f.error([...pp, 'name'], nameErr);
  const protoErr = protocolError(port.protocol);
  if (protoErr) f.error([...pp, 'protocol'], protoErr);
  if ((port.number ?? 0) === 0) {
    if (!bind.startsWith(UNIX_PREFIX)) {
      f.error([...path, 'bind'], 'sidecar: ports with 0 value must have a unix domain socket bind address');
    } else {
      const err = unixAddressError(bind.slice(UNIX_PREFIX.length));
      if (err) f.error([...path, 'bind'], err);
    }
    const mode = l.captureMode ?? 'DEFAULT';
    if (mode !== 'DEFAULT' && mode !== 'NONE') {
      f.error([...path, 'captureMode'], 'sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners');
    }
  } else {
    const err = validatePortNumber(port.number);
    if (err) f.error([...pp, 'number'], err);
    if (bind !== '') {
      const ipErr = ipAddressError(bind);
      if (ipErr) f.error([...path, 'bind'], ipErr);
    }
  }
  return f.list;
}

/** C2–C4, C12: egress hosts (`ns/dnsName`, `~` exclusions) and their overlaps. */
function validateEgressHosts(hosts: readonly string[], namespace: string, path: FieldPath): Finding[] {
  const f = new Findings();
  if (hosts.length === 0) {
    f.error(path, 'sidecar: egress listener must contain at least one host');
    return f.list;
  }
  // namespace -> dnsNames imported so far (exclusions do not import, so they never duplicate).
  const byNs = new Map<string, Set<string>>();
  hosts.forEach((h, j) => {
    const slash = h.indexOf('/');
    if (slash >= 0 && !h.startsWith('~')) {
      const raw = h.slice(0, slash);
      const ns = raw === '.' ? namespace : raw;
      const svc = h.slice(slash + 1);
      const names = byNs.get(ns) ?? new Set<string>();
      byNs.set(ns, names);
      const dup = svc !== '*' ? names.has(svc) || names.has('*') : names.size !== 0;
      if (dup) f.warn([...path, j], `duplicated egress host: ${h}`);
      names.add(svc);
    }
    for (const msg of namespaceSlashHostErrors(h, false)) f.error([...path, j], msg);
  });
  if (byNs.get('*')?.has('*') && byNs.size !== 1) {
    f.warn(path, '`*/*` host select all resources, no other hosts can be added');
  }
  return f.list;
}

/** C10: the egress proxy is where ALLOW_ANY traffic goes, so it needs that mode and a port. */
function validateOutboundTrafficPolicy(tp: SidecarSpec['outboundTrafficPolicy'], path: FieldPath): Finding[] {
  const f = new Findings();
  const proxy = tp?.egressProxy;
  if (!tp || !proxy) return f.list;
  const pp = [...path, 'egressProxy'];
  if ((tp.mode ?? 'REGISTRY_ONLY') !== 'ALLOW_ANY') {
    f.error(pp, 'sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode');
    return f.list;
  }
  const fqdnErr = validateFQDN(proxy.host);
  if (fqdnErr) f.error([...pp, 'host'], fqdnErr);
  if (!proxy.port) {
    f.error([...pp, 'port'], 'sidecar: egress_proxy port must be non-nil');
    return f.list;
  }
  // The destination checks of a route destination.
  if (proxy.host === '*') f.error([...pp, 'host'], `invalid destination host ${proxy.host}`);
  else if (!fqdnErr) {
    const err = validateWildcardDomain(proxy.host, { allowPartialWildcard: true });
    if (err) f.error([...pp, 'host'], err);
  }
  if (proxy.subset !== undefined) {
    if (proxy.subset === '') f.error([...pp, 'subset'], 'subset name cannot be empty');
    else if (validateDNS1123Label(proxy.subset)) f.error([...pp, 'subset'], `subset name is invalid: ${proxy.subset}`);
  }
  const portErr = validatePortNumber(proxy.port.number ?? 0);
  if (portErr) f.error([...pp, 'port', 'number'], portErr);
  return f.list;
}
