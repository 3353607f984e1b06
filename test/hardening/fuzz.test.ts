/**
 * Property-based fuzzing of the config pipeline (issue #8 point 6; reliability-security.md
 * §3.7): loader (`loadText`) -> validator (`validateResources`) -> registry
 * (`buildRegistry`) -> compiler (`compileSnapshot`, sidecar and gateway), and the
 * SnapshotStore that runs them under `isthmus run`. Whatever the input — arbitrary bytes,
 * YAML-ish token soup, cut and spliced real config, valid resources mutated into wrong types,
 * missing fields, huge numbers, unicode and deep nesting — the pipeline returns diagnostics
 * and never throws; every diagnostic is well formed; a rejected input never touches the
 * serving snapshot.
 *
 * The seed corpus (corpus/*.yaml, Envoy's style) is replayed first, with the expectations in
 * each file's header comments:
 *   `# expect: clean`            no error diagnostic (the pipeline compiles it)
 *   `# expect: errors`           at least one error diagnostic
 *   `# expect-error: <regex>`    some error diagnostic's message matches (one line each)
 * Add every input a property run finds there.
 *
 * fast-check runs with a fixed, printed seed (`ISTHMUS_FUZZ_SEED` overrides it) and a bounded
 * number of runs (`ISTHMUS_FUZZ_RUNS` multiplies them for a longer local session).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parseAllDocuments, stringify } from 'yaml';
import { loadText } from '../../src/api/load.js';
import { validateResources } from '../../src/validate/index.js';
import { buildRegistry } from '../../src/registry/build.js';
import { compileSnapshot } from '../../src/compile/index.js';
import { SnapshotStore } from '../../src/controlplane/store.js';
import type { Diagnostic } from '../../src/core/diagnostics.js';
import type { ProxyIdentity } from '../../src/snapshot/types.js';

const CORPUS = fileURLToPath(new URL('./corpus/', import.meta.url));
const SEED = Number(process.env.ISTHMUS_FUZZ_SEED ?? 20_260_808);
const SCALE = Math.max(1, Number(process.env.ISTHMUS_FUZZ_RUNS ?? 1));
const runs = (n: number): number => Math.round(n * SCALE);

const PROXIES: readonly ProxyIdentity[] = [
  { role: 'sidecar', namespace: 'default', labels: { app: 'ratings' } },
  { role: 'gateway', namespace: 'default', labels: { istio: 'ingressgateway' } },
];

/** The whole pipeline on one file's text; returns every diagnostic (throws only on a bug). */
function pipeline(text: string): Diagnostic[] {
  const loaded = loadText(text, 'fuzz.yaml', { namespace: 'default' });
  const v = validateResources(loaded.resources);
  const registry = buildRegistry(v.config, { domain: 'cluster.local' });
  for (const p of PROXIES) {
    const snap = compileSnapshot(v.config, registry, p);
    if (!Object.isFrozen(snap)) throw new Error('the snapshot is not frozen');
  }
  return [...loaded.diagnostics, ...v.diagnostics];
}

/** A diagnostic a user can act on: a position, a severity, a message. */
function checkDiagnostics(ds: readonly Diagnostic[]): void {
  for (const d of ds) {
    const ok =
      typeof d.file === 'string' && Number.isInteger(d.line) && d.line >= 1 && Number.isInteger(d.column) && d.column >= 1 &&
      (d.severity === 'error' || d.severity === 'warning') && typeof d.message === 'string' && d.message.trim() !== '' && typeof d.path === 'string';
    if (!ok) throw new Error(`malformed diagnostic: ${JSON.stringify(d)}`);
  }
}

/** Runs `pipeline` and the diagnostic check; a throw names the input (and saves it for the corpus). */
function survive(text: string): Diagnostic[] {
  try {
    const ds = pipeline(text);
    checkDiagnostics(ds);
    return ds;
  } catch (e) {
    const file = join(tmpdir(), `isthmus-fuzz-${process.pid}-${Date.now()}.yaml`);
    writeFileSync(file, text);
    throw new Error(`the config pipeline threw on an input saved to ${file} (add it to test/hardening/corpus/): ${(e as Error).stack ?? String(e)}`);
  }
}

const corpusFiles = readdirSync(CORPUS).filter((f) => f.endsWith('.yaml')).sort();
const corpusText = (f: string): string => readFileSync(join(CORPUS, f), 'utf8');

