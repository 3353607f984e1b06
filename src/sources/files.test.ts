import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileSource, type FileSourceOptions } from './files.js';
import type { SourceUpdate } from './types.js';

const root = mkdtempSync(join(tmpdir(), 'isthmus-files-'));
const open: FileSource[] = [];
after(() => {
  for (const s of open) s.close();
  rmSync(root, { recursive: true, force: true });
});

let n = 0;
function freshDir(): string {
  const d = join(root, `t${n++}`);
  mkdirSync(d);
  return d;
}

function source(paths: string[], opts: FileSourceOptions = {}): FileSource {
  const s = new FileSource(paths, { debounceMs: 30, ...opts });
  open.push(s);
  return s;
}

/** Polls until `pred` holds; fails after `ms` (generous: a loaded 2-core box). */
async function waitFor(pred: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function record(s: FileSource): SourceUpdate[] {
  const seen: SourceUpdate[] = [];
  s.onUpdate((u) => seen.push(u));
  return seen;
}

const texts = (u: SourceUpdate): Record<string, string> => Object.fromEntries(u.files.map((f) => [f.path, f.text]));

test('initial set: argument order, folders sorted and recursive, dot names and other extensions skipped, duplicates once', () => {
  const d = freshDir();
  mkdirSync(join(d, 'cfg', 'sub'), { recursive: true });
  mkdirSync(join(d, 'cfg', '.git'));
  writeFileSync(join(d, 'cfg', 'b.yaml'), 'b');
  writeFileSync(join(d, 'cfg', 'a.json'), 'a');
  writeFileSync(join(d, 'cfg', 'sub', 'c.yml'), 'c');
  writeFileSync(join(d, 'cfg', '.git', 'x.yaml'), 'hidden');
  writeFileSync(join(d, 'cfg', 'notes.txt'), 'not config');
  writeFileSync(join(d, 'top.yaml'), 'top');
  const s = source([join(d, 'top.yaml'), join(d, 'cfg'), join(d, 'cfg', 'b.yaml'), '-'], { cwd: d, readStdin: () => 'from stdin' });
  const u = s.start();
  assert.deepEqual(u.files.map((f) => [f.path, f.text]), [
    ['top.yaml', 'top'],
    [join('cfg', 'a.json'), 'a'],
    [join('cfg', 'b.yaml'), 'b'],
    [join('cfg', 'sub', 'c.yml'), 'c'],
    ['<stdin>', 'from stdin'],
  ]);
  assert.deepEqual(u.diagnostics, []);
  assert.deepEqual(s.watchedDirectories(), [d, join(d, 'cfg'), join(d, 'cfg', 'sub')].sort());
});

test('read problems are diagnostics, never exceptions', () => {
  const d = freshDir();
  const s = source([join(d, 'missing.yaml'), '-'], {
    cwd: d,
    readStdin: () => {
      throw new Error('stdin closed');
    },
  });
  const u = s.start();
  assert.deepEqual(u.files, []);
  assert.deepEqual(u.diagnostics.map((x) => [x.severity, x.message]), [
    ['error', 'no such file or directory'],
    ['error', 'cannot read stdin: stdin closed'],
  ]);
});

test('unchanged content is suppressed; changed content is emitted', () => {
  const d = freshDir();
  writeFileSync(join(d, 'a.yaml'), 'one');
  const s = source([d], { watch: false });
  const seen = record(s);
  s.start();
  writeFileSync(join(d, 'a.yaml'), 'one');
  assert.equal(s.rescan(), null);
  writeFileSync(join(d, 'a.yaml'), 'two');
  const u = s.rescan();
  assert.ok(u);
  assert.deepEqual(u.files.map((f) => f.text), ['two']);
  assert.equal(seen.length, 1);
  assert.deepEqual(s.watchedDirectories(), []);
});

test('watched folder: edits, new files, new sub-folders and deletions are seen', async () => {
  const d = freshDir();
  writeFileSync(join(d, 'a.yaml'), 'a1');
  const s = source([d], { cwd: d });
  const seen = record(s);
  s.start();
  const last = (): Record<string, string> => (seen.length ? texts(seen[seen.length - 1]) : {});

  writeFileSync(join(d, 'a.yaml'), 'a2');
  await waitFor(() => last()['a.yaml'] === 'a2', 'edit');

  writeFileSync(join(d, 'b.yaml'), 'b1');
  await waitFor(() => last()['b.yaml'] === 'b1', 'new file');

  mkdirSync(join(d, 'sub'));
  await waitFor(() => s.watchedDirectories().includes(join(d, 'sub')), 'new folder watched');
  writeFileSync(join(d, 'sub', 'c.yaml'), 'c1');
  await waitFor(() => last()[join('sub', 'c.yaml')] === 'c1', 'file in new folder');
  writeFileSync(join(d, 'sub', 'c.yaml'), 'c2');
  await waitFor(() => last()[join('sub', 'c.yaml')] === 'c2', 'edit in new folder');

  rmSync(join(d, 'b.yaml'));
  await waitFor(() => !('b.yaml' in last()), 'deletion');
  rmSync(join(d, 'sub'), { recursive: true });
  await waitFor(() => !s.watchedDirectories().includes(join(d, 'sub')) && !(join('sub', 'c.yaml') in last()), 'folder removal');
  assert.deepEqual(last(), { 'a.yaml': 'a2' });
});

test('a directly named file survives atomic rename-replace (twice) and delete + recreate', async () => {
  const d = freshDir();
  const f = join(d, 'vs.yaml');
  writeFileSync(f, 'v1');
  const s = source([f], { cwd: d });
  const seen = record(s);
  s.start();
  const last = (): Record<string, string> => (seen.length ? texts(seen[seen.length - 1]) : {});
  for (const v of ['v2', 'v3']) {
    writeFileSync(join(d, `.vs.yaml.${v}.tmp`), v);
    renameSync(join(d, `.vs.yaml.${v}.tmp`), f);
    await waitFor(() => last()['vs.yaml'] === v, `rename-replace ${v}`);
  }
  rmSync(f);
  await waitFor(() => seen.length > 0 && seen[seen.length - 1].diagnostics.some((x) => x.message === 'no such file or directory'), 'missing named file reported');
  writeFileSync(f, 'v4');
  await waitFor(() => last()['vs.yaml'] === 'v4' && seen[seen.length - 1].diagnostics.length === 0, 'recreated');
});

test('a Kubernetes ConfigMap-style `..data` symlink swap is seen', async () => {
  const d = freshDir();
  mkdirSync(join(d, '..v1'));
  writeFileSync(join(d, '..v1', 'vs.yaml'), 'cm1');
  symlinkSync('..v1', join(d, '..data'));
  symlinkSync(join('..data', 'vs.yaml'), join(d, 'vs.yaml'));
  const s = source([d], { cwd: d });
  const seen = record(s);
  assert.deepEqual(texts(s.start()), { 'vs.yaml': 'cm1' });
  // What the kubelet does: new timestamped folder, new link, rename over `..data`.
  mkdirSync(join(d, '..v2'));
  writeFileSync(join(d, '..v2', 'vs.yaml'), 'cm2');
  symlinkSync('..v2', join(d, '..data_tmp'));
  renameSync(join(d, '..data_tmp'), join(d, '..data'));
  rmSync(join(d, '..v1'), { recursive: true });
  await waitFor(() => seen.length > 0 && texts(seen[seen.length - 1])['vs.yaml'] === 'cm2', 'swap seen');
});

test('a burst of writes coalesces into few updates, ending with the last content', async () => {
  const d = freshDir();
  const f = join(d, 'a.yaml');
  writeFileSync(f, 'w0');
  const s = source([d], { debounceMs: 150, maxWaitMs: 5000 });
  const seen = record(s);
  s.start();
  for (let i = 1; i <= 20; i++) {
    writeFileSync(f, `w${i}`);
    await sleep(5);
  }
  await waitFor(() => seen.length > 0 && seen[seen.length - 1].files[0].text === 'w20', 'last write');
  await sleep(200);
  // Without the debounce this would be ~20 updates; gaps stretched by a loaded machine may add one or two.
  assert.ok(seen.length <= 4, `${seen.length} updates for 20 writes`);
});

test('maxWait: a continuous stream of writes still produces updates', async () => {
  const d = freshDir();
  const f = join(d, 'a.yaml');
  writeFileSync(f, 's0');
  const s = source([d], { debounceMs: 100, maxWaitMs: 150 });
  const seen = record(s);
  s.start();
  const until = Date.now() + 700;
  for (let i = 1; Date.now() < until; i++) {
    writeFileSync(f, `s${i}`);
    await sleep(20);
  }
  // Writes never pause for 100 ms, so only maxWait can have flushed.
  assert.ok(seen.length >= 1, 'no update during a continuous stream');
});

test('a watch error is reported, does not crash, and the watch is re-armed', async () => {
  const d = freshDir();
  writeFileSync(join(d, 'a.yaml'), 'a1');
  const errors: string[] = [];
  const s = source([d], { onError: (e) => errors.push(e.message) });
  const seen = record(s);
  s.start();
  const internals = s as unknown as { watchers: Map<string, { handle: FSWatcher }> };
  const first = internals.watchers.get(d)?.handle;
  assert.ok(first);
  first.emit('error', new Error('inotify went away'));
  assert.deepEqual(errors, [`watch on ${d} failed: inotify went away`]);
  await waitFor(() => internals.watchers.get(d) !== undefined && internals.watchers.get(d)?.handle !== first, 're-armed');
  writeFileSync(join(d, 'a.yaml'), 'a2');
  await waitFor(() => seen.length > 0 && seen[seen.length - 1].files[0].text === 'a2', 'edit after re-arm');
});

test('close releases every watch and stops updates', async () => {
  const d = freshDir();
  writeFileSync(join(d, 'a.yaml'), 'a1');
  const s = source([d]);
  const seen = record(s);
  s.start();
  assert.equal(s.watchedDirectories().length, 1);
  s.close();
  s.close();
  assert.equal(s.closed, true);
  assert.deepEqual(s.watchedDirectories(), []);
  writeFileSync(join(d, 'a.yaml'), 'a2');
  await sleep(100);
  assert.equal(s.rescan(), null);
  assert.equal(seen.length, 0);
});

test('stdin alone is read once and nothing is watched', () => {
  let reads = 0;
  const s = source(['-'], { readStdin: () => `doc ${++reads}` });
  const u = s.start();
  assert.deepEqual(texts(u), { '<stdin>': 'doc 1' });
  assert.deepEqual(s.watchedDirectories(), []);
  assert.equal(s.rescan(), null);
  assert.equal(reads, 1);
});
