/**
 * Typed model of the networking API, inferred from the structural schema so the types
 * and the validation can never drift apart. Field names are the YAML (lowerCamelCase) names.
 */
import type { z } from 'zod';
import type * as vs from './schema/virtualservice.js';
import type * as dr from './schema/destinationrule.js';
import type * as gw from './schema/gateway.js';
import type * as se from './schema/serviceentry.js';
import type * as sc from './schema/sidecar.js';
import type * as common from './schema/common.js';
import type { RawResource, Kind } from './resource.js';

export type StringMatch = z.output<typeof common.StringMatch>;
export type Percent = z.output<typeof common.Percent>;
export type Destination = z.output<typeof common.Destination>;
export type ServerTLSSettings = z.output<typeof common.ServerTLSSettings>;
export type ServerPort = z.output<typeof common.ServerPort>;

export type VirtualServiceSpec = z.output<typeof vs.VirtualServiceSpec>;
export type HTTPRoute = z.output<typeof vs.HTTPRoute>;
export type HTTPMatchRequest = z.output<typeof vs.HTTPMatchRequest>;
export type HTTPRouteDestination = z.output<typeof vs.HTTPRouteDestination>;
export type HTTPRedirect = z.output<typeof vs.HTTPRedirect>;
export type HTTPDirectResponse = z.output<typeof vs.HTTPDirectResponse>;
export type HTTPRewrite = z.output<typeof vs.HTTPRewrite>;
export type HTTPRetry = z.output<typeof vs.HTTPRetry>;
export type HTTPFaultInjection = z.output<typeof vs.HTTPFaultInjection>;
export type HTTPMirrorPolicy = z.output<typeof vs.HTTPMirrorPolicy>;
export type CorsPolicy = z.output<typeof vs.CorsPolicy>;
export type Headers = z.output<typeof vs.Headers>;
export type Delegate = z.output<typeof vs.Delegate>;
export type TLSRoute = z.output<typeof vs.TLSRoute>;
export type TCPRoute = z.output<typeof vs.TCPRoute>;
export type TLSMatchAttributes = z.output<typeof vs.TLSMatchAttributes>;
export type L4MatchAttributes = z.output<typeof vs.L4MatchAttributes>;
export type RouteDestination = z.output<typeof vs.RouteDestination>;

export type DestinationRuleSpec = z.output<typeof dr.DestinationRuleSpec>;
export type TrafficPolicy = z.output<typeof dr.TrafficPolicy>;
export type PortTrafficPolicy = z.output<typeof dr.PortTrafficPolicy>;
export type Subset = z.output<typeof dr.Subset>;
export type LoadBalancerSettings = z.output<typeof dr.LoadBalancerSettings>;
export type ConsistentHashLB = z.output<typeof dr.ConsistentHashLB>;
export type LocalityLoadBalancerSetting = z.output<typeof dr.LocalityLoadBalancerSetting>;
export type ConnectionPoolSettings = z.output<typeof dr.ConnectionPoolSettings>;
export type OutlierDetection = z.output<typeof dr.OutlierDetection>;
export type ClientTLSSettings = z.output<typeof dr.ClientTLSSettings>;

export type GatewaySpec = z.output<typeof gw.GatewaySpec>;
export type Server = z.output<typeof gw.Server>;

export type ServiceEntrySpec = z.output<typeof se.ServiceEntrySpec>;
export type ServicePort = z.output<typeof se.ServicePort>;
export type WorkloadEntrySpec = z.output<typeof se.WorkloadEntrySpec>;

export type SidecarSpec = z.output<typeof sc.SidecarSpec>;
export type IstioEgressListener = z.output<typeof sc.IstioEgressListener>;
export type IstioIngressListener = z.output<typeof sc.IstioIngressListener>;

export interface SpecByKind {
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  Gateway: GatewaySpec;
  ServiceEntry: ServiceEntrySpec;
  Sidecar: SidecarSpec;
  WorkloadEntry: WorkloadEntrySpec;
}

/** A resource that passed structural validation: `spec` is typed (nulls normalised away). */
export interface Resource<K extends Kind = Kind> extends RawResource {
  readonly kind: K;
  readonly spec: SpecByKind[K];
}

export type VirtualService = Resource<'VirtualService'>;
export type DestinationRule = Resource<'DestinationRule'>;
export type Gateway = Resource<'Gateway'>;
export type ServiceEntry = Resource<'ServiceEntry'>;
export type Sidecar = Resource<'Sidecar'>;
export type WorkloadEntry = Resource<'WorkloadEntry'>;

/** All valid resources of a config, by kind (what the registry and compiler consume). */
export interface ConfigSet {
  virtualServices: VirtualService[];
  destinationRules: DestinationRule[];
  gateways: Gateway[];
  serviceEntries: ServiceEntry[];
  sidecars: Sidecar[];
  workloadEntries: WorkloadEntry[];
}
