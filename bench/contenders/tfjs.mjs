// TensorFlow.js 4.22 with its cpu and wasm backends.
//
// `@tensorflow/tfjs` is imported, not `@tensorflow/tfjs-core` alone, because the union
// package registers the gradient of every op. tfjs-core's Node build by itself registers
// none, so tf.variableGrads would fail on the first conv. `setup` checks that the
// gradients this benchmark needs are there.
//
// The wasm backend of 4.22 has no Conv2DBackpropFilter kernel, which the conv gradient
// calls for dL/dW. `registerWasmConvFilterGradient` registers one, built from the wasm
// backend's own Transpose and Conv2D kernels (so it runs in XNNPACK like the rest):
//
//   dW[u][v][c][k] = Σ_b,i,j x[b][i·s + u − p][j·s + v − p][c] · dy[b][i][j][k]
//
// is a convolution of x with its batch and channel axes swapped ([C, H, W, B]) and the
// filter dy reshaped to [H_out, W_out, B, K], with stride 1 and dilation s, because the
// taps of dy are s apart in x. Its [C, FH, FW, K] output is transposed to [FH, FW, C, K].

import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';

import { shapes } from '../networks.mjs';

/** Registered gradients the training steps use. The fused conv and matmul ops define
 * their own gradients inside the op, which call the Conv2DBackpropInput,
 * Conv2DBackpropFilter and BatchMatMul kernels. */
const NEEDED_GRADIENTS = ['Conv2D', 'BatchMatMul', 'MaxPool', 'AvgPool', 'Sigmoid', 'Reshape', 'Softmax'];

function registerWasmConvFilterGradient() {
  if (tf.getKernel('Conv2DBackpropFilter', 'wasm')) {
    return 'native kernel';
  }
  const conv2d = tf.getKernel('Conv2D', 'wasm').kernelFunc;
  const transpose = tf.getKernel('Transpose', 'wasm').kernelFunc;
  tf.registerKernel({
    kernelName: 'Conv2DBackpropFilter',
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs;
      const { strides, pad, dataFormat, filterShape } = attrs;
      const [strideH, strideW] = typeof strides === 'number' ? [strides, strides] : strides;
      const padding = pad === 'valid' ? 0 : pad;
      if (dataFormat !== 'NHWC' || typeof padding !== 'number') {
        throw new Error(`Conv2DBackpropFilter for wasm: only NHWC with 'valid' or numeric padding, not ${dataFormat} with ${JSON.stringify(pad)}`);
      }
      const xSwapped = transpose({ inputs: { x }, backend, attrs: { perm: [3, 1, 2, 0] } });
      const dyAsFilter = transpose({ inputs: { x: dy }, backend, attrs: { perm: [1, 2, 0, 3] } });
      const product = conv2d({
        inputs: { x: xSwapped, filter: dyAsFilter },
        backend,
        attrs: { strides: [1, 1], pad: padding, dataFormat: 'NHWC', dilations: [strideH, strideW], dimRoundingMode: undefined },
      });
      const [fh, fw] = filterShape;
      if (product.shape[1] !== fh || product.shape[2] !== fw) {
        throw new Error(`Conv2DBackpropFilter for wasm: got ${product.shape} for filter ${filterShape}; strides that leave input rows unread are not handled`);
      }
      const grad = transpose({ inputs: { x: product }, backend, attrs: { perm: [1, 2, 0, 3] } });
      for (const t of [xSwapped, dyAsFilter, product]) {
        backend.disposeData(t.dataId);
      }
      return grad;
    },
  });
  return 'registered from Transpose and Conv2D';
}

let wasmFilterGradient = null;

