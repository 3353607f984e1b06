import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigController, type ConfigControllerOptions } from './controller.js';
import type { ConfigState } from './store.js';
import { RecordingLogger, drYaml, seYaml, vsYaml } from './testkit.js';

const root = mkdtempSync(join(tmpdir(), 'isthmus-ctl-'));
const open: ConfigController[] = [];
after(() => {
  for (const c of open) c.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
/** A fresh config folder with se.yaml + vs.yaml. */
function setup(): string {
  const d = join(root, `t${n++}`);
  mkdirSync(d);
  writeFileSync(join(d, 'se.yaml'), seYaml('10.0.0.1'));
  writeFileSync(join(d, 'vs.yaml'), vsYaml());
  return d;
}

function controller(d: string, opts: Partial<ConfigControllerOptions> = {}): { c: ConfigController; log: RecordingLogger } {
  const log = new RecordingLogger();
  const c = new ConfigController({
    paths: [d],
    cwd: d,
    proxy: { role: 'sidecar', namespace: 'default', labels: {} },
    logger: log,
    debounceMs: 30,
    ...opts,
  });
  open.push(c);
  return { c, log };
}

async function waitFor(pred: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function endpoints(st: ConfigState | null): string[] {
  return st?.snapshot.clusters.get('outbound|80||reviews.example.com')?.endpoints.map((e) => e.address) ?? [];
}

/** Atomic save, the way editors and `kubectl cp`-style tools do it. */
function atomicWrite(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

test('start applies v1 and logs it; editing a file swaps the snapshot', async () => {
  const d = setup();
  const { c, log } = controller(d);
  const r = c.start();
  assert.equal(r.status, 'applied');
  assert.deepEqual(log.messages(), ['config v1 applied: 1 VirtualService added, 1 ServiceEntry added']);
  const v1 = c.current();
  writeFileSync(join(d, 'se.yaml'), seYaml('10.0.0.2'));
  await waitFor(() => c.current()?.version === 2, 'v2');
  assert.deepEqual(endpoints(c.current()), ['10.0.0.2']);
  assert.deepEqual(endpoints(v1), ['10.0.0.1'], 'a holder of v1 still sees v1');
  assert.equal(log.messages().at(-1), 'config v2 applied: 1 ServiceEntry changed');
  assert.deepEqual(c.counters(), { applied: 2, rejected: 0 });
});

test('an invalid edit keeps the old snapshot, logs file:line, shows in status; fixing it applies again', async () => {
  const d = setup();
  const { c, log } = controller(d);
  c.start();
  const v1 = c.current();
  writeFileSync(join(d, 'vs.yaml'), vsYaml({ timeout: '0s' }));
  await waitFor(() => c.counters().rejected === 1, 'rejection');
  assert.equal(c.current(), v1);
  assert.deepEqual(log.messages('error'), [
    'config rejected: 1 error(s), still serving v1',
    'vs.yaml:11:5: error VirtualService default/reviews: spec.http[0].timeout: duration must be greater than 1ms',
  ]);
  const st = c.status();
  assert.equal(st.version, 1);
  assert.equal(st.inSync, false);
  assert.equal(st.lastRejected?.errorCount, 1);
  assert.equal(st.lastRejected?.diagnostics[0].file, 'vs.yaml');
  assert.equal(st.lastRejected?.diagnostics[0].line, 11);
  assert.deepEqual(st.sources.map((s) => s.path), ['se.yaml', 'vs.yaml']);
  assert.deepEqual(st.watchedDirectories, [d]);
  assert.match(st.appliedAt ?? '', /^\d{4}-\d\d-\d\dT/);

  writeFileSync(join(d, 'vs.yaml'), vsYaml({ timeout: '3s' }));
  await waitFor(() => c.current()?.version === 2, 'fixed config applied');
  assert.equal(log.messages('info').at(-1), 'config v2 applied: 1 VirtualService changed');
  assert.equal(c.status().inSync, true);
  assert.deepEqual(c.counters(), { applied: 2, rejected: 1 });
});

test('deleting a file in a watched folder removes its resources; a new file adds them', async () => {
  const d = setup();
  writeFileSync(join(d, 'dr.yaml'), drYaml(['v1']));
  const { c, log } = controller(d);
  c.start();
  assert.equal(c.current()?.config.destinationRules.length, 1);
  rmSync(join(d, 'dr.yaml'));
  await waitFor(() => c.current()?.version === 2, 'deletion applied');
  assert.equal(c.current()?.config.destinationRules.length, 0);
  assert.equal(log.messages().at(-1), 'config v2 applied: 1 DestinationRule removed');
  mkdirSync(join(d, 'more'));
  writeFileSync(join(d, 'more', 'dr.yaml'), drYaml(['v1', 'v2']));
  await waitFor(() => c.current()?.version === 3, 'new file applied');
  assert.equal(log.messages().at(-1), 'config v3 applied: 1 DestinationRule added');
});

test('atomic rename-replace is picked up, repeatedly', async () => {
  const d = setup();
  const { c } = controller(d, { paths: [join(d, 'se.yaml'), join(d, 'vs.yaml')] });
  c.start();
  atomicWrite(join(d, 'se.yaml'), seYaml('10.0.0.5'));
  await waitFor(() => endpoints(c.current())[0] === '10.0.0.5', 'first rename');
  atomicWrite(join(d, 'se.yaml'), seYaml('10.0.0.6'));
  await waitFor(() => endpoints(c.current())[0] === '10.0.0.6', 'second rename');
  assert.equal(c.current()?.version, 3);
});

test('a burst of 20 writes coalesces into few applies', async () => {
  const d = setup();
  const { c } = controller(d, { debounceMs: 150, maxWaitMs: 5000 });
  c.start();
  for (let i = 1; i <= 20; i++) {
    writeFileSync(join(d, 'se.yaml'), seYaml(`10.0.1.${i}`));
    await sleep(5);
  }
  await waitFor(() => endpoints(c.current())[0] === '10.0.1.20', 'last write applied');
  await sleep(200);
  const applies = c.counters().applied - 1;
  assert.ok(applies >= 1 && applies <= 4, `${applies} applies for 20 writes`);
});

test('rewriting the same content applies nothing', async () => {
  const d = setup();
  const { c, log } = controller(d);
  c.start();
  const v1 = c.current();
  writeFileSync(join(d, 'vs.yaml'), vsYaml());
  atomicWrite(join(d, 'se.yaml'), seYaml('10.0.0.1'));
  await sleep(300);
  assert.equal(c.current(), v1);
  assert.deepEqual(c.counters(), { applied: 1, rejected: 0 });
  assert.equal(log.lines.length, 1);
});

test('a named file that disappears is an error: the last good config keeps serving until it is back', async () => {
  const d = setup();
  const f = join(d, 'vs.yaml');
  const { c, log } = controller(d, { paths: [join(d, 'se.yaml'), f] });
  c.start();
  const v1 = c.current();
  rmSync(f);
  await waitFor(() => c.counters().rejected === 1, 'rejection');
  assert.equal(c.current(), v1);
  assert.ok(log.messages('error').some((m) => m.endsWith('error no such file or directory')), log.messages('error').join('\n'));
  writeFileSync(f, vsYaml({ timeout: '5s' }));
  await waitFor(() => c.current()?.version === 2, 'file back');
});

test('an emptied file (truncated write) is rejected; the rest of the write then applies', async () => {
  const d = setup();
  const { c } = controller(d);
  c.start();
  const v1 = c.current();
  writeFileSync(join(d, 'vs.yaml'), '');
  await waitFor(() => c.counters().rejected === 1, 'empty file rejected');
  assert.equal(c.current(), v1);
  writeFileSync(join(d, 'vs.yaml'), vsYaml({ timeout: '4s' }));
  await waitFor(() => c.current()?.version === 2, 'full write applied');
});

test('an invalid first config is rejected and nothing serves; stdin is a one-shot source', () => {
  const d = setup();
  const { c, log } = controller(d, { paths: ['-'], readStdin: () => vsYaml({ timeout: '0s' }) });
  const r = c.start();
  assert.equal(r.status, 'rejected');
  assert.equal(c.current(), null);
  assert.deepEqual(log.messages('error'), [
    'config rejected: 1 error(s), no config is serving',
    '<stdin>:11:5: error VirtualService default/reviews: spec.http[0].timeout: duration must be greater than 1ms',
  ]);
  assert.equal(c.status().version, 0);
  assert.deepEqual(c.status().watchedDirectories, []);
});

test('diagnostic logging is capped', () => {
  const d = setup();
  const many = Array.from({ length: 5 }, (_, i) => vsYaml({ name: `v${i}`, host: `h${i}.example.com`, timeout: '0s' })).join('---\n');
  writeFileSync(join(d, 'vs.yaml'), many);
  const { c, log } = controller(d, { maxLoggedDiagnostics: 2 });
  c.start();
  assert.deepEqual(log.messages().map((m) => m.slice(0, 24)), [
    'config rejected: 5 error',
    'vs.yaml:11:5: error Virt',
    'vs.yaml:23:5: error Virt',
    '... and 3 more (see /con',
  ]);
});
