// cnn-core's fast engine, twice: compiled to wasm32 with SIMD and called from this Node
// process through wasm-bindgen, and compiled natively and run in a child process
// (`bench/src/bin/native.rs`) that the harness sends one request per round.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

const require = createRequire(import.meta.url);
const pkg = require('../pkg/cnn_bench.js');

export const simd128 = pkg.simd128();

/** Creates the wasm workload of a network, batch and seed. */
export function wasmWorkload(network, batch, seed) {
  return new pkg.CoreNet(JSON.stringify(network.spec), seed, batch);
}

export const wasmContender = {
  name: 'core-wasm',
  batches: true,
  supports() {
    return true;
  },
  async prepare(workload) {
    const net = wasmWorkload(workload.network, workload.batch, workload.seed);
    return {
      async activate() {},
      forward: () => net.forward(),
      train: () => net.train(),
      gradients() {
        const loss = net.train();
        const result = { loss, weights: {}, bias: {} };
        workload.network.spec.layers.forEach((layer, i) => {
          if (layer.conv || layer.dense) {
            result.weights[i] = net.grad_weights(i);
            result.bias[i] = net.grad_bias(i);
          }
        });
        return result;
      },
      close() {
        net.free();
      },
    };
  },
};

/** Starts the native runner and returns it as a contender, whose timed loop runs in the child process. */
export function nativeContender(binary) {
  const child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()(JSON.parse(line)));
  const request = (message) => new Promise((resolve) => {
    waiting.push(resolve);
    child.stdin.write(`${JSON.stringify(message)}\n`);
  });
  return {
    name: 'core-native',
    batches: true,
    remote: true,
    supports() {
      return true;
    },
    async prepare(workload) {
      const base = { spec: JSON.stringify(workload.network.spec), seed: workload.seed, batch: workload.batch };
      return {
        async activate() {},
        /** Runs `mode` for `ms` milliseconds in the child and returns its count. */
        async timed(mode, ms) {
          const reply = await request({ ...base, mode, ms });
          if (reply.error) throw new Error(`native runner: ${reply.error}`);
          return { examples: reply.examples, seconds: reply.seconds };
        },
        close() {},
      };
    },
    stop() {
      child.stdin.end();
    },
  };
}
