//! A validated network with its parameters: forward pass, backward pass and gradients.

use serde::{Deserialize, Serialize};

use crate::activation::{self, ActivationBackward};
use crate::conv::{self, ConvBackward};
use crate::dense::{self, DenseBackward};
use crate::init::SplitMix64;
use crate::loss::{self, LossValue, Objective};
use crate::pool::{self, PoolBackward, PoolForward};
use crate::spec::{LayerPlan, NetworkSpec, Plan};
use crate::{CoreError, Location, Tensor};

/// The weights and bias of one conv or dense layer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerParams {
    pub weights: Tensor,
    pub bias: Tensor,
}

/// A network spec, its plan and one parameter entry per layer (`None` for layers without
/// parameters). Every value is checked when the network is built.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    spec: NetworkSpec,
    plan: Plan,
    params: Vec<Option<LayerParams>>,
}

/// The values of one forward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct ForwardPass {
    /// `values[0]` is the input and `values[i + 1]` the output of layer `i`.
    pub values: Vec<Tensor>,
    /// For each pool layer, its forward record (with max-pool switches).
    pub pools: Vec<Option<PoolForward>>,
}

impl ForwardPass {
    pub fn output(&self) -> &Tensor {
        self.values.last().expect("the input is always present")
    }
}

/// One layer's backward pass with every intermediate.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerBackward {
    Conv(Box<ConvBackward>),
    Activation(ActivationBackward),
    Pool(PoolBackward),
    Dense(DenseBackward),
}

impl LayerBackward {
    /// `dL/d(layer input)`.
    pub fn grad_x(&self) -> &Tensor {
        match self {
            LayerBackward::Conv(b) => &b.grad_x,
            LayerBackward::Activation(b) => &b.grad_x,
            LayerBackward::Pool(b) => &b.grad_x,
            LayerBackward::Dense(b) => &b.grad_x,
        }
    }

    /// `dL/dW` and `dL/db`, for layers with parameters.
    pub fn grad_params(&self) -> Option<LayerParams> {
        match self {
            LayerBackward::Conv(b) => Some(LayerParams {
                weights: b.grad_w.clone(),
                bias: b.grad_b.clone(),
            }),
            LayerBackward::Dense(b) => Some(LayerParams {
                weights: b.grad_w.clone(),
                bias: b.grad_b.clone(),
            }),
            LayerBackward::Activation(_) | LayerBackward::Pool(_) => None,
        }
    }
}

/// The gradients of one backward pass, in the layout of a golden case's `expected`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Gradients {
    /// `grad_inputs[i]` is `dL/d(input of layer i)`.
    pub grad_inputs: Vec<Tensor>,
    pub grad_params: Vec<Option<LayerParams>>,
}

impl Network {
    /// Builds a network after checking the spec and every parameter.
    ///
    /// Errors: any [`NetworkSpec::plan`] error; a parameter list whose length is not the
    /// layer count; missing parameters for a conv or dense layer, or parameters for a
    /// layer without them; weights or bias of the wrong shape; a non-finite value.
    pub fn new(spec: NetworkSpec, params: Vec<Option<LayerParams>>) -> Result<Self, CoreError> {
        let plan = spec.plan()?;
        if params.len() != plan.layers.len() {
            return Err(CoreError::ParamCount {
                count: params.len(),
                layers: plan.layers.len(),
            });
        }
        for (index, (layer, entry)) in plan.layers.iter().zip(&params).enumerate() {
            let at = Location::Layer {
                index,
                kind: spec.layers[index].kind(),
            };
            check_params(layer, entry.as_ref(), at)?;
        }
        Ok(Self { spec, plan, params })
    }

    /// Builds a network with Glorot-uniform weights drawn from `seed` and zero biases.
    ///
    /// Errors: any [`NetworkSpec::plan`] error.
    pub fn seeded(spec: NetworkSpec, seed: u64) -> Result<Self, CoreError> {
        let plan = spec.plan()?;
        let mut rng = SplitMix64::new(seed);
        let params = plan
            .layers
            .iter()
            .map(|layer| {
                let (w_shape, b_shape) = layer.param_shapes()?;
                let (fan_in, fan_out) = match layer {
                    LayerPlan::Conv(g) => (g.chan_in * g.k_h * g.k_w, g.chan_out * g.k_h * g.k_w),
                    _ => (w_shape[1], w_shape[0]),
                };
                let limit = (6.0 / (fan_in + fan_out) as f64).sqrt();
                let len = w_shape.iter().product();
                let weights = (0..len).map(|_| rng.uniform(-limit, limit)).collect();
                Some(LayerParams {
                    weights: Tensor::from_vec(&w_shape, weights).expect("sized from shape"),
                    bias: Tensor::zeros(&b_shape),
                })
            })
            .collect();
        Ok(Self { spec, plan, params })
    }

