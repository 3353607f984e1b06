/**
 * Webhook checks of a DestinationRule `TrafficPolicy` and its parts (istio-semantics.md
 * §4.2, D4–D26). The connection-pool check is also used by Sidecar ingress listeners and
 * `inboundConnectionPool`. Durations, enums, ranges and oneofs are already enforced by the
 * structural schema, so only the webhook's own rules live here.
 */
import type { FieldPath } from '../core/diagnostics.js';
import { validateFQDN } from '../core/hosts.js';
import type {
  ClientTLSSettings,
  ConnectionPoolSettings,
  LoadBalancerSettings,
  LocalityLoadBalancerSetting,
  OutlierDetection,
  PortTrafficPolicy,
  TrafficPolicy,
} from '../api/types.js';
import { validatePortNumber } from '../core/names.js';
import { ipAddressError } from './common.js';
import { Findings, type Finding } from './finding.js';

type ZoneAwareLbSetting = NonNullable<LoadBalancerSettings['zoneAwareLbSetting']>;

/** Topology labels that `failover` already implies, so `failoverPriority` may not repeat them. */
const TOPOLOGY_LABELS: ReadonlySet<string> = new Set([
  'topology.kubernetes.io/region',
  'topology.kubernetes.io/zone',
  'topology.istio.io/subzone',
]);

/** Largest maglev table Envoy accepts (exclusive). */
const MAGLEV_MAX_TABLE = 5000011;

/**
 * Validates a DR-level or subset-level traffic policy (D4, D26 and everything below it).
 * `namespace` is the DR's namespace (for `configmap://` credential names).
 */
export function validateTrafficPolicy(tp: TrafficPolicy | undefined, namespace: string, path: FieldPath): Finding[] {
  if (!tp) return [];
  const f = new Findings();
  const set = [tp.outlierDetection, tp.connectionPool, tp.loadBalancer, tp.tls, tp.portLevelSettings, tp.tunnel, tp.proxyProtocol, tp.retryBudget];
  if (set.every((x) => x === undefined)) {
    f.error(path, 'traffic policy must have at least one field');
    return f.list;
  }
  if (tp.tunnel && tp.proxyProtocol) {
    // Istio stops here: the two are mutually exclusive ways of wrapping the upstream connection.
    f.error([...path, 'tunnel'], 'tunnel and proxyProtocol must not be set together');
    return f.list;
  }
  f.list.push(
    ...validateOutlierDetection(tp.outlierDetection, [...path, 'outlierDetection']),
    ...validateConnectionPool(tp.connectionPool, [...path, 'connectionPool']),
    ...validateLoadBalancer(tp.loadBalancer, tp.outlierDetection, [...path, 'loadBalancer']),
    ...validateClientTLS(tp.tls, namespace, [...path, 'tls']),
    ...validatePortTrafficPolicies(tp.portLevelSettings, namespace, [...path, 'portLevelSettings']),
    ...validateTunnel(tp.tunnel, [...path, 'tunnel']),
  );
  return f.list;
}

function validatePortTrafficPolicies(pls: PortTrafficPolicy[] | undefined, namespace: string, path: FieldPath): Finding[] {
  const f = new Findings();
  (pls ?? []).forEach((p, i) => {
    const at = [...path, i];
    if (!p.port) f.error([...at, 'port'], 'portTrafficPolicy must have valid port');
    if (!p.outlierDetection && !p.connectionPool && !p.loadBalancer && !p.tls) {
      f.error(at, 'port traffic policy must have at least one field');
      return;
    }
    f.list.push(
      ...validateOutlierDetection(p.outlierDetection, [...at, 'outlierDetection']),
      ...validateConnectionPool(p.connectionPool, [...at, 'connectionPool']),
      ...validateLoadBalancer(p.loadBalancer, p.outlierDetection, [...at, 'loadBalancer']),
      ...validateClientTLS(p.tls, namespace, [...at, 'tls']),
    );
  });
  return f.list;
}

/** D26: tunnel protocol, target host and port (the CONNECT/POST target of the upstream tunnel). */
function validateTunnel(t: TrafficPolicy['tunnel'], path: FieldPath): Finding[] {
  if (!t) return [];
  const f = new Findings();
  if (t.protocol && t.protocol !== 'CONNECT' && t.protocol !== 'POST') {
    f.error([...path, 'protocol'], 'tunnel protocol must be "CONNECT" or "POST"');
  }
  const fqdnErr = validateFQDN(t.targetHost);
  const ipErr = ipAddressError(t.targetHost);
  if (fqdnErr && ipErr) {
    f.error([...path, 'targetHost'], `tunnel target host must be valid FQDN or IP address: ${fqdnErr}; ${ipErr}`);
  }
  const portErr = validatePortNumber(t.targetPort);
  if (portErr) f.error([...path, 'targetPort'], `tunnel target port is invalid: ${portErr}`);
  return f.list;
}

