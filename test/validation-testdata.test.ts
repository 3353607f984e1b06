/**
 * Istio's own validation vectors and sample configs (../shared/istio), run through the full
 * pipeline (load → structural → semantic): every `*-valid.yaml` document is accepted,
 * every `*-invalid.yaml` document is rejected for the reason in its `_err` field, and
 * every networking sample validates without errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadText } from '../src/api/load.js';
import type { RawResource } from '../src/api/resource.js';
import { validateOne } from '../src/validate/index.js';
import type { Finding } from '../src/validate/finding.js';
import { formatPath } from '../src/core/diagnostics.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const shared = path.resolve(repoRoot, '..', 'shared');
const testdata = path.join(shared, 'istio', 'validation-testdata');
const samples = path.join(shared, 'istio', 'samples');
const skipTestdata = !existsSync(testdata) && 'shared/istio/validation-testdata not present';
const skipSamples = !existsSync(samples) && 'shared/istio/samples not present';

/** The same resource without the test-only `_err` field (raw is a plain object: copy, then drop). */
function withoutErr(r: RawResource): { raw: RawResource; err?: string } {
  const { _err, ...rest } = r.raw as Record<string, unknown> & { _err?: unknown };
  return { raw: { ...r, raw: rest }, err: _err === undefined ? undefined : String(_err) };
}

function show(fs: readonly Finding[]): string {
  return fs.map((f) => `  ${f.severity ?? 'error'} ${formatPath(f.path)}: ${f.message}`).join('\n') || '  (none)';
}

const errorsOf = (fs: readonly Finding[]) => fs.filter((f) => (f.severity ?? 'error') === 'error');

/**
 * Does one of our errors say what `_err` says? `_err` is kubectl's `path: reason`
 * (`spec.hosts: Required value`) or just the reason; we match the reason text, and the path
 * when one is given (a finding at or below that path counts).
 */
function explains(errors: readonly Finding[], expected: string): boolean {
  const m = /^(spec(?:\.[\w.]+)?): (.*)$/.exec(expected);
  const wantPath = m ? m[1] : undefined;
  const reason = (m ? m[2] : expected).trim();
  return errors.some((e) => {
    const p = formatPath(e.path);
    const pathOk = wantPath === undefined || p === wantPath || p.startsWith(`${wantPath}.`) || p.startsWith(`${wantPath}[`);
    const reasonOk =
      e.message.includes(reason) ||
      // kubectl's generic reasons vs our more specific wording of the same thing.
      (reason === 'Invalid value' && /invalid|must be|greater than/i.test(e.message)) ||
      (reason === 'Duplicate value' && /Duplicate value|already defined/.test(e.message));
    return pathOk && reasonOk;
  });
}

function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const n of readdirSync(dir).sort()) {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(n)) out.push(p);
  }
  return out;
}

function load(file: string): RawResource[] {
  const r = loadText(readFileSync(file, 'utf8'), path.relative(shared, file), { namespace: 'default' });
  return r.resources;
}

const vectorFiles = existsSync(testdata) ? readdirSync(testdata).filter((n) => /-(valid|invalid)\.yaml$/.test(n)).sort() : [];

test('validation-testdata: the vector files are there', { skip: skipTestdata }, () => {
  assert.ok(vectorFiles.some((n) => n.endsWith('-valid.yaml')));
  assert.ok(vectorFiles.some((n) => n.endsWith('-invalid.yaml')));
});

for (const name of vectorFiles) {
  const wantValid = name.endsWith('-valid.yaml');
  test(`validation-testdata: ${name}`, { skip: skipTestdata }, () => {
    const text = readFileSync(path.join(testdata, name), 'utf8');
    const loaded = loadText(text, name, { namespace: 'default' });
    // Every document is an Istio kind; a loader problem would hide a vector.
    assert.deepEqual(loaded.diagnostics.filter((d) => d.severity === 'error'), [], `${name}: loader errors`);
    assert.ok(loaded.resources.length > 0, `${name}: no documents`);
    for (const res of loaded.resources) {
      const { raw, err } = withoutErr(res);
      const label = `${name} ${raw.kind} ${raw.meta.name}`;
      const { findings } = validateOne(raw);
      const errors = errorsOf(findings);
      if (wantValid) {
        assert.equal(errors.length, 0, `${label}: expected accepted, got:\n${show(findings)}`);
      } else {
        assert.ok(errors.length > 0, `${label}: expected rejected (${err ?? 'no _err'}), got:\n${show(findings)}`);
        if (err !== undefined) {
          assert.ok(explains(errors, err), `${label}: expected a reason like ${JSON.stringify(err)}, got:\n${show(errors)}`);
        }
      }
    }
  });
}

const NETWORKING_KINDS = new Set(['VirtualService', 'DestinationRule', 'Gateway', 'ServiceEntry', 'Sidecar', 'WorkloadEntry']);

test('samples: every Istio networking resource validates without errors', { skip: skipSamples }, () => {
  let checked = 0;
  for (const file of yamlFiles(samples)) {
    // Non-Istio kinds are skipped by the loader (with warnings only).
    for (const res of load(file).filter((r) => NETWORKING_KINDS.has(r.kind))) {
      const { findings } = validateOne(res);
      assert.equal(errorsOf(findings).length, 0, `${path.relative(samples, file)} ${res.kind} ${res.meta.name}:\n${show(findings)}`);
      checked++;
    }
  }
  // bookinfo alone has dozens; guards against the loader silently finding nothing.
  assert.ok(checked >= 30, `only ${checked} networking resources found under samples/`);
});

test('samples: the loader reports no errors for sample files (non-Istio kinds only warn)', { skip: skipSamples }, () => {
  for (const file of yamlFiles(samples)) {
    const r = loadText(readFileSync(file, 'utf8'), file, { namespace: 'default' });
    const errs = r.diagnostics.filter((d) => d.severity === 'error');
    assert.deepEqual(errs, [], path.relative(samples, file));
  }
});
