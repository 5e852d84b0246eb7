//! A trace: every forward value and every backward step of one run, as plain data that a
//! front end replays one step at a time without recomputing anything.
//!
//! Backward steps come in the order the backward pass takes them: the loss gradient (or
//! the given upstream gradient), then for each layer from the last to the first:
//! - dense: `dense_params` (dW, db), then `dense_input` (δ to the previous layer);
//! - activation: `activation` (f′(z) and δ ⊙ f′(z));
//! - pool: `pool` (the routing used and the upsampled δ);
//! - conv: `conv_weights` (dW), `conv_bias` (db), then `conv_input` (δ to the previous
//!   layer by full correlation with the rotated kernels).

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::conv::ConvSpec;
use crate::loss::{Loss, Objective};
use crate::network::{Gradients, LayerBackward, LayerParams, Network};
use crate::pool::{PoolRouting, PoolSpec};
use crate::spec::{LayerSpec, NetworkSpec};
use crate::{CoreError, Tensor};

/// Everything one run computed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    pub network: NetworkSpec,
    pub input: Tensor,
    pub forward: Vec<ForwardStep>,
    /// The loss, when the run had a loss rather than a given upstream gradient.
    pub loss: Option<LossReport>,
    pub backward: Vec<BackwardStep>,
}

/// One layer's forward computation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForwardStep {
    pub layer: usize,
    #[serde(flatten)]
    pub op: ForwardOp,
}

/// A layer's forward inputs and outputs. For a conv or dense layer `y` is the
/// pre-activation `z` of a following activation layer, whose input is named `z`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ForwardOp {
    Conv {
        spec: ConvSpec,
        x: Tensor,
        x_padded: Tensor,
        w: Tensor,
        b: Tensor,
        y: Tensor,
    },
    Activation {
        function: Activation,
        z: Tensor,
        y: Tensor,
    },
    Pool {
        spec: PoolSpec,
        x: Tensor,
        y: Tensor,
        /// For max pooling, `[C, H_out, W_out, 2]`: the row and column of each window's
        /// first maximum, recorded here for the backward pass.
        switches: Option<Tensor>,
    },
    Dense {
        x: Tensor,
        w: Tensor,
        b: Tensor,
        y: Tensor,
    },
}

impl ForwardOp {
    /// Returns the layer's output.
    pub fn y(&self) -> &Tensor {
        match self {
            ForwardOp::Conv { y, .. }
            | ForwardOp::Activation { y, .. }
            | ForwardOp::Pool { y, .. }
            | ForwardOp::Dense { y, .. } => y,
        }
    }

    /// Returns the layer's input.
    pub fn x(&self) -> &Tensor {
        match self {
            ForwardOp::Conv { x, .. } | ForwardOp::Pool { x, .. } | ForwardOp::Dense { x, .. } => x,
            ForwardOp::Activation { z, .. } => z,
        }
    }
}

/// The loss of a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LossReport {
    pub loss: Loss,
    pub value: f64,
    /// `softmax(y)` for the cross-entropy loss.
    pub probabilities: Option<Tensor>,
    /// The index of the largest output, the first one on a tie.
    pub predicted: usize,
}

/// One step of the backward pass. `layer` is `None` for the step that starts it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BackwardStep {
    pub layer: Option<usize>,
    #[serde(flatten)]
    pub op: BackwardOp,
}

/// The tensors one backward step computed; `grad_y` is always the δ arriving at the step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum BackwardOp {
    /// `dL/dy` of the loss at the final output `y`.
    LossGradient {
        y: Tensor,
        grad_y: Tensor,
    },
    /// A given `dL/dy` at the final output.
    Upstream {
        grad_y: Tensor,
    },
    DenseParams {
        x: Tensor,
        grad_y: Tensor,
        grad_w: Tensor,
        grad_b: Tensor,
    },
    DenseInput {
        w: Tensor,
        grad_y: Tensor,
        grad_x: Tensor,
    },
    Activation {
        function: Activation,
        z: Tensor,
        grad_y: Tensor,
        derivative: Tensor,
        grad_x: Tensor,
    },
    Pool {
        spec: PoolSpec,
        x: Tensor,
        grad_y: Tensor,
        routing: PoolRouting,
        grad_x: Tensor,
    },
    ConvWeights {
        spec: ConvSpec,
        x_padded: Tensor,
        grad_y: Tensor,
        /// `δ` with `S − 1` zeros between entries.
        grad_y_dilated: Tensor,
        grad_w: Tensor,
    },
    ConvBias {
        grad_y: Tensor,
        grad_b: Tensor,
    },
    ConvInput {
        spec: ConvSpec,
        grad_y: Tensor,
        /// The zero-inserted `δ` padded by the dilated kernel extent − 1 on each side.
        grad_y_full: Tensor,
        kernels_rotated: Tensor,
        /// Kernel `k`'s share of `dL/dx[c]`, `[K, C, H, W]`.
        contributions: Tensor,
        grad_x_padded: Tensor,
        grad_x: Tensor,
    },
}

