/** The structural schema of every supported kind, keyed by kind. */
import { z } from 'zod';
import type { Kind } from '../resource.js';
import { VirtualServiceSpec } from './virtualservice.js';
import { DestinationRuleSpec } from './destinationrule.js';
import { GatewaySpec } from './gateway.js';
import { ServiceEntrySpec, WorkloadEntrySpec } from './serviceentry.js';
import { SidecarSpec } from './sidecar.js';

/** ObjectMeta: the fields Kubernetes defines; anything else is an unknown field. */
const ObjectMeta = z.strictObject({
  name: z.string(),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
  creationTimestamp: z.union([z.string(), z.null()]).optional(),
  generateName: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().optional(),
  deletionTimestamp: z.string().nullish(),
  deletionGracePeriodSeconds: z.number().nullish(),
  ownerReferences: z.array(z.unknown()).optional(),
  finalizers: z.array(z.string()).optional(),
  managedFields: z.array(z.unknown()).optional(),
  selfLink: z.string().optional(),
});

export const SPEC_SCHEMAS = {
  VirtualService: VirtualServiceSpec,
  DestinationRule: DestinationRuleSpec,
  Gateway: GatewaySpec,
  ServiceEntry: ServiceEntrySpec,
  Sidecar: SidecarSpec,
  WorkloadEntry: WorkloadEntrySpec,
} as const satisfies Record<Kind, z.ZodType>;

function resourceSchema<S extends z.ZodType>(spec: S) {
  return z.strictObject({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: ObjectMeta,
    spec,
    status: z.unknown().optional(),
  });
}

export const RESOURCE_SCHEMAS = {
  VirtualService: resourceSchema(VirtualServiceSpec),
  DestinationRule: resourceSchema(DestinationRuleSpec),
  Gateway: resourceSchema(GatewaySpec),
  ServiceEntry: resourceSchema(ServiceEntrySpec),
  Sidecar: resourceSchema(SidecarSpec),
  WorkloadEntry: resourceSchema(WorkloadEntrySpec),
} as const satisfies Record<Kind, z.ZodType>;
