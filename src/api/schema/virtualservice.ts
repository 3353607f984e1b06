/** Structural schema: VirtualService (istio/api networking/v1alpha3/virtual_service.proto). */
import { z } from 'zod';
import {
  msg, str, bool, strList, strMap, int32, uint32, double, duration, enumOf, oneOf,
  StringMatch, Percent, PortSelector, Destination,
} from './common.js';

export const Headers = msg({
  request: msg({ set: strMap().optional(), add: strMap().optional(), remove: strList().optional() }).optional(),
  response: msg({ set: strMap().optional(), add: strMap().optional(), remove: strList().optional() }).optional(),
});

const StringMatchMap = () => z.record(z.string(), StringMatch);

export const HTTPMatchRequest = msg({
  name: str().optional(),
  uri: StringMatch.optional(),
  scheme: StringMatch.optional(),
  method: StringMatch.optional(),
  authority: StringMatch.optional(),
  headers: StringMatchMap().optional(),
  port: uint32().optional(),
  sourceLabels: strMap().optional(),
  gateways: strList().optional(),
  queryParams: StringMatchMap().optional(),
  ignoreUriCase: bool().optional(),
  withoutHeaders: StringMatchMap().optional(),
  sourceNamespace: str().optional(),
  statPrefix: str().optional(),
});

export const HTTPRouteDestination = msg({
  destination: Destination,
  weight: int32().optional(),
  headers: Headers.optional(),
});

export const HTTPRedirect = oneOf(
  msg({
    uri: str().optional(),
    authority: str().optional(),
    port: uint32().optional(),
    derivePort: enumOf(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT']).optional(),
    scheme: str().optional(),
    redirectCode: uint32().optional(),
    prefixRewrite: str().optional(),
  }),
  [['port', 'derivePort']],
);

export const HTTPDirectResponse = msg({
  status: uint32(),
  body: oneOf(msg({ string: str().optional(), bytes: str().base64().optional() }), [['string', 'bytes']]).optional(),
});

export const Delegate = msg({ name: str().optional(), namespace: str().optional() });

export const HTTPRewrite = msg({
  uri: str().optional(),
  authority: str().optional(),
  uriRegexRewrite: msg({ match: str().optional(), rewrite: str().optional() }).optional(),
});

export const HTTPRetry = msg({
  attempts: int32().optional(),
  perTryTimeout: duration().optional(),
  retryOn: str().optional(),
  retryRemoteLocalities: bool().optional(),
  retryIgnorePreviousHosts: bool().optional(),
  backoff: duration().optional(),
});

export const HTTPFaultInjection = msg({
  delay: oneOf(
    msg({
      fixedDelay: duration().optional(),
      exponentialDelay: duration().optional(),
      percentage: Percent.optional(),
      percent: int32().optional(),
    }),
    [['fixedDelay', 'exponentialDelay']],
  ).optional(),
  abort: oneOf(
    msg({
      httpStatus: int32().optional(),
      grpcStatus: str().optional(),
      http2Error: str().optional(),
      percentage: Percent.optional(),
    }),
    [['httpStatus', 'grpcStatus', 'http2Error']],
  ).optional(),
});

export const HTTPMirrorPolicy = msg({ destination: Destination, percentage: Percent.optional() });

export const CorsPolicy = msg({
  allowOrigin: strList().optional(),
  allowOrigins: z.array(StringMatch).optional(),
  allowMethods: strList().optional(),
  allowHeaders: strList().optional(),
  exposeHeaders: strList().optional(),
  maxAge: duration().optional(),
  allowCredentials: bool().optional(),
  unmatchedPreflights: enumOf(['UNSPECIFIED', 'FORWARD', 'IGNORE']).optional(),
});

export const HTTPRoute = msg({
  name: str().optional(),
  match: z.array(HTTPMatchRequest).optional(),
  route: z.array(HTTPRouteDestination).optional(),
  redirect: HTTPRedirect.optional(),
  directResponse: HTTPDirectResponse.optional(),
  delegate: Delegate.optional(),
  rewrite: HTTPRewrite.optional(),
  timeout: duration().optional(),
  retries: HTTPRetry.optional(),
  fault: HTTPFaultInjection.optional(),
  mirror: Destination.optional(),
  mirrors: z.array(HTTPMirrorPolicy).optional(),
  mirrorPercent: uint32().optional(),
  mirror_percent: uint32().optional(),
  mirrorPercentage: Percent.optional(),
  corsPolicy: CorsPolicy.optional(),
  headers: Headers.optional(),
});

export const RouteDestination = msg({ destination: Destination, weight: int32().optional() });

export const TLSMatchAttributes = msg({
  sniHosts: strList(),
  destinationSubnets: strList().optional(),
  port: uint32().optional(),
  sourceLabels: strMap().optional(),
  gateways: strList().optional(),
  sourceNamespace: str().optional(),
});

export const L4MatchAttributes = msg({
  destinationSubnets: strList().optional(),
  port: uint32().optional(),
  sourceSubnet: str().optional(),
  sourceLabels: strMap().optional(),
  gateways: strList().optional(),
  sourceNamespace: str().optional(),
});

export const TLSRoute = msg({ match: z.array(TLSMatchAttributes), route: z.array(RouteDestination).optional() });
export const TCPRoute = msg({ match: z.array(L4MatchAttributes).optional(), route: z.array(RouteDestination).optional() });

export const VirtualServiceSpec = msg({
  hosts: strList().optional(),
  gateways: strList().optional(),
  http: z.array(HTTPRoute).optional(),
  tls: z.array(TLSRoute).optional(),
  tcp: z.array(TCPRoute).optional(),
  exportTo: strList().optional(),
});

// Re-exported so field types can be named by consumers.
export { PortSelector, double };
