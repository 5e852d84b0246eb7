// Runs cnn-core wasm steps for a few seconds, for `node --cpu-prof`:
//   node --cpu-prof --cpu-prof-dir=DIR bench/tools/cpuprof.mjs NETWORK forward|train BATCH
// then `node bench/tools/cpuprof.mjs --summary DIR` lists the functions by self time.
import fs from 'node:fs';
import { createRequire } from 'node:module';

import { NETWORKS } from '../networks.mjs';

function summarize(dir) {
  const files = fs.readdirSync(dir).map((f) => `${dir}/${f}`).filter((f) => f.endsWith('.cpuprofile'));
  const newest = files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  const profile = JSON.parse(fs.readFileSync(newest));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id).callFrame;
    const name = (frame.functionName || frame.url || '(anonymous)').replace(/::h[0-9a-f]{16}$/, '');
    self.set(name, (self.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 16)
    .forEach(([name, t]) => console.log(`${((100 * t) / total).toFixed(1).padStart(5)}%  ${name}`));
}

if (process.argv[2] === '--summary') {
  summarize(process.argv[3]);
} else {
  const require = createRequire(import.meta.url);
  const pkg = require('../pkg/cnn_bench.js');
  const [name, pass, batch] = [process.argv[2], process.argv[3], Number(process.argv[4])];
  const network = NETWORKS.find((n) => n.name === name);
  const net = new pkg.CoreNet(JSON.stringify(network.spec), 2024, batch);
  const start = performance.now();
  let steps = 0;
  while (performance.now() - start < 3000) {
    net[pass]();
    steps++;
  }
  console.log(`${name} ${pass} batch ${batch}: ${((steps * batch) / ((performance.now() - start) / 1000)).toFixed(0)} examples/s`);
}
