/**
 * What `isthmus demo` prints once the mesh is up: what runs where (with readiness per
 * listener), the dashboard URL, and one numbered step per feature, each with commands to run
 * as printed (lines starting with `$`) and what they show (lines starting with `→`).
 * Pure: the same ports give the same text, so docs/demo.md and test/demo.test.ts can rely on it.
 */
import type { ListenerState } from './mesh.js';

/** Ports and paths the text needs. */
export interface GuideInfo {
  gatewayPort: number;
  adminPort: number;
  /** Sidecar (outbound) port per workload: productpage-v1, details-v1, reviews-v1..v3, ratings-v1. */
  sidecars: Readonly<Record<string, number>>;
  /** Application port per workload (the same names, plus books-external). */
  apps: Readonly<Record<string, number>>;
  configPath: string;
  accessLogPath: string;
  /** Where the config was copied from (shown, not used). */
  sourceDir: string;
  /** Background requests per second (`--load`), 0 = none. */
  load?: number;
}

/** One feature: a heading, commands, and the expected outcome. */
export interface GuideStep {
  title: string;
  /** Lines before the commands (why, which rule). */
  about: string[];
  /** Commands and expectations, in order: `$ cmd` or `→ what you see`. */
  lines: string[];
}

/** The feature steps, numbered from 1 in this order. */
export function guideSteps(g: GuideInfo): GuideStep[] {
  const gw = `http://127.0.0.1:${g.gatewayPort}`;
  const side = (w: string): string => `http://127.0.0.1:${port(g.sidecars, w)}`;
  const ratingsCtl = `http://127.0.0.1:${port(g.apps, 'ratings-v1')}/control`;
  const vs = `${g.configPath}/virtual-services.yaml`;
  return [
    {
      title: 'Routing by header: the user jason always gets reviews v2 (black stars)',
      about: ['VirtualService bookinfo/reviews, route "jason" (match on the end-user header, which productpage passes on).'],
      lines: [`$ curl -s -H 'end-user: jason' ${gw}/productpage`, '→ "reviews v2: black stars", every time'],
    },
    {
      title: 'A 75/25 canary: everyone else gets reviews v1 (no stars) or v3 (red stars)',
      about: ['VirtualService bookinfo/reviews, route "canary": weights 75 and 25, picked per request by reviews\' caller, productpage\'s sidecar.'],
      lines: [`$ for i in $(seq 100); do curl -s ${gw}/productpage | grep -o 'reviews v[123]'; done | sort | uniq -c`, '→ about 75 "reviews v1" and 25 "reviews v3"'],
    },
    {
      title: 'Shift the weights by editing a file (hot reload)',
      about: [`Edit ${vs} in any editor, or run:`],
      lines: [
        `$ sed -i.bak 's/weight: 75/weight: 50/; s/weight: 25/weight: 50/' ${vs}`,
        '→ this window prints "config v2 applied: 1 VirtualService changed"; step 2 now shows about 50/50',
        '→ a broken edit is rejected with file:line:col here, and the last good config keeps serving',
      ],
    },
    {
      title: 'Fault injection for one user: details fails with 500 for the user tester only',
      about: ['VirtualService bookinfo/details, route "fault-for-tester": productpage\'s sidecar answers 500 itself; details never sees the request.'],
      lines: [`$ curl -s -H 'end-user: tester' ${gw}/productpage`, '→ "details: unavailable (500 fault filter abort ...)"; without the header details answers'],
    },
    {
      title: 'A timeout: calls to details time out after 1 s',
      about: ['VirtualService bookinfo/details, route "default": timeout 1s. Ask details to take 3 s (?delay=3s), calling it as productpage does:'],
      lines: [`$ curl -s -o /dev/null -w '%{http_code} after %{time_total} s\\n' -x ${side('productpage-v1')} 'http://details:9080/details/0?delay=3s'`, '→ "504 after 1.0... s": upstream request timeout, from productpage\'s sidecar'],
    },
    {
      title: 'Retries hide a flaky service: ratings fails every second request, callers never see it',
      about: ['VirtualService bookinfo/ratings: retries (attempts 3, on 5xx). Make ratings flaky, call it ten times as reviews v2 does, see what ratings itself served, then heal it:'],
      lines: [
        `$ curl -s -X POST '${ratingsCtl}?reset&fail=0.5'`,
        `$ for i in $(seq 10); do curl -s -o /dev/null -w '%{http_code} ' -x ${side('reviews-v2')} http://ratings:9080/ratings/0; done; echo`,
        '→ ten times 200: each failure was retried by reviews v2\'s sidecar',
        `$ curl -s ${ratingsCtl}`,
        '→ ratings "served" 19 requests and "failed" 9 of them',
        `$ curl -s -X POST '${ratingsCtl}?reset'`,
      ],
    },
    {
      title: 'The circuit breaker trips: ratings takes 1 connection and 1 waiting request per caller',
      about: ['DestinationRule bookinfo/ratings: connectionPool maxConnections 1, http1MaxPendingRequests 1. Send six slow (200 ms) requests at once:'],
      lines: [
        `$ for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code}\\n' -x ${side('reviews-v2')} 'http://ratings:9080/ratings/0?delay=200ms' & done; wait`,
        '→ two 200s; the other four get 503 at once (flag UO, header x-envoy-overloaded: true)',
        `$ curl -s http://127.0.0.1:${g.adminPort}/stats/prometheus | grep 'upstream_rq_pending_overflow{.*ratings'`,
        '→ the overflow counter of the ratings cluster',
      ],
    },
    {
      title: 'A ServiceEntry for an external host: details looks books up at books.example.com',
      about: ['ServiceEntry bookinfo/books-api (MESH_EXTERNAL): a host outside the mesh, reached through details\' sidecar:'],
      lines: [`$ curl -s -x ${side('details-v1')} http://books.example.com/books/0`, '→ the external API\'s JSON (productpage shows "from books.example.com")'],
    },
    {
      title: 'A Sidecar limits egress: details may call books.example.com and nothing else',
      about: ['Sidecar bookinfo/details: egress ./books.example.com only, outboundTrafficPolicy REGISTRY_ONLY. details calling ratings is blocked; productpage calling ratings is not:'],
      lines: [
        `$ curl -s -o /dev/null -w '%{http_code}\\n' -x ${side('details-v1')} http://ratings:9080/ratings/0`,
        '→ 502 (BlackHoleCluster)',
        `$ curl -s -o /dev/null -w '%{http_code}\\n' -x ${side('productpage-v1')} http://ratings:9080/ratings/0`,
        '→ 200',
      ],
    },
  ];
}

