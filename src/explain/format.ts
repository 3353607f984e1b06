/** Text rendering of an ExplainResult: the trace, the outcome, the effective policy. */
import { formatDurationMs } from '../core/duration.js';
import type { ExplainResult, ExplainPolicy } from './explain.js';

const UNLIMITED = 4294967295;

export function formatExplain(r: ExplainResult): string {
  const L: string[] = [];
  const q = r.request;
  const labels = Object.entries(r.proxy.labels).map(([k, v]) => `${k}=${v}`).join(',');
  L.push(`Request:  ${q.method} ${q.scheme}://${q.host}${q.path}  (port ${q.port})${q.sni !== undefined ? `  SNI ${q.sni === null ? '(none)' : q.sni}` : ''}`);
  L.push(
    `Proxy:    ${r.proxy.role} in namespace ${r.proxy.namespace}${labels ? ` with labels ${labels}` : ''}` +
      (r.proxy.role === 'sidecar' ? `; Sidecar ${r.proxy.sidecar ?? '(none: imports */*)'}; outbound policy ${r.proxy.outboundTrafficPolicy}` : ''),
  );
  const eg = r.proxy.egressListener;
  if (eg === null) L.push(`Egress:   no Sidecar egress listener covers port ${q.port}: no service is imported for it`);
  else if (eg) {
    const which = `egress[${eg.index ?? '?'}] ${eg.port === null ? '(no port: every port without a listener of its own)' : `(port ${eg.port})`}`;
    L.push(`Egress:   ${which} governs port ${q.port}; hosts ${eg.hosts.join(', ')}`);
  }
  if (r.routeTable) L.push(`Routes:   route table "${r.routeTable}"${r.virtualHost ? `, virtual host ${r.virtualHost}` : ''}`);
  if (r.trace.length) {
    L.push('Rules, in evaluation order:');
    for (const t of r.trace) {
      const where = t.virtualService
        ? `${t.virtualService} ${t.section ?? 'http'}[${t.routeIndex}]${t.matchIndex !== null ? ` match[${t.matchIndex}]` : ''}${t.service ? ` (service ${t.service})` : ''}`
        : `default route${t.service ? ` of ${t.service}` : ''}`;
      const name = t.routeName ? ` "${t.routeName}"` : '';
      L.push(`  ${t.matched ? '✓ matched' : '✗ skipped'}  ${where}${name}`);
      for (const f of t.failures) L.push(`               - ${f}`);
    }
  }
  L.push('');
  const status = r.status !== null ? ` ${r.status}` : '';
  const flag = r.responseFlag ? ` (flag ${r.responseFlag})` : '';
  const section = r.section ?? 'http';
  L.push(`Result:   ${r.result}${status}${flag}${r.virtualService ? ` by VirtualService ${r.virtualService}${r.routeIndex !== null ? ` ${section}[${r.routeIndex}]` : ''}` : ''}${r.routeName ? ` route "${r.routeName}"` : ''}`);
  L.push(`          ${r.reason}`);
  if (r.redirect) L.push(`          Location: ${r.redirect.location}`);
  if (r.directResponse) L.push(`          body: ${r.directResponse.body === null ? '(empty)' : JSON.stringify(r.directResponse.body)}`);
  if (r.destinations.length) {
    L.push('Destinations:');
    for (const d of r.destinations) {
      L.push(`  ${d.weight}%  ${d.host}:${d.port}${d.subset ? ` subset ${d.subset}` : ''}  cluster ${d.cluster}${d.clusterFound ? '' : ' (MISSING)'}`);
      L.push(`        endpoints: ${d.endpoints.length ? d.endpoints.join(', ') : '(none)'}${d.note ? `  — ${d.note}` : ''}`);
    }
  }
  if (r.policy) L.push(...formatPolicy(r.policy, r.request.scheme === 'tcp' || r.request.scheme === 'tls'));
  return L.join('\n');
}

const ms = (v: number | null, none: string): string => (v === null ? none : formatDurationMs(v));
const lim = (n: number): string => (n >= UNLIMITED ? 'unlimited' : String(n));