    pub fn spec(&self) -> &NetworkSpec {
        &self.spec
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn params(&self) -> &[Option<LayerParams>] {
        &self.params
    }

    pub(crate) fn params_mut(&mut self) -> &mut [Option<LayerParams>] {
        &mut self.params
    }

    /// Replaces the parameters after the same checks as [`Network::new`].
    pub fn set_params(&mut self, params: Vec<Option<LayerParams>>) -> Result<(), CoreError> {
        let checked = Network::new(self.spec.clone(), params)?;
        self.params = checked.params;
        Ok(())
    }

    /// Checks an input map against the network's input shape.
    ///
    /// Errors: another shape, or a non-finite value.
    pub fn check_input(&self, x: &Tensor) -> Result<(), CoreError> {
        if x.shape() != self.spec.input {
            return Err(CoreError::WrongShape {
                at: Location::Input,
                tensor: "the input",
                expected: self.spec.input.to_vec(),
                actual: x.shape().to_vec(),
            });
        }
        if let Some((index, value)) = x.first_non_finite() {
            return Err(CoreError::NotFinite {
                at: Location::Input,
                tensor: "the input",
                index,
                value,
            });
        }
        Ok(())
    }

    /// Checks an objective against the network's output shape.
    ///
    /// Errors: an upstream gradient of another shape or with a non-finite value; the
    /// errors of [`loss::check`].
    pub fn check_objective(&self, objective: &Objective) -> Result<(), CoreError> {
        let shape = self.plan.output_shape();
        match objective {
            Objective::Loss(l) => loss::check(l, shape),
            Objective::Upstream(g) => {
                if g.shape() != shape {
                    return Err(CoreError::WrongShape {
                        at: Location::Objective,
                        tensor: "the upstream gradient",
                        expected: shape.to_vec(),
                        actual: g.shape().to_vec(),
                    });
                }
                if let Some((index, value)) = g.first_non_finite() {
                    return Err(CoreError::NotFinite {
                        at: Location::Objective,
                        tensor: "the upstream gradient",
                        index,
                        value,
                    });
                }
                Ok(())
            }
        }
    }

    /// Runs the forward pass on `x`.
    ///
    /// Errors: the errors of [`Network::check_input`].
    pub fn forward(&self, x: &Tensor) -> Result<ForwardPass, CoreError> {
        self.check_input(x)?;
        let mut values = vec![x.clone()];
        let mut pools = Vec::with_capacity(self.plan.layers.len());
        for (layer, params) in self.plan.layers.iter().zip(&self.params) {
            let x = values.last().expect("starts with the input");
            let (y, pool_record) = match layer {
                LayerPlan::Conv(g) => {
                    let p = params.as_ref().expect("checked in new");
                    (conv::forward(g, x, &p.weights, &p.bias), None)
                }
                LayerPlan::Activation(f) => (activation::forward(*f, x), None),
                LayerPlan::Pool(g) => {
                    let record = pool::forward(g, x);
                    (record.y.clone(), Some(record))
                }
                LayerPlan::Dense { .. } => {
                    let p = params.as_ref().expect("checked in new");
                    (dense::forward(x, &p.weights, &p.bias), None)
                }
            };
            values.push(y);
            pools.push(pool_record);
        }
        Ok(ForwardPass { values, pools })
    }

    /// Evaluates the objective on a forward pass: the loss (for a loss objective) and
    /// `dL/d(final output)`.
    ///
    /// Errors: the errors of [`Network::check_objective`].
    pub fn start_backward(
        &self,
        pass: &ForwardPass,
        objective: &Objective,
    ) -> Result<(Option<LossValue>, Tensor), CoreError> {
        self.check_objective(objective)?;
        match objective {
            Objective::Loss(l) => {
                let value = loss::evaluate(l, pass.output())?;
                let grad = value.grad_y.clone();
                Ok((Some(value), grad))
            }
            Objective::Upstream(g) => Ok((None, g.clone())),
        }
    }

    /// Runs the backward pass from `grad_out = dL/d(final output)`, returning one record
    /// per layer in layer order (the last layer's record is computed first).
    pub fn backward(&self, pass: &ForwardPass, grad_out: &Tensor) -> Vec<LayerBackward> {
        let mut records = Vec::with_capacity(self.plan.layers.len());
        let mut grad = grad_out.clone();
        for (index, layer) in self.plan.layers.iter().enumerate().rev() {
            let x = &pass.values[index];
            let record = match layer {
                LayerPlan::Conv(g) => {
                    let p = self.params[index].as_ref().expect("checked in new");
                    LayerBackward::Conv(Box::new(conv::backward(g, x, &p.weights, &grad)))
                }
                LayerPlan::Activation(f) => {
                    LayerBackward::Activation(activation::backward(*f, x, &grad))
                }
                LayerPlan::Pool(g) => {
                    let record = pass.pools[index].as_ref().expect("recorded in forward");
                    LayerBackward::Pool(pool::backward(g, x, record, &grad))
                }
                LayerPlan::Dense { .. } => {
                    let p = self.params[index].as_ref().expect("checked in new");
                    LayerBackward::Dense(dense::backward(x, &p.weights, &grad))
                }
            };
            grad = record.grad_x().clone();
            records.push(record);
        }
        records.reverse();
        records
    }

    /// Runs forward and backward on `x` and returns the loss (for a loss objective) and
    /// every gradient.
    ///
    /// Errors: the errors of [`Network::forward`] and [`Network::start_backward`].
    pub fn gradients(
        &self,
        x: &Tensor,
        objective: &Objective,
    ) -> Result<(Option<f64>, Gradients), CoreError> {
        let pass = self.forward(x)?;
        let (value, grad_out) = self.start_backward(&pass, objective)?;
        let records = self.backward(&pass, &grad_out);
        let gradients = Gradients {
            grad_inputs: records.iter().map(|r| r.grad_x().clone()).collect(),
            grad_params: records.iter().map(LayerBackward::grad_params).collect(),
        };
        Ok((value.map(|v| v.loss), gradients))
    }

    /// The scalar the gradients differentiate: the loss, or `Σ upstream ⊙ output`.
    ///
    /// Errors: the errors of [`Network::forward`] and [`Network::start_backward`].
    pub fn objective_value(&self, x: &Tensor, objective: &Objective) -> Result<f64, CoreError> {
        let pass = self.forward(x)?;
        let (value, grad_out) = self.start_backward(&pass, objective)?;
        Ok(match value {
            Some(v) => v.loss,
            None => grad_out
                .data()
                .iter()
                .zip(pass.output().data())
                .map(|(g, y)| g * y)
                .sum(),
        })
    }
}

fn check_params(
    layer: &LayerPlan,
    entry: Option<&LayerParams>,
    at: Location,
) -> Result<(), CoreError> {
    let Some((w_shape, b_shape)) = layer.param_shapes() else {
        return match entry {
            Some(_) => Err(CoreError::UnexpectedParams { at }),
            None => Ok(()),
        };
    };
    let Some(p) = entry else {
        return Err(CoreError::MissingParams { at });
    };
    for (tensor, value, expected) in [("weights", &p.weights, w_shape), ("bias", &p.bias, b_shape)]
    {
        if value.shape() != expected {
            return Err(CoreError::WrongShape {
                at,
                tensor,
                expected,
                actual: value.shape().to_vec(),
            });
        }
        if let Some((index, v)) = value.first_non_finite() {
            return Err(CoreError::NotFinite {
                at,
                tensor,
                index,
                value: v,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::LayerSpec;
    use crate::{activation::Activation, dense::DenseSpec};

    fn small() -> NetworkSpec {
        NetworkSpec {
            input: [1, 2, 2],
            layers: vec![
                LayerSpec::Dense(DenseSpec { outputs: 3 }),
                LayerSpec::Activation(Activation::Tanh),
                LayerSpec::Dense(DenseSpec { outputs: 2 }),
            ],
        }
    }

    #[test]
    fn wrong_weight_shape_is_rejected() {
        let mut params = Network::seeded(small(), 1).unwrap().params().to_vec();
        params[2].as_mut().unwrap().weights = Tensor::zeros(&[3, 2]);
        let err = Network::new(small(), params).unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::WrongShape {
                    tensor: "weights",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("layer 2 (dense)"), "{err}");
    }

    #[test]
    fn non_finite_bias_is_rejected() {
        let mut params = Network::seeded(small(), 1).unwrap().params().to_vec();
        params[0].as_mut().unwrap().bias.data_mut()[1] = f64::NAN;
        let err = Network::new(small(), params).unwrap_err();
        assert!(
            matches!(err, CoreError::NotFinite { tensor: "bias", .. }),
            "{err}"
        );
    }

    #[test]
    fn params_for_activation_are_rejected() {
        let mut params = Network::seeded(small(), 1).unwrap().params().to_vec();
        params[1] = params[0].clone();
        let err = Network::new(small(), params).unwrap_err();
        assert!(matches!(err, CoreError::UnexpectedParams { .. }), "{err}");
    }

    #[test]
    fn wrong_input_shape_is_rejected() {
        let net = Network::seeded(small(), 1).unwrap();
        let err = net.forward(&Tensor::zeros(&[1, 2, 3])).unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::WrongShape {
                    at: Location::Input,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn seeded_weights_repeat_for_a_seed() {
        let a = Network::seeded(small(), 7).unwrap();
        let b = Network::seeded(small(), 7).unwrap();
        let c = Network::seeded(small(), 8).unwrap();
        assert_eq!(a.params(), b.params());
        assert_ne!(a.params(), c.params());
    }

    #[test]
    fn input_used_twice_accumulates() {
        // The dense layer reads each input value through two outputs, so dL/dx sums both.
        let spec = NetworkSpec {
            input: [1, 1, 1],
            layers: vec![LayerSpec::Dense(DenseSpec { outputs: 2 })],
        };
        let params = vec![Some(LayerParams {
            weights: Tensor::from_vec(&[2, 1], vec![2.0, 3.0]).unwrap(),
            bias: Tensor::zeros(&[2]),
        })];
        let net = Network::new(spec, params).unwrap();
        let upstream = Objective::Upstream(Tensor::from_vec(&[2], vec![1.0, 1.0]).unwrap());
        let (_, grads) = net
            .gradients(&Tensor::zeros(&[1, 1, 1]), &upstream)
            .unwrap();
        assert_eq!(grads.grad_inputs[0].data(), &[5.0]);
    }
}