/** Initializes both backends; returns facts for the report. */
export async function setup() {
  const missing = NEEDED_GRADIENTS.filter((name) => !tf.getGradient(name));
  if (missing.length > 0) {
    throw new Error(`TF.js registers no gradient for ${missing.join(', ')}; import @tensorflow/tfjs, not tfjs-core alone`);
  }
  await tf.setBackend('wasm');
  await tf.ready();
  wasmFilterGradient = registerWasmConvFilterGradient();
  const threads = getThreadsCount();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  await tf.setBackend('cpu');
  await tf.ready();
  // The first op on the cpu backend prints TF.js's advice to install tfjs-node: let it
  // appear here, before the report, rather than in the middle of a table.
  tf.tidy(() => tf.add(tf.scalar(1), tf.scalar(1)).dataSync());
  return { version: tf.version.tfjs, wasmThreads: threads, wasmSimd: simd, wasmFilterGradient };
}

const flat = (nested) => Float32Array.from(nested.flat(Infinity));

/**
 * Builds the network of `spec` from cnn-core's parameters, where `params[i]` is
 * `{weights, bias}` as nested lists, or null. Conv weights [K, C, FH, FW] become
 * [FH, FW, C, K]. Dense weights [N, C·H·W], with the inputs in C, H, W order, become
 * [H·W·C, N] with the inputs in TF.js's H, W, C order.
 */
function buildLayers(spec, params) {
  const layerShapes = shapes(spec);
  const layers = [];
  for (let i = 0; i < spec.layers.length; i++) {
    const layer = spec.layers[i];
    const next = spec.layers[i + 1];
    if (layer.conv) {
      const w = flat(params[i].weights);
      const [k, c] = [layer.conv.kernels, layerShapes[i].input[0]];
      const [fh, fw] = layer.conv.size;
      const hwio = new Float32Array(w.length);
      for (let o = 0; o < k; o++) for (let ch = 0; ch < c; ch++) for (let u = 0; u < fh; u++) for (let v = 0; v < fw; v++) {
        hwio[((u * fw + v) * c + ch) * k + o] = w[((o * c + ch) * fh + u) * fw + v];
      }
      const fuseRelu = next && next.activation === 'relu';
      layers.push({
        kind: 'conv',
        index: i,
        filter: tf.variable(tf.tensor4d(hwio, [fh, fw, c, k])),
        bias: tf.variable(tf.tensor1d(flat(params[i].bias))),
        pad: layer.conv.padding[0] === 0 ? 'valid' : layer.conv.padding[0],
        activation: fuseRelu ? 'relu' : 'linear',
      });
      if (fuseRelu) i++;
    } else if (layer.activation) {
      layers.push({ kind: 'activation', name: layer.activation });
    } else if (layer.pool) {
      if (layer.pool.kind === 'l2') throw new Error('TF.js has no L2 pooling op');
      layers.push({ kind: layer.pool.kind === 'max' ? 'maxPool' : 'avgPool', size: layer.pool.size, stride: layer.pool.stride });
    } else if (layer.dense) {
      const w = flat(params[i].weights);
      const [c, h, wd] = layerShapes[i].input;
      const n = layer.dense.outputs;
      const kernel = new Float32Array(w.length);
      for (let o = 0; o < n; o++) for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < wd; x++) {
        kernel[((y * wd + x) * c + ch) * n + o] = w[o * c * h * wd + (ch * h + y) * wd + x];
      }
      layers.push({
        kind: 'dense',
        index: i,
        weights: tf.variable(tf.tensor2d(kernel, [c * h * wd, n])),
        bias: tf.variable(tf.tensor1d(flat(params[i].bias))),
      });
    }
  }
  return layers;
}

