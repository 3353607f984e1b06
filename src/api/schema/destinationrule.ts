/** Structural schema: DestinationRule (istio/api networking/v1alpha3/destination_rule.proto). */
import { z } from 'zod';
import {
  msg, str, bool, strList, strMap, int32, uint32, double, duration, enumOf, oneOf,
  PortSelector, MatchLabelsSelector,
} from './common.js';

const LocalityFailover = msg({ from: str().optional(), to: str().optional() });

export const LocalityLoadBalancerSetting = msg({
  distribute: z.array(msg({ from: str().optional(), to: z.record(z.string(), uint32()).optional() })).optional(),
  failover: z.array(LocalityFailover).optional(),
  failoverPriority: strList().optional(),
  enabled: bool().optional(),
});

export const ConsistentHashLB = oneOf(
  msg({
    httpHeaderName: str().optional(),
    httpCookie: msg({
      name: str(),
      path: str().optional(),
      ttl: duration({ allowZero: true }).optional(),
      attributes: z.array(msg({ name: str(), value: str().optional() })).optional(),
    }).optional(),
    useSourceIp: bool().optional(),
    httpQueryParameterName: str().optional(),
    ringHash: msg({ minimumRingSize: z.number().int().min(0).optional() }).optional(),
    maglev: msg({ tableSize: z.number().int().min(0).optional() }).optional(),
    minimumRingSize: z.number().int().min(0).optional(),
  }),
  [
    ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'],
    ['ringHash', 'maglev'],
  ],
);

export const LoadBalancerSettings = oneOf(
  msg({
    simple: enumOf(['UNSPECIFIED', 'LEAST_CONN', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST']).optional(),
    consistentHash: ConsistentHashLB.optional(),
    localityLbSetting: LocalityLoadBalancerSetting.optional(),
    zoneAwareLbSetting: msg({
      enabled: bool().optional(),
      failover: z.array(LocalityFailover).optional(),
      failoverPriority: strList().optional(),
      minClusterSize: z.number().int().min(1).optional(),
    }).optional(),
    warmupDurationSecs: duration().optional(),
    warmup: msg({
      duration: duration(),
      minimumPercent: double().min(0).max(100).optional(),
      aggression: double().min(0).optional(),
    }).optional(),
  }),
  [['simple', 'consistentHash'], ['warmupDurationSecs', 'warmup']],
);

export const ConnectionPoolSettings = msg({
  tcp: msg({
    maxConnections: int32().optional(),
    connectTimeout: duration().optional(),
    tcpKeepalive: msg({ probes: uint32().optional(), time: duration().optional(), interval: duration().optional() }).optional(),
    maxConnectionDuration: duration().optional(),
    idleTimeout: duration({ allowZero: true }).optional(),
  }).optional(),
  http: msg({
    http1MaxPendingRequests: int32().optional(),
    http2MaxRequests: int32().optional(),
    maxRequestsPerConnection: int32().optional(),
    maxRetries: int32().optional(),
    idleTimeout: duration().optional(),
    h2UpgradePolicy: enumOf(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE']).optional(),
    useClientProtocol: bool().optional(),
    maxConcurrentStreams: int32().optional(),
    http2KeepAlive: msg({ interval: duration().optional(), timeout: duration().optional() }).optional(),
  }).optional(),
});

export const OutlierDetection = msg({
  splitExternalLocalOriginErrors: bool().optional(),
  consecutiveLocalOriginFailures: uint32().optional(),
  consecutiveGatewayErrors: uint32().optional(),
  consecutive5xxErrors: uint32().optional(),
  interval: duration().optional(),
  baseEjectionTime: duration().optional(),
  maxEjectionPercent: int32().optional(),
  minHealthPercent: int32().optional(),
  outlierDetectionHttpErrorCodes: z.array(z.number().int().min(100).max(599)).optional(),
  consecutiveErrors: int32().optional(),
});

export const ClientTLSSettings = msg({
  mode: enumOf(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL']).optional(),
  clientCertificate: str().optional(),
  privateKey: str().optional(),
  caCertificates: str().optional(),
  credentialName: str().optional(),
  subjectAltNames: strList().optional(),
  sni: str().optional(),
  insecureSkipVerify: bool().optional(),
  caCrl: str().optional(),
});

export const PortTrafficPolicy = msg({
  port: PortSelector.optional(),
  loadBalancer: LoadBalancerSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
  outlierDetection: OutlierDetection.optional(),
  tls: ClientTLSSettings.optional(),
});

const TrafficPolicyFields = {
  loadBalancer: LoadBalancerSettings.optional(),
  connectionPool: ConnectionPoolSettings.optional(),
  outlierDetection: OutlierDetection.optional(),
  tls: ClientTLSSettings.optional(),
  portLevelSettings: z.array(PortTrafficPolicy).max(4096).optional(),
  tunnel: msg({ protocol: str().optional(), targetHost: str(), targetPort: uint32() }).optional(),
  proxyProtocol: msg({ version: enumOf(['V1', 'V2']).optional() }).optional(),
  retryBudget: msg({
    percent: double().min(0).max(100).optional(),
    minRetryConcurrency: uint32().optional(),
    budgetInterval: duration().optional(),
  }).optional(),
};

export const TrafficPolicy = msg(TrafficPolicyFields);

export const Subset = msg({ name: str(), labels: strMap().optional(), trafficPolicy: TrafficPolicy.optional() });

export const DestinationRuleSpec = msg({
  host: str(),
  trafficPolicy: TrafficPolicy.optional(),
  subsets: z.array(Subset).optional(),
  exportTo: strList().optional(),
  workloadSelector: MatchLabelsSelector.optional(),
});
