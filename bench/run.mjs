// The benchmark harness: cnn-core (wasm in this Node process, and native in a child
// process) against ConvNetJS 0.3.0 and TensorFlow.js 4.22 (cpu and wasm backends).
//
// First every contender's loss and weight gradients are checked against cnn-core's on
// the same weights and inputs. Then, for each network, pass and batch size, the harness
// runs rounds. In each round every contender runs for a fixed time, in an order rotated
// by one place per round, so that a burst of load on a shared machine falls on all
// contenders alike. It reports the median, min and max examples per second over the
// rounds, GFLOP/s from the multiply-adds in networks.mjs, and cnn-core's speed divided by
// each contender's, taken within each round and then the median (min–max) of those.
//
// Usage: node bench/run.mjs [--rounds 5] [--ms 250] [--networks N1,N3] [--batches 1,32]
//        [--passes forward,train] [--contenders core-wasm,tfjs-wasm] [--max-step-ms 3000]
//        [--warmup-ms 1000] [--native PATH] [--out DIR] [--skip-check]
//
// A contender whose one step would take longer than --max-step-ms is left out of that case
// and listed as skipped. The step time is predicted from its batch-1 rate, or measured by
// one step. TF.js's cpu backend took 17 to 32 s for one N3 training step at batch 32 here.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

import { contender as convnetjs } from './contenders/convnetjs.mjs';
import { nativeContender, simd128, wasmContender, wasmWorkload } from './contenders/core.mjs';
import * as tfjs from './contenders/tfjs.mjs';
import { multiplyAdds, NETWORKS } from './networks.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SEED = 2024;
/** Largest relative difference of a loss or gradient from cnn-core's that the check accepts. */
const CHECK_TOLERANCE = 1e-4;
/** The speed-ups cnn-core (wasm) must reach over a contender at batch 1. */
const TARGETS = [
  { network: 'N2', pass: 'train', contender: 'tfjs-wasm', ratio: 3 },
  { network: 'N3', pass: 'train', contender: 'tfjs-wasm', ratio: 3 },
  { network: 'N3', pass: 'forward', contender: 'tfjs-wasm', ratio: 1 },
  { network: 'N1', pass: 'train', contender: 'convnetjs', ratio: 2 },
];

function parseArgs(argv) {
  const options = {
    rounds: 5,
    ms: 250,
    networks: NETWORKS.map((n) => n.name),
    batches: [1, 32],
    passes: ['forward', 'train'],
    contenders: null,
    maxStepMs: 3000,
    warmupMs: 1000,
    native: path.join(HERE, '../target/bench/release/native'),
    out: path.join(HERE, 'out'),
    check: true,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case '--rounds': options.rounds = Number(value()); break;
      case '--ms': options.ms = Number(value()); break;
      case '--networks': options.networks = value().split(','); break;
      case '--batches': options.batches = value().split(',').map(Number); break;
      case '--passes': options.passes = value().split(','); break;
      case '--contenders': options.contenders = value().split(','); break;
      case '--max-step-ms': options.maxStepMs = Number(value()); break;
      case '--warmup-ms': options.warmupMs = Number(value()); break;
      case '--native': options.native = value(); break;
      case '--out': options.out = value(); break;
      case '--skip-check': options.check = false; break;
      default: throw new Error(`unknown option ${argv[i]}; see the usage at the top of bench/run.mjs`);
    }
  }
  const unknown = options.networks.filter((n) => !NETWORKS.some((m) => m.name === n));
  if (unknown.length > 0) throw new Error(`unknown network ${unknown.join(', ')}; use ${NETWORKS.map((n) => n.name).join(', ')}`);
  if (!(options.rounds >= 1 && options.ms > 0)) throw new Error('--rounds must be at least 1 and --ms positive');
  return options;
}

/** Returns the seeded weights, inputs and labels of a network and batch, from cnn-core. */
function makeWorkload(network, batch) {
  const core = wasmWorkload(network, batch, SEED);
  const workload = {
    network,
    batch,
    seed: SEED,
    params: JSON.parse(core.params_json()),
    inputs: core.inputs(),
    labels: core.labels(),
  };
  core.free();
  return workload;
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

/** Largest |a − r| over a tensor, divided by the largest |r| (at least 1e-12). */
function relativeDifference(a, r) {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < r.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - r[i]));
    scale = Math.max(scale, Math.abs(r[i]));
  }
  return a.length === r.length ? diff / scale : Infinity;
}