function formatPolicy(p: ExplainPolicy, l4 = false): string[] {
  const L = ['Effective policy (defaults filled in):'];
  if (l4) return [...L, ...clusterPolicy(p)];
  L.push(`  timeout:          ${ms(p.timeoutMs, 'none (Istio default: disabled)')}`);
  if (p.retries) {
    const rt = p.retries;
    L.push(
      `  retries:          ${rt.attempts} on ${rt.retryOn}${rt.isDefault ? ' (Istio default policy)' : ''}; per-try timeout ${ms(rt.perTryTimeoutMs, 'none')}; ` +
        `backoff ${formatDurationMs(rt.backoffBaseMs)} base; ${rt.retryIgnorePreviousHosts ? 'avoids previously tried hosts' : 'may retry the same host'}`,
    );
  } else L.push('  retries:          none (attempts: 0)');
  if (p.fault) {
    const f = p.fault;
    const parts: string[] = [];
    if (f.delay) parts.push(`delay ${formatDurationMs(f.delay.fixedDelayMs)} for ${f.delay.percentage}%`);
    if (f.abort) parts.push(`abort ${f.abort.httpStatus ?? `grpc ${f.abort.grpcStatus}`} for ${f.abort.percentage}%`);
    L.push(`  fault:            ${parts.join(', ')}`);
  } else L.push('  fault:            none');
  L.push(`  mirror:           ${p.mirror ? p.mirror.map((m) => `${m.cluster} (${m.percentage}%)`).join(', ') : 'none'}`);
  if (p.rewrite) L.push(`  rewrite:          ${[p.rewrite.uri && `uri ${p.rewrite.uri}`, p.rewrite.uriRegex && `uri regex ${p.rewrite.uriRegex}`, p.rewrite.authority && `authority ${p.rewrite.authority}`].filter(Boolean).join(', ')}`);
  if (p.cors) L.push('  cors:             yes');
  L.push(...clusterPolicy(p));
  return L;
}

function clusterPolicy(p: ExplainPolicy): string[] {
  const L: string[] = [];
  L.push(`  destination rule: ${p.destinationRule ?? 'none'}`);
  L.push(`  load balancer:    ${p.loadBalancer}${p.consistentHash ? ` (${describeHash(p.consistentHash)})` : ''}`);
  const cp = p.connectionPool;
  if ('maxConnections' in cp) {
    L.push(
      `  connection pool:  maxConnections ${lim(cp.maxConnections)}, connectTimeout ${formatDurationMs(cp.connectTimeoutMs)}, ` +
        `http1MaxPendingRequests ${lim(cp.http1MaxPendingRequests)}, http2MaxRequests ${lim(cp.http2MaxRequests)}, ` +
        `maxRequestsPerConnection ${cp.maxRequestsPerConnection || 'unlimited'}, maxRetries ${lim(cp.maxRetries)}, idleTimeout ${formatDurationMs(cp.httpIdleTimeoutMs)}`,
    );
  }
  const od = p.outlierDetection;
  L.push(
    od
      ? `  outlier detection: consecutive5xxErrors ${od.consecutive5xxErrors}, consecutiveGatewayErrors ${od.consecutiveGatewayErrors}, interval ${formatDurationMs(od.intervalMs)}, baseEjectionTime ${formatDurationMs(od.baseEjectionTimeMs)}, maxEjectionPercent ${od.maxEjectionPercent}%, minHealthPercent ${od.minHealthPercent}%`
      : '  outlier detection: none (no DestinationRule sets outlierDetection)',
  );
  L.push(`  tls:              ${p.tls ? `${p.tls.mode}${p.tls.sni ? ` sni ${p.tls.sni}` : ''}` : 'none (plain text)'}`);
  return L;
}

function describeHash(h: NonNullable<ExplainPolicy['consistentHash']>): string {
  const k = h.key;
  const key = k.kind === 'header' ? `header ${k.name}` : k.kind === 'cookie' ? `cookie ${k.name}` : k.kind === 'query' ? `query ${k.name}` : 'source IP';
  const alg = h.algorithm.kind === 'maglev' ? `maglev table ${h.algorithm.tableSize}` : `ring hash min ${h.algorithm.minimumRingSize}`;
  return `consistent hash on ${key}, ${alg}`;
}