/** D11–D13: outlier detection. */
export function validateOutlierDetection(o: OutlierDetection | undefined, path: FieldPath): Finding[] {
  if (!o) return [];
  const f = new Findings();
  if (o.consecutiveErrors !== undefined && o.consecutiveErrors !== 0) {
    f.warn(
      [...path, 'consecutiveErrors'],
      'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead',
    );
  }
  if (!o.splitExternalLocalOriginErrors && (o.consecutiveLocalOriginFailures ?? 0) > 0) {
    f.error(
      [...path, 'consecutiveLocalOriginFailures'],
      'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
    );
  }
  for (const key of ['maxEjectionPercent', 'minHealthPercent'] as const) {
    const v = o[key];
    if (v !== undefined && (v < 0 || v > 100)) f.error([...path, key], `percentage ${v} is not in range 0..100`);
  }
  return f.list;
}

/** D6–D9: connection pool (DestinationRule, Sidecar ingress `connectionPool`, `inboundConnectionPool`). */
export function validateConnectionPool(cp: ConnectionPoolSettings | undefined, path: FieldPath): Finding[] {
  if (!cp) return [];
  const f = new Findings();
  if (!cp.http && !cp.tcp) {
    f.error(path, 'connection pool must have at least one field');
    return f.list;
  }
  const nonNegative = (obj: Record<string, unknown>, at: FieldPath, key: string, what: string): void => {
    const v = obj[key];
    if (typeof v === 'number' && v < 0) f.error([...at, key], `${what} must be non-negative`);
  };
  if (cp.http) {
    const h = cp.http;
    const at = [...path, 'http'];
    nonNegative(h, at, 'http1MaxPendingRequests', 'http1 max pending requests');
    nonNegative(h, at, 'http2MaxRequests', 'http2 max requests');
    nonNegative(h, at, 'maxRequestsPerConnection', 'max requests per connection');
    nonNegative(h, at, 'maxRetries', 'max retries');
    if (h.h2UpgradePolicy === 'UPGRADE' && h.useClientProtocol) {
      f.error([...at, 'useClientProtocol'], 'use client protocol must not be true when H2UpgradePolicy is UPGRADE');
    }
    nonNegative(h, at, 'maxConcurrentStreams', 'max concurrent streams');
    if (h.http2KeepAlive) {
      if (h.http2KeepAlive.interval === undefined) f.error([...at, 'http2KeepAlive', 'interval'], 'http2 keepalive interval is required');
      if (h.http2KeepAlive.timeout === undefined) f.error([...at, 'http2KeepAlive', 'timeout'], 'http2 keepalive timeout is required');
    }
  }
  if (cp.tcp) nonNegative(cp.tcp, [...path, 'tcp'], 'maxConnections', 'max connections');
  return f.list;
}

/** D14–D22: load balancer settings; `outlier` is the sibling block (failover needs it). */
export function validateLoadBalancer(lb: LoadBalancerSettings | undefined, outlier: OutlierDetection | undefined, path: FieldPath): Finding[] {
  if (!lb) return [];
  const f = new Findings();
  const ch = lb.consistentHash;
  if (ch) {
    const at = [...path, 'consistentHash'];
    const cookie = ch.httpCookie;
    if (cookie && cookie.name === '') f.error([...at, 'httpCookie', 'name'], 'name required for HttpCookie');
    if (cookie?.attributes) {
      const names = new Set<string>();
      cookie.attributes.forEach((a, i) => {
        const ap = [...at, 'httpCookie', 'attributes', i, 'name'];
        if (a.name === '') f.error(ap, 'cookie attribute name cannot be empty');
        else if (names.has(a.name)) f.error(ap, `duplicate cookie attribute name: ${a.name}`);
        else names.add(a.name);
      });
    }
    if (ch.minimumRingSize) {
      f.warn([...at, 'minimumRingSize'], "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead");
      if (ch.ringHash || ch.maglev) f.error([...at, 'minimumRingSize'], 'only one of MinimumRingSize or Maglev/Ringhash can be specified');
    }
    if (ch.maglev) {
      const size = ch.maglev.tableSize ?? 0;
      const tp = [...at, 'maglev', 'tableSize'];
      if (size === 0) f.error(tp, 'tableSize must be set for maglev');
      if (size >= MAGLEV_MAX_TABLE) f.error(tp, `tableSize must be less than ${MAGLEV_MAX_TABLE} for maglev`);
      if (!isPrime(size)) f.error(tp, 'tableSize must be a prime number for maglev');
    }
  }
  if (lb.localityLbSetting && lb.zoneAwareLbSetting) {
    f.error([...path, 'zoneAwareLbSetting'], 'only one of localityLbSetting and zoneAwareLbSetting can be set');
  }
  f.list.push(...validateLocalityLb(lb.localityLbSetting, outlier, [...path, 'localityLbSetting']));
  f.list.push(...validateZoneAwareLb(lb.zoneAwareLbSetting, outlier, [...path, 'zoneAwareLbSetting']));
  // The schema requires warmup.duration and bounds minimumPercent; aggression 0 is left to us.
  if (lb.warmup?.aggression !== undefined && lb.warmup.aggression <= 0) {
    f.error([...path, 'warmup', 'aggression'], 'aggression should be greater than 0');
  }
  return f.list;
}

