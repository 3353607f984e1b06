/**
 * The catalogue of analyzer findings: one stable code per kind of problem, its severity
 * and its message text.
 *
 * Codes that Istio has are reused with Istio's severity and message template
 * (`pkg/config/analysis/msg/messages.yaml`), so runbooks and searches for `IST0101` keep
 * working. Istio's `Info` level maps to our `warning` (we have no lower level). Problems
 * Istio does not report get an `ISTHMUS-Axxx` code of our own; those codes never change
 * meaning once published.
 */
import type { Severity } from '../core/diagnostics.js';

/** One kind of finding. */
export interface MessageType {
  code: string;
  /** Istio's message name, or ours for ISTHMUS codes. */
  name: string;
  severity: Severity;
}

const def = (code: string, name: string, severity: Severity): MessageType => ({ code, name, severity });

/** Every code `analyze` can emit. */
export const MSG = {
  /** A referenced host, subset, gateway, port or delegate does not exist. Istio: Error. */
  ReferencedResourceNotFound: def('IST0101', 'ReferencedResourceNotFound', 'error'),
  /** Several mesh VirtualServices define one host; sidecars keep one and drop the rest. Istio: Error. */
  ConflictingMeshGatewayVirtualServiceHosts: def('IST0109', 'ConflictingMeshGatewayVirtualServiceHosts', 'error'),
  /** More than one Sidecar without workloadSelector in a namespace. Istio: Error. */
  MultipleSidecarsWithoutWorkloadSelectors: def('IST0111', 'MultipleSidecarsWithoutWorkloadSelectors', 'error'),
  /** Destination without port on a multi-port service. Istio: Error. */
  VirtualServiceDestinationPortSelectorRequired: def('IST0112', 'VirtualServiceDestinationPortSelectorRequired', 'error'),
  /** A rule no request can reach. Istio: Warning. */
  VirtualServiceUnreachableRule: def('IST0130', 'VirtualServiceUnreachableRule', 'warning'),
  /** A match block an earlier block already takes. Istio: Info (shown as warning). */
  VirtualServiceIneffectiveMatch: def('IST0131', 'VirtualServiceIneffectiveMatch', 'warning'),
  /** A VirtualService bound to a Gateway none of whose server hosts cover its hosts. Istio: Warning. */
  VirtualServiceHostNotFoundInGateway: def('IST0132', 'VirtualServiceHostNotFoundInGateway', 'warning'),
  /** A DestinationRule subset that selects no endpoint. Istio: Error. */
  DestinationRuleSubsetNotSelectPods: def('IST0173', 'DestinationRuleSubsetNotSelectPods', 'error'),
  /** A DestinationRule host that matches no service. Istio: Warning. */
  UnknownDestinationRuleHost: def('IST0174', 'UnknownDestinationRuleHost', 'warning'),

  /** The service exists but is not exported to the namespace that routes to it. */
  DestinationHostNotVisible: def('ISTHMUS-A001', 'DestinationHostNotVisible', 'error'),
  /** The subset exists, but in a DestinationRule the client does not use. */
  SubsetNotInEffectiveDestinationRule: def('ISTHMUS-A002', 'SubsetNotInEffectiveDestinationRule', 'error'),
  /** Merged DestinationRules define the same subset twice; the later definition is dropped. */
  DuplicateSubsetInMergedDestinationRules: def('ISTHMUS-A003', 'DuplicateSubsetInMergedDestinationRules', 'warning'),
  /** Merged DestinationRules both set a top-level trafficPolicy; only the oldest applies. */
  IgnoredTrafficPolicyInMergedDestinationRules: def('ISTHMUS-A004', 'IgnoredTrafficPolicyInMergedDestinationRules', 'warning'),
  /** A Sidecar egress host that imports no service and no VirtualService. */
  SidecarEgressHostImportsNothing: def('ISTHMUS-A005', 'SidecarEgressHostImportsNothing', 'warning'),
  /** A VirtualService names a gateway it is not exported to, so it never binds there. */
  VirtualServiceNotExportedToGateway: def('ISTHMUS-A006', 'VirtualServiceNotExportedToGateway', 'error'),
  /** On a gateway, VirtualServices for one host are merged; a later catch-all is never reached. */
  GatewayMergedRouteShadowed: def('ISTHMUS-A007', 'GatewayMergedRouteShadowed', 'warning'),
  /** A delegate VirtualService that is not exported to its root's namespace; the rule is skipped. */
  DelegateNotExported: def('ISTHMUS-A008', 'DelegateNotExported', 'error'),
  /** A `delegate` names a VirtualService that has hosts (a root, not a delegate); the rule is skipped. */
  DelegateIsNotADelegate: def('ISTHMUS-A009', 'DelegateIsNotADelegate', 'error'),
} as const satisfies Record<string, MessageType>;

/** Istio's `%q` formatting of a string (Go-quoted; JSON quoting is the same for printable text). */
export function q(s: string): string {
  return JSON.stringify(s);
}

/** Istio's `%v` formatting of a string list: `[a b c]`. */
export function v(list: readonly string[]): string {
  return `[${list.join(' ')}]`;
}

// Message texts. Istio templates are reproduced word for word so output reads like istioctl's.

export const text = {
  referencedNotFound: (reftype: string, refval: string) => `Referenced ${reftype} not found: ${q(refval)}`,
  conflictingMeshHosts: (vsNames: string, host: string) =>
    `The VirtualServices ${vsNames} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
  multipleSidecarsNoSelector: (names: readonly string[], ns: string) =>
    `The Sidecars ${v(names)} in namespace ${q(ns)} have no workload selector, which can lead to undefined behavior.`,
  portSelectorRequired: (host: string, ports: readonly number[]) =>
    `This VirtualService routes to a service ${q(host)} that exposes multiple ports ${v(ports.map(String))}. Specifying a port in the destination is required to disambiguate.`,
  unreachableRule: (ruleno: string, reason: string) => `VirtualService rule ${ruleno} not used (${reason}).`,
  ineffectiveMatch: (ruleno: string, matchno: string, dupno: string) =>
    `VirtualService rule ${ruleno} match ${matchno} is not used (duplicate/overlapping match in rule ${dupno}).`,
  hostNotFoundInGateway: (hosts: readonly string[], vs: string, gw: string) =>
    `one or more host ${v(hosts)} defined in VirtualService ${vs} not found in Gateway ${gw}.`,
  subsetSelectsNoPods: (subset: string) =>
    `The Subset ${subset} defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).`,
  unknownDestinationRuleHost: (host: string) =>
    `The host ${host} defined in the DestinationRule does not match any services in the mesh.`,
};