function forward(layers, x) {
  let h = x;
  for (const layer of layers) {
    if (layer.kind === 'conv') {
      h = tf.fused.conv2d({ x: h, filter: layer.filter, strides: 1, pad: layer.pad, bias: layer.bias, activation: layer.activation });
    } else if (layer.kind === 'activation') {
      h = { relu: tf.relu, sigmoid: tf.sigmoid, tanh: tf.tanh }[layer.name](h);
    } else if (layer.kind === 'maxPool') {
      h = tf.maxPool(h, layer.size, layer.stride, 'valid');
    } else if (layer.kind === 'avgPool') {
      h = tf.avgPool(h, layer.size, layer.stride, 'valid');
    } else if (layer.kind === 'dense') {
      h = tf.fused.matMul({ a: tf.reshape(h, [h.shape[0], -1]), b: layer.weights, bias: layer.bias });
    }
  }
  return h;
}

/** Converts a batch in C, H, W order per example to an NHWC tensor. */
function inputTensor(inputs, batch, [c, h, w]) {
  const nhwc = new Float32Array(inputs.length);
  for (let b = 0; b < batch; b++) for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    nhwc[((b * h + y) * w + x) * c + ch] = inputs[((b * c + ch) * h + y) * w + x];
  }
  return tf.tensor4d(nhwc, [batch, h, w, c]);
}

/** Returns the contender for one backend ('cpu' or 'wasm'). */
export function contender(backend) {
  return {
    name: `tfjs-${backend}`,
    batches: true,
    supports(network) {
      return network.pool === 'l2' ? 'no L2 pooling op' : true;
    },
    async prepare(workload) {
      await tf.setBackend(backend);
      const { network, batch, params, inputs, labels } = workload;
      const layers = buildLayers(network.spec, params);
      const x = inputTensor(inputs, batch, network.spec.input);
      const classes = network.spec.layers.at(-1).dense.outputs;
      const onehot = tf.oneHot(tf.tensor1d(Array.from(labels), 'int32'), classes);
      const variables = layers.flatMap((l) => [l.filter ?? l.weights, l.bias]).filter(Boolean);
      const loss = () => tf.losses.softmaxCrossEntropy(onehot, forward(layers, x));
      const train = () => {
        const { value, grads } = tf.variableGrads(loss, variables);
        const v = value.dataSync()[0];
        tf.dispose([value, ...Object.values(grads)]);
        return v;
      };
      return {
        async activate() {
          await tf.setBackend(backend);
        },
        forward() {
          const y = tf.tidy(() => forward(layers, x));
          const v = y.dataSync()[0];
          y.dispose();
          return v;
        },
        train,
        /** Loss and gradients in cnn-core's layouts, for the agreement check. */
        gradients() {
          const { value, grads } = tf.variableGrads(loss, variables);
          const result = { loss: value.dataSync()[0], weights: {}, bias: {} };
          for (const layer of layers) {
            if (layer.kind === 'conv') {
              const g = grads[layer.filter.name].dataSync();
              const [fh, fw, c, k] = layer.filter.shape;
              const ours = new Float32Array(g.length);
              for (let o = 0; o < k; o++) for (let ch = 0; ch < c; ch++) for (let u = 0; u < fh; u++) for (let v = 0; v < fw; v++) {
                ours[((o * c + ch) * fh + u) * fw + v] = g[((u * fw + v) * c + ch) * k + o];
              }
              result.weights[layer.index] = ours;
              result.bias[layer.index] = grads[layer.bias.name].dataSync();
            } else if (layer.kind === 'dense') {
              const g = grads[layer.weights.name].dataSync();
              const [c, h, wd] = shapes(network.spec)[layer.index].input;
              const n = layer.weights.shape[1];
              const ours = new Float32Array(g.length);
              for (let o = 0; o < n; o++) for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let xx = 0; xx < wd; xx++) {
                ours[o * c * h * wd + (ch * h + y) * wd + xx] = g[((y * wd + xx) * c + ch) * n + o];
              }
              result.weights[layer.index] = ours;
              result.bias[layer.index] = grads[layer.bias.name].dataSync();
            }
          }
          tf.dispose([value, ...Object.values(grads)]);
          return result;
        },
        close() {
          tf.dispose([x, onehot, ...variables]);
        },
      };
    },
  };
}
