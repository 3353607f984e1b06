import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileSnapshot } from '../compile/index.js';
import { formatDiagnostic, type Diagnostic } from '../core/diagnostics.js';
import type { SourceFile } from '../sources/types.js';
import { SnapshotStore, type ApplyResult, type ConfigState } from './store.js';
import { formatChangeSummary } from './summary.js';
import { drYaml, seYaml, vsYaml } from './testkit.js';

const proxy = { role: 'sidecar' as const, namespace: 'default', labels: {} };

function newStore(opts: Partial<ConstructorParameters<typeof SnapshotStore>[0]> = {}): SnapshotStore {
  let t = 1_000;
  return new SnapshotStore({ proxy, clock: () => (t += 1000), ...opts });
}

function applied(r: ApplyResult): ConfigState {
  if (r.status !== 'applied') {
    const ds = r.status === 'rejected' ? r.rejected.diagnostics.map(formatDiagnostic).join('\n') : '';
    assert.fail(`expected applied, got ${r.status}\n${ds}`);
  }
  return r.state;
}

function endpointsOf(state: ConfigState): string[] {
  return state.snapshot.clusters.get('outbound|80||reviews.example.com')?.endpoints.map((e) => e.address) ?? [];
}

const base: SourceFile[] = [
  { path: 'se.yaml', text: seYaml('10.0.0.1') },
  { path: 'vs.yaml', text: vsYaml() },
];

test('first apply: version 1, everything added, state and snapshot frozen', () => {
  const s = newStore();
  assert.equal(s.current(), null);
  const st = applied(s.apply(base));
  assert.equal(st.version, 1);
  assert.equal(s.current(), st);
  assert.equal(formatChangeSummary(st.changes), '1 VirtualService added, 1 ServiceEntry added');
  assert.deepEqual(endpointsOf(st), ['10.0.0.1']);
  assert.deepEqual(st.sources.map((f) => f.path), ['se.yaml', 'vs.yaml']);
  assert.match(st.sources[0].hash, /^[0-9a-f]{64}$/);
  assert.equal(st.appliedAt, 2_000);
  assert.equal(st.resourceCount, 2);
  for (const frozen of [st, st.snapshot, st.config, st.config.virtualServices[0], st.config.virtualServices[0].spec, st.sources[0]]) {
    assert.ok(Object.isFrozen(frozen));
  }
  assert.throws(() => {
    (st as { version: number }).version = 99;
  }, TypeError);
  assert.deepEqual(s.counters(), { applied: 1, rejected: 0, unchanged: 0, partial: 0 });
});

test('invalid change: rejected as a whole, the same state object keeps serving, diagnostics carry file:line', () => {
  const s = newStore();
  const v1 = applied(s.apply(base));
  // The ServiceEntry change is valid, but the VirtualService in the same input is not.
  const r = s.apply([{ path: 'se.yaml', text: seYaml('10.0.0.2') }, { path: 'vs.yaml', text: vsYaml({ timeout: '0s' }) }]);
  assert.equal(r.status, 'rejected');
  assert.ok(r.status === 'rejected');
  assert.equal(r.state, v1);
  assert.equal(s.current(), v1);
  assert.deepEqual(endpointsOf(s.current()!), ['10.0.0.1']);
  assert.equal(r.rejected.errorCount, 1);
  assert.equal(r.rejected.servingVersion, 1);
  assert.equal(r.rejected.at, 3_000);
  assert.deepEqual(r.rejected.diagnostics.map(formatDiagnostic), [
    'vs.yaml:11:5: error VirtualService default/reviews: spec.http[0].timeout: duration must be greater than 1ms',
  ]);
  assert.equal(s.lastRejected(), r.rejected);
  assert.equal(s.inSync(), false);
  assert.deepEqual(s.counters(), { applied: 1, rejected: 1, unchanged: 0, partial: 0 });

  // Fixing it applies again; lastRejected stays for the record, inSync tells it is old news.
  const v2 = applied(s.apply([{ path: 'se.yaml', text: seYaml('10.0.0.2') }, { path: 'vs.yaml', text: vsYaml({ timeout: '2s' }) }]));
  assert.equal(v2.version, 2);
  assert.equal(formatChangeSummary(v2.changes), '1 VirtualService changed, 1 ServiceEntry changed');
  assert.deepEqual(endpointsOf(v2), ['10.0.0.2']);
  assert.equal(s.inSync(), true);
  assert.equal(s.lastRejected(), r.rejected);
});

