/**
 * The generated mesh the control-plane benchmarks share: per service a ServiceEntry with two
 * endpoints (v1, v2), a DestinationRule with two subsets, and a VirtualService with a header
 * match, a method + regex match with a timeout, and a weighted split.
 */
export const NAMESPACES = 50;

export function serviceYaml(i: number, v1Weight = 80): string {
  const ns = `ns-${i % NAMESPACES}`;
  const name = `svc-${i}`;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  endpoints:
  - {address: 10.${(i >> 8) & 255}.${i & 255}.1, labels: {app: ${name}, version: v1}}
  - {address: 10.${(i >> 8) & 255}.${i & 255}.2, labels: {app: ${name}, version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: ${name}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}]
  http:
  - name: tester
    match: [{headers: {end-user: {exact: tester-${i}}}}]
    route: [{destination: {host: ${name}, subset: v2}}]
  - name: api
    match:
    - {uri: {prefix: /api/v1}, method: {exact: POST}}
    - {uri: {regex: "/api/v[0-9]+/items/[a-z0-9-]+"}}
    route: [{destination: {host: ${name}, subset: v1}}]
    timeout: 3s
  - name: split
    route:
    - {destination: {host: ${name}, subset: v1}, weight: ${v1Weight}}
    - {destination: {host: ${name}, subset: v2}, weight: ${100 - v1Weight}}
`;
}