impl BackwardOp {
    /// The step's name as written in JSON (`"conv_input"`, say).
    pub fn name(&self) -> &'static str {
        match self {
            BackwardOp::LossGradient { .. } => "loss_gradient",
            BackwardOp::Upstream { .. } => "upstream",
            BackwardOp::DenseParams { .. } => "dense_params",
            BackwardOp::DenseInput { .. } => "dense_input",
            BackwardOp::Activation { .. } => "activation",
            BackwardOp::Pool { .. } => "pool",
            BackwardOp::ConvWeights { .. } => "conv_weights",
            BackwardOp::ConvBias { .. } => "conv_bias",
            BackwardOp::ConvInput { .. } => "conv_input",
        }
    }

    /// A short description of what the step computes, in the core's notation.
    pub fn summary(&self) -> String {
        match self {
            BackwardOp::LossGradient { .. } => "δ = dL/dy at the output".into(),
            BackwardOp::Upstream { .. } => "δ = the given upstream gradient".into(),
            BackwardOp::DenseParams { .. } => "dW = δ xᵀ, db = δ".into(),
            BackwardOp::DenseInput { .. } => "δ to the previous layer = Wᵀ δ".into(),
            BackwardOp::Activation { function, .. } => {
                format!("δ ⊙ f′(z) with f = {}", function.name())
            }
            BackwardOp::Pool { spec, routing, .. } => match routing {
                PoolRouting::Mean { beta } => format!(
                    "mean pool: each cell of a {}×{} window gets δ/{beta}",
                    spec.size[0], spec.size[1]
                ),
                PoolRouting::Max { .. } => "max pool: δ goes to the switch of each window".into(),
                PoolRouting::L2 { .. } => "L2 pool: each cell gets δ·x/‖x‖".into(),
            },
            BackwardOp::ConvWeights { .. } => "dW = valid correlation of x with δ".into(),
            BackwardOp::ConvBias { .. } => "db = Σ δ per kernel".into(),
            BackwardOp::ConvInput { .. } => {
                "δ to the previous layer = Σ over kernels of full correlation of δ with rot180(W)"
                    .into()
            }
        }
    }

    /// Returns the δ arriving at this step.
    pub fn grad_y(&self) -> &Tensor {
        match self {
            BackwardOp::LossGradient { grad_y, .. }
            | BackwardOp::Upstream { grad_y }
            | BackwardOp::DenseParams { grad_y, .. }
            | BackwardOp::DenseInput { grad_y, .. }
            | BackwardOp::Activation { grad_y, .. }
            | BackwardOp::Pool { grad_y, .. }
            | BackwardOp::ConvWeights { grad_y, .. }
            | BackwardOp::ConvBias { grad_y, .. }
            | BackwardOp::ConvInput { grad_y, .. } => grad_y,
        }
    }

    /// `dL/d(layer input)`, for the steps that compute it.
    pub fn grad_x(&self) -> Option<&Tensor> {
        match self {
            BackwardOp::DenseInput { grad_x, .. }
            | BackwardOp::Activation { grad_x, .. }
            | BackwardOp::Pool { grad_x, .. }
            | BackwardOp::ConvInput { grad_x, .. } => Some(grad_x),
            _ => None,
        }
    }
}

/// The first NaN or infinity of a trace and its place.
#[derive(Clone, Debug, PartialEq)]
pub struct NonFinite {
    /// `Forward(layer)` or `Backward(step)`, in the order the run computed them.
    pub place: NonFinitePlace,
    /// The trace's name of the tensor (`"y"`, `"grad_x"` …).
    pub tensor: &'static str,
    pub index: Vec<usize>,
    pub value: f64,
}

/// The step of a [`NonFinite`] value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonFinitePlace {
    Forward(usize),
    Backward(usize),
}

