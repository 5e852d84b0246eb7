// ConvNetJS 0.3.0, which runs one example at a time (no batches) in Float64Array volumes.
//
// Differences from cnn-core, and how they are handled:
// - ConvNetJS pads conv and pool inputs only by an explicit `pad`. Every layer here sets
//   it (0, or 2 for N3's convs), so the output sizes equal cnn-core's.
// - Its pool layer is max pooling only. N1 needs mean pooling, so `MeanPoolLayer` below,
//   written for this benchmark against ConvNetJS's layer interface (forward, backward,
//   getParamsAndGrads on Vol objects), takes the place of the max-pool layer. N2 with
//   mean or L2 pooling is not run.
// - Its max pool scans a window column by column, so a tie goes to the first maximum in
//   column-major order instead of row-major. Ties among non-zero values do not occur with
//   these random inputs; ties among relu zeros pass a zero gradient either way.
// - Its volumes are [H][W][C] (index (y·W + x)·C + c): weights and inputs are converted.

import convnetjs from 'convnetjs';

import { shapes } from '../networks.mjs';

/** Mean pooling over `sx × sy` windows `stride` apart, no padding, as a ConvNetJS layer. */
class MeanPoolLayer {
  constructor(template) {
    for (const key of ['sx', 'sy', 'stride', 'in_sx', 'in_sy', 'in_depth', 'out_sx', 'out_sy', 'out_depth']) {
      this[key] = template[key];
    }
    this.layer_type = 'pool';
  }

  forward(V) {
    this.in_act = V;
    const A = new convnetjs.Vol(this.out_sx, this.out_sy, this.out_depth, 0.0);
    const area = this.sx * this.sy;
    for (let d = 0; d < this.out_depth; d++) {
      for (let ay = 0; ay < this.out_sy; ay++) {
        for (let ax = 0; ax < this.out_sx; ax++) {
          let sum = 0;
          for (let fy = 0; fy < this.sy; fy++) {
            for (let fx = 0; fx < this.sx; fx++) {
              sum += V.w[(V.sx * (ay * this.stride + fy) + ax * this.stride + fx) * V.depth + d];
            }
          }
          A.w[(this.out_sx * ay + ax) * this.out_depth + d] = sum / area;
        }
      }
    }
    this.out_act = A;
    return A;
  }

  backward() {
    const V = this.in_act;
    const A = this.out_act;
    V.dw = new Float64Array(V.w.length);
    const area = this.sx * this.sy;
    for (let d = 0; d < this.out_depth; d++) {
      for (let ay = 0; ay < this.out_sy; ay++) {
        for (let ax = 0; ax < this.out_sx; ax++) {
          const share = A.dw[(this.out_sx * ay + ax) * this.out_depth + d] / area;
          for (let fy = 0; fy < this.sy; fy++) {
            for (let fx = 0; fx < this.sx; fx++) {
              V.dw[(V.sx * (ay * this.stride + fy) + ax * this.stride + fx) * V.depth + d] += share;
            }
          }
        }
      }
    }
  }

  getParamsAndGrads() {
    return [];
  }
}

const flat = (nested) => nested.flat(Infinity);

/** Builds the ConvNetJS net of `spec` and returns it with, per cnn-core layer index, the
 * ConvNetJS layer holding that layer's parameters. */