test('seed corpus replays: every file gives its expected diagnostics, never a throw, in under 2 s', { timeout: 60_000 }, () => {
  assert.ok(corpusFiles.length >= 10, `only ${corpusFiles.length} corpus files`);
  for (const f of corpusFiles) {
    const text = corpusText(f);
    const header = text.replace(/^\ufeff/, '').split(/\r?\n/).filter((l) => l.startsWith('#'));
    const expect = header.find((l) => /^# expect: (clean|errors)$/.test(l))?.slice('# expect: '.length);
    assert.ok(expect, `${f}: no "# expect: clean|errors" line`);
    const t0 = performance.now();
    const ds = survive(text);
    const ms = performance.now() - t0;
    const errors = ds.filter((d) => d.severity === 'error');
    if (expect === 'clean') assert.deepEqual(errors.map((d) => `${d.line}:${d.column} ${d.path} ${d.message}`), [], f);
    else assert.ok(errors.length > 0, `${f}: expected errors, got none`);
    for (const l of header.filter((x) => x.startsWith('# expect-error: '))) {
      const re = new RegExp(l.slice('# expect-error: '.length));
      assert.ok(errors.some((d) => re.test(d.message)), `${f}: no error matches ${re}: ${errors.map((d) => d.message).join(' | ')}`);
    }
    assert.ok(ms < 2000, `${f}: took ${ms.toFixed(0)} ms`);
  }
});

// ------------------------------------------------------------------------ arbitraries

/** Fragments of Istio YAML and YAML syntax, glued at random. */
const TOKENS = [
  'apiVersion: networking.istio.io/v1', 'apiVersion: networking.istio.io/v1alpha3', 'kind: VirtualService', 'kind: DestinationRule',
  'kind: Gateway', 'kind: ServiceEntry', 'kind: Sidecar', 'kind: WorkloadEntry', 'kind: List', 'items:', 'metadata:', 'name: a',
  'namespace: ns', 'spec:', 'hosts:', 'host: a', 'http:', 'tcp:', 'tls:', 'route:', 'destination:', 'subset: v1', 'weight: 50',
  'match:', 'uri:', 'prefix: /', 'regex: "(a+)+$"', 'headers:', 'subsets:', 'labels:', 'ports:', 'number: 80', 'protocol: HTTP',
  'endpoints:', 'address: 1.2.3.4', 'resolution: DNS', 'servers:', 'selector:', 'egress:', 'timeout: 1s', 'retries:',
  'attempts: 3', 'trafficPolicy:', 'loadBalancer:', 'simple: ROUND_ROBIN', 'delegate:', 'gateways: [mesh]', 'exportTo: ["*"]',
];
const SYNTAX = [
  '\n', '\n  ', '\n    ', '\n- ', '\n  - ', '- ', ': ', ', ', '[', ']', '{', '}', '---\n', '...\n', '&a ', '*a', '<<: ', '!!str ',
  '!!map ', '!!seq ', '!!binary ', '!x ', '? ', '|\n', '>\n', '"', "'", '#', '%YAML 1.2\n', '\t', '\r\n', '\r', '\\', '@', '`',
  '~', 'null', 'true', 'no', '0x1F', '1e999', '.nan', '-.inf', '0o17', '__proto__: ', 'constructor: ', '\u00a0', '\ufeff', '\u2028',
];
const yamlish = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...TOKENS) },
      { weight: 3, arbitrary: fc.constantFrom(...SYNTAX) },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 8 }) },
    ),
    { maxLength: 80 },
  )
  .map((parts) => parts.join(''));

/** Any bytes, decoded as UTF-8 the way the file source reads them. */
const bytes = fc.uint8Array({ maxLength: 400 }).map((u) => Buffer.from(u).toString('utf8'));

const seedText = corpusText('valid-full-mesh.yaml');
/** The valid corpus file with a span cut out, something spliced in, and maybe its end lost. */
const spliced = fc
  .tuple(fc.nat(), fc.nat({ max: 200 }), fc.string({ maxLength: 8 }), fc.nat({ max: 400 }), fc.boolean())
  .map(([at, len, insert, lose, truncate]) => {
    const i = at % seedText.length;
    const s = seedText.slice(0, i) + insert + seedText.slice(Math.min(seedText.length, i + len));
    return truncate ? s.slice(0, Math.max(0, s.length - lose)) : s;
  });

const seedDocs: unknown[] = parseAllDocuments(seedText).map((d) => d.toJS() as unknown);
type Path = Array<string | number>;

/** Every path into a JSON value (the root excluded). */
function paths(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  if (at.length) out.push(at);
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) paths((v as Record<string, unknown>)[k], [...at, k], out);
  return out;
}

function getAt(root: unknown, p: Path): unknown {
  let o = root;
  for (const k of p) o = (o as Record<string | number, unknown>)?.[k];
  return o;
}

/** `root` with the value at `p` replaced (or deleted when `value` is the DELETE marker). */
const DELETE = Symbol('delete');
function setAt(root: unknown, p: Path, value: unknown): unknown {
  const copy = structuredClone(root);
  const parent = getAt(copy, p.slice(0, -1)) as Record<string | number, unknown> | unknown[];
  const last = p[p.length - 1];
  if (value === DELETE) {
    if (Array.isArray(parent)) parent.splice(last as number, 1);
    else delete parent[last];
  } else (parent as Record<string | number, unknown>)[last] = value;
  return copy;
}

