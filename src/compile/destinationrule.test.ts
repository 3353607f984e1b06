import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadText } from '../api/load.js';
import type { DestinationRule } from '../api/types.js';
import { validateResources } from '../validate/index.js';
import { findDestinationRule, indexDestinationRules, type EffectiveDestinationRule } from './destinationrule.js';

const OPTS = { domain: 'cluster.local', rootNamespace: 'istio-system' };
const REVIEWS = { hostname: 'reviews.bookinfo.svc.cluster.local', namespace: 'bookinfo' };

/** YAML documents -> validated DestinationRules (fails loudly on any rejection). */
function rules(yaml: string): DestinationRule[] {
  const loaded = loadText(yaml, 'test.yaml', { namespace: 'default' });
  assert.deepEqual(loaded.diagnostics, []);
  const v = validateResources(loaded.resources);
  const errors = v.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.name}: ${d.path}: ${d.message}`);
  assert.deepEqual(errors, []);
  return v.config.destinationRules;
}

/** One DestinationRule document. */
function dr(name: string, ns: string, host: string, extra = ''): string {
  return `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec:
  host: "${host}"
${extra.endsWith('\n') || extra === '' ? extra : `${extra}\n`}`;
}

function who(r: EffectiveDestinationRule | null): string | null {
  return r === null ? null : `${r.scope} ${r.sources.map((s) => `${s.namespace}/${s.name}`).join('+')}`;
}

const CLIENT = { namespace: 'client', labels: { app: 'productpage' } };
const CLIENT_DR = dr('c', 'client', 'reviews.bookinfo.svc.cluster.local');
const SVC_DR = dr('s', 'bookinfo', 'reviews');
const ROOT_DR = dr('r', 'istio-system', '*.svc.cluster.local');

void test('precedence: client namespace > service namespace > root namespace', () => {
  const rows: Array<[string, string | null]> = [
    [CLIENT_DR + SVC_DR + ROOT_DR, 'client-namespace client/c'],
    [SVC_DR + ROOT_DR, 'service-namespace bookinfo/s'],
    [ROOT_DR, 'root-namespace istio-system/r'],
    [dr('other', 'elsewhere', 'reviews.bookinfo.svc.cluster.local'), null],
    ['', null],
  ];
  for (const [yaml, want] of rows) {
    const got = yaml === '' ? null : findDestinationRule(rules(yaml), CLIENT, REVIEWS, OPTS);
    assert.equal(who(got), want, want ?? 'none');
  }
});

void test('exportTo decides visibility outside the rule namespace', () => {
  const rows: Array<[string, string | null]> = [
    [dr('s', 'bookinfo', 'reviews', '  exportTo: ["."]') + ROOT_DR, 'root-namespace istio-system/r'],
    [dr('s', 'bookinfo', 'reviews', '  exportTo: [client]') + ROOT_DR, 'service-namespace bookinfo/s'],
    [dr('s', 'bookinfo', 'reviews', '  exportTo: ["*"]'), 'service-namespace bookinfo/s'],
    [dr('s', 'bookinfo', 'reviews', '  exportTo: [other]'), null],
    [dr('r', 'istio-system', '*.svc.cluster.local', '  exportTo: [other]'), null],
    [dr('r', 'istio-system', '*.svc.cluster.local', '  exportTo: ["."]'), null],
    // A rule in the client namespace exported only elsewhere is not visible at home either.
    [dr('c', 'client', 'reviews.bookinfo.svc.cluster.local', '  exportTo: [other]') + SVC_DR, 'service-namespace bookinfo/s'],
    [dr('c', 'client', 'reviews.bookinfo.svc.cluster.local', '  exportTo: ["."]') + SVC_DR, 'client-namespace client/c'],
    [dr('c', 'client', 'reviews.bookinfo.svc.cluster.local', '  exportTo: [client, other]') + SVC_DR, 'client-namespace client/c'],
  ];
  for (const [yaml, want] of rows) assert.equal(who(findDestinationRule(rules(yaml), CLIENT, REVIEWS, OPTS)), want, yaml);
});

void test('most specific host wins inside a scope; short names resolve against the rule namespace', () => {
  const rows: Array<[string, string | null]> = [
    [dr('w1', 'client', '*.svc.cluster.local') + dr('exact', 'client', 'reviews.bookinfo.svc.cluster.local') + dr('w2', 'client', '*.bookinfo.svc.cluster.local'), 'client-namespace client/exact'],
    [dr('w1', 'client', '*.svc.cluster.local') + dr('w2', 'client', '*.bookinfo.svc.cluster.local'), 'client-namespace client/w2'],
    [dr('w0', 'client', '*') + dr('w1', 'client', '*.svc.cluster.local'), 'client-namespace client/w1'],
    [dr('w0', 'client', '*'), 'client-namespace client/w0'],
    // `reviews` in the client namespace means reviews.client.svc.cluster.local
    [dr('short', 'client', 'reviews') + SVC_DR, 'service-namespace bookinfo/s'],
    // `reviews.bookinfo` is not expanded and matches nothing
    [dr('dotted', 'bookinfo', 'reviews.bookinfo'), null],
    [dr('upper', 'bookinfo', 'Reviews.Bookinfo.svc.cluster.local'), 'service-namespace bookinfo/upper'],
  ];
  for (const [yaml, want] of rows) assert.equal(who(findDestinationRule(rules(yaml), CLIENT, REVIEWS, OPTS)), want, yaml);
});

void test('the host is chosen before exportTo filtering (Istio): a hidden exact rule shadows a visible wildcard', () => {
  const yaml = dr('exact', 'bookinfo', 'reviews', '  exportTo: [other]') + dr('wild', 'bookinfo', '*.bookinfo.svc.cluster.local') + ROOT_DR;
  assert.equal(who(findDestinationRule(rules(yaml), CLIENT, REVIEWS, OPTS)), 'root-namespace istio-system/r');
  // the exact rule is used by the namespace it is exported to
  assert.equal(who(findDestinationRule(rules(yaml), { namespace: 'other', labels: {} }, REVIEWS, OPTS)), 'service-namespace bookinfo/exact');
});

void test('workloadSelector rules apply only to selected clients of their namespace and beat namespace-wide rules', () => {
  const sel = dr('sel', 'client', 'reviews.bookinfo.svc.cluster.local', '  workloadSelector: {matchLabels: {app: productpage}}\n  exportTo: ["."]');
  const plain = dr('plain', 'client', 'reviews.bookinfo.svc.cluster.local');
  const rows: Array<[string, Record<string, string>, string, string | null]> = [
    [plain + sel, { app: 'productpage', version: 'v1' }, 'client', 'client-namespace client/sel'],
    [plain + sel, { app: 'other' }, 'client', 'client-namespace client/plain'],
    [sel + SVC_DR, { app: 'productpage' }, 'client', 'client-namespace client/sel'],
    // Istio settles on the host first: a selector rule not selecting the client leaves it with none.
    [sel + SVC_DR, { app: 'other' }, 'client', null],
    // clients in another namespace never see a selector rule
    [sel + SVC_DR, { app: 'productpage' }, 'elsewhere', 'service-namespace bookinfo/s'],
  ];
  for (const [yaml, labels, ns, want] of rows) {
    assert.equal(who(findDestinationRule(rules(yaml), { namespace: ns, labels }, REVIEWS, OPTS)), want, `${ns} ${JSON.stringify(labels)}`);
  }
  const r = findDestinationRule(rules(plain + sel), CLIENT, REVIEWS, OPTS)!;
  assert.deepEqual(r.workloadSelector, { app: 'productpage' });
});

const SUBSETS = (names: string[]) => `  subsets:\n${names.map((n) => `  - {name: ${n}, labels: {version: ${n}}}`).join('\n')}\n`;

void test('same-host rules in one scope merge: subsets appended, duplicates dropped, oldest trafficPolicy wins', () => {
  const a = dr('a', 'bookinfo', 'reviews', `  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n${SUBSETS(['v1', 'v2'])}`);
  const b = dr('b', 'bookinfo', 'reviews.bookinfo.svc.cluster.local', `  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n${SUBSETS(['v2', 'v3'])}`);
  const c = dr('c', 'bookinfo', 'reviews', SUBSETS(['v4']));
  const r = findDestinationRule(rules(c + a + b), CLIENT, REVIEWS, OPTS)!;
  assert.equal(who(r), 'service-namespace bookinfo/c+bookinfo/a+bookinfo/b');
  assert.deepEqual(r.subsets.map((s) => `${s.name}@${s.source.name}:${s.labels.version}`), ['v4@c:v4', 'v1@a:v1', 'v2@a:v2', 'v3@b:v3']);
  assert.deepEqual(r.trafficPolicy, { loadBalancer: { simple: 'ROUND_ROBIN' } });
  assert.equal(r.trafficPolicySource?.name, 'a');
  assert.equal(r.notes.length, 1);
  assert.match(r.notes[0], /duplicate subset v2/);
});

void test('merge order follows creationTimestamp when both rules have one', () => {
  const a = dr('a', 'bookinfo', 'reviews', `  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n${SUBSETS(['v1'])}`)
    .replace('namespace: bookinfo}', 'namespace: bookinfo, creationTimestamp: "2024-06-01T00:00:00Z"}');
  const b = dr('b', 'bookinfo', 'reviews', `  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n${SUBSETS(['v1', 'v2'])}`)
    .replace('namespace: bookinfo}', 'namespace: bookinfo, creationTimestamp: "2024-01-01T00:00:00Z"}');
  const r = findDestinationRule(rules(a + b), CLIENT, REVIEWS, OPTS)!;
  assert.deepEqual(r.sources.map((s) => s.name), ['b', 'a']);
  assert.deepEqual(r.trafficPolicy, { loadBalancer: { simple: 'RANDOM' } });
  assert.deepEqual(r.subsets.map((s) => s.source.name), ['b', 'b']);
});

void test('rules with different selectors stay apart; equal selectors merge', () => {
  const s1 = dr('s1', 'client', 'reviews.bookinfo.svc.cluster.local', `  workloadSelector: {matchLabels: {app: productpage}}\n${SUBSETS(['v1'])}`);
  const s2 = dr('s2', 'client', 'reviews.bookinfo.svc.cluster.local', `  workloadSelector: {matchLabels: {app: productpage}}\n${SUBSETS(['v2'])}`);
  const s3 = dr('s3', 'client', 'reviews.bookinfo.svc.cluster.local', `  workloadSelector: {matchLabels: {tier: web}}\n${SUBSETS(['v3'])}`);
  const r = findDestinationRule(rules(s1 + s3 + s2), { namespace: 'client', labels: { app: 'productpage', tier: 'web' } }, REVIEWS, OPTS)!;
  assert.deepEqual(r.sources.map((s) => s.name), ['s1', 's2']);
  assert.deepEqual(r.subsets.map((s) => s.name), ['v1', 'v2']);
  const t = findDestinationRule(rules(s1 + s3 + s2), { namespace: 'client', labels: { tier: 'web' } }, REVIEWS, OPTS)!;
  assert.deepEqual(t.sources.map((s) => s.name), ['s3']);
});

void test('clients in the root namespace see root-private rules first, then exported ones', () => {
  const priv = dr('priv', 'istio-system', '*.cluster.local', '  exportTo: ["."]');
  const pub = dr('pub', 'istio-system', 'reviews.bookinfo.svc.cluster.local');
  const root = { namespace: 'istio-system', labels: {} };
  const rows: Array<[string, string | null]> = [
    [priv + pub, 'client-namespace istio-system/priv'],
    [pub, 'root-namespace istio-system/pub'],
    [pub + SVC_DR, 'service-namespace bookinfo/s'],
    [priv, 'client-namespace istio-system/priv'],
  ];
  for (const [yaml, want] of rows) assert.equal(who(findDestinationRule(rules(yaml), root, REVIEWS, OPTS)), want, yaml);
  // other namespaces never see the private root rule
  assert.equal(who(findDestinationRule(rules(priv), CLIENT, REVIEWS, OPTS)), null);
});

void test('wildcard service hosts match equal or wider rule hosts', () => {
  const svc = { hostname: '*.example.com', namespace: 'ext' };
  const rows: Array<[string, string | null]> = [
    [dr('eq', 'ext', '*.example.com') + dr('wide', 'ext', '*.com'), 'service-namespace ext/eq'],
    [dr('wide', 'ext', '*.com'), 'service-namespace ext/wide'],
    [dr('narrow', 'ext', '*.a.example.com') + dr('concrete', 'ext', 'a.example.com'), null],
  ];
  for (const [yaml, want] of rows) assert.equal(who(findDestinationRule(rules(yaml), CLIENT, svc, OPTS)), want, yaml);
});

void test('an index answers like the raw rule list and honours its own root namespace', () => {
  const yaml = dr('r', 'mesh-root', '*.svc.cluster.local');
  const index = indexDestinationRules(rules(yaml), { domain: 'cluster.local', rootNamespace: 'mesh-root' });
  assert.equal(who(findDestinationRule(index, CLIENT, REVIEWS)), 'root-namespace mesh-root/r');
  assert.equal(who(findDestinationRule(rules(yaml), CLIENT, REVIEWS, OPTS)), null);
  // a service in an unknown namespace still reaches the root step
  assert.equal(who(findDestinationRule(index, CLIENT, { ...REVIEWS, namespace: '' })), 'root-namespace mesh-root/r');
});
