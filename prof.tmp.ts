import { loadText } from '/work/main/src/api/load.js';
import { validateResources } from '/work/main/src/validate/index.js';
import { buildRegistry } from '/work/main/src/registry/build.js';
import { compileSnapshot } from '/work/main/src/compile/index.js';
import { readFileSync } from 'node:fs';
const text = readFileSync('/tmp/gen5000.yaml', 'utf8');
const l = loadText(text, 'g.yaml', { namespace: 'default' });
const v = validateResources(l.resources);
const reg = buildRegistry(v.config, { domain: 'cluster.local' });
for (let i = 0; i < 3; i++) {
  const t = process.hrtime.bigint();
  compileSnapshot(v.config, reg, { role: 'sidecar', namespace: 'ns-0', labels: { app: 'bench' } });
  console.log('compile', Number(process.hrtime.bigint() - t) / 1e6);
}