impl Trace {
    /// Finds the first non-finite value in the order of the run: the forward outputs layer
    /// by layer, then the backward steps' results.
    pub fn first_non_finite(&self) -> Option<NonFinite> {
        for step in &self.forward {
            if let Some((index, value)) = step.op.y().first_non_finite() {
                return Some(NonFinite {
                    place: NonFinitePlace::Forward(step.layer),
                    tensor: "y",
                    index,
                    value,
                });
            }
        }
        for (n, step) in self.backward.iter().enumerate() {
            let results: [(&'static str, Option<&Tensor>); 4] = match &step.op {
                BackwardOp::DenseParams { grad_w, grad_b, .. } => [
                    ("grad_w", Some(grad_w)),
                    ("grad_b", Some(grad_b)),
                    ("", None),
                    ("", None),
                ],
                BackwardOp::ConvWeights { grad_w, .. } => {
                    [("grad_w", Some(grad_w)), ("", None), ("", None), ("", None)]
                }
                BackwardOp::ConvBias { grad_b, .. } => {
                    [("grad_b", Some(grad_b)), ("", None), ("", None), ("", None)]
                }
                BackwardOp::Activation {
                    derivative, grad_x, ..
                } => [
                    ("derivative", Some(derivative)),
                    ("grad_x", Some(grad_x)),
                    ("", None),
                    ("", None),
                ],
                op => [
                    ("grad_y", Some(op.grad_y())),
                    ("grad_x", op.grad_x()),
                    ("", None),
                    ("", None),
                ],
            };
            for (tensor, t) in results {
                if let Some((index, value)) = t.and_then(Tensor::first_non_finite) {
                    return Some(NonFinite {
                        place: NonFinitePlace::Backward(n),
                        tensor,
                        index,
                        value,
                    });
                }
            }
        }
        None
    }

    /// Runs `network` on `x` with `objective` and records every step.
    ///
    /// Errors: the errors of [`Network::forward`] and [`Network::start_backward`].
    pub fn record(network: &Network, x: &Tensor, objective: &Objective) -> Result<Self, CoreError> {
        let pass = network.forward(x)?;
        let (value, grad_out) = network.start_backward(&pass, objective)?;
        let records = network.backward(&pass, &grad_out);
        let spec = network.spec();

        let forward = spec
            .layers
            .iter()
            .enumerate()
            .map(|(layer, layer_spec)| {
                let x = pass.values[layer].clone();
                let y = pass.values[layer + 1].clone();
                let params = network.params()[layer].as_ref();
                let op = match layer_spec {
                    LayerSpec::Conv(conv_spec) => {
                        let p = params.expect("conv layers have parameters");
                        ForwardOp::Conv {
                            spec: conv_spec.clone(),
                            x_padded: crate::conv::pad(&x, conv_spec.padding),
                            x,
                            w: p.weights.clone(),
                            b: p.bias.clone(),
                            y,
                        }
                    }
                    LayerSpec::Activation(function) => ForwardOp::Activation {
                        function: *function,
                        z: x,
                        y,
                    },
                    LayerSpec::Pool(pool_spec) => {
                        let record = pass.pools[layer].as_ref().expect("recorded in forward");
                        ForwardOp::Pool {
                            spec: pool_spec.clone(),
                            x,
                            y,
                            switches: switch_table(
                                &record.switches,
                                pool_spec,
                                &pass.values[layer],
                            ),
                        }
                    }
                    LayerSpec::Dense(_) => {
                        let p = params.expect("dense layers have parameters");
                        ForwardOp::Dense {
                            x,
                            w: p.weights.clone(),
                            b: p.bias.clone(),
                            y,
                        }
                    }
                };
                ForwardStep { layer, op }
            })
            .collect();

        let loss = match (objective, &value) {
            (Objective::Loss(l), Some(v)) => Some(LossReport {
                loss: l.clone(),
                value: v.loss,
                probabilities: v.probabilities.clone(),
                predicted: pass.output().argmax().unwrap_or(0),
            }),
            _ => None,
        };
        let first = match objective {
            Objective::Loss(_) => BackwardOp::LossGradient {
                y: pass.output().clone(),
                grad_y: grad_out.clone(),
            },
            Objective::Upstream(_) => BackwardOp::Upstream {
                grad_y: grad_out.clone(),
            },
        };
        let mut backward = vec![BackwardStep {
            layer: None,
            op: first,
        }];
        let mut grad_y = grad_out;
        for (layer, record) in records.into_iter().enumerate().rev() {
            let x = &pass.values[layer];
            let steps = backward_steps(
                &spec.layers[layer],
                network.params()[layer].as_ref(),
                x,
                grad_y,
                record,
            );
            grad_y = steps
                .last()
                .and_then(|s| s.grad_x())
                .expect("every layer ends with its input gradient")
                .clone();
            backward.extend(steps.into_iter().map(|op| BackwardStep {
                layer: Some(layer),
                op,
            }));
        }

        Ok(Trace {
            network: spec.clone(),
            input: x.clone(),
            forward,
            loss,
            backward,
        })
    }

    /// The final output of the network.
    pub fn output(&self) -> &Tensor {
        self.forward.last().map(|s| s.op.y()).unwrap_or(&self.input)
    }

    /// Each layer's output, in layer order.
    pub fn outputs(&self) -> Vec<Tensor> {
        self.forward.iter().map(|s| s.op.y().clone()).collect()
    }

    /// The gradients in the layout of a golden case, read back from the steps.
    pub fn gradients(&self) -> Gradients {
        let layers = self.forward.len();
        let mut grad_inputs = vec![Tensor::default(); layers];
        let mut grad_params: Vec<Option<LayerParams>> = vec![None; layers];
        for step in &self.backward {
            let Some(layer) = step.layer else { continue };
            if let Some(g) = step.op.grad_x() {
                grad_inputs[layer] = g.clone();
            }
            match &step.op {
                BackwardOp::DenseParams { grad_w, grad_b, .. } => {
                    grad_params[layer] = Some(LayerParams {
                        weights: grad_w.clone(),
                        bias: grad_b.clone(),
                    });
                }
                BackwardOp::ConvWeights { grad_w, .. } => {
                    let entry = grad_params[layer].get_or_insert_with(|| LayerParams {
                        weights: Tensor::default(),
                        bias: Tensor::default(),
                    });
                    entry.weights = grad_w.clone();
                }
                BackwardOp::ConvBias { grad_b, .. } => {
                    let entry = grad_params[layer].get_or_insert_with(|| LayerParams {
                        weights: Tensor::default(),
                        bias: Tensor::default(),
                    });
                    entry.bias = grad_b.clone();
                }
                _ => {}
            }
        }
        Gradients {
            grad_inputs,
            grad_params,
        }
    }
}

/// Turns flat switch indices into a `[C, H_out, W_out, 2]` table of rows and columns.
fn switch_table(switches: &[usize], spec: &PoolSpec, x: &Tensor) -> Option<Tensor> {
    if switches.is_empty() {
        return None;
    }
    let (rows, cols) = (x.shape()[1], x.shape()[2]);
    let out_rows = (rows - spec.size[0]) / spec.stride[0] + 1;
    let out_cols = (cols - spec.size[1]) / spec.stride[1] + 1;
    let cells = switches
        .iter()
        .flat_map(|&at| {
            let within = at % (rows * cols);
            [(within / cols) as f64, (within % cols) as f64]
        })
        .collect();
    Tensor::from_vec(&[x.shape()[0], out_rows, out_cols, 2], cells)
}

fn backward_steps(
    layer: &LayerSpec,
    params: Option<&LayerParams>,
    x: &Tensor,
    grad_y: Tensor,
    record: LayerBackward,
) -> Vec<BackwardOp> {
    match (layer, record) {
        (LayerSpec::Conv(spec), LayerBackward::Conv(b)) => vec![
            BackwardOp::ConvWeights {
                spec: spec.clone(),
                x_padded: b.x_padded,
                grad_y: grad_y.clone(),
                grad_y_dilated: b.grad_y_dilated,
                grad_w: b.grad_w,
            },
            BackwardOp::ConvBias {
                grad_y: grad_y.clone(),
                grad_b: b.grad_b,
            },
            BackwardOp::ConvInput {
                spec: spec.clone(),
                grad_y,
                grad_y_full: b.grad_y_full,
                kernels_rotated: b.kernels_rotated,
                contributions: b.contributions,
                grad_x_padded: b.grad_x_padded,
                grad_x: b.grad_x,
            },
        ],
        (LayerSpec::Activation(function), LayerBackward::Activation(b)) => {
            vec![BackwardOp::Activation {
                function: *function,
                z: x.clone(),
                grad_y,
                derivative: b.derivative,
                grad_x: b.grad_x,
            }]
        }
        (LayerSpec::Pool(spec), LayerBackward::Pool(b)) => vec![BackwardOp::Pool {
            spec: spec.clone(),
            x: x.clone(),
            grad_y,
            routing: b.routing,
            grad_x: b.grad_x,
        }],
        (LayerSpec::Dense(_), LayerBackward::Dense(b)) => vec![
            BackwardOp::DenseParams {
                x: x.clone(),
                grad_y: grad_y.clone(),
                grad_w: b.grad_w,
                grad_b: b.grad_b,
            },
            BackwardOp::DenseInput {
                w: params
                    .expect("dense layers have parameters")
                    .weights
                    .clone(),
                grad_y,
                grad_x: b.grad_x,
            },
        ],
        _ => unreachable!("Network::backward returns one record of the layer's own kind"),
    }
}
