/** Structural schema: ServiceEntry and WorkloadEntry (service_entry.proto, workload_entry.proto). */
import { z } from 'zod';
import { msg, str, strList, strMap, uint32, enumOf, portNumber, WorkloadSelector } from './common.js';

/** The CRD's CEL rules on a workload address. */
function checkWorkloadEntry(ctx: { value: { address?: string; network?: string; ports?: Record<string, number> }; issues: unknown[] }): void {
  const v = ctx.value;
  const push = (message: string) => (ctx.issues as object[]).push({ code: 'custom', message, input: v });
  if (!v.address && !v.network) push('Address is required');
  if (v.address?.startsWith('unix://')) {
    if (v.ports && Object.keys(v.ports).length > 0) push('UDS may not include ports');
    const p = v.address.slice('unix://'.length);
    if (!(p.startsWith('/') || p.startsWith('@'))) push('UDS must be an absolute path or abstract socket');
    else if (p.endsWith('/')) push('UDS may not be a dir');
  }
}

const PORT_NAME = /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

export const WorkloadEntryFields = {
  address: str().max(256).optional(),
  ports: z
    .record(z.string(), portNumber())
    .check((ctx) => {
      const keys = Object.keys(ctx.value);
      if (keys.length > 128) ctx.issues.push({ code: 'custom', message: 'must have at most 128 ports', input: ctx.value });
      for (const k of keys)
        if (!PORT_NAME.test(k) || k.length >= 63)
          ctx.issues.push({ code: 'custom', message: `Invalid value: port name must be valid: "${k}"`, input: ctx.value });
    })
    .optional(),
  labels: strMap().optional(),
  network: str().max(2048).optional(),
  locality: str().max(2048).optional(),
  weight: uint32().optional(),
  serviceAccount: str().max(253).optional(),
};

export const WorkloadEntrySpec = msg(WorkloadEntryFields).check(checkWorkloadEntry);

export const ServicePort = msg({
  number: portNumber(),
  protocol: str().max(256).optional(),
  name: str().max(256),
  targetPort: portNumber().optional(),
});

export const ServiceEntrySpec = msg({
  hosts: z
    .array(
      z.string().check((ctx) => {
        if (ctx.value === '*') ctx.issues.push({ code: 'custom', message: 'hostname cannot be wildcard', input: ctx.value });
      }),
    )
    .min(1)
    .max(256),
  addresses: z.array(z.string().max(64)).max(256).optional(),
  ports: z
    .array(ServicePort)
    .max(256)
    .check((ctx) => {
      const nums = new Set<number>();
      const names = new Set<string>();
      for (const p of ctx.value) {
        if (nums.has(p.number)) ctx.issues.push({ code: 'custom', message: 'port number cannot be duplicated', input: p });
        nums.add(p.number);
        if (names.has(p.name))
          ctx.issues.push({ code: 'custom', message: `Duplicate value: port name "${p.name}"`, input: p });
        names.add(p.name);
      }
    })
    .optional(),
  location: enumOf(['MESH_EXTERNAL', 'MESH_INTERNAL']).optional(),
  resolution: enumOf(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN', 'DYNAMIC_DNS']).optional(),
  endpoints: z.array(msg(WorkloadEntryFields).check(checkWorkloadEntry)).max(4096).optional(),
  workloadSelector: WorkloadSelector.optional(),
  exportTo: strList().optional(),
  subjectAltNames: strList().optional(),
}).check((ctx) => {
  const v = ctx.value;
  const push = (message: string) => ctx.issues.push({ code: 'custom', message, input: v });
  if (v.workloadSelector && v.endpoints) push('only one of WorkloadSelector or Endpoints can be set');
  const res = v.resolution ?? 'NONE';
  if (v.addresses?.some((a) => a.includes('/')) && res !== 'NONE' && res !== 'STATIC')
    push('CIDR addresses are allowed only for NONE/STATIC resolution types');
  if (res === 'NONE' && v.endpoints) push('NONE mode cannot set endpoints');
  if (res === 'DNS_ROUND_ROBIN' && (v.endpoints?.length ?? 0) > 1) push('DNS_ROUND_ROBIN mode cannot have multiple endpoints');
});
