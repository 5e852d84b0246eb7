//! A fast `f32` engine for training and inference of a validated [`Network`], beside the
//! educational `f64` formulation of the rest of the crate.
//!
//! The engine computes the same functions as [`Network::forward`] and
//! [`Network::gradients`], with the same conventions (cross-correlation, floor-mode
//! pooling, first maximum wins, relu′(0) = 0, L2 gradient 0 for an all-zero window), but
//! formulated for speed:
//!
//! - conv layers as matrix products over the im2col matrix (see the `conv` submodule):
//!   `y = W·col + b`, `(dL/dW)ᵀ = col·δᵀ`, and `dL/dx` either as `col2im(Wᵀ·δ)` or, for
//!   stride 1, as a correlation of `δ` with the flipped kernels. With stride 1 the
//!   products read the padded input (and `δ`) in place instead of a copied im2col matrix.
//!   The matrix multiply is cache-blocked, with a register-blocked micro-kernel that the
//!   compiler turns into SIMD code (`f32x4` with `-C target-feature=+simd128` on wasm32);
//! - every buffer (activations, `δ`s, padded inputs, transposed weights) allocated once
//!   and reused, growing only when a larger batch arrives;
//! - a batch of examples per call, run example by example through all layers so that one
//!   example's values stay in the cache, with the loss and the gradients averaged over the
//!   batch: `L = (1/B) Σ_b ℓ_b`, so a batch of one gives the reference's gradients and
//!   each `dL/dx_b` is `(1/B)·dℓ_b/dx_b`;
//! - the first layer's input gradient skipped unless [`Engine::set_input_gradient`]
//!   turns it on, since a training step does not need it.
//!
//! The test `core/tests/fast_agrees.rs` checks on random networks of every layer kind and
//! setting, and on the golden cases, that every output and gradient equals the `f64`
//! reference's within `f32` rounding.
//!
//! ```
//! use cnn_core::fast::{Engine, Targets};
//! use cnn_core::{Network, NetworkSpec};
//!
//! let spec: NetworkSpec = serde_json::from_str(r#"{"input": [1, 6, 6], "layers": [
//!     {"conv": {"kernels": 2, "size": [3, 3]}},
//!     {"activation": "relu"},
//!     {"pool": {"kind": "max", "size": [2, 2], "stride": [2, 2]}},
//!     {"dense": {"outputs": 3}}]}"#).unwrap();
//! let network = Network::seeded(spec, 42).unwrap();
//! let mut engine = Engine::new(&network);
//! let batch: Vec<f32> = (0..2 * 36).map(|i| (i % 7) as f32 / 7.0).collect();
//! assert_eq!(engine.forward(&batch).unwrap().len(), 2 * 3);
//! let loss = engine.train_step(&batch, Targets::Labels(&[0, 2]), 0.1).unwrap();
//! assert!(loss > 0.0);
//! assert_eq!(engine.grad_weights(0).unwrap().len(), 2 * 9);
//! ```

mod conv;
mod dense;
mod elementwise;
mod gemm;
mod pool;

use crate::activation::Activation;
use crate::spec::LayerPlan;
use crate::{CoreError, LayerParams, Location, Network, Tensor};

use conv::ConvLayer;
use dense::DenseLayer;
use pool::PoolLayer;

