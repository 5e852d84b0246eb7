//! Network specs and their validation into a [`Plan`] of checked layer geometries.

use serde::{Deserialize, Serialize};

use crate::activation::Activation;
use crate::budget::{self, Amount, MAX_LAYERS, MAX_MULTIPLY_ADDS, MAX_TOTAL_VALUES};
use crate::conv::{ConvGeometry, ConvSpec};
use crate::dense::DenseSpec;
use crate::pool::{PoolGeometry, PoolSpec};
use crate::{CoreError, Location};

/// A network: the input shape `[C, H, W]` and the layers in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub input: [usize; 3],
    pub layers: Vec<LayerSpec>,
}

/// One layer of a network spec, written in JSON as `{"conv": {...}}`,
/// `{"activation": "relu"}`, `{"pool": {...}}` or `{"dense": {"outputs": N}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LayerSpec {
    Conv(ConvSpec),
    Activation(Activation),
    Pool(PoolSpec),
    Dense(DenseSpec),
}

impl LayerSpec {
    /// The layer kind as written in specs: "conv", "activation", "pool" or "dense".
    pub fn kind(&self) -> &'static str {
        match self {
            LayerSpec::Conv(_) => "conv",
            LayerSpec::Activation(_) => "activation",
            LayerSpec::Pool(_) => "pool",
            LayerSpec::Dense(_) => "dense",
        }
    }

    /// Whether the layer has weights and a bias.
    pub fn has_params(&self) -> bool {
        matches!(self, LayerSpec::Conv(_) | LayerSpec::Dense(_))
    }
}

/// One layer with every size checked and computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerPlan {
    Conv(ConvGeometry),
    Activation(Activation),
    Pool(PoolGeometry),
    Dense { inputs: usize, outputs: usize },
}

impl LayerPlan {
    /// Shapes of the weights and the bias, for layers that have them.
    pub fn param_shapes(&self) -> Option<(Vec<usize>, Vec<usize>)> {
        match self {
            LayerPlan::Conv(g) => Some((g.weight_shape().to_vec(), vec![g.chan_out])),
            LayerPlan::Dense { inputs, outputs } => Some((vec![*outputs, *inputs], vec![*outputs])),
            LayerPlan::Activation(_) | LayerPlan::Pool(_) => None,
        }
    }
}

/// A validated network: the checked layers and every tensor shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub layers: Vec<LayerPlan>,
    /// `shapes[0]` is the input shape and `shapes[i + 1]` the output shape of layer `i`.
    pub shapes: Vec<Vec<usize>>,
}

impl Plan {
    pub fn output_shape(&self) -> &[usize] {
        self.shapes
            .last()
            .expect("the input shape is always present")
    }
}

impl NetworkSpec {
    /// Checks every layer against the shape it receives and the size budget.
    ///
    /// Errors: no layers or more than [`MAX_LAYERS`]; a zero size, stride or dilation; a
    /// kernel or window larger than its (padded) input; a conv or pool layer after a dense
    /// layer; a dense layer without input values; a tensor or network over the budget in
    /// [`crate::budget`].
    pub fn plan(&self) -> Result<Plan, CoreError> {
        if self.layers.is_empty() {
            return Err(CoreError::NoLayers);
        }
        if self.layers.len() > MAX_LAYERS {
            return Err(CoreError::TooManyLayers {
                count: self.layers.len(),
                max: MAX_LAYERS,
            });
        }
        for (field, &size) in ["input channels", "input height", "input width"]
            .into_iter()
            .zip(&self.input)
        {
            if size == 0 {
                return Err(CoreError::ZeroSize {
                    at: Location::Input,
                    field,
                });
            }
        }
        let input_values = budget::product(&self.input.map(|s| s as Amount));
        budget::check_tensor(&Location::Input, "the input", input_values)?;

        let mut shapes = vec![self.input.to_vec()];
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut total = input_values;
        let mut multiply_adds: Amount = 0;
        for (index, layer) in self.layers.iter().enumerate() {
            let at = Location::Layer {
                index,
                kind: layer.kind(),
            };
            let shape = shapes.last().expect("starts with the input shape").clone();
            let plan = plan_layer(layer, &shape, at.clone())?;
            let (output, work, extra) = match &plan {
                LayerPlan::Conv(g) => {
                    let padded = (g.chan_in * g.h_padded() * g.w_padded()) as Amount;
                    let weights = budget::product(&g.weight_shape().map(|s| s as Amount));
                    (
                        g.output_shape().to_vec(),
                        g.multiply_adds(),
                        padded + weights,
                    )
                }
                LayerPlan::Pool(g) => (g.output_shape().to_vec(), g.multiply_adds(), 0),
                LayerPlan::Activation(_) => (shape.clone(), 0, 0),
                LayerPlan::Dense { inputs, outputs } => {
                    let weights = budget::product(&[*inputs as Amount, *outputs as Amount]);
                    (vec![*outputs], weights, weights)
                }
            };
            total = total
                .saturating_add(budget::product(
                    &output.iter().map(|&s| s as Amount).collect::<Vec<_>>(),
                ))
                .saturating_add(extra);
            if total > MAX_TOTAL_VALUES {
                return Err(CoreError::TooLarge {
                    at,
                    what: "the network up to this layer",
                    amount: total,
                    budget: MAX_TOTAL_VALUES,
                });
            }
            multiply_adds = multiply_adds.saturating_add(work);
            if multiply_adds > MAX_MULTIPLY_ADDS {
                return Err(CoreError::TooLarge {
                    at,
                    what: "one forward pass up to this layer (in multiply-adds)",
                    amount: multiply_adds,
                    budget: MAX_MULTIPLY_ADDS,
                });
            }
            shapes.push(output);
            layers.push(plan);
        }
        Ok(Plan { layers, shapes })
    }
}

