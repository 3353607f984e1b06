/**
 * Istio's "Egress Gateways" task (HTTP traffic for edition.cnn.com) with two real
 * `isthmus run` processes: one sidecar, one `--role gateway` standing in for
 * istio-egressgateway. The YAML is the task's, with two file-mode stand-ins:
 * - `edition.cnn.com` keeps `resolution: DNS`, but its one endpoint is `localhost` (resolved
 *   by the proxy through /etc/hosts) on a local server's port, instead of the real site;
 * - the `istio-egressgateway.istio-system.svc.cluster.local` Service, which Kubernetes would
 *   provide, is a ServiceEntry whose endpoint is the gateway process's port.
 *
 * The request goes app -> sidecar -> egress gateway -> "edition.cnn.com". That it passed the
 * gateway is shown three ways: the gateway (an edge proxy, Envoy `use_remote_address`) sets
 * x-forwarded-for, which the sidecar never does; both access logs carry the request with its
 * one x-request-id and their own upstream cluster; and with the gateway stopped the sidecar
 * can no longer reach the site (503 UF), though the site is still up.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { promises as dnsPromises } from 'node:dns';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request, startUpstream, type Upstream } from '../support/mesh.js';
import { adminGet, configDir, spawnRun, waitFor, withTimeout, type CliProxy } from '../support/harness.js';

const cleanup: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** A port free right now (the gateway's listener must be known before it starts). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The task's resources (https://istio.io/latest/docs/tasks/traffic-management/egress/egress-gateway/). */
function taskYaml(siteAddress: string, sitePort: number, gatewayPort: number): string {
  return `# ServiceEntry for the external host (the task's, plus a local endpoint standing in for the site)
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: cnn
spec:
  hosts:
  - edition.cnn.com
  ports:
  - number: 80
    name: http-port
    protocol: HTTP
  - number: 443
    name: https
    protocol: HTTPS
  resolution: DNS
  endpoints:
  - address: ${siteAddress}
    ports: {http-port: ${sitePort}}
---
# What Kubernetes would provide: the egress gateway's Service, here the gateway process.
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: istio-egressgateway
  namespace: istio-system
spec:
  hosts:
  - istio-egressgateway.istio-system.svc.cluster.local
  location: MESH_INTERNAL
  ports:
  - number: 80
    name: http
    protocol: HTTP
  resolution: STATIC
  endpoints:
  - address: 127.0.0.1
    ports: {http: ${gatewayPort}}
    labels: {istio: egressgateway}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: istio-egressgateway
spec:
  selector:
    istio: egressgateway
  servers:
  - port:
      number: 80
      name: http
      protocol: HTTP
    hosts:
    - edition.cnn.com
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: egressgateway-for-cnn
spec:
  host: istio-egressgateway.istio-system.svc.cluster.local
  subsets:
  - name: cnn
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: direct-cnn-through-egress-gateway
spec:
  hosts:
  - edition.cnn.com
  gateways:
  - istio-egressgateway
  - mesh
  http:
  - match:
    - gateways:
      - mesh
      port: 80
    route:
    - destination:
        host: istio-egressgateway.istio-system.svc.cluster.local
        subset: cnn
        port:
          number: 80
      weight: 100
  - match:
    - gateways:
      - istio-egressgateway
      port: 80
    route:
    - destination:
        host: edition.cnn.com
        port:
          number: 80
      weight: 100
`;
}

/** The access-log line carrying `requestId`, bounded wait. */
function logLine(p: CliProxy, requestId: string): Promise<string> {
  return waitFor(`an access-log line with ${requestId}`, () => p.stdout.find((l) => l.includes(requestId)), 5000);
}

interface ClusterView {
  name: string;
  endpoints: Array<{ address: string; port: number; totalRequests: number }>;
}

async function clusters(p: CliProxy): Promise<ClusterView[]> {
  const r = await adminGet(p.adminPort, '/clusters?format=json');
  assert.equal(r.status, 200, r.body);
  return (JSON.parse(r.body) as { cluster_statuses: ClusterView[] }).cluster_statuses;
}

