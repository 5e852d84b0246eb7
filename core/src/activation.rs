//! Element-wise activation layer: `y = f(z)` for every value of `z`, any shape.
//!
//! Backward: `dL/dz = δ ⊙ f′(z)` with `δ = dL/dy`. Each function comes with its derivative:
//!
//! | function | f(z) | f′(z) |
//! |---|---|---|
//! | identity | z | 1 |
//! | relu | max(z, 0) | 1 if z > 0, else 0 (so relu′(0) = 0) |
//! | sigmoid | 1 / (1 + e^−z) | f(z)·(1 − f(z)) |
//! | tanh | tanh z | 1 − tanh² z |
//!
//! ```
//! use cnn_core::activation::{self, Activation};
//! use cnn_core::Tensor;
//!
//! let z = Tensor::from_vec(&[1, 1, 3], vec![-1.0, 0.0, 2.0]).unwrap();
//! assert_eq!(activation::forward(Activation::Relu, &z).data(), &[0.0, 0.0, 2.0]);
//!
//! let grad_y = Tensor::from_vec(&[1, 1, 3], vec![5.0, 5.0, 5.0]).unwrap();
//! let back = activation::backward(Activation::Relu, &z, &grad_y);
//! assert_eq!(back.derivative.data(), &[0.0, 0.0, 1.0]);
//! assert_eq!(back.grad_x.data(), &[0.0, 0.0, 5.0]);
//! ```

use serde::{Deserialize, Serialize};

use crate::Tensor;

/// An element-wise activation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    Identity,
    Relu,
    Sigmoid,
    Tanh,
}

impl Activation {
    pub const ALL: [Activation; 4] = [
        Activation::Identity,
        Activation::Relu,
        Activation::Sigmoid,
        Activation::Tanh,
    ];

    /// The name used in specs and on screen.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
        }
    }

    /// f(z).
    pub fn apply(self, z: f64) -> f64 {
        match self {
            Activation::Identity => z,
            Activation::Relu => z.max(0.0),
            Activation::Sigmoid => sigmoid(z),
            Activation::Tanh => z.tanh(),
        }
    }

    /// f′(z).
    pub fn derivative(self, z: f64) -> f64 {
        match self {
            Activation::Identity => 1.0,
            Activation::Relu => {
                if z > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Sigmoid => {
                let s = sigmoid(z);
                s * (1.0 - s)
            }
            Activation::Tanh => {
                let t = z.tanh();
                1.0 - t * t
            }
        }
    }
}

/// The logistic function, computed so that `e^x` is only taken of `x ≤ 0` and cannot
/// overflow.
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Applies `f` to every value of `z`.
pub fn forward(f: Activation, z: &Tensor) -> Tensor {
    let data = z.data().iter().map(|&v| f.apply(v)).collect();
    Tensor::from_vec(z.shape(), data).expect("same length")
}

/// The activation backward step: `f′(z)` and `dL/dz = δ ⊙ f′(z)`.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivationBackward {
    pub derivative: Tensor,
    pub grad_x: Tensor,
}

/// Computes `f′(z)` and `δ ⊙ f′(z)` for `grad_y = δ` of the same shape as `z`.
pub fn backward(f: Activation, z: &Tensor, grad_y: &Tensor) -> ActivationBackward {
    let derivative = Tensor::from_vec(
        z.shape(),
        z.data().iter().map(|&v| f.derivative(v)).collect(),
    )
    .expect("same length");
    let grad_x = Tensor::from_vec(
        z.shape(),
        derivative
            .data()
            .iter()
            .zip(grad_y.data())
            .map(|(d, g)| d * g)
            .collect(),
    )
    .expect("same length");
    ActivationBackward { derivative, grad_x }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        assert_eq!(sigmoid(-1000.0), 0.0);
        assert_eq!(sigmoid(1000.0), 1.0);
        assert!((sigmoid(0.0) - 0.5).abs() < 1e-15);
    }

    #[test]
    fn relu_derivative_at_zero_is_zero() {
        assert_eq!(Activation::Relu.derivative(0.0), 0.0);
        assert_eq!(Activation::Relu.derivative(1e-300), 1.0);
    }

    #[test]
    fn derivatives_match_central_differences() {
        let h = 1e-6;
        for f in Activation::ALL {
            for z in [-2.5, -0.3, 0.4, 1.7] {
                let numeric = (f.apply(z + h) - f.apply(z - h)) / (2.0 * h);
                let analytic = f.derivative(z);
                assert!((numeric - analytic).abs() < 1e-8, "{} at {z}", f.name());
            }
        }
    }
}