/** Compares every contender's loss and gradients with cnn-core's on each network. */
async function checkAgreement(contenders, options) {
  console.log('\n## Agreement with cnn-core (same weights and inputs; max |difference| / max |value|)\n');
  console.log('| network | batch | contender | loss | weight and bias gradients | |');
  console.log('|---|---|---|---|---|---|');
  let failed = false;
  for (const network of NETWORKS.filter((n) => options.networks.includes(n.name))) {
    for (const batch of [1, 4]) {
      const workload = makeWorkload(network, batch);
      const reference = await (await wasmContender.prepare(workload)).gradients();
      for (const c of contenders) {
        if (c === wasmContender || c.remote || (batch > 1 && !c.batches) || c.supports(network) !== true) continue;
        const prepared = await c.prepare(workload);
        await prepared.activate();
        const result = prepared.gradients();
        prepared.close();
        const lossDiff = Math.abs(result.loss - reference.loss) / Math.max(Math.abs(reference.loss), 1e-12);
        let gradDiff = 0;
        for (const key of Object.keys(reference.weights)) {
          gradDiff = Math.max(gradDiff, relativeDifference(result.weights[key], reference.weights[key]));
          gradDiff = Math.max(gradDiff, relativeDifference(result.bias[key], reference.bias[key]));
        }
        const ok = lossDiff <= CHECK_TOLERANCE && gradDiff <= CHECK_TOLERANCE;
        failed ||= !ok;
        console.log(`| ${network.name} | ${batch} | ${c.name} | ${lossDiff.toExponential(1)} | ${gradDiff.toExponential(1)} | ${ok ? 'same' : 'DIFFERENT'} |`);
      }
    }
  }
  return !failed;
}

/** Runs `pass` for about `ms` milliseconds and returns examples and seconds. */
async function timed(prepared, pass, ms, batch) {
  if (prepared.timed) return prepared.timed(pass, ms);
  const step = prepared[pass];
  let steps = 0;
  let sink = 0;
  const start = performance.now();
  let now = start;
  do {
    sink += step();
    steps++;
    now = performance.now();
  } while (now - start < ms);
  if (Number.isNaN(sink)) throw new Error(`${pass} returned NaN`);
  return { examples: steps * batch, seconds: (now - start) / 1000 };
}

/** Predicts the seconds one step of `contender` takes, from its batch-1 rate. */
function predictedStepSeconds(measured, network, pass, batch, contender) {
  const single = measured.find((r) => r.network === network.name && r.pass === pass && r.batch === 1 && r.contender === contender);
  return single && single.median ? batch / single.median : null;
}

async function benchmarkCase(network, pass, batch, contenders, options, measured) {
  const workload = makeWorkload(network, batch);
  const entries = [];
  const skipped = [];
  for (const c of contenders) {
    if ((batch > 1 && !c.batches) || c.supports(network) !== true) continue;
    const predicted = predictedStepSeconds(measured, network, pass, batch, c.name);
    if (predicted !== null && predicted * 1000 > options.maxStepMs) {
      skipped.push({ contender: c.name, reason: `one step would take about ${predicted.toFixed(1)} s` });
      continue;
    }
    entries.push({ contender: c, prepared: await c.prepare(workload), rates: [] });
  }

  // Untimed runs first: JIT compilation, buffer growth, the wasm backend's operator set-up.
  // TF.js needs a few dozen steps before its speed settles.
  for (const e of [...entries]) {
    await e.prepared.activate();
    const { examples, seconds } = await timed(e.prepared, pass, options.warmupMs, batch);
    if ((seconds * 1000 * batch) / examples > options.maxStepMs) {
      skipped.push({ contender: e.contender.name, reason: `one step took ${((seconds * batch) / examples).toFixed(1)} s` });
      e.prepared.close();
      entries.splice(entries.indexOf(e), 1);
    }
  }

  for (let round = 0; round < options.rounds; round++) {
    for (let k = 0; k < entries.length; k++) {
      const e = entries[(k + round) % entries.length];
      await e.prepared.activate();
      const { examples, seconds } = await timed(e.prepared, pass, options.ms, batch);
      e.rates[round] = examples / seconds;
    }
  }
  for (const e of entries) e.prepared.close();

  const flops = 2 * multiplyAdds(network.spec)[pass];
  const byName = Object.fromEntries(entries.map((e) => [e.contender.name, e.rates]));
  const ratiosTo = (ours) => (e) => {
    const mine = byName[ours];
    if (!mine || e.contender.name === ours) return null;
    return e.rates.map((rate, r) => mine[r] / rate);
  };
  const rows = entries.map((e) => ({
    network: network.name,
    pass,
    batch,
    contender: e.contender.name,
    rates: e.rates,
    median: median(e.rates),
    min: Math.min(...e.rates),
    max: Math.max(...e.rates),
    gflops: (median(e.rates) * flops) / 1e9,
    wasmRatios: ratiosTo('core-wasm')(e),
    nativeRatios: ratiosTo('core-native')(e),
  }));
  return rows.concat(skipped.map((s) => ({ network: network.name, pass, batch, contender: s.contender, skipped: s.reason })));
}

