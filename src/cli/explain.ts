/** `isthmus explain URL`: the proxy's decision for one request, from config alone. */
import { buildRegistry } from '../registry/build.js';
import { compileSnapshot } from '../compile/index.js';
import type { ProxyIdentity } from '../snapshot/types.js';
import { explain } from '../explain/explain.js';
import { formatExplain } from '../explain/format.js';
import { loadConfig, type ConfigFlags } from './config.js';
import type { Output } from './output.js';
import { UsageError, parseHeaders, parseLabels } from './args.js';

export interface ExplainFlags extends ConfigFlags {
  method: string;
  header: string[];
  labels?: string;
  gateway?: string;
  json: boolean;
}

export function runExplain(url: string, flags: ExplainFlags, out: Output): number {
  const cfg = loadConfig(flags);
  const errors = cfg.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length)
    out.stderr(`warning: ${errors.length} config error(s); the resources they affect are ignored (run \`isthmus validate\` for details)`);
  const proxy = proxyIdentity(flags, cfg.config.gateways);
  const registry = buildRegistry(cfg.config, { domain: flags.domain });
  const snap = compileSnapshot(cfg.config, registry, proxy, { domain: flags.domain });
  let result;
  try {
    result = explain(snap, { method: flags.method, url, headers: parseHeaders(flags.header) });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  out.stdout(flags.json ? JSON.stringify(result, null, 2) : formatExplain(result));
  return 0;
}

function proxyIdentity(flags: ExplainFlags, gateways: ReadonlyArray<{ meta: { name: string; namespace: string }; spec: { selector?: Record<string, string> } }>): ProxyIdentity {
  const labels = parseLabels(flags.labels);
  if (!flags.gateway) return { role: 'sidecar', namespace: flags.namespace, labels };
  const [ns, name] = flags.gateway.includes('/') ? flags.gateway.split('/', 2) : [flags.namespace, flags.gateway];
  const gw = gateways.find((g) => g.meta.namespace === ns && g.meta.name === name);
  if (!gw) {
    const known = gateways.map((g) => `${g.meta.namespace}/${g.meta.name}`).join(', ') || 'none';
    throw new UsageError(`gateway ${ns}/${name} not found in the config (valid Gateways: ${known})`);
  }
  return { role: 'gateway', namespace: ns, labels: { ...(gw.spec.selector ?? {}), ...labels }, gateways: [`${ns}/${name}`] };
}