fn plan_layer(layer: &LayerSpec, shape: &[usize], at: Location) -> Result<LayerPlan, CoreError> {
    let as_map = || -> Result<[usize; 3], CoreError> {
        match *shape {
            [c, h, w] => Ok([c, h, w]),
            _ => Err(CoreError::NeedsMap {
                at: at.clone(),
                len: shape.iter().product(),
            }),
        }
    };
    match layer {
        LayerSpec::Conv(spec) => Ok(LayerPlan::Conv(ConvGeometry::new(spec, as_map()?, at)?)),
        LayerSpec::Pool(spec) => Ok(LayerPlan::Pool(PoolGeometry::new(spec, as_map()?, at)?)),
        LayerSpec::Activation(f) => Ok(LayerPlan::Activation(*f)),
        LayerSpec::Dense(spec) => {
            let inputs = shape.iter().product::<usize>();
            if inputs == 0 {
                return Err(CoreError::DenseNoInput { at });
            }
            if spec.outputs == 0 {
                return Err(CoreError::ZeroSize {
                    at,
                    field: "outputs",
                });
            }
            let weights = budget::product(&[inputs as Amount, spec.outputs as Amount]);
            budget::check_tensor(&at, "the weights", weights)?;
            Ok(LayerPlan::Dense {
                inputs,
                outputs: spec.outputs,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::PoolKind;

    fn conv(kernels: usize, size: usize) -> LayerSpec {
        LayerSpec::Conv(ConvSpec {
            kernels,
            size: [size, size],
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
        })
    }

    #[test]
    fn shapes_chain_through_layers() {
        let spec = NetworkSpec {
            input: [1, 28, 28],
            layers: vec![
                conv(6, 5),
                LayerSpec::Activation(Activation::Relu),
                LayerSpec::Pool(PoolSpec {
                    kind: PoolKind::Max,
                    size: [2, 2],
                    stride: [2, 2],
                }),
                LayerSpec::Dense(DenseSpec { outputs: 10 }),
            ],
        };
        let plan = spec.plan().unwrap();
        assert_eq!(plan.shapes[1], vec![6, 24, 24]);
        assert_eq!(plan.shapes[3], vec![6, 12, 12]);
        assert_eq!(plan.output_shape(), &[10]);
        assert_eq!(
            plan.layers[3],
            LayerPlan::Dense {
                inputs: 864,
                outputs: 10
            }
        );
    }

    #[test]
    fn conv_after_dense_is_rejected() {
        let spec = NetworkSpec {
            input: [1, 4, 4],
            layers: vec![LayerSpec::Dense(DenseSpec { outputs: 4 }), conv(1, 1)],
        };
        let err = spec.plan().unwrap_err();
        assert!(matches!(err, CoreError::NeedsMap { len: 4, .. }), "{err}");
        assert!(err.to_string().starts_with("layer 1 (conv)"), "{err}");
    }

    #[test]
    fn too_many_kernels_is_over_budget() {
        let spec = NetworkSpec {
            input: [3, 32, 32],
            layers: vec![conv(100_000, 3)],
        };
        let err = spec.plan().unwrap_err();
        assert!(matches!(err, CoreError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn huge_input_is_over_budget() {
        let spec = NetworkSpec {
            input: [usize::MAX, usize::MAX, 2],
            layers: vec![LayerSpec::Activation(Activation::Relu)],
        };
        let err = spec.plan().unwrap_err();
        assert!(
            matches!(
                err,
                CoreError::TooLarge {
                    at: Location::Input,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn zero_input_size_is_rejected() {
        let spec = NetworkSpec {
            input: [1, 0, 4],
            layers: vec![conv(1, 1)],
        };
        let err = spec.plan().unwrap_err();
        assert_eq!(
            err,
            CoreError::ZeroSize {
                at: Location::Input,
                field: "input height"
            }
        );
    }

    #[test]
    fn spec_reads_case_json() {
        let text = r#"{"input": [1, 5, 5], "layers": [
            {"conv": {"kernels": 1, "size": [3, 3], "stride": [2, 2], "padding": [0, 0], "dilation": [1, 1]}},
            {"activation": "sigmoid"},
            {"pool": {"kind": "l2", "size": [2, 2], "stride": [1, 1]}},
            {"dense": {"outputs": 3}}]}"#;
        let spec: NetworkSpec = serde_json::from_str(text).unwrap();
        assert_eq!(spec.layers[1], LayerSpec::Activation(Activation::Sigmoid));
        assert_eq!(spec.plan().unwrap().output_shape(), &[3]);
    }

    #[test]
    fn unknown_field_is_rejected() {
        let text = r#"{"input": [1, 5, 5], "layers": [{"conv": {"kernels": 1, "size": [3, 3], "strides": [2, 2]}}]}"#;
        let err = serde_json::from_str::<NetworkSpec>(text).unwrap_err();
        assert!(err.to_string().contains("strides"), "{err}");
    }
}
