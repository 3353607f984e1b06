import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeYaml, summary } from './testkit.js';

const CODES = ['IST0101', 'ISTHMUS-A008', 'ISTHMUS-A009'];

const ROOT = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: root, namespace: default}
spec:
  hosts: [bookinfo.com]
  http:
  - match: [{uri: {prefix: /reviews}}]
    delegate: {name: reviews, namespace: team}
---
`;

function delegate(ns: string, exportTo?: string[], hosts?: string[]): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: ${ns}}
spec:
${hosts ? `  hosts: ${JSON.stringify(hosts)}\n` : ''}${exportTo ? `  exportTo: ${JSON.stringify(exportTo)}\n` : ''}  http:
  - route: [{destination: {host: reviews.default.svc.cluster.local}}]
---
`;
}

const rows: Array<{ name: string; yaml: string; want: string[]; message?: string }> = [
  {
    name: 'missing delegate',
    yaml: ROOT + delegate('other'),
    want: ['IST0101 VirtualService default/root spec.http[0].delegate'],
    message: 'Referenced delegate not found: "team/reviews"',
  },
  { name: 'delegate not exported to the root namespace', yaml: ROOT + delegate('team', ['.']), want: ['ISTHMUS-A008 VirtualService default/root spec.http[0].delegate'] },
  { name: 'a VirtualService with hosts cannot be a delegate', yaml: ROOT + delegate('team', undefined, ['reviews']), want: ['ISTHMUS-A009 VirtualService default/root spec.http[0].delegate'] },
  { name: 'delegate exported to the root namespace', yaml: ROOT + delegate('team', ['default']), want: [] },
];

for (const row of rows) {
  test(`delegates: ${row.name}`, () => {
    const ds = analyzeYaml(row.yaml);
    assert.deepEqual(summary(ds, CODES).filter((s) => !s.includes('destination')), row.want);
    if (row.message) assert.equal(ds.find((d) => d.path.endsWith('delegate'))?.message, row.message);
  });
}
