// The benchmark's networks in cnn-core's spec format, and their multiply-add counts.
//
// Every contender builds the same layers from these specs, with the same seeded weights
// (drawn by cnn-core's Network::seeded and converted to each library's layout).

const conv = (kernels, size, padding = 0) => ({
  conv: { kernels, size: [size, size], stride: [1, 1], padding: [padding, padding], dilation: [1, 1] },
});
const pool = (kind) => ({ pool: { kind, size: [2, 2], stride: [2, 2] } });
const act = (name) => ({ activation: name });
const dense = (outputs) => ({ dense: { outputs } });

/** N1: 1×8×8 → conv 2@3×3 → sigmoid → mean pool 2×2 → dense 4 → softmax cross-entropy. */
function n1() {
  return { input: [1, 8, 8], layers: [conv(2, 3), act('sigmoid'), pool('mean'), dense(4)] };
}

/** N2: 1×28×28 → conv 6@5×5 → relu → pool 2×2 → conv 16@5×5 → relu → pool 2×2 → dense 10. */
function n2(kind) {
  return {
    input: [1, 28, 28],
    layers: [conv(6, 5), act('relu'), pool(kind), conv(16, 5), act('relu'), pool(kind), dense(10)],
  };
}

/** N3: 3×32×32 → three times (conv 5×5 pad 2 → relu → max pool 2×2) → dense 10. */
function n3() {
  return {
    input: [3, 32, 32],
    layers: [
      conv(16, 5, 2), act('relu'), pool('max'),
      conv(20, 5, 2), act('relu'), pool('max'),
      conv(20, 5, 2), act('relu'), pool('max'),
      dense(10),
    ],
  };
}

/** The networks in table order; `pool` names the pooling kind where it varies. */
export const NETWORKS = [
  { name: 'N1', spec: n1(), pool: 'mean' },
  { name: 'N2', spec: n2('max'), pool: 'max' },
  { name: 'N2-mean', spec: n2('mean'), pool: 'mean' },
  { name: 'N2-l2', spec: n2('l2'), pool: 'l2' },
  { name: 'N3', spec: n3(), pool: 'max' },
];

/** Returns each layer's input and output shape `[C, H, W]` (a dense output is `[N, 1, 1]`). */
export function shapes(spec) {
  let [c, h, w] = spec.input;
  const result = [];
  for (const layer of spec.layers) {
    const input = [c, h, w];
    if (layer.conv) {
      const { kernels, size, stride, padding } = layer.conv;
      h = Math.floor((h + 2 * padding[0] - size[0]) / stride[0]) + 1;
      w = Math.floor((w + 2 * padding[1] - size[1]) / stride[1]) + 1;
      c = kernels;
    } else if (layer.pool) {
      const { size, stride } = layer.pool;
      h = Math.floor((h - size[0]) / stride[0]) + 1;
      w = Math.floor((w - size[1]) / stride[1]) + 1;
    } else if (layer.dense) {
      [c, h, w] = [layer.dense.outputs, 1, 1];
    }
    result.push({ input, output: [c, h, w] });
  }
  return result;
}

/**
 * Returns the multiply-adds per example of the conv and dense layers, without pooling and
 * activations: `forward` for one forward pass and `train` for a training step. A training
 * step adds the weight gradient of every such layer, as many multiply-adds as its forward
 * pass, and the input gradient of every such layer but the first, the same again.
 */
export function multiplyAdds(spec) {
  const perLayer = [];
  shapes(spec).forEach(({ input, output }, i) => {
    const layer = spec.layers[i];
    if (layer.conv) {
      const [kh, kw] = layer.conv.size;
      perLayer.push(output[0] * output[1] * output[2] * input[0] * kh * kw);
    } else if (layer.dense) {
      perLayer.push(output[0] * input[0] * input[1] * input[2]);
    }
  });
  const forward = perLayer.reduce((a, b) => a + b, 0);
  const train = 2 * forward + (forward - perLayer[0]);
  return { forward, train };
}
