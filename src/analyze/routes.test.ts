import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml, summary, only } from './testkit.js';

const CODES = ['IST0130', 'IST0131'];

/** A VirtualService `r` for host reviews with the given section (`http:` / `tcp:` / `tls:` block, 2-space indented). */
function vs(section: string, extra = '', hosts = 'reviews'): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: r, namespace: default}
spec:
  hosts: [${hosts}]
${extra}${section}`;
}

const dest = 'route: [{destination: {host: reviews}}]';

const rows: Array<{ name: string; yaml: string; want: string[]; message?: string }> = [
  {
    name: 'two rules without match: the second is dead',
    yaml: vs(`  http:\n  - ${dest}\n  - ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
    message: 'VirtualService rule #1 not used (only the last rule can have no matches).',
  },
  {
    name: 'rule after a rule without match',
    yaml: vs(`  http:\n  - ${dest}\n  - match: [{uri: {prefix: /api}}]\n    ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
    message: 'VirtualService rule #1 not used (route without matches defined before).',
  },
  {
    name: 'rule after a prefix / catch-all (named rules)',
    yaml: vs(`  http:\n  - name: all\n    match: [{uri: {prefix: /}}]\n    ${dest}\n  - name: api\n    match: [{uri: {prefix: /api}}]\n    ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
    message: 'VirtualService rule "api" not used (rule "all" matches every request).',
  },
  {
    name: 'regex .* is a catch-all too',
    yaml: vs(`  http:\n  - match: [{uri: {regex: '.*'}}]\n    ${dest}\n  - match: [{uri: {exact: /x}}]\n    ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
  },
  {
    name: 'identical match repeated in a later rule',
    yaml: vs(`  http:\n  - match: [{uri: {exact: /a}}]\n    ${dest}\n  - match: [{name: again, uri: {exact: /a}}]\n    ${dest}\n  - ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
    message: 'VirtualService rule #1 not used (all matches used by prior rules).',
  },
  {
    name: 'one of two blocks is a duplicate: ineffective match only',
    yaml: vs(`  http:\n  - match: [{uri: {exact: /a}}]\n    ${dest}\n  - match: [{uri: {exact: /a}}, {uri: {exact: /b}}]\n    ${dest}\n`),
    want: ['IST0131 VirtualService default/r spec.http[1].match[0]'],
    message: 'VirtualService rule #1 match #0 is not used (duplicate/overlapping match in rule #0).',
  },
  {
    name: 'duplicate block inside one rule',
    yaml: vs(`  http:\n  - match: [{uri: {exact: /a}}, {name: twice, uri: {exact: /a}}]\n    ${dest}\n`),
    want: ['IST0131 VirtualService default/r spec.http[0].match[1]'],
    message: 'VirtualService rule #0 match "twice" is not used (duplicate/overlapping match in rule #0).',
  },
  {
    name: 'shorter prefix first shadows the longer one',
    yaml: vs(`  http:\n  - match: [{uri: {prefix: /api}}]\n    ${dest}\n  - match: [{uri: {prefix: /api/v1}}, {uri: {exact: /api}}]\n    ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
  },
  {
    name: 'longer prefix first: both reachable',
    yaml: vs(`  http:\n  - match: [{uri: {prefix: /api/v1}}]\n    ${dest}\n  - match: [{uri: {prefix: /api}}]\n    ${dest}\n`),
    want: [],
  },
  {
    name: 'earlier rule narrowed by a header: later rule reachable',
    yaml: vs(`  http:\n  - match: [{uri: {prefix: /api}, headers: {end-user: {exact: jason}}}]\n    ${dest}\n  - match: [{uri: {prefix: /api}}]\n    ${dest}\n`),
    want: [],
  },
  {
    name: 'later rule narrower by a header: shadowed',
    yaml: vs(`  http:\n  - match: [{uri: {prefix: /api}}]\n    ${dest}\n  - match: [{uri: {prefix: /api}, headers: {end-user: {exact: jason}}}]\n    ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
  },
  {
    name: 'header presence ({}) covers any value, header names compare case-insensitively',
    yaml: vs(`  http:\n  - match: [{headers: {X-Canary: {}}}]\n    ${dest}\n  - match: [{headers: {x-canary: {exact: "1"}}}]\n    ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
  },
  {
    name: 'a header value does not cover header presence',
    yaml: vs(`  http:\n  - match: [{headers: {x-canary: {exact: "1"}}}]\n    ${dest}\n  - match: [{headers: {x-canary: {}}}]\n    ${dest}\n`),
    want: [],
  },
  {
    name: 'query params: prefix covers exact',
    yaml: vs(`  http:\n  - match: [{queryParams: {v: {prefix: "2"}}}]\n    ${dest}\n  - match: [{queryParams: {v: {exact: "2.1"}}}]\n    ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
  },
  {
    name: 'method condition on the earlier rule only: not covered',
    yaml: vs(`  http:\n  - match: [{method: {exact: GET}}]\n    ${dest}\n  - match: [{uri: {prefix: /x}}]\n    ${dest}\n`),
    want: [],
  },
  {
    name: 'port-limited catch-all does not shadow rules on other ports',
    yaml: vs(`  http:\n  - match: [{port: 8080}]\n    ${dest}\n  - match: [{uri: {prefix: /a}}]\n    ${dest}\n`),
    want: [],
  },
  {
    name: 'port-limited catch-all shadows rules for the same port',
    yaml: vs(`  http:\n  - match: [{port: 8080}]\n    ${dest}\n  - match: [{port: 8080, uri: {prefix: /a}}]\n    ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
  },
  {
    name: 'sourceLabels on the earlier rule: others still reach the later one',
    yaml: vs(`  http:\n  - match: [{sourceLabels: {app: a}}]\n    ${dest}\n  - match: [{uri: {prefix: /a}}]\n    ${dest}\n`),
    want: [],
  },
  {
    name: 'ignoreUriCase on the earlier rule covers any case',
    yaml: vs(`  http:\n  - match: [{uri: {prefix: /api}, ignoreUriCase: true}]\n    ${dest}\n  - match: [{uri: {prefix: /API/v1}}]\n    ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
  },
  {
    name: 'case-sensitive earlier rule does not cover a case-insensitive one',
    yaml: vs(`  http:\n  - match: [{uri: {prefix: /api}}]\n    ${dest}\n  - match: [{uri: {prefix: /api/v1}, ignoreUriCase: true}]\n    ${dest}\n`),
    want: [],
  },
  {
    name: 'different regexes are never assumed to overlap',
    yaml: vs(`  http:\n  - match: [{uri: {regex: '/a.*'}}]\n    ${dest}\n  - match: [{uri: {regex: '/a/b.*'}}]\n    ${dest}\n`),
    want: [],
  },
  {
    name: 'withoutHeaders on the earlier rule: not covered unless repeated',
    yaml: vs(
      `  http:\n  - match: [{uri: {prefix: /}, withoutHeaders: {x-a: {exact: "1"}}}]\n    ${dest}\n  - match: [{uri: {prefix: /b}}]\n    ${dest}\n  - match: [{uri: {prefix: /c}, withoutHeaders: {x-a: {exact: "1"}}}]\n    ${dest}\n`,
    ),
    want: ['IST0130 VirtualService default/r spec.http[2]'],
  },
  {
    name: 'match-level gateways narrower than the later rule',
    yaml: vs(`  http:\n  - match: [{gateways: [gw1]}]\n    ${dest}\n  - ${dest}\n`, '  gateways: [gw1, gw2]\n'),
    want: [],
  },
  {
    name: 'match-level gateways equal to the later rule',
    yaml: vs(`  http:\n  - match: [{gateways: [default/gw1]}]\n    ${dest}\n  - match: [{gateways: [gw1], uri: {prefix: /x}}]\n    ${dest}\n`, '  gateways: [gw1, gw2]\n'),
    want: ['IST0130 VirtualService default/r spec.http[1]'],
  },
  {
    name: 'a delegating rule shadows nothing',
    yaml: vs(`  http:\n  - delegate: {name: d}\n  - ${dest}\n`),
    want: [],
  },
  {
    name: 'tcp: two rules without match',
    yaml: vs(`  tcp:\n  - ${dest}\n  - ${dest}\n`),
    want: ['IST0130 VirtualService default/r spec.tcp[1]'],
  },
  {
    name: 'tcp: same port, narrower source',
    yaml: vs(`  tcp:\n  - match: [{port: 27017}]\n    ${dest}\n  - match: [{port: 27017, sourceLabels: {app: x}}, {port: 3306}]\n    ${dest}\n`),
    want: ['IST0131 VirtualService default/r spec.tcp[1].match[0]'],
  },
  {
    name: 'tls: wildcard SNI covers a concrete one',
    yaml: vs(`  tls:\n  - match: [{sniHosts: ['*.example.com']}]\n    ${dest}\n  - match: [{sniHosts: [a.example.com]}]\n    ${dest}\n`, '', "'*.example.com'"),
    want: ['IST0130 VirtualService default/r spec.tls[1]'],
  },
  {
    name: 'tls: concrete SNI does not cover a wildcard',
    yaml: vs(`  tls:\n  - match: [{sniHosts: [a.example.com]}]\n    ${dest}\n  - match: [{sniHosts: ['*.example.com']}]\n    ${dest}\n`, '', "'*.example.com'"),
    want: [],
  },
];

for (const row of rows) {
  test(`routes: ${row.name}`, () => {
    const ds = analyzeYaml(row.yaml);
    assert.deepEqual(summary(ds, CODES), row.want);
    if (row.message) assert.equal(ds.find((d) => CODES.includes(d.code ?? ''))?.message, row.message);
  });
}

test('routes: finding points at the shadowed rule in the file, with Istio severities', () => {
  const ds = analyzeYaml(vs(`  http:\n  - ${dest}\n  - match: [{uri: {exact: /a}}, {uri: {exact: /a}}]\n    ${dest}\n`));
  const d = only(ds, 'IST0130');
  assert.equal(d.file, 'fixture.yaml');
  assert.equal(d.line, 8); // the second `- ` under http
  assert.equal(d.severity, 'warning');
  const d2 = analyzeYaml(vs(`  http:\n  - match: [{uri: {exact: /a}}, {uri: {exact: /a}}]\n    ${dest}\n`)).find((x) => x.code === 'IST0131');
  assert.equal(d2?.severity, 'warning');
  assert.equal(d2?.line, 7);
});