function build(spec, params) {
  const [c, h, w] = spec.input;
  const defs = [{ type: 'input', out_sx: w, out_sy: h, out_depth: c }];
  const meanPools = [];
  const owners = []; // [cnn-core layer index, position in defs]
  for (let i = 0; i < spec.layers.length; i++) {
    const layer = spec.layers[i];
    const next = spec.layers[i + 1];
    if (layer.conv) {
      const def = { type: 'conv', sx: layer.conv.size[1], sy: layer.conv.size[0], filters: layer.conv.kernels, stride: layer.conv.stride[0], pad: layer.conv.padding[0] };
      if (next && next.activation && next.activation !== 'identity') {
        def.activation = next.activation;
        i++;
      }
      owners.push([def.activation ? i - 1 : i, defs.length]);
      defs.push(def);
    } else if (layer.pool) {
      if (layer.pool.kind === 'l2') throw new Error('ConvNetJS has no L2 pooling');
      if (layer.pool.kind === 'mean') meanPools.push(defs.length);
      defs.push({ type: 'pool', sx: layer.pool.size[1], sy: layer.pool.size[0], stride: layer.pool.stride[0], pad: 0 });
    } else if (layer.dense) {
      if (i !== spec.layers.length - 1) throw new Error('the benchmark puts the dense layer last, before the softmax loss');
      owners.push([i, defs.length]);
      defs.push({ type: 'softmax', num_classes: layer.dense.outputs });
    } else if (layer.activation) {
      throw new Error(`activation ${layer.activation} without a conv layer before it`);
    }
  }
  const net = new convnetjs.Net();
  net.makeLayers(defs);
  // makeLayers inserts an activation layer after each conv with one, and an fc layer
  // before the softmax layer; map each def position to its layer.
  const layerOf = [];
  let position = 0;
  for (let d = 0; d < defs.length; d++) {
    if (defs[d].type === 'softmax') position++; // the inserted fc layer
    layerOf.push(position);
    position += defs[d].activation ? 2 : 1;
  }
  for (const d of meanPools) {
    net.layers[layerOf[d]] = new MeanPoolLayer(net.layers[layerOf[d]]);
  }

  // Copy cnn-core's weights in: conv [K, C, FH, FW] → filters[k] at ((FW·u) + v)·C + c;
  // dense [N, C·H·W] → filters[n] at (y·W + x)·C + c.
  const layerShapes = shapes(spec);
  const paramLayers = {};
  for (const [index, d] of owners) {
    const fc = defs[d].type === 'softmax';
    const target = net.layers[layerOf[d] - (fc ? 1 : 0)];
    paramLayers[index] = target;
    const weights = flat(params[index].weights);
    const bias = flat(params[index].bias);
    const [ic, ih, iw] = layerShapes[index].input;
    target.filters.forEach((filter, k) => {
      if (fc) {
        for (let ch = 0; ch < ic; ch++) for (let y = 0; y < ih; y++) for (let x = 0; x < iw; x++) {
          filter.w[(y * iw + x) * ic + ch] = weights[k * ic * ih * iw + (ch * ih + y) * iw + x];
        }
      } else {
        const { sx, sy } = filter;
        for (let ch = 0; ch < ic; ch++) for (let u = 0; u < sy; u++) for (let v = 0; v < sx; v++) {
          filter.w[(sx * u + v) * ic + ch] = weights[((k * ic + ch) * sy + u) * sx + v];
        }
      }
    });
    bias.forEach((b, k) => { target.biases.w[k] = b; });
  }
  return { net, paramLayers };
}

/** Converts one example in C, H, W order to a ConvNetJS volume. */
function toVol(values, [c, h, w]) {
  const vol = new convnetjs.Vol(w, h, c, 0.0);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    vol.w[(y * w + x) * c + ch] = values[(ch * h + y) * w + x];
  }
  return vol;
}

export const contender = {
  name: 'convnetjs',
  batches: false,
  supports(network) {
    return network.pool === 'l2' || network.name === 'N2-mean' ? 'max pooling only' : true;
  },
  async prepare(workload) {
    const { network, batch, params, inputs, labels } = workload;
    if (batch !== 1) throw new Error('ConvNetJS runs one example at a time');
    const { net, paramLayers } = build(network.spec, params);
    const vol = toVol(inputs, network.spec.input);
    const label = labels[0];
    return {
      async activate() {},
      forward() {
        return net.forward(vol, false).w[0];
      },
      train() {
        net.forward(vol, true);
        return net.backward(label);
      },
      gradients() {
        for (const layer of Object.values(paramLayers)) {
          for (const { grads } of layer.getParamsAndGrads()) grads.fill(0);
        }
        net.forward(vol, true);
        const loss = net.backward(label);
        const result = { loss, weights: {}, bias: {} };
        const layerShapes = shapes(network.spec);
        for (const [index, layer] of Object.entries(paramLayers)) {
          const [ic, ih, iw] = layerShapes[index].input;
          const fc = layer.layer_type === 'fc';
          const ours = [];
          layer.filters.forEach((filter) => {
            if (fc) {
              for (let ch = 0; ch < ic; ch++) for (let y = 0; y < ih; y++) for (let x = 0; x < iw; x++) {
                ours.push(filter.dw[(y * iw + x) * ic + ch]);
              }
            } else {
              const { sx, sy } = filter;
              for (let ch = 0; ch < ic; ch++) for (let u = 0; u < sy; u++) for (let v = 0; v < sx; v++) {
                ours.push(filter.dw[(sx * u + v) * ic + ch]);
              }
            }
          });
          result.weights[index] = Float64Array.from(ours);
          result.bias[index] = Float64Array.from(layer.biases.dw);
        }
        return result;
      },
      close() {},
    };
  },
};