/** Envoy's primality test for maglev table sizes (0 is not prime; 1..3 are accepted). */
function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  const limit = Math.floor(Math.sqrt(x));
  for (let d = 3; d <= limit; d += 2) if (x % d === 0) return false;
  return true;
}

/** D18–D21: locality-weighted LB (`distribute` xor `failover`). */
function validateLocalityLb(lb: LocalityLoadBalancerSetting | undefined, outlier: OutlierDetection | undefined, path: FieldPath): Finding[] {
  if (!lb) return [];
  const f = new Findings();
  const distribute = lb.distribute ?? [];
  const failover = lb.failover ?? [];
  const priority = lb.failoverPriority ?? [];
  // Istio reports only the first structural problem of a locality setting, so these return early.
  if (distribute.length > 0 && failover.length > 0) {
    f.error(path, "can not simultaneously specify 'distribute' and 'failover'");
    return f.list;
  }
  if (failover.length > 0) {
    const i = priority.findIndex((l) => TOPOLOGY_LABELS.has(l));
    if (i >= 0) {
      f.error([...path, 'failoverPriority', i], `can not simultaneously set 'failover' and topology label '${priority[i]}' in 'failover_priority'`);
      return f.list;
    }
  }
  for (let i = 0; i < distribute.length; i++) {
    const to = distribute[i].to ?? {};
    let total = 0;
    for (const [loc, w] of Object.entries(to)) {
      if (w <= 0 || w > 100) {
        f.error([...path, 'distribute', i, 'to', loc], 'locality weight must be in range [1, 100]');
        return f.list;
      }
      total += w;
    }
    if (total !== 100) {
      f.error([...path, 'distribute', i, 'to'], `total locality weight ${total} != 100`);
      return f.list;
    }
    const err = localitiesError(Object.keys(to));
    if (err) f.error([...path, 'distribute', i, 'to'], err);
  }
  const srcErr = localitiesError(distribute.map((d) => d.from ?? ''));
  if (srcErr) f.error([...path, 'distribute'], srcErr);
  if ((failover.length > 0 || priority.length > 0) && !outlier) {
    f.warn(path, 'outlier detection policy must be provided for failover');
  }
  failover.forEach((fo, i) => {
    const at = [...path, 'failover', i];
    const from = fo.from ?? '';
    const to = fo.to ?? '';
    if (from === to) f.error(at, 'locality lb failover settings must specify different regions');
    if (from.includes('/') || to.includes('/')) f.error(at, 'locality lb failover only specify region');
    if (from.includes('*') || to.includes('*')) f.error(at, "locality lb failover region should not contain '*' wildcard");
  });
  return f.list;
}

/** Zone-aware LB: failover orders regions only; zone/subzone routing is implicit. */
function validateZoneAwareLb(lb: ZoneAwareLbSetting | undefined, outlier: OutlierDetection | undefined, path: FieldPath): Finding[] {
  if (!lb) return [];
  const f = new Findings();
  const failover = lb.failover ?? [];
  const priority = lb.failoverPriority ?? [];
  priority.forEach((l, i) => {
    if (TOPOLOGY_LABELS.has(l)) {
      f.error(
        [...path, 'failoverPriority', i],
        `'failover_priority' for zone aware lb must not use topology label '${l}'; region- and zone-level routing are handled automatically`,
      );
    }
  });
  if ((failover.length > 0 || priority.length > 0) && !outlier) {
    f.warn(path, 'outlier detection policy must be provided for failover');
  }
  failover.forEach((fo, i) => {
    const at = [...path, 'failover', i];
    const from = fo.from ?? '';
    const to = fo.to ?? '';
    if (from === to) f.error(at, 'zone aware lb failover settings must specify different regions');
    if (from.includes('/') || to.includes('/')) {
      f.error(at, 'zone aware lb failover only specifies region; zone and subzone failover are handled automatically');
    }
    if (from.includes('*') || to.includes('*')) f.error(at, "zone aware lb failover region should not contain '*' wildcard");
  });
  return f.list;
}

