/**
 * Semantic (webhook) validation of a WorkloadEntry (istio-semantics.md §4.6, W1–W3), also
 * applied to the inline `endpoints` of a STATIC ServiceEntry. The schema already enforces
 * "Address is required" and the unix-socket path/port rules.
 */
import type { FieldPath } from '../core/diagnostics.js';
import { validateFQDN } from '../core/hosts.js';
import { isIP } from '../core/net.js';
import { validateLabels, validatePortName } from '../core/names.js';
import type { Resource, WorkloadEntrySpec } from '../api/types.js';
import { UNIX_PREFIX } from './common.js';
import { Findings, type Finding, type ValidateContext } from './finding.js';

export interface WorkloadEntryOptions {
  /** Port names of the enclosing ServiceEntry; endpoint `ports` keys must be among them. */
  servicePorts?: ReadonlySet<string>;
  /** A standalone WorkloadEntry may name a DNS host; a STATIC ServiceEntry endpoint may not. */
  allowFQDN: boolean;
}

/** Validates one WorkloadEntry; paths are from the resource root. */
export function validateWorkloadEntry(r: Resource<'WorkloadEntry'>, _ctx: ValidateContext): Finding[] {
  return validateWorkloadEntrySpec(r.spec, ['spec'], { allowFQDN: true });
}

/** W1–W3 (and S8/S14 for ServiceEntry endpoints) on a workload spec at `path`. */
export function validateWorkloadEntrySpec(we: WorkloadEntrySpec, path: FieldPath, opts: WorkloadEntryOptions): Finding[] {
  const f = new Findings();
  const addr = we.address ?? '';
  // W1: no address at all is a schema error; with a network it means "reach it via that network's gateway".
  if (addr === '' && we.network) f.warn([...path, 'address'], `address is unset with network ${JSON.stringify(we.network)}`);

  const unix = addr.startsWith(UNIX_PREFIX);
  // W2: an IP, or (where DNS resolution applies) an FQDN. Unix paths are checked by the schema.
  if (!unix && addr !== '' && !isIP(addr)) {
    if (!opts.allowFQDN) f.error([...path, 'address'], `endpoint address ${JSON.stringify(addr)} is not a valid IP address`);
    else if (validateFQDN(addr)) f.error([...path, 'address'], `endpoint address ${JSON.stringify(addr)} is not a valid FQDN or an IP address`);
  }

  // W3: port names (the schema checks numbers and unix sockets without ports).
  for (const [name, port] of Object.entries(we.ports ?? {})) {
    if (opts.servicePorts && !opts.servicePorts.has(name)) {
      f.error([...path, 'ports', name], `endpoint port ${port} is not defined by the service entry`);
    }
    const err = validatePortName(name);
    if (err) f.error([...path, 'ports', name], err);
  }
  const labelErr = we.labels ? validateLabels(we.labels) : null;
  if (labelErr) f.error([...path, 'labels'], labelErr);

  // S14: a unix socket endpoint can only serve a single service port.
  if (unix && opts.servicePorts && opts.servicePorts.size !== 1) {
    f.error([...path, 'address'], 'exactly 1 service port required for unix endpoints');
  }
  return f.list;
}