/** Values of the wrong type, the wrong size, or the wrong script. */
const hostile: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    null, true, false, 0, -1, 1.5, 2 ** 31, 2 ** 32, 2 ** 53, 1e308, -1e308, Infinity, -Infinity, NaN, '', ' ', '0', '-1', '10ms', '-5s',
    '99999999999d', '1.5h', '*', '.', '..', '/', '//', '*.', '*.*', 'a..b', '[::1]', '::1', '0.0.0.0/0', '1.2.3.4/33', '\u202e', '\ud83d\ude00',
    'x'.repeat(300), 'GET', 'HTTP', 'TLS', 'GRPC', 'UNKNOWN', 'DNS', 'NONE', '(a+)+$', '[', '\\', 'no', 'on', '~', '__proto__', [], {},
  ),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.string({ maxLength: 6 }), fc.integer()), { maxKeys: 3 }),
  // Nesting up to 300 deep (deeper is the corpus's job: it stops at the parser).
  fc.integer({ min: 1, max: 300 }).map((depth) => {
    let v: unknown = 'x';
    for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
    return v;
  }),
);

/**
 * The valid corpus's documents with 1-4 mutations: a value replaced by a hostile one, a
 * field deleted, or a value copied from elsewhere in the same resource (right shape, wrong
 * place). Serialized as YAML or as JSON (both are accepted config formats).
 */
const mutated = fc
  .tuple(fc.array(fc.tuple(fc.nat(), fc.nat(), hostile, fc.constantFrom('replace', 'delete', 'copy')), { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([mutations, asJson]) => {
    const docs = seedDocs.map((d) => structuredClone(d));
    for (const [di, pi, value, how] of mutations) {
      const i = di % docs.length;
      const ps = paths(docs[i]);
      const p = ps[pi % ps.length];
      const v = how === 'delete' ? DELETE : how === 'copy' ? structuredClone(getAt(docs[i], ps[(pi * 7 + 3) % ps.length])) : value;
      docs[i] = setAt(docs[i], p, v);
    }
    return docs.map((d) => (asJson ? JSON.stringify(d) : stringify(d))).join('\n---\n');
  });

const params = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns: runs(numRuns), endOnFailure: true });

// ------------------------------------------------------------------------- properties

test(`arbitrary text (bytes, unicode, YAML-ish token soup, spliced real config) gives diagnostics, never a throw (seed ${SEED})`, { timeout: 60_000 }, (t) => {
  t.diagnostic(`fast-check seed ${SEED} (ISTHMUS_FUZZ_SEED to replay, ISTHMUS_FUZZ_RUNS to scale)`);
  let slowest = 0;
  const timed = (text: string): void => {
    const t0 = performance.now();
    survive(text);
    slowest = Math.max(slowest, performance.now() - t0);
  };
  fc.assert(fc.property(bytes, timed), params(300));
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), timed), params(300));
  fc.assert(fc.property(yamlish, timed), params(400));
  fc.assert(fc.property(spliced, timed), params(40));
  t.diagnostic(`slowest input: ${slowest.toFixed(0)} ms`);
  assert.ok(slowest < 2000, `one input took ${slowest.toFixed(0)} ms`);
});

test(`mutated Istio resources (wrong types, missing fields, huge numbers, unicode, deep nesting) give diagnostics, never a throw (seed ${SEED})`, { timeout: 60_000 }, (t) => {
  t.diagnostic(`fast-check seed ${SEED}`);
  let clean = 0;
  fc.assert(
    fc.property(mutated, (text) => {
      if (!survive(text).some((d) => d.severity === 'error')) clean++;
    }),
    params(100),
  );
  // Some mutations must stay valid (the compiler ran on them, not only the validator).
  t.diagnostic(`${clean} of ${runs(100)} mutated configs were still valid and compiled`);
  assert.ok(clean > 0, 'no mutated config got past validation: the compiler was never exercised');
});

test(`the SnapshotStore never throws and never lets a rejected input touch the serving snapshot (seed ${SEED})`, { timeout: 60_000 }, (t) => {
  t.diagnostic(`fast-check seed ${SEED}`);
  const proxy = PROXIES[0];
  fc.assert(
    fc.property(fc.oneof(mutated, spliced, yamlish), (text) => {
      const store = new SnapshotStore({ proxy, clock: () => 0 });
      const first = store.apply([{ path: 'mesh.yaml', text: seedText }]);
      assert.equal(first.status, 'applied');
      const serving = store.current();
      const r = store.apply([{ path: 'mesh.yaml', text }]);
      if (r.status === 'rejected') {
        assert.equal(store.current(), serving, 'a rejected input replaced the serving state');
        assert.ok(r.rejected.errorCount > 0 && r.rejected.diagnostics.length > 0);
        checkDiagnostics(r.rejected.diagnostics);
        assert.equal(store.inSync(), false);
      } else if (r.status === 'applied') {
        assert.equal(r.state.version, 2);
        assert.ok(Object.isFrozen(r.state.snapshot));
        assert.ok(!r.state.diagnostics.some((d) => d.severity === 'error'));
      }
    }),
    params(40),
  );
});