test('rejections: every kind of error keeps the last good state', () => {
  const readError: Diagnostic = { file: 'gone.yaml', line: 1, column: 1, severity: 'error', kind: '', namespace: '', name: '', path: '', message: 'cannot read file: EACCES', code: 'file-error' };
  const rows: Array<{ name: string; files: SourceFile[]; diags?: Diagnostic[]; expect: RegExp }> = [
    { name: 'YAML syntax', files: [base[0], { path: 'vs.yaml', text: vsYaml() + 'x: [\n' }], expect: /^vs\.yaml:\d+:\d+: error YAML syntax error/ },
    { name: 'schema', files: [base[0], { path: 'vs.yaml', text: vsYaml().replace('hosts: [reviews.example.com]', 'hosts: reviews.example.com') }], expect: /^vs\.yaml:6:\d+: error VirtualService default\/reviews: spec\.hosts/ },
    { name: 'duplicate', files: [...base, { path: 'dup.yaml', text: vsYaml() }], expect: /^dup\.yaml:4:\d+: error VirtualService default\/reviews: metadata\.name: duplicate/ },
    { name: 'source read error', files: base, diags: [readError], expect: /^gone\.yaml:1:1: error cannot read file/ },
    { name: 'file emptied (incomplete write)', files: [base[0], { path: 'vs.yaml', text: '' }], expect: /^vs\.yaml:1:1: error file is empty but the serving config has 1 resource/ },
    { name: 'file emptied to whitespace', files: [base[0], { path: 'vs.yaml', text: '\n  \n' }], expect: /^vs\.yaml:1:1: error file is empty/ },
  ];
  for (const row of rows) {
    const s = newStore();
    const v1 = applied(s.apply(base));
    const r = s.apply(row.files, row.diags);
    assert.equal(r.status, 'rejected', row.name);
    assert.ok(r.status === 'rejected');
    assert.equal(s.current(), v1, row.name);
    assert.ok(r.rejected.diagnostics.some((d) => row.expect.test(formatDiagnostic(d))), `${row.name}: ${r.rejected.diagnostics.map(formatDiagnostic).join('\n')}`);
  }
});

test('the very first input with errors is rejected too: nothing serves', () => {
  const s = newStore();
  const seen: number[] = [];
  s.onReject((rej, serving) => seen.push(rej.servingVersion, serving === null ? -1 : serving.version));
  const r = s.apply([{ path: 'vs.yaml', text: vsYaml({ timeout: '0s' }) }]);
  assert.equal(r.status, 'rejected');
  assert.equal(s.current(), null);
  assert.deepEqual(seen, [0, -1]);
});

test('unchanged input is not applied twice; a rejected input repeated is not re-reported; reverting to it is', () => {
  const s = newStore();
  const v1 = applied(s.apply(base));
  assert.deepEqual(s.apply(base), { status: 'unchanged', state: v1 });
  const bad: SourceFile[] = [base[0], { path: 'vs.yaml', text: vsYaml({ timeout: '0s' }) }];
  assert.equal(s.apply(bad).status, 'rejected');
  assert.equal(s.apply(bad).status, 'unchanged');
  applied(s.apply(base));
  assert.equal(s.apply(bad).status, 'rejected');
  assert.deepEqual(s.counters(), { applied: 2, rejected: 2, unchanged: 2, partial: 0 });
});

