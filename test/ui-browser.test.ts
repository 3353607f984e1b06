/**
 * End-to-end browser test of the dashboard: a real Chromium (Debian's `chromium` package,
 * driven by playwright-core) loads /ui while traffic flows through two sidecars that share one
 * dashboard (the way `isthmus demo` shows the whole mesh), sees a graph node for every
 * service version and edges with non-zero rates, runs the explain form, and saves a
 * screenshot to test-artifacts/ui.png.
 *
 * Skips, saying why, when playwright-core is not installed or no Chromium can be started.
 * Chromium: $ISTHMUS_CHROMIUM, else the usual Debian/Ubuntu paths (`apt-get install chromium`).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { request, serviceEntry, startUpstream, type Upstream } from './support/mesh.js';
import { REPO_ROOT, configDir, startRuntime, type ConfigDir, type RuntimeHandle } from './support/harness.js';
import { AdminServer } from '../src/admin/server.js';
import { createDashboard } from '../src/admin/ui/index.js';

/** The slice of playwright-core's API used here (it is loaded dynamically: an optional dependency). */
interface Page {
  goto(url: string): Promise<unknown>;
  evaluate<T>(fn: () => T): Promise<T>;
  fill(selector: string, value: string): Promise<void>;
  click(selector: string): Promise<void>;
  textContent(selector: string): Promise<string | null>;
  screenshot(opts: { path: string; fullPage: boolean }): Promise<unknown>;
  on(event: 'pageerror', fn: (e: Error) => void): void;
}
interface Browser {
  newPage(opts: { viewport: { width: number; height: number } }): Promise<Page>;
  close(): Promise<void>;
}
interface PlaywrightCore {
  chromium: { launch(opts: { executablePath: string; headless: boolean; args: string[]; timeout: number }): Promise<Browser> };
}

/** What the test reads from the page (one evaluate per poll). */
interface DomView {
  nodes: string[];
  edges: Array<{ id: string; rps: number }>;
  stats: string[];
  weights: string[];
  status: string;
  splits: string;
  clusters: string;
  config: string;
  explain: string;
}

/**
 * Reads the rendered page. A function, not a string: the page's Content-Security-Policy
 * forbids eval, which Playwright uses for string expressions. No named inner functions
 * (the TypeScript loader would add helpers the page does not have).
 */
function readDom(page: Page): Promise<DomView> {
  return page.evaluate(() => {
    const doc = (globalThis as unknown as { document: any }).document;
    return {
      nodes: Array.from(doc.querySelectorAll('g.node')).map((g: any) => g.getAttribute('data-node-id')),
      edges: Array.from(doc.querySelectorAll('g.edge')).map((g: any) => ({ id: g.getAttribute('data-edge'), rps: Number(g.getAttribute('data-rps') || 0) })),
      stats: Array.from(doc.querySelectorAll('g.edge text.stats')).map((x: any) => x.textContent),
      weights: Array.from(doc.querySelectorAll('g.edge text.weight')).map((x: any) => x.textContent),
      status: doc.getElementById('status').textContent,
      splits: doc.getElementById('splits').textContent,
      clusters: doc.getElementById('clusters').textContent,
      config: doc.getElementById('config').textContent,
      explain: doc.getElementById('explain-out').textContent,
    };
  });
}

