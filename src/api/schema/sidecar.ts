/** Structural schema: Sidecar (istio/api networking/v1alpha3/sidecar.proto). */
import { z } from 'zod';
import { msg, str, strList, enumOf, ServerPort, ServerTLSSettings, Destination, WorkloadSelector } from './common.js';
import { ConnectionPoolSettings } from './destinationrule.js';

const CaptureMode = enumOf(['DEFAULT', 'IPTABLES', 'NONE']);

export const IstioIngressListener = msg({
  port: ServerPort,
  bind: str().optional(),
  captureMode: CaptureMode.optional(),
  defaultEndpoint: str().optional(),
  tls: ServerTLSSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
});

export const IstioEgressListener = msg({
  port: ServerPort.optional(),
  bind: str().optional(),
  captureMode: CaptureMode.optional(),
  hosts: strList(),
});

export const SidecarSpec = msg({
  workloadSelector: WorkloadSelector.optional(),
  ingress: z.array(IstioIngressListener).optional(),
  egress: z.array(IstioEgressListener).optional(),
  inboundConnectionPool: ConnectionPoolSettings.optional(),
  outboundTrafficPolicy: msg({
    mode: enumOf(['REGISTRY_ONLY', 'ALLOW_ANY']).optional(),
    egressProxy: Destination.optional(),
  }).optional(),
});