test('change summary per kind', () => {
  const rows: Array<{ name: string; before: SourceFile[]; after: SourceFile[]; expect: string }> = [
    {
      name: 'two VS changed, one DR added',
      before: [{ path: 'a.yaml', text: vsYaml({ name: 'a' }) + '---\n' + vsYaml({ name: 'b', host: 'b.example.com' }) }],
      after: [
        { path: 'a.yaml', text: vsYaml({ name: 'a', timeout: '1s' }) + '---\n' + vsYaml({ name: 'b', host: 'b.example.com', timeout: '2s' }) },
        { path: 'dr.yaml', text: drYaml(['v1']) },
      ],
      expect: '2 VirtualServices changed, 1 DestinationRule added',
    },
    {
      name: 'removed with its file',
      before: [...base, { path: 'dr.yaml', text: drYaml(['v1']) }],
      after: base,
      expect: '1 DestinationRule removed',
    },
    {
      name: 'added, changed and removed of one kind',
      before: [{ path: 'v.yaml', text: vsYaml({ name: 'a' }) + '---\n' + vsYaml({ name: 'b', host: 'b.example.com' }) }],
      after: [{ path: 'v.yaml', text: vsYaml({ name: 'a', timeout: '1s' }) + '---\n' + vsYaml({ name: 'c', host: 'c.example.com' }) }],
      expect: '1 VirtualService added, 1 VirtualService changed, 1 VirtualService removed',
    },
    {
      name: 'moved to another file, keys re-ordered, comment added: no resource change',
      before: [{ path: 'a.yaml', text: drYaml(['v1', 'v2']) }],
      after: [{ path: 'b.yaml', text: '# moved\n' + drYaml(['v1', 'v2']).replace('  host: reviews.example.com\n', '') + '  host: reviews.example.com\n' }],
      expect: 'no resource changes',
    },
    {
      name: 'subset order is a change (arrays are ordered)',
      before: [{ path: 'a.yaml', text: drYaml(['v1', 'v2']) }],
      after: [{ path: 'a.yaml', text: drYaml(['v2', 'v1']) }],
      expect: '1 DestinationRule changed',
    },
  ];
  for (const row of rows) {
    const s = newStore();
    applied(s.apply(row.before));
    const st = applied(s.apply(row.after));
    assert.equal(st.version, 2, row.name);
    assert.equal(formatChangeSummary(st.changes), row.expect, row.name);
  }
});

test('a request holding the old state keeps it, unchanged, after a swap', () => {
  const s = newStore();
  const held = applied(s.apply(base));
  const heldSnapshot = held.snapshot;
  const next = applied(s.apply([{ path: 'se.yaml', text: seYaml('10.9.9.9') }, base[1]]));
  assert.notEqual(next.snapshot, heldSnapshot);
  assert.equal(held.snapshot, heldSnapshot);
  assert.equal(held.version, 1);
  assert.deepEqual(endpointsOf(held), ['10.0.0.1']);
  assert.deepEqual(endpointsOf(next), ['10.9.9.9']);
  const cluster = held.snapshot.clusters.get('outbound|80||reviews.example.com')!;
  assert.throws(() => {
    (cluster.endpoints[0] as { address: string }).address = '6.6.6.6';
  }, TypeError);
});

test('an emptied file is fine when it had no resources, and a comment-only file removes them', () => {
  const s = newStore();
  applied(s.apply([...base, { path: 'new.yaml', text: '' }]));
  const st = applied(s.apply([base[0], { path: 'vs.yaml', text: '# routes removed on purpose\n' }, { path: 'new.yaml', text: '' }]));
  assert.equal(formatChangeSummary(st.changes), '1 VirtualService removed');
});