/** Polls the page until `pred` holds; fails with what was last seen. */
async function until(page: Page, timeoutMs: number, what: string, pred: (d: DomView) => boolean): Promise<DomView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await readDom(page);
    if (pred(d)) return d;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; the page showed: ${JSON.stringify(d).slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const CHROMIUM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/lib/chromium/chromium', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

async function loadPlaywright(): Promise<{ pw: PlaywrightCore } | { skip: string }> {
  const name = 'playwright-core'; // a variable: the type checker must not require the package
  try {
    return { pw: (await import(name)) as PlaywrightCore };
  } catch (e) {
    return { skip: `playwright-core cannot be loaded (${(e as Error).message.split('\n')[0]}); add it as a devDependency to run the browser test` };
  }
}

function findChromium(): string | null {
  const env = process.env.ISTHMUS_CHROMIUM;
  if (env) return existsSync(env) ? env : null;
  return CHROMIUM_PATHS.find((p) => existsSync(p)) ?? null;
}

const loaded = await loadPlaywright();
const chromiumPath = findChromium();
const skipReason =
  'skip' in loaded
    ? loaded.skip
    : chromiumPath === null
      ? `no Chromium found (${process.env.ISTHMUS_CHROMIUM ? `ISTHMUS_CHROMIUM=${process.env.ISTHMUS_CHROMIUM} does not exist` : `looked at ${CHROMIUM_PATHS.join(', ')}`}); install it with \`apt-get install chromium\` or set ISTHMUS_CHROMIUM`
      : null;

const VERSIONS = ['details-v1', 'ratings-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3'];
const ups = new Map<string, Upstream>();
let cfg: ConfigDir;
let productpage: RuntimeHandle;
let reviewsV2: RuntimeHandle;
let admin: AdminServer;
let adminPort = 0;

function mesh(): string {
  const ep = (w: string) => {
    const [app, version] = w.split('-');
    return { port: (ups.get(w) as Upstream).port, labels: { app, version } };
  };
  return (
    serviceEntry('details', 'default', 9080, [ep('details-v1')]) +
    serviceEntry('ratings', 'default', 9080, [ep('ratings-v1')]) +
    serviceEntry('reviews', 'default', 9080, [ep('reviews-v1'), ep('reviews-v2'), ep('reviews-v3')]) +
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - name: jason
    match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - name: canary
    route:
    - {destination: {host: reviews, subset: v1}, weight: 75}
    - {destination: {host: reviews, subset: v3}, weight: 25}
`
  );
}

/** productpage calls details and reviews (jason on every third request); reviews v2 calls ratings. */
function traffic(): { stop(): Promise<void> } {
  let running = true;
  const loop = async (i: number): Promise<void> => {
    for (let n = 0; running; n++) {
      await request(productpage.port, 'reviews:9080', '/reviews/1', { headers: n % 3 === i ? { 'end-user': 'jason' } : {} });
      await request(productpage.port, 'details:9080', '/details/1');
      await request(reviewsV2.port, 'ratings:9080', '/ratings/1');
      await new Promise((r) => setTimeout(r, 10));
    }
  };
  const loops = [loop(0), loop(1)];
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

before(async () => {
  if (skipReason) return;
  for (const w of VERSIONS) ups.set(w, await startUpstream(w));
  cfg = configDir();
  cfg.write('mesh.yaml', mesh());
  productpage = await startRuntime([cfg.dir], { labels: { app: 'productpage', version: 'v1' }, accessLog: false, adminPort: null });
  reviewsV2 = await startRuntime([cfg.dir], { labels: { app: 'reviews', version: 'v2' }, accessLog: false, adminPort: null });
  // One dashboard over both proxies, as `isthmus demo` mounts it.
  const dashboard = createDashboard(() => [productpage.rt.dashboardSource(), reviewsV2.rt.dashboardSource()]);
  admin = new AdminServer(productpage.rt.adminSource(), { dashboard });
  adminPort = await admin.listen(0);
});

after(async () => {
  await admin?.close();
  await productpage?.close();
  await reviewsV2?.close();
  cfg?.cleanup();
  for (const u of ups.values()) await u.close();
});

test('Chromium shows the live mesh graph, rates and the explain result; screenshot saved', { skip: skipReason ?? false, timeout: 60_000 }, async (t) => {
  const { pw } = loaded as { pw: PlaywrightCore };
  let browser: Browser;
  try {
    browser = await pw.chromium.launch({ executablePath: chromiumPath as string, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30_000 });
  } catch (e) {
    t.skip(`Chromium at ${chromiumPath} could not be started: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  t.after(() => browser.close());
  const load = traffic();
  t.after(() => load.stop());
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`http://127.0.0.1:${adminPort}/ui`);

  // A node for each service version and proxy, and non-zero rates on the edges the traffic
  // takes (rates need two samples, so a second or two).
  const wanted = ['default/productpage-v1', ...VERSIONS.map((w) => `default/${w}`)];
  const busy = ['default/productpage-v1 -> default/reviews-v1', 'default/productpage-v1 -> default/reviews-v2', 'default/productpage-v1 -> default/details-v1', 'default/reviews-v2 -> default/ratings-v1'];
  const seen = await until(page, 20_000, 'a node per version and busy edges with rates', (d) =>
    wanted.every((id) => d.nodes.includes(id)) && busy.every((id) => (d.edges.find((e) => e.id === id)?.rps ?? 0) > 0));
  assert.ok(seen.stats.some((l) => /^[0-9.]+ rps · [0-9.]+% err · p99 [0-9.]+ms$/.test(l) && !l.startsWith('0.00 ')), seen.stats.join(' | '));
  assert.ok(seen.weights.includes('w 75%') && seen.weights.includes('w 25%'), seen.weights.join(' | '));
  assert.equal(seen.status, 'live');
  assert.match(seen.splits, /default\/reviews http\[1\] "canary"/);
  assert.match(seen.clusters, /outbound\|9080\|v1\|reviews\.default\.svc\.cluster\.local/);
  assert.match(seen.config, /v1 in sync with the files/);

  await page.fill('#explain-url', 'http://reviews:9080/reviews/1');
  await page.fill('#explain-headers', 'end-user: jason');
  await page.click('#explain-form button[type=submit]');
  const explained = await until(page, 10_000, 'the explain result', (d) => /Result: +route/.test(d.explain));
  assert.match(explained.explain, /subset v2/);

  const dir = join(REPO_ROOT, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  const shot = join(dir, 'ui.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 10_000, 'a real screenshot was written');
  assert.deepEqual(pageErrors, [], 'no script errors in the page');
});