const formatRate = (v) => (v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(3));
const formatRatio = (ratios) => {
  if (!ratios) return '';
  return `${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`;
};

function table(rows) {
  const lines = [
    '| network | pass | batch | contender | examples/s median | min | max | GFLOP/s | core-wasm ÷ it | core-native ÷ it |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    if (r.skipped) {
      lines.push(`| ${r.network} | ${r.pass} | ${r.batch} | ${r.contender} | skipped: ${r.skipped} | | | | | |`);
      continue;
    }
    lines.push(`| ${r.network} | ${r.pass} | ${r.batch} | ${r.contender} | ${formatRate(r.median)} | ${formatRate(r.min)} | ${formatRate(r.max)} | ${r.gflops.toFixed(2)} | ${formatRatio(r.wasmRatios)} | ${formatRatio(r.nativeRatios)} |`);
  }
  return lines.join('\n');
}

function targetLines(rows) {
  const lines = [];
  for (const t of TARGETS) {
    const row = rows.find((r) => r.network === t.network && r.pass === t.pass && r.batch === 1 && r.contender === t.contender && !r.skipped);
    if (!row || !row.wasmRatios) {
      lines.push(`- ${t.network} ${t.pass} batch 1, core-wasm ≥ ${t.ratio}× ${t.contender}: not measured in this run`);
      continue;
    }
    const ratio = median(row.wasmRatios);
    const verdict = ratio >= t.ratio ? 'met' : `NOT met (${((ratio / t.ratio) * 100).toFixed(0)}% of the target)`;
    lines.push(`- ${t.network} ${t.pass} batch 1, core-wasm ≥ ${t.ratio}× ${t.contender}: ${ratio.toFixed(2)}×, ${verdict}`);
  }
  return lines.join('\n');
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const tfFacts = await tfjs.setup();
  const native = fs.existsSync(options.native) ? nativeContender(options.native) : null;
  const contenders = [wasmContender, native, tfjs.contender('wasm'), tfjs.contender('cpu'), convnetjs]
    .filter(Boolean)
    .filter((c) => !options.contenders || options.contenders.includes(c.name));

  const [load1, load5, load15] = os.loadavg();
  console.log('# cnn-core benchmark\n');
  console.log(`- machine: ${os.cpus().length} × ${os.cpus()[0].model}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`);
  console.log(`- load average at the start: ${load1.toFixed(2)}, ${load5.toFixed(2)}, ${load15.toFixed(2)} (1, 5, 15 min)`);
  console.log(`- Node ${process.version}; cnn-core wasm with simd128: ${simd128}; native runner: ${native ? options.native : 'not found, skipped'}`);
  console.log(`- TF.js ${tfFacts.version}; wasm backend: SIMD ${tfFacts.wasmSimd}, ${tfFacts.wasmThreads} thread(s); Conv2DBackpropFilter on wasm: ${tfFacts.wasmFilterGradient}`);
  console.log(`- ${options.rounds} rounds of ${options.ms} ms per contender after ${options.warmupMs} ms of warm-up, order rotated each round`);

  if (options.check) {
    const agreed = await checkAgreement(contenders, options);
    if (!agreed) {
      throw new Error('a contender computes other numbers than cnn-core; the timings would compare different work (--skip-check runs them anyway)');
    }
  }

  const rows = [];
  for (const network of NETWORKS.filter((n) => options.networks.includes(n.name))) {
    for (const pass of options.passes) {
      for (const batch of options.batches) {
        const caseRows = await benchmarkCase(network, pass, batch, contenders, options, rows);
        console.error(`measured ${network.name} ${pass} batch ${batch}`);
        rows.push(...caseRows);
      }
    }
  }
  if (native) native.stop();

  const [end1] = os.loadavg();
  const report = `${table(rows)}\n\nLoad average at the end: ${end1.toFixed(2)}.\n\nTargets (same-round medians):\n${targetLines(rows)}\n`;
  console.log(`\n## Results\n\n${report}`);
  fs.mkdirSync(options.out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  fs.writeFileSync(path.join(options.out, `results-${stamp}.json`), JSON.stringify({ options, tfFacts, load: os.loadavg(), rows }, null, 1));
  fs.writeFileSync(path.join(options.out, 'latest.md'), report);
}

main().catch((error) => {
  console.error(`benchmark failed: ${error.stack ?? error}`);
  process.exit(1);
});
