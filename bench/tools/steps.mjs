// Runs a fixed number of cnn-core wasm steps, for instruction counts under callgrind:
//   node bench/tools/steps.mjs NETWORK forward|train BATCH STEPS
import { createRequire } from 'node:module';

import { NETWORKS } from '../networks.mjs';

const require = createRequire(import.meta.url);
const pkg = require('../pkg/cnn_bench.js');
const [name, pass, batch, steps] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const network = NETWORKS.find((n) => n.name === name);
if (!network || !['forward', 'train'].includes(pass) || !(batch >= 1) || !(steps >= 0)) {
  throw new Error('usage: node bench/tools/steps.mjs NETWORK forward|train BATCH STEPS');
}
const net = new pkg.CoreNet(JSON.stringify(network.spec), 2024, batch);
let sink = 0;
for (let i = 0; i < steps; i++) sink += net[pass]();
console.log(`${steps} steps, sum of results ${sink}`);