/// The objective of the backward pass, one entry per example of the batch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Targets<'a> {
    /// Softmax cross-entropy on a class label per example.
    Labels(&'a [usize]),
    /// `½ Σ (y − t)²` with a target of the output's size per example, concatenated.
    Mse(&'a [f32]),
    /// A given `dℓ/dy` per example, concatenated: `ℓ = Σ g ⊙ y`.
    Upstream(&'a [f32]),
}

#[derive(Clone, Debug)]
enum Layer {
    Conv(Box<ConvLayer>),
    Activation(Activation),
    Pool(PoolLayer),
    Dense(DenseLayer),
}

/// The `f32` engine for one network: its parameters, gradients and reused buffers.
#[derive(Clone, Debug)]
pub struct Engine {
    input_shape: [usize; 3],
    layers: Vec<Layer>,
    /// `sizes[i]` values per example in `values[i]`: the input, then each layer's output.
    sizes: Vec<usize>,
    /// `values[0]` is the input batch and `values[i + 1]` the output of layer `i`.
    values: Vec<Vec<f32>>,
    /// `deltas[i]` is `dL/d(input of layer i)`, and the last entry `dL/d(final output)`.
    deltas: Vec<Vec<f32>>,
    /// Examples in the last batch.
    batch: usize,
    input_gradient: bool,
}

impl Engine {
    /// Builds the engine for `network`, with its parameters rounded to `f32`.
    pub fn new(network: &Network) -> Self {
        let plan = network.plan();
        let layers = plan
            .layers
            .iter()
            .zip(network.params())
            .map(|(layer, params)| build_layer(layer, params.as_ref()))
            .collect();
        let sizes: Vec<usize> = plan
            .shapes
            .iter()
            .map(|shape| shape.iter().product())
            .collect();
        Self {
            input_shape: network.spec().input,
            layers,
            values: vec![Vec::new(); sizes.len()],
            deltas: vec![Vec::new(); sizes.len()],
            sizes,
            batch: 0,
            input_gradient: false,
        }
    }

    /// Values per example of the input, `C·H·W`.
    pub fn input_len(&self) -> usize {
        self.sizes[0]
    }

    /// Values per example of the final output.
    pub fn output_len(&self) -> usize {
        *self.sizes.last().expect("the input size is always present")
    }

    /// Examples in the last batch run.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Sets whether [`Engine::backprop`] also computes `dL/dx` of the first layer (off by
    /// default, since the weight gradients do not need it).
    pub fn set_input_gradient(&mut self, compute: bool) {
        self.input_gradient = compute;
    }

    /// Runs the forward pass on a batch of examples, each `input_len()` values in the
    /// network's `C, H, W` order, and returns the final outputs, `output_len()` per example.
    ///
    /// Errors: an empty batch or one whose length is not a multiple of `input_len()`; a
    /// non-finite input value.
    pub fn forward(&mut self, inputs: &[f32]) -> Result<&[f32], CoreError> {
        self.load_batch(inputs)?;
        self.run_forward();
        let len = self.batch * self.output_len();
        Ok(&self.values.last().expect("the input is always present")[..len])
    }

    /// Runs forward and backward on a batch and returns the mean loss over the batch. The
    /// gradients of the mean loss are then in [`Engine::grad_weights`],
    /// [`Engine::grad_bias`] and [`Engine::grad_input`].
    ///
    /// Errors: the errors of [`Engine::forward`]; targets for another number of examples
    /// or of another size per example; a label out of range; a non-finite target value.
    pub fn backprop(&mut self, inputs: &[f32], targets: Targets) -> Result<f32, CoreError> {
        let batch = self.check_batch(inputs)?;
        self.check_targets(&targets, batch)?;
        self.load_batch(inputs)?;
        self.run_forward();
        let loss = self.start_backward(&targets);
        self.run_backward();
        Ok(loss)
    }

    /// Runs [`Engine::backprop`], then one plain SGD step `θ ← θ − η·dL/dθ` with
    /// `learning_rate` η, and returns the mean loss before the step.
    ///
    /// Errors: the errors of [`Engine::backprop`].
    pub fn train_step(
        &mut self,
        inputs: &[f32],
        targets: Targets,
        learning_rate: f32,
    ) -> Result<f32, CoreError> {
        let loss = self.backprop(inputs, targets)?;
        self.apply_sgd(learning_rate);
        Ok(loss)
    }

    /// Moves every weight and bias by `−learning_rate` times its last gradient.
    pub fn apply_sgd(&mut self, learning_rate: f32) {
        for layer in &mut self.layers {
            match layer {
                Layer::Conv(c) => {
                    dense::axpy(-learning_rate, &c.grad_w, &mut c.weights);
                    dense::axpy(-learning_rate, &c.grad_b, &mut c.bias);
                    c.weights_changed();
                }
                Layer::Dense(d) => {
                    dense::axpy(-learning_rate, &d.grad_w, &mut d.weights);
                    dense::axpy(-learning_rate, &d.grad_b, &mut d.bias);
                }
                Layer::Activation(_) | Layer::Pool(_) => {}
            }
        }
    }

    /// The output of layer `layer` for the last batch, `batch()` examples concatenated.
    pub fn output(&self, layer: usize) -> &[f32] {
        &self.values[layer + 1][..self.batch * self.sizes[layer + 1]]
    }

    /// `dL/d(input of layer)` from the last [`Engine::backprop`], or `None` for the first
    /// layer when [`Engine::set_input_gradient`] is off.
    pub fn grad_input(&self, layer: usize) -> Option<&[f32]> {
        if layer == 0 && !self.input_gradient {
            return None;
        }
        Some(&self.deltas[layer][..self.batch * self.sizes[layer]])
    }

    /// The weights of a conv (`[K, C, FH, FW]`) or dense (`[outputs, inputs]`) layer.
    pub fn weights(&self, layer: usize) -> Option<&[f32]> {
        match &self.layers[layer] {
            Layer::Conv(c) => Some(&c.weights),
            Layer::Dense(d) => Some(&d.weights),
            Layer::Activation(_) | Layer::Pool(_) => None,
        }
    }

    pub fn bias(&self, layer: usize) -> Option<&[f32]> {
        match &self.layers[layer] {
            Layer::Conv(c) => Some(&c.bias),
            Layer::Dense(d) => Some(&d.bias),
            Layer::Activation(_) | Layer::Pool(_) => None,
        }
    }

    /// `dL/dW` of a conv or dense layer from the last [`Engine::backprop`].
    pub fn grad_weights(&self, layer: usize) -> Option<&[f32]> {
        match &self.layers[layer] {
            Layer::Conv(c) => Some(&c.grad_w),
            Layer::Dense(d) => Some(&d.grad_w),
            Layer::Activation(_) | Layer::Pool(_) => None,
        }
    }

    /// `dL/db` of a conv or dense layer from the last [`Engine::backprop`].
    pub fn grad_bias(&self, layer: usize) -> Option<&[f32]> {
        match &self.layers[layer] {
            Layer::Conv(c) => Some(&c.grad_b),
            Layer::Dense(d) => Some(&d.grad_b),
            Layer::Activation(_) | Layer::Pool(_) => None,
        }
    }

    /// The current parameters as `f64` tensors, in the layout of [`Network::params`], for
    /// [`Network::set_params`].
    pub fn params(&self) -> Vec<Option<LayerParams>> {
        let to_tensor = |shape: &[usize], values: &[f32]| {
            Tensor::from_vec(shape, values.iter().map(|&v| f64::from(v)).collect())
                .expect("sized from the plan")
        };
        self.layers
            .iter()
            .map(|layer| match layer {
                Layer::Conv(c) => Some(LayerParams {
                    weights: to_tensor(&c.g.weight_shape(), &c.weights),
                    bias: to_tensor(&[c.g.chan_out], &c.bias),
                }),
                Layer::Dense(d) => Some(LayerParams {
                    weights: to_tensor(&[d.outputs, d.inputs], &d.weights),
                    bias: to_tensor(&[d.outputs], &d.bias),
                }),
                Layer::Activation(_) | Layer::Pool(_) => None,
            })
            .collect()
    }

    /// Returns the number of examples in `inputs` after checking its length.
    fn check_batch(&self, inputs: &[f32]) -> Result<usize, CoreError> {
        let size = self.input_len();
        if inputs.is_empty() || !inputs.len().is_multiple_of(size) {
            let [c, h, w] = self.input_shape;
            return Err(CoreError::WrongShape {
                at: Location::Input,
                tensor: "the input batch",
                expected: vec![(inputs.len() / size).max(1), c, h, w],
                actual: vec![inputs.len()],
            });
        }
        Ok(inputs.len() / size)
    }

    /// Checks a batch and copies it into the input buffer, growing every buffer that is
    /// too small for it.
    fn load_batch(&mut self, inputs: &[f32]) -> Result<(), CoreError> {
        let batch = self.check_batch(inputs)?;
        if let Some(at) = inputs.iter().position(|v| !v.is_finite()) {
            let [c, h, w] = self.input_shape;
            return Err(CoreError::NotFinite {
                at: Location::Input,
                tensor: "the input batch",
                index: vec![at / (c * h * w), at / (h * w) % c, at / w % h, at % w],
                value: f64::from(inputs[at]),
            });
        }
        for ((values, deltas), &size) in self
            .values
            .iter_mut()
            .zip(&mut self.deltas)
            .zip(&self.sizes)
        {
            if values.len() < batch * size {
                values.resize(batch * size, 0.0);
                deltas.resize(batch * size, 0.0);
            }
        }
        self.values[0][..inputs.len()].copy_from_slice(inputs);
        self.batch = batch;
        Ok(())
    }

    fn check_targets(&self, targets: &Targets, batch: usize) -> Result<(), CoreError> {
        let classes = self.output_len();
        let (given, per_example) = match targets {
            Targets::Labels(labels) => {
                if let Some(&label) = labels.iter().find(|&&label| label >= classes) {
                    return Err(CoreError::LabelOutOfRange { label, classes });
                }
                (labels.len(), 1)
            }
            Targets::Mse(values) | Targets::Upstream(values) => {
                if let Some(at) = values.iter().position(|v| !v.is_finite()) {
                    return Err(CoreError::NotFinite {
                        at: Location::Objective,
                        tensor: "the targets",
                        index: vec![at / classes, at % classes],
                        value: f64::from(values[at]),
                    });
                }
                (values.len(), classes)
            }
        };
        if given != batch * per_example {
            return Err(CoreError::WrongShape {
                at: Location::Objective,
                tensor: "the targets",
                expected: vec![batch, per_example],
                actual: vec![given],
            });
        }
        Ok(())
    }

    /// Runs each example of the batch through every layer before the next example, so
    /// that one example's values stay in the cache from layer to layer.
    fn run_forward(&mut self) {
        let batch = self.batch;
        for layer in &mut self.layers {
            if let Layer::Pool(p) = layer {
                p.reserve(batch);
            }
        }
        for b in 0..batch {
            for (index, layer) in self.layers.iter_mut().enumerate() {
                let (x_size, y_size) = (self.sizes[index], self.sizes[index + 1]);
                let (done, rest) = self.values.split_at_mut(index + 1);
                let x = &done[index][b * x_size..(b + 1) * x_size];
                let y = &mut rest[0][b * y_size..(b + 1) * y_size];
                match layer {
                    Layer::Conv(c) => c.forward(x, y),
                    Layer::Activation(f) => elementwise::activation_forward(*f, x, y),
                    Layer::Pool(p) => p.forward(b, x, y),
                    Layer::Dense(d) => d.forward(x, y),
                }
            }
        }
    }

    /// Evaluates the targets on the final output, writes `dL/d(final output)` and returns
    /// the mean loss.
    fn start_backward(&mut self, targets: &Targets) -> f32 {
        let (batch, size) = (self.batch, self.output_len());
        let scale = 1.0 / batch as f32;
        let y = &self.values.last().expect("the input is always present")[..batch * size];
        let grad = &mut self.deltas.last_mut().expect("the input is always present");
        let mut total = 0.0;
        for b in 0..batch {
            let range = b * size..(b + 1) * size;
            let (y_b, grad_b) = (&y[range.clone()], &mut grad[range.clone()]);
            total += match targets {
                Targets::Labels(labels) => {
                    elementwise::softmax_cross_entropy(y_b, labels[b], scale, grad_b)
                }
                Targets::Mse(t) => elementwise::mse(y_b, &t[range], scale, grad_b),
                Targets::Upstream(g) => elementwise::upstream(y_b, &g[range], scale, grad_b),
            };
        }
        total * scale
    }

    /// Runs the backward pass example by example, as [`Engine::run_forward`] does, adding
    /// each example's share into the weight and bias gradients.
    fn run_backward(&mut self) {
        let batch = self.batch;
        let wants_grad_x = |index: usize| index > 0 || self.input_gradient;
        for (index, layer) in self.layers.iter_mut().enumerate() {
            match layer {
                Layer::Conv(c) => c.start_backward(wants_grad_x(index)),
                Layer::Dense(d) => d.start_backward(),
                Layer::Activation(_) | Layer::Pool(_) => {}
            }
        }
        for b in 0..batch {
            for (index, layer) in self.layers.iter_mut().enumerate().rev() {
                let (x_size, y_size) = (self.sizes[index], self.sizes[index + 1]);
                let (below, above) = self.deltas.split_at_mut(index + 1);
                let delta = &above[0][b * y_size..(b + 1) * y_size];
                let grad_x = &mut below[index][b * x_size..(b + 1) * x_size];
                let x = &self.values[index][b * x_size..(b + 1) * x_size];
                let y = &self.values[index + 1][b * y_size..(b + 1) * y_size];
                let wants = wants_grad_x(index);
                match layer {
                    Layer::Conv(c) => c.backward(x, delta, wants.then_some(grad_x)),
                    Layer::Dense(d) => d.backward(x, delta, wants.then_some(grad_x)),
                    Layer::Activation(f) if wants => {
                        elementwise::activation_backward(*f, y, delta, grad_x)
                    }
                    Layer::Pool(p) if wants => p.backward(b, [x, y], delta, grad_x),
                    Layer::Activation(_) | Layer::Pool(_) => {}
                }
            }
        }
        for layer in &mut self.layers {
            if let Layer::Conv(c) = layer {
                c.finish_backward();
            }
        }
    }
}

fn to_f32(tensor: &Tensor) -> Vec<f32> {
    tensor.data().iter().map(|&v| v as f32).collect()
}

fn build_layer(layer: &LayerPlan, params: Option<&LayerParams>) -> Layer {
    let params = || params.expect("a validated network has parameters for this layer");
    match layer {
        LayerPlan::Conv(g) => Layer::Conv(Box::new(ConvLayer::new(
            g.clone(),
            to_f32(&params().weights),
            to_f32(&params().bias),
        ))),
        LayerPlan::Dense { inputs, outputs } => Layer::Dense(DenseLayer::new(
            *inputs,
            *outputs,
            to_f32(&params().weights),
            to_f32(&params().bias),
        )),
        LayerPlan::Activation(f) => Layer::Activation(*f),
        LayerPlan::Pool(g) => Layer::Pool(PoolLayer::new(g.clone())),
    }
}