/**
 * Localities (`region[/zone[/subzone]]`, optional trailing `*`) must not be empty in any
 * part nor overlap one another (`us-east` and `us-east/zone1` overlap). First problem only.
 */
function localitiesError(localities: readonly string[]): string | null {
  // region -> zone -> subzone; '*' at a level means "everything below is taken".
  const taken = new Map<string, Map<string, Set<string>>>();
  const overlap = (l: string) => `locality ${l} overlap with previous specified ones`;
  for (const loc of localities) {
    const stars = loc.split('*').length - 1;
    if (stars > 0 && (stars > 1 || !loc.endsWith('*'))) {
      return `locality ${loc} wildcard '*' number can not exceed 1 and must be in the end`;
    }
    if (taken.has('*')) return overlap(loc);
    const parts = splitN(loc, '/', 3);
    if (parts.some((p) => p === '')) return `locality ${loc} must not contain empty region/zone/subzone info`;
    const [region, zone, sub] = parts;
    const zones = taken.get(region);
    if (parts.length === 1) {
      if (zones) return overlap(loc);
      taken.set(region, new Map([['*', new Set(['*'])]]));
    } else if (parts.length === 2) {
      if (zones && (zones.has('*') || zones.has(zone))) return overlap(loc);
      if (zones) zones.set(zone, new Set(['*']));
      else taken.set(region, new Map([[zone, new Set(['*'])]]));
    } else {
      if (zones?.has('*')) return overlap(loc);
      const subs = zones?.get(zone);
      if (subs && (subs.has('*') || subs.has(sub))) return overlap(loc);
      if (subs) subs.add(sub);
      else if (zones) zones.set(zone, new Set([sub]));
      else taken.set(region, new Map([[zone, new Set([sub])]]));
    }
  }
  return null;
}

/** Go `strings.SplitN`: at most `n` parts, the last one keeps the remaining separators. */
function splitN(s: string, sep: string, n: number): string[] {
  const parts = s.split(sep);
  return parts.length <= n ? parts : [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

const CONFIGMAP_PREFIX = 'configmap://';

/** D23–D25: client (upstream) TLS settings. */
export function validateClientTLS(tls: ClientTLSSettings | undefined, namespace: string, path: FieldPath): Finding[] {
  if (!tls) return [];
  const f = new Findings();
  const cred = tls.credentialName ?? '';
  if (cred.startsWith(CONFIGMAP_PREFIX)) {
    // configmap:// credentials are read from the config cluster, so they must live beside the DR.
    const [ns, name] = cred.slice(CONFIGMAP_PREFIX.length).split('/');
    const at = [...path, 'credentialName'];
    if (name === undefined) f.error(at, `invalid configmap:// credentialName: invalid resource name ${JSON.stringify(cred)}. Expected namespace and name`);
    else if (ns === '') f.error(at, `invalid configmap:// credentialName: invalid resource name ${JSON.stringify(cred)}. Expected namespace`);
    else if (name === '') f.error(at, `invalid configmap:// credentialName: invalid resource name ${JSON.stringify(cred)}. Expected name`);
    else if (ns !== namespace || namespace === '') {
      f.error(at, `invalid configmap:// credentialName: namespace must match the configuration namespace ${JSON.stringify(namespace)}`);
    }
  }
  const sans = (tls.subjectAltNames?.length ?? 0) > 0;
  if (tls.insecureSkipVerify) {
    if (tls.mode === 'SIMPLE' && (tls.caCertificates || cred || sans)) {
      f.error([...path, 'insecureSkipVerify'], 'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true');
    }
    if (tls.mode === 'MUTUAL' && (tls.caCertificates || sans)) {
      f.error([...path, 'insecureSkipVerify'], 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true');
    }
  }
  if ((tls.mode === 'SIMPLE' || tls.mode === 'MUTUAL') && cred) {
    // Credentials come from the secret; file-based fields would be ignored.
    if (tls.clientCertificate || tls.caCertificates || tls.privateKey || tls.caCrl) {
      f.error([...path, 'credentialName'], 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set');
    }
    return f.list;
  }
  if (tls.mode === 'MUTUAL') {
    if (!tls.clientCertificate) f.error([...path, 'clientCertificate'], 'client certificate required for mutual tls');
    if (!tls.privateKey) f.error([...path, 'privateKey'], 'private key required for mutual tls');
  }
  return f.list;
}