test("Istio's egress gateway task with two processes: sidecar -> egress gateway -> external site", { timeout: 90_000 }, async () => {
  const site: Upstream = await startUpstream('edition.cnn.com');
  cleanup.push(() => site.close());
  // Resolution DNS on `localhost` (through /etc/hosts) where it is 127.0.0.1, else the IP.
  const local = await dnsPromises.lookup('localhost', { all: true }).catch(() => []);
  const siteAddress = local.some((a) => a.address === '127.0.0.1') ? 'localhost' : '127.0.0.1';

  const dir = configDir('isthmus-egress-');
  cleanup.push(() => dir.cleanup());
  const file = join(dir.dir, 'egress-gateway.yaml');
  // Gateway port 80 is served on 80 + offset = the port the egress Service points at. The
  // port is free when picked; another process may take it before the gateway binds: retry.
  let gatewayPort = 0;
  let gateway: CliProxy | null = null;
  for (let attempt = 1; gateway === null; attempt++) {
    gatewayPort = await freePort();
    writeFileSync(file, taskYaml(siteAddress, site.port, gatewayPort));
    try {
      gateway = await spawnRun(['-f', file, '--role', 'gateway', '--namespace', 'istio-system', '--labels', 'istio=egressgateway', '--port-offset', String(gatewayPort - 80), '--admin-port', '0', '--concurrency', '1']);
    } catch (e) {
      if (attempt >= 5 || !/already in use/.test((e as Error).message)) throw e;
    }
  }
  const gw = gateway;
  cleanup.push(() => gw.kill());
  assert.deepEqual(gateway.listeners.map((l) => l.port), [gatewayPort], gateway.stderr.join('\n'));
  const sidecar = await spawnRun(['-f', file, '--outbound-port', '0', '--admin-port', '0', '--concurrency', '1']);
  cleanup.push(() => sidecar.kill());

  // As in the task: `curl http://edition.cnn.com/politics` from the app, through its sidecar.
  const r = await request(sidecar.port, 'edition.cnn.com', '/politics');
  const logs = (): string => ['sidecar:', ...sidecar.stderr, ...sidecar.stdout, 'gateway:', ...gateway.stderr, ...gateway.stdout].join('\n');
  assert.equal(r.status, 200, `${r.body}\n${logs()}`);
  assert.equal(r.body, 'edition.cnn.com /politics');
  assert.equal(site.seen.length, 1);
  const seen = site.seen[0];
  assert.equal(seen.headers.host, 'edition.cnn.com');
  // Set by the gateway (an edge proxy): the sidecar never adds x-forwarded-for.
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-envoy-external-address'], '127.0.0.1');
  const requestId = String(seen.headers['x-request-id']);
  assert.match(requestId, /^[0-9a-f-]{36}$/);

  // Each proxy logged the request with its own hop's upstream.
  const sidecarLog = await logLine(sidecar, requestId);
  assert.match(sidecarLog, /"GET \/politics HTTP\/1\.1" 200 /);
  assert.ok(sidecarLog.includes('outbound|80|cnn|istio-egressgateway.istio-system.svc.cluster.local'), sidecarLog);
  assert.ok(sidecarLog.includes(`127.0.0.1:${gatewayPort}`), sidecarLog);
  const gatewayLog = await logLine(gateway, requestId);
  assert.match(gatewayLog, /"GET \/politics HTTP\/1\.1" 200 /);
  assert.ok(gatewayLog.includes('outbound|80||edition.cnn.com'), gatewayLog);
  // The site's address (`localhost` until its first lookup is in, which takes milliseconds).
  assert.ok(gatewayLog.includes(`"127.0.0.1:${site.port}"`) || gatewayLog.includes(`"${siteAddress}:${site.port}"`), gatewayLog);

  // The gateway's /clusters: edition.cnn.com resolved to its address, one request served.
  const cnn = (await clusters(gateway)).find((c) => c.name === 'outbound|80||edition.cnn.com');
  assert.ok(cnn, 'the gateway has the edition.cnn.com cluster');
  assert.deepEqual(cnn.endpoints.map((e) => [e.address, e.port, e.totalRequests]), [['127.0.0.1', site.port, 1]]);
  // The sidecar has the same cluster, but sent nothing on it.
  const direct = (await clusters(sidecar)).find((c) => c.name === 'outbound|80||edition.cnn.com');
  assert.equal(direct?.endpoints.reduce((n, e) => n + e.totalRequests, 0) ?? 0, 0);

  // Without the gateway the site is out of reach from the sidecar.
  gateway.child.kill('SIGKILL');
  await withTimeout(gateway.exited, 5000, 'the gateway to exit');
  const down = await request(sidecar.port, 'edition.cnn.com', '/politics');
  assert.equal(down.status, 503);
  assert.match(down.body, /connection failure/);
  assert.equal(site.seen.length, 1);
});