/** The whole text printed after start. */
export function renderGuide(g: GuideInfo, listeners: readonly ListenerState[]): string {
  const out: string[] = [];
  const ready = listeners.every((l) => l.ready);
  out.push(`Isthmus demo: Bookinfo with an ingress gateway and ${Object.keys(g.sidecars).length} sidecars, all in this process.`);
  out.push('');
  out.push(`Listeners (${ready ? 'all ready' : 'NOT all ready: see below'}):`);
  const w = Math.max(...listeners.map((l) => l.what.length));
  for (const l of listeners) out.push(`  ${l.what.padEnd(w)}  ${`${l.address}:${l.port}`.padEnd(16)} ${l.ready ? 'ready' : 'NOT READY'}`);
  out.push('');
  out.push(`Dashboard:   http://127.0.0.1:${g.adminPort}/ui   (admin: /clusters /stats/prometheus /config_dump)`);
  out.push(
    g.load
      ? `Traffic:     ${g.load} request(s)/s to the front door (--load); counts in steps 6 and 7 include it`
      : 'Traffic:     none until you send some (step 2 sends 100 requests; or start the demo with --load 5)',
  );
  out.push(`Front door:  http://127.0.0.1:${g.gatewayPort}/productpage`);
  out.push(`Config:      ${g.configPath}   (a copy of ${g.sourceDir}; edit it: changes apply live)`);
  out.push(`Access log:  ${g.accessLogPath}   (every proxy, Istio's format)`);
  out.push('');
  out.push('Try it (run each $ line as it is, in another terminal):');
  for (const [i, s] of guideSteps(g).entries()) {
    out.push('');
    out.push(`${String(i + 1).padStart(2)}. ${s.title}`);
    for (const a of s.about) out.push(`    ${a}`);
    for (const l of s.lines) out.push(`    ${l}`);
  }
  out.push('');
  out.push('Slow or failing services: add ?delay=2s or ?status=503 to a request (it travels through the mesh),');
  out.push('or POST /control?delay=2s&fail=0.5 on an application port above (GET /control reads it, ?reset clears it).');
  out.push('');
  out.push('Ctrl-C stops everything.');
  return out.join('\n');
}

function port(map: Readonly<Record<string, number>>, name: string): number {
  const p = map[name];
  if (p === undefined) throw new Error(`no port for ${name}`);
  return p;
}
