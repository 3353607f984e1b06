/**
 * End-to-end browser test of the dashboard during the demo: the real `isthmus demo` (a child
 * process on free ports, with `--load` background traffic through the ingress gateway) prints
 * its dashboard URL; a real Chromium (Debian's `chromium` package, driven by playwright-core)
 * loads that /ui, sees a graph node for the gateway and every service version (productpage,
 * details, reviews v1/v2/v3, ratings) and non-zero rates on the edges the traffic takes, runs
 * the explain form, and saves a screenshot to test-artifacts/ui.png. Then Ctrl-C (SIGINT)
 * must stop the demo with exit 0.
 *
 * Skips, saying why, when playwright-core is not installed or no Chromium can be started.
 * Chromium: $ISTHMUS_CHROMIUM, else the usual Debian/Ubuntu paths (`apt-get install chromium`).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, waitFor, withTimeout } from './support/harness.js';

/** The slice of playwright-core's API used here (it is loaded dynamically: an optional dependency). */
interface Page {
  goto(url: string): Promise<unknown>;
  evaluate<T>(fn: () => T): Promise<T>;
  fill(selector: string, value: string): Promise<void>;
  selectOption(selector: string, value: string): Promise<unknown>;
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
  proxies: Array<{ value: string; text: string }>;
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
      proxies: Array.from(doc.querySelectorAll('#explain-source option')).map((o: any) => ({ value: o.value, text: o.textContent })),
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

/** The demo's workloads, as graph node ids (`namespace/workload`). */
const NODES = ['istio-system/istio-ingressgateway', ...['productpage-v1', 'details-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1'].map((w) => `bookinfo/${w}`)];
/**
 * Edges the `--load` traffic takes: gateway -> productpage -> details and reviews (75/25 v1/v3
 * canary; every fourth request is jason's, routed to v2), and reviews v2/v3 -> ratings.
 */
const BUSY = [
  'istio-system/istio-ingressgateway -> bookinfo/productpage-v1',
  'bookinfo/productpage-v1 -> bookinfo/details-v1',
  'bookinfo/productpage-v1 -> bookinfo/reviews-v1',
  'bookinfo/productpage-v1 -> bookinfo/reviews-v2',
  'bookinfo/productpage-v1 -> bookinfo/reviews-v3',
  'bookinfo/reviews-v2 -> bookinfo/ratings-v1',
  'bookinfo/reviews-v3 -> bookinfo/ratings-v1',
];

interface Demo {
  child: ChildProcess;
  out: () => string;
  err: () => string;
  exited: Promise<number | null>;
}

let demo: Demo | null = null;

/** `isthmus demo` on free ports with background traffic, as a user would start it (`npm start -- --load 20`). */
function startDemo(): Demo {
  const args = ['--gateway-port', '0', '--admin-port', '0', '--sidecar-ports', '0', '--service-ports', '0', '--load', '20'];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo', ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, out: () => out, err: () => err, exited };
}

after(async () => {
  // Only if the test did not get as far as stopping it (a failed assertion): do not leak it.
  if (demo && demo.child.exitCode === null && demo.child.signalCode === null) {
    demo.child.kill('SIGKILL');
    await withTimeout(demo.exited, 5_000, 'the demo to die').catch(() => undefined);
  }
});

test('Chromium shows the live mesh graph of `isthmus demo` under load: a node per service version, busy edges with rates, explain; screenshot saved; Ctrl-C exits 0', { skip: skipReason ?? false, timeout: 60_000 }, async (t) => {
  const { pw } = loaded as { pw: PlaywrightCore };
  // The demo and the browser start in parallel: each takes seconds on a busy machine.
  const d = (demo = startDemo());
  let browser: Browser;
  try {
    browser = await pw.chromium.launch({ executablePath: chromiumPath as string, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'], timeout: 30_000 });
  } catch (e) {
    t.skip(`Chromium at ${chromiumPath} could not be started: ${(e as Error).message.split('\n')[0]}`);
    return;
  }
  t.after(() => browser.close());

  await waitFor('the demo to print its guide', () => d.out().includes('Ctrl-C stops everything.') || d.child.exitCode !== null, 30_000, 50);
  const text = d.out();
  assert.equal(d.child.exitCode, null, `the demo is running\n${text}\n${d.err()}`);
  assert.match(text, /Traffic: +20 request\(s\)\/s/, 'the demo says it is sending traffic');
  const url = /Dashboard: +(http:\/\/127\.0\.0\.1:\d+\/ui)\b/.exec(text)?.[1];
  assert.ok(url, `the dashboard URL is printed\n${text}`);

  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(url);

  // Rates need two samples over the live stream, so a few seconds.
  const seen = await until(page, 25_000, 'a node per service version and busy edges with rates', (v) =>
    NODES.every((id) => v.nodes.includes(id)) && BUSY.every((id) => (v.edges.find((e) => e.id === id)?.rps ?? 0) > 0));
  assert.ok(seen.stats.some((l) => /^[0-9.]+ rps · [0-9.]+% err · p99 [0-9.]+ms$/.test(l) && !l.startsWith('0.00 ')), seen.stats.join(' | '));
  assert.ok(seen.weights.includes('w 75%') && seen.weights.includes('w 25%'), seen.weights.join(' | '));
  assert.equal(seen.status, 'live');
  assert.match(seen.splits, /bookinfo\/reviews http\[1\] "canary"/);
  assert.match(seen.clusters, /outbound\|9080\|v1\|reviews\.bookinfo\.svc\.cluster\.local/);
  assert.match(seen.config, /v1 in sync with the files/);

  // Explain from productpage's sidecar: jason's request for reviews goes to v2.
  const productpage = seen.proxies.find((p) => /productpage/.test(p.text));
  assert.ok(productpage, `productpage's sidecar is a proxy to explain from: ${JSON.stringify(seen.proxies)}`);
  await page.selectOption('#explain-source', productpage.value);
  await page.fill('#explain-url', 'http://reviews:9080/reviews/1');
  await page.fill('#explain-headers', 'end-user: jason');
  await page.click('#explain-form button[type=submit]');
  const explained = await until(page, 10_000, 'the explain result', (v) => /Result: +route/.test(v.explain));
  assert.match(explained.explain, /subset v2/);

  const dir = join(REPO_ROOT, 'test-artifacts');
  mkdirSync(dir, { recursive: true });
  const shot = join(dir, 'ui.png');
  await page.screenshot({ path: shot, fullPage: true });
  assert.ok(statSync(shot).size > 10_000, 'a real screenshot was written');
  assert.deepEqual(pageErrors, [], 'no script errors in the page');

  // Ctrl-C stops the whole demo cleanly, with the dashboard's live stream still open.
  d.child.kill('SIGINT');
  assert.equal(await withTimeout(d.exited, 15_000, 'the demo to exit after SIGINT'), 0, d.err());
  assert.match(d.out(), /demo stopped/);
});
