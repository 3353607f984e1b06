/**
 * Whole-config checks: the bundled demo mesh analyzes clean, and Istio's Bookinfo samples
 * (../shared, skipped when absent) give exactly the findings istioctl would give on a
 * cluster running Bookinfo v1-v3 (which has no ratings v2-mysql pods).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPaths, loadText } from '../api/load.js';
import { validateResources } from '../validate/index.js';
import { analyze } from './index.js';
import { OPTS, serviceEntry, summary } from './testkit.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const examples = path.join(repoRoot, 'examples', 'bookinfo');
const networking = path.join(repoRoot, '..', 'shared', 'istio', 'samples', 'bookinfo', 'networking');
const skipShared = !existsSync(networking) && 'shared/istio/samples not present';

function analyzeFiles(files: string[], extraYaml = ''): ReturnType<typeof analyze> {
  const loaded = loadPaths(files, { namespace: 'default' });
  const extra = loadText(extraYaml, 'services.yaml', { namespace: 'default' }, loaded.resources.length);
  const v = validateResources([...loaded.resources, ...extra.resources], { domain: OPTS.domain });
  assert.deepEqual(v.diagnostics.filter((d) => d.severity === 'error').map((d) => d.message), []);
  return analyze(v.config, OPTS);
}

/** Bookinfo as it runs in a cluster: the four services with their versioned pods. */
const BOOKINFO_SERVICES =
  serviceEntry('productpage', 'productpage', { endpoints: [{ app: 'productpage', version: 'v1' }] }) +
  serviceEntry('details', 'details', { endpoints: [{ app: 'details', version: 'v1' }, { app: 'details', version: 'v2' }] }) +
  serviceEntry('reviews', 'reviews', { endpoints: ['v1', 'v2', 'v3'].map((version) => ({ app: 'reviews', version })) }) +
  serviceEntry('ratings', 'ratings', { endpoints: [{ app: 'ratings', version: 'v1' }, { app: 'ratings', version: 'v2' }] });

test('samples: the bundled demo mesh has no findings', { skip: !existsSync(examples) && 'examples/bookinfo not present' }, () => {
  assert.deepEqual(summary(analyzeFiles([examples])), []);
});

test('samples: Bookinfo gateway + all-v1 routes + all DestinationRules', { skip: skipShared }, () => {
  const files = ['bookinfo-gateway.yaml', 'virtual-service-all-v1.yaml', 'destination-rule-all.yaml'].map((f) => path.join(networking, f));
  assert.deepEqual(summary(analyzeFiles(files, BOOKINFO_SERVICES)), [
    'IST0173 DestinationRule default/ratings spec.subsets[2]',
    'IST0173 DestinationRule default/ratings spec.subsets[3]',
  ]);
});

test('samples: Bookinfo without any service in the registry', { skip: skipShared }, () => {
  const ds = analyzeFiles([path.join(networking, 'virtual-service-reviews-v3.yaml'), path.join(networking, 'destination-rule-reviews.yaml')]);
  assert.deepEqual(summary(ds), [
    'IST0174 DestinationRule default/reviews spec.host',
    'IST0101 VirtualService default/reviews spec.http[0].route[0].destination.host',
  ]);
});

test('samples: fault-injection-details-v1 has a dead second rule', { skip: skipShared }, () => {
  const ds = analyzeFiles([path.join(networking, 'fault-injection-details-v1.yaml')], BOOKINFO_SERVICES);
  assert.deepEqual(summary(ds), ['IST0130 VirtualService default/details spec.http[1]']);
});