test('per-resource mode drops the broken resource and applies the rest', () => {
  const s = newStore({ mode: 'per-resource' });
  applied(s.apply([...base, { path: 'dr.yaml', text: drYaml(['v1']) }]));
  const r = s.apply([{ path: 'se.yaml', text: seYaml('10.0.0.2') }, { path: 'vs.yaml', text: vsYaml({ timeout: '0s' }) }, { path: 'dr.yaml', text: drYaml(['v1', 'v2']) }]);
  assert.equal(r.status, 'applied');
  assert.ok(r.status === 'applied');
  assert.equal(r.droppedErrors, 1);
  assert.equal(formatChangeSummary(r.changes), '1 VirtualService removed, 1 DestinationRule changed, 1 ServiceEntry changed');
  assert.deepEqual(endpointsOf(r.state), ['10.0.0.2']);
  assert.ok(r.state.diagnostics.some((d) => d.severity === 'error' && d.file === 'vs.yaml' && d.line === 11));
  assert.deepEqual(s.counters(), { applied: 2, rejected: 0, unchanged: 0, partial: 1 });
});

test('a compiler exception rejects the input instead of escaping', () => {
  let boom = false;
  const s = newStore({
    compile: (...args) => {
      if (boom) throw new Error('kaboom');
      return compileSnapshot(...args);
    },
  });
  const v1 = applied(s.apply(base));
  boom = true;
  const r = s.apply([{ path: 'se.yaml', text: seYaml('10.0.0.2') }, base[1]]);
  assert.equal(r.status, 'rejected');
  assert.ok(r.status === 'rejected');
  assert.equal(s.current(), v1);
  assert.match(formatDiagnostic(r.rejected.diagnostics[0]), /error cannot compile the config: kaboom/);
});

test('listeners: called after the swap; one throwing does not stop the others or undo the swap', () => {
  const s = newStore();
  const calls: string[] = [];
  s.onChange((st, changes) => calls.push(`a v${st.version} ${changes.total} current=${s.current() === st}`));
  s.onChange(() => {
    throw new Error('listener bug');
  });
  const off = s.onChange((st) => calls.push(`c v${st.version}`));
  assert.throws(() => s.apply(base), /listener bug/);
  assert.equal(s.current()?.version, 1);
  assert.deepEqual(calls, ['a v1 2 current=true', 'c v1']);
  off();
  assert.throws(() => s.apply([{ path: 'se.yaml', text: seYaml('10.0.0.3') }, base[1]]), /listener bug/);
  assert.deepEqual(calls, ['a v1 2 current=true', 'c v1', 'a v2 1 current=true']);
});

test('resources without a namespace take the configured one (default: the proxy namespace)', () => {
  assert.equal(applied(newStore().apply(base)).config.virtualServices[0].meta.namespace, 'default');
  assert.equal(applied(newStore({ namespace: 'shop' }).apply(base)).config.virtualServices[0].meta.namespace, 'shop');
});

test('a reload re-parses only changed files; unchanged ones keep their documents, and load order is renumbered', () => {
  const s = newStore();
  const a = { path: 'a.yaml', text: vsYaml({ name: 'a', host: 'a.example.com' }) };
  const b = { path: 'b.yaml', text: vsYaml({ name: 'b', host: 'b.example.com' }) };
  const v1 = applied(s.apply([base[0], a, b]));
  const rawB1 = v1.config.virtualServices.find((v) => v.meta.name === 'b')!;
  // a.yaml grows by one resource: b's documents are re-used, its load order moves by one.
  const a2 = { path: 'a.yaml', text: a.text + '---\n' + vsYaml({ name: 'a2', host: 'a2.example.com' }) };
  const v2 = applied(s.apply([base[0], a2, b]));
  const rawB2 = v2.config.virtualServices.find((v) => v.meta.name === 'b')!;
  assert.equal(rawB2.raw, rawB1.raw, 'b.yaml was not parsed again');
  assert.equal(rawB2.seq, rawB1.seq + 1, 'load order renumbered as a fresh load would');
  assert.equal(formatChangeSummary(v2.changes), '1 VirtualService added');
  // An unchanged file's diagnostics still count: a broken file stays broken on the next edit.
  const bad = { path: 'bad.yaml', text: vsYaml({ name: 'bad', host: 'bad.example.com', timeout: '0s' }) };
  assert.equal(s.apply([base[0], a2, b, bad]).status, 'rejected');
  assert.equal(s.apply([base[0], a, b, bad]).status, 'rejected');
});
