//! The gradient check a learner runs on one number: the central finite difference of the
//! loss beside the analytic gradient, with their relative error.

use serde::{Deserialize, Serialize};

use crate::loss::Objective;
use crate::network::Network;
use crate::{CoreError, Location, Tensor};

/// Step `h` of the central difference `(L(θ + h) − L(θ − h)) / 2h`: near the cube root of
/// the f64 epsilon, where truncation and rounding errors are both about 1e-10 relative.
pub const STEP: f64 = 1e-6;

/// The number whose gradient is checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Probe {
    /// A cell of the network input.
    Input(Vec<usize>),
    /// A weight of layer `layer`.
    Weight { layer: usize, index: Vec<usize> },
    /// A bias of layer `layer`.
    Bias { layer: usize, index: Vec<usize> },
}

/// Analytic and numeric gradient of one number.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GradientCheck {
    pub analytic: f64,
    pub numeric: f64,
    /// `|analytic − numeric| / max(|analytic|, |numeric|)`, and 0 when both are 0.
    pub relative_error: f64,
    pub step: f64,
}

/// Compares `dL/dθ` from the backward pass with the central difference for the number
/// `probe` names.
///
/// Errors: the errors of [`Network::gradients`]; a probe naming a layer without
/// parameters or an index outside its tensor.
pub fn check(
    network: &Network,
    x: &Tensor,
    objective: &Objective,
    probe: &Probe,
) -> Result<GradientCheck, CoreError> {
    let (_, gradients) = network.gradients(x, objective)?;
    let out_of_range = |at: Location, tensor: &'static str, shape: &[usize], index: &[usize]| {
        CoreError::WrongShape {
            at,
            tensor,
            expected: shape.to_vec(),
            actual: index.to_vec(),
        }
    };

    let (analytic, numeric) = match probe {
        Probe::Input(index) => {
            let flat = x.flat_index(index).ok_or_else(|| {
                out_of_range(Location::Input, "the probed input index", x.shape(), index)
            })?;
            let value_at = |offset: f64| {
                let mut shifted = x.clone();
                shifted.data_mut()[flat] += offset;
                network.objective_value(&shifted, objective)
            };
            let numeric = (value_at(STEP)? - value_at(-STEP)?) / (2.0 * STEP);
            (gradients.grad_inputs[0].data()[flat], numeric)
        }
        Probe::Weight { layer, index } | Probe::Bias { layer, index } => {
            let is_weight = matches!(probe, Probe::Weight { .. });
            let at = Location::Layer {
                index: *layer,
                kind: network
                    .spec()
                    .layers
                    .get(*layer)
                    .map_or("none", |l| l.kind()),
            };
            let params = network
                .params()
                .get(*layer)
                .and_then(|p| p.as_ref())
                .ok_or(CoreError::UnexpectedParams { at: at.clone() })?;
            let tensor = if is_weight {
                &params.weights
            } else {
                &params.bias
            };
            let flat = tensor.flat_index(index).ok_or_else(|| {
                out_of_range(at, "the probed parameter index", tensor.shape(), index)
            })?;
            let value_at = |offset: f64| {
                let mut shifted = network.params().to_vec();
                let entry = shifted[*layer].as_mut().expect("checked above");
                let target = if is_weight {
                    &mut entry.weights
                } else {
                    &mut entry.bias
                };
                target.data_mut()[flat] += offset;
                let mut moved = network.clone();
                moved.set_params(shifted)?;
                moved.objective_value(x, objective)
            };
            let numeric = (value_at(STEP)? - value_at(-STEP)?) / (2.0 * STEP);
            let grads = gradients.grad_params[*layer]
                .as_ref()
                .expect("layers with parameters have gradients");
            let analytic = if is_weight {
                &grads.weights
            } else {
                &grads.bias
            }
            .data()[flat];
            (analytic, numeric)
        }
    };

    let scale = analytic.abs().max(numeric.abs());
    let relative_error = if scale == 0.0 {
        0.0
    } else {
        (analytic - numeric).abs() / scale
    };
    Ok(GradientCheck {
        analytic,
        numeric,
        relative_error,
        step: STEP,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Loss, NetworkSpec};

    fn network() -> (Network, Tensor, Objective) {
        let spec: NetworkSpec = serde_json::from_str(
            r#"{"input": [1, 5, 5], "layers": [
                {"conv": {"kernels": 2, "size": [3, 3], "stride": [2, 2], "padding": [1, 1]}},
                {"activation": "tanh"},
                {"dense": {"outputs": 3}}]}"#,
        )
        .unwrap();
        let network = Network::seeded(spec, 5).unwrap();
        let x = Tensor::from_fn3([1, 5, 5], |_, h, w| ((h * 5 + w) as f64 * 0.37).sin());
        (
            network,
            x,
            Objective::Loss(Loss::SoftmaxCrossEntropy { label: 2 }),
        )
    }

    #[test]
    fn input_weight_and_bias_agree() {
        let (network, x, objective) = network();
        for probe in [
            Probe::Input(vec![0, 2, 3]),
            Probe::Weight {
                layer: 0,
                index: vec![1, 0, 2, 1],
            },
            Probe::Bias {
                layer: 2,
                index: vec![1],
            },
        ] {
            let result = check(&network, &x, &objective, &probe).unwrap();
            assert!(result.relative_error < 1e-6, "{probe:?}: {result:?}");
            assert!(result.analytic != 0.0, "{probe:?}");
        }
    }

    #[test]
    fn probe_of_layer_without_params_is_rejected() {
        let (network, x, objective) = network();
        let probe = Probe::Weight {
            layer: 1,
            index: vec![0],
        };
        let err = check(&network, &x, &objective, &probe).unwrap_err();
        assert!(matches!(err, CoreError::UnexpectedParams { .. }), "{err}");
    }

    #[test]
    fn probe_outside_tensor_is_rejected() {
        let (network, x, objective) = network();
        let err = check(&network, &x, &objective, &Probe::Input(vec![0, 5, 0])).unwrap_err();
        assert!(matches!(err, CoreError::WrongShape { .. }), "{err}");
    }
}
