//! Losses on the network's final output `y`, and the alternative of a given upstream
//! gradient.
//!
//! - `mse`: `L = ½ Σ (y − t)²`, so `dL/dy = y − t` (no division by the count).
//! - `softmax_cross_entropy`: `L = −log softmax(y)[label]` over `y` flattened, so
//!   `dL/dy = softmax(y) − onehot(label)`.
//! - upstream `g`: `L = Σ g ⊙ y`, so `dL/dy = g`.
//!
//! ```
//! use cnn_core::loss::{self, Loss};
//! use cnn_core::Tensor;
//!
//! let y = Tensor::from_vec(&[2], vec![0.0, 0.0]).unwrap();
//! let value = loss::evaluate(&Loss::SoftmaxCrossEntropy { label: 1 }, &y).unwrap();
//! assert!((value.loss - std::f64::consts::LN_2).abs() < 1e-15);
//! assert_eq!(value.grad_y.data(), &[0.5, -0.5]);
//! ```

use serde::{Deserialize, Serialize};

use crate::{CoreError, Location, Tensor};

/// A loss on the final output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Loss {
    Mse { target: Tensor },
    SoftmaxCrossEntropy { label: usize },
}

impl Loss {
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Mse { .. } => "mse",
            Loss::SoftmaxCrossEntropy { .. } => "softmax_cross_entropy",
        }
    }
}

/// What the backward pass starts from: a loss, or a given `dL/d(final output)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    Loss(Loss),
    Upstream(Tensor),
}

/// A loss evaluated on one output.
#[derive(Clone, Debug, PartialEq)]
pub struct LossValue {
    pub loss: f64,
    /// `dL/dy`, in the shape of `y`.
    pub grad_y: Tensor,
    /// `softmax(y)` for the cross-entropy loss.
    pub probabilities: Option<Tensor>,
}

/// Checks `loss` against an output of shape `shape`.
///
/// Errors: a target of another shape or with a non-finite value, a label out of range.
pub fn check(loss: &Loss, shape: &[usize]) -> Result<(), CoreError> {
    match loss {
        Loss::Mse { target } => {
            let same_shape = target.shape() == shape
                || (target.len() == shape.iter().product::<usize>() && target.shape().len() == 1);
            if !same_shape {
                return Err(CoreError::WrongShape {
                    at: Location::Objective,
                    tensor: "target",
                    expected: shape.to_vec(),
                    actual: target.shape().to_vec(),
                });
            }
            if let Some((index, value)) = target.first_non_finite() {
                return Err(CoreError::NotFinite {
                    at: Location::Objective,
                    tensor: "target",
                    index,
                    value,
                });
            }
        }
        Loss::SoftmaxCrossEntropy { label } => {
            let classes = shape.iter().product();
            if *label >= classes {
                return Err(CoreError::LabelOutOfRange {
                    label: *label,
                    classes,
                });
            }
        }
    }
    Ok(())
}

/// Computes the loss and `dL/dy` for output `y`, after [`check`].
pub fn evaluate(loss: &Loss, y: &Tensor) -> Result<LossValue, CoreError> {
    check(loss, y.shape())?;
    match loss {
        Loss::Mse { target } => {
            let diff: Vec<f64> = y
                .data()
                .iter()
                .zip(target.data())
                .map(|(a, t)| a - t)
                .collect();
            let value = 0.5 * diff.iter().map(|d| d * d).sum::<f64>();
            Ok(LossValue {
                loss: value,
                grad_y: Tensor::from_vec(y.shape(), diff).expect("same length"),
                probabilities: None,
            })
        }
        Loss::SoftmaxCrossEntropy { label } => {
            let probabilities = softmax(y);
            // −log softmax(y)[label] = logsumexp(y) − y[label], computed with the maximum
            // subtracted so that no exponent overflows.
            let max = y.data().iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = y.data().iter().map(|v| (v - max).exp()).sum();
            let value = max + sum.ln() - y.data()[*label];
            let mut grad = probabilities.clone();
            grad.data_mut()[*label] -= 1.0;
            Ok(LossValue {
                loss: value,
                grad_y: grad,
                probabilities: Some(probabilities),
            })
        }
    }
}

/// Computes softmax over all values of `y`, with the maximum subtracted first.
pub fn softmax(y: &Tensor) -> Tensor {
    let max = y.data().iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = y.data().iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    Tensor::from_vec(y.shape(), exps.iter().map(|e| e / sum).collect()).expect("same length")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_survives_large_logits() {
        let y = Tensor::from_vec(&[3], vec![1000.0, 1001.0, 999.0]).unwrap();
        let value = evaluate(&Loss::SoftmaxCrossEntropy { label: 0 }, &y).unwrap();
        assert!(value.loss.is_finite());
        let p = value.probabilities.unwrap();
        assert!((p.data().iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((value.loss - 1.40760596444438).abs() < 1e-12);
    }

    #[test]
    fn mse_gradient_is_difference() {
        let y = Tensor::from_vec(&[2], vec![1.0, -1.0]).unwrap();
        let target = Tensor::from_vec(&[2], vec![0.5, 0.5]).unwrap();
        let value = evaluate(&Loss::Mse { target }, &y).unwrap();
        assert_eq!(value.loss, 0.5 * (0.25 + 2.25));
        assert_eq!(value.grad_y.data(), &[0.5, -1.5]);
    }

    #[test]
    fn label_out_of_range_is_rejected() {
        let y = Tensor::from_vec(&[3], vec![0.0; 3]).unwrap();
        let err = evaluate(&Loss::SoftmaxCrossEntropy { label: 3 }, &y).unwrap_err();
        assert_eq!(
            err,
            CoreError::LabelOutOfRange {
                label: 3,
                classes: 3
            }
        );
        assert!(err.to_string().contains("use 0 to 2"), "{err}");
    }

    #[test]
    fn target_of_wrong_shape_is_rejected() {
        let y = Tensor::from_vec(&[3], vec![0.0; 3]).unwrap();
        let target = Tensor::from_vec(&[2], vec![0.0; 2]).unwrap();
        let err = evaluate(&Loss::Mse { target }, &y).unwrap_err();
        assert!(matches!(err, CoreError::WrongShape { .. }), "{err}");
    }
}
