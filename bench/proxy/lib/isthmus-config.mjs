// Isthmus configs for the benchmark, generated at run time because they must point at the
// benchmark upstream's port. Every variant serves the host the load generator asks for
// (TARGET_HOST), so all targets see byte-identical requests.
//
// - realistic: `services` virtual hosts (the target plus services-1 others spread over 10
//   namespaces), each with a ServiceEntry (two endpoints labelled v1/v2), a DestinationRule
//   with two subsets, and a VirtualService of three rules: a header match, a URI
//   prefix+method / regex match, and a 90/10 weighted split. No `retries` field anywhere,
//   so Istio's default retry policy applies. The benchmark request (GET /) is checked
//   against the first two rules and lands on the split.
// - catchall: one ServiceEntry and one VirtualService with a single rule without a match.

/** The Host / :authority every load generator sends. */
export const TARGET_HOST = 'app.bench.svc.cluster.local';

const NAMESPACES = 10;

function serviceEntry(name, ns, host, port, subsets) {
  const endpoints = subsets
    ? `
  - {address: 127.0.0.1, ports: {http: ${port}}, labels: {app: ${name}, version: v1}}
  - {address: 127.0.0.1, ports: {http: ${port}}, labels: {app: ${name}, version: v2}}`
    : `
  - {address: 127.0.0.1, ports: {http: ${port}}}`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${host}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints:${endpoints}`;
}

function destinationRule(name, ns, host) {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: ${host}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}`;
}

function richVirtualService(name, ns, host) {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${host}]
  http:
  - name: tester
    match: [{headers: {end-user: {exact: tester}}}]
    route: [{destination: {host: ${host}, subset: v2}}]
  - name: api
    match:
    - {uri: {prefix: /api/v2}, method: {exact: POST}}
    - {uri: {regex: "/items/[0-9]+"}}
    route: [{destination: {host: ${host}, subset: v2}}]
    timeout: 5s
  - name: split
    route:
    - {destination: {host: ${host}, subset: v1}, weight: 90}
    - {destination: {host: ${host}, subset: v2}, weight: 10}`;
}

function catchAllVirtualService(name, ns, host) {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${host}]
  http:
  - route: [{destination: {host: ${host}}}]`;
}

/**
 * The files of one config variant: `{ 'services.yaml': text, ... }`.
 * @param {'realistic'|'catchall'} kind
 * @param {{upstreamPort: number, services?: number}} opts
 */
/**
 * The tcp scenario: an ingress gateway with one TCP server on `listenPort`, and a
 * VirtualService `tcp` route to the upstream (a ServiceEntry with a TCP port).
 */
function tcpGatewayConfig(upstreamPort, listenPort) {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp-gw, namespace: bench}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: ${listenPort}, name: tcp, protocol: TCP}
    hosts: ['*']
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: app-tcp, namespace: bench}
spec:
  hosts: [app-tcp.bench.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${upstreamPort}, name: tcp, protocol: TCP}]
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app-tcp, namespace: bench}
spec:
  hosts: ['*']
  gateways: [tcp-gw]
  tcp:
  - match: [{port: ${listenPort}}]
    route: [{destination: {host: app-tcp.bench.svc.cluster.local, port: {number: ${upstreamPort}}}}]
`;
}

export function generateConfig(kind, { upstreamPort, services = 200, listenPort = 0 }) {
  if (kind === 'tcp') return { 'tcp-gateway.yaml': tcpGatewayConfig(upstreamPort, listenPort) };
  if (kind === 'catchall') {
    return {
      'services.yaml': serviceEntry('app', 'bench', TARGET_HOST, upstreamPort, false),
      'virtual-services.yaml': catchAllVirtualService('app', 'bench', TARGET_HOST),
    };
  }
  if (kind !== 'realistic') throw new Error(`unknown config kind ${kind}`);
  const se = [];
  const dr = [];
  const vs = [];
  for (let i = 0; i < services; i++) {
    // The target is one of the N, in the middle of the list (lookup cost must not depend on
    // it being first).
    const isTarget = i === Math.floor(services / 2);
    const name = isTarget ? 'app' : `svc-${i}`;
    const ns = isTarget ? 'bench' : `ns-${i % NAMESPACES}`;
    const host = isTarget ? TARGET_HOST : `${name}.${ns}.svc.cluster.local`;
    se.push(serviceEntry(name, ns, host, upstreamPort, true));
    dr.push(destinationRule(name, ns, host));
    vs.push(richVirtualService(name, ns, host));
  }
  return {
    'services.yaml': se.join('\n---\n') + '\n',
    'destination-rules.yaml': dr.join('\n---\n') + '\n',
    'virtual-services.yaml': vs.join('\n---\n') + '\n',
  };
}
